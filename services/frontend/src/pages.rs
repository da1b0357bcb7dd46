//! The shop a person clicks through: server-rendered HTML pages and their forms.
//!
//! Every handler has the same shape: gather what the page needs from the other services,
//! render it, and let [`respond`] turn a failure into an error page (502 when a service is
//! down, 504 when it is too slow, the service's own 4xx when it refused). The forms post
//! back here and redirect (303) to the page that shows the result, so a refresh never
//! submits an order twice.

use std::fmt::Write;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use tracedojo_kit::routing::{get, post};
use tracedojo_kit::{ApiError, ClientError};

use crate::api::{fetch_order_status, fetch_product_detail};
use crate::clients::Clients;
use crate::html::{
    alert, category_nav, error_body, escape_html, is_trace_id, money, page, pager, product_grid,
    search_href, trace_link,
};
use crate::input;
use crate::model::{Cart, OrderStatus, ProductDetail};
use crate::session::Session;
use crate::users::{REGIONS, User};

const PAGE_SIZE: u32 = 24;
const SEARCH_LIMIT: u32 = 48;
/// The card every demo checkout succeeds with, and the one that is always declined.
const GOOD_CARD: &str = "4242 4242 4242 4242";
const DECLINED_CARD: &str = "4000 0000 0000 0002";

pub fn router() -> Router<Arc<Clients>> {
    Router::new()
        .route("/", get(home))
        .route("/category/{slug}", get(category))
        .route("/search", get(search))
        .route("/products/{id}", get(product))
        .route("/cart", get(cart))
        .route("/cart/add", post(add_to_cart))
        .route("/cart/remove", post(remove_from_cart))
        .route("/checkout", post(checkout))
        .route("/orders/{order_id}", get(order))
}

/// What a page handler produced: the page, or an error page that explains the failure.
fn respond(user: &User, result: Result<Response, ApiError>) -> Response {
    match result {
        Ok(response) => response,
        Err(error) => error_page(user, error),
    }
}

fn error_page(user: &User, error: ApiError) -> Response {
    let (title, message) = describe(&error);
    // ApiError's own response records the exception on the SERVER span and logs it; keep
    // that and its status code, and show a page instead of its JSON body.
    let status = error.into_response().status();
    let body = page(&title, user, &error_body(status.as_u16(), &title, &message));
    (status, Html(body)).into_response()
}

/// A title and a sentence for a person, rather than a stack of error causes.
fn describe(error: &ApiError) -> (String, String) {
    match error {
        ApiError::Downstream { service, source } => match source {
            ClientError::Status { status, .. } if *status == StatusCode::NOT_FOUND => (
                "Not found".into(),
                format!("The {service} service does not know what you asked for."),
            ),
            ClientError::Status {
                status, message, ..
            } if status.is_client_error() => (
                "Request refused".into(),
                format!("The {service} service refused the request: {message}"),
            ),
            _ if source.is_timeout() => (
                "Taking too long".into(),
                format!("The {service} service did not answer in time. Try again in a moment."),
            ),
            _ => (
                "Something went wrong".into(),
                format!("The {service} service is not available right now. Try again in a moment."),
            ),
        },
        ApiError::NotFound(what) => ("Not found".into(), format!("{what} not found.")),
        ApiError::BadRequest(message) => ("Bad request".into(), message.clone()),
        other => ("Something went wrong".into(), other.to_string()),
    }
}

fn html_page(title: &str, user: &User, body: &str) -> Response {
    Html(page(title, user, body)).into_response()
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    page: Option<u32>,
}

impl PageQuery {
    fn number(&self) -> u32 {
        self.page.unwrap_or(1).max(1)
    }

    fn offset(&self) -> u32 {
        (self.number() - 1).saturating_mul(PAGE_SIZE)
    }
}

async fn home(
    State(clients): State<Arc<Clients>>,
    session: Session,
    Query(query): Query<PageQuery>,
) -> Response {
    let result = async {
        let (categories, products) = tokio::join!(
            clients.catalog.categories(),
            clients.catalog.products(None, PAGE_SIZE, query.offset()),
        );
        let (categories, products) = (categories?, products?);
        let body = format!(
            "{nav}<h1>All products</h1>{grid}{pager}",
            nav = category_nav(&categories, None),
            grid = product_grid(&products.products),
            pager = pager("/", query.number(), PAGE_SIZE, products.total),
        );
        Ok(html_page("All products", &session.user, &body))
    };
    respond(&session.user, result.await)
}

async fn category(
    State(clients): State<Arc<Clients>>,
    session: Session,
    Path(slug): Path<String>,
    Query(query): Query<PageQuery>,
) -> Response {
    let result = async {
        if !input::is_valid_slug(&slug) {
            return Err(ApiError::NotFound(format!("category {slug:?}")));
        }
        let (categories, products) = tokio::join!(
            clients.catalog.categories(),
            clients
                .catalog
                .products(Some(&slug), PAGE_SIZE, query.offset()),
        );
        let (categories, products) = (categories?, products?);
        let Some(current) = categories.iter().find(|c| c.slug == slug) else {
            return Err(ApiError::NotFound(format!("category {slug:?}")));
        };
        let base_href = format!("/category/{}", escape_html(&slug));
        let body = format!(
            "{nav}<h1>{name}</h1>{grid}{pager}",
            nav = category_nav(&categories, Some(&slug)),
            name = escape_html(&current.name),
            grid = product_grid(&products.products),
            pager = pager(&base_href, query.number(), PAGE_SIZE, products.total),
        );
        Ok(html_page(&current.name, &session.user, &body))
    };
    respond(&session.user, result.await)
}

#[derive(Debug, Deserialize)]
struct SearchQuery {
    q: Option<String>,
}

async fn search(
    State(clients): State<Arc<Clients>>,
    session: Session,
    Query(query): Query<SearchQuery>,
) -> Response {
    let raw = query.q.unwrap_or_default();
    let result = async {
        let form = format!(
            r#"<form class="search panel" action="/search" method="get">
  <input type="search" name="q" value="{q}" maxlength="100" aria-label="Search products" autofocus>
  <button type="submit">Search</button>
</form>"#,
            q = escape_html(raw.trim()),
        );
        if raw.trim().is_empty() {
            let hint = alert(
                "info",
                "Type a word such as \"tea\" or \"lamp\" to search the shop.",
            );
            return Ok(html_page(
                "Search",
                &session.user,
                &format!("<h1>Search</h1>{form}{hint}"),
            ));
        }
        let q = input::search_query(Some(&raw))?;
        let results = clients.catalog.search(&q, SEARCH_LIMIT).await?;
        let body = format!(
            r#"<h1>Results for “{q}”</h1>{form}<p class="muted">{count} found · <a href="{link}">link to this search</a></p>{grid}"#,
            q = escape_html(&q),
            count = escape_html(results.total),
            link = search_href(&q),
            grid = product_grid(&results.products),
        );
        Ok(html_page(&format!("Search: {q}"), &session.user, &body))
    };
    respond(&session.user, result.await)
}

async fn product(
    State(clients): State<Arc<Clients>>,
    session: Session,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let id = input::parse_id("product id", &id)?;
        let detail = fetch_product_detail(&clients, id).await?;
        let body = render_product(&detail);
        Ok(html_page(&detail.product.name, &session.user, &body))
    };
    respond(&session.user, result.await)
}

#[tracing::instrument(name = "render product page", skip_all, fields(tracedojo.product.id = detail.product.id))]
fn render_product(detail: &ProductDetail) -> String {
    let product = &detail.product;
    let mut body = format!(
        r#"<p class="muted"><a href="/category/{slug}">← {category}</a></p>
<article class="product">
  <div class="emoji" aria-hidden="true">{image}</div>
  <div>
    <h1>{name}</h1>
    <p>{description}</p>
    <p class="price">{price}</p>
    <p class="muted">SKU {sku}</p>
    <form class="stack" action="/cart/add" method="post">
      <input type="hidden" name="product_id" value="{id}">
      <label>Quantity <input type="number" name="quantity" value="1" min="1" max="{max}" required></label>
      <button type="submit">Add to cart</button>
    </form>
  </div>
</article>"#,
        slug = escape_html(&product.category),
        category = escape_html(&product.category),
        image = escape_html(&product.image),
        name = escape_html(&product.name),
        description = escape_html(&product.description),
        price = escape_html(money(product.price_cents, &product.currency)),
        sku = escape_html(&product.sku),
        id = escape_html(product.id),
        max = escape_html(input::MAX_QUANTITY),
    );
    if !detail.recommendations.is_empty() {
        let _ = write!(
            body,
            r#"<h2>You may also like</h2>{}"#,
            product_grid(&detail.recommendations)
        );
    }
    body
}

async fn cart(State(clients): State<Arc<Clients>>, session: Session) -> Response {
    let result = async {
        let cart = clients.cart.get(&session.id).await?;
        Ok(html_page(
            "Your cart",
            &session.user,
            &render_cart(&cart, &session.user, None),
        ))
    };
    respond(&session.user, result.await)
}

#[tracing::instrument(name = "render cart page", skip_all, fields(tracedojo.cart.item_count = cart.items.len() as i64))]
fn render_cart(cart: &Cart, user: &User, problem: Option<&str>) -> String {
    let mut body = String::from("<h1>Your cart</h1>");
    if let Some(problem) = problem {
        body.push_str(&alert("error", problem));
    }
    if cart.items.is_empty() {
        body.push_str(r#"<div class="panel"><p>Your cart is empty.</p><p><a class="button" href="/">Browse the shop</a></p></div>"#);
        return body;
    }
    let mut rows = String::new();
    for item in &cart.items {
        let _ = write!(
            rows,
            r#"<tr>
  <td><a href="/products/{id}">{name}</a></td>
  <td class="num">{quantity}</td>
  <td class="num">{unit}</td>
  <td class="num">{line}</td>
  <td><form action="/cart/remove" method="post"><input type="hidden" name="product_id" value="{id}"><button class="link" type="submit">Remove</button></form></td>
</tr>"#,
            id = escape_html(item.product_id),
            name = escape_html(&item.name),
            quantity = escape_html(item.quantity),
            unit = escape_html(money(item.unit_price_cents, "USD")),
            line = escape_html(money(item.unit_price_cents * item.quantity, "USD")),
        );
    }
    let regions: String = REGIONS
        .iter()
        .map(|region| {
            let selected = if *region == user.region {
                " selected"
            } else {
                ""
            };
            format!(
                r#"<option value="{value}"{selected}>{value}</option>"#,
                value = escape_html(region),
                selected = escape_html(selected),
            )
        })
        .collect();
    let _ = write!(
        body,
        r#"<div class="panel">
<table>
  <thead><tr><th>Product</th><th class="num">Qty</th><th class="num">Price</th><th class="num">Subtotal</th><th></th></tr></thead>
  <tbody>{rows}</tbody>
  <tfoot><tr><th colspan="3">Total (before shipping)</th><th class="num">{total}</th><th></th></tr></tfoot>
</table>
</div>
<div class="panel">
<h2>Checkout</h2>
<form class="stack" action="/checkout" method="post">
  <label>Card number <input name="card_number" value="{good_card}" inputmode="numeric" autocomplete="off" required></label>
  <p class="muted">Any card passes except {declined_card}, which is always declined.</p>
  <label>Email <input type="email" name="email" value="{email}" required></label>
  <label>Ship to region <select name="region">{regions}</select></label>
  <button type="submit">Place order</button>
</form>
</div>"#,
        total = escape_html(money(cart.total_cents, "USD")),
        good_card = escape_html(GOOD_CARD),
        declined_card = escape_html(DECLINED_CARD),
        email = escape_html(format!("{}@example.com", user.id)),
    );
    body
}

#[derive(Debug, Deserialize)]
struct AddToCartForm {
    product_id: String,
    quantity: Option<String>,
}

async fn add_to_cart(
    State(clients): State<Arc<Clients>>,
    session: Session,
    Form(form): Form<AddToCartForm>,
) -> Response {
    let result = async {
        let product_id = input::parse_id("product_id", &form.product_id)?;
        let quantity = match form.quantity.as_deref().map(str::trim) {
            None | Some("") => 1,
            Some(raw) => raw.parse().map_err(|_| {
                ApiError::BadRequest(format!("quantity must be a whole number, got {raw:?}"))
            })?,
        };
        let item = input::add_item(product_id, quantity)?;
        clients.cart.add(&session.id, &item).await?;
        tracing::info!(
            tracedojo.product.id = product_id,
            tracedojo.cart.quantity = quantity,
            "added to cart"
        );
        Ok(Redirect::to("/cart").into_response())
    };
    respond(&session.user, result.await)
}

#[derive(Debug, Deserialize)]
struct RemoveForm {
    product_id: String,
}

async fn remove_from_cart(
    State(clients): State<Arc<Clients>>,
    session: Session,
    Form(form): Form<RemoveForm>,
) -> Response {
    let result = async {
        let product_id = input::parse_id("product_id", &form.product_id)?;
        clients.cart.remove(&session.id, product_id).await?;
        Ok(Redirect::to("/cart").into_response())
    };
    respond(&session.user, result.await)
}

/// Places the order and shows it, or shows the cart again with what went wrong.
async fn checkout(
    State(clients): State<Arc<Clients>>,
    session: Session,
    Form(form): Form<input::CheckoutFields>,
) -> Response {
    let placed = async {
        let request = input::checkout_request(
            &session,
            &form.card_number,
            &form.email,
            form.region.as_deref(),
        )?;
        clients.checkout.place_order(&request).await
    }
    .await;
    let problem = match placed {
        Ok(order) => {
            let Some(order_id) = order.get("order_id").and_then(|id| id.as_i64()) else {
                let error = ApiError::Internal("checkout answered without an order_id".into());
                return error_page(&session.user, error);
            };
            tracing::info!(tracedojo.order.id = order_id, "order placed");
            // The order page links to this purchase's trace, which it cannot know itself: it
            // is served by the next request, in a trace of its own.
            let target = match tracedojo_kit::telemetry::current_trace_id() {
                Some(trace_id) => format!("/orders/{order_id}?trace={trace_id}"),
                None => format!("/orders/{order_id}"),
            };
            return Redirect::to(&target).into_response();
        }
        Err(error) => error,
    };
    // A refusal (declined card, out of stock, empty cart, a typo) is the shopper's to fix:
    // show the cart again with the reason. Anything else is an error page.
    let status = problem.status();
    if !status.is_client_error() {
        return error_page(&session.user, problem);
    }
    let reason = checkout_problem(&problem);
    tracing::info!(
        http.response.status_code = i64::from(status.as_u16()),
        tracedojo.order.failure_reason = reason,
        "checkout refused"
    );
    let result = async {
        let cart = clients.cart.get(&session.id).await?;
        let body = render_cart(&cart, &session.user, Some(&reason));
        Ok((status, Html(page("Your cart", &session.user, &body))).into_response())
    };
    respond(&session.user, result.await)
}

/// Why checkout refused, in words a shopper understands.
fn checkout_problem(error: &ApiError) -> String {
    match error.status() {
        StatusCode::PAYMENT_REQUIRED => {
            format!("Your card was declined. Try the test card {GOOD_CARD} instead.")
        }
        StatusCode::CONFLICT => {
            "Sorry, something in your cart is out of stock. Remove it or lower the quantity.".into()
        }
        _ => match error {
            ApiError::Downstream {
                source: ClientError::Status { message, code, .. },
                ..
            } => match code.as_deref() {
                Some("cart_empty") => "Your cart is empty.".into(),
                _ => format!("Checkout refused the order: {message}"),
            },
            other => other.to_string(),
        },
    }
}

#[derive(Debug, Deserialize)]
struct OrderQuery {
    /// The trace of the purchase, when the checkout form redirected here.
    trace: Option<String>,
}

async fn order(
    State(clients): State<Arc<Clients>>,
    session: Session,
    Path(order_id): Path<String>,
    Query(query): Query<OrderQuery>,
) -> Response {
    let result = async {
        let order_id = input::parse_id("order_id", &order_id)?;
        let status = fetch_order_status(&clients, order_id).await?;
        let title = format!("Order {order_id}");
        // Anything but a trace id is ignored: the value goes into a link.
        let purchase = query.trace.filter(|id| is_trace_id(id));
        Ok(html_page(
            &title,
            &session.user,
            &render_order(&status, purchase.as_deref()),
        ))
    };
    respond(&session.user, result.await)
}

/// The purchase's trace when known (the checkout's redirect says it), else this page's own.
fn order_trace_link(purchase: Option<&str>) -> String {
    match purchase {
        Some(trace_id) => trace_link(trace_id, "See this order's trace"),
        None => tracedojo_kit::telemetry::current_trace_id()
            .map(|trace_id| trace_link(&trace_id, "See this page's trace"))
            .unwrap_or_default(),
    }
}

#[tracing::instrument(name = "render order page", skip_all, fields(tracedojo.order.id = status.order.order_id))]
fn render_order(status: &OrderStatus, purchase: Option<&str>) -> String {
    let order = &status.order;
    let mut items = String::new();
    for item in &order.items {
        let name = item
            .name
            .clone()
            .unwrap_or_else(|| format!("Product {}", item.product_id));
        let price = item
            .unit_price_cents
            .map(|cents| money(cents, "USD"))
            .unwrap_or_default();
        let _ = write!(
            items,
            r#"<tr><td><a href="/products/{id}">{name}</a></td><td class="num">{quantity}</td><td class="num">{price}</td></tr>"#,
            id = escape_html(item.product_id),
            name = escape_html(&name),
            quantity = escape_html(item.quantity),
            price = escape_html(price),
        );
    }
    let shipping_line = match order.shipping_cents {
        Some(cents) => format!(
            r#"<p>Shipping: {} <span class="muted">(billed by the carrier on delivery)</span></p>"#,
            escape_html(money(cents, "USD"))
        ),
        None => String::new(),
    };
    let shipment = match &status.shipment {
        Some(shipment) => format!(
            r#"<p>Shipment <strong>{status}</strong> with {carrier}, tracking number <code>{tracking}</code>.</p>"#,
            status = escape_html(&shipment.status),
            carrier = escape_html(&shipment.carrier),
            tracking = escape_html(&shipment.tracking_number),
        ),
        None => alert(
            "info",
            "Not shipped yet. Shipping is asynchronous: a background worker picks the order up \
             from a queue and creates the label a moment later. Refresh to see it.",
        ),
    };
    format!(
        r#"<h1>Order {id}</h1>
<div class="panel">
  <p>Status: <strong>{status}</strong>{created}</p>
  <table>
    <thead><tr><th>Product</th><th class="num">Qty</th><th class="num">Price</th></tr></thead>
    <tbody>{items}</tbody>
  </table>
  {shipping_line}
  <p>Charged to your card: <strong class="price">{total}</strong></p>
</div>
<div class="panel">
  <h2>Shipment</h2>
  {shipment}
  <p><a class="button" href="/orders/{id}{refresh_query}">Refresh</a> <a href="/">Continue shopping</a> {trace}</p>
</div>"#,
        id = escape_html(order.order_id),
        refresh_query = escape_html(purchase.map(|t| format!("?trace={t}")).unwrap_or_default()),
        trace = order_trace_link(purchase),
        status = escape_html(&order.status),
        created = escape_html(
            order
                .created_at
                .as_deref()
                .map(|at| format!(" · placed {at}"))
                .unwrap_or_default()
        ),
        total = escape_html(money(order.total_cents, "USD")),
    )
}

/// Any other path: a 404 page rather than an empty answer.
pub async fn not_found(session: Session) -> Response {
    let body = error_body(404, "Not found", "There is no page at this address.");
    (
        StatusCode::NOT_FOUND,
        Html(page("Not found", &session.user, &body)),
    )
        .into_response()
}
