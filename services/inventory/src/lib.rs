//! The inventory service: how many of each product are left, and reservations against them.
//!
//! Checkout reserves the items of an order before taking payment and releases them if the
//! payment is declined. A reservation is one database transaction of conditional updates,
//! so two shoppers can never both get the last unit. In a trace, the "reserve stock" span
//! holds one `UPDATE stock` span per item, then the `INSERT`s that record the reservation.
//!
//! Files: [`routes`] holds the HTTP API and its input checks; [`stock`] reads and seeds the
//! stock levels; [`reservations`] reserves and releases; [`restock`] is the supplier that
//! refills products running low.

pub mod reservations;
pub mod restock;
pub mod routes;
pub mod stock;

#[cfg(test)]
mod tests;

use std::future::Future;

use axum::Router;
use tokio::net::TcpListener;
use tracedojo_kit::Db;
use tracedojo_kit::db::DbError;
use tracedojo_kit::db::retention::{Pruner, Retention};
use tracedojo_kit::server::{self, RunError, ServerOptions};

/// The inventory tables, for SQLite (`migrations/sqlite`) and PostgreSQL (`migrations/postgres`).
pub static MIGRATIONS: tracedojo_kit::db::Migrations = tracedojo_kit::migrations!();

/// Everything the service needs to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where stock and reservations are kept, e.g. `sqlite://data/inventory.db`.
    pub database_url: String,
    /// How often the supplier refills products that run low.
    pub restock_interval: std::time::Duration,
    /// How many reservations are kept (older ones are deleted with their items).
    pub retention: Retention,
}

/// Opens the inventory database, brings its tables up to date and, on first start, stocks
/// every product.
pub async fn open_database(database_url: &str) -> Result<Db, RunError> {
    let db = Db::open(database_url, "inventory", &MIGRATIONS).await?;
    stock::seed_if_empty(&db)
        .await
        .map_err(|reason| DbError::Open {
            url: tracedojo_kit::db::redact(database_url),
            reason: reason.to_string(),
            engine: db.engine(),
        })?;
    Ok(db)
}

/// The service's routes, without telemetry (see [`run`]).
pub fn router(db: Db) -> Router {
    routes::router(db)
}

/// Serves the inventory API on `listener` until `shutdown` completes.
pub async fn run(
    config: Config,
    listener: TcpListener,
    options: ServerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    let db = open_database(&config.database_url).await?;
    let pruner = Pruner::start(db.clone(), reservations::RETAINED, config.retention);
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let supplier = tokio::spawn(restock::run_supplier(
        db.clone(),
        config.restock_interval,
        async move {
            let _ = stop_rx.changed().await;
        },
    ));
    let app = server::instrument(router(db), options);
    let served = server::serve(listener, app, shutdown).await;
    let _ = stop_tx.send(true);
    let _ = supplier.await;
    pruner.stop().await;
    served?;
    Ok(())
}
