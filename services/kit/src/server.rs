//! The HTTP server side: one SERVER span and one duration measurement per request.
//!
//! [`instrument`] wraps a service's router with [`trace_request`], the middleware that
//! continues the caller's trace (W3C `traceparent` + `baggage`), names the span
//! `{method} {route}`, records the stable HTTP semantic-convention attributes, and marks the
//! span as an error only for 5xx answers. It also adds an untraced `GET /health`.
//! [`listen`] opens the listener (shared with the next process of the service where `up` asks
//! for it) and [`serve`] runs the router on it until the shutdown future completes.
//!
//! Looking for where to add your own span? Not here: put `#[tracing::instrument]` on a
//! function in the service crate, or open a `tracing::info_span!` in a handler. It becomes
//! a child of the SERVER span made here.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use axum::Router;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::{Context, KeyValue, global};
use opentelemetry_http::HeaderExtractor;
use tokio::net::{TcpListener, TcpSocket};
use tracing::Instrument;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::error::ApiError;
use crate::metrics::instruments;
use crate::telemetry::ExportStats;
use crate::{baggage, faults};

/// Adds baggage entries the caller did not send (the frontend uses it to name the user).
pub type BaggageDefaults = Arc<dyn Fn(&HeaderMap) -> Vec<KeyValue> + Send + Sync>;

/// How a service's router is wrapped.
#[derive(Clone)]
pub struct ServerOptions {
    pub service: String,
    pub baggage_defaults: Option<BaggageDefaults>,
    pub export_stats: Option<Arc<ExportStats>>,
}

impl ServerOptions {
    pub fn new(service: impl Into<String>) -> Self {
        ServerOptions {
            service: service.into(),
            baggage_defaults: None,
            export_stats: None,
        }
    }

    pub fn with_export_stats(mut self, stats: Arc<ExportStats>) -> Self {
        self.export_stats = Some(stats);
        self
    }

    pub fn with_baggage_defaults(mut self, defaults: BaggageDefaults) -> Self {
        self.baggage_defaults = Some(defaults);
        self
    }
}

/// Wraps every route of `routes` in a SERVER span and adds `GET /health`.
pub fn instrument(routes: Router, options: ServerOptions) -> Router {
    let options = Arc::new(options);
    let health_options = options.clone();
    // `layer`, not `route_layer`: unmatched paths (404) and wrong methods (405) are requests
    // too and get a SERVER span named after the method alone. `/health` is added after the
    // layer, so it stays untraced.
    routes
        .layer(middleware::from_fn_with_state(options, trace_request))
        .route(
            "/health",
            get(move || {
                let options = health_options.clone();
                async move { health(&options) }
            }),
        )
}

fn health(options: &ServerOptions) -> axum::Json<serde_json::Value> {
    let telemetry = options
        .export_stats
        .as_ref()
        .map(|s| s.snapshot())
        .unwrap_or(serde_json::Value::Null);
    // Degraded, not down: the service still answers, and a supervisor must not restart it
    // over a disk only a person can free. The reasons say what fails and what to do.
    let storage = crate::db::storage_problems();
    let status = if storage.is_empty() { "ok" } else { "degraded" };
    let reasons: Vec<String> = storage.iter().map(ToString::to_string).collect();
    axum::Json(serde_json::json!({
        "status": status,
        "service": options.service,
        "pid": std::process::id(),
        "reasons": reasons,
        "storage": storage,
        "telemetry": telemetry,
    }))
}

/// Adds a business attribute (`order.total_cents`, `payment.currency`, ...) to the span the
/// code runs in — in a handler, the request's SERVER span. Cheaper and clearer than opening an
/// extra span that would only repeat the SERVER span's start and end.
pub fn annotate(key: &'static str, value: impl Into<opentelemetry::Value>) {
    tracing::Span::current().set_attribute(key, value);
}

/// Serves `router` on `listener` until `shutdown` completes, then finishes in-flight requests.
///
/// While the fault plan makes this service unreachable, the listener is really closed (callers
/// get "connection refused"), and it is opened again on the same address when that ends.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let address = listener.local_addr()?;
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let mut listener = Some(listener);
    loop {
        let listener = match listener.take() {
            Some(listener) => listener,
            None => bind_again(address).await?,
        };
        let mut stopping = stop.clone();
        let closing = async move {
            tokio::select! {
                _ = stopping.wait_for(|stop| *stop) => {}
                _ = faults::until_unreachable(true) => {}
            }
        };
        axum::serve(
            listener,
            router
                .clone()
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(closing)
        .await?;
        if *stop.borrow() {
            return Ok(());
        }
        // Unreachable: nothing listens until the fault is cleared (or the service stops).
        let mut stopping = stop.clone();
        tokio::select! {
            _ = stopping.wait_for(|stop| *stop) => return Ok(()),
            _ = faults::until_unreachable(false) => {}
        }
    }
}

/// Whether this process's listeners share their port (see [`listen`]); a process runs one
/// service, so one setting holds for the listener it opens again after an `unreachable` fault.
static SHARED_PORT: AtomicBool = AtomicBool::new(false);

/// Opens a listener on `address`, as `TcpListener::bind` does. With `shared` (Unix), the port
/// is bound with `SO_REUSEPORT`: a new process of the same service can then listen on it while
/// this one finishes its requests, so a redeploy by `up` refuses no connection. Only a socket
/// bound the same way can join it: anything else that holds the port still makes this fail
/// with `AddrInUse`. Elsewhere `shared` changes nothing (a redeploy then stops the old process
/// before the new one listens).
pub fn listen(address: SocketAddr, shared: bool) -> std::io::Result<TcpListener> {
    SHARED_PORT.store(shared, Ordering::Relaxed);
    let socket = if address.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // What TcpListener::bind does on Unix: a restarted service gets its port back at once.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    #[cfg(all(unix, not(any(target_os = "solaris", target_os = "illumos"))))]
    socket.set_reuseport(shared)?;
    socket.bind(address)?;
    socket.listen(1024)
}

/// Opens the listener again after an `unreachable` fault, trying for a while if something
/// else took the port meanwhile.
async fn bind_again(address: SocketAddr) -> std::io::Result<TcpListener> {
    let mut last = None;
    for attempt in 0..20u64 {
        match listen(address, SHARED_PORT.load(Ordering::Relaxed)) {
            Ok(listener) => return Ok(listener),
            Err(err) => {
                tracing::warn!("cannot listen on {address} again ({err}); retrying");
                last = Some(err);
                tokio::time::sleep(std::time::Duration::from_millis(100 * (attempt + 1))).await;
            }
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("cannot listen again")))
}

/// What most services' `run` ends with: wrap `routes` in SERVER spans (see [`instrument`])
/// and serve them on `listener` until `shutdown` completes.
pub async fn serve_traced(
    listener: TcpListener,
    routes: Router,
    options: ServerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    serve(listener, instrument(routes, options), shutdown).await?;
    Ok(())
}

/// The method as the semantic conventions want it: a known method, or `_OTHER`.
pub fn method_name(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "_OTHER",
    }
}

/// The middleware: extract context, open the SERVER span, run the handler inside it.
pub async fn trace_request(
    State(options): State<Arc<ServerOptions>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = method_name(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string());
    let span_name = match &route {
        Some(route) => format!("{method} {route}"),
        None => method.to_string(),
    };
    let (server_address, server_port) = host_and_port(request.headers());
    let client_address = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let user_agent = request
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);

    let parent = continue_context(request.headers(), &options);

    let span = tracing::info_span!(
        "http.server.request",
        otel.name = %span_name,
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = method,
        http.route = route.as_deref(),
        url.path = request.uri().path(),
        url.query = request.uri().query(),
        url.scheme = "http",
        server.address = server_address.as_deref(),
        server.port = server_port.map(i64::from),
        client.address = client_address.as_deref(),
        user_agent.original = user_agent.as_deref(),
        network.protocol.version = protocol_version(&request),
        http.response.status_code = Empty,
        error.type = Empty,
    );
    let user = baggage::user_entries(&parent);
    for (key, value) in &user {
        span.set_attribute(*key, value.clone());
    }
    let _ = span.set_parent(parent);

    // With no fault in force (the usual case) a request costs nothing more.
    let response = if faults::any_in_force() {
        let served = faults::Served {
            route: route.clone(),
            baggage: user.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        };
        let effects = faults::on_request(&served);
        faults::reveal(&span, &effects.kinds);
        faults::reveal_delay(&span, effects.delay);
        let handle = async move {
            suffer(&effects).await;
            match effects.error {
                Some((status, message)) => ApiError::Failed { status, message }.into_response(),
                None => next.run(request).await,
            }
        };
        faults::serving(served, handle)
            .instrument(span.clone())
            .await
    } else {
        next.run(request).instrument(span.clone()).await
    };

    let status = response.status();
    span.record("http.response.status_code", i64::from(status.as_u16()));
    let mut metric_attributes = vec![
        KeyValue::new("http.request.method", method),
        KeyValue::new("url.scheme", "http"),
        KeyValue::new("http.response.status_code", i64::from(status.as_u16())),
    ];
    if let Some(route) = route {
        metric_attributes.push(KeyValue::new("http.route", route));
    }
    // 4xx is the caller's problem; only 5xx marks a SERVER span as failed.
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
        span.record("error.type", status.as_str());
        metric_attributes.push(KeyValue::new("error.type", status.as_str().to_string()));
    }
    instruments()
        .http_server_duration
        .record(started.elapsed().as_secs_f64(), &metric_attributes);
    response
}

/// What a fault does to a request before its handler runs: time, CPU and memory, spent as
/// slow code would spend them.
async fn suffer(effects: &tracedojo_faults::follower::RequestEffects) {
    if !effects.delay.is_zero() {
        tokio::time::sleep(effects.delay).await;
    }
    if !effects.cpu_burn.is_zero() {
        faults::burn_cpu(effects.cpu_burn);
    }
    if effects.leak_kb > 0
        && let Some(installed) = tracedojo_faults::follower::installed()
    {
        installed.leak(effects.leak_kb);
    }
}

/// The caller's trace context and baggage, plus any defaults this service adds.
fn continue_context(headers: &HeaderMap, options: &ServerOptions) -> Context {
    let extracted =
        global::get_text_map_propagator(|propagator| propagator.extract(&HeaderExtractor(headers)));
    let Some(defaults) = &options.baggage_defaults else {
        return extracted;
    };
    let extra = defaults(headers);
    if extra.is_empty() {
        return extracted;
    }
    let existing = extracted.baggage();
    let mut entries: Vec<KeyValue> = existing
        .iter()
        .map(|(k, (v, _))| KeyValue::new(k.clone(), v.clone()))
        .collect();
    for kv in extra {
        if existing.get(kv.key.as_str()).is_none() {
            entries.push(kv);
        }
    }
    extracted.with_baggage(entries)
}

fn host_and_port(headers: &HeaderMap) -> (Option<String>, Option<u16>) {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return (None, None);
    };
    split_host(host)
}

/// `name:port`, `[v6]:port`, `[v6]` or `name`, into address and port (80 when absent).
fn split_host(host: &str) -> (Option<String>, Option<u16>) {
    if let Some(rest) = host.strip_prefix('[') {
        let Some((address, after)) = rest.split_once(']') else {
            return (Some(host.to_string()), None);
        };
        let port = after.strip_prefix(':').map_or(Some(80), |p| p.parse().ok());
        return (Some(address.to_string()), port);
    }
    match host.rsplit_once(':') {
        Some((name, port)) => (Some(name.to_string()), port.parse().ok()),
        None => (Some(host.to_string()), Some(80)),
    }
}

fn protocol_version(request: &Request) -> &'static str {
    match request.version() {
        axum::http::Version::HTTP_10 => "1.0",
        axum::http::Version::HTTP_2 => "2",
        axum::http::Version::HTTP_3 => "3",
        _ => "1.1",
    }
}

/// Why a service could not start or stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    #[error("{0}")]
    Config(String),
    #[error("server stopped")]
    Io(#[from] std::io::Error),
}

#[cfg(test)]
mod tests {
    use super::split_host;

    #[test]
    fn host_headers_split_into_address_and_port() {
        assert_eq!(
            split_host("127.0.0.1:8080"),
            (Some("127.0.0.1".into()), Some(8080))
        );
        assert_eq!(split_host("[::1]:8080"), (Some("::1".into()), Some(8080)));
        assert_eq!(split_host("[::1]"), (Some("::1".into()), Some(80)));
        assert_eq!(
            split_host("shop.example"),
            (Some("shop.example".into()), Some(80))
        );
    }
}
