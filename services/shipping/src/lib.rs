//! The shipping service: prices deliveries and ships paid orders.
//!
//! Two halves in one process. The HTTP API answers checkout's quote requests and the
//! frontend's tracking lookups; the worker consumes the `order.created` messages checkout
//! publishes and creates a shipment for each, in a trace of its own linked to the checkout.
//!
//! Files: [`quote`] holds the carriers and tariffs; [`shipments`] the SQL; [`worker`] the
//! queue consumer; [`routes`] the HTTP API.

pub mod quote;
pub mod routes;
pub mod shipments;
pub mod worker;

#[cfg(test)]
mod tests;

use std::future::Future;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracedojo_kit::Db;
use tracedojo_kit::db::retention::{Pruner, Retention};
use tracedojo_kit::queue::Queue;
use tracedojo_kit::server::{self, RunError, ServerOptions};

/// The shipping tables, for SQLite (`migrations/sqlite`) and PostgreSQL (`migrations/postgres`).
pub static MIGRATIONS: tracedojo_kit::db::Migrations = tracedojo_kit::migrations!();

/// Everything the service needs to run.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    /// The queue checkout publishes `order.created` on.
    pub queue_url: String,
    /// How many shipments are kept (older ones are deleted).
    pub retention: Retention,
}

/// The service's routes, without telemetry (see [`run`]).
pub fn router(db: Db) -> Router {
    routes::router(db)
}

/// Serves the shipping API on `listener` and runs the worker beside it, until `shutdown`
/// completes. The worker finishes the message in hand before `run` returns.
pub async fn run(
    config: Config,
    listener: TcpListener,
    options: ServerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    let db = Db::open(&config.database_url, "shipping", &MIGRATIONS).await?;
    let queue = Queue::open(&config.queue_url).await?;
    let pruner = Pruner::start(db.clone(), shipments::RETAINED, config.retention);

    // One stop signal shared by the server and the worker, so they end together.
    let (stop_sender, stop) = watch::channel(false);
    let forward_shutdown = tokio::spawn(async move {
        shutdown.await;
        let _ = stop_sender.send(true);
    });
    let worker = tokio::spawn(worker::consume_orders(db.clone(), queue, stop.clone()));

    let app = server::instrument(router(db), options);
    let served = server::serve(listener, app, stopped(stop)).await;

    // If the server ended by itself, dropping the sender stops the worker as well.
    forward_shutdown.abort();
    if let Err(err) = worker.await {
        tracing::error!(exception.message = %err, "the shipping worker ended abnormally");
    }
    pruner.stop().await;
    served?;
    Ok(())
}

/// Completes when the stop signal is given or can no longer be given.
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}
