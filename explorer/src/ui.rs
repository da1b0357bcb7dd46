//! The web UI: a single page written in plain HTML, CSS and JavaScript (`explorer/ui/`), with
//! no framework and no build step, compiled into the binary so it works offline.
//!
//! `/` answers `index.html`; `/assets/NAME` answers the other files, among them the kit's
//! shared charts (`chart.js`, from `tracedojo_web`), which the search and RED views draw
//! with. The page reads only the JSON API (`explorer/API.md`) and routes by the URL's
//! fragment (`/#/trace/ID`), so every view is linkable while the server knows just these
//! paths.
//!
//! Every answer (served by `tracedojo_web::EmbeddedPage`) carries `cache-control: no-cache` (a
//! rebuilt binary's page is never stale) and a content security policy that allows scripts, styles and connections only from the
//! explorer itself: no inline script can run even if some span text were ever put on the page
//! as markup. (The page never does that: `app.js` writes API values with `textContent` and
//! `setAttribute` only.)

use axum::Router;
use tracedojo_web::{Asset, CHART_JS, EmbeddedPage};

/// The policy every UI answer carries. `img-src data:` is for the inline SVG favicon form
/// browsers may use; the page itself sets styles only through the CSSOM, which `style-src
/// 'self'` allows.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; img-src 'self' data:; style-src 'self'";

const PAGE: EmbeddedPage = EmbeddedPage {
    index_html: include_str!("../ui/index.html"),
    assets: &[
        Asset {
            name: "app.js",
            content_type: "text/javascript; charset=utf-8",
            body: include_bytes!("../ui/app.js"),
        },
        CHART_JS,
        Asset {
            name: "app.css",
            content_type: "text/css; charset=utf-8",
            body: include_bytes!("../ui/app.css"),
        },
        Asset {
            name: "favicon.svg",
            content_type: "image/svg+xml",
            body: include_bytes!("../ui/favicon.svg"),
        },
    ],
    content_security_policy: CONTENT_SECURITY_POLICY,
};

/// `/` and the assets under `/assets/`.
pub fn router() -> Router {
    PAGE.router()
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
            ("/assets/chart.js", "text/javascript; charset=utf-8"),
            ("/assets/app.css", "text/css; charset=utf-8"),
            ("/assets/favicon.svg", "image/svg+xml"),
        ] {
            let (status, headers, body) = get(path).await;
            assert!(status.contains("200"), "{path}: {status}");
            assert_eq!(header(&headers, "content-type"), content_type, "{path}");
            assert_eq!(
                header(&headers, "content-security-policy"),
                CONTENT_SECURITY_POLICY,
                "{path}"
            );
            assert!(!body.is_empty(), "{path} is empty");
        }
    }

    #[test]
    fn the_page_keeps_to_its_policy() {
        assert_eq!(PAGE.flaws(), Vec::<String>::new());
        assert!(PAGE.index_html.contains("<script src=\"/assets/app.js\""));
        // The charts load first: app.js draws with them.
        let charts = PAGE
            .index_html
            .find("/assets/chart.js")
            .expect("chart.js is loaded");
        assert!(charts < PAGE.index_html.find("/assets/app.js").expect("app.js"));
    }
}
