//! The frontend against tiny stand-ins of the services it calls.
//!
//! Each stub is an axum router on port 0 that answers canned JSON in the shapes of the shop's
//! API and remembers the `baggage` header of every request it gets. The frontend is served as
//! `run` serves it (routes, tracing layer, session cookie), with an OpenTelemetry layer and the
//! W3C propagators installed as the binary installs them, so baggage really flows.

use std::sync::{Arc, Mutex, Once};

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use opentelemetry::global;
use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::trace::TracerProvider;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use opentelemetry_sdk::trace::SdkTracerProvider;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tracedojo_kit::server::ServerOptions;
use tracing_subscriber::layer::SubscriberExt;

use crate::users::User;
use crate::{Config, app};

const EVIL_NAME: &str = "Kettle <script>alert(1)</script>";

/// Installs what `Telemetry::init` installs, minus the exporters: the propagators (global,
/// once) and an OpenTelemetry layer for this test's thread. Keep both values alive.
fn trace_like_the_binary() -> (tracing::subscriber::DefaultGuard, SdkTracerProvider) {
    static PROPAGATORS: Once = Once::new();
    PROPAGATORS.call_once(|| {
        global::set_text_map_propagator(TextMapCompositePropagator::new(vec![
            Box::new(TraceContextPropagator::new()),
            Box::new(BaggagePropagator::new()),
        ]));
    });
    let provider = SdkTracerProvider::builder().build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("frontend-tests"));
    let guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
    (guard, provider)
}

fn product(id: i64, name: &str) -> Value {
    json!({
        "id": id, "sku": format!("KIT-{id:04}"), "name": name, "description": "A fine thing.",
        "category": "kitchen", "price_cents": 1299, "currency": "USD", "image": "🍳"
    })
}

fn not_found(what: &str) -> Response {
    let body = json!({ "error": "not_found", "message": format!("{what} not found") });
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}

fn cart_json(session_id: &str) -> Value {
    json!({
        "session_id": session_id,
        "items": [{ "product_id": 1, "name": "Copper Kettle", "quantity": 2, "unit_price_cents": 1299 }],
        "total_cents": 2598
    })
}

fn catalog_stub() -> Router {
    Router::new()
        .route(
            "/categories",
            get(|| async { Json(json!([{ "slug": "kitchen", "name": "Kitchen", "product_count": 2 }])) }),
        )
        .route(
            "/products",
            get(|| async {
                Json(json!({ "products": [product(1, "Copper Kettle"), product(2, EVIL_NAME)], "total": 2 }))
            }),
        )
        .route(
            "/products/search",
            get(|| async { Json(json!({ "products": [product(1, "Copper Kettle")], "total": 1 })) }),
        )
        .route(
            "/products/{id}",
            get(|Path(id): Path<i64>| async move {
                if id == 999 {
                    return not_found("product 999");
                }
                Json(product(id, "Copper Kettle")).into_response()
            }),
        )
}

fn recommendation_stub() -> Router {
    Router::new().route(
        "/recommendations",
        get(|| async { Json(json!({ "product_id": 1, "products": [product(2, EVIL_NAME)] })) }),
    )
}

fn cart_stub() -> Router {
    Router::new()
        .route(
            "/carts/{session_id}",
            get(|Path(session_id): Path<String>| async move { Json(cart_json(&session_id)) }),
        )
        .route(
            "/carts/{session_id}/items",
            post(|Path(session_id): Path<String>| async move { Json(cart_json(&session_id)) }),
        )
        .route(
            "/carts/{session_id}/items/{product_id}",
            delete(|Path((session_id, _)): Path<(String, i64)>| async move {
                Json(cart_json(&session_id))
            }),
        )
}

fn checkout_stub(declines: bool) -> Router {
    Router::new()
        .route(
            "/checkout",
            post(move || async move {
                if declines {
                    let body = json!({ "error": "payment_declined", "message": "payment declined: card_declined" });
                    return (StatusCode::PAYMENT_REQUIRED, Json(body)).into_response();
                }
                let body = json!({
                    "order_id": 42, "status": "placed", "total_cents": 2598, "shipping_cents": 499,
                    "payment_id": "pay_0000000000000001", "items": [{ "product_id": 1, "quantity": 2 }]
                });
                (StatusCode::CREATED, Json(body)).into_response()
            }),
        )
        .route(
            "/orders/{order_id}",
            get(|Path(order_id): Path<i64>| async move {
                Json(json!({
                    "order_id": order_id, "status": "placed", "total_cents": 2598,
                    "items": [{ "product_id": 1, "quantity": 2 }], "created_at": "2025-01-01T00:00:00Z"
                }))
            }),
        )
}

fn shipping_stub() -> Router {
    Router::new().route(
        "/shipments",
        get(|| async { Json(json!({ "order_id": 42, "shipments": [] })) }),
    )
}

type Seen = Arc<Mutex<Vec<String>>>;

async fn remember_baggage(State(seen): State<Seen>, request: Request, next: Next) -> Response {
    let baggage = request
        .headers()
        .get("baggage")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    if let Ok(mut seen) = seen.lock() {
        seen.push(baggage);
    }
    next.run(request).await
}

async fn serve(router: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a test port");
    let address = listener.local_addr().expect("test port address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{address}")
}

/// A running frontend with its stubs.
struct Shop {
    url: String,
    seen_baggage: Seen,
}

impl Shop {
    async fn start(checkout_declines: bool) -> Shop {
        Shop::start_linked(checkout_declines, None).await
    }

    /// [`Shop::start`] with pages that link to an explorer at `explorer_url`.
    async fn start_linked(checkout_declines: bool, explorer_url: Option<String>) -> Shop {
        let seen: Seen = Arc::default();
        let stub = |router: Router| {
            let seen = seen.clone();
            async move {
                serve(router.layer(middleware::from_fn_with_state(seen, remember_baggage))).await
            }
        };
        let config = Config {
            catalog_url: stub(catalog_stub()).await,
            cart_url: stub(cart_stub()).await,
            checkout_url: stub(checkout_stub(checkout_declines)).await,
            recommendation_url: stub(recommendation_stub()).await,
            shipping_url: stub(shipping_stub()).await,
            explorer_url,
            namespace: None,
        };
        Shop::with_config(config, seen).await
    }

    async fn with_config(config: Config, seen_baggage: Seen) -> Shop {
        let url = serve(app(config, ServerOptions::new("frontend"))).await;
        Shop { url, seen_baggage }
    }

    fn baggage(&self) -> Vec<String> {
        self.seen_baggage
            .lock()
            .map(|b| b.clone())
            .unwrap_or_default()
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("test HTTP client")
}

#[tokio::test]
async fn home_page_lists_products_escaped_and_sets_a_session_cookie() {
    let _tracing = trace_like_the_binary();
    let shop = Shop::start(false).await;
    let response = client()
        .get(format!("{}/", shop.url))
        .send()
        .await
        .expect("GET /");
    assert_eq!(response.status(), 200);
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(cookie.starts_with("td_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let page = response.text().await.expect("home page body");
    assert!(page.contains("tracedojo shop"));
    assert!(page.contains("Copper Kettle"));
    assert!(page.contains("Kettle &lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!page.contains("<script>alert(1)"));
    // Even the first visit, before the browser has a cookie, names its user downstream.
    let seen = shop.baggage();
    assert!(!seen.is_empty());
    assert!(
        seen.iter().all(|b| b.contains("tracedojo.user.tier=")),
        "{seen:?}"
    );
}

#[tokio::test]
async fn product_page_escapes_recommendations_and_api_answers_both_together() {
    let _tracing = trace_like_the_binary();
    let shop = Shop::start(false).await;
    let page = client()
        .get(format!("{}/products/1", shop.url))
        .send()
        .await
        .expect("GET /products/1")
        .text()
        .await
        .expect("product page body");
    assert!(page.contains("You may also like"));
    assert!(page.contains("action=\"/cart/add\""));
    assert!(page.contains("&lt;script&gt;") && !page.contains("<script>alert"));

    let detail: Value = client()
        .get(format!("{}/api/products/1", shop.url))
        .send()
        .await
        .expect("GET /api/products/1")
        .json()
        .await
        .expect("product detail JSON");
    assert_eq!(detail["product"]["id"], 1);
    assert_eq!(detail["recommendations"][0]["id"], 2);

    let missing = client()
        .get(format!("{}/products/999", shop.url))
        .send()
        .await
        .expect("GET /products/999");
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn the_same_session_is_the_same_user() {
    let _tracing = trace_like_the_binary();
    let shop = Shop::start(false).await;
    let session = |id: &'static str| {
        let url = format!("{}/api/session", shop.url);
        async move {
            client()
                .get(url)
                .header("x-session-id", id)
                .send()
                .await
                .expect("GET /api/session")
                .json::<Value>()
                .await
                .expect("session JSON")
        }
    };
    let first = session("workshop-1").await;
    let again = session("workshop-1").await;
    assert_eq!(first, again);
    assert_eq!(first["session_id"], "workshop-1");
    assert_eq!(first["user"]["tier"], User::from_session("workshop-1").tier);

    // The header wins over the cookie, for API callers.
    let with_cookie: Value = client()
        .get(format!("{}/api/session", shop.url))
        .header("x-session-id", "workshop-1")
        .header("cookie", "td_session=0123456789abcdef")
        .send()
        .await
        .expect("GET /api/session")
        .json()
        .await
        .expect("session JSON");
    assert_eq!(with_cookie, first);
}

#[tokio::test]
async fn downstream_calls_carry_the_user_as_baggage() {
    let _tracing = trace_like_the_binary();
    let shop = Shop::start(false).await;
    let user = User::from_session("baggage-test");
    let response = client()
        .get(format!("{}/products/1", shop.url))
        .header("cookie", "td_session=baggage-test")
        .send()
        .await
        .expect("GET /products/1");
    assert_eq!(response.status(), 200);
    let seen = shop.baggage();
    assert_eq!(
        seen.len(),
        2,
        "catalog and recommendation were called: {seen:?}"
    );
    for baggage in &seen {
        assert!(
            baggage.contains(&format!("tracedojo.user.tier={}", user.tier)),
            "{baggage}"
        );
        assert!(
            baggage.contains(&format!("user.id={}", user.id)),
            "{baggage}"
        );
    }
}

#[tokio::test]
async fn baggage_sent_by_the_caller_wins_over_the_derived_user() {
    let _tracing = trace_like_the_binary();
    let shop = Shop::start(false).await;
    let session = (0..100)
        .map(|n| format!("loadgen-{n}"))
        .find(|id| User::from_session(id).tier != "platinum")
        .expect("some session is not platinum");
    let response = client()
        .get(format!("{}/api/cart", shop.url))
        .header("x-session-id", &session)
        .header(
            "baggage",
            "tracedojo.user.tier=platinum,user_agent.synthetic.type=test",
        )
        .send()
        .await
        .expect("GET /api/cart");
    assert_eq!(response.status(), 200);
    let seen = shop.baggage();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].contains("tracedojo.user.tier=platinum"),
        "{}",
        seen[0]
    );
    assert!(
        seen[0].contains("user_agent.synthetic.type=test"),
        "{}",
        seen[0]
    );
    assert!(seen[0].contains("tracedojo.user.region="), "{}", seen[0]);
}

#[tokio::test]
async fn a_declined_card_is_a_402_from_the_api_and_the_cart_again_on_the_page() {
    let _tracing = trace_like_the_binary();
    let shop = Shop::start(true).await;
    let response = client()
        .post(format!("{}/api/checkout", shop.url))
        .header("x-session-id", "declined-1")
        .json(&json!({ "card_number": "4000 0000 0000 0002", "email": "a@example.com" }))
        .send()
        .await
        .expect("POST /api/checkout");
    assert_eq!(response.status(), 402);
    let body: Value = response.json().await.expect("error JSON");
    assert_eq!(body["error"], "payment_declined");

    let page = client()
        .post(format!("{}/checkout", shop.url))
        .header("cookie", "td_session=declined-1")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("card_number=4000+0000+0000+0002&email=a%40example.com&region=eu-west-1")
        .send()
        .await
        .expect("POST /checkout");
    assert_eq!(page.status(), 402);
    let page = page.text().await.expect("cart page body");
    assert!(page.contains("Your card was declined"));
    assert!(page.contains("4242 4242 4242 4242"));
}

#[tokio::test]
async fn checkout_redirects_to_the_order_which_is_not_shipped_yet() {
    let _tracing = trace_like_the_binary();
    let shop = Shop::start(false).await;
    let placed = client()
        .post(format!("{}/checkout", shop.url))
        .header("cookie", "td_session=happy-1")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("card_number=4242+4242+4242+4242&email=a%40example.com&region=us-east-1")
        .send()
        .await
        .expect("POST /checkout");
    assert_eq!(placed.status(), 303);
    // The order page is told the purchase's trace, to link to it.
    let location = placed
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let trace_id = location
        .strip_prefix("/orders/42?trace=")
        .unwrap_or_else(|| panic!("redirected to {location}"));
    assert!(crate::html::is_trace_id(trace_id), "{location}");

    let status: Value = client()
        .get(format!("{}/api/orders/42", shop.url))
        .send()
        .await
        .expect("GET /api/orders/42")
        .json()
        .await
        .expect("order JSON");
    assert_eq!(status["order"]["order_id"], 42);
    assert_eq!(status["shipment"], Value::Null);

    let page = client()
        .get(format!("{}/orders/42", shop.url))
        .send()
        .await
        .expect("GET /orders/42")
        .text()
        .await
        .expect("order page body");
    assert!(page.contains("Shipping is asynchronous"));
    assert!(page.contains("Refresh"));
    assert!(
        !page.contains("#/trace/") && !page.contains("Traces</a>"),
        "no explorer, no links: {page}"
    );
}

#[tokio::test]
async fn with_an_explorer_pages_link_to_it_and_an_order_to_its_purchase_trace() {
    let _tracing = trace_like_the_binary();
    let explorer = "http://127.0.0.1:8090";
    let shop = Shop::start_linked(false, Some(explorer.to_string())).await;
    let home = client()
        .get(format!("{}/", shop.url))
        .send()
        .await
        .expect("GET /")
        .text()
        .await
        .expect("home page");
    assert!(
        home.contains(&format!(r#"href="{explorer}/" target="_blank""#)),
        "no Traces link in the header: {home}"
    );

    let purchase = "4bf92f3577b34da6a3ce929d0e0e4736";
    let page = client()
        .get(format!("{}/orders/42?trace={purchase}", shop.url))
        .send()
        .await
        .expect("GET /orders/42")
        .text()
        .await
        .expect("order page");
    assert!(
        page.contains(&format!(r#"href="{explorer}/#/trace/{purchase}""#))
            && page.contains("See this order&#39;s trace"),
        "{page}"
    );

    // Anything but a trace id in the query is ignored; the page links to its own trace.
    let page = client()
        .get(format!(
            "{}/orders/42?trace=%22%3E%3Cscript%3Ealert(1)%3C/script%3E",
            shop.url
        ))
        .send()
        .await
        .expect("GET /orders/42 with a hostile trace")
        .text()
        .await
        .expect("order page");
    assert!(!page.contains("<script>alert"), "{page}");
    let own = page
        .split(&format!("{explorer}/#/trace/"))
        .nth(1)
        .map(|rest| &rest[..32.min(rest.len())])
        .unwrap_or_else(|| panic!("no link to the page's own trace: {page}"));
    assert!(crate::html::is_trace_id(own), "{own}");
    assert_ne!(own, purchase);
}

#[tokio::test]
async fn a_service_that_is_down_gives_a_502_page() {
    let _tracing = trace_like_the_binary();
    // A port held for the whole test but never listened on: connections to it are refused.
    // (A port merely freed again could be taken by another test's server meanwhile.)
    let held = tokio::net::TcpSocket::new_v4().expect("a test socket");
    held.bind("127.0.0.1:0".parse().unwrap())
        .expect("bind a test port");
    let closed = format!("http://{}", held.local_addr().expect("test port address"));
    let config = Config {
        catalog_url: closed.clone(),
        cart_url: closed.clone(),
        checkout_url: closed.clone(),
        recommendation_url: closed.clone(),
        shipping_url: closed,
        explorer_url: None,
        namespace: None,
    };
    let shop = Shop::with_config(config, Arc::default()).await;
    let response = client()
        .get(format!("{}/", shop.url))
        .send()
        .await
        .expect("GET /");
    assert_eq!(response.status(), 502);
    let page = response.text().await.expect("error page body");
    assert!(page.contains("catalog service is not available"));

    let api = client()
        .get(format!("{}/api/cart", shop.url))
        .send()
        .await
        .expect("GET /api/cart");
    assert_eq!(api.status(), 502);
}

#[tokio::test]
async fn bad_input_is_a_400_naming_the_field() {
    let _tracing = trace_like_the_binary();
    let shop = Shop::start(false).await;
    let response = client()
        .post(format!("{}/api/cart/items", shop.url))
        .json(&json!({ "product_id": 1, "quantity": 500 }))
        .send()
        .await
        .expect("POST /api/cart/items");
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("error JSON");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("quantity")
    );

    let search = client()
        .get(format!("{}/api/search?q=", shop.url))
        .send()
        .await
        .expect("GET /api/search");
    assert_eq!(search.status(), 400);
}
