//! The transactional outbox: a message is written in the same transaction as the change it
//! announces, and relayed to the queue afterwards.
//!
//! Checkout's orders and the queue are two databases. Written one after the other, a failure
//! between the two (a full disk, a killed process) leaves an order that never ships. So the
//! `order.created` message goes into an `outbox_messages` table of the orders' own database,
//! inside the order's transaction, under the PRODUCER span: the order and its message commit
//! together or not at all. A relay in the same process then moves each message to the queue
//! and deletes it from the outbox.
//!
//! Delivery is at least once: a crash between the queue insert and the outbox delete sends a
//! message twice, so consumers must be idempotent (shipping is: one shipment per order id).
//! Nothing is lost while the queue cannot be written: messages wait in the outbox and the
//! relay retries until it can.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tracing::Instrument;

use crate::db::{Db, DbError, Statement, WriteTx, database_message};
use crate::queue::{Outgoing, Queue, now_ms};

const CREATE: Statement = Statement::per_engine(
    "CREATE",
    "outbox_messages",
    "CREATE TABLE IF NOT EXISTS outbox_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload TEXT NOT NULL,
    headers TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL
)",
    "CREATE TABLE IF NOT EXISTS outbox_messages (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic TEXT NOT NULL,
    payload TEXT NOT NULL,
    headers TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
)",
);
const INSERT: Statement = Statement::new(
    "INSERT",
    "outbox_messages",
    "INSERT INTO outbox_messages (topic, payload, headers, created_at_ms) VALUES ($1, $2, $3, $4)",
);
const SELECT_PENDING: &str = "SELECT id, topic, payload, headers, created_at_ms
    FROM outbox_messages ORDER BY id LIMIT $1";
const DELETE_RELAYED: &str = "DELETE FROM outbox_messages WHERE id = $1";
const COUNT_PENDING: &str = "SELECT COUNT(*) FROM outbox_messages";

/// How many messages one pass of the relay moves.
const BATCH: i64 = 100;
/// How often the relay looks for messages nobody woke it for (left by a failed pass or a
/// previous run of the process).
const SWEEP: Duration = Duration::from_secs(1);

/// An outbox in a service's own database, relaying to `queue`.
#[derive(Debug, Clone)]
pub struct Outbox {
    db: Db,
    queue: Queue,
    wake: Arc<Notify>,
    /// Outbox ids put on the queue whose outbox row is not deleted yet.
    relayed: Arc<Mutex<HashSet<i64>>>,
}

impl Outbox {
    /// Creates the outbox table in `db` if it is not there yet.
    pub async fn open(db: &Db, queue: Queue) -> Result<Outbox, DbError> {
        let create = db.sql(&CREATE);
        sqlx::query(create)
            .execute(db.pool())
            .await
            .map_err(|reason| DbError::Open {
                url: db.namespace().to_string(),
                reason: reason.to_string(),
                engine: db.engine(),
            })?;
        Ok(Outbox {
            db: db.clone(),
            queue,
            wake: Arc::new(Notify::new()),
            relayed: Arc::default(),
        })
    }

    /// Writes a message for `topic` inside `tx`, under a PRODUCER span (a child of the current
    /// span). It reaches the queue only if `tx` commits; call [`Outbox::wake`] after the commit.
    pub async fn send(
        &self,
        tx: &mut WriteTx,
        topic: &str,
        payload: &serde_json::Value,
    ) -> Result<(), sqlx::Error> {
        let outgoing = Outgoing::new(topic, payload);
        let result = self
            .db
            .run(
                &INSERT,
                sqlx::query(self.db.sql(&INSERT))
                    .bind(topic)
                    .bind(&outgoing.payload)
                    .bind(&outgoing.headers)
                    .bind(now_ms())
                    .execute(tx.conn()),
            )
            .instrument(outgoing.span.clone())
            .await
            .map(|_| ());
        outgoing.finish(result.as_ref().map(|_| ()));
        result
    }

    /// Relays at once instead of at the next sweep (after a commit that sent messages).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Moves up to one batch of messages to the queue, oldest first; returns how many. Stops
    /// at the first failure, leaving that message and the rest for the next pass.
    pub async fn relay_once(&self) -> Result<usize, sqlx::Error> {
        let pending: Vec<(i64, String, String, String, i64)> = sqlx::query_as(SELECT_PENDING)
            .bind(BATCH)
            .fetch_all(self.db.pool())
            .await?;
        let mut moved = 0;
        for (id, topic, payload, headers, created_at_ms) in pending {
            // A message already on the queue whose outbox row could not be deleted (the
            // orders' disk full, the queue's not) is not sent again on every retry: only
            // its delete is retried. A restart forgets this, and sends it at most once more.
            if !self.on_queue(id) {
                self.queue
                    .enqueue_relayed(&topic, &payload, &headers, created_at_ms)
                    .await?;
                self.queued_not_deleted(id, true);
            }
            let deleted = sqlx::query(DELETE_RELAYED)
                .bind(id)
                .execute(self.db.pool())
                .await
                .map(|_| ());
            self.db.note_write(deleted.as_ref().map(|_| ()));
            deleted?;
            self.queued_not_deleted(id, false);
            moved += 1;
        }
        Ok(moved)
    }

    fn on_queue(&self, id: i64) -> bool {
        let relayed = self.relayed.lock().unwrap_or_else(|e| e.into_inner());
        relayed.contains(&id)
    }

    fn queued_not_deleted(&self, id: i64, queued: bool) {
        let mut relayed = self.relayed.lock().unwrap_or_else(|e| e.into_inner());
        if queued {
            relayed.insert(id);
        } else {
            relayed.remove(&id);
        }
    }

    /// How many messages wait in the outbox.
    pub async fn pending(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar(COUNT_PENDING)
            .fetch_one(self.db.pool())
            .await
    }

    /// Relays until `stop` turns true (or its sender is dropped), then makes a last pass so a
    /// message committed just before the stop is on the queue when the process ends. A stop
    /// cut short (the process's drain limit) can skip that pass: the message then waits,
    /// durable in the outbox, and the next start relays it.
    pub async fn relay(self, mut stop: watch::Receiver<bool>) {
        let mut failing = false;
        loop {
            let outcome = self.relay_once().await;
            match &outcome {
                Ok(_) if failing => {
                    failing = false;
                    tracing::info!("outbox relay works again; waiting messages are on the queue");
                }
                Ok(_) => {}
                // Once per episode, not once per retry: the cause is reported by /health.
                Err(err) if !failing => {
                    failing = true;
                    tracing::warn!(
                        exception.message = %database_message(err),
                        "outbox relay failed; messages wait in the outbox and are retried"
                    );
                }
                Err(_) => {}
            }
            if matches!(outcome, Ok(n) if n as i64 == BATCH) {
                continue;
            }
            if *stop.borrow() {
                break;
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(SWEEP) => {}
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() {
                        break;
                    }
                }
            }
        }
        if let Err(err) = self.relay_once().await {
            tracing::warn!(exception.message = %database_message(&err), "outbox not emptied at stop; the next start relays it");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestDb, allow_deletes, refuse_deletes};

    #[tokio::test]
    async fn a_message_whose_outbox_row_cannot_be_deleted_is_queued_once() {
        for test_db in TestDb::each("outbox").await {
            let db = Db::connect(&test_db.url("orders"), "orders").await.unwrap();
            let queue = Queue::open(&test_db.url("queue")).await.unwrap();
            let outbox = Outbox::open(&db, queue.clone()).await.unwrap();
            let mut tx = db.begin_write().await.unwrap();
            outbox
                .send(
                    &mut tx,
                    "order.created",
                    &serde_json::json!({"order_id": 1}),
                )
                .await
                .unwrap();
            tx.commit().await.unwrap();

            // The orders' database refuses the delete (as a full disk would); the queue does not.
            refuse_deletes(&db, "outbox_messages").await;
            for _ in 0..3 {
                let refused = outbox.relay_once().await.unwrap_err();
                // A trigger can raise PostgreSQL's own SQLSTATE for a full disk; SQLite's
                // trigger only an error with its words (a full disk's code is tested in storage).
                if db.engine() == crate::db::Engine::Postgres {
                    assert_eq!(
                        crate::db::StorageFailure::of(&refused, db.engine()),
                        Some(crate::db::StorageFailure::DiskFull),
                        "{refused}"
                    );
                }
            }
            assert_eq!(queue.depth("order.created").await.unwrap(), 1);
            assert_eq!(outbox.pending().await.unwrap(), 1);

            allow_deletes(&db, "outbox_messages").await;
            assert_eq!(outbox.relay_once().await.unwrap(), 1);
            assert_eq!(outbox.pending().await.unwrap(), 0);
            assert_eq!(queue.depth("order.created").await.unwrap(), 1);
            let message = queue
                .receive("order.created", "test")
                .await
                .unwrap()
                .unwrap();
            assert_eq!(message.payload["order_id"], 1);
            assert!(message.message_id().starts_with("msg_"));
        }
    }

    #[tokio::test]
    async fn two_consumers_never_claim_one_message() {
        for test_db in TestDb::each("queue-claims").await {
            let queue = Queue::open(&test_db.url("queue")).await.unwrap();
            const MESSAGES: i64 = 200;
            for n in 0..MESSAGES {
                queue
                    .publish("order.created", &serde_json::json!({ "n": n }))
                    .await
                    .unwrap();
            }
            // Two consumers, each on its own pool as two processes would be, claiming until the
            // queue is empty.
            let consume = |name: &'static str| {
                let url = test_db.url("queue");
                async move {
                    let queue = Queue::open(&url).await.unwrap();
                    let mut claimed = Vec::new();
                    while let Some(message) = queue.receive("order.created", name).await.unwrap() {
                        claimed.push(message.payload["n"].as_i64().unwrap());
                    }
                    claimed
                }
            };
            let (first, second) = tokio::join!(consume("a"), consume("b"));
            let mut all: Vec<i64> = first.iter().chain(&second).copied().collect();
            all.sort_unstable();
            assert_eq!(
                all,
                (0..MESSAGES).collect::<Vec<_>>(),
                "{:?}: each message claimed exactly once ({} and {})",
                test_db.engine(),
                first.len(),
                second.len()
            );
        }
    }
}
