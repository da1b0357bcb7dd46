//! The board's page: plain HTML, CSS and JavaScript (`workshop/ui/`), compiled into the binary
//! so a board works in a room without internet. `/` answers `index.html`; `/assets/NAME` the
//! other files.
//!
//! The page holds no data: it reads `GET /api/board` with the token from its URL's fragment
//! (never sent in the page's own request) and writes every value with `textContent`. Every
//! answer (served by `tracedojo_web::EmbeddedPage`) carries a content security policy that
//! allows scripts, styles and connections only from the board itself, so even a name holding
//! markup could never run as script.

use axum::Router;
use tracedojo_web::{Asset, EmbeddedPage};

pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; img-src 'self' data:; style-src 'self'";

pub(super) const PAGE: EmbeddedPage = EmbeddedPage {
    index_html: include_str!("../../ui/index.html"),
    assets: &[
        Asset {
            name: "board.js",
            content_type: "text/javascript; charset=utf-8",
            body: include_bytes!("../../ui/board.js"),
        },
        Asset {
            name: "board.css",
            content_type: "text/css; charset=utf-8",
            body: include_bytes!("../../ui/board.css"),
        },
        Asset {
            name: "favicon.svg",
            content_type: "image/svg+xml",
            body: include_bytes!("../../ui/favicon.svg"),
        },
    ],
    content_security_policy: CONTENT_SECURITY_POLICY,
};

/// `/` and the assets under `/assets/`.
pub(super) fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    PAGE.router()
}
