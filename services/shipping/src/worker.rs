//! The shipping worker: turns every `order.created` message into a shipment.
//!
//! It runs beside the HTTP server, in the same process, and polls the queue. Each message is
//! processed in a CONSUMER span that starts a new trace with a link back to the checkout that
//! published it: the parcel is handled after the customer got their answer, so it is not part
//! of that request's trace, but the link leads from one to the other.
//!
//! Delivery is at least once: a message whose processing was interrupted comes back. Shipping
//! an order twice is therefore a no-op, not an error (see [`shipments::create_shipment`]).

use std::time::Duration;

use serde::Deserialize;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;
use tracedojo_kit::Db;
use tracedojo_kit::queue::{Message, Queue};
use tracing::Instrument;

use crate::quote::{self, INTERNATIONAL};
use crate::shipments;

/// The topic checkout publishes and this worker consumes.
pub const TOPIC: &str = "order.created";
pub const CONSUMER_GROUP: &str = "shipping";

/// How long an empty queue is left alone before the next look.
const IDLE_POLL: Duration = Duration::from_millis(200);

/// The part of checkout's `order.created` payload shipping needs.
#[derive(Debug, Deserialize)]
struct OrderCreated {
    order_id: i64,
    #[serde(default)]
    region: String,
}

#[derive(Debug, thiserror::Error)]
enum ProcessError {
    #[error("the payload is not an order.created event: {0}")]
    Payload(#[source] serde_json::Error),
    #[error("the shipment could not be recorded: {0}")]
    Database(#[source] sqlx::Error),
    #[error("the shipment is recorded but the message could not be acknowledged: {0}")]
    Ack(#[source] sqlx::Error),
}

impl ProcessError {
    fn kind(&self) -> &'static str {
        match self {
            ProcessError::Payload(_) => "invalid_payload",
            ProcessError::Database(_) => "database_error",
            ProcessError::Ack(_) => "ack_failed",
        }
    }
}

/// Consumes `order.created` until `stop` turns true (or its sender is dropped).
pub async fn consume_orders(db: Db, queue: Queue, mut stop: watch::Receiver<bool>) {
    let mut idle = tokio::time::interval(IDLE_POLL);
    idle.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tracing::info!(
        messaging.destination.name = TOPIC,
        "shipping worker started"
    );
    // A queue that cannot be polled (a full disk: claiming a message is a write) is reported
    // once when it starts failing and once when it works again, not five times a second.
    let mut poll_failing = false;
    loop {
        if *stop.borrow() {
            break;
        }
        let polled = queue.receive(TOPIC, CONSUMER_GROUP).await;
        match (&polled, poll_failing) {
            (Err(err), false) => {
                tracing::warn!(exception.message = %tracedojo_kit::db::database_message(err), "could not poll the queue; retrying");
                poll_failing = true;
            }
            (Ok(_), true) => {
                tracing::info!("the queue can be polled again");
                poll_failing = false;
            }
            _ => {}
        }
        let poll_again_now = match polled {
            Ok(Some(message)) => handle(&db, &queue, &message).await,
            Ok(None) | Err(_) => false,
        };
        if poll_again_now {
            continue;
        }
        tokio::select! {
            _ = idle.tick() => {}
            changed = stop.changed() => {
                if changed.is_err() {
                    break;
                }
            }
        }
    }
    tracing::info!("shipping worker stopped");
}

/// Processes one message in its CONSUMER span. Returns whether to poll again at once (after
/// a failure the worker pauses, so a failing database is not hammered).
async fn handle(db: &Db, queue: &Queue, message: &Message) -> bool {
    let span = queue.consumer_span(message, CONSUMER_GROUP);
    let started = std::time::Instant::now();
    let outcome = process(db, queue, message).instrument(span.clone()).await;
    let failure = outcome.as_ref().err().map(ProcessError::kind);
    queue.record_processing(message, CONSUMER_GROUP, started.elapsed(), failure);
    let Err(err) = outcome else {
        return true;
    };
    span.record("otel.status_code", "ERROR");
    span.record("error.type", err.kind());
    tracing::error!(parent: &span, messaging.message.id = %message.id, exception.message = %err, "could not process order.created");
    match err {
        // No retry can fix a malformed message: drop it rather than fail on it forever.
        ProcessError::Payload(_) => {
            if let Err(ack) = queue.ack(message).instrument(span.clone()).await {
                tracing::warn!(parent: &span, exception.message = %ack, "could not drop the malformed message");
            }
            true
        }
        ProcessError::Database(_) => {
            if let Err(release) = queue.release(message).instrument(span.clone()).await {
                tracing::warn!(parent: &span, exception.message = %release, "could not put the message back; it returns when its claim expires");
            }
            false
        }
        // The shipment exists: when the claim expires the message comes back and is a no-op.
        ProcessError::Ack(_) => false,
    }
}

/// The extra time each message takes while an async backlog is in force.
fn backlog_delay() -> Option<Duration> {
    tracedojo_kit::faults::service_fault(|fault| match fault {
        tracedojo_kit::faults::Fault::AsyncBacklog { ms_per_message, .. } => {
            Some(Duration::from_millis(*ms_per_message))
        }
        _ => None,
    })
}

/// Records the shipment, then acknowledges the message — in that order, so a crash between
/// the two means a redelivery, never a lost parcel.
async fn process(db: &Db, queue: &Queue, message: &Message) -> Result<(), ProcessError> {
    let order: OrderCreated =
        serde_json::from_value(message.payload.clone()).map_err(ProcessError::Payload)?;
    if let Some(slower) = backlog_delay() {
        // A slower worker (a carrier API that now takes its time): orders arrive faster than
        // they are shipped, and the queue grows.
        tokio::time::sleep(slower).await;
    }
    let carrier = quote::carrier_for(&order.region).unwrap_or_else(|| {
        tracing::warn!(tracedojo.order.region = %order.region, "no carrier for this region; sending internationally");
        &INTERNATIONAL
    });
    let created = shipments::create_shipment(db, order.order_id, carrier)
        .await
        .map_err(ProcessError::Database)?;
    queue.ack(message).await.map_err(ProcessError::Ack)?;
    if created {
        tracing::info!(
            tracedojo.order.id = order.order_id,
            tracedojo.shipping.carrier = carrier.name,
            tracedojo.shipping.tracking_number = %shipments::tracking_number(carrier, order.order_id),
            "shipment label created"
        );
    } else {
        tracing::info!(
            tracedojo.order.id = order.order_id,
            "order already shipped; duplicate message acknowledged"
        );
    }
    Ok(())
}
