//! The runner against a real HTTP server on loopback: latency counts from the intended start,
//! so a stall shows in the corrected view and not in the uncorrected one.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use tracedojo_loadgen::journeys::{JourneyKind, JourneyOptions};
use tracedojo_loadgen::plan::plan;
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
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (base_url, served) = stalling_shop().await;
    // 100 single-request journeys a second for 3 s, at most one in flight: while the slow
    // answer is awaited, the next sends wait for the slot (as a closed-loop tool's would).
    let schedule = Schedule::new(
        Profile::Constant { rate: 100.0 },
        Arrivals::Uniform,
        Some(Duration::from_secs(3)),
        None,
        1,
    )
    .unwrap();
    let population = Arc::new(Population::new(10, 1));
    let mix = [(JourneyKind::ViewProduct, 1)];
    let options = JourneyOptions {
        max_think: Duration::ZERO,
        declined_per_mille: 0,
    };
    let journeys: Vec<_> = plan(&schedule, &population, &mix, options, 1).collect();
    let config = RunnerConfig {
        base_url,
        max_in_flight: 1,
        ..RunnerConfig::default()
    };
    let recorder = Arc::new(std::sync::Mutex::new(Recorder::default()));
    run(journeys.into_iter(), population, config, recorder.clone()).await;
    let recorder = recorder.lock().unwrap();
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
