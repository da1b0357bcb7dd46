//! The kiosk: the full-screen page a booth shows while a scenario plays, and the small API it
//! reads. Every asset is compiled in, so it works offline.
//!
//! | route | what |
//! |---|---|
//! | `GET /` and `/assets/NAME` | the page |
//! | `GET /api/now` | the scenario, the act playing, its countdown, and what the explorer shows of it ([`lens`]) |
//! | `POST /api/control` | a presenter's key: `{"command": "pause" \| "resume" \| "toggle" \| "next" \| "previous"}` |
//!
//! Without a token the kiosk answers only requests naming a loopback host (a booth's screen
//! is plugged into the machine that plays); with one (`--kiosk-token`) it may listen on the
//! network and every API request needs `Authorization: Bearer TOKEN`, which the page takes
//! from its URL's fragment. Requests from another site's page are refused either way.

pub mod lens;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tracedojo_web::guard::{bearer_token_matches, host_header_names_loopback};
use tracedojo_web::{Asset, CHART_JS, EmbeddedPage};

use crate::play::{Command, NowPlaying, unix_ms};
use crate::scenario::Scenario;

/// The shortest token the kiosk takes, as for the control API and the workshop's board.
pub use tracedojo_web::guard::MIN_TOKEN_CHARS;

/// Scripts, styles and connections only from the kiosk itself.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; img-src 'self' data:; style-src 'self'";

const PAGE: EmbeddedPage = EmbeddedPage {
    index_html: include_str!("../../kiosk/index.html"),
    assets: &[
        Asset {
            name: "kiosk.js",
            content_type: "text/javascript; charset=utf-8",
            body: include_bytes!("../../kiosk/kiosk.js"),
        },
        Asset {
            name: "kiosk.css",
            content_type: "text/css; charset=utf-8",
            body: include_bytes!("../../kiosk/kiosk.css"),
        },
        CHART_JS,
    ],
    content_security_policy: CONTENT_SECURITY_POLICY,
};

/// What the kiosk serves.
pub struct KioskConfig {
    pub scenario: Scenario,
    /// The page's language until the presenter switches: `ja` or `en`.
    pub lang: &'static str,
    pub speed: f64,
    pub token: Option<String>,
    pub now: watch::Receiver<NowPlaying>,
    pub lens: watch::Receiver<lens::View>,
    pub commands: mpsc::Sender<Command>,
}

struct Shared {
    scenario: Value,
    lang: &'static str,
    speed: f64,
    token: Option<String>,
    now: watch::Receiver<NowPlaying>,
    lens: watch::Receiver<lens::View>,
    commands: mpsc::Sender<Command>,
}

/// Why the kiosk may not listen where asked.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Exposure {
    #[error(
        "the kiosk would listen on {0}, which other machines reach; give it a token (--kiosk-token or TRACEDOJO_KIOSK_TOKEN, at least {MIN_TOKEN_CHARS} characters) or listen on 127.0.0.1"
    )]
    OpenToTheNetwork(SocketAddr),
    #[error(
        "the kiosk's token must be at least {MIN_TOKEN_CHARS} characters of visible ASCII (no spaces); make one with e.g. `openssl rand -hex 16`"
    )]
    WeakToken,
}

/// Refuses to serve beyond loopback without a token, and a token too short or holding
/// characters a header or a URL would mangle.
pub fn check_exposure(address: SocketAddr, token: Option<&str>) -> Result<(), Exposure> {
    tracedojo_web::guard::check_exposure(address, token).map_err(|exposure| match exposure {
        tracedojo_web::guard::Exposure::OpenToTheNetwork => Exposure::OpenToTheNetwork(address),
        tracedojo_web::guard::Exposure::WeakToken => Exposure::WeakToken,
    })
}

/// The kiosk's routes.
pub fn router(config: KioskConfig) -> Router {
    let shared = Arc::new(Shared {
        scenario: scenario_json(&config.scenario),
        lang: config.lang,
        speed: config.speed,
        token: config.token,
        now: config.now,
        lens: config.lens,
        commands: config.commands,
    });
    Router::new()
        .route("/api/now", get(now))
        .route("/api/control", post(control))
        .merge(PAGE.router())
        .layer(middleware::from_fn_with_state(shared.clone(), guard))
        .layer(DefaultBodyLimit::max(1024))
        .with_state(shared)
}

/// Serves the kiosk on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    config: KioskConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(config))
        .with_graceful_shutdown(shutdown)
        .await
}

/// The page's address, the token in the fragment (which a browser never sends).
pub use tracedojo_web::page_url;

async fn guard(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host = headers.get(header::HOST);
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
        let own = host
            .and_then(|h| h.to_str().ok())
            .is_some_and(|host| origin == format!("http://{host}"));
        if !own {
            return refuse(
                StatusCode::FORBIDDEN,
                "requests from another site's page are refused",
            );
        }
    }
    if shared.token.is_none() && !host_header_names_loopback(host) {
        return refuse(
            StatusCode::FORBIDDEN,
            "without a token, the kiosk answers only requests to 127.0.0.1, [::1] or localhost",
        );
    }
    if let Some(token) = &shared.token
        && request.uri().path().starts_with("/api/")
        && !bearer_token_matches(headers, token)
    {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "the kiosk needs `Authorization: Bearer TOKEN`: open the URL with #token= that `tracedojo showcase` printed",
        );
    }
    next.run(request).await
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// `GET /api/now`.
async fn now(State(shared): State<Arc<Shared>>) -> Response {
    let playing = shared.now.borrow().clone();
    let now_ms = unix_ms(std::time::SystemTime::now());
    let mut lens = shared.lens.borrow().clone();
    // The lens reads every few seconds: a trace of the act before is not this act's.
    if lens
        .trace
        .as_ref()
        .is_some_and(|t| (t.loop_number, t.act) != (playing.loop_number, playing.act))
    {
        lens.trace = None;
    }
    let mut body = json!({
        "scenario": shared.scenario,
        "lang": shared.lang,
        "speed": shared.speed,
        "now_unix_ms": now_ms,
        "playing": playing,
        "lens": lens,
    });
    body["playing"]["remaining_ms"] = json!(playing.remaining_at(now_ms));
    ([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

/// `POST /api/control`.
async fn control(State(shared): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        command: Command,
    }
    let Ok(Body { command }) = serde_json::from_slice::<Body>(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({
                "error": "send {\"command\": C} with C one of pause, resume, toggle, next, previous",
                "field": "command",
            })),
        )
            .into_response();
    };
    match shared.commands.try_send(command) {
        Ok(()) => (StatusCode::ACCEPTED, Json(json!({ "command": command }))).into_response(),
        Err(_) => refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "the player is busy or stopped; press the key again",
        ),
    }
}

/// What the page needs of the scenario, in both languages.
fn scenario_json(scenario: &Scenario) -> Value {
    let acts: Vec<Value> = scenario
        .acts
        .iter()
        .map(|act| {
            json!({
                "name": act.name.get_ref(),
                "seconds": act.seconds.get_ref(),
                "look": lens::Look::of(act),
                "en": { "caption": act.en.caption.get_ref(), "talk": act.en.talk.get_ref() },
                "ja": { "caption": act.ja.caption.get_ref(), "talk": act.ja.talk.get_ref() },
            })
        })
        .collect();
    json!({
        "name": scenario.name(),
        "en": { "title": scenario.title(false) },
        "ja": { "title": scenario.title(true) },
        "acts": acts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_keeps_to_the_policy() {
        assert_eq!(PAGE.flaws(), Vec::<String>::new());
    }

    #[test]
    fn beyond_loopback_needs_a_good_token() {
        let loopback: SocketAddr = "127.0.0.1:8097".parse().unwrap();
        let wide: SocketAddr = "0.0.0.0:8097".parse().unwrap();
        assert_eq!(check_exposure(loopback, None), Ok(()));
        assert_eq!(
            check_exposure(wide, None),
            Err(Exposure::OpenToTheNetwork(wide))
        );
        assert_eq!(
            check_exposure(wide, Some("short")),
            Err(Exposure::WeakToken)
        );
        assert_eq!(
            check_exposure(wide, Some("sixteen chars ok")),
            Err(Exposure::WeakToken)
        );
        assert_eq!(check_exposure(wide, Some("0123456789abcdef")), Ok(()));
        assert_eq!(
            page_url(wide, Some("a+b/0123456789abc")),
            "http://127.0.0.1:8097/#token=a%2Bb%2F0123456789abc"
        );
    }
}
