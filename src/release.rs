//! Bad releases, as `tracedojo up` stages them: while a `bad_release` fault is in force for a
//! service, `up` redeploys that service under the fault's version (a restart with a new
//! `service.version`), and the service's own fault hooks make only that version regress.
//! When the fault ends, the service is redeployed under its normal version.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracedojo_faults::{Fault, FaultStore};

/// The version each service should run: `None` for its normal one.
pub struct Releases {
    wanted: HashMap<&'static str, watch::Sender<Option<String>>>,
}

impl Releases {
    pub fn new(services: &[&'static str]) -> Releases {
        Releases {
            wanted: services
                .iter()
                .map(|name| (*name, watch::channel(None).0))
                .collect(),
        }
    }

    /// What the supervisor of `service` watches.
    pub fn watch(&self, service: &str) -> watch::Receiver<Option<String>> {
        match self.wanted.get(service) {
            Some(sender) => sender.subscribe(),
            // Not a service `up` runs: its version never changes.
            None => watch::channel(None).1,
        }
    }

    /// Follows the fault plan until the process ends, telling supervisors which version to run.
    pub fn follow(self, store: Arc<FaultStore>) {
        tokio::spawn(async move {
            let mut changes = store.subscribe();
            loop {
                let plan = store.plan();
                for (service, sender) in &self.wanted {
                    let version = plan.faults.iter().find_map(|f| match &f.fault {
                        Fault::BadRelease {
                            service: target,
                            version,
                            ..
                        } if target == service => Some(version.clone()),
                        _ => None,
                    });
                    sender.send_if_modified(|current| {
                        let changed = *current != version;
                        *current = version.clone();
                        changed
                    });
                }
                // Wake on a change, or when the next fault expires.
                let next_expiry = plan.next_expiry().unwrap_or(Duration::from_secs(3600));
                tokio::select! {
                    changed = changes.changed() => if changed.is_err() { return },
                    _ = tokio::time::sleep(next_expiry) => {}
                }
            }
        });
    }
}

/// Sets or removes the version override in a child's environment.
pub fn set_version(env: &mut Vec<(String, String)>, version: Option<&str>) {
    env.retain(|(key, _)| key != "TRACEDOJO_SERVICE_VERSION");
    if let Some(version) = version {
        env.push(("TRACEDOJO_SERVICE_VERSION".into(), version.to_string()));
    }
}
