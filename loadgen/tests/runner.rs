//! The runner against a real HTTP server on loopback: latency counts from the intended start,
//! so a stall shows in the corrected view and not in the uncorrected one.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use tracedojo_loadgen::http::Target;
use tracedojo_loadgen::journeys::{JourneyKind, JourneyOptions};
use tracedojo_loadgen::plan::{PlannedJourney, plan};
use tracedojo_loadgen::population::Population;
use tracedojo_loadgen::recorder::Recorder;
use tracedojo_loadgen::runner::{RunnerConfig, run};
use tracedojo_loadgen::schedule::{Arrivals, Profile, Schedule};

/// A product endpoint that answers at once, except that its 100th request takes one second
/// (a GC pause, a lock, a full disk).
async fn stalling_shop() -> (String, Arc<AtomicU64>) {
    let served = Arc::new(AtomicU64::new(0));
    let counter = served.clone();
    let app = Router::new().route(
        "/api/products/{id}",
        get(move || {
            let counter = counter.clone();
            async move {
                if counter.fetch_add(1, Ordering::SeqCst) + 1 == 100 {
                    // The fault under test: this answer is a second late.
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                axum::Json(serde_json::json!({"product": {"id": 1}, "recommendations": []}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}"), served)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_shows_in_corrected_latency_only() {
    let (base_url, served) = stalling_shop().await;
    // 100 single-request journeys a second for 3 s, at most one in flight: while the slow
    // answer is awaited, the next sends wait for the slot (as a closed-loop tool's would).
    let (journeys, population) = product_views(100.0, 300);
    let config = RunnerConfig {
        target: Target::parse(&base_url).unwrap(),
        max_in_flight: 1,
        ..RunnerConfig::default()
    };
    let recorder = run_whole(journeys, population, config).await;
    assert_eq!(recorder.journeys_finished, 300);

    assert_eq!(
        served.load(Ordering::SeqCst),
        300,
        "every planned request was sent"
    );
    assert_eq!(recorder.requests(), 300);
    assert_eq!(recorder.errors(), 0);
    assert_eq!(recorder.dropped, 0);
    assert!(
        recorder.late > 50,
        "sends behind the stall start late: {}",
        recorder.late
    );
    let all = recorder.overall().unwrap();
    // About a third of the run queued behind the 1 s stall: users waited up to a second.
    assert!(
        all.corrected.p90_ms > 300.0,
        "corrected {:?}",
        all.corrected
    );
    assert!(
        all.corrected.max_ms >= 990.0,
        "corrected {:?}",
        all.corrected
    );
    // Measured from the actual send, only the one stalled request was slow.
    assert!(
        all.uncorrected.p90_ms < 50.0,
        "uncorrected {:?}",
        all.uncorrected
    );
    assert!(
        all.uncorrected.p99_ms < 50.0,
        "uncorrected {:?}",
        all.uncorrected
    );
}

/// A product endpoint that answers at once and wakes `reached` when it has served `after`.
async fn counting_shop(after: u64) -> (String, Arc<AtomicU64>, Arc<tokio::sync::Notify>) {
    let served = Arc::new(AtomicU64::new(0));
    let reached = Arc::new(tokio::sync::Notify::new());
    let (counter, notify) = (served.clone(), reached.clone());
    let app = Router::new().route(
        "/api/products/{id}",
        get(move || {
            let (counter, notify) = (counter.clone(), notify.clone());
            async move {
                if counter.fetch_add(1, Ordering::SeqCst) + 1 == after {
                    notify.notify_one();
                }
                axum::Json(serde_json::json!({"product": {"id": 1}}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}"), served, reached)
}

/// Runs every journey to its end and returns what was recorded.
async fn run_whole(
    journeys: Vec<PlannedJourney>,
    population: Arc<Population>,
    config: RunnerConfig,
) -> Recorder {
    let recorder = Arc::new(std::sync::Mutex::new(Recorder::default()));
    run(
        journeys.into_iter(),
        population,
        config,
        recorder.clone(),
        std::future::pending(),
    )
    .await;
    std::mem::take(&mut *recorder.lock().unwrap())
}

/// `count` single product views at `rate` a second, evenly spaced.
fn product_views(rate: f64, count: u64) -> (Vec<PlannedJourney>, Arc<Population>) {
    let schedule = Schedule::new(
        Profile::Constant { rate },
        Arrivals::Uniform,
        None,
        Some(count),
        7,
    )
    .unwrap();
    let population = Arc::new(Population::new(50, 7));
    let options = JourneyOptions {
        max_think: Duration::ZERO,
        declined_per_mille: 0,
    };
    let mix = [(JourneyKind::ViewProduct, 1)];
    let journeys = plan(&schedule, &population, &mix, options, 7).collect();
    (journeys, population)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_workers_send_every_journey_once_and_hand_in_every_figure() {
    let (base_url, served, _) = counting_shop(u64::MAX).await;
    let (journeys, population) = product_views(4000.0, 2000);
    let config = RunnerConfig {
        target: Target::parse(&base_url).unwrap(),
        max_in_flight: 64,
        workers: 3,
        ..RunnerConfig::default()
    };
    let recorder = run_whole(journeys, population, config).await;
    assert_eq!(served.load(Ordering::SeqCst), 2000);
    assert_eq!(recorder.requests(), 2000);
    assert_eq!(recorder.journeys_started, 2000);
    assert_eq!(recorder.journeys_finished, 2000);
    assert_eq!((recorder.errors(), recorder.dropped), (0, 0));
    let steps = recorder.steps();
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert_eq!(steps[0].endpoint, "view_product #1 GET /api/products/{id}");
    assert_eq!(steps[0].requests, 2000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_early_ends_the_run_and_keeps_what_was_measured() {
    let (base_url, served, reached) = counting_shop(100).await;
    // 100 a second for a minute, stopped once the shop has served 100.
    let (journeys, population) = product_views(100.0, 6000);
    let config = RunnerConfig {
        target: Target::parse(&base_url).unwrap(),
        ..RunnerConfig::default()
    };
    let recorder = Arc::new(std::sync::Mutex::new(Recorder::default()));
    let stop = async move { reached.notified().await };
    run(
        journeys.into_iter(),
        population,
        config,
        recorder.clone(),
        stop,
    )
    .await;
    let recorder = recorder.lock().unwrap();
    let served = served.load(Ordering::SeqCst);
    assert!((100..6000).contains(&served), "served {served}");
    // Every answer that came back before the stop is in the figures.
    assert!(
        recorder.requests() >= 90 && recorder.requests() <= served,
        "{} recorded of {served} served",
        recorder.requests()
    );
    assert!(recorder.journeys_started < 6000);
}

/// A shop that answers every step of an abandoned cart at once and notes the `x-session-id`
/// each request carried.
async fn session_noting_shop() -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let note = |seen: Arc<std::sync::Mutex<Vec<String>>>| {
        move |headers: axum::http::HeaderMap| {
            let seen = seen.clone();
            async move {
                let session = headers
                    .get("x-session-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                seen.lock().unwrap().push(session);
                axum::Json(serde_json::json!({}))
            }
        }
    };
    let app = Router::new()
        .route("/api/products/{id}", get(note(seen.clone())))
        .route("/api/cart/items", axum::routing::post(note(seen.clone())))
        .route("/api/cart", get(note(seen.clone())));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}"), seen)
}

/// Each session the shop saw and how many requests carried it.
fn sessions(seen: &std::sync::Mutex<Vec<String>>) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for session in seen.lock().unwrap().drain(..) {
        *counts.entry(session).or_default() += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_journey_has_a_cart_of_its_own_even_for_one_user_in_two_runs() {
    let (base_url, seen) = session_noting_shop().await;
    // One user, so every journey is that user's: a shared session would be a shared cart,
    // and one journey's checkout would empty the cart of another under way.
    let schedule = Schedule::new(
        Profile::Constant { rate: 400.0 },
        Arrivals::Uniform,
        None,
        Some(40),
        7,
    )
    .unwrap();
    let population = Arc::new(Population::new(1, 7));
    let options = JourneyOptions {
        max_think: Duration::ZERO,
        declined_per_mille: 0,
    };
    let mix = [(JourneyKind::AbandonCart, 1)];
    let journeys: Vec<PlannedJourney> = plan(&schedule, &population, &mix, options, 7).collect();
    let config = || RunnerConfig {
        target: Target::parse(&base_url).unwrap(),
        ..RunnerConfig::default()
    };

    let first = run_whole(journeys.clone(), population.clone(), config()).await;
    assert_eq!((first.requests(), first.errors()), (120, 0));
    let first_sessions = sessions(&seen);
    assert_eq!(first_sessions.len(), 40, "{first_sessions:?}");
    let user_session = &population.users()[0].session_id;
    for (session, requests) in &first_sessions {
        assert_eq!(*requests, 3, "one journey's three steps share {session}");
        assert!(
            session.starts_with(user_session.as_str()),
            "{session} names its user's session {user_session}"
        );
    }

    // The same plan again, as a second process with the same seed would send it (`up`'s
    // background load and someone's own run): none of its carts is one of the first run's.
    run_whole(journeys, population, config()).await;
    let second_sessions = sessions(&seen);
    assert_eq!(second_sessions.len(), 40, "{second_sessions:?}");
    let shared: Vec<_> = second_sessions
        .keys()
        .filter(|s| first_sessions.contains_key(*s))
        .collect();
    assert!(shared.is_empty(), "both runs used {shared:?}");
}
