//! The catalog service: the shop's products and categories, read from SQLite.
//!
//! Every other service asks it about products: the frontend for pages and search, cart for
//! names and prices, checkout to re-check prices, recommendation for a product's neighbours.
//! It is the busiest service in a trace and the one whose SQL you will read most: each query
//! is a database span with its full text.
//!
//! Files: [`routes`] is the HTTP API; [`store`] holds every SQL statement; [`seed`] generates
//! the 240 products written on first start; [`words`] turns text into search terms;
//! [`faults`] holds the faults that change how the service itself works.

pub mod faults;
pub mod routes;
pub mod seed;
pub mod store;
pub mod words;

#[cfg(test)]
mod tests;

use std::future::Future;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tracedojo_kit::Db;
use tracedojo_kit::server::{self, RunError, ServerOptions};

pub use store::{Category, Product};

/// The catalog tables, for SQLite (`migrations/sqlite`) and PostgreSQL (`migrations/postgres`).
pub static MIGRATIONS: tracedojo_kit::db::Migrations = tracedojo_kit::migrations!();

/// Everything the service needs to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the catalogue is kept, e.g. `sqlite://data/catalog.db`.
    pub database_url: String,
}

/// The service's routes, without telemetry (see [`run`]).
pub fn router(db: Db) -> Router {
    routes::router(db)
}

/// Opens (and on first start, fills) the catalogue, then serves the API on `listener` until
/// `shutdown` completes, keeping the search index as the fault plan wants it meanwhile.
pub async fn run(
    config: Config,
    listener: TcpListener,
    options: ServerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    let db = Db::open(&config.database_url, "catalog", &MIGRATIONS).await?;
    seed::seed_if_empty(&db)
        .await
        .map_err(|e| RunError::Config(format!("cannot seed the catalogue: {e}")))?;
    let (stop, stopped) = oneshot::channel::<()>();
    let index = tokio::spawn(faults::follow_search_index(db.clone(), async move {
        // A dropped sender means stop as well.
        let _ = stopped.await;
    }));
    let served = server::serve_traced(listener, router(db), options, shutdown).await;
    let _ = stop.send(());
    // A schema change in progress completes before the database is let go.
    if let Err(err) = index.await {
        tracing::error!(exception.message = %err, "the search index task ended abnormally");
    }
    served
}
