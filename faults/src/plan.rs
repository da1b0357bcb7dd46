//! The fault plan: every fault in force, with its id and expiry, under a version number that
//! grows with each change. [`FaultStore`] is the one source of truth the control API serves;
//! services follow it (see [`crate::follower`]).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::spec::{Fault, FaultSpec, FieldError, Targeting};

/// The most faults in force at once.
pub const MAX_FAULTS: usize = 64;

/// One fault in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActiveFault {
    pub id: u64,
    pub fault: Fault,
    pub target: Targeting,
    /// Milliseconds since the Unix epoch.
    pub set_at_ms: u64,
    /// When it ends by itself, by the control API's wall clock (milliseconds since the Unix
    /// epoch): for people to read. Nothing decides by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<u64>,
    /// How long it still had to run when the plan was served. Every reader ends the fault
    /// by this, on its own monotonic clock: a wall clock stepped forward or back (NTP, a
    /// service on a machine whose clock is off) neither ends a fault early nor keeps it for
    /// ever. (A machine that sleeps pauses that clock: the fault then lasts the sleep longer.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_ms: Option<u64>,
    /// Where this process's monotonic clock says the fault ends (see [`Plan::anchor`]).
    #[serde(skip)]
    pub ends: Option<Instant>,
}

impl ActiveFault {
    pub fn in_force(&self) -> bool {
        self.ends.is_none_or(|end| Instant::now() < end)
    }
}

/// Every fault in force, as services receive it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Drawn when the control API starts: a service that sees another epoch takes the plan
    /// whatever its version (a restarted API counts from 1 again).
    #[serde(default)]
    pub epoch: u64,
    /// Grows with every change; a service asks for the plan "after" the one it has.
    pub version: u64,
    /// When true, spans a fault touches carry `tracedojo.fault.kind` (for a facilitator's reveal).
    pub reveal: bool,
    pub faults: Vec<ActiveFault>,
}

impl Plan {
    /// How long until the next fault in force ends by itself: an expiry brings no new plan
    /// version, so whoever acts on the plan looks again then.
    pub fn next_expiry(&self) -> Option<Duration> {
        let now = Instant::now();
        self.faults
            .iter()
            .filter_map(|f| f.ends)
            .filter(|end| *end > now)
            .min()
            .map(|end| end - now + Duration::from_millis(1))
    }

    /// Gives each fault its end on this process's monotonic clock, from the time it had left
    /// when the plan was served. Call it on a plan just received.
    pub fn anchor(mut self) -> Plan {
        let now = Instant::now();
        let wall_now = now_ms();
        for fault in &mut self.faults {
            // A plan without the time left (from an older control API) falls back to the
            // wall clocks, rather than keeping the fault for ever.
            let left = fault
                .expires_in_ms
                .or_else(|| fault.expires_at_ms.map(|end| end.saturating_sub(wall_now)));
            fault.ends = left.map(|left| now + Duration::from_millis(left));
        }
        self
    }
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The plan, a way to wait for its next change, and which services have applied which
/// version of it.
pub struct FaultStore {
    plan: Mutex<(Plan, u64)>,
    changed: watch::Sender<u64>,
    /// Per following service: the plan version it runs and when it last asked.
    followers: Mutex<BTreeMap<String, (u64, Instant)>>,
    reported: watch::Sender<()>,
}

/// How long a service that stopped asking still counts as following.
const FOLLOWER_GONE_AFTER: Duration = Duration::from_secs(60);

impl FaultStore {
    pub fn new(reveal: bool) -> FaultStore {
        let plan = Plan {
            // Never 0, the epoch of a service that has no plan yet.
            epoch: rand::random::<u64>() | 1,
            version: 1,
            reveal,
            faults: Vec::new(),
        };
        FaultStore {
            plan: Mutex::new((plan, 1)),
            changed: watch::channel(1).0,
            followers: Mutex::new(BTreeMap::new()),
            reported: watch::channel(()).0,
        }
    }

    /// The plan now, without faults that have expired.
    pub fn plan(&self) -> Plan {
        let mut plan = self.lock().0.clone();
        plan.faults.retain(ActiveFault::in_force);
        let now = Instant::now();
        for fault in &mut plan.faults {
            fault.expires_in_ms = fault
                .ends
                .map(|end| end.saturating_duration_since(now).as_millis() as u64);
        }
        plan
    }

    /// Adds faults (all or none: each is checked first); their ids in order.
    pub fn set(&self, specs: Vec<FaultSpec>) -> Result<Vec<u64>, FieldError> {
        for (index, spec) in specs.iter().enumerate() {
            spec.validate().map_err(|e| {
                if specs.len() > 1 {
                    FieldError::new(format!("faults[{index}].{}", e.field), e.message)
                } else {
                    e
                }
            })?;
        }
        let now = now_ms();
        let started = Instant::now();
        let mut guard = self.lock();
        let (plan, next_id) = &mut *guard;
        plan.faults.retain(ActiveFault::in_force);
        if plan.faults.len() + specs.len() > MAX_FAULTS {
            return Err(FieldError::new(
                "fault",
                format!("at most {MAX_FAULTS} faults can be in force; clear some first"),
            ));
        }
        let mut ids = Vec::with_capacity(specs.len());
        for spec in specs {
            let id = *next_id;
            *next_id += 1;
            let expires_at_ms = spec.expires_in_s.map(|s| now + s * 1000);
            plan.faults.push(ActiveFault {
                id,
                fault: spec.fault,
                target: spec.target,
                set_at_ms: now,
                expires_at_ms,
                expires_in_ms: spec.expires_in_s.map(|s| s * 1000),
                ends: spec.expires_in_s.map(|s| started + Duration::from_secs(s)),
            });
            ids.push(id);
        }
        Self::bump(plan, &self.changed);
        Ok(ids)
    }

    /// Clears one fault; false when there is none with that id.
    pub fn clear(&self, id: u64) -> bool {
        let mut guard = self.lock();
        let plan = &mut guard.0;
        let before = plan.faults.len();
        plan.faults.retain(|f| f.id != id);
        let found = plan.faults.len() != before;
        if found {
            Self::bump(plan, &self.changed);
        }
        found
    }

    /// Clears every fault; how many there were.
    pub fn clear_all(&self) -> usize {
        let mut guard = self.lock();
        let plan = &mut guard.0;
        let count = plan.faults.len();
        plan.faults.clear();
        Self::bump(plan, &self.changed);
        count
    }

    /// The plan once its version is past `after`, or the current one after `wait`; at once
    /// when the asker's `epoch` is not this store's (it followed another control API).
    pub async fn plan_after(&self, after: u64, epoch: u64, wait: Duration) -> Plan {
        if epoch != self.lock().0.epoch {
            return self.plan();
        }
        let mut changes = self.changed.subscribe();
        let _ = tokio::time::timeout(wait, changes.wait_for(|version| *version > after)).await;
        self.plan()
    }

    /// Turns the reveal switch on or off (a new plan version, so services follow at once).
    pub fn set_reveal(&self, reveal: bool) {
        let mut guard = self.lock();
        let plan = &mut guard.0;
        plan.reveal = reveal;
        Self::bump(plan, &self.changed);
    }

    /// Wakes on every change of the plan.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Notes that `service` runs plan `version` (it asks for what comes after it). Only the
    /// shop's services count, and one that stopped asking is forgotten.
    pub fn report(&self, service: &str, version: u64) {
        if !crate::spec::SERVICES.contains(&service) {
            return;
        }
        let mut followers = self.followers.lock().unwrap_or_else(|p| p.into_inner());
        followers.retain(|_, (_, seen)| seen.elapsed() <= FOLLOWER_GONE_AFTER);
        followers.insert(service.to_string(), (version, Instant::now()));
        self.reported.send_replace(());
    }

    /// Waits up to `wait` until every following service runs `version` or a later one;
    /// the services that do and those that do not (yet).
    pub async fn wait_applied(&self, version: u64, wait: Duration) -> (Vec<String>, Vec<String>) {
        let mut reports = self.reported.subscribe();
        let split = || {
            let followers = self.followers.lock().unwrap_or_else(|p| p.into_inner());
            let mut applied = Vec::new();
            let mut pending = Vec::new();
            for (service, (has, seen)) in followers.iter() {
                if seen.elapsed() > FOLLOWER_GONE_AFTER {
                    continue;
                }
                if *has >= version {
                    applied.push(service.clone());
                } else {
                    pending.push(service.clone());
                }
            }
            (applied, pending)
        };
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let (applied, pending) = split();
            if pending.is_empty() {
                return (applied, pending);
            }
            let changed = tokio::time::timeout_at(deadline, reports.changed()).await;
            if !matches!(changed, Ok(Ok(()))) {
                return split();
            }
        }
    }

    fn bump(plan: &mut Plan, changed: &watch::Sender<u64>) {
        plan.version += 1;
        changed.send_replace(plan.version);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (Plan, u64)> {
        self.plan.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Fault;

    fn spec(expires_in_s: Option<u64>) -> FaultSpec {
        FaultSpec {
            fault: Fault::CacheFailure {
                service: "recommendation".into(),
            },
            target: Targeting::default(),
            expires_in_s,
        }
    }

    #[test]
    fn expired_faults_leave_the_plan_by_themselves() {
        let store = FaultStore::new(false);
        store.set(vec![spec(None), spec(Some(60))]).unwrap();
        let plan = store.plan();
        let ending = plan
            .faults
            .iter()
            .find(|f| f.expires_in_ms.is_some())
            .unwrap();
        let left = ending.expires_in_ms.unwrap();
        assert!(left > 59_000 && left <= 60_000, "{left} ms left");
        assert!(ending.in_force());
        let ended = ActiveFault {
            ends: Some(Instant::now()),
            ..ending.clone()
        };
        assert!(!ended.in_force());
        let until = plan.next_expiry().unwrap();
        assert!(until > Duration::from_secs(59) && until <= Duration::from_secs(61));
        assert!(
            plan.faults
                .iter()
                .any(|f| f.expires_in_ms.is_none() && f.in_force()),
            "no expiry: forever"
        );
    }

    /// A plan as a service receives it, from a control API whose wall clock says the fault
    /// ends at `expires_at_ms` and which had `expires_in_ms` left to run when it answered.
    fn received(expires_at_ms: u64, expires_in_ms: u64) -> Plan {
        let fault = serde_json::to_value(spec(None).fault).unwrap();
        let plan: Plan = serde_json::from_value(serde_json::json!({
            "epoch": 7,
            "version": 2,
            "reveal": false,
            "faults": [{
                "id": 1,
                "fault": fault,
                "target": {},
                "set_at_ms": 0,
                "expires_at_ms": expires_at_ms,
                "expires_in_ms": expires_in_ms,
            }],
        }))
        .unwrap();
        plan.anchor()
    }

    #[test]
    fn a_plan_without_the_time_left_falls_back_to_the_wall_clock() {
        let plan = |expires_at_ms: u64| -> Plan {
            let mut plan = received(expires_at_ms, 0);
            plan.faults[0].expires_in_ms = None;
            plan.anchor()
        };
        assert!(plan(now_ms() + 60_000).faults[0].in_force());
        assert!(!plan(now_ms().saturating_sub(1_000)).faults[0].in_force());
    }

    #[test]
    fn a_wall_clock_that_jumps_neither_ends_a_fault_early_nor_keeps_it() {
        let hour = 3_600_000;
        let now = now_ms();
        // This machine's clock jumped an hour ahead: by the wall clock the fault ended long
        // ago, yet it had a minute left when served, and it still has.
        let ahead = received(now - hour, 60_000);
        assert!(ahead.faults[0].in_force());
        assert!(ahead.next_expiry().unwrap() > Duration::from_secs(59));
        // An hour back: by the wall clock the fault has an hour to go, yet it was over.
        let behind = received(now + hour, 0);
        assert!(!behind.faults[0].in_force());
        assert_eq!(behind.next_expiry(), None);
    }

    #[test]
    fn a_bad_spec_among_several_sets_none_and_names_its_place() {
        let store = FaultStore::new(false);
        let mut bad = spec(None);
        bad.target.probability = 2.0;
        let error = store.set(vec![spec(None), bad]).unwrap_err();
        assert_eq!(error.field, "faults[1].target.probability");
        assert!(store.plan().faults.is_empty());
        assert!(!store.clear(99));
        assert_eq!(store.clear_all(), 0);
    }
}
