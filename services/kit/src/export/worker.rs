//! A destination's own thread and queue. Each destination sends on its own, so a backend that
//! never answers fills only its own queue: the explorer's copy keeps flowing, and the shop
//! never waits for either.
//!
//! Spans are offered ([`Worker::offer`]: queued or, when the queue is full, dropped and
//! counted). Metrics and logs, which are few, are delivered ([`Worker::deliver`]: the SDK's
//! own thread waits for the answer).

use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::encode::Payload;
use super::failure::ExportFailure;
use super::sender::{Delivered, Sender};
use super::settings::DestinationSettings;
use super::stats::{Change, ExportStats};

/// Batches a destination may have waiting. Each holds up to `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`
/// spans (512): a few seconds of a busy shop, enough to ride out a slow answer.
const QUEUE_BATCHES: usize = 16;

/// Set (by `tracedojo up`) when a supervisor reports export failures for all services at
/// once: the worker then only counts them, and says nothing on the console.
pub const QUIET_VARIABLE: &str = "TRACEDOJO_EXPORT_WARNINGS_BY_SUPERVISOR";

type Reply = std::sync::mpsc::Sender<Result<Delivered, ExportFailure>>;

struct Job {
    payload: Arc<Payload>,
    reply: Option<Reply>,
}

pub struct Worker {
    queue: Mutex<Option<SyncSender<Job>>>,
    finished: Mutex<Receiver<()>>,
    stats: Arc<ExportStats>,
    /// Where, for a person (credentials hidden).
    name: String,
    /// What to call the destination in a sentence: "the backend", "the explorer".
    who: &'static str,
}

impl Worker {
    /// Starts the destination's thread; fails when its connection cannot be set up (a
    /// certificate that cannot be used, say).
    pub fn start(
        settings: DestinationSettings,
        stats: Arc<ExportStats>,
        who: &'static str,
    ) -> Result<Worker, ExportFailure> {
        let name = settings.describe();
        let (queue, jobs) = std::sync::mpsc::sync_channel::<Job>(QUEUE_BATCHES);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (finished_tx, finished) = std::sync::mpsc::channel();
        let thread_stats = stats.clone();
        let thread_name = name.clone();
        std::thread::Builder::new()
            .name("otlp-export".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(err) => {
                        let _ = ready_tx.send(Err(ExportFailure::Other {
                            problem: format!("could not start the export thread: {err}"),
                        }));
                        return;
                    }
                };
                let sender = match runtime.block_on(async { Sender::new(settings) }) {
                    Ok(sender) => {
                        let _ = ready_tx.send(Ok(()));
                        sender
                    }
                    Err(failure) => {
                        let _ = ready_tx.send(Err(failure));
                        return;
                    }
                };
                let mut warned_at: Option<Instant> = None;
                while let Ok(job) = jobs.recv() {
                    let result = runtime.block_on(sender.send(&job.payload));
                    account(
                        &thread_stats,
                        &thread_name,
                        who,
                        &job.payload,
                        &result,
                        &mut warned_at,
                    );
                    if let Some(reply) = job.reply {
                        let _ = reply.send(result);
                    }
                }
                let _ = finished_tx.send(());
            })
            .map_err(|err| ExportFailure::Other {
                problem: format!("could not start the export thread: {err}"),
            })?;
        ready_rx.recv().unwrap_or_else(|_| {
            Err(ExportFailure::Other {
                problem: "the export thread ended before it was ready".into(),
            })
        })?;
        Ok(Worker {
            queue: Mutex::new(Some(queue)),
            finished: Mutex::new(finished),
            stats,
            name,
            who,
        })
    }

    pub fn stats(&self) -> &Arc<ExportStats> {
        &self.stats
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn who(&self) -> &'static str {
        self.who
    }

    /// Queues a batch without waiting; a full queue drops it, counted.
    pub fn offer(&self, payload: Arc<Payload>) {
        let items = payload.items;
        let queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        let Some(queue) = queue.as_ref() else {
            self.stats.dropped(items);
            return;
        };
        match queue.try_send(Job {
            payload,
            reply: None,
        }) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => self.stats.dropped(items),
        }
    }

    /// Sends a batch and waits for the backend's answer, at most `wait`.
    pub fn deliver(
        &self,
        payload: Arc<Payload>,
        wait: Duration,
    ) -> Result<Delivered, ExportFailure> {
        let (reply, answer) = std::sync::mpsc::channel();
        let queued = {
            let queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            queue.as_ref().map(|queue| {
                queue.try_send(Job {
                    payload,
                    reply: Some(reply),
                })
            })
        };
        match queued {
            Some(Ok(())) => answer.recv_timeout(wait).unwrap_or_else(|_| {
                Err(ExportFailure::Other {
                    problem: format!(
                        "{} did not finish within {}",
                        self.who,
                        crate::telemetry::seconds(wait)
                    ),
                })
            }),
            _ => Err(ExportFailure::Other {
                problem: format!("{}'s export queue is full or closed", self.who),
            }),
        }
    }

    /// Takes no more batches, lets the queue drain, and waits for it until `deadline`;
    /// whether it drained in time.
    pub fn close(&self, deadline: Instant) -> bool {
        drop(self.queue.lock().unwrap_or_else(|p| p.into_inner()).take());
        let finished = self.finished.lock().unwrap_or_else(|p| p.into_inner());
        finished
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .is_ok()
    }
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker").field("name", &self.name).finish()
    }
}

/// Counts one export's result and says, once per change, when exports start failing (and a
/// reminder a minute later while they still fail) and when they recover.
fn account(
    stats: &ExportStats,
    name: &str,
    who: &str,
    payload: &Payload,
    result: &Result<Delivered, ExportFailure>,
    warned_at: &mut Option<Instant>,
) {
    let change = match result {
        Ok(_) => stats.delivered(payload.items),
        Err(ExportFailure::PartialSuccess { rejected, .. }) => {
            let rejected = (*rejected).min(payload.items);
            stats.failed(
                rejected,
                payload.items - rejected,
                result.as_ref().unwrap_err(),
            )
        }
        Err(failure) => stats.failed(payload.items, 0, failure),
    };
    if stats.reported.load(std::sync::atomic::Ordering::Relaxed)
        || std::env::var_os(QUIET_VARIABLE).is_some()
    {
        return;
    }
    let failed = stats
        .spans_failed
        .load(std::sync::atomic::Ordering::Relaxed);
    match (change, result) {
        (Change::Failing(failure), _) => {
            *warned_at = Some(Instant::now());
            tracing::warn!(
                "exports to {who} ({name}) fail: {failure}; the shop keeps serving, {failed} lost so far"
            );
        }
        (Change::Recovered, _) => {
            *warned_at = None;
            tracing::info!("exports to {who} ({name}) work again; {failed} were lost meanwhile");
        }
        (Change::Same, Err(failure)) => {
            if warned_at.is_none_or(|t| t.elapsed() > Duration::from_secs(60)) {
                *warned_at = Some(Instant::now());
                tracing::warn!(
                    "exports to {who} ({name}) still fail: {failure}; {failed} lost so far"
                );
            }
        }
        (Change::Same, Ok(_)) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::test_server::TestServer;
    use opentelemetry_proto::tonic::collector::trace::v1::{
        ExportTracePartialSuccess, ExportTraceServiceResponse,
    };
    use prost::Message;

    fn payload(items: u64) -> Arc<Payload> {
        let request = opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest {
            resource_spans: Vec::new(),
        };
        Arc::new(Payload::from_message(&request, items, false).expect("encode"))
    }

    #[test]
    fn spans_a_backend_rejects_in_part_are_counted_lost_with_its_message() {
        let answer = ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: 2,
                error_message: "span names must be shorter".into(),
            }),
        };
        let server = TestServer::answering_bytes(200, answer.encode_to_vec());
        let stats = Arc::new(ExportStats::default());
        let worker = Worker::start(
            DestinationSettings::explorer(&server.url("/v1/traces")),
            stats.clone(),
            "the backend",
        )
        .expect("worker");
        let result = worker.deliver(payload(5), Duration::from_secs(30));
        let failure = result.expect_err("a partial success is not a delivery");
        assert_eq!(
            failure.to_string(),
            "partial success: the backend rejected 2 spans, saying \"span names must be shorter\""
        );
        use std::sync::atomic::Ordering::Relaxed;
        assert_eq!(stats.spans_exported.load(Relaxed), 3);
        assert_eq!(stats.spans_failed.load(Relaxed), 2);
        assert!(stats.failing());
    }

    #[test]
    fn a_full_queue_drops_and_counts_instead_of_waiting() {
        let black_hole = TestServer::black_hole();
        let stats = Arc::new(ExportStats::default());
        let worker = Worker::start(
            DestinationSettings::explorer(&black_hole.url("/v1/traces")),
            stats.clone(),
            "the backend",
        )
        .expect("worker");
        // One batch is in flight and never answered; the queue then fills, the rest drop.
        for _ in 0..QUEUE_BATCHES + 5 {
            worker.offer(payload(10));
        }
        let dropped = stats
            .spans_dropped
            .load(std::sync::atomic::Ordering::Relaxed);
        assert!(dropped >= 40, "dropped {dropped}");
    }
}
