//! The standard `OTEL_*` environment variables, checked before anything is exported.
//!
//! The OpenTelemetry SDK reads most of these itself, but it quietly skips a value it cannot
//! parse. A workshop participant who mistypes an API key header then sees nothing and learns
//! nothing, so every variable we rely on is validated here first and a bad one becomes a
//! one-line error naming the variable and the fix. Values of header variables are secrets:
//! they never appear in an error or a log line.

use std::env;
use std::fmt;

/// The three kinds of telemetry, each with its own `OTEL_EXPORTER_OTLP_<SIGNAL>_*` variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Traces,
    Metrics,
    Logs,
}

impl Signal {
    fn upper(self) -> &'static str {
        match self {
            Signal::Traces => "TRACES",
            Signal::Metrics => "METRICS",
            Signal::Logs => "LOGS",
        }
    }

    fn lower(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
            Signal::Logs => "logs",
        }
    }
}

/// OTLP transport, as named by `OTEL_EXPORTER_OTLP_PROTOCOL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Grpc,
    HttpProtobuf,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::HttpProtobuf => "http/protobuf",
        }
    }
}

/// A variable whose value cannot be used, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvError {
    pub variable: String,
    pub problem: String,
    pub fix: String,
}

impl fmt::Display for EnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}; {}", self.variable, self.problem, self.fix)
    }
}

impl std::error::Error for EnvError {}

fn var(name: &str) -> Option<String> {
    env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// `OTEL_SDK_DISABLED=true` turns every signal off (the shop still serves).
pub fn sdk_disabled() -> Result<bool, EnvError> {
    match var("OTEL_SDK_DISABLED").map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(false),
        Some(v) if v == "true" => Ok(true),
        Some(v) if v == "false" => Ok(false),
        Some(_) => Err(EnvError {
            variable: "OTEL_SDK_DISABLED".into(),
            problem: "expected true or false".into(),
            fix: "set OTEL_SDK_DISABLED=true to turn telemetry off, or unset it".into(),
        }),
    }
}

/// `OTEL_TRACES_EXPORTER` / `OTEL_METRICS_EXPORTER` / `OTEL_LOGS_EXPORTER`: `otlp` or `none`.
pub fn exporter_enabled(signal: Signal) -> Result<bool, EnvError> {
    let name = format!("OTEL_{}_EXPORTER", signal.upper());
    match var(&name).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(true),
        Some(v) if v == "otlp" => Ok(true),
        Some(v) if v == "none" => Ok(false),
        Some(v) => Err(EnvError {
            variable: name.clone(),
            problem: format!("exporter \"{v}\" is not supported"),
            fix: format!("use {name}=otlp (the default) or {name}=none"),
        }),
    }
}

/// The transport for one signal: its own variable first, then the general one, then
/// `http/protobuf` (the specification's default).
pub fn protocol(signal: Signal) -> Result<Protocol, EnvError> {
    let specific = format!("OTEL_EXPORTER_OTLP_{}_PROTOCOL", signal.upper());
    let (name, value) = match var(&specific) {
        Some(v) => (specific, v),
        None => match var("OTEL_EXPORTER_OTLP_PROTOCOL") {
            Some(v) => ("OTEL_EXPORTER_OTLP_PROTOCOL".to_string(), v),
            None => return Ok(Protocol::HttpProtobuf),
        },
    };
    match value.trim() {
        "grpc" => Ok(Protocol::Grpc),
        "http/protobuf" => Ok(Protocol::HttpProtobuf),
        "http/json" => Err(EnvError {
            variable: name,
            problem: "http/json is not supported by tracedojo".into(),
            fix: "use http/protobuf (port 4318) or grpc (port 4317)".into(),
        }),
        other => Err(EnvError {
            variable: name,
            problem: format!("unknown protocol \"{other}\""),
            fix: "allowed values are grpc and http/protobuf".into(),
        }),
    }
}

/// Checks `key=value,key2=value2` header lists without ever echoing a value.
pub fn validate_headers() -> Result<(), EnvError> {
    let names = [
        "OTEL_EXPORTER_OTLP_HEADERS".to_string(),
        format!("OTEL_EXPORTER_OTLP_{}_HEADERS", Signal::Traces.upper()),
        format!("OTEL_EXPORTER_OTLP_{}_HEADERS", Signal::Metrics.upper()),
        format!("OTEL_EXPORTER_OTLP_{}_HEADERS", Signal::Logs.upper()),
    ];
    for name in names {
        if let Some(value) = var(&name) {
            check_header_list(&value).map_err(|problem| EnvError {
                variable: name.clone(),
                problem,
                fix: "write comma-separated key=value pairs, e.g. api-key=YOUR_KEY,team=blue"
                    .into(),
            })?;
        }
    }
    Ok(())
}

fn check_header_list(value: &str) -> Result<(), String> {
    for (index, entry) in value.split(',').enumerate() {
        let position = index + 1;
        let entry = entry.trim();
        if entry.is_empty() {
            return Err(format!("entry {position} is empty"));
        }
        let Some((key, val)) = entry.split_once('=') else {
            return Err(format!(
                "entry {position} has no '=' between name and value"
            ));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(format!("entry {position} has an empty header name"));
        }
        if !key.bytes().all(is_header_name_byte) {
            return Err(format!(
                "entry {position} has a header name with characters not allowed in HTTP headers"
            ));
        }
        if val.trim().is_empty() {
            return Err(format!("header \"{key}\" has an empty value"));
        }
    }
    Ok(())
}

fn is_header_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// `OTEL_RESOURCE_ATTRIBUTES` must be `key=value` pairs; the SDK would drop a bad entry silently.
pub fn validate_resource_attributes() -> Result<(), EnvError> {
    let Some(value) = var("OTEL_RESOURCE_ATTRIBUTES") else {
        return Ok(());
    };
    for (index, entry) in value.split(',').enumerate() {
        let ok = entry
            .split_once('=')
            .is_some_and(|(k, _)| !k.trim().is_empty());
        if !ok {
            return Err(EnvError {
                variable: "OTEL_RESOURCE_ATTRIBUTES".into(),
                problem: format!("entry {} is not key=value", index + 1),
                fix: "write comma-separated pairs, e.g. service.namespace=team-a,deployment.environment.name=workshop".into(),
            });
        }
    }
    Ok(())
}

/// One value of `OTEL_RESOURCE_ATTRIBUTES`, if it is set there.
pub fn resource_attribute(key: &str) -> Option<String> {
    let value = var("OTEL_RESOURCE_ATTRIBUTES")?;
    value.split(',').find_map(|entry| {
        let (k, v) = entry.split_once('=')?;
        (k.trim() == key).then(|| v.trim().to_string())
    })
}

/// The sampler named by `OTEL_TRACES_SAMPLER`, checked so a typo is not silently "always on".
pub fn validate_sampler() -> Result<(), EnvError> {
    const ALLOWED: [&str; 6] = [
        "always_on",
        "always_off",
        "traceidratio",
        "parentbased_always_on",
        "parentbased_always_off",
        "parentbased_traceidratio",
    ];
    let Some(sampler) = var("OTEL_TRACES_SAMPLER") else {
        return Ok(());
    };
    let sampler = sampler.trim();
    if !ALLOWED.contains(&sampler) {
        return Err(EnvError {
            variable: "OTEL_TRACES_SAMPLER".into(),
            problem: format!("unknown sampler \"{sampler}\""),
            fix: format!("allowed values are {}", ALLOWED.join(", ")),
        });
    }
    if sampler.ends_with("traceidratio") {
        let ratio = var("OTEL_TRACES_SAMPLER_ARG").and_then(|a| a.trim().parse::<f64>().ok());
        if !ratio.is_some_and(|r| (0.0..=1.0).contains(&r)) {
            return Err(EnvError {
                variable: "OTEL_TRACES_SAMPLER_ARG".into(),
                problem: format!("{sampler} needs a ratio between 0 and 1"),
                fix: "set e.g. OTEL_TRACES_SAMPLER_ARG=0.25 to keep a quarter of the traces".into(),
            });
        }
    }
    Ok(())
}

/// `OTEL_PROPAGATORS`: which of W3C trace context and baggage to use.
pub fn propagators() -> Result<(bool, bool), EnvError> {
    let Some(value) = var("OTEL_PROPAGATORS") else {
        return Ok((true, true));
    };
    let (mut trace_context, mut baggage) = (false, false);
    for name in value.split(',').map(str::trim) {
        match name {
            "tracecontext" => trace_context = true,
            "baggage" => baggage = true,
            "none" => {}
            other => {
                return Err(EnvError {
                    variable: "OTEL_PROPAGATORS".into(),
                    problem: format!("propagator \"{other}\" is not supported"),
                    fix: "use tracecontext,baggage (the default)".into(),
                });
            }
        }
    }
    Ok((trace_context, baggage))
}

/// Where one signal's OTLP export goes, resolved the way the SDK resolves it.
pub fn endpoint(signal: Signal, protocol: Protocol) -> Result<String, EnvError> {
    let specific = format!("OTEL_EXPORTER_OTLP_{}_ENDPOINT", signal.upper());
    let (name, url, append_path) = match var(&specific) {
        Some(url) => (specific, url, false),
        None => match var("OTEL_EXPORTER_OTLP_ENDPOINT") {
            Some(url) => ("OTEL_EXPORTER_OTLP_ENDPOINT".to_string(), url, true),
            None => {
                return Ok(match protocol {
                    Protocol::Grpc => "http://localhost:4317".to_string(),
                    Protocol::HttpProtobuf => {
                        format!("http://localhost:4318/v1/{}", signal.lower())
                    }
                });
            }
        },
    };
    let url = url.trim().to_string();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(EnvError {
            variable: name,
            problem: "the endpoint must start with http:// or https://".into(),
            fix: "e.g. http://localhost:4318 for http/protobuf or http://localhost:4317 for grpc"
                .into(),
        });
    }
    Ok(match (protocol, append_path) {
        (Protocol::HttpProtobuf, true) => {
            format!("{}/v1/{}", url.trim_end_matches('/'), signal.lower())
        }
        _ => url,
    })
}

/// Whether the user chose a backend (if not, traces go to the local default endpoint).
pub fn endpoint_configured() -> bool {
    var("OTEL_EXPORTER_OTLP_ENDPOINT").is_some()
        || var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some()
}

/// `TRACEDOJO_EXPLORER_ENDPOINT`: the base URL of a tracedojo explorer (OTLP/HTTP) that gets
/// a copy of every span, next to the backend the `OTEL_*` variables name. `tracedojo up` sets
/// it when the user has a backend of their own, so traces reach both. Returns the URL spans
/// are posted to (`BASE/v1/traces`), or `None` when unset.
///
/// Not part of [`validate_all`]: `up` replaces whatever the user's shell holds, so a stray
/// value there must not stop `up`; a service checks it when it starts.
pub fn explorer_traces_endpoint() -> Result<Option<String>, EnvError> {
    let Some(url) = var(EXPLORER_ENDPOINT) else {
        return Ok(None);
    };
    let url = url.trim();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(EnvError {
            variable: EXPLORER_ENDPOINT.into(),
            problem: "the explorer's endpoint must start with http:// or https://".into(),
            fix: "give the explorer's OTLP/HTTP base URL, e.g. http://127.0.0.1:4318, or unset it"
                .into(),
        });
    }
    Ok(Some(format!("{}/v1/traces", url.trim_end_matches('/'))))
}

/// The variable naming the explorer that gets a copy of the spans (see
/// [`explorer_traces_endpoint`]).
pub const EXPLORER_ENDPOINT: &str = "TRACEDOJO_EXPLORER_ENDPOINT";

/// The names (never the values) of the headers `OTEL_EXPORTER_OTLP_HEADERS` and
/// `OTEL_EXPORTER_OTLP_TRACES_HEADERS` add to span exports, lower-cased. The copy sent to the
/// explorer must not carry them: they are the user's backend's credentials.
pub fn trace_header_names() -> Vec<String> {
    let mut names = Vec::new();
    for variable in [
        "OTEL_EXPORTER_OTLP_HEADERS".to_string(),
        format!("OTEL_EXPORTER_OTLP_{}_HEADERS", Signal::Traces.upper()),
    ] {
        if let Some(value) = var(&variable) {
            for entry in value.split(',') {
                if let Some((key, _)) = entry.split_once('=') {
                    let key = key.trim().to_ascii_lowercase();
                    if !key.is_empty() && !names.contains(&key) {
                        names.push(key);
                    }
                }
            }
        }
    }
    names
}

/// An endpoint fit for a log line: any `user:password@` part is hidden.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    // The last '@' of the authority ends the user info, whatever the password contains.
    match authority.rsplit_once('@') {
        Some((_, host)) => format!("{scheme}://***@{host}{path}"),
        None => url.to_string(),
    }
}

/// Every check at once: the first problem found, or nothing.
pub fn validate_all() -> Result<(), EnvError> {
    sdk_disabled()?;
    validate_headers()?;
    validate_resource_attributes()?;
    validate_sampler()?;
    propagators()?;
    for signal in [Signal::Traces, Signal::Metrics, Signal::Logs] {
        exporter_enabled(signal)?;
        let protocol = protocol(signal)?;
        endpoint(signal, protocol)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lists_are_checked_without_echoing_values() {
        assert!(check_header_list("api-key=abc,team=x").is_ok());
        let err = check_header_list("api-key=SECRET123,broken").unwrap_err();
        assert!(err.contains("entry 2"), "{err}");
        assert!(!err.contains("SECRET123"));
        assert!(check_header_list("bad name=1").is_err());
        assert!(check_header_list("k=").is_err());
        assert!(check_header_list("").is_err());
    }

    #[test]
    fn credentials_in_urls_are_hidden() {
        assert_eq!(
            redact_url("https://u:p@otlp.example.com/x"),
            "https://***@otlp.example.com/x"
        );
        assert_eq!(redact_url("http://localhost:4318"), "http://localhost:4318");
        assert_eq!(
            redact_url("https://u:p@ss@host/x@y"),
            "https://***@host/x@y"
        );
    }
}
