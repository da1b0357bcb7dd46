//! The control API: JSON over HTTP, served by `tracedojo up` (or on its own by
//! `tracedojo fault serve`, for services started one by one).
//!
//! | method and path | what it does |
//! |---|---|
//! | `GET /api/faults` | the plan: every fault in force |
//! | `POST /api/faults` | sets one fault (a [`FaultSpec`]), answering its id, or several (a JSON array: all or none), answering their ids |
//! | `DELETE /api/faults/{id}` | clears one fault |
//! | `DELETE /api/faults` | clears every fault |
//! | `GET /api/faults/presets` | the named incidents |
//! | `POST /api/faults/presets/{name}` | sets a preset's faults |
//! | `PUT /api/faults/reveal` | `{"reveal": true}` marks the spans faults touch from now on; `false` hides them again |
//! | `GET /api/faults/plan?after=N&epoch=E` | waits (up to 20 s) for a plan newer than version N: how services follow it |
//!
//! A change answers once every following service runs it (or after a second), with
//! `"applied_by"` and `"pending"` service lists. Errors are `{"error": "...", "field": "..."}`
//! with 400 (bad request), 401 (token), 404.
//! On an address other than loopback every request needs `Authorization: Bearer TOKEN`.
//! Without a token, requests must name a loopback host and come from no web page (no
//! `Origin` header), so a page in a browser on the same machine cannot set faults.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use tracedojo_web::guard::{
    Exposure, MIN_TOKEN_CHARS, bearer_token_matches, host_header_names_loopback,
};

use crate::plan::FaultStore;
use crate::presets::{self, PRESETS};
use crate::spec::{FaultSpec, FieldError};

/// How long a service's request for a newer plan is held open.
pub const LONG_POLL: Duration = Duration::from_secs(20);
/// How long a change waits for every service to apply it before answering.
pub const APPLY_WITHIN: Duration = Duration::from_secs(1);

struct Control {
    store: Arc<FaultStore>,
    token: Option<String>,
}

/// The control API over `store`; with a token, every request must carry it.
pub fn router(store: Arc<FaultStore>, token: Option<String>) -> Router {
    let control = Arc::new(Control { store, token });
    Router::new()
        .route("/api/faults", get(list).post(set).delete(clear_all))
        .route("/api/faults/{id}", delete(clear))
        .route("/api/faults/presets", get(list_presets))
        .route("/api/faults/presets/{name}", post(set_preset))
        .route("/api/faults/plan", get(plan_after))
        .route("/api/faults/reveal", axum::routing::put(set_reveal))
        .layer(middleware::from_fn_with_state(
            control.clone(),
            require_token,
        ))
        .layer(DefaultBodyLimit::max(64 * 1024))
        .with_state(control)
}

/// Refuses to serve the control API beyond loopback without a token.
pub fn check_exposure(address: SocketAddr, token: Option<&str>) -> Result<(), String> {
    match tracedojo_web::guard::check_exposure(address, token) {
        Ok(()) => Ok(()),
        Err(Exposure::WeakToken) => Err(format!(
            "the control token must be at least {MIN_TOKEN_CHARS} characters of visible ASCII (no spaces); make one with e.g. `openssl rand -hex 16`"
        )),
        Err(Exposure::OpenToTheNetwork) => Err(format!(
            "the fault control API would listen on {address}, which is reachable from other machines; \
             give a token (TRACEDOJO_CONTROL_TOKEN, or --control-token for `up`, --token for `fault serve`) or listen on 127.0.0.1"
        )),
    }
}

/// Lets through only requests this machine's own tools make (or, with a token, that carry it).
async fn require_token(
    State(control): State<Arc<Control>>,
    request: Request,
    next: Next,
) -> Response {
    // Browsers send `Origin` with every cross-site write; the CLI and the services never do.
    if request.headers().contains_key(header::ORIGIN) {
        return error(
            StatusCode::FORBIDDEN,
            "requests from web pages are refused; use `tracedojo fault` or a client without an Origin header",
            None,
        );
    }
    match &control.token {
        // A name that resolves to 127.0.0.1 but is not ours (DNS rebinding) gets nothing.
        None if !host_header_names_loopback(request.headers().get(header::HOST)) => {
            return error(
                StatusCode::FORBIDDEN,
                "without a token, the control API answers only requests to 127.0.0.1, [::1] or localhost",
                None,
            );
        }
        Some(token) if !bearer_token_matches(request.headers(), token) => {
            return error(
                StatusCode::UNAUTHORIZED,
                "a valid `Authorization: Bearer TOKEN` header is required",
                None,
            );
        }
        _ => {}
    }
    next.run(request).await
}

async fn list(State(control): State<Arc<Control>>) -> Response {
    axum::Json(control.store.plan()).into_response()
}

async fn set(State(control): State<Arc<Control>>, body: Bytes) -> Response {
    let value: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(err) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("the body is not JSON: {err}"),
                None,
            );
        }
    };
    let several = value.is_array();
    let specs = if several {
        parse::<Vec<FaultSpec>>(value)
    } else {
        parse::<FaultSpec>(value).map(|spec| vec![spec])
    };
    let specs = match specs {
        Ok(specs) => specs,
        Err(err) => return field_error(err),
    };
    match control.store.set(specs) {
        Ok(ids) => {
            let mut answer = applied(&control.store).await;
            if several {
                answer["ids"] = json!(ids);
            } else {
                answer["id"] = json!(ids[0]);
            }
            (StatusCode::CREATED, axum::Json(answer)).into_response()
        }
        Err(err) => field_error(err),
    }
}

/// Reads a spec (or specs) from JSON; an error names the field's path, e.g.
/// `fault.distribution`.
fn parse<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let field = if path == "." {
            "body".to_string()
        } else {
            path
        };
        FieldError::new(field, format!("not a fault spec: {}", err.inner()))
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Reveal {
    reveal: bool,
}

async fn set_reveal(State(control): State<Arc<Control>>, body: Bytes) -> Response {
    let reveal: Reveal = match serde_json::from_slice::<Value>(&body)
        .map_err(|e| FieldError::new("body", format!("not JSON: {e}")))
        .and_then(parse)
    {
        Ok(reveal) => reveal,
        Err(err) => return field_error(err),
    };
    control.store.set_reveal(reveal.reveal);
    let mut answer = applied(&control.store).await;
    answer["reveal"] = json!(reveal.reveal);
    axum::Json(answer).into_response()
}

async fn clear(State(control): State<Arc<Control>>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("{id:?} is not a fault id; ids are numbers, see GET /api/faults"),
            Some("id"),
        );
    };
    if control.store.clear(id) {
        let mut answer = applied(&control.store).await;
        answer["cleared"] = json!([id]);
        axum::Json(answer).into_response()
    } else {
        error(
            StatusCode::NOT_FOUND,
            &format!("no fault {id} is in force"),
            Some("id"),
        )
    }
}

async fn clear_all(State(control): State<Arc<Control>>) -> Response {
    let cleared = control.store.clear_all();
    let mut answer = applied(&control.store).await;
    answer["cleared"] = json!(cleared);
    axum::Json(answer).into_response()
}

/// Waits (up to a second) until every following service runs the current plan; says which
/// do and which do not yet.
async fn applied(store: &FaultStore) -> Value {
    let version = store.plan().version;
    let (applied, pending) = store.wait_applied(version, APPLY_WITHIN).await;
    json!({ "version": version, "applied_by": applied, "pending": pending })
}

async fn list_presets() -> Response {
    let presets: Vec<Value> = PRESETS
        .iter()
        .map(|p| json!({ "name": p.name, "summary": p.summary, "faults": (p.faults)() }))
        .collect();
    axum::Json(presets).into_response()
}

async fn set_preset(State(control): State<Arc<Control>>, Path(name): Path<String>) -> Response {
    let Some(preset) = presets::find(&name) else {
        return error(
            StatusCode::NOT_FOUND,
            &format!("no preset {name:?}; choose one of: {}", presets::names()),
            Some("name"),
        );
    };
    match control.store.set((preset.faults)()) {
        Ok(ids) => {
            let mut answer = applied(&control.store).await;
            answer["preset"] = json!(preset.name);
            answer["ids"] = json!(ids);
            (StatusCode::CREATED, axum::Json(answer)).into_response()
        }
        Err(err) => field_error(err),
    }
}

#[derive(Deserialize)]
struct After {
    #[serde(default)]
    after: u64,
    /// The epoch of the plan the asker has (0: none yet).
    #[serde(default)]
    epoch: u64,
    /// The asking service, so the store knows who runs which version.
    #[serde(default)]
    service: Option<String>,
}

async fn plan_after(
    State(control): State<Arc<Control>>,
    query: Result<Query<After>, QueryRejection>,
) -> Response {
    let Ok(Query(After {
        after,
        epoch,
        service,
    })) = query
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "`after` must be a plan version (a number)",
            Some("after"),
        );
    };
    if let Some(service) = service.filter(|s| s.len() <= 64) {
        control.store.report(&service, after);
    }
    axum::Json(control.store.plan_after(after, epoch, LONG_POLL).await).into_response()
}

fn field_error(err: FieldError) -> Response {
    error(StatusCode::BAD_REQUEST, &err.to_string(), Some(&err.field))
}

fn error(status: StatusCode, message: &str, field: Option<&str>) -> Response {
    let mut body = json!({ "error": message });
    if let Some(field) = field {
        body["field"] = json!(field);
    }
    (status, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests;
