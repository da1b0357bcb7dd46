//! The service side: the plan as this process last received it, kept current by following
//! the control API, and the questions the kit's hooks ask of it ("should this request be
//! slowed? failed?"). A process without a control URL has an empty plan and every answer
//! is "no".

use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use tokio::sync::watch;

use crate::plan::{ActiveFault, Plan};
use crate::spec::{Fault, RequestFacts};

static INSTALLED: OnceLock<Arc<Faults>> = OnceLock::new();

/// What a memory leak grows by at most per allocation.
const LEAK_CHUNK: usize = 1 << 20;

/// Makes `faults` the one this process's hooks consult (the first call wins).
pub fn install(faults: Arc<Faults>) {
    let _ = INSTALLED.set(faults);
}

/// The faults this process follows, if any were installed.
pub fn installed() -> Option<&'static Arc<Faults>> {
    INSTALLED.get()
}

/// What a request being served should suffer.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RequestEffects {
    pub delay: Duration,
    pub cpu_burn: Duration,
    pub leak_kb: u64,
    /// Fail with this status and exception message.
    pub error: Option<(u16, String)>,
    /// The kinds that hit it, for the reveal switch.
    pub kinds: Vec<&'static str>,
}

/// What a call to another service should suffer.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CallEffects {
    pub delay: Duration,
    /// Give up after this long, and try again up to `retries` times.
    pub timeout: Option<Duration>,
    pub retries: u32,
    pub kinds: Vec<&'static str>,
}

/// One process's view of the plan.
pub struct Faults {
    service: String,
    version: String,
    plan: RwLock<Arc<Plan>>,
    /// What a memory leak holds; emptied when no leak is in force.
    leaked: Mutex<Vec<Vec<u8>>>,
    /// The version of the plan in force, for services that react to a change.
    changes: watch::Sender<u64>,
}

impl Faults {
    pub fn new(service: impl Into<String>, version: impl Into<String>) -> Arc<Faults> {
        Arc::new(Faults {
            service: service.into(),
            version: version.into(),
            plan: RwLock::new(Arc::new(Plan::default())),
            leaked: Mutex::new(Vec::new()),
            changes: watch::channel(0).0,
        })
    }

    /// Wakes on every new plan: for a service that changes how it works while a fault is in
    /// force (drops an index, closes its listener) and changes back when it is cleared.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Waits, at most `limit`, until the first plan has come from the control API: a
    /// service started while a fault is in force (a bad release redeployed) must not serve
    /// its first requests as if there were none. False when none came in time; the service
    /// then starts without one and takes the plan as soon as the API answers.
    pub async fn first_plan(&self, limit: Duration) -> bool {
        let mut changes = self.subscribe();
        matches!(
            tokio::time::timeout(limit, changes.wait_for(|version| *version > 0)).await,
            Ok(Ok(_))
        )
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn plan(&self) -> Arc<Plan> {
        self.plan.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Waits for the next new plan on `changes` (from [`Faults::subscribe`]) or for a fault in
    /// force to expire, whichever comes first; false once no plan can come any more.
    pub async fn next_change(&self, changes: &mut watch::Receiver<u64>) -> bool {
        match self.plan().next_expiry() {
            None => changes.changed().await.is_ok(),
            Some(until) => {
                tokio::select! {
                    changed = changes.changed() => changed.is_ok(),
                    _ = tokio::time::sleep(until) => true,
                }
            }
        }
    }

    /// Whether spans a fault touches should say so.
    pub fn reveal(&self) -> bool {
        self.plan().reveal
    }

    /// Takes a new plan; a leak no longer in force gives its memory back.
    pub fn replace_plan(&self, plan: Plan) {
        let version = plan.version;
        *self.plan.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(plan);
        self.changes.send_replace(version);
        if self.memory_leak().is_none() {
            self.release_leak();
        }
    }

    /// The faults in force on this service that select a request with `facts`, each after
    /// its probability draw.
    fn hitting(&self, facts: &RequestFacts<'_>) -> Vec<ActiveFault> {
        let plan = self.plan();
        plan.faults
            .iter()
            .filter(|f| f.fault.service() == self.service && f.in_force())
            .filter(|f| f.target.selects(facts))
            .filter(|f| f.target.probability >= 1.0 || rand::random::<f64>() < f.target.probability)
            .cloned()
            .collect()
    }

    /// Effects on a request this service is serving.
    pub fn on_request(&self, facts: &RequestFacts<'_>) -> RequestEffects {
        let mut effects = RequestEffects::default();
        for active in self.hitting(facts) {
            match &active.fault {
                Fault::Latency { distribution, .. } => {
                    effects.delay += distribution.sample(&mut rand::rng());
                }
                Fault::Errors {
                    status, message, ..
                } => effects.error = Some((*status, message.clone())),
                Fault::CpuBurn { ms, .. } => effects.cpu_burn += Duration::from_millis(*ms),
                Fault::MemoryLeak { kb_per_request, .. } => effects.leak_kb += kb_per_request,
                Fault::BadRelease {
                    version,
                    latency,
                    error_rate,
                    ..
                } if *version == self.version => {
                    if let Some(latency) = latency {
                        effects.delay += latency.sample(&mut rand::rng());
                    }
                    if rand::random::<f64>() < *error_rate {
                        effects.error = Some((500, "internal error".to_string()));
                    }
                }
                _ => continue,
            }
            effects.kinds.push(active.fault.kind());
        }
        effects
    }

    /// Effects on a call from this service to `peer`.
    pub fn on_call(&self, peer: &str, facts: &RequestFacts<'_>) -> CallEffects {
        let mut effects = CallEffects::default();
        for active in self.hitting(facts) {
            match &active.fault {
                Fault::DownstreamLatency {
                    peer: to,
                    distribution,
                    ..
                } if to == peer => effects.delay += distribution.sample(&mut rand::rng()),
                Fault::RetryStorm {
                    peer: to,
                    timeout_ms,
                    retries,
                    ..
                } if to == peer => {
                    effects.timeout = Some(Duration::from_millis(*timeout_ms));
                    effects.retries = *retries;
                }
                _ => continue,
            }
            effects.kinds.push(active.fault.kind());
        }
        effects
    }

    /// Extra time a query on `table` should take, and the kind that adds it.
    pub fn on_query(
        &self,
        table: &str,
        facts: &RequestFacts<'_>,
    ) -> Option<(Duration, &'static str)> {
        let mut delay = None;
        for active in self.hitting(facts) {
            if let Fault::QueryLatency {
                table: only,
                distribution,
                ..
            } = &active.fault
                && only.as_deref().is_none_or(|t| t == table)
            {
                let extra = distribution.sample(&mut rand::rng());
                delay = Some((
                    delay.map_or(Duration::ZERO, |(d, _)| d) + extra,
                    "query_latency",
                ));
            }
        }
        delay
    }

    /// The first fault hitting a request with `facts` (targeting and probability applied)
    /// for which `pick` gives a value: for kinds that change how the service handles one
    /// request (its queries, its lock, its cache).
    pub fn request_fault<T>(
        &self,
        facts: &RequestFacts<'_>,
        pick: impl Fn(&Fault) -> Option<T>,
    ) -> Option<T> {
        self.hitting(facts).iter().find_map(|f| pick(&f.fault))
    }

    /// The first fault in force on this service for which `pick` gives a value, regardless
    /// of targeting: for faults that change how the service itself works (an index dropped,
    /// a listener closed) rather than one request.
    pub fn service_fault<T>(&self, pick: impl Fn(&Fault) -> Option<T>) -> Option<T> {
        let plan = self.plan();
        plan.faults
            .iter()
            .filter(|f| f.fault.service() == self.service && f.in_force())
            .find_map(|f| pick(&f.fault))
    }

    /// The leak in force on this service: its cap in bytes.
    fn memory_leak(&self) -> Option<usize> {
        self.service_fault(|f| match f {
            Fault::MemoryLeak { cap_mb, .. } => Some((*cap_mb as usize) << 20),
            _ => None,
        })
    }

    /// Keeps `kb` KiB more (written to, so it is really resident) until the cap is reached.
    pub fn leak(&self, kb: u64) {
        let Some(cap) = self.memory_leak() else {
            // Ended (perhaps by expiry) since this request was hit.
            self.release_leak();
            return;
        };
        let mut leaked = self.leaked.lock().unwrap_or_else(|p| p.into_inner());
        let held: usize = leaked.iter().map(Vec::len).sum();
        let mut more = ((kb as usize) << 10).min(cap.saturating_sub(held));
        while more > 0 {
            // Kept in 1 MiB chunks: blocks that large are mapped on their own, so clearing
            // the leak gives the memory back to the system, not just to the allocator.
            if leaked.last().is_none_or(|chunk| chunk.len() == LEAK_CHUNK) {
                leaked.push(Vec::with_capacity(LEAK_CHUNK));
            }
            let Some(chunk) = leaked.last_mut() else {
                return;
            };
            let step = more.min(LEAK_CHUNK - chunk.len());
            // A non-zero byte: untouched or zeroed pages might not count as resident.
            chunk.resize(chunk.len() + step, 0xA5);
            more -= step;
        }
    }

    /// Bytes a leak holds now.
    pub fn leaked_bytes(&self) -> usize {
        let leaked = self.leaked.lock().unwrap_or_else(|p| p.into_inner());
        leaked.iter().map(Vec::len).sum()
    }

    /// Follows the control API at `control_url` until the process ends: asks for a plan
    /// newer than the one it has (the API answers at once on a change), and keeps the last
    /// plan through network trouble, retrying every second.
    ///
    /// It runs on a thread of its own, so a service whose workers are all busy (a CPU burn
    /// under load) still hears about a clear at once.
    pub fn follow(self: &Arc<Self>, control_url: String, token: Option<String>) {
        let faults = self.clone();
        let spawned = std::thread::Builder::new()
            .name("fault-plan".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                match runtime {
                    Ok(runtime) => runtime.block_on(async move {
                        tokio::spawn(faults.clone().release_leak_on_expiry());
                        faults.follow_here(control_url, token).await;
                    }),
                    Err(err) => tracing::warn!("cannot follow the control API: {err}"),
                }
            });
        if let Err(err) = spawned {
            tracing::warn!("cannot follow the control API: {err}");
        }
    }

    async fn follow_here(&self, control_url: String, token: Option<String>) {
        let client = match reqwest::Client::builder()
            .timeout(crate::api::LONG_POLL + Duration::from_secs(10))
            .build()
        {
            Ok(client) => client,
            Err(err) => {
                tracing::warn!("cannot follow the control API: {err}");
                return;
            }
        };
        let url = format!("{}/api/faults/plan", control_url.trim_end_matches('/'));
        let mut warned = false;
        loop {
            let current = self.plan();
            let (after, epoch, service) = (current.version, current.epoch, &self.service);
            let mut request = client.get(format!(
                "{url}?after={after}&epoch={epoch}&service={service}"
            ));
            if let Some(token) = &token {
                request = request.bearer_auth(token);
            }
            let answer = match request.send().await {
                Ok(response) if response.status().is_success() => {
                    response.json::<Plan>().await.map_err(|e| e.to_string())
                }
                Ok(response) => Err(format!("it answered {}", response.status())),
                Err(err) => Err(err.to_string()),
            };
            match answer {
                Ok(plan) => {
                    warned = false;
                    // A restarted control API starts a new epoch, its versions from 1 again.
                    if plan.version != after || plan.epoch != epoch {
                        self.replace_plan(plan.anchor());
                    }
                }
                Err(err) => {
                    // Worded for a log that anyone may read: it names no incident.
                    if !warned {
                        tracing::warn!(
                            "cannot reach the control API at {control_url} ({err}); keeping the last plan and retrying every second"
                        );
                        warned = true;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Gives a leak's memory back when it ends by expiry, which brings no new plan.
    async fn release_leak_on_expiry(self: Arc<Self>) {
        let mut changes = self.subscribe();
        while self.next_change(&mut changes).await {
            if self.memory_leak().is_none() {
                self.release_leak();
            }
        }
    }

    fn release_leak(&self) {
        let freed = std::mem::take(&mut *self.leaked.lock().unwrap_or_else(|p| p.into_inner()));
        drop(freed);
    }
}

#[cfg(test)]
mod tests;
