//! The resource: what names this process in every span, metric and log it sends
//! (`service.name`, `service.namespace`, `service.instance.id`, `host.name` ...).
//!
//! `service.namespace` is, first to last: `tracedojo`; then `service.namespace` in
//! `OTEL_RESOURCE_ATTRIBUTES`; then the participant's name in `TRACEDOJO_PARTICIPANT` (what
//! `up --participant` sets). The participant wins because it is the more specific choice: a
//! shared shell profile or workshop handout may set `OTEL_RESOURCE_ATTRIBUTES` for everyone,
//! while `--participant` is what this person typed for this run (`up` says when both differ).

use std::io::Write;

use opentelemetry::KeyValue;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::resource::{EnvResourceDetector, TelemetryResourceDetector};

use crate::{otel_env, participant};

/// `service.namespace` when nothing sets one.
pub const DEFAULT_NAMESPACE: &str = "tracedojo";

/// `OTEL_SERVICE_NAME`, then `service.name` in `OTEL_RESOURCE_ATTRIBUTES`, then the default.
pub(crate) fn resolve_service_name(default: &str) -> String {
    std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .or_else(|| otel_env::resource_attribute("service.name"))
        .unwrap_or_else(|| default.to_string())
}

/// A random identifier in UUID v4 form, unique to this process start.
pub(crate) fn new_instance_id() -> String {
    let bytes: [u8; 16] = rand::random();
    let hex: String = bytes
        .iter()
        .enumerate()
        .map(|(i, b)| match i {
            6 => format!("{:02x}", (b & 0x0f) | 0x40),
            8 => format!("{:02x}", (b & 0x3f) | 0x80),
            _ => format!("{b:02x}"),
        })
        .collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The participant whose name becomes `service.namespace`, if any. `Telemetry::init` has
/// already refused a name that is not allowed; should one reach here another way, it is left
/// out with one line on stderr rather than stopping a running process.
fn participant_namespace() -> Option<String> {
    match participant::from_env() {
        Ok(participant) => participant.map(|p| p.to_string()),
        Err(err) => {
            let _ = writeln!(
                std::io::stderr().lock(),
                "warning: {}: {err}; service.namespace is left as it was",
                participant::ENV
            );
            None
        }
    }
}

pub(crate) fn build_resource(service_name: &str, version: &str, instance_id: &str) -> Resource {
    // Defaults first; OTEL_RESOURCE_ATTRIBUTES (the Env detector) overrides them, and the
    // participant's name overrides that (see the module's comment).
    let builder = Resource::builder_empty()
        .with_attributes([
            KeyValue::new("service.namespace", DEFAULT_NAMESPACE),
            KeyValue::new("service.version", version.to_string()),
            KeyValue::new("deployment.environment.name", "demo"),
            KeyValue::new("host.name", host_name()),
            KeyValue::new("process.pid", i64::from(std::process::id())),
        ])
        .with_detectors(&[
            Box::new(TelemetryResourceDetector),
            Box::new(EnvResourceDetector::new()),
        ]);
    let builder = match participant_namespace() {
        Some(name) => builder.with_attribute(KeyValue::new("service.namespace", name)),
        None => builder,
    };
    builder
        .with_attribute(KeyValue::new(
            "service.instance.id",
            instance_id.to_string(),
        ))
        .with_service_name(service_name.to_string())
        .build()
}

/// The machine's name, as `host.name` wants it.
pub fn host_name() -> String {
    #[cfg(unix)]
    {
        let mut buf = [0u8; 256];
        // SAFETY: the buffer is valid for its whole length and gethostname writes at most that.
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        if rc == 0 {
            let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
            if let Ok(name) = std::str::from_utf8(&buf[..end]) {
                return name.to_string();
            }
        }
    }
    std::env::var("COMPUTERNAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "localhost".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_ids_look_like_uuids_and_differ() {
        let a = new_instance_id();
        let b = new_instance_id();
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert_ne!(a, b);
    }
}
