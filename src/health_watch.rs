//! `up`'s watch on what its services say in `GET /health`: one warning line when a service
//! becomes degraded (a database it cannot write because the disk is full, say), with the
//! service's own reason, and one line when it is well again. What each says of its exports
//! goes to [`crate::export_watch`]. A problem only the person at
//! the screen can fix must not hide in a JSON document nobody reads.

use std::io::Write;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;

/// How often each service is asked. A full disk is noticed within this, and asking costs
/// a service next to nothing (`/health` is untraced).
const EVERY: Duration = Duration::from_secs(2);

/// What stays the same while a problem lasts (its duration grows, it does not change).
fn problem_keys(health: &Value) -> Vec<String> {
    health["storage"]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|p| format!("{}:{}", p["database"], p["kind"]))
                .collect()
        })
        .unwrap_or_default()
}

/// Watches `health_url` until `stop` turns true, printing a line on each change.
pub async fn watch(
    name: &'static str,
    health_url: String,
    exports: Option<std::sync::Arc<crate::export_watch::ExportWatch>>,
    mut stop: watch::Receiver<bool>,
) {
    let Ok(client) = reqwest::Client::builder().timeout(EVERY).build() else {
        return;
    };
    let mut reported: Vec<String> = Vec::new();
    let mut ticks = tokio::time::interval(EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    return;
                }
            }
        }
        // A service that does not answer is the supervisor's business (it restarts it).
        let Ok(response) = client.get(&health_url).send().await else {
            continue;
        };
        let Ok(health) = response.json::<Value>().await else {
            continue;
        };
        if let Some(exports) = &exports
            && health["telemetry"].is_object()
        {
            exports.update(name, &health["telemetry"]);
        }
        let keys = problem_keys(&health);
        if keys == reported {
            continue;
        }
        if keys.is_empty() {
            // Not eprintln!: a closed terminal must not panic the supervisor.
            let _ = writeln!(
                std::io::stderr().lock(),
                "{name}: healthy again (its databases take writes)"
            );
        } else {
            for reason in health["reasons"].as_array().into_iter().flatten() {
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "warning: {name} is degraded: {}",
                    reason.as_str().unwrap_or_default()
                );
            }
        }
        reported = keys;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_is_the_same_while_only_its_duration_grows() {
        let at = |seconds: u64| {
            serde_json::json!({"storage": [
                {"database": "checkout", "kind": "disk_full", "for_seconds": seconds}
            ]})
        };
        assert_eq!(problem_keys(&at(1)), problem_keys(&at(9)));
        assert!(problem_keys(&serde_json::json!({"status": "ok", "storage": []})).is_empty());
    }
}
