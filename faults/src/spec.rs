//! What a fault is: its kind and parameters ([`Fault`]), what it hits ([`Targeting`]) and
//! for how long ([`FaultSpec`]), as the control API receives them in JSON. Every value is
//! checked with [`FaultSpec::validate`], whose errors name the field.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::distribution::{Distribution, MAX_LATENCY_MS};

/// The services of the shop, which faults can name.
pub const SERVICES: [&str; 8] = [
    "frontend",
    "catalog",
    "cart",
    "checkout",
    "payment",
    "inventory",
    "recommendation",
    "shipping",
];

/// Baggage keys a fault can match on (the load generator and the shop page send them): the
/// shop's own under `tracedojo.`, and `user.id` from the OpenTelemetry registry.
pub const ATTRIBUTE_KEYS: [&str; 6] = [
    "tracedojo.user.tier",
    "tracedojo.user.region",
    "tracedojo.user.device",
    "tracedojo.user.locale",
    "tracedojo.user.company",
    "user.id",
];

/// Baggage keys the shop used before its attributes followed the semantic conventions, and
/// their names now: a spec written for the old ones is refused with the new name, rather
/// than set and matching nothing.
pub const RENAMED_KEYS: [(&str, &str); 6] = [
    ("user.tier", "tracedojo.user.tier"),
    ("user.region", "tracedojo.user.region"),
    ("user.device", "tracedojo.user.device"),
    ("user.locale", "tracedojo.user.locale"),
    ("user.company", "tracedojo.user.company"),
    ("synthetic", "user_agent.synthetic.type"),
];

/// Bounds that keep any fault from taking the machine down.
pub const MAX_CPU_BURN_MS: u64 = 1_000;
pub const MAX_LEAK_PER_REQUEST_KB: u64 = 1_024;
pub const MAX_LEAK_CAP_MB: u64 = 512;
pub const MAX_RETRIES: u32 = 5;
/// Below the database's 5 s busy timeout with room for a queue of waiters: longer holds would
/// turn waiting into "database is locked" errors.
pub const MAX_LOCK_HOLD_MS: u64 = 1_000;
pub const MAX_EXPIRY_S: u64 = 7 * 24 * 3600;

/// One fault to set: what it does, what it hits, and optionally when it ends by itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    pub fault: Fault,
    #[serde(default)]
    pub target: Targeting,
    /// Cleared by itself this many seconds after it is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_s: Option<u64>,
}

/// The catalogue: each kind causes the mechanism of a real incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// The service's handler takes longer (a slow dependency it does not trace, a GC pause).
    Latency {
        service: String,
        distribution: Distribution,
    },
    /// Calls from `service` to `peer` take longer on the way (a congested network path or
    /// proxy): the caller's CLIENT span grows, the peer's SERVER span does not.
    DownstreamLatency {
        service: String,
        peer: String,
        distribution: Distribution,
    },
    /// Queries on `table` (any table when absent) take longer while holding their connection.
    QueryLatency {
        service: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        table: Option<String>,
        distribution: Distribution,
    },
    /// The service fails requests with a 5xx and an exception; the rate is the targeting's
    /// probability.
    Errors {
        service: String,
        #[serde(default = "default_error_status")]
        status: u16,
        #[serde(default = "default_error_message")]
        message: String,
    },
    /// `service` gives up on `peer` after `timeout_ms` and tries again, up to `retries`
    /// times: with a slow peer, each retry adds load where it hurts (a retry storm).
    RetryStorm {
        service: String,
        peer: String,
        timeout_ms: u64,
        #[serde(default = "default_retries")]
        retries: u32,
    },
    /// The service stops listening: callers get "connection refused".
    Unreachable { service: String },
    /// The catalogue's search index is dropped, so the search query scans the table.
    MissingIndex { service: String },
    /// The service loads related rows one query at a time instead of in one query.
    NPlusOne { service: String },
    /// Reservations take the database's write lock and hold it for `hold_ms`, so concurrent
    /// ones wait their turn.
    LockContention { service: String, hold_ms: u64 },
    /// Each request spins the CPU for `ms` on the thread serving it.
    CpuBurn { service: String, ms: u64 },
    /// Each request keeps `kb_per_request` KiB until `cap_mb` MiB are held; released on clear.
    MemoryLeak {
        service: String,
        kb_per_request: u64,
        cap_mb: u64,
    },
    /// The service's cache misses every time: every call falls through to its source.
    CacheFailure { service: String },
    /// The service is redeployed as `version`, and only that version regresses: it adds
    /// `latency` and fails `error_rate` of its requests.
    BadRelease {
        service: String,
        version: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        latency: Option<Distribution>,
        #[serde(default)]
        error_rate: f64,
    },
    /// The shipping worker takes `ms_per_message` longer per order: the queue backs up.
    AsyncBacklog {
        service: String,
        ms_per_message: u64,
    },
}

fn default_error_status() -> u16 {
    500
}

fn default_error_message() -> String {
    "internal error".to_string()
}

fn default_retries() -> u32 {
    3
}

/// What a fault hits. Everything set must match; an empty targeting hits every request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Targeting {
    /// The share of matching requests hit, from 0 to 1.
    #[serde(default = "always")]
    pub probability: f64,
    /// Only requests to this route (`/api/checkout`, `/charge`): the service's route
    /// template, as its SERVER span names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// Only requests whose baggage carries these values (`tracedojo.user.tier` = `gold`); the keys
    /// are those of [`ATTRIBUTE_KEYS`].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// Only while the service runs this `service.version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

fn always() -> f64 {
    1.0
}

impl Default for Targeting {
    fn default() -> Self {
        Targeting {
            probability: 1.0,
            route: None,
            attributes: BTreeMap::new(),
            version: None,
        }
    }
}

/// A value that is out of range or unknown, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// The path of the field in the JSON request, e.g. `fault.distribution.median_ms`.
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl Fault {
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Latency { .. } => "latency",
            Fault::DownstreamLatency { .. } => "downstream_latency",
            Fault::QueryLatency { .. } => "query_latency",
            Fault::Errors { .. } => "errors",
            Fault::RetryStorm { .. } => "retry_storm",
            Fault::Unreachable { .. } => "unreachable",
            Fault::MissingIndex { .. } => "missing_index",
            Fault::NPlusOne { .. } => "n_plus_one",
            Fault::LockContention { .. } => "lock_contention",
            Fault::CpuBurn { .. } => "cpu_burn",
            Fault::MemoryLeak { .. } => "memory_leak",
            Fault::CacheFailure { .. } => "cache_failure",
            Fault::BadRelease { .. } => "bad_release",
            Fault::AsyncBacklog { .. } => "async_backlog",
        }
    }

    /// The service whose behaviour changes.
    pub fn service(&self) -> &str {
        match self {
            Fault::Latency { service, .. }
            | Fault::DownstreamLatency { service, .. }
            | Fault::QueryLatency { service, .. }
            | Fault::Errors { service, .. }
            | Fault::RetryStorm { service, .. }
            | Fault::Unreachable { service }
            | Fault::MissingIndex { service }
            | Fault::NPlusOne { service }
            | Fault::LockContention { service, .. }
            | Fault::CpuBurn { service, .. }
            | Fault::MemoryLeak { service, .. }
            | Fault::CacheFailure { service }
            | Fault::BadRelease { service, .. }
            | Fault::AsyncBacklog { service, .. } => service,
        }
    }

    /// Whether the kind changes the service as a whole (a closed port, a dropped index, a
    /// slower worker) rather than the requests it selects.
    fn service_wide(&self) -> bool {
        matches!(
            self,
            Fault::Unreachable { .. } | Fault::MissingIndex { .. } | Fault::AsyncBacklog { .. }
        )
    }

    /// The services a kind can apply to, when it is tied to one service's mechanism.
    fn only_on(&self) -> Option<&'static [&'static str]> {
        match self {
            Fault::MissingIndex { .. } | Fault::NPlusOne { .. } => Some(&["catalog"]),
            Fault::LockContention { .. } => Some(&["inventory"]),
            Fault::CacheFailure { .. } => Some(&["recommendation"]),
            Fault::AsyncBacklog { .. } => Some(&["shipping"]),
            _ => None,
        }
    }
}

impl FaultSpec {
    /// Checks every value; the error names the first field that is wrong and what it allows.
    pub fn validate(&self) -> Result<(), FieldError> {
        let fault = &self.fault;
        let service = fault.service();
        let allowed = fault.only_on().unwrap_or(&SERVICES);
        if !allowed.contains(&service) {
            return Err(FieldError::new(
                "fault.service",
                format!(
                    "{service:?} is not a service that {} faults apply to; choose one of: {}",
                    fault.kind(),
                    allowed.join(", ")
                ),
            ));
        }
        match fault {
            Fault::Latency { distribution, .. } | Fault::QueryLatency { distribution, .. } => {
                distribution.validate("fault.distribution")?
            }
            Fault::DownstreamLatency {
                peer, distribution, ..
            } => {
                known_peer(peer)?;
                distribution.validate("fault.distribution")?
            }
            Fault::Errors {
                status, message, ..
            } => {
                if !(500..=599).contains(status) {
                    return Err(FieldError::new(
                        "fault.status",
                        format!("must be a 5xx status from 500 to 599, not {status}"),
                    ));
                }
                bounded_text("fault.message", message, 200)?;
            }
            Fault::RetryStorm {
                peer,
                timeout_ms,
                retries,
                ..
            } => {
                known_peer(peer)?;
                in_range("fault.timeout_ms", *timeout_ms, 1, MAX_LATENCY_MS as u64)?;
                in_range(
                    "fault.retries",
                    u64::from(*retries),
                    1,
                    u64::from(MAX_RETRIES),
                )?;
            }
            Fault::LockContention { hold_ms, .. } => {
                in_range("fault.hold_ms", *hold_ms, 1, MAX_LOCK_HOLD_MS)?
            }
            Fault::CpuBurn { ms, .. } => in_range("fault.ms", *ms, 1, MAX_CPU_BURN_MS)?,
            Fault::MemoryLeak {
                kb_per_request,
                cap_mb,
                ..
            } => {
                in_range(
                    "fault.kb_per_request",
                    *kb_per_request,
                    1,
                    MAX_LEAK_PER_REQUEST_KB,
                )?;
                in_range("fault.cap_mb", *cap_mb, 1, MAX_LEAK_CAP_MB)?;
            }
            Fault::BadRelease {
                version,
                latency,
                error_rate,
                ..
            } => {
                bounded_text("fault.version", version, 40)?;
                if let Some(latency) = latency {
                    latency.validate("fault.latency")?;
                }
                probability("fault.error_rate", *error_rate)?;
                if latency.is_none() && *error_rate == 0.0 {
                    return Err(FieldError::new(
                        "fault.latency",
                        "a bad release needs a regression: give latency, error_rate or both",
                    ));
                }
            }
            Fault::AsyncBacklog { ms_per_message, .. } => {
                in_range("fault.ms_per_message", *ms_per_message, 1, 10_000)?
            }
            Fault::Unreachable { .. }
            | Fault::MissingIndex { .. }
            | Fault::NPlusOne { .. }
            | Fault::CacheFailure { .. } => {}
        }
        self.target.validate()?;
        if fault.service_wide() && self.target != Targeting::default() {
            return Err(FieldError::new(
                "target",
                format!(
                    "{} faults change the whole service, so they cannot be targeted; leave out `target`",
                    fault.kind()
                ),
            ));
        }
        if let Some(expiry) = self.expires_in_s {
            in_range("expires_in_s", expiry, 1, MAX_EXPIRY_S)?;
        }
        Ok(())
    }
}

impl Targeting {
    fn validate(&self) -> Result<(), FieldError> {
        probability("target.probability", self.probability)?;
        if let Some(route) = &self.route
            && !route.starts_with('/')
        {
            return Err(FieldError::new(
                "target.route",
                format!("{route:?} must be a route template starting with /, e.g. /api/checkout"),
            ));
        }
        for (key, value) in &self.attributes {
            if let Some((_, new)) = RENAMED_KEYS.iter().find(|(old, _)| old == key) {
                let advice = if ATTRIBUTE_KEYS.contains(new) {
                    "; use that"
                } else {
                    ", which faults cannot target"
                };
                return Err(FieldError::new(
                    "target.attributes",
                    format!(
                        "{key:?} was renamed {new:?}{advice} (attributes faults can target: {})",
                        ATTRIBUTE_KEYS.join(", ")
                    ),
                ));
            }
            if !ATTRIBUTE_KEYS.contains(&key.as_str()) {
                return Err(FieldError::new(
                    format!("target.attributes.{key}"),
                    format!(
                        "unknown attribute; choose from: {}",
                        ATTRIBUTE_KEYS.join(", ")
                    ),
                ));
            }
            bounded_text(&format!("target.attributes.{key}"), value, 100)?;
        }
        if let Some(version) = &self.version {
            bounded_text("target.version", version, 40)?;
        }
        Ok(())
    }

    /// Whether a request with these facts is among those targeted (before the probability).
    pub fn selects(&self, facts: &RequestFacts<'_>) -> bool {
        if let Some(route) = &self.route
            && facts.route != Some(route.as_str())
        {
            return false;
        }
        if let Some(version) = &self.version
            && version != facts.version
        {
            return false;
        }
        self.attributes
            .iter()
            .all(|(key, value)| (facts.attribute)(key).as_deref() == Some(value.as_str()))
    }
}

/// What a fault's targeting is matched against.
pub struct RequestFacts<'a> {
    /// The route template of the request being served, when known.
    pub route: Option<&'a str>,
    /// The `service.version` this process reports.
    pub version: &'a str,
    /// The value of a baggage entry of the request, by key (`tracedojo.user.tier`, `user.id`, ...):
    /// what [`Targeting::attributes`] are compared with.
    pub attribute: &'a dyn Fn(&str) -> Option<String>,
}

fn known_peer(peer: &str) -> Result<(), FieldError> {
    if SERVICES.contains(&peer) {
        Ok(())
    } else {
        Err(FieldError::new(
            "fault.peer",
            format!(
                "{peer:?} is not a service; choose one of: {}",
                SERVICES.join(", ")
            ),
        ))
    }
}

fn in_range(field: &str, value: u64, low: u64, high: u64) -> Result<(), FieldError> {
    if (low..=high).contains(&value) {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            format!("must be from {low} to {high}, not {value}"),
        ))
    }
}

fn probability(field: &str, value: f64) -> Result<(), FieldError> {
    if value.is_finite() && (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            format!("must be a probability from 0 to 1, not {value}"),
        ))
    }
}

fn bounded_text(field: &str, value: &str, max: usize) -> Result<(), FieldError> {
    if value.trim().is_empty() || value.len() > max || value.chars().any(char::is_control) {
        Err(FieldError::new(
            field,
            format!("must be 1 to {max} printable characters"),
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
