//! The explorer's JSON API as the report reads it (see `explorer/API.md`): only the fields the
//! report uses, so any explorer of this major version answers. Every call has a timeout, and
//! a failure says which URL and what to do.

use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Long enough for a query over a million stored spans on a busy machine.
const TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Why the explorer could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ExplorerError {
    #[error(
        "cannot reach the explorer at {url}: {reason}. Is `tracedojo up` (or `tracedojo explore`) running? Point to another with --explorer URL"
    )]
    Unreachable { url: String, reason: String },
    #[error("the explorer answered {status} to {url}: {message}")]
    Refused {
        url: String,
        status: u16,
        message: String,
    },
    #[error("the explorer's answer to {url} is not what this version of tracedojo reads: {reason}")]
    Unreadable { url: String, reason: String },
}

impl ExplorerError {
    /// Whether the explorer said it has no such thing (an unknown trace).
    pub fn is_not_found(&self) -> bool {
        matches!(self, ExplorerError::Refused { status: 404, .. })
    }
}

/// A client of one explorer.
#[derive(Debug, Clone)]
pub struct Explorer {
    base: String,
    http: reqwest::Client,
}

impl Explorer {
    /// The explorer at `base` (e.g. `http://127.0.0.1:8090`).
    pub fn new(base: &str) -> Result<Explorer, ExplorerError> {
        let base = base.trim().trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(ExplorerError::Unreachable {
                url: base,
                reason: "not an http:// or https:// URL".into(),
            });
        }
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|err| ExplorerError::Unreachable {
                url: base.clone(),
                reason: err.to_string(),
            })?;
        Ok(Explorer { base, http })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The web UI's page of one trace.
    pub fn trace_page(&self, trace_id: &str) -> String {
        format!("{}/#/trace/{trace_id}", self.base)
    }

    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ExplorerError> {
        let address = format!("{}{path}", self.base);
        let url = reqwest::Url::parse_with_params(&address, query)
            .map_err(|err| ExplorerError::Unreachable {
                url: address.clone(),
                reason: err.to_string(),
            })?
            .to_string();
        let response =
            self.http
                .get(&url)
                .send()
                .await
                .map_err(|err| ExplorerError::Unreachable {
                    url: url.clone(),
                    reason: plain_reason(&err),
                })?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|err| ExplorerError::Unreachable {
                url: url.clone(),
                reason: plain_reason(&err),
            })?;
        if !status.is_success() {
            let message = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_owned))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(300).collect());
            return Err(ExplorerError::Refused {
                url,
                status: status.as_u16(),
                message,
            });
        }
        serde_json::from_slice(&body).map_err(|err| ExplorerError::Unreadable {
            url,
            reason: err.to_string(),
        })
    }

    pub async fn status(&self) -> Result<Status, ExplorerError> {
        self.get("/api/status", &[]).await
    }

    /// RED over the `since` seconds that ended `offset` seconds ago, counting requests slower
    /// than each of `slower_than` (nanoseconds).
    pub async fn red(
        &self,
        since: u64,
        offset: u64,
        slower_than: &[u64],
        namespace: Option<&str>,
    ) -> Result<Red, ExplorerError> {
        let mut query = vec![("since", format!("{since}s"))];
        if offset > 0 {
            query.push(("offset", format!("{offset}s")));
        }
        query.extend(
            slower_than
                .iter()
                .map(|t| ("slower_than", format!("{t}ns"))),
        );
        query.extend(namespace.map(|n| ("namespace", n.to_owned())));
        self.get("/api/red", &query).await
    }

    /// Traces holding a span of this endpoint in the last `since` seconds: the slowest ones
    /// above `min_nanos`, or the failing ones.
    pub async fn exemplars(
        &self,
        endpoint: (&str, &str),
        since: u64,
        pick: Pick,
        namespace: Option<&str>,
        limit: usize,
    ) -> Result<Vec<TraceHit>, ExplorerError> {
        let mut query = vec![
            ("service", endpoint.0.to_owned()),
            ("operation", endpoint.1.to_owned()),
            ("since", format!("{since}s")),
            ("limit", limit.to_string()),
        ];
        match pick {
            Pick::SlowerThan(nanos) => query.push(("min_duration", format!("{nanos}ns"))),
            Pick::Failing => query.push(("errors", "true".into())),
        }
        query.extend(namespace.map(|n| ("namespace", n.to_owned())));
        let found: Found = self.get("/api/traces", &query).await?;
        Ok(found.traces)
    }

    /// The error analysis of one endpoint's traces over the last `since` seconds.
    pub async fn errors(
        &self,
        endpoint: (&str, &str),
        since: u64,
        namespace: Option<&str>,
    ) -> Result<Errors, ExplorerError> {
        let mut query = vec![
            ("service", endpoint.0.to_owned()),
            ("operation", endpoint.1.to_owned()),
            ("since", format!("{since}s")),
        ];
        query.extend(namespace.map(|n| ("namespace", n.to_owned())));
        self.get("/api/errors", &query).await
    }

    /// One trace explained from `span` down, in `lang`, as the explorer answers it.
    pub async fn explanation(
        &self,
        trace_id: &str,
        span: Option<&str>,
        lang: &str,
        objective_nanos: Option<u64>,
    ) -> Result<Value, ExplorerError> {
        let mut query = vec![("lang", lang.to_owned())];
        query.extend(span.map(|s| ("span", s.to_owned())));
        query.extend(objective_nanos.map(|n| ("objective", format!("{n}ns"))));
        self.get(&format!("/api/traces/{}/explain", trace_id.trim()), &query)
            .await
    }

    /// [`Explorer::explanation`], read for the report.
    pub async fn explain(
        &self,
        trace_id: &str,
        span: Option<&str>,
        lang: &str,
        objective_nanos: Option<u64>,
    ) -> Result<Explanation, ExplorerError> {
        let url = format!("{}/api/traces/{trace_id}/explain", self.base);
        let value = self
            .explanation(trace_id, span, lang, objective_nanos)
            .await?;
        serde_json::from_value(value).map_err(|err| ExplorerError::Unreadable {
            url,
            reason: err.to_string(),
        })
    }

    /// Who was hit over the last `since` seconds: the customers view, as the explorer gives it.
    pub async fn customers(
        &self,
        since: u64,
        namespace: Option<&str>,
    ) -> Result<Value, ExplorerError> {
        let mut query = vec![("since", format!("{since}s"))];
        query.extend(namespace.map(|n| ("namespace", n.to_owned())));
        self.get("/api/customers", &query).await
    }

    /// One trace's spans.
    pub async fn trace(&self, trace_id: &str) -> Result<Trace, ExplorerError> {
        self.get(&format!("/api/traces/{trace_id}"), &[]).await
    }
}

/// Which traces an exemplar search wants.
#[derive(Debug, Clone, Copy)]
pub enum Pick {
    SlowerThan(u64),
    Failing,
}

/// A network failure in a few words, without the chain of wrappers reqwest gives.
fn plain_reason(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        return format!("no answer within {} s", TIMEOUT.as_secs());
    }
    if err.is_connect() {
        return "connection refused or no route".into();
    }
    let mut reason = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        reason = inner.to_string();
        source = inner.source();
    }
    reason
}

#[derive(Debug, Clone, Deserialize)]
pub struct Status {
    pub spans_stored: u64,
    pub newest_span_unix_nanos: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Red {
    pub window_seconds: f64,
    pub endpoints: Vec<Endpoint>,
    pub queries: Vec<Query>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Slower {
    pub threshold_ms: f64,
    pub count: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Endpoint {
    pub service: String,
    pub operation: String,
    pub kind: String,
    pub requests: usize,
    pub errors: usize,
    pub error_rate: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub total_ms: f64,
    #[serde(default)]
    pub slower: Vec<Slower>,
}

impl Endpoint {
    /// How many took longer than `threshold_ms` (0 when the explorer was not asked).
    pub fn slower_than(&self, threshold_ms: f64) -> usize {
        self.slower
            .iter()
            .find(|s| (s.threshold_ms - threshold_ms).abs() < 1e-6)
            .map_or(0, |s| s.count)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Query {
    pub service: String,
    pub db_system: String,
    pub query: String,
    #[serde(default)]
    pub operation: String,
    #[serde(default)]
    pub collection: String,
    pub calls: usize,
    pub errors: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub total_ms: f64,
    pub calls_per_trace: f64,
    #[serde(default)]
    pub max_calls_per_trace: usize,
}

#[derive(Debug, Clone, Deserialize)]
struct Found {
    traces: Vec<TraceHit>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TraceHit {
    pub trace_id: String,
    pub duration_ms: f64,
    pub error_count: usize,
    #[serde(default)]
    pub matched_span_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Errors {
    pub traces: usize,
    pub failing_traces: usize,
    pub root_causes: Vec<RootCause>,
    pub attributes: Vec<Separating>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RootCause {
    pub service: String,
    pub operation: String,
    pub error_type: String,
    pub message: String,
    pub traces: usize,
    pub example_trace_ids: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Separating {
    pub key: String,
    pub value: Value,
    pub failing_with: usize,
    pub total_with: usize,
    pub error_rate_with: f64,
    pub error_rate_without: f64,
    pub score: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Trace {
    pub spans: Vec<TraceSpan>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TraceSpan {
    pub span_id: String,
    #[serde(default)]
    pub attributes: serde_json::Map<String, Value>,
}

/// What the explain endpoint says of a trace (the fields the report reads).
#[derive(Debug, Clone, Deserialize)]
pub struct Explanation {
    #[serde(default)]
    pub summary: Vec<String>,
    #[serde(default)]
    pub critical_path: CriticalPath,
    #[serde(default)]
    pub db_hints: Vec<Value>,
    #[serde(default)]
    pub first_failure: Option<Value>,
    /// The whole answer, for formats that show more than the report reads.
    #[serde(flatten)]
    pub rest: serde_json::Map<String, Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct CriticalPath {
    #[serde(default)]
    pub services: Vec<PathShare>,
    #[serde(default)]
    pub spans: Vec<PathShare>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PathShare {
    pub service: String,
    #[serde(default)]
    pub operation: Option<String>,
    pub ms: f64,
    pub share: f64,
}
