//! The board's JSON API: participants' workshops post reports with the join code; the page
//! reads the board with the token. Errors are `{"error": "...", "field": "..."}`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tracedojo_web::guard::{bearer_token_matches, host_header_names_loopback, same_secret};

use super::state::{
    Board, Event, Full, MAX_LESSON, MAX_NAME_CHARS, MAX_PARTICIPANTS, MAX_TITLE_CHARS, Report,
};
use crate::progress::now_ms;

/// What every request handler shares.
pub(super) struct Shared {
    pub board: Board,
    pub code: String,
    pub token: Option<String>,
    pub join_url: String,
    /// Lesson titles in both languages, so the page shows them in its own language whatever
    /// language each participant works in.
    pub titles: BTreeMap<u32, (String, String)>,
}

/// Refuses requests made by another site's page (a browser sends `Origin` with those), and,
/// without a token, requests that do not name a loopback host (DNS rebinding).
pub(super) async fn guard(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let host = request.headers().get(header::HOST);
    if let Some(origin) = request.headers().get(header::ORIGIN)
        && !same_site(origin, host)
    {
        return error(
            StatusCode::FORBIDDEN,
            "requests from another site's page are refused",
            None,
        );
    }
    if shared.token.is_none() && !host_header_names_loopback(host) {
        return error(
            StatusCode::FORBIDDEN,
            "without a token, the board answers only requests to 127.0.0.1, [::1] or localhost",
            None,
        );
    }
    next.run(request).await
}

/// `GET /api/board`: every participant, the longest stuck first.
pub(super) async fn board(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Some(token) = &shared.token
        && !bearer_token_matches(&headers, token)
    {
        return error(
            StatusCode::UNAUTHORIZED,
            "the board needs `Authorization: Bearer TOKEN`: open the URL with #token= that `tracedojo workshop board` printed",
            Some("authorization"),
        );
    }
    let now = now_ms();
    let participants: Vec<Value> = shared
        .board
        .rows(now)
        .into_iter()
        .map(|row| {
            let titles = shared.titles.get(&row.lesson).cloned();
            let mut value = serde_json::to_value(row).unwrap_or(Value::Null);
            if let Some((en, ja)) = titles {
                value["titles"] = json!({ "en": en, "ja": ja });
            }
            value
        })
        .collect();
    let mut response = axum::Json(json!({
        "now_unix_ms": now,
        "code": shared.code,
        "join_url": shared.join_url,
        "capacity": MAX_PARTICIPANTS,
        "participants": participants,
    }))
    .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `POST /api/board/reports`: one event of one participant's workshop.
pub(super) async fn report(
    State(shared): State<Arc<Shared>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return error(rejection.status(), &rejection.body_text(), Some("body")),
    };
    let value: Value = match serde_json::from_slice(&body) {
        Ok(value @ Value::Object(_)) => value,
        Ok(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "the body must be a JSON object",
                Some("body"),
            );
        }
        Err(err) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("the body is not JSON: {err}"),
                Some("body"),
            );
        }
    };
    let report = match parse(&value, &shared.code) {
        Ok(report) => report,
        Err((status, message, field)) => return error(status, &message, Some(field)),
    };
    let (participant, lesson) = (report.participant.clone(), report.lesson);
    match shared.board.record(report, now_ms()) {
        Ok(()) => axum::Json(json!({
            "accepted": true,
            "participant": participant,
            "lesson": lesson,
        }))
        .into_response(),
        Err(Full) => error(
            StatusCode::TOO_MANY_REQUESTS,
            &format!("the board is full ({MAX_PARTICIPANTS} participants); restart it to clear it"),
            Some("participant"),
        ),
    }
}

type Refused = (StatusCode, String, &'static str);

fn bad(field: &'static str, message: impl Into<String>) -> Refused {
    (StatusCode::BAD_REQUEST, message.into(), field)
}

/// A report, or why not: the join code is checked before anything else is looked at, so
/// someone without it learns nothing about what a report should hold.
fn parse(value: &Value, code: &str) -> Result<Report, Refused> {
    let given = match &value["code"] {
        Value::String(given) => super::normalise_code(given),
        Value::Null => return Err(bad("code", "`code` is missing: the board's join code")),
        _ => {
            return Err(bad(
                "code",
                "`code` must be a string: the board's join code",
            ));
        }
    };
    if !same_secret(&given, code) {
        return Err((
            StatusCode::FORBIDDEN,
            "the join code is wrong; use the one the board shows (--board-code)".to_string(),
            "code",
        ));
    }
    let participant = match &value["participant"] {
        Value::String(name) => name.trim().to_string(),
        Value::Null => return Err(bad("participant", "`participant` is missing: your name")),
        _ => return Err(bad("participant", "`participant` must be a string")),
    };
    if participant.is_empty() {
        return Err(bad("participant", "`participant` must not be empty"));
    }
    if participant.chars().count() > MAX_NAME_CHARS {
        return Err(bad(
            "participant",
            format!("`participant` is longer than {MAX_NAME_CHARS} characters"),
        ));
    }
    if participant.chars().any(char::is_control) {
        return Err(bad(
            "participant",
            "`participant` holds a control character",
        ));
    }
    let lesson = match value["lesson"].as_u64() {
        Some(n) if (1..=u64::from(MAX_LESSON)).contains(&n) => n as u32,
        _ => {
            return Err(bad(
                "lesson",
                format!("`lesson` must be a lesson number from 1 to {MAX_LESSON}"),
            ));
        }
    };
    let title = match &value["title"] {
        Value::Null => String::new(),
        Value::String(title) if title.chars().count() > MAX_TITLE_CHARS => {
            return Err(bad(
                "title",
                format!("`title` is longer than {MAX_TITLE_CHARS} characters"),
            ));
        }
        Value::String(title) if title.chars().any(char::is_control) => {
            return Err(bad("title", "`title` holds a control character"));
        }
        Value::String(title) => title.trim().to_string(),
        _ => return Err(bad("title", "`title` must be a string")),
    };
    let event = match value["event"].as_str().and_then(Event::parse) {
        Some(event) => event,
        None => {
            return Err(bad(
                "event",
                format!("`event` must be one of {}", Event::NAMES),
            ));
        }
    };
    // The participant's clock is only checked for form: the board times everything by its
    // own, as laptops' clocks disagree.
    match &value["at_unix_ms"] {
        Value::Null => {}
        at if at.as_u64().is_some() => {}
        _ => {
            return Err(bad(
                "at_unix_ms",
                "`at_unix_ms` must be a time in Unix milliseconds",
            ));
        }
    }
    Ok(Report {
        participant,
        lesson,
        title,
        event,
    })
}

/// Whether `Origin` is the site the request was sent to (the board's own page).
fn same_site(origin: &HeaderValue, host: Option<&HeaderValue>) -> bool {
    let (Ok(origin), Some(Ok(host))) = (origin.to_str(), host.map(|h| h.to_str())) else {
        return false;
    };
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|site| site.eq_ignore_ascii_case(host))
}

fn error(status: StatusCode, message: &str, field: Option<&str>) -> Response {
    let mut body = json!({ "error": message });
    if let Some(field) = field {
        body["field"] = json!(field);
    }
    (status, axum::Json(body)).into_response()
}
