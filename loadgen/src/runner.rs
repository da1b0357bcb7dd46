//! Sends a plan to the shop: each journey starts at its intended time, each step is a real
//! HTTP request to the shop's public API, and every answer is recorded.
//!
//! A cap bounds the journeys in flight. A journey that finds the cap full waits for a place
//! — its latency still counts from the intended time — and is dropped (and counted) only
//! when it would start more than `max_lateness` late.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::journeys::Step;
use crate::plan::PlannedJourney;
use crate::population::{Population, User};
use crate::recorder::{Recorder, Sample};

/// How a run is sent.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// The shop's frontend, e.g. `http://127.0.0.1:8080`.
    pub base_url: String,
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
}

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig {
            base_url: "http://127.0.0.1:8080".to_string(),
            max_in_flight: 1000,
            late_after: Duration::from_millis(10),
            max_lateness: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            traced: false,
        }
    }
}

/// Runs `plan` to completion (bounded by the plan itself), recording into `recorder` as it
/// goes (read it meanwhile for live progress).
pub async fn run(
    plan: impl Iterator<Item = PlannedJourney>,
    population: Arc<Population>,
    config: RunnerConfig,
    recorder: Arc<Mutex<Recorder>>,
) {
    let client = reqwest::Client::builder()
        .timeout(config.request_timeout)
        .build()
        .unwrap_or_default();
    let slots = Arc::new(Semaphore::new(config.max_in_flight.max(1)));
    let start = Instant::now();
    let mut journeys = tokio::task::JoinSet::new();
    for journey in plan {
        let intended = start + journey.offset;
        tokio::time::sleep_until(intended).await;
        let permit = match tokio::time::timeout_at(
            intended + config.max_lateness,
            slots.clone().acquire_owned(),
        )
        .await
        {
            Ok(Ok(permit)) => permit,
            _ => {
                lock(&recorder).dropped += 1;
                continue;
            }
        };
        {
            let mut recorder = lock(&recorder);
            recorder.journeys_started += 1;
            if Instant::now().saturating_duration_since(intended) > config.late_after {
                recorder.late += 1;
            }
        }
        let traced = config.traced;
        let (client, base, recorder, population) = (
            client.clone(),
            config.base_url.clone(),
            recorder.clone(),
            population.clone(),
        );
        journeys.spawn(async move {
            let _permit = permit;
            if let Some(user) = population.users().get(journey.user) {
                run_journey(&client, &base, user, &journey, intended, &recorder, traced).await;
            }
            lock(&recorder).journeys_finished += 1;
        });
        // Reap finished journeys as we go, so the set stays as small as what is in flight.
        while journeys.try_join_next().is_some() {}
    }
    while journeys.join_next().await.is_some() {}
}

fn lock(recorder: &Mutex<Recorder>) -> std::sync::MutexGuard<'_, Recorder> {
    recorder.lock().unwrap_or_else(|p| p.into_inner())
}

/// The steps of one journey, one after another, each measured from its intended start.
async fn run_journey(
    client: &reqwest::Client,
    base: &str,
    user: &User,
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
        let Some((endpoint, request)) = build(client, base, &timed.step, order_id) else {
            break;
        };
        let request = request.header("x-session-id", &user.session_id);
        let sent = Instant::now();
        let want_body = matches!(timed.step, Step::Checkout { .. });
        let (status, body) = if traced {
            crate::traced::send(client, request, endpoint, user, want_body).await
        } else {
            match request.header("baggage", &user.baggage).build() {
                Ok(request) => send(client, request, want_body).await,
                Err(_) => (None, None),
            }
        };
        let done = Instant::now();
        lock(recorder).record(&Sample {
            endpoint,
            journey: journey.kind.name(),
            step: index + 1,
            corrected: done.saturating_duration_since(intended),
            uncorrected: done.saturating_duration_since(sent),
            status,
        });
        if matches!(timed.step, Step::Checkout { .. }) {
            order_id = body.as_ref().and_then(|b| b["order_id"].as_i64());
        }
        intended = done;
    }
}

/// Sends a request; the status, and the JSON body when `want_body` (otherwise the body is
/// read and dropped: parsing what nobody reads would cost the generator, not the shop).
pub(crate) async fn send(
    client: &reqwest::Client,
    request: reqwest::Request,
    want_body: bool,
) -> (Option<u16>, Option<Value>) {
    match client.execute(request).await {
        Ok(response) => {
            let status = response.status().as_u16();
            let bytes = response.bytes().await.ok();
            let body = if want_body {
                bytes.and_then(|b| serde_json::from_slice(&b).ok())
            } else {
                None
            };
            (Some(status), body)
        }
        Err(_) => (None, None),
    }
}

/// The HTTP request for one step and the endpoint it is recorded under; `None` when the step
/// cannot be made (an order to view when the checkout failed).
fn build(
    client: &reqwest::Client,
    base: &str,
    step: &Step,
    order_id: Option<i64>,
) -> Option<(&'static str, reqwest::RequestBuilder)> {
    Some(match step {
        Step::ListProducts { category } => {
            let mut url = format!("{base}/api/products");
            if let Some(category) = category {
                url.push_str(&format!("?category={category}"));
            }
            ("GET /api/products", client.get(url))
        }
        Step::Search { query } => (
            "GET /api/search",
            client.get(format!("{base}/api/search?q={}", query.replace(' ', "%20"))),
        ),
        Step::ViewProduct { product_id } => (
            "GET /api/products/{id}",
            client.get(format!("{base}/api/products/{product_id}")),
        ),
        Step::AddToCart {
            product_id,
            quantity,
        } => (
            "POST /api/cart/items",
            client
                .post(format!("{base}/api/cart/items"))
                .json(&json!({ "product_id": product_id, "quantity": quantity })),
        ),
        Step::ViewCart => ("GET /api/cart", client.get(format!("{base}/api/cart"))),
        Step::Checkout { card_number } => (
            "POST /api/checkout",
            client.post(format!("{base}/api/checkout")).json(&json!({
                "card_number": card_number,
                "email": "shopper@example.com",
            })),
        ),
        Step::ViewOrder => (
            "GET /api/orders/{id}",
            client.get(format!("{base}/api/orders/{}", order_id?)),
        ),
    })
}
