//! A process's view of the plan: only its own faults, only the targeted requests.

use super::*;
use crate::distribution::Distribution;
use crate::plan::{ActiveFault, FaultStore, now_ms};
use crate::spec::{FaultSpec, Targeting};

fn facts<'a>(attribute: &'a dyn Fn(&str) -> Option<String>) -> RequestFacts<'a> {
    RequestFacts {
        route: Some("/payments"),
        version: "0.1.0",
        attribute,
    }
}

fn spec(fault: Fault, target: Targeting) -> FaultSpec {
    FaultSpec {
        fault,
        target,
        expires_in_s: None,
    }
}

#[test]
fn only_this_services_targeted_requests_are_hit() {
    let store = FaultStore::new(false);
    store
        .set(vec![
            spec(
                Fault::Latency {
                    service: "payment".into(),
                    distribution: Distribution::Fixed { ms: 250.0 },
                },
                Targeting::default(),
            ),
            spec(
                Fault::Errors {
                    service: "payment".into(),
                    status: 503,
                    message: "gateway unavailable".into(),
                },
                Targeting {
                    attributes: [("tracedojo.user.tier".to_string(), "gold".to_string())].into(),
                    ..Targeting::default()
                },
            ),
            spec(
                Fault::CpuBurn {
                    service: "cart".into(),
                    ms: 10,
                },
                Targeting::default(),
            ),
        ])
        .unwrap();
    let payment = Faults::new("payment", "0.1.0");
    payment.replace_plan(store.plan());

    let gold = |k: &str| (k == "tracedojo.user.tier").then(|| "gold".to_string());
    let free = |k: &str| (k == "tracedojo.user.tier").then(|| "free".to_string());
    let hit = payment.on_request(&facts(&gold));
    assert_eq!(hit.delay, Duration::from_millis(250));
    assert_eq!(hit.error, Some((503, "gateway unavailable".into())));
    assert_eq!(
        hit.cpu_burn,
        Duration::ZERO,
        "cart's fault is not payment's"
    );
    let spared = payment.on_request(&facts(&free));
    assert_eq!(spared.error, None);
    assert_eq!(spared.kinds, vec!["latency"]);

    payment.replace_plan(Plan::default());
    assert_eq!(payment.on_request(&facts(&gold)), RequestEffects::default());
}

#[test]
fn a_probability_hits_about_that_share() {
    let store = FaultStore::new(false);
    store
        .set(vec![spec(
            Fault::Errors {
                service: "cart".into(),
                status: 500,
                message: "x".into(),
            },
            Targeting {
                probability: 0.25,
                ..Targeting::default()
            },
        )])
        .unwrap();
    let cart = Faults::new("cart", "0.1.0");
    cart.replace_plan(store.plan());
    let none = |_: &str| None;
    let failed = (0..20_000)
        .filter(|_| cart.on_request(&facts(&none)).error.is_some())
        .count();
    // σ ≈ 61 at n = 20,000, p = 0.25: 4,700..5,300 is ±5σ.
    assert!((4_700..=5_300).contains(&failed), "{failed} of 20,000");
}

#[test]
fn a_leak_grows_to_its_cap_and_is_given_back_on_clear() {
    let store = FaultStore::new(false);
    let ids = store
        .set(vec![spec(
            Fault::MemoryLeak {
                service: "cart".into(),
                kb_per_request: 512,
                cap_mb: 2,
            },
            Targeting::default(),
        )])
        .unwrap();
    let cart = Faults::new("cart", "0.1.0");
    cart.replace_plan(store.plan());
    for _ in 0..10 {
        cart.leak(512);
    }
    assert_eq!(
        cart.leaked_bytes(),
        2 << 20,
        "held up to the cap, not beyond"
    );
    store.clear(ids[0]);
    cart.replace_plan(store.plan());
    assert_eq!(cart.leaked_bytes(), 0);
}

#[tokio::test]
async fn a_waiting_follower_is_answered_as_soon_as_the_plan_changes() {
    let store = std::sync::Arc::new(FaultStore::new(true));
    let (version, epoch) = (store.plan().version, store.plan().epoch);
    let waiting = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .plan_after(version, epoch, Duration::from_secs(30))
                .await
        })
    };
    tokio::task::yield_now().await;
    store
        .set(vec![spec(
            Fault::Unreachable {
                service: "payment".into(),
            },
            Targeting::default(),
        )])
        .unwrap();
    let plan = waiting.await.unwrap();
    assert!(plan.version > version);
    assert_eq!(plan.faults.len(), 1);
    assert!(plan.reveal);
}

#[tokio::test]
async fn a_follower_of_another_control_api_is_answered_at_once() {
    let store = FaultStore::new(false);
    let plan = store.plan_after(1, 12345, Duration::from_secs(30)).await;
    assert_eq!(plan.version, 1);
    assert_ne!(plan.epoch, 12345);
}

#[tokio::test]
async fn a_leak_that_expires_gives_its_memory_back_without_a_new_plan() {
    let cart = Faults::new("cart", "0.1.0");
    let now = now_ms();
    cart.replace_plan(
        Plan {
            epoch: 1,
            version: 2,
            reveal: false,
            faults: vec![ActiveFault {
                id: 1,
                fault: Fault::MemoryLeak {
                    service: "cart".into(),
                    kb_per_request: 1024,
                    cap_mb: 4,
                },
                target: Targeting::default(),
                set_at_ms: now,
                expires_at_ms: Some(now + 100),
                expires_in_ms: Some(100),
                ends: None,
            }],
        }
        .anchor(),
    );
    cart.leak(1024);
    assert_eq!(cart.leaked_bytes(), 1 << 20);
    tokio::spawn(cart.clone().release_leak_on_expiry());
    // Looked at every 10 ms for at most 2 s: the expiry is 100 ms away.
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while cart.leaked_bytes() > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(cart.leaked_bytes(), 0);
}

#[tokio::test]
async fn a_service_can_wait_for_its_first_plan() {
    let catalog = Faults::new("catalog", "9.9.9");
    assert!(
        !catalog.first_plan(Duration::from_millis(50)).await,
        "no plan has come yet"
    );
    catalog.replace_plan(Plan {
        epoch: 3,
        version: 1,
        reveal: false,
        faults: Vec::new(),
    });
    assert!(catalog.first_plan(Duration::from_millis(50)).await);
}
