//! The recommendation service: "customers also looked at" for a product page.
//!
//! It keeps no database. For each request it asks catalog for the product, then for the
//! other products of its category — the second answer comes from an in-process cache most
//! of the time, and a `cache lookup` span says whether it did (`cache.hit`).
//!
//! Files: [`routes`] is the HTTP API; [`catalog`] the calls to catalog; [`cache`] the
//! per-category TTL cache; [`pick`] chooses which products to show.

pub mod cache;
pub mod catalog;
pub mod pick;
pub mod routes;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tracedojo_kit::server::{self, RunError, ServerOptions};

use crate::cache::CategoryCache;
use crate::catalog::CatalogClient;
use crate::routes::AppState;

pub use catalog::Product;

/// Everything the service needs to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The catalog service, e.g. `http://127.0.0.1:8081`.
    pub catalog_url: String,
    /// How long a category's products are reused before catalog is asked again.
    pub cache_ttl: Duration,
}

/// The service's routes, without telemetry (see [`run`]).
pub fn router(config: Config) -> Router {
    routes::router(AppState {
        catalog: CatalogClient::new(&config.catalog_url),
        cache: CategoryCache::new(config.cache_ttl),
    })
}

/// Serves the recommendation API on `listener` until `shutdown` completes.
pub async fn run(
    config: Config,
    listener: TcpListener,
    options: ServerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    server::serve_traced(listener, router(config), options, shutdown).await
}
