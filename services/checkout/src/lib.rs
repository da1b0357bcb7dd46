//! The checkout service: turns a cart into a paid order.
//!
//! `POST /checkout` is the trace the demo is built around: one request fans out to five other
//! services, writes the order and its `order.created` event to its own database in one
//! transaction (an outbox, relayed to the queue), and the event is what the
//! shipping worker picks up later, in another trace linked to this one.
//!
//! Files, in reading order:
//! - [`place_order`]: the seven steps of a checkout, one function each — start here;
//! - [`request`]: what `POST /checkout` accepts and how it is validated;
//! - [`clients`]: one HTTP client per service we call, and the shapes of their answers;
//! - [`orders`]: the SQL of the `orders` and `order_items` tables, and the transaction that
//!   saves an order with its `order.created` message;
//! - [`routes`]: the HTTP API.

pub mod clients;
pub mod orders;
pub mod place_order;
pub mod request;
pub mod routes;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracedojo_kit::Db;
use tracedojo_kit::db::retention::{Pruner, Retention};
use tracedojo_kit::outbox::Outbox;
use tracedojo_kit::queue::Queue;
use tracedojo_kit::server::{self, RunError, ServerOptions};

use crate::clients::Clients;

/// The checkout tables, for SQLite (`migrations/sqlite`) and PostgreSQL (`migrations/postgres`).
pub static MIGRATIONS: tracedojo_kit::db::Migrations = tracedojo_kit::migrations!();

/// Everything the service needs to run: its own database, the queue, and where the others are.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub queue_url: String,
    pub cart_url: String,
    pub catalog_url: String,
    pub inventory_url: String,
    pub payment_url: String,
    pub shipping_url: String,
    /// How many orders are kept (older ones are deleted with their lines).
    pub retention: Retention,
}

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct CheckoutState {
    pub db: Db,
    /// Where `order.created` is written, in the orders' own database; its relay moves it to
    /// the queue.
    pub outbox: Outbox,
    pub clients: Clients,
}

/// The service's routes, without telemetry (see [`run`]).
pub fn router(state: CheckoutState) -> Router {
    routes::router(Arc::new(state))
}

/// Opens the orders database and the queue, then serves the checkout API on `listener`
/// until `shutdown` completes.
pub async fn run(
    config: Config,
    listener: TcpListener,
    options: ServerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    let db = Db::open(&config.database_url, "checkout", &MIGRATIONS).await?;
    let queue = Queue::open(&config.queue_url).await?;
    let outbox = Outbox::open(&db, queue).await?;
    let pruner = Pruner::start(db.clone(), orders::RETAINED, config.retention);
    let state = CheckoutState {
        db,
        outbox: outbox.clone(),
        clients: Clients::new(&config),
    };
    // The relay outlives the server by one last pass, so an order committed just before the
    // stop is normally on the queue when the process ends (a stop cut short leaves it in the
    // outbox, for the next start).
    let (stop_relay, relay_stop) = watch::channel(false);
    let relay = tokio::spawn(outbox.relay(relay_stop));
    let served = server::serve_traced(listener, router(state), options, shutdown).await;
    pruner.stop().await;
    let _ = stop_relay.send(true);
    if let Err(err) = relay.await {
        tracing::error!(exception.message = %err, "the outbox relay ended abnormally");
    }
    served
}
