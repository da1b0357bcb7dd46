//! The web UI: a single page written in plain HTML, CSS and JavaScript (`explorer/ui/`), with
//! no framework and no build step, compiled into the binary so it works offline.
//!
//! `/` answers `index.html`; `/assets/NAME` answers the other files. The page reads only the
//! JSON API (`explorer/API.md`) and routes by the URL's fragment (`/#/trace/ID`), so every
//! view is linkable while the server knows just these paths.
//!
//! Every answer carries `cache-control: no-cache` (a rebuilt binary's page is never stale) and
//! a content security policy that allows scripts, styles and connections only from the
//! explorer itself: no inline script can run even if some span text were ever put on the page
//! as markup. (The page never does that: `app.js` writes API values with `textContent` and
//! `setAttribute` only.)

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The policy every UI answer carries. `img-src data:` is for the inline SVG favicon form
/// browsers may use; the page itself sets styles only through the CSSOM, which `style-src
/// 'self'` allows.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; img-src 'self' data:; style-src 'self'";

const INDEX_HTML: &str = include_str!("../ui/index.html");

/// The files under `/assets/`: name, content type, bytes.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../ui/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../ui/app.css"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_bytes!("../ui/favicon.svg"),
    ),
];

/// `/` and the assets under `/assets/`.
pub fn router() -> Router {
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Serves the router on a free port and answers one GET: (status line, headers, body).
    async fn get(path: &str) -> (String, Vec<(String, String)>, String) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, router()).await });
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(
                format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
            )
            .await
            .unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.unwrap();
        server.abort();
        let text = String::from_utf8(raw).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let mut lines = head.lines();
        let status = lines.next().unwrap().to_string();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        (status, headers, body.to_string())
    }

    fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name} header in {headers:?}"))
    }

    #[tokio::test]
    async fn the_page_and_its_assets_are_served_with_their_types_and_policy() {
        for (path, content_type) in [
            ("/", "text/html; charset=utf-8"),
            ("/assets/app.js", "text/javascript; charset=utf-8"),
            ("/assets/app.css", "text/css; charset=utf-8"),
            ("/assets/favicon.svg", "image/svg+xml"),
        ] {
            let (status, headers, body) = get(path).await;
            assert!(status.contains("200"), "{path}: {status}");
            assert_eq!(header(&headers, "content-type"), content_type, "{path}");
            assert_eq!(header(&headers, "cache-control"), "no-cache", "{path}");
            assert_eq!(
                header(&headers, "content-security-policy"),
                CONTENT_SECURITY_POLICY,
                "{path}"
            );
            assert!(!body.is_empty(), "{path} is empty");
        }
        let (status, headers, _) = get("/assets/nothing.js").await;
        assert!(status.contains("404"), "{status}");
        assert_eq!(
            header(&headers, "content-security-policy"),
            CONTENT_SECURITY_POLICY
        );
    }

    #[test]
    fn the_page_refers_only_to_assets_that_exist_and_holds_no_inline_script() {
        for reference in INDEX_HTML.split("/assets/").skip(1) {
            let name = reference.split('"').next().unwrap();
            assert!(
                ASSETS.iter().any(|(asset, _, _)| *asset == name),
                "index.html refers to /assets/{name}, which is not served"
            );
        }
        // The policy would block them anyway; this says why the page would break.
        let lower = INDEX_HTML.to_ascii_lowercase();
        assert_eq!(lower.matches("<script").count(), 1, "one script: app.js");
        assert!(lower.contains("<script src=\"/assets/app.js\""));
        assert!(!lower.contains(" style=\""), "inline styles are blocked");
        assert!(!lower.contains(" onclick="), "inline handlers are blocked");
    }

    #[test]
    fn the_script_never_builds_markup_from_strings() {
        let script = std::str::from_utf8(ASSETS[0].2).unwrap();
        for forbidden in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
        ] {
            assert!(
                !script.contains(forbidden),
                "app.js uses {forbidden}: API values must go on the page as text"
            );
        }
    }
}
