//! A durable work queue on a database table, traced like a message broker.
//!
//! The checkout service publishes `order.created`; the shipping worker consumes it later, in
//! another process. The publisher's PRODUCER span context and baggage are stored with the
//! message (as `traceparent`/`baggage` headers would be on Kafka or RabbitMQ). The consumer
//! starts a *new* trace whose CONSUMER span carries a span link back to the producer: the work
//! happens after the checkout answered, so it is not the checkout's child.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::TraceContextExt;
use opentelemetry::{Context, KeyValue, global};
use tracing::Instrument;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::baggage;
use crate::db::{Db, DbError, Statement, redact};

const CREATE: Statement = Statement::per_engine(
    "CREATE",
    "queue_messages",
    "CREATE TABLE IF NOT EXISTS queue_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload TEXT NOT NULL,
    headers TEXT NOT NULL,
    enqueued_at_ms INTEGER NOT NULL,
    claimed_at_ms INTEGER,
    claimed_by TEXT
)",
    "CREATE TABLE IF NOT EXISTS queue_messages (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic TEXT NOT NULL,
    payload TEXT NOT NULL,
    headers TEXT NOT NULL,
    enqueued_at_ms BIGINT NOT NULL,
    claimed_at_ms BIGINT,
    claimed_by TEXT
)",
);
const CREATE_INDEX: &str =
    "CREATE INDEX IF NOT EXISTS queue_messages_topic ON queue_messages (topic, claimed_at_ms, id)";

const INSERT: Statement = Statement::new(
    "INSERT",
    "queue_messages",
    "INSERT INTO queue_messages (topic, payload, headers, enqueued_at_ms) VALUES ($1, $2, $3, $4) RETURNING id",
);
// A claim older than this is taken to belong to a worker that died.
const CLAIM_TIMEOUT_MS: i64 = 60_000;
// SQLite has one writer at a time, so the oldest message found is still free when it is
// claimed. On PostgreSQL two consumers (a redeploy's two processes, say) would both find it and
// the second would claim it again once the first commits: it skips rows another has locked.
const CLAIM: Statement = Statement::per_engine(
    "UPDATE",
    "queue_messages",
    "UPDATE queue_messages SET claimed_at_ms = $1, claimed_by = $2
    WHERE id = (SELECT id FROM queue_messages
                WHERE topic = $3 AND (claimed_at_ms IS NULL OR claimed_at_ms < $4)
                ORDER BY id LIMIT 1)
    RETURNING id, payload, headers, enqueued_at_ms",
    "UPDATE queue_messages SET claimed_at_ms = $1, claimed_by = $2
    WHERE id = (SELECT id FROM queue_messages
                WHERE topic = $3 AND (claimed_at_ms IS NULL OR claimed_at_ms < $4)
                ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING id, payload, headers, enqueued_at_ms",
);
const ACK: Statement = Statement::new(
    "DELETE",
    "queue_messages",
    "DELETE FROM queue_messages WHERE id = $1",
);
const RELEASE: &str =
    "UPDATE queue_messages SET claimed_at_ms = NULL, claimed_by = NULL WHERE id = $1";

/// One message taken from the queue.
#[derive(Debug, Clone)]
pub struct Message {
    pub id: i64,
    pub topic: String,
    pub payload: serde_json::Value,
    pub headers: HashMap<String, String>,
    pub enqueued_at_ms: i64,
}

#[derive(Debug, Clone)]
pub struct Queue {
    db: Db,
}

impl Message {
    /// The id its producer gave the message (the same on the PRODUCER and CONSUMER spans),
    /// or the queue's own id for a message published without one.
    pub fn message_id(&self) -> String {
        self.headers
            .get(MESSAGE_ID_HEADER)
            .cloned()
            .unwrap_or_else(|| self.id.to_string())
    }
}

/// The header that carries the producer's message id, beside `traceparent` and `baggage`.
const MESSAGE_ID_HEADER: &str = "message-id";

/// A message about to be written, with its PRODUCER span and the headers that carry the
/// span's context to the consumer.
pub(crate) struct Outgoing {
    pub(crate) span: tracing::Span,
    pub(crate) payload: String,
    pub(crate) headers: String,
}

impl Outgoing {
    pub(crate) fn new(topic: &str, payload: &serde_json::Value) -> Outgoing {
        let message_id = format!("msg_{:016x}", rand::random::<u64>());
        let span = tracing::info_span!(
            "messaging.publish",
            otel.name = format!("send {topic}"),
            otel.kind = "producer",
            otel.status_code = Empty,
            messaging.system = "tracedojo",
            messaging.destination.name = topic,
            messaging.operation.name = "send",
            messaging.operation.type = "send",
            messaging.message.id = message_id.as_str(),
            error.type = Empty,
        );
        let cx = span.context();
        let mut headers = HashMap::new();
        global::get_text_map_propagator(|propagator| propagator.inject_context(&cx, &mut headers));
        headers.insert(MESSAGE_ID_HEADER.to_string(), message_id.clone());
        Outgoing {
            span,
            payload: payload.to_string(),
            headers: serde_json::to_string(&headers).unwrap_or_else(|_| "{}".into()),
        }
    }

    /// Marks the PRODUCER span failed when the write failed.
    pub(crate) fn finish(&self, result: Result<(), &sqlx::Error>) {
        if let Err(err) = result {
            self.span.record("otel.status_code", "ERROR");
            self.span.record("error.type", crate::db::error_kind(err));
        }
    }
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Queue {
    /// Opens the queue database, creating the table if it is not there yet.
    pub async fn open(url: &str) -> Result<Queue, DbError> {
        let db = Db::connect(url, "queue").await?;
        let create = db.sql(&CREATE);
        for ddl in [create, CREATE_INDEX] {
            sqlx::query(ddl)
                .execute(db.pool())
                .await
                .map_err(|reason| DbError::Open {
                    url: redact(url),
                    reason: reason.to_string(),
                    engine: db.engine(),
                })?;
        }
        Ok(Queue { db })
    }

    /// Publishes a message straight to the queue under a PRODUCER span; returns the queue's
    /// id for it. A service that publishes about a change in its own database uses the
    /// [`Outbox`](crate::outbox::Outbox) instead, so the change and the message commit together.
    pub async fn publish(
        &self,
        topic: &str,
        payload: &serde_json::Value,
    ) -> Result<i64, sqlx::Error> {
        let outgoing = Outgoing::new(topic, payload);
        let result = self
            .db
            .run(
                &INSERT,
                sqlx::query_scalar::<_, i64>(self.db.sql(&INSERT))
                    .bind(topic)
                    .bind(&outgoing.payload)
                    .bind(&outgoing.headers)
                    .bind(now_ms())
                    .fetch_one(self.db.pool()),
            )
            .instrument(outgoing.span.clone())
            .await;
        outgoing.finish(result.as_ref().map(|_| ()));
        result
    }

    /// Puts a message an outbox relays into the queue, as it was written there (its headers
    /// still name the PRODUCER span of the transaction that wrote it). Not traced: the relay is
    /// plumbing, and a trace per relayed message would bury the real ones.
    pub(crate) async fn enqueue_relayed(
        &self,
        topic: &str,
        payload: &str,
        headers: &str,
        enqueued_at_ms: i64,
    ) -> Result<i64, sqlx::Error> {
        let result = sqlx::query_scalar::<_, i64>(self.db.sql(&INSERT))
            .bind(topic)
            .bind(payload)
            .bind(headers)
            .bind(enqueued_at_ms)
            .fetch_one(self.db.pool())
            .await;
        self.db.note_write(result.as_ref().map(|_| ()));
        result
    }

    /// Records `messaging.process.duration` for one processed message; `error` names the
    /// failure (`error.type`) when processing failed.
    pub fn record_processing(
        &self,
        message: &Message,
        consumer_group: &str,
        elapsed: std::time::Duration,
        error: Option<&'static str>,
    ) {
        let mut attributes = vec![
            KeyValue::new("messaging.system", "tracedojo"),
            KeyValue::new("messaging.destination.name", message.topic.clone()),
            KeyValue::new("messaging.operation.name", "process"),
            KeyValue::new("messaging.consumer.group.name", consumer_group.to_string()),
        ];
        if let Some(kind) = error {
            attributes.push(KeyValue::new("error.type", kind));
        }
        crate::metrics::instruments()
            .messaging_process_duration
            .record(elapsed.as_secs_f64(), &attributes);
    }

    /// Claims the oldest unclaimed message of `topic`, if any. Not traced: an empty poll is
    /// not work, and a span per poll would bury the real traces.
    pub async fn receive(
        &self,
        topic: &str,
        consumer: &str,
    ) -> Result<Option<Message>, sqlx::Error> {
        let now = now_ms();
        let claim = self.db.sql(&CLAIM);
        let row: Result<Option<(i64, String, String, i64)>, sqlx::Error> = sqlx::query_as(claim)
            .bind(now)
            .bind(consumer)
            .bind(topic)
            .bind(now - CLAIM_TIMEOUT_MS)
            .fetch_optional(self.db.pool())
            .await;
        // Only a claim that changed a row proves the disk takes writes: one that matched
        // nothing writes no page and succeeds on a full disk too.
        match &row {
            Err(err) => self.db.note_write(Err(err)),
            Ok(Some(_)) => self.db.note_write(Ok(())),
            Ok(None) => {}
        }
        let row = row?;
        Ok(row.map(|(id, payload, headers, enqueued_at_ms)| Message {
            id,
            topic: topic.to_string(),
            payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
            headers: serde_json::from_str(&headers).unwrap_or_default(),
            enqueued_at_ms,
        }))
    }

    /// The CONSUMER span for processing `message`: a new trace, linked to the producer, with
    /// the producer's baggage.
    pub fn consumer_span(&self, message: &Message, consumer_group: &str) -> tracing::Span {
        let producer_cx =
            global::get_text_map_propagator(|propagator| propagator.extract(&message.headers));
        let span = tracing::info_span!(
            parent: None,
            "messaging.process",
            otel.name = format!("process {}", message.topic),
            otel.kind = "consumer",
            otel.status_code = Empty,
            messaging.system = "tracedojo",
            messaging.destination.name = %message.topic,
            messaging.operation.name = "process",
            messaging.operation.type = "process",
            messaging.message.id = message.message_id(),
            messaging.consumer.group.name = consumer_group,
            error.type = Empty,
        );
        let producer = producer_cx.span().span_context().clone();
        if producer.is_valid() {
            span.add_link(producer);
        }
        for (key, value) in baggage::user_entries(&producer_cx) {
            span.set_attribute(key, value);
        }
        let entries: Vec<KeyValue> = producer_cx
            .baggage()
            .iter()
            .map(|(k, (v, _))| KeyValue::new(k.clone(), v.clone()))
            .collect();
        let _ = span.set_parent(Context::new().with_baggage(entries));
        span
    }

    /// Removes a processed message (a DB span inside the current span).
    pub async fn ack(&self, message: &Message) -> Result<(), sqlx::Error> {
        self.db
            .run(
                &ACK,
                sqlx::query(self.db.sql(&ACK))
                    .bind(message.id)
                    .execute(self.db.pool()),
            )
            .await
            .map(|_| ())
    }

    /// Puts a message back for another attempt.
    pub async fn release(&self, message: &Message) -> Result<(), sqlx::Error> {
        let result = sqlx::query(RELEASE)
            .bind(message.id)
            .execute(self.db.pool())
            .await
            .map(|_| ());
        self.db.note_write(result.as_ref().map(|_| ()));
        result
    }

    /// How many messages wait for a consumer (the backlog).
    pub async fn depth(&self, topic: &str) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT COUNT(*) FROM queue_messages WHERE topic = $1")
            .bind(topic)
            .fetch_one(self.db.pool())
            .await
    }
}
