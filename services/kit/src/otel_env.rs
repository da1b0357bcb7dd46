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
    pub(crate) fn upper(self) -> &'static str {
        match self {
            Signal::Traces => "TRACES",
            Signal::Metrics => "METRICS",
            Signal::Logs => "LOGS",
        }
    }

    pub(crate) fn lower(self) -> &'static str {
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
    /// OTLP/HTTP with JSON bodies: bigger and slower to encode, for backends or proxies that
    /// take nothing else.
    HttpJson,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::HttpProtobuf => "http/protobuf",
            Protocol::HttpJson => "http/json",
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
        "http/json" => Ok(Protocol::HttpJson),
        other => Err(EnvError {
            variable: name,
            problem: format!("unknown protocol \"{other}\""),
            fix: "allowed values are grpc, http/protobuf and http/json".into(),
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

/// One trace-context format `OTEL_PROPAGATORS` can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagator {
    /// W3C `traceparent` / `tracestate`.
    TraceContext,
    /// W3C `baggage`.
    Baggage,
    /// Zipkin's single `b3` header.
    B3,
    /// Zipkin's `X-B3-TraceId`, `X-B3-SpanId`, `X-B3-Sampled` headers.
    B3Multi,
}

impl Propagator {
    pub fn as_str(self) -> &'static str {
        match self {
            Propagator::TraceContext => "tracecontext",
            Propagator::Baggage => "baggage",
            Propagator::B3 => "b3",
            Propagator::B3Multi => "b3multi",
        }
    }
}

/// `OTEL_PROPAGATORS`: the formats to inject and extract, in the order given (later ones win
/// when two carry a trace context), each once. Unset means `tracecontext,baggage`; `none`
/// means no headers at all.
pub fn propagators() -> Result<Vec<Propagator>, EnvError> {
    parse_propagators(var("OTEL_PROPAGATORS").as_deref())
}

fn parse_propagators(value: Option<&str>) -> Result<Vec<Propagator>, EnvError> {
    let Some(value) = value else {
        return Ok(vec![Propagator::TraceContext, Propagator::Baggage]);
    };
    let mut chosen = Vec::new();
    for name in value.split(',').map(str::trim) {
        let propagator = match name {
            "tracecontext" => Propagator::TraceContext,
            "baggage" => Propagator::Baggage,
            "b3" => Propagator::B3,
            "b3multi" => Propagator::B3Multi,
            "none" => continue,
            other => {
                let problem = if ["jaeger", "xray", "ottrace"].contains(&other) {
                    format!("propagator \"{other}\" is not available in tracedojo")
                } else {
                    format!("unknown propagator \"{}\"", shown(other))
                };
                return Err(EnvError {
                    variable: "OTEL_PROPAGATORS".into(),
                    problem,
                    fix: "name any of tracecontext, baggage, b3 and b3multi, comma-separated \
                          (e.g. b3multi,baggage), or none; the default is tracecontext,baggage"
                        .into(),
                });
            }
        };
        if !chosen.contains(&propagator) {
            chosen.push(propagator);
        }
    }
    Ok(chosen)
}

/// What a numeric variable counts, for its message.
#[derive(Debug, Clone, Copy)]
enum Unit {
    Milliseconds,
    Count(&'static str),
}

/// A numeric variable: what it counts, the range that works, and an example.
struct Numeric {
    name: &'static str,
    unit: Unit,
    /// Zero is refused where the SDK would spin (a 0 ms delay or interval), give up at once
    /// (a 0 ms timeout) or drop everything (a queue of no places).
    min: u64,
    max: u64,
    example: &'static str,
}

/// The most places a batch queue may have. The SDK reserves every place when it starts
/// (about 360 bytes a span), so a queue of a billion would stop the process before it serves
/// anything; 100000 is already 36 MB for each process of the shop.
const MAX_QUEUE_SIZE: u64 = 100_000;

const fn millis(name: &'static str, example: &'static str) -> Numeric {
    Numeric {
        name,
        unit: Unit::Milliseconds,
        min: 1,
        max: u64::MAX,
        example,
    }
}

const fn queue(name: &'static str, what: &'static str, example: &'static str) -> Numeric {
    Numeric {
        name,
        unit: Unit::Count(what),
        min: 1,
        max: MAX_QUEUE_SIZE,
        example,
    }
}

const fn limit(name: &'static str, what: &'static str) -> Numeric {
    Numeric {
        name,
        unit: Unit::Count(what),
        min: 0,
        // The SDK reads span limits as 32-bit numbers.
        max: u32::MAX as u64,
        example: "128 (the default)",
    }
}

/// Every numeric variable the OpenTelemetry SDK 0.33 reads, and the OTLP export timeouts. The
/// SDK skips a value it cannot parse and quietly keeps its default, so
/// `OTEL_BSP_SCHEDULE_DELAY=200ms` would mean the default five seconds, not what was asked.
/// (`OTEL_ATTRIBUTE_*_LIMIT` and the event and link attribute limits are not read by this
/// SDK at all, so they are not listed.)
const NUMERIC: &[Numeric] = &[
    millis("OTEL_BSP_SCHEDULE_DELAY", "500 for half a second"),
    millis("OTEL_BSP_EXPORT_TIMEOUT", "30000 for thirty seconds"),
    queue("OTEL_BSP_MAX_QUEUE_SIZE", "spans", "2048 (the default)"),
    queue(
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
        "spans",
        "512 (the default)",
    ),
    Numeric {
        name: "OTEL_BSP_MAX_CONCURRENT_EXPORTS",
        unit: Unit::Count("exports"),
        min: 1,
        max: u64::MAX,
        example: "1 (the default)",
    },
    millis("OTEL_BLRP_SCHEDULE_DELAY", "1000 for one second"),
    millis("OTEL_BLRP_EXPORT_TIMEOUT", "30000 for thirty seconds"),
    queue(
        "OTEL_BLRP_MAX_QUEUE_SIZE",
        "log records",
        "2048 (the default)",
    ),
    queue(
        "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",
        "log records",
        "512 (the default)",
    ),
    millis("OTEL_METRIC_EXPORT_INTERVAL", "10000 for ten seconds"),
    millis("OTEL_METRIC_EXPORT_TIMEOUT", "30000 for thirty seconds"),
    millis("OTEL_EXPORTER_OTLP_TIMEOUT", "10000 for ten seconds"),
    millis("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "10000 for ten seconds"),
    millis(
        "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
        "10000 for ten seconds",
    ),
    millis("OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "10000 for ten seconds"),
    limit("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "attributes"),
    limit("OTEL_SPAN_EVENT_COUNT_LIMIT", "events"),
    limit("OTEL_SPAN_LINK_COUNT_LIMIT", "links"),
];

/// The SDK's default queue size, for the batch size ≤ queue size check when only the batch is set.
const DEFAULT_QUEUE_SIZE: u64 = 2048;

/// Every numeric `OTEL_*` variable is a whole number the SDK can use, and each batch fits in
/// its queue.
pub fn validate_numbers() -> Result<(), EnvError> {
    check_numbers(|name| env::var(name).ok())
}

fn check_numbers(lookup: impl Fn(&str) -> Option<String>) -> Result<(), EnvError> {
    let mut values = Vec::new();
    for numeric in NUMERIC {
        let Some(raw) = lookup(numeric.name) else {
            continue;
        };
        // Empty means unset, as for every other OTEL_* variable.
        if raw.trim().is_empty() {
            continue;
        }
        values.push((numeric.name, check_number(numeric, &raw)?));
    }
    let value = |name: &str| values.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
    for (batch, queue) in [
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "OTEL_BSP_MAX_QUEUE_SIZE"),
        (
            "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",
            "OTEL_BLRP_MAX_QUEUE_SIZE",
        ),
    ] {
        // Only a batch size the user chose is checked: the SDK itself shrinks its default
        // batch to fit a small queue, which is what someone who only set the queue wants.
        let Some(batch_size) = value(batch) else {
            continue;
        };
        let (queue_size, queue_source) = match value(queue) {
            Some(size) => (size, format!("{queue}={size}")),
            None => (
                DEFAULT_QUEUE_SIZE,
                format!("{queue} (unset: {DEFAULT_QUEUE_SIZE})"),
            ),
        };
        if batch_size > queue_size {
            return Err(EnvError {
                variable: batch.into(),
                problem: format!(
                    "{batch_size} is more than the queue holds ({queue_source}); the SDK would \
                     quietly send smaller batches"
                ),
                fix: format!("set {batch} to at most {queue_size}, or raise {queue}"),
            });
        }
    }
    Ok(())
}

/// Parses one value exactly as the SDK does (`u64::from_str` on the raw value), so whatever
/// passes here is what the SDK will use.
fn check_number(numeric: &Numeric, raw: &str) -> Result<u64, EnvError> {
    let name = numeric.name;
    let what = match numeric.unit {
        Unit::Milliseconds => "milliseconds",
        Unit::Count(what) => what,
    };
    let fix = match numeric.unit {
        Unit::Milliseconds => format!(
            "give a whole number of milliseconds without a unit, e.g. {name}={}",
            numeric.example
        ),
        Unit::Count(_) => format!("give a whole number, e.g. {name}={}", numeric.example),
    };
    let refuse = |problem: String| EnvError {
        variable: name.into(),
        problem,
        fix: fix.clone(),
    };
    if raw.trim() != raw {
        return Err(refuse(format!(
            "\"{}\" has spaces around the number",
            shown(raw)
        )));
    }
    let too_large = || {
        let most = match numeric.max {
            u64::MAX => String::new(),
            MAX_QUEUE_SIZE => format!(
                "; the most is {MAX_QUEUE_SIZE} (the SDK reserves memory for every place when \
                 it starts)"
            ),
            max => format!("; the most is {max}"),
        };
        refuse(format!("\"{}\" is too large{most}", shown(raw)))
    };
    let value = match raw.parse::<u64>() {
        Ok(value) => value,
        Err(err) if *err.kind() == std::num::IntErrorKind::PosOverflow => {
            return Err(too_large());
        }
        Err(_) => {
            return Err(refuse(format!(
                "\"{}\" is not a whole number of {what}",
                shown(raw)
            )));
        }
    };
    if value < numeric.min {
        let consequence = match numeric.unit {
            Unit::Milliseconds if name.ends_with("TIMEOUT") => "make every export give up at once",
            Unit::Milliseconds => "make the SDK export without a pause, keeping a core busy",
            Unit::Count(_) if name.contains("QUEUE") => "leave no room: every one would be dropped",
            Unit::Count(_) if name.contains("BATCH") => {
                "make the SDK wake its exporter for every single one"
            }
            Unit::Count(_) => "allow none at all",
        };
        return Err(refuse(format!(
            "0 {what} would {consequence}; the least is {}",
            numeric.min
        )));
    }
    if value > numeric.max {
        return Err(too_large());
    }
    Ok(value)
}

/// A value fit for a one-line message: at most 40 characters, control characters escaped.
fn shown(value: &str) -> String {
    let mut out: String = value
        .chars()
        .take(40)
        .flat_map(char::escape_default)
        .collect();
    if value.chars().count() > 40 {
        out.push_str("...");
    }
    out
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
                    Protocol::HttpProtobuf | Protocol::HttpJson => {
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
        (Protocol::HttpProtobuf | Protocol::HttpJson, true) => {
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
    validate_numbers()?;
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

    fn numbers(vars: &[(&str, &str)]) -> Result<(), EnvError> {
        check_numbers(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn a_malformed_delay_names_the_variable_the_value_the_unit_and_an_example() {
        let err = numbers(&[("OTEL_BSP_SCHEDULE_DELAY", "abc")]).unwrap_err();
        assert_eq!(err.variable, "OTEL_BSP_SCHEDULE_DELAY");
        let line = err.to_string();
        assert!(line.contains("\"abc\""), "{line}");
        assert!(line.contains("milliseconds"), "{line}");
        assert!(line.contains("OTEL_BSP_SCHEDULE_DELAY=500"), "{line}");
        assert!(!line.contains('\n'), "{line}");
    }

    #[test]
    fn every_numeric_variable_the_sdk_reads_is_checked() {
        for numeric in NUMERIC {
            for bad in [
                "abc",
                "5s",
                "1.5",
                "-1",
                " 100",
                "100 ",
                "99999999999999999999",
            ] {
                let err = numbers(&[(numeric.name, bad)])
                    .expect_err(&format!("{}={bad:?} accepted", numeric.name));
                assert_eq!(err.variable, numeric.name, "{err}");
                assert!(
                    err.fix.contains(&format!("{}=", numeric.name)),
                    "no example: {err}"
                );
            }
            assert!(numbers(&[(numeric.name, "1")]).is_ok(), "{}", numeric.name);
        }
        for timeout in [
            "OTEL_EXPORTER_OTLP_TIMEOUT",
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
            "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
            "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT",
            "OTEL_BLRP_SCHEDULE_DELAY",
            "OTEL_METRIC_EXPORT_INTERVAL",
        ] {
            assert!(NUMERIC.iter().any(|n| n.name == timeout), "{timeout}");
        }
    }

    #[test]
    fn unset_and_empty_values_are_left_to_the_defaults() {
        assert!(numbers(&[]).is_ok());
        assert!(
            numbers(&[
                ("OTEL_BSP_SCHEDULE_DELAY", ""),
                ("OTEL_BSP_MAX_QUEUE_SIZE", "  ")
            ])
            .is_ok()
        );
        assert!(numbers(&[("OTEL_BSP_SCHEDULE_DELAY", "+250")]).is_ok());
    }

    #[test]
    fn zero_is_refused_where_the_sdk_would_spin_or_drop_everything() {
        for name in [
            "OTEL_BSP_SCHEDULE_DELAY",
            "OTEL_METRIC_EXPORT_INTERVAL",
            "OTEL_EXPORTER_OTLP_TIMEOUT",
            "OTEL_BSP_MAX_QUEUE_SIZE",
            "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",
        ] {
            let err = numbers(&[(name, "0")]).unwrap_err();
            assert!(err.problem.contains("the least is 1"), "{err}");
        }
        // No attributes on spans is a choice, not a mistake.
        assert!(numbers(&[("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "0")]).is_ok());
    }

    #[test]
    fn limits_beyond_what_the_sdk_holds_are_refused() {
        let err = numbers(&[("OTEL_SPAN_EVENT_COUNT_LIMIT", "4294967296")]).unwrap_err();
        assert!(err.problem.contains("the most is 4294967295"), "{err}");
        let err = numbers(&[("OTEL_BSP_MAX_QUEUE_SIZE", "1000000000")]).unwrap_err();
        assert!(err.problem.contains("the most is 100000"), "{err}");
        assert!(err.problem.contains("reserves memory"), "{err}");
    }

    #[test]
    fn a_batch_larger_than_its_queue_is_refused() {
        let err = numbers(&[
            ("OTEL_BSP_MAX_QUEUE_SIZE", "100"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "200"),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE");
        assert!(err.problem.contains("OTEL_BSP_MAX_QUEUE_SIZE=100"), "{err}");
        assert!(err.fix.contains("at most 100"), "{err}");
        // Against the SDK's default queue of 2048 when only the batch is set.
        let err = numbers(&[("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "4096")]).unwrap_err();
        assert!(err.problem.contains("unset: 2048"), "{err}");
        // Only the queue set: the SDK shrinks its default batch to fit, as intended.
        assert!(numbers(&[("OTEL_BSP_MAX_QUEUE_SIZE", "100")]).is_ok());
        assert!(
            numbers(&[
                ("OTEL_BSP_MAX_QUEUE_SIZE", "4096"),
                ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "4096"),
            ])
            .is_ok()
        );
    }

    #[test]
    fn a_long_or_multi_line_value_stays_one_short_line() {
        let long = format!("{}\nsecond line", "x".repeat(200));
        let line = numbers(&[("OTEL_BSP_SCHEDULE_DELAY", long.as_str())])
            .unwrap_err()
            .to_string();
        assert!(!line.contains('\n'), "{line}");
        assert!(line.len() < 300, "{line}");
    }

    #[test]
    fn propagators_are_read_in_order_once_each() {
        use Propagator::*;
        assert_eq!(parse_propagators(None).unwrap(), [TraceContext, Baggage]);
        assert_eq!(
            parse_propagators(Some("b3multi, baggage")).unwrap(),
            [B3Multi, Baggage]
        );
        assert_eq!(
            parse_propagators(Some("b3,tracecontext,b3")).unwrap(),
            [B3, TraceContext]
        );
        assert!(parse_propagators(Some("none")).unwrap().is_empty());
        let err = parse_propagators(Some("tracecontext,b3single")).unwrap_err();
        assert_eq!(err.variable, "OTEL_PROPAGATORS");
        assert!(err.problem.contains("\"b3single\""), "{err}");
        assert!(err.fix.contains("b3multi"), "{err}");
        let err = parse_propagators(Some("jaeger")).unwrap_err();
        assert!(err.problem.contains("not available"), "{err}");
    }
}
