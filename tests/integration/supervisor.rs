//! `tracedojo up` as a supervisor: it restarts a service that dies and stops every child on
//! SIGTERM.

use std::time::Duration;

use crate::support::{Shop, alive, service_pids};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_service_is_restarted_and_sigterm_stops_everything() {
    let mut shop = Shop::start(&[("OTEL_SDK_DISABLED", "true")]);
    let pids = service_pids(&shop);
    assert_eq!(pids.len(), 8, "table:\n{}", shop.stdout.text());
    assert!(
        shop.stdout.text().contains("OTEL_SDK_DISABLED"),
        "up says where traces go"
    );

    let catalog = pids.iter().find(|(name, _)| name == "catalog").unwrap().1;
    // SAFETY: killing a process of this test's own shop.
    unsafe {
        libc::kill(catalog as libc::pid_t, libc::SIGKILL);
    }
    shop.stderr
        .wait_for("catalog exited", Duration::from_secs(10))
        .unwrap();
    let back = shop
        .stderr
        .wait_for("catalog is back", Duration::from_secs(30))
        .unwrap();
    let new_pid: u32 = back
        .rsplit("pid ")
        .next()
        .and_then(|p| p.trim_end_matches(')').parse().ok())
        .unwrap();
    assert_ne!(new_pid, catalog);

    tracedojo_kit::telemetry::install_crypto_provider();
    let products: serde_json::Value = reqwest::get(format!("{}/api/products?limit=3", shop.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        products["products"].as_array().map(Vec::len),
        Some(3),
        "{products}"
    );

    assert!(shop.stop(), "up should exit 0 after SIGTERM");
    for (name, pid) in pids.iter().filter(|(n, _)| n != "catalog") {
        assert!(
            !alive(*pid),
            "{name} (pid {pid}) still runs after up stopped"
        );
    }
    assert!(!alive(new_pid), "the restarted catalog still runs");
}
