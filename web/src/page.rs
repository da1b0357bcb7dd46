//! A single page in plain HTML, CSS and JavaScript, compiled into the binary so it works
//! offline: `/` answers its `index.html`, `/assets/NAME` its other files.
//!
//! Every answer, a 404 included, carries:
//! - `cache-control: no-cache`, so a rebuilt binary's page is never stale;
//! - the caller's content security policy, which should allow scripts, styles and connections
//!   only from the server itself: then no inline script can run, even if some value were ever
//!   put on the page as markup;
//! - `x-content-type-options: nosniff`, so a browser runs a file only as the type it is
//!   served as;
//! - `referrer-policy: no-referrer`, so a link followed from the page does not carry its URL
//!   (a token in it, or what the page was showing) to another site.
//!
//! [`EmbeddedPage::flaws`] lets each caller's tests check that its page keeps to that policy.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// One file under `/assets/`.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// The file's name in `/assets/NAME`.
    pub name: &'static str,
    /// Its `Content-Type`, e.g. `text/javascript; charset=utf-8`.
    pub content_type: &'static str,
    /// Its bytes, usually `include_bytes!`.
    pub body: &'static [u8],
}

/// A page and its assets, with the content security policy every answer carries.
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedPage {
    /// What `/` answers; it refers to its assets as `/assets/NAME`.
    pub index_html: &'static str,
    pub assets: &'static [Asset],
    /// The `Content-Security-Policy` of every answer.
    pub content_security_policy: &'static str,
}

/// Calls that turn a string into markup or code: a page that used them to show a value could
/// run whatever markup the value holds.
const MARKUP_FROM_STRINGS: &[&str] = &[
    "innerHTML",
    "outerHTML",
    "insertAdjacentHTML",
    "document.write",
    "eval(",
    "new Function",
];

impl EmbeddedPage {
    /// `/` and the assets under `/assets/`, to merge into a router of any state.
    pub fn router<S: Clone + Send + Sync + 'static>(self) -> Router<S> {
        Router::new()
            .route("/", get(move || async move { self.index() }))
            .route(
                "/assets/{name}",
                get(move |Path(name): Path<String>| async move { self.asset_named(&name) }),
            )
    }

    /// The asset of that name, if the page has one.
    pub fn asset(&self, name: &str) -> Option<&'static Asset> {
        self.assets.iter().find(|asset| asset.name == name)
    }

    /// What in the page its policy would break or could not protect, one sentence each: a
    /// reference to an asset that is not served; inline script, style or event handlers (the
    /// policy blocks them, so the page would not work); a script that turns strings into
    /// markup or code (a value holding markup would run). Empty for a sound page: for the
    /// callers' tests.
    pub fn flaws(&self) -> Vec<String> {
        let mut flaws = Vec::new();
        for reference in self.index_html.split("/assets/").skip(1) {
            let name = reference.split('"').next().unwrap_or_default();
            if self.asset(name).is_none() {
                flaws.push(format!(
                    "index.html refers to /assets/{name}, which is not served"
                ));
            }
        }
        let html = self.index_html.to_ascii_lowercase();
        for script in html.split("<script").skip(1) {
            let tag = script.split('>').next().unwrap_or_default();
            if !tag.contains(" src=\"/assets/") {
                flaws.push(format!(
                    "index.html holds an inline script (<script{tag}>), which the policy blocks"
                ));
            }
        }
        if html.contains("<style") || html.contains(" style=") {
            flaws.push("index.html holds an inline style, which the policy blocks".to_string());
        }
        if let Some(event) = inline_handler_event(&html) {
            flaws.push(format!(
                "index.html holds an inline event handler (on{event}=), which the policy blocks"
            ));
        }
        for script in self
            .assets
            .iter()
            .filter(|asset| asset.content_type.starts_with("text/javascript"))
        {
            let Ok(text) = std::str::from_utf8(script.body) else {
                flaws.push(format!("{} is not UTF-8", script.name));
                continue;
            };
            for call in MARKUP_FROM_STRINGS {
                if text.contains(call) {
                    flaws.push(format!(
                        "{} uses {call}: values must go on the page as text",
                        script.name
                    ));
                }
            }
        }
        flaws
    }

    fn index(self) -> Response {
        self.answer(
            StatusCode::OK,
            "text/html; charset=utf-8",
            self.index_html.as_bytes(),
        )
    }

    fn asset_named(self, name: &str) -> Response {
        match self.asset(name) {
            Some(asset) => self.answer(StatusCode::OK, asset.content_type, asset.body),
            None => self.answer(
                StatusCode::NOT_FOUND,
                "text/plain; charset=utf-8",
                b"no such asset",
            ),
        }
    }

    fn answer(
        self,
        status: StatusCode,
        content_type: &'static str,
        body: &'static [u8],
    ) -> Response {
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(self.content_security_policy),
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
}

/// The event of the first `on...=` attribute in lowercased HTML (`click` for `onclick=`), if
/// any.
fn inline_handler_event(html: &str) -> Option<&str> {
    html.split(" on").skip(1).find_map(|rest| {
        let name_length = rest
            .find(|c: char| !c.is_ascii_lowercase())
            .unwrap_or(rest.len());
        let (name, after) = rest.split_at(name_length);
        (!name.is_empty() && after.starts_with('=')).then_some(name)
    })
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;

    const POLICY: &str = "default-src 'self'";

    const PAGE: EmbeddedPage = EmbeddedPage {
        index_html: "<!doctype html><link rel=\"stylesheet\" href=\"/assets/page.css\">\
                     <script src=\"/assets/page.js\" defer></script><p>switch on=off, one page</p>",
        assets: &[
            Asset {
                name: "page.js",
                content_type: "text/javascript; charset=utf-8",
                body: b"document.title = 'page';",
            },
            Asset {
                name: "page.css",
                content_type: "text/css; charset=utf-8",
                body: b"p { margin: 0 }",
            },
        ],
        content_security_policy: POLICY,
    };

    /// Status, headers and body of one GET through the page's router, merged into a router
    /// with a state of its own as the callers' routers are.
    async fn get(path: &str) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let app: Router = Router::new().merge(PAGE.router()).with_state(7u8);
        let request = Request::get(path).body(Body::empty()).unwrap();
        let response = app.oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        (parts.status, parts.headers, body.to_vec())
    }

    fn assert_headers(path: &str, headers: &axum::http::HeaderMap, content_type: &str) {
        for (name, value) in [
            ("content-type", content_type),
            ("cache-control", "no-cache"),
            ("content-security-policy", POLICY),
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "no-referrer"),
        ] {
            assert_eq!(
                headers.get(name).and_then(|v| v.to_str().ok()),
                Some(value),
                "{path}: {name}"
            );
        }
    }

    #[tokio::test]
    async fn the_page_and_its_assets_are_served_with_their_types_and_headers() {
        let (status, headers, body) = get("/").await;
        assert_eq!(status, StatusCode::OK);
        assert_headers("/", &headers, "text/html; charset=utf-8");
        assert_eq!(body, PAGE.index_html.as_bytes());
        for asset in PAGE.assets {
            let path = format!("/assets/{}", asset.name);
            let (status, headers, body) = get(&path).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert_headers(&path, &headers, asset.content_type);
            assert_eq!(body, asset.body, "{path}");
        }
    }

    #[tokio::test]
    async fn a_missing_asset_is_a_404_with_the_same_headers() {
        for path in ["/assets/nothing.js", "/assets/", "/assets/page.js/more"] {
            let (status, headers, _) = get(path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
            if path == "/assets/nothing.js" {
                assert_headers(path, &headers, "text/plain; charset=utf-8");
            }
        }
    }

    #[test]
    fn a_sound_page_has_no_flaws() {
        assert_eq!(PAGE.flaws(), Vec::<String>::new());
    }

    #[test]
    fn flaws_name_what_the_policy_would_break_or_could_not_protect() {
        const SCRIPT: &[Asset] = &[Asset {
            name: "page.js",
            content_type: "text/javascript; charset=utf-8",
            body: b"row.innerHTML = name; eval(code);",
        }];
        let page = EmbeddedPage {
            index_html: "<script src=\"/assets/page.js\"></script>\
                         <script src=\"/assets/gone.js\"></script>\
                         <script>alert(1)</script><style>p{}</style>\
                         <button onclick=\"go()\">go</button>",
            assets: SCRIPT,
            content_security_policy: POLICY,
        };
        let flaws = page.flaws().join("\n");
        for expected in [
            "/assets/gone.js, which is not served",
            "inline script (<script>)",
            "inline style",
            "inline event handler (onclick=)",
            "page.js uses innerHTML",
            "page.js uses eval(",
        ] {
            assert!(flaws.contains(expected), "{expected} in:\n{flaws}");
        }
        assert_eq!(page.flaws().len(), 6, "{flaws}");
    }
}
