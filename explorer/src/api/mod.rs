//! The explorer's JSON API (documented in `explorer/API.md`): what the web UI, the workshop
//! checks and the showcase page read. The questions themselves are answered in
//! [`crate::query`]; this file reads parameters, runs the query off the async workers and
//! maps failures to status codes with JSON bodies. Endpoints with more than a few lines of
//! their own live in submodules ([`customers`]).

mod customers;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use serde::Serialize;
use serde_json::json;

use crate::query::errors::{self, Scope};
use crate::query::explain::LatencyObjective;
use crate::query::namespace::{self, Namespace};
use crate::query::params::{self, BadParameter};
use crate::query::search::{self, Search, SpanConditions};
use crate::query::series::{self, Buckets};
use crate::query::window::Window;
use crate::query::{map, red, trace};
use crate::server::Link;
use crate::store::SpanStore;
use crate::store::attrs::{self, ValueRef};
use crate::store::intern::Sym;
use crate::store::logs::Logs;
use crate::store::table::{Table, unhex};

mod explain;

#[derive(Debug, Clone)]
struct ApiState {
    store: SpanStore,
    links: Arc<Vec<Link>>,
    exports: crate::ExportHealth,
    /// The attribute that names a request's customer, unless a query names another.
    customer_attribute: Arc<str>,
    /// What an explanation compares a request's duration with.
    latency_objectives: Arc<Vec<LatencyObjective>>,
}

/// What the API answers with besides the store, as whoever runs the explorer sets it.
#[derive(Debug, Clone, Default)]
pub struct ApiSettings {
    /// Pages the UI links to.
    pub links: Vec<Link>,
    /// Other destinations of the applications' telemetry, as their runner reports them.
    pub exports: crate::ExportHealth,
    /// The attribute that names a request's customer, unless a query names another.
    pub customer_attribute: String,
    /// How long endpoints' requests should take, for explanations.
    pub latency_objectives: Vec<LatencyObjective>,
}

/// The `/api/*` routes over one store.
pub fn router(store: SpanStore, settings: ApiSettings) -> Router {
    Router::new()
        .route("/api/status", get(status))
        .route("/api/services", get(services))
        .route("/api/namespaces", get(namespaces))
        .route("/api/traces", get(find_traces))
        .route("/api/traces/{trace_id}", get(one_trace))
        .route(
            "/api/traces/{trace_id}/explain",
            get(explain::explain_trace),
        )
        .route("/api/service-map", get(service_map))
        .route("/api/red", get(red_tables))
        .route("/api/red/series", get(red_over_time))
        .route("/api/errors", get(error_analysis))
        .route("/api/customers", get(customers::customers))
        .route("/api/{*rest}", get(unknown))
        .with_state(ApiState {
            store,
            links: Arc::new(settings.links),
            exports: settings.exports,
            customer_attribute: Arc::from(settings.customer_attribute),
            latency_objectives: Arc::new(settings.latency_objectives),
        })
}

/// Why an API request failed; each maps to a status code and a JSON body.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadParameter(#[from] BadParameter),
    #[error("{0}")]
    NotFound(String),
    #[error("the query could not run: {0}")]
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            ApiError::BadParameter(bad) => (
                StatusCode::BAD_REQUEST,
                json!({"error": self.to_string(), "parameter": bad.parameter}),
            ),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, json!({"error": self.to_string()})),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": self.to_string()}),
            ),
        };
        (status, Json(body)).into_response()
    }
}

type Pairs = Vec<(String, String)>;

/// Query parameters by name; unknown names are refused so a typo does not silently widen a
/// search.
struct Params {
    pairs: Pairs,
}

impl Params {
    fn new(pairs: Pairs, allowed: &[&'static str]) -> Result<Params, BadParameter> {
        for (name, _) in &pairs {
            if !allowed.contains(&name.as_str()) {
                let parameter = allowed
                    .iter()
                    .copied()
                    .find(|a| *a == name)
                    .unwrap_or("query");
                return Err(BadParameter::new(
                    parameter,
                    format!(
                        "unknown parameter {name:?}; this endpoint takes {}",
                        allowed.join(", ")
                    ),
                ));
            }
        }
        Ok(Params { pairs })
    }

    /// The last value given for `name`, ignoring empty ones (an empty form field).
    fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(n, v)| n == name && !v.trim().is_empty())
            .map(|(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.pairs
            .iter()
            .filter(move |(n, v)| n == name && !v.trim().is_empty())
            .map(|(_, v)| v.as_str())
    }

    fn text(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_owned)
    }

    fn duration(&self, name: &'static str) -> Result<Option<u64>, BadParameter> {
        self.get(name)
            .map(|t| params::duration(name, t))
            .transpose()
    }
}

/// Runs a query over the table on a blocking thread: a query over a million spans takes
/// tens of milliseconds, which must not stall the async workers serving OTLP.
async fn run<T: Send + 'static>(
    store: &SpanStore,
    query: impl FnOnce(&Table) -> T + Send + 'static,
) -> Result<T, ApiError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || store.with_table(query))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// [`run`] for a query that reads the log records too.
async fn run_with_logs<T: Send + 'static>(
    store: &SpanStore,
    query: impl FnOnce(&Table, &Logs) -> T + Send + 'static,
) -> Result<T, ApiError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || store.with_table_and_logs(query))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))
}

#[derive(Serialize)]
struct ExportRequests {
    grpc: u64,
    http: u64,
}

#[derive(Serialize)]
struct Status {
    spans_stored: usize,
    traces_stored: usize,
    bytes_stored: usize,
    max_spans: usize,
    max_bytes: Option<usize>,
    spans_received: u64,
    traces_evicted: u64,
    spans_evicted: u64,
    spans_rejected: u64,
    export_requests: ExportRequests,
    rejected_requests: u64,
    metrics_received: u64,
    logs_received: u64,
    metrics_stored: usize,
    logs_stored: usize,
    metrics_logs_bytes: usize,
    metrics_evicted: u64,
    logs_evicted: u64,
    oldest_span_unix_nanos: Option<u64>,
    newest_span_unix_nanos: Option<u64>,
    links: Vec<Link>,
    /// Where else the applications send their spans, and how that goes (see
    /// [`crate::exports`]); empty when nobody reports it.
    exports: Vec<crate::DestinationHealth>,
}

async fn status(State(state): State<ApiState>) -> Result<Json<Status>, ApiError> {
    let stats = state.store.stats();
    let links = state.links.to_vec();
    let exports = state.exports.get();
    run(&state.store, move |table| {
        let range = table.time_range();
        Json(Status {
            spans_stored: table.span_count(),
            traces_stored: table.trace_count(),
            bytes_stored: table.bytes(),
            max_spans: table.max_spans(),
            max_bytes: (table.max_bytes() != usize::MAX).then_some(table.max_bytes()),
            spans_received: stats.spans_received,
            traces_evicted: stats.dropped_traces,
            spans_evicted: stats.dropped_spans,
            spans_rejected: stats.rejected_spans,
            export_requests: ExportRequests {
                grpc: stats.grpc_export_requests,
                http: stats.http_export_requests,
            },
            rejected_requests: stats.rejected_requests,
            metrics_received: stats.metrics_received,
            logs_received: stats.logs_received,
            metrics_stored: stats.metrics_stored,
            logs_stored: stats.logs_stored,
            metrics_logs_bytes: stats.metrics_logs_bytes,
            metrics_evicted: stats.dropped_metrics,
            logs_evicted: stats.dropped_logs,
            oldest_span_unix_nanos: range.map(|r| r.0),
            newest_span_unix_nanos: range.map(|r| r.1),
            links,
            exports,
        })
    })
    .await
}

#[derive(Serialize)]
struct ServiceEntry {
    name: String,
    span_count: usize,
    operations: BTreeSet<String>,
}

async fn services(
    State(state): State<ApiState>,
    Query(pairs): Query<Pairs>,
) -> Result<Response, ApiError> {
    let params = Params::new(pairs, &["namespace"])?;
    let namespace = params.text("namespace");
    run(&state.store, move |table| {
        let namespace = Namespace::new(table, namespace.as_deref());
        let mut by_sym: BTreeMap<u32, (usize, BTreeSet<u32>)> = BTreeMap::new();
        for (_, trace) in table.traces() {
            for span in trace.spans.iter().filter(|s| namespace.holds(table, s)) {
                let entry = by_sym.entry(span.service.0).or_default();
                entry.0 += 1;
                entry.1.insert(span.name.0);
            }
        }
        let text = |id: u32| table.interner.text(Sym(id)).to_owned();
        let mut services: Vec<ServiceEntry> = by_sym
            .into_iter()
            .map(|(service, (span_count, names))| ServiceEntry {
                name: text(service),
                span_count,
                operations: names.into_iter().map(text).collect(),
            })
            .collect();
        services.sort_by(|a, b| a.name.cmp(&b.name));
        Json(json!({ "services": services })).into_response()
    })
    .await
}

#[derive(Serialize)]
struct NamespaceEntry {
    name: String,
    span_count: usize,
    services: BTreeSet<String>,
}

/// Every `service.namespace` of the stored spans' resources, for the UI's namespace choice.
async fn namespaces(State(state): State<ApiState>) -> Result<Response, ApiError> {
    run(&state.store, |table| {
        // Per resource first: a resource's attributes are read once, not once per span.
        let mut by_resource: BTreeMap<u32, (usize, BTreeSet<u32>)> = BTreeMap::new();
        for (_, trace) in table.traces() {
            for span in &trace.spans {
                let entry = by_resource.entry(span.resource).or_default();
                entry.0 += 1;
                entry.1.insert(span.service.0);
            }
        }
        let key = table.interner.lookup(namespace::KEY);
        let mut by_name: BTreeMap<String, (usize, BTreeSet<String>)> = BTreeMap::new();
        for (resource, (span_count, services)) in by_resource {
            let value = key.and_then(|key| {
                table
                    .resource(resource)
                    .and_then(|r| attrs::get(&r.attrs, key))
            });
            // Only values a `namespace` filter can name (as `attr` filters compare).
            let name = match value {
                Some(ValueRef::Str(s)) => s.to_owned(),
                Some(v @ (ValueRef::Int(_) | ValueRef::Bool(_))) => v.to_json().to_string(),
                _ => continue,
            };
            let entry = by_name.entry(name).or_default();
            entry.0 += span_count;
            entry.1.extend(
                services
                    .into_iter()
                    .map(|s| table.interner.text(Sym(s)).to_owned()),
            );
        }
        let namespaces: Vec<NamespaceEntry> = by_name
            .into_iter()
            .map(|(name, (span_count, services))| NamespaceEntry {
                name,
                span_count,
                services,
            })
            .collect();
        Json(json!({ "namespaces": namespaces })).into_response()
    })
    .await
}

const SEARCH_PARAMETERS: &[&str] = &[
    "service",
    "operation",
    "min_duration",
    "max_duration",
    "errors",
    "failing",
    "attr",
    "start",
    "end",
    "since",
    "limit",
    "namespace",
];
const MAX_LIMIT: usize = 1000;

fn parse_search(params: &Params) -> Result<Search, BadParameter> {
    let attributes = params
        .all("attr")
        .map(params::attribute)
        .collect::<Result<Vec<_>, _>>()?;
    let min_duration = params.duration("min_duration")?;
    let max_duration = params.duration("max_duration")?;
    if let (Some(min), Some(max)) = (min_duration, max_duration)
        && min > max
    {
        return Err(BadParameter::new(
            "max_duration",
            "max_duration is shorter than min_duration",
        ));
    }
    let mut start = params
        .get("start")
        .map(|t| params::unix_millis("start", t))
        .transpose()?;
    let end = params
        .get("end")
        .map(|t| params::unix_millis("end", t))
        .transpose()?;
    if let Some(since) = params.get("since") {
        if start.is_some() {
            return Err(BadParameter::new(
                "since",
                "give either since or start, not both",
            ));
        }
        start = Some(params::now_nanos().saturating_sub(params::window(Some(since))?));
    }
    if let (Some(s), Some(e)) = (start, end)
        && s > e
    {
        return Err(BadParameter::new("end", "end is before start"));
    }
    Ok(Search {
        span: SpanConditions {
            service: params.text("service"),
            operation: params.text("operation"),
            min_duration,
            max_duration,
            errors_only: params::boolean("errors", params.get("errors"))?,
            attributes,
            namespace: params.text("namespace"),
        },
        start,
        end,
        failing: params::boolean("failing", params.get("failing"))?,
        limit: params::limit(params.get("limit"), 20, MAX_LIMIT)?,
    })
}

async fn find_traces(
    State(state): State<ApiState>,
    Query(pairs): Query<Pairs>,
) -> Result<Response, ApiError> {
    let params = Params::new(pairs, SEARCH_PARAMETERS)?;
    let query = parse_search(&params)?;
    let limit = query.limit;
    run(&state.store, move |table| {
        let traces = search::search(table, &query);
        Json(json!({ "traces": traces, "limit": limit })).into_response()
    })
    .await
}

/// The trace id of a path: 32 hex digits.
fn trace_id_of(text: &str) -> Result<[u8; 16], BadParameter> {
    unhex::<16>(text).ok_or_else(|| {
        BadParameter::new(
            "trace_id",
            format!("{text:?} is not a trace id: give 32 hex digits"),
        )
    })
}

async fn one_trace(
    State(state): State<ApiState>,
    Path(trace_id): Path<String>,
) -> Result<Response, ApiError> {
    let id = trace_id_of(&trace_id)?;
    run_with_logs(&state.store, move |table, logs| match table.trace(&id) {
        Some(entry) => {
            let view = trace::trace_view(table, entry, &logs.of_trace(&id));
            Ok(Json(view).into_response())
        }
        None => Err(ApiError::NotFound(format!(
            "no trace {} is stored (it may not have arrived yet, or was evicted to stay within the store's bounds)",
            trace_id.to_ascii_lowercase()
        ))),
    })
    .await?
}

async fn service_map(
    State(state): State<ApiState>,
    Query(pairs): Query<Pairs>,
) -> Result<Response, ApiError> {
    let params = Params::new(pairs, &["since", "namespace"])?;
    let window = Window::last(params::window(params.get("since"))?, params::now_nanos());
    let namespace = params.text("namespace");
    run(&state.store, move |table| {
        Json(map::service_map(table, window, namespace.as_deref())).into_response()
    })
    .await
}

/// Most `slower_than` thresholds in one RED query: an objective file names a handful.
const MAX_THRESHOLDS: usize = 20;

async fn red_tables(
    State(state): State<ApiState>,
    Query(pairs): Query<Pairs>,
) -> Result<Response, ApiError> {
    let params = Params::new(
        pairs,
        &["since", "offset", "service", "namespace", "slower_than"],
    )?;
    let length = params::window(params.get("since"))?;
    let offset = params.duration("offset")?.unwrap_or(0);
    if offset > params::MAX_WINDOW {
        return Err(BadParameter::new(
            "offset",
            "an offset of more than 7d reaches past anything a store keeps",
        )
        .into());
    }
    let window = Window::earlier(length, offset, params::now_nanos());
    let slower_than = params
        .all("slower_than")
        .map(|t| params::duration("slower_than", t))
        .collect::<Result<Vec<_>, _>>()?;
    if slower_than.len() > MAX_THRESHOLDS {
        return Err(BadParameter::new(
            "slower_than",
            format!(
                "{} thresholds given; at most {MAX_THRESHOLDS}",
                slower_than.len()
            ),
        )
        .into());
    }
    let query = red::RedQuery {
        service: params.text("service"),
        namespace: params.text("namespace"),
        slower_than,
    };
    run(&state.store, move |table| {
        Json(red::red(table, window, &query)).into_response()
    })
    .await
}

async fn red_over_time(
    State(state): State<ApiState>,
    Query(pairs): Query<Pairs>,
) -> Result<Response, ApiError> {
    let params = Params::new(
        pairs,
        &["since", "step", "service", "operation", "namespace"],
    )?;
    let window = params::window(params.get("since"))?;
    let buckets = Buckets::new(window, params.get("step"), params::now_nanos())?;
    let scope = series::Scope::new(
        params.text("service"),
        params.text("operation"),
        params.text("namespace"),
    )?;
    run(&state.store, move |table| {
        Json(series::red_series(table, buckets, &scope)).into_response()
    })
    .await
}

async fn error_analysis(
    State(state): State<ApiState>,
    Query(pairs): Query<Pairs>,
) -> Result<Response, ApiError> {
    let params = Params::new(pairs, &["since", "service", "operation", "namespace"])?;
    let window = Window::last(params::window(params.get("since"))?, params::now_nanos());
    let scope = Scope {
        service: params.text("service"),
        operation: params.text("operation"),
        namespace: params.text("namespace"),
    };
    run(&state.store, move |table| {
        Json(errors::errors(table, window, &scope)).into_response()
    })
    .await
}

async fn unknown(Path(rest): Path<String>) -> ApiError {
    ApiError::NotFound(format!(
        "no API endpoint /api/{rest}; see explorer/API.md: /api/status, /api/services, /api/namespaces, /api/traces, /api/traces/ID, /api/traces/ID/explain, /api/service-map, /api/red, /api/red/series, /api/errors, /api/customers"
    ))
}
