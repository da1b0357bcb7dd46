//! The cart service: what each shopper has put in their cart, kept in SQLite.
//!
//! Adding an item calls the catalog (`GET /products/{id}`) for the product's name and current
//! price, so a trace of "add to cart" shows a CLIENT span to another service followed by the
//! database write. Reading a cart touches only this service's own table.
//!
//! Files: [`routes`] holds the HTTP API and its input checks; [`store`] the SQL;
//! [`catalog`] the call to the catalog service.

pub mod catalog;
pub mod routes;
pub mod store;

#[cfg(test)]
mod tests;

use std::future::Future;

use axum::Router;
use tokio::net::TcpListener;
use tracedojo_kit::db::retention::{Pruner, Retention};
use tracedojo_kit::server::{self, RunError, ServerOptions};
use tracedojo_kit::{Db, HttpClient};

/// The cart tables, for SQLite (`migrations/sqlite`) and PostgreSQL (`migrations/postgres`).
pub static MIGRATIONS: tracedojo_kit::db::Migrations = tracedojo_kit::migrations!();

/// Everything the service needs to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the carts are kept, e.g. `sqlite://data/cart.db`.
    pub database_url: String,
    /// The catalog service, e.g. `http://127.0.0.1:8081`.
    pub catalog_url: String,
    /// How many cart lines are kept (older ones, mostly of abandoned carts, are deleted).
    pub retention: Retention,
}

/// What every handler shares: the database and the client for the catalog.
#[derive(Debug, Clone)]
pub struct AppState {
    pub db: Db,
    pub catalog: HttpClient,
}

impl AppState {
    pub fn new(db: Db, catalog_url: &str) -> Self {
        AppState {
            db,
            catalog: HttpClient::new("catalog", catalog_url),
        }
    }
}

/// Opens the cart database and brings its tables up to date.
pub async fn open_database(database_url: &str) -> Result<Db, RunError> {
    let db = Db::open(database_url, "cart", &MIGRATIONS).await?;
    Ok(db)
}

/// The service's routes, without telemetry (see [`run`]).
pub fn router(state: AppState) -> Router {
    routes::router(state)
}

/// Serves the cart API on `listener` until `shutdown` completes.
pub async fn run(
    config: Config,
    listener: TcpListener,
    options: ServerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    let db = open_database(&config.database_url).await?;
    let pruner = Pruner::start(db.clone(), store::RETAINED, config.retention);
    let state = AppState::new(db, &config.catalog_url);
    let served = server::serve_traced(listener, router(state), options, shutdown).await;
    pruner.stop().await;
    served
}
