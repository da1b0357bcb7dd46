//! Driving the shop: the test's shoppers and their requests to the frontend (each in a trace of
//! its own), faults set through the control API, and a short run of `tracedojo load`.

use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::collector::Collector;
use crate::support::{self, Shop};
use crate::{TEST_PARENT, WAIT};

/// The card the payment gateway always approves, and its test cards for declines.
const GOOD_CARD: &str = "4242 4242 4242 4242";
const DECLINED_CARD: &str = "4000 0000 0000 0002";
const NO_FUNDS_CARD: &str = "4000 0000 0000 9995";

/// A shopper of the test: a session and the baggage the frontend gets with each request.
struct Shopper {
    session: String,
    baggage: String,
}

impl Shopper {
    fn new(session: &str, tier: &str, region: &str, device: &str, locale: &str) -> Shopper {
        Shopper {
            session: format!("semconv-{session}"),
            baggage: format!(
                "user.id=user-{session},tracedojo.user.tier={tier},tracedojo.user.region={region},tracedojo.user.device={device},tracedojo.user.locale={locale},tracedojo.user.company=Contoso"
            ),
        }
    }
}

enum Body {
    None,
    Json(Value),
    Form(String),
}

/// The test's requests to the frontend, each in a trace of its own under [`TEST_PARENT`].
pub(crate) struct Driver {
    pub(crate) http: reqwest::Client,
    pub(crate) shop: String,
    /// Trace ids of every request, with what it was.
    pub(crate) traces: Vec<(String, String)>,
    /// Trace ids of the checkouts that placed an order (shipping consumes those).
    pub(crate) orders: Vec<String>,
}

impl Driver {
    async fn send(
        &mut self,
        shopper: &Shopper,
        method: reqwest::Method,
        path: &str,
        body: Body,
    ) -> (u16, Value) {
        let trace_id = format!(
            "{:08x}{:08x}{:016x}",
            std::process::id(),
            0x5e3c_u32,
            self.traces.len() + 1
        );
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.shop))
            .header("x-session-id", &shopper.session)
            .header("baggage", &shopper.baggage)
            .header("traceparent", format!("00-{trace_id}-{TEST_PARENT}-01"));
        request = match body {
            Body::None => request,
            Body::Json(value) => request.json(&value),
            Body::Form(form) => request
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form),
        };
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        self.traces
            .push((trace_id.clone(), format!("{method} {path}")));
        if path == "/api/checkout" && status == 201 {
            self.orders.push(trace_id);
        }
        (status, value)
    }

    async fn get(&mut self, shopper: &Shopper, path: &str) -> (u16, Value) {
        self.send(shopper, reqwest::Method::GET, path, Body::None)
            .await
    }

    /// Two products into the cart, then the checkout; returns checkout's status.
    async fn buy(&mut self, shopper: &Shopper, card: &str, region: &str) -> u16 {
        for (product_id, quantity) in [(3, 2), (57, 1)] {
            let (status, body) = self
                .send(
                    shopper,
                    reqwest::Method::POST,
                    "/api/cart/items",
                    Body::Json(json!({ "product_id": product_id, "quantity": quantity })),
                )
                .await;
            assert_eq!(status, 200, "add to cart: {body}");
        }
        let (status, _) = self
            .send(
                shopper,
                reqwest::Method::POST,
                "/api/checkout",
                Body::Json(
                    json!({ "card_number": card, "email": "ada@example.com", "region": region }),
                ),
            )
            .await;
        status
    }
}

/// Sets a preset through the control API; every service runs it when this returns.
async fn set_preset(shop: &Shop, name: &str) {
    let response = support::client()
        .post(format!("{}/api/faults/presets/{name}", shop.control))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 201, "preset {name}: {body}");
    assert_eq!(
        body["pending"],
        json!([]),
        "preset {name} not applied: {body}"
    );
}

async fn clear_faults(shop: &Shop) {
    let response = support::client()
        .delete(format!("{}/api/faults", shop.control))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 200, "clear faults: {body}");
    assert_eq!(body["pending"], json!([]), "clear not applied: {body}");
}

/// The variables of the test's own shell that would change where telemetry goes.
fn inherited_otel(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    upper.starts_with("OTEL_") || upper.starts_with("TRACEDOJO_") || upper == "RUST_LOG"
}

/// `tracedojo load` against the shop for a few journeys (some paying with the declined card),
/// exporting to the collector; returns once it has exited (its spans flushed).
async fn run_load_generator(shop: &Shop, collector: &Collector) {
    let mut command = Command::new(support::BIN);
    command
        .args(["load", "--target", &shop.url])
        .args(["--journeys", "6", "--duration", "0", "--rate", "20"])
        .args(["--think-max-ms", "0", "--declined-per-mille", "300"])
        .args(["--seed", "7", "--users", "20", "--quiet"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, _) in std::env::vars_os() {
        if inherited_otel(&name.to_string_lossy()) {
            command.env_remove(name);
        }
    }
    command
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.endpoint)
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env("OTEL_BLRP_SCHEDULE_DELAY", "100");
    let child = command.spawn().expect("start tracedojo load");
    let pid = child.id();
    let waited = tokio::time::timeout(
        WAIT,
        tokio::task::spawn_blocking(move || child.wait_with_output()),
    )
    .await;
    match waited {
        Ok(Ok(Ok(output))) => assert!(
            output.status.success(),
            "tracedojo load failed: {}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ),
        Ok(other) => panic!("tracedojo load: {other:?}"),
        Err(_) => {
            // SAFETY: signalling the child this test spawned; the blocking task reaps it.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
            panic!("tracedojo load did not end within {WAIT:?}");
        }
    }
}

/// Everything the test does to the shop: clean traffic first, then the same with faults.
pub(crate) async fn drive(shop: &Shop, driver: &mut Driver, collector: &Collector) {
    let browser = Shopper::new("browser", "free", "us-west-2", "desktop", "en-US");
    for path in [
        "/",
        "/api/products",
        "/api/categories",
        "/api/session",
        // The first view of a category misses the recommendation cache, the second hits it.
        "/api/products/5",
        "/api/products/6",
        "/products/7",
        "/api/search?q=mug",
        "/search?q=garden+chair",
        "/category/garden",
    ] {
        let (status, body) = driver.get(&browser, path).await;
        assert_eq!(status, 200, "GET {path}: {body}");
    }

    // The cart: add, remove (present and absent), read, the HTML forms.
    let carter = Shopper::new("cart", "silver", "eu-central-1", "tablet", "de-DE");
    for (product_id, quantity) in [(12, 1), (3, 2)] {
        let (status, body) = driver
            .send(
                &carter,
                reqwest::Method::POST,
                "/api/cart/items",
                Body::Json(json!({ "product_id": product_id, "quantity": quantity })),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    for product_id in [12, 99] {
        let path = format!("/api/cart/items/{product_id}");
        let (status, body) = driver
            .send(&carter, reqwest::Method::DELETE, &path, Body::None)
            .await;
        assert_eq!(status, 200, "DELETE {path}: {body}");
    }
    driver.get(&carter, "/api/cart").await;
    driver.get(&carter, "/cart").await;
    for (path, form) in [
        ("/cart/add", "product_id=20&quantity=1"),
        ("/cart/remove", "product_id=20"),
    ] {
        driver
            .send(
                &carter,
                reqwest::Method::POST,
                path,
                Body::Form(form.into()),
            )
            .await;
    }

    // Purchases: approved, declined twice, an empty cart, and the HTML form declined.
    let buyers = [
        Shopper::new("buyer-1", "silver", "us-east-1", "desktop", "en-US"),
        Shopper::new("buyer-2", "platinum", "ap-northeast-1", "mobile", "ja-JP"),
    ];
    for (buyer, region) in buyers.iter().zip(["us-east-1", "ap-northeast-1"]) {
        let status = driver.buy(buyer, GOOD_CARD, region).await;
        assert_eq!(status, 201, "an approved purchase");
    }
    let decliner = Shopper::new("declined", "free", "sa-east-1", "mobile", "pt-BR");
    assert_eq!(driver.buy(&decliner, DECLINED_CARD, "sa-east-1").await, 402);
    let poor = Shopper::new("no-funds", "free", "ap-southeast-2", "desktop", "en-US");
    assert_eq!(
        driver.buy(&poor, NO_FUNDS_CARD, "ap-southeast-2").await,
        402
    );
    let empty = Shopper::new("empty", "gold", "eu-west-1", "desktop", "fr-FR");
    let (status, body) = driver
        .send(
            &empty,
            reqwest::Method::POST,
            "/api/checkout",
            Body::Json(json!({ "card_number": GOOD_CARD, "email": "ada@example.com" })),
        )
        .await;
    assert!((400..500).contains(&status), "empty cart: {status} {body}");
    let html = Shopper::new("html", "silver", "eu-west-1", "mobile", "fr-FR");
    driver
        .send(
            &html,
            reqwest::Method::POST,
            "/cart/add",
            Body::Form("product_id=9&quantity=1".into()),
        )
        .await;
    driver
        .send(
            &html,
            reqwest::Method::POST,
            "/checkout",
            Body::Form(
                "card_number=4000000000000002&email=ada%40example.com&region=eu-west-1".into(),
            ),
        )
        .await;
    driver.get(&buyers[0], "/api/orders/1").await;
    driver.get(&buyers[0], "/orders/1").await;

    // Synthetic traffic, marked as such.
    run_load_generator(shop, collector).await;

    // Faults, revealed on the spans they touch: errors for gold customers in eu-west-1, one
    // query per product, a failing cache, a missing index, a slow payment, failing
    // recommendations.
    for preset in [
        "gold-tier-errors",
        "n-plus-one",
        "cache-failure",
        "missing-index",
    ] {
        set_preset(shop, preset).await;
    }
    support::set_fault(
        shop,
        json!({"fault": {"kind": "latency", "service": "payment",
                         "distribution": {"type": "fixed", "ms": 30}}}),
    )
    .await;
    support::set_fault(
        shop,
        json!({"fault": {"kind": "errors", "service": "recommendation", "status": 503,
                         "message": "recommendations are resting"}}),
    )
    .await;
    let gold = Shopper::new("gold", "gold", "eu-west-1", "desktop", "fr-FR");
    let status = driver.buy(&gold, GOOD_CARD, "eu-west-1").await;
    assert!(
        status >= 500,
        "gold-tier-errors: checkout answered {status}"
    );
    let slow = Shopper::new("slow", "silver", "us-west-2", "mobile", "en-US");
    assert_eq!(driver.buy(&slow, GOOD_CARD, "us-west-2").await, 201);
    for path in ["/api/products", "/api/products/8", "/api/search?q=lamp"] {
        driver.get(&browser, path).await;
    }
    clear_faults(shop).await;

    // Checkout's retries pile onto a slow inventory; then payment cannot be reached.
    set_preset(shop, "retry-storm").await;
    let stormy = Shopper::new("storm", "free", "us-east-1", "desktop", "en-US");
    driver.buy(&stormy, GOOD_CARD, "us-east-1").await;
    clear_faults(shop).await;
    set_preset(shop, "payment-outage").await;
    let stranded = Shopper::new("outage", "free", "us-east-1", "desktop", "en-US");
    let status = driver.buy(&stranded, GOOD_CARD, "us-east-1").await;
    assert!(status >= 500, "payment-outage: checkout answered {status}");
    clear_faults(shop).await;
}
