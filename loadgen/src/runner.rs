//! Sends a plan to the shop: each journey starts at its intended time, each step is a real
//! HTTP request to the shop's public API, and every answer is recorded.
//!
//! The plan is dealt, in batches a little ahead of time, to one worker thread per core. Each
//! worker has its own single-threaded runtime, HTTP connections and recorder, so a request
//! never crosses threads: at tens of thousands of requests a second, waking another thread
//! per request would cost more than the request. Workers hand their figures to the shared
//! recorder a few times a second and when they finish.
//!
//! A cap bounds the journeys in flight (split evenly between workers). A journey that finds
//! the cap full waits for a place — its latency still counts from the intended time — and is
//! dropped (and counted) only when it would start more than `max_lateness` late.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::http::{Client, Request, Target};
use crate::journeys::Step;
use crate::plan::PlannedJourney;
use crate::population::{Population, User};
use crate::recorder::{Recorder, Sample};

/// How a run is sent.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// The shop's frontend.
    pub target: Target,
    /// The most journeys under way at once.
    pub max_in_flight: usize,
    /// A journey starting later than this after its intended time counts as late.
    pub late_after: Duration,
    /// A journey that cannot start within this of its intended time is dropped.
    pub max_lateness: Duration,
    /// The longest any one request may take.
    pub request_timeout: Duration,
    /// Open a root CLIENT span per request (service `loadgenerator`) and send its trace
    /// context; otherwise only the user's baggage header is sent.
    pub traced: bool,
    /// Worker threads sending requests; at most one per in-flight place.
    pub workers: usize,
    /// This run's id, part of every journey's session: random by default, so that two runs
    /// of the same plan at once (two processes with the same seed) never share a cart.
    pub run: u32,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig {
            target: Target::parse("http://127.0.0.1:8080").expect("a valid constant URL"),
            max_in_flight: 1000,
            late_after: Duration::from_millis(10),
            max_lateness: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            traced: false,
            workers: std::thread::available_parallelism().map_or(1, usize::from),
            run: rand::random(),
        }
    }
}

/// How far ahead of their intended start journeys are handed to a worker.
const LOOKAHEAD: Duration = Duration::from_millis(20);
/// The most journeys handed over at once.
const BATCH: usize = 256;
/// Batches queued per worker before the dealer waits: bounds what a slow worker holds.
const QUEUED_BATCHES: usize = 4;
/// How often workers hand their figures to the shared recorder.
const HAND_IN_EVERY: Duration = Duration::from_millis(250);

/// Runs `plan` to completion (bounded by the plan itself) or until `stop` resolves,
/// recording into `recorder` as it goes (read it meanwhile for live progress). When this
/// returns, every figure is in `recorder`.
pub async fn run(
    plan: impl Iterator<Item = PlannedJourney>,
    population: Arc<Population>,
    config: RunnerConfig,
    recorder: Arc<Mutex<Recorder>>,
    stop: impl Future<Output = ()>,
) {
    let target = Arc::new(config.target.clone());
    let workers = config.workers.clamp(1, config.max_in_flight.max(1));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut ready = Vec::with_capacity(workers);
    let mut queues = Vec::with_capacity(workers);
    let mut threads = Vec::with_capacity(workers);
    for index in 0..workers {
        let (tx, rx) = mpsc::channel(QUEUED_BATCHES);
        queues.push(tx);
        // An even share of the cap; the first workers take the remainder.
        let cap = config.max_in_flight.max(1) / workers
            + usize::from(index < config.max_in_flight.max(1) % workers);
        let (ready_tx, ready_rx) = oneshot::channel();
        ready.push(ready_rx);
        let worker = Worker {
            target: target.clone(),
            cap,
            population: population.clone(),
            config: config.clone(),
            shared: recorder.clone(),
            stop: stop_rx.clone(),
        };
        let spawned = std::thread::Builder::new()
            .name(format!("load-worker-{index}"))
            .spawn(move || worker.run_on_own_thread(rx, ready_tx));
        match spawned {
            Ok(thread) => threads.push(thread),
            Err(_) => {
                // Without a thread this worker's batches have nowhere to go.
                queues.pop();
                break;
            }
        }
    }
    // The run's clock starts once every worker can send, so that setting up threads and
    // runtimes does not make the first journeys late.
    for worker in ready {
        // An error means the worker could not start; it drops what it is handed.
        let _ = worker.await;
    }
    let start = Instant::now();
    let stop_workers = move || {
        let _ = stop_tx.send(true);
    };
    let mut finished = tokio::task::spawn_blocking(move || {
        for thread in threads {
            let _ = thread.join();
        }
    });
    tokio::pin!(stop);
    let mut stopped = false;
    tokio::select! {
        _ = deal(plan, start, &queues) => {}
        _ = &mut stop => stopped = true,
    }
    // Workers finish what they hold, or leave it at once after `stop`, then hand in.
    drop(queues);
    if !stopped {
        tokio::select! {
            _ = &mut finished => return,
            _ = &mut stop => {}
        }
    }
    stop_workers();
    let _ = finished.await;
}

/// Journeys handed to a worker together, with the instant their offsets count from.
struct Batch {
    start: Instant,
    journeys: Vec<PlannedJourney>,
}

/// Hands journeys to the workers in turn, each batch shortly before its first journey is due.
async fn deal(
    plan: impl Iterator<Item = PlannedJourney>,
    start: Instant,
    queues: &[mpsc::Sender<Batch>],
) {
    let mut next = 0;
    let mut batch = Batch {
        start,
        journeys: Vec::new(),
    };
    for journey in plan {
        let due = start + journey.offset;
        let pending = batch.journeys.len();
        let hand_over_now = pending > 0 && (pending == BATCH || due > Instant::now() + LOOKAHEAD);
        if hand_over_now && !hand_over(&mut batch, &mut next, queues).await {
            return;
        }
        if due > Instant::now() + LOOKAHEAD {
            tokio::time::sleep_until(due - LOOKAHEAD).await;
        }
        batch.journeys.push(journey);
    }
    hand_over(&mut batch, &mut next, queues).await;
}

/// Sends the batch to the next worker; false when no worker is left.
async fn hand_over(batch: &mut Batch, next: &mut usize, queues: &[mpsc::Sender<Batch>]) -> bool {
    if batch.journeys.is_empty() {
        return true;
    }
    if queues.is_empty() {
        return false;
    }
    let queue = &queues[*next % queues.len()];
    *next += 1;
    let journeys = std::mem::take(&mut batch.journeys);
    let start = batch.start;
    queue.send(Batch { start, journeys }).await.is_ok()
}

/// One worker thread: its share of the plan, its own runtime, client and recorder.
struct Worker {
    target: Arc<Target>,
    cap: usize,
    population: Arc<Population>,
    config: RunnerConfig,
    shared: Arc<Mutex<Recorder>>,
    stop: watch::Receiver<bool>,
}

impl Worker {
    /// Tells `ready` once it can send, then sends what it is handed.
    fn run_on_own_thread(self, batches: mpsc::Receiver<Batch>, ready: oneshot::Sender<()>) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        match runtime {
            Ok(runtime) => runtime.block_on(self.run(batches, ready)),
            // Counted, not hidden: every journey it was handed is dropped.
            Err(_) => {
                drop(ready);
                drop_all(batches, &self.shared)
            }
        }
    }

    async fn run(self, mut batches: mpsc::Receiver<Batch>, ready: oneshot::Sender<()>) {
        let client = Arc::new(Client::new(
            self.target.clone(),
            self.config.request_timeout,
        ));
        let local = Arc::new(Mutex::new(Recorder::default()));
        let _ = ready.send(());
        let hand_in = {
            let (local, shared) = (local.clone(), self.shared.clone());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(HAND_IN_EVERY);
                loop {
                    tick.tick().await;
                    lock(&local).drain_into(&mut lock(&shared));
                }
            })
        };
        let cap = self.cap.clamp(1, Semaphore::MAX_PERMITS) as u32;
        let slots = Arc::new(Semaphore::new(cap as usize));
        let mut stop = self.stop.clone();
        let work = async {
            while let Some(batch) = batches.recv().await {
                for journey in batch.journeys {
                    self.start_journey(batch.start, journey, &client, &slots, &local)
                        .await;
                }
            }
            // Every place back means every journey has finished.
            let _ = slots.acquire_many(cap).await;
        };
        tokio::select! {
            _ = work => {}
            _ = stop.wait_for(|stopped| *stopped) => {}
        }
        hand_in.abort();
        lock(&local).drain_into(&mut lock(&self.shared));
        // Returning drops this thread's runtime, which cancels any journey still under way.
    }

    async fn start_journey(
        &self,
        start: Instant,
        journey: PlannedJourney,
        client: &Arc<Client>,
        slots: &Arc<Semaphore>,
        local: &Arc<Mutex<Recorder>>,
    ) {
        let intended = start + journey.offset;
        if intended > Instant::now() {
            tokio::time::sleep_until(intended).await;
        }
        let permit = match slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                let deadline = intended + self.config.max_lateness;
                match tokio::time::timeout_at(deadline, slots.clone().acquire_owned()).await {
                    Ok(Ok(permit)) => permit,
                    _ => {
                        lock(local).dropped += 1;
                        return;
                    }
                }
            }
        };
        {
            let mut local = lock(local);
            local.journeys_started += 1;
            local.users_played.insert(journey.user);
            if Instant::now().saturating_duration_since(intended) > self.config.late_after {
                local.late += 1;
            }
        }
        let (traced, run) = (self.config.traced, self.config.run);
        let (client, local, population) = (client.clone(), local.clone(), self.population.clone());
        // A task on this thread's runtime; the permit it holds is its place in flight.
        tokio::spawn(async move {
            if let Some(user) = population.users().get(journey.user) {
                let session = user.journey_session(run, journey.sequence);
                run_journey(&client, user, &session, &journey, intended, &local, traced).await;
            }
            lock(&local).journeys_finished += 1;
            drop(permit);
        });
    }
}

/// A worker that could not start drops what it is handed, and says so in the figures.
fn drop_all(mut batches: mpsc::Receiver<Batch>, shared: &Mutex<Recorder>) {
    while let Some(batch) = batches.blocking_recv() {
        lock(shared).dropped += batch.journeys.len() as u64;
    }
}

fn lock(recorder: &Mutex<Recorder>) -> std::sync::MutexGuard<'_, Recorder> {
    recorder.lock().unwrap_or_else(|p| p.into_inner())
}

/// The steps of one journey, one after another, each measured from its intended start.
async fn run_journey(
    client: &Client,
    user: &User,
    session: &str,
    journey: &PlannedJourney,
    journey_start: Instant,
    recorder: &Mutex<Recorder>,
    traced: bool,
) {
    let mut intended = journey_start;
    let mut order_id: Option<i64> = None;
    for (index, timed) in journey.steps.iter().enumerate() {
        if !timed.think.is_zero() {
            intended = Instant::now() + timed.think;
            // A person reading the page before the next click.
            tokio::time::sleep_until(intended).await;
        }
        let Some((endpoint, mut request)) = build(&timed.step, order_id) else {
            break;
        };
        request.header("x-session-id", session);
        lock(recorder).answers.sent += 1;
        let sent = Instant::now();
        let result = if traced {
            // Boxed, like the send below: a request's future is large, and a journey's would
            // otherwise be copied whole each time one is started.
            Box::pin(crate::traced::send(client, request, endpoint, user)).await
        } else {
            request.header("baggage", &user.baggage);
            Box::pin(client.send(&request)).await
        };
        let done = Instant::now();
        let status = result.as_ref().ok().map(|r| r.status);
        lock(recorder).record(&Sample {
            endpoint,
            journey: journey.kind.name(),
            step: index + 1,
            corrected: done.saturating_duration_since(intended),
            uncorrected: done.saturating_duration_since(sent),
            status,
            failure: result.as_ref().err().copied(),
            at: done.into_std(),
        });
        if matches!(timed.step, Step::Checkout { .. }) {
            order_id = result
                .ok()
                .and_then(|r| serde_json::from_slice::<Value>(&r.body).ok())
                .and_then(|body| body["order_id"].as_i64());
        }
        intended = done;
    }
}

/// The endpoint a step is recorded under and its request; `None` when the step cannot be
/// made (an order to view when the checkout failed).
fn build(step: &Step, order_id: Option<i64>) -> Option<(&'static str, Request)> {
    let get = |endpoint, path: String| (endpoint, Request::get(path));
    let post = |endpoint, path: &str, body: Value| (endpoint, Request::post_json(path, &body));
    Some(match step {
        Step::ListProducts { category: None } => {
            get("GET /api/products", "/api/products".to_string())
        }
        Step::ListProducts {
            category: Some(category),
        } => get(
            "GET /api/products",
            format!("/api/products?category={category}"),
        ),
        Step::Search { query } => get(
            "GET /api/search",
            format!("/api/search?q={}", query.replace(' ', "%20")),
        ),
        Step::ViewProduct { product_id } => get(
            "GET /api/products/{id}",
            format!("/api/products/{product_id}"),
        ),
        Step::AddToCart {
            product_id,
            quantity,
        } => post(
            "POST /api/cart/items",
            "/api/cart/items",
            json!({ "product_id": product_id, "quantity": quantity }),
        ),
        Step::ViewCart => get("GET /api/cart", "/api/cart".to_string()),
        Step::Checkout { card_number } => post(
            "POST /api/checkout",
            "/api/checkout",
            json!({
                "card_number": card_number,
                "email": "shopper@example.com",
            }),
        ),
        Step::ViewOrder => get("GET /api/orders/{id}", format!("/api/orders/{}", order_id?)),
    })
}
