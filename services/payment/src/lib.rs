//! The payment service: behaves like a third-party card gateway.
//!
//! It answers slowly and unevenly (log-normal latency with a long tail, as real gateways
//! do) and declines some cards with `402 Payment Required`. A decline is a normal business
//! answer, not a failure of ours: the SERVER span here stays OK, while the caller's CLIENT
//! span is marked as an error.
//!
//! Files: [`gateway`] holds the card gateway (its latency, its declines, and
//! [`gateway::authorise`], the call the handler waits on); [`routes`] the HTTP API.

pub mod gateway;
pub mod routes;

use std::future::Future;

use axum::Router;
use tokio::net::TcpListener;
use tracedojo_kit::server::{self, RunError, ServerOptions};

pub use gateway::GatewayConfig;

/// Everything the service needs to run.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub gateway: GatewayConfig,
}

/// The service's routes, without telemetry (see [`run`]).
pub fn router(config: Config) -> Router {
    routes::router(config.gateway)
}

/// Serves the payment API on `listener` until `shutdown` completes.
pub async fn run(
    config: Config,
    listener: TcpListener,
    options: ServerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    server::serve_traced(listener, router(config), options, shutdown).await
}
