//! The board's page: plain HTML, CSS and JavaScript (`workshop/ui/`), compiled into the binary
//! so a board works in a room without internet. `/` answers `index.html`; `/assets/NAME` the
//! other files.
//!
//! The page holds no data: it reads `GET /api/board` with the token from its URL's fragment
//! (never sent in the page's own request) and writes every value with `textContent`. Every
//! answer carries a content security policy that allows scripts, styles and connections only
//! from the board itself, so even a name holding markup could never run as script.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; img-src 'self' data:; style-src 'self'";

pub(super) const INDEX_HTML: &str = include_str!("../../ui/index.html");

/// The files under `/assets/`: name, content type, bytes.
pub(super) const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "board.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../ui/board.js"),
    ),
    (
        "board.css",
        "text/css; charset=utf-8",
        include_bytes!("../../ui/board.css"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_bytes!("../../ui/favicon.svg"),
    ),
];

/// `/` and the assets under `/assets/`.
pub(super) fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/assets/{name}", get(asset))
}

async fn index() -> Response {
    answer(
        StatusCode::OK,
        "text/html; charset=utf-8",
        INDEX_HTML.as_bytes(),
    )
}

async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(asset, _, _)| *asset == name) {
        Some((_, content_type, body)) => answer(StatusCode::OK, content_type, body),
        None => answer(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            b"no such asset",
        ),
    }
}

fn answer(status: StatusCode, content_type: &'static str, body: &'static [u8]) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}
