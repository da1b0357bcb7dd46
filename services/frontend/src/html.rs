//! HTML building blocks: escaping, the page layout, and the pieces several pages share.
//!
//! Pages are plain strings built with `format!`. The one rule that keeps them safe: every
//! value that comes from outside (a product name from the catalog, a search query, a message
//! from another service) goes through [`escape_html`] before it is put into markup. Even
//! numbers go through it, so a reader can check the rule by looking at any `format!` call:
//! each argument is either `escape_html(..)` or a fragment rendered by a function in this
//! crate.

use std::fmt::{Display, Write};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::clients::encode_query_value;
use crate::model::{Category, Product};
use crate::users::User;

/// Escapes the five characters that matter in HTML text and attribute values.
pub fn escape_html(value: impl Display) -> String {
    let text = value.to_string();
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(c),
        }
    }
    escaped
}

/// A price for people: `$12.99` (the shop only sells in USD; anything else shows its code).
pub fn money(cents: i64, currency: &str) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.unsigned_abs();
    let amount = format!("{sign}{}.{:02}", cents / 100, cents % 100);
    if currency == "USD" {
        format!("${amount}")
    } else {
        format!("{amount} {currency}")
    }
}

/// A link to a search, with the query encoded for the URL and then escaped for the attribute.
pub fn search_href(query: &str) -> String {
    escape_html(format!("/search?q={}", encode_query_value(query)))
}

tokio::task_local! {
    /// The explorer's page while a request is served (see [`with_explorer`]), as
    /// [`explorer_page`] writes it.
    static EXPLORER: Option<Arc<str>>;
}

/// Middleware: makes the explorer's address known to whatever renders this request. A
/// task-local rather than one more argument to every page: it is the same for the whole
/// shop, and only the layout and the order page read it.
pub async fn with_explorer(
    State(explorer): State<Option<Arc<str>>>,
    request: Request,
    next: Next,
) -> Response {
    EXPLORER.scope(explorer, next.run(request)).await
}

/// The explorer's page that pages link to: its root, narrowed to the participant's
/// `service.namespace` when there is one, so a participant sharing an explorer (or following a
/// link from their own shop) sees their own traces. Views are added as a fragment (`#/red`).
pub fn explorer_page(explorer: &str, namespace: Option<&str>) -> String {
    let root = format!("{}/", explorer.trim_end_matches('/'));
    match namespace {
        Some(namespace) => format!("{root}?namespace={}", encode_query_value(namespace)),
        None => root,
    }
}

/// The explorer's page (see [`explorer_page`]), when the shop was told of an explorer.
pub fn explorer_url() -> Option<Arc<str>> {
    EXPLORER.try_with(Clone::clone).ok().flatten()
}

/// `ATTRIBUTES` of a link that opens the explorer beside the shop rather than in its place.
const NEW_TAB: &str = r#"target="_blank" rel="noopener""#;

/// A link to one trace in the explorer (`#/trace/ID`), when there is an explorer.
pub fn trace_link(trace_id: &str, text: &str) -> String {
    match explorer_url() {
        Some(explorer) => format!(
            r#"<a class="trace-link" href="{href}" {NEW_TAB}>🔎 {text}</a>"#,
            href = escape_html(format!("{explorer}#/trace/{trace_id}")),
            text = escape_html(text),
        ),
        None => String::new(),
    }
}

/// Whether `text` is a trace id as the explorer writes it: 32 lower-case hex digits.
pub fn is_trace_id(text: &str) -> bool {
    text.len() == 32 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The whole document: header with the shopper's segment, `body`, footer.
/// `body` is markup built by this crate, so it is inserted as it is.
pub fn page(title: &str, user: &User, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="{locale}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · tracedojo shop</title>
<style>{STYLE}</style>
</head>
<body>
<header class="top">
  <a class="brand" href="/">🛍️ tracedojo shop</a>
  <form class="search" action="/search" method="get" role="search">
    <input type="search" name="q" placeholder="Search products" aria-label="Search products" maxlength="100">
    <button type="submit">Search</button>
  </form>
  <nav class="links"><a href="/cart">🛒 Cart</a>{traces}</nav>
  <div class="segment" title="user {user_id} · {company} · {locale} · {device}">
    You are <span class="tier tier-{tier}">{tier}</span> in <strong>{region}</strong> on {device}
  </div>
</header>
{incidents}<main>
{body}
</main>
<footer>
  tracedojo shop — a real shop of microservices, traced with OpenTelemetry. Every click here is a trace.
  <br>Your user: <code>{user_id}</code> · {company} · {locale}
</footer>
</body>
</html>
"#,
        locale = escape_html(user.locale),
        title = escape_html(title),
        user_id = escape_html(&user.id),
        company = escape_html(user.company),
        tier = escape_html(user.tier),
        region = escape_html(user.region),
        device = escape_html(user.device),
        incidents = incidents_banner(&tracedojo_kit::faults::in_force()),
        traces = match explorer_url() {
            Some(explorer) => format!(
                r#" <a href="{}" {NEW_TAB} title="every click here is a trace">🔎 Traces</a>"#,
                escape_html(explorer)
            ),
            None => String::new(),
        },
    )
}

/// A line under the header naming the faults in force, so a facilitator sees at a glance what
/// is switched on; nothing when there are none.
fn incidents_banner(faults: &[(&str, String)]) -> String {
    if faults.is_empty() {
        return String::new();
    }
    let list: Vec<String> = faults
        .iter()
        .map(|(kind, service)| {
            format!(
                "<li>{} on {}</li>",
                escape_html(kind.replace('_', " ")),
                escape_html(service)
            )
        })
        .collect();
    // Where their symptoms show (rate, errors and duration per endpoint): inside the fold
    // too, for the same reason.
    let explorer = match explorer_url() {
        Some(explorer) => format!(
            r#" <a href="{}#/red" {NEW_TAB}>See what they do in the traces</a>"#,
            escape_html(explorer)
        ),
        None => String::new(),
    };
    // Folded: a participant looking for the cause does not read it by accident.
    format!(
        "<aside class=\"incidents\" role=\"status\"><details><summary>Faults in force: {}</summary><ul>{}</ul>{}</details></aside>\n",
        faults.len(),
        list.join(""),
        explorer
    )
}

/// The category links above a product grid; `active` is highlighted.
pub fn category_nav(categories: &[Category], active: Option<&str>) -> String {
    let mut nav = String::from(r#"<nav class="categories" aria-label="Categories">"#);
    let all_class = if active.is_none() { "active" } else { "" };
    let _ = write!(
        nav,
        r#"<a class="{}" href="/">All</a>"#,
        escape_html(all_class)
    );
    for category in categories {
        let class = if active == Some(category.slug.as_str()) {
            "active"
        } else {
            ""
        };
        let _ = write!(
            nav,
            r#"<a class="{}" href="/category/{}">{} <small>{}</small></a>"#,
            escape_html(class),
            escape_html(&category.slug),
            escape_html(&category.name),
            escape_html(category.product_count),
        );
    }
    nav.push_str("</nav>");
    nav
}

/// One product as a clickable card.
pub fn product_card(product: &Product) -> String {
    format!(
        r#"<a class="card" href="/products/{id}">
  <span class="emoji" aria-hidden="true">{image}</span>
  <span class="name">{name}</span>
  <span class="price">{price}</span>
</a>"#,
        id = escape_html(product.id),
        image = escape_html(&product.image),
        name = escape_html(&product.name),
        price = escape_html(money(product.price_cents, &product.currency)),
    )
}

pub fn product_grid(products: &[Product]) -> String {
    if products.is_empty() {
        return r#"<p class="empty">No products here.</p>"#.to_string();
    }
    let cards: String = products.iter().map(product_card).collect();
    format!(r#"<div class="grid">{cards}</div>"#)
}

/// "Previous" / "Next" links for a listing at `base_href` (already escaped) with `?page=N`.
pub fn pager(base_href: &str, page: u32, page_size: u32, total: i64) -> String {
    let shown_up_to = i64::from(page) * i64::from(page_size);
    let mut links = String::new();
    if page > 1 {
        let _ = write!(
            links,
            r#"<a class="button" href="{}?page={}">← Previous</a>"#,
            base_href,
            escape_html(page - 1)
        );
    }
    if shown_up_to < total {
        let _ = write!(
            links,
            r#"<a class="button" href="{}?page={}">Next →</a>"#,
            base_href,
            escape_html(page + 1)
        );
    }
    if links.is_empty() {
        return links;
    }
    format!(r#"<nav class="pager">{links}</nav>"#)
}

/// A notice in a coloured box, e.g. "your card was declined".
pub fn alert(kind: &str, message: &str) -> String {
    format!(
        r#"<div class="alert alert-{}" role="alert">{}</div>"#,
        escape_html(kind),
        escape_html(message)
    )
}

/// The body of an error page.
pub fn error_body(status: u16, title: &str, message: &str) -> String {
    format!(
        r#"<section class="error">
  <h1>{title}</h1>
  <p>{message}</p>
  <p class="muted">HTTP {status}. The trace of this request shows which call failed.</p>
  <p><a class="button" href="/">Back to the shop</a></p>
</section>"#,
        title = escape_html(title),
        message = escape_html(message),
        status = escape_html(status),
    )
}

const STYLE: &str = r#"
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d232b;background:#f6f7f9}
a{color:#2456c7;text-decoration:none}a:hover{text-decoration:underline}
.top{display:flex;flex-wrap:wrap;gap:.75rem 1.25rem;align-items:center;padding:.75rem 1.25rem;background:#fff;border-bottom:1px solid #e3e6ea}
.brand{font-weight:700;font-size:1.2rem;color:#1d232b}
.search{display:flex;gap:.4rem;flex:1 1 16rem}
.search input{flex:1;min-width:0}
.links a{font-weight:600}.links a+a{margin-left:.9rem}
.segment{font-size:.85rem;color:#59636e}
.tier{display:inline-block;padding:0 .5rem;border-radius:999px;font-weight:700;text-transform:uppercase;font-size:.75rem;letter-spacing:.04em;background:#e3e6ea;color:#1d232b}
.tier-silver{background:#dfe4ea}.tier-gold{background:#f7d774}.tier-platinum{background:#1d232b;color:#fff}
main{max-width:72rem;margin:0 auto;padding:1.25rem}
.incidents{padding:.4rem 1.25rem;background:#fff4e5;border-bottom:1px solid #f3c98b;font-size:.85rem;color:#7a4a00}
.incidents summary{cursor:pointer}.incidents ul{display:inline;margin:0;padding:0}.incidents li{display:inline;list-style:none}
.incidents li+li:before{content:" · "}
h1{font-size:1.5rem;margin:.25rem 0 1rem}
input,select,button{font:inherit;padding:.45rem .6rem;border:1px solid #c9ced4;border-radius:.4rem;background:#fff}
button,.button{display:inline-block;background:#2456c7;color:#fff;border-color:#2456c7;cursor:pointer;padding:.45rem .9rem;border-radius:.4rem}
.button:hover{text-decoration:none;background:#1b45a3}
button.link{background:none;border:none;color:#b42318;padding:0}
.categories{display:flex;flex-wrap:wrap;gap:.4rem;margin-bottom:1rem}
.categories a{padding:.3rem .7rem;border-radius:999px;background:#fff;border:1px solid #e3e6ea;color:#1d232b}
.categories a.active{background:#1d232b;color:#fff}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(11rem,1fr));gap:1rem}
.card{display:flex;flex-direction:column;gap:.3rem;padding:1rem;background:#fff;border:1px solid #e3e6ea;border-radius:.75rem;color:#1d232b}
.card:hover{border-color:#2456c7;text-decoration:none}
.emoji{font-size:3rem;line-height:1.2}
.card .name{font-weight:600}
.price{font-weight:700;color:#0b7a3b}
.product{display:grid;grid-template-columns:minmax(8rem,14rem) 1fr;gap:1.5rem;background:#fff;padding:1.5rem;border-radius:.75rem;border:1px solid #e3e6ea}
.product .emoji{font-size:7rem;text-align:center}
.panel{background:#fff;padding:1.25rem;border-radius:.75rem;border:1px solid #e3e6ea;margin-bottom:1rem}
table{width:100%;border-collapse:collapse}
th,td{text-align:left;padding:.5rem;border-bottom:1px solid #e3e6ea}
td.num,th.num{text-align:right}
form.stack{display:grid;gap:.6rem;max-width:26rem}
form.stack label{display:grid;gap:.2rem;font-size:.9rem;color:#59636e}
.alert{padding:.75rem 1rem;border-radius:.5rem;margin-bottom:1rem}
.alert-error{background:#fde8e7;color:#7a1b12;border:1px solid #f4b7b2}
.alert-info{background:#e8f0fe;color:#1b3a7a;border:1px solid #bcd0fa}
.muted{color:#59636e;font-size:.9rem}
.pager{display:flex;gap:.5rem;margin-top:1rem}
.empty{color:#59636e}
footer{max-width:72rem;margin:2rem auto;padding:0 1.25rem;color:#59636e;font-size:.85rem}
@media (max-width:40rem){.product{grid-template-columns:1fr}.product .emoji{font-size:5rem}.segment{width:100%}}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_html_escapes_the_five_characters() {
        assert_eq!(
            escape_html(r#"<a href="x">Tom & Jerry's</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;"
        );
        assert_eq!(escape_html(42), "42");
    }

    #[tokio::test]
    async fn the_fault_banner_links_to_the_explorer_only_when_there_is_one() {
        let faults = [("latency", "cart".to_string())];
        let page = explorer_page("http://127.0.0.1:8090", None);
        let linked = EXPLORER
            .scope(Some(Arc::from(page)), async { incidents_banner(&faults) })
            .await;
        assert!(
            linked.contains(r#"href="http://127.0.0.1:8090/#/red""#),
            "{linked}"
        );
        let page = explorer_page("http://127.0.0.1:8090/", Some("alice"));
        let trace = EXPLORER
            .scope(Some(Arc::from(page)), async { trace_link("ab", "x") })
            .await;
        assert!(
            trace.contains(r#"href="http://127.0.0.1:8090/?namespace=alice#/trace/ab""#),
            "{trace}"
        );
        assert!(!incidents_banner(&faults).contains("href"));
        assert!(
            EXPLORER
                .scope(None, async { trace_link("ab", "x") })
                .await
                .is_empty()
        );
    }

    #[test]
    fn money_is_dollars_and_cents() {
        assert_eq!(money(1299, "USD"), "$12.99");
        assert_eq!(money(5, "USD"), "$0.05");
        assert_eq!(money(1000, "EUR"), "10.00 EUR");
    }
}
