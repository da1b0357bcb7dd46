//! `up`'s view of the services' exports to the user's backend, summed over the services from
//! what each says in `GET /health`: one warning line when exports start failing (in the
//! words of `tracedojo doctor`), one when they work again, and the same figures handed to
//! the explorer, whose header shows them.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Mutex;

use serde_json::Value;
use tracedojo_explorer::{DestinationHealth, ExportHealth};

/// The backend's health as the services report it.
pub struct ExportWatch {
    /// For a person: the backend's URL and protocol, no credentials.
    destination: String,
    explorer: Option<ExportHealth>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Each service's last `telemetry` object from `/health`.
    by_service: BTreeMap<&'static str, Value>,
    /// The failure kind last warned about, while exports fail.
    warned: Option<String>,
}

impl ExportWatch {
    pub fn new(destination: String, explorer: Option<ExportHealth>) -> ExportWatch {
        ExportWatch {
            destination,
            explorer,
            state: Mutex::new(State::default()),
        }
    }

    /// Takes one service's `telemetry` object; says what changed for the backend as a whole.
    pub fn update(&self, service: &'static str, telemetry: &Value) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.by_service.insert(service, telemetry.clone());
        let health = summed(&self.destination, state.by_service.values());
        if let Some(explorer) = &self.explorer {
            explorer.set(vec![health.clone()]);
        }
        let line = match (&state.warned, health.failing) {
            (None, true) | (Some(_), true)
                if state.warned.as_deref() != health.last_failure_kind.as_deref() =>
            {
                state.warned = health.last_failure_kind.clone();
                Some(format!(
                    "warning: exports to the backend fail: {}; the shop keeps serving ({} spans lost so far; `tracedojo doctor` checks again)",
                    health.last_failure.as_deref().unwrap_or("no answer"),
                    health.spans_lost
                ))
            }
            (Some(_), false) => {
                state.warned = None;
                Some(format!(
                    "exports to the backend work again ({} spans lost meanwhile)",
                    health.spans_lost
                ))
            }
            _ => None,
        };
        if let Some(line) = line {
            // Not eprintln!: a closed terminal must not panic the supervisor.
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
    }
}

/// The services' figures added up; the newest failure speaks for them all.
fn summed<'a>(destination: &str, services: impl Iterator<Item = &'a Value>) -> DestinationHealth {
    let mut health = DestinationHealth {
        destination: destination.to_string(),
        spans_sent: 0,
        spans_lost: 0,
        failing: false,
        last_failure: None,
        last_failure_kind: None,
        last_failure_unix_ms: None,
    };
    let services: Vec<&Value> = services.collect();
    // A service that has sent nothing since the backend came back still says "failing": its
    // failure only counts while it is newer than the newest delivery of any service.
    let newest_delivery = services
        .iter()
        .filter_map(|t| t["last_delivery_unix_ms"].as_u64())
        .max();
    for telemetry in services {
        let count = |key: &str| telemetry[key].as_u64().unwrap_or(0);
        health.spans_sent += count("spans_exported");
        health.spans_lost += count("spans_failed") + count("spans_dropped");
        let failure = &telemetry["last_failure"];
        health.failing |= telemetry["failing"].as_bool().unwrap_or(false)
            && failure["at_unix_ms"].as_u64() >= newest_delivery;
        let at = failure["at_unix_ms"].as_u64();
        if at.is_some() && at > health.last_failure_unix_ms {
            health.last_failure_unix_ms = at;
            health.last_failure = failure["message"].as_str().map(str::to_string);
            health.last_failure_kind = failure["kind"].as_str().map(str::to_string);
        }
    }
    health
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_add_up_and_the_newest_failure_speaks() {
        let a = serde_json::json!({"spans_exported": 10, "spans_failed": 2, "spans_dropped": 1,
            "failing": false, "last_failure": {"kind": "timeout", "message": "timeout: ...", "at_unix_ms": 5}});
        let b = serde_json::json!({"spans_exported": 7, "spans_failed": 0, "failing": true,
            "last_failure": {"kind": "key rejected", "message": "key rejected (401): ...", "at_unix_ms": 9}});
        let health = summed("https://x/v1/traces", [&a, &b].into_iter());
        assert_eq!(health.spans_sent, 17);
        assert_eq!(health.spans_lost, 3);
        assert!(health.failing);
        assert_eq!(health.last_failure_kind.as_deref(), Some("key rejected"));
    }

    #[test]
    fn a_quiet_service_failing_from_before_the_recovery_does_not_keep_the_backend_red() {
        let quiet = serde_json::json!({"spans_exported": 3, "failing": true,
            "last_failure": {"kind": "timeout", "message": "timeout: ...", "at_unix_ms": 100}});
        let busy = serde_json::json!({"spans_exported": 50, "failing": false,
            "last_delivery_unix_ms": 200,
            "last_failure": {"kind": "timeout", "message": "timeout: ...", "at_unix_ms": 90}});
        assert!(!summed("x", [&quiet, &busy].into_iter()).failing);
        let still = serde_json::json!({"spans_exported": 3, "failing": true,
            "last_failure": {"kind": "payload too large", "message": "...", "at_unix_ms": 250}});
        assert!(summed("x", [&still, &busy].into_iter()).failing);
    }
}
