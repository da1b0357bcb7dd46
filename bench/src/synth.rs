//! Synthetic but realistic OTLP trace batches for the explorer benchmark, encoded once and
//! sent many times.
//!
//! The traces look like the shop's: eight services calling each other (`frontend` → `cart`,
//! `catalog`, `checkout`, `recommendation`; `checkout` → `inventory`, `payment`, `shipping`,
//! ...), traces of 5 to 60 spans with real parent/child structure, SERVER and CLIENT spans with
//! the stable HTTP attributes and the user baggage (`tracedojo.user.tier`, `tracedojo.user.region`, ...,
//! `user.id`), database CLIENT spans with `db.*` attributes, errors that propagate from a
//! failing leaf to the root, and resources with `service.*`, `host.name` and the SDK's
//! attributes.
//!
//! Encoding protobuf would make the sender the bottleneck, so a [`Corpus`] encodes a set of
//! 512-span batches up front and records where every trace id, span id and timestamp sits in
//! the bytes. [`Corpus::render`] then copies a template and patches those places: ids are
//! XORed with a mask drawn from the round (so each send carries new, unique ids and a parent
//! still points at its parent), timestamps are moved to the time of sending.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, span, status};
use prost::Message;
use prost::bytes::Bytes;
use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::IndexedRandom;
use rand::{RngExt, SeedableRng};

/// Spans per export request: the OpenTelemetry SDK's default `max_export_batch_size`.
pub const BATCH_SPANS: usize = 512;

/// The shop's services; `service.name` of every generated span.
pub const SERVICES: [&str; 8] = [
    "frontend",
    "cart",
    "catalog",
    "checkout",
    "payment",
    "inventory",
    "recommendation",
    "shipping",
];

pub const TIERS: [&str; 3] = ["gold", "silver", "bronze"];
pub const REGIONS: [&str; 6] = [
    "eu-west-1",
    "eu-central-1",
    "us-east-1",
    "us-west-2",
    "ap-northeast-1",
    "sa-east-1",
];
const DEVICES: [&str; 3] = ["desktop", "mobile", "tablet"];
const LOCALES: [&str; 5] = ["en-US", "de-DE", "ja-JP", "fr-FR", "pt-BR"];
const COMPANIES: [&str; 12] = [
    "Acme Corp",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Stark Industries",
    "Wayne Enterprises",
    "Soylent",
    "Tyrell",
    "Cyberdyne",
    "Wonka",
    "Vandelay",
];
/// Distinct users; each trace is one user's request.
const USERS: u32 = 5_000;

/// What a service does for one of its routes: queries, then calls, then maybe repeated work.
struct Operation {
    service: usize,
    method: &'static str,
    route: &'static str,
    steps: &'static [Step],
    /// Index into `steps` of the step repeated while the trace's span budget lasts (the
    /// N+1 pattern: one lookup per product, one query per item).
    repeat: Option<usize>,
}

enum Step {
    /// A database query: operation, table, statement.
    Query(&'static str, &'static str, &'static str),
    /// An HTTP call to another service's operation (index into [`OPERATIONS`]).
    Call(usize),
    /// An HTTP call to something untraced (the payment gateway).
    External(&'static str, &'static str, &'static str),
}

const SELECT_PRODUCT: Step = Step::Query(
    "SELECT",
    "products",
    "SELECT id, name, price_cents, stock FROM products WHERE id = ?",
);
const SELECT_PRODUCTS: Step = Step::Query(
    "SELECT",
    "products",
    "SELECT id, name, price_cents FROM products ORDER BY id LIMIT ? OFFSET ?",
);
const SEARCH_PRODUCTS: Step = Step::Query(
    "SELECT",
    "products_fts",
    "SELECT rowid FROM products_fts WHERE products_fts MATCH ? LIMIT 20",
);
const SELECT_CART: Step = Step::Query(
    "SELECT",
    "cart_items",
    "SELECT product_id, quantity FROM cart_items WHERE session_id = ?",
);
const INSERT_CART: Step = Step::Query(
    "INSERT",
    "cart_items",
    "INSERT INTO cart_items (session_id, product_id, quantity) VALUES (?, ?, ?)",
);
const DELETE_CART: Step = Step::Query(
    "DELETE",
    "cart_items",
    "DELETE FROM cart_items WHERE session_id = ?",
);
const UPDATE_STOCK: Step = Step::Query(
    "UPDATE",
    "stock",
    "UPDATE stock SET reserved = reserved + ? WHERE product_id = ? AND available >= ?",
);
const INSERT_ORDER: Step = Step::Query(
    "INSERT",
    "orders",
    "INSERT INTO orders (id, session_id, total_cents, status) VALUES (?, ?, ?, ?)",
);
const SELECT_ORDER: Step = Step::Query(
    "SELECT",
    "orders",
    "SELECT id, status, total_cents FROM orders WHERE id = ?",
);
const INSERT_SHIPMENT: Step = Step::Query(
    "INSERT",
    "shipments",
    "INSERT INTO shipments (order_id, carrier, eta) VALUES (?, ?, ?)",
);
const SELECT_RATES: Step = Step::Query(
    "SELECT",
    "rates",
    "SELECT carrier, cents FROM rates WHERE region = ?",
);

// Indices into OPERATIONS, so steps can name their callee.
const CATALOG_PRODUCT: usize = 0;
const CATALOG_LIST: usize = 1;
const CATALOG_SEARCH: usize = 2;
const RECOMMEND: usize = 3;
const CART_GET: usize = 4;
const CART_ADD: usize = 5;
const INVENTORY_RESERVE: usize = 6;
const PAYMENT_CHARGE: usize = 7;
const SHIPPING_QUOTE: usize = 8;
const CHECKOUT: usize = 9;
const ORDER_GET: usize = 10;
const CART_CLEAR: usize = 11;
/// Operations that start a trace (frontend routes), from here to the end.
const FIRST_ROOT: usize = 12;

static OPERATIONS: [Operation; 18] = [
    Operation {
        service: 2,
        method: "GET",
        route: "/products/{id}",
        steps: &[SELECT_PRODUCT],
        repeat: None,
    },
    Operation {
        service: 2,
        method: "GET",
        route: "/products",
        steps: &[SELECT_PRODUCTS, SELECT_PRODUCT],
        repeat: Some(1),
    },
    Operation {
        service: 2,
        method: "GET",
        route: "/search",
        steps: &[SEARCH_PRODUCTS, SELECT_PRODUCT],
        repeat: Some(1),
    },
    Operation {
        service: 6,
        method: "GET",
        route: "/recommendations/{id}",
        steps: &[Step::Call(CATALOG_PRODUCT)],
        repeat: Some(0),
    },
    Operation {
        service: 1,
        method: "GET",
        route: "/cart",
        steps: &[SELECT_CART],
        repeat: None,
    },
    Operation {
        service: 1,
        method: "POST",
        route: "/cart/items",
        steps: &[Step::Call(CATALOG_PRODUCT), INSERT_CART],
        repeat: None,
    },
    Operation {
        service: 5,
        method: "POST",
        route: "/reservations",
        steps: &[UPDATE_STOCK],
        repeat: Some(0),
    },
    Operation {
        service: 4,
        method: "POST",
        route: "/charge",
        steps: &[Step::External(
            "POST",
            "gateway.payments.example",
            "https://gateway.payments.example/v1/charges",
        )],
        repeat: None,
    },
    Operation {
        service: 7,
        method: "GET",
        route: "/quote",
        steps: &[SELECT_RATES],
        repeat: None,
    },
    Operation {
        service: 3,
        method: "POST",
        route: "/checkout",
        steps: &[
            Step::Call(CART_GET),
            Step::Call(CATALOG_PRODUCT),
            Step::Call(INVENTORY_RESERVE),
            Step::Call(PAYMENT_CHARGE),
            Step::Call(SHIPPING_QUOTE),
            INSERT_ORDER,
            INSERT_SHIPMENT,
            Step::Call(CART_CLEAR),
        ],
        repeat: Some(1),
    },
    Operation {
        service: 3,
        method: "GET",
        route: "/orders/{id}",
        steps: &[SELECT_ORDER],
        repeat: None,
    },
    Operation {
        service: 1,
        method: "DELETE",
        route: "/cart",
        steps: &[DELETE_CART],
        repeat: None,
    },
    // Frontend routes (roots).
    Operation {
        service: 0,
        method: "GET",
        route: "/api/products",
        steps: &[Step::Call(CATALOG_LIST), Step::Call(RECOMMEND)],
        repeat: Some(1),
    },
    Operation {
        service: 0,
        method: "GET",
        route: "/api/products/{id}",
        steps: &[Step::Call(CATALOG_PRODUCT), Step::Call(RECOMMEND)],
        repeat: Some(1),
    },
    Operation {
        service: 0,
        method: "GET",
        route: "/api/search",
        steps: &[Step::Call(CATALOG_SEARCH)],
        repeat: Some(0),
    },
    Operation {
        service: 0,
        method: "POST",
        route: "/api/cart/items",
        steps: &[Step::Call(CART_ADD), Step::Call(CART_GET)],
        repeat: Some(0),
    },
    Operation {
        service: 0,
        method: "POST",
        route: "/api/checkout",
        steps: &[Step::Call(CHECKOUT)],
        repeat: None,
    },
    Operation {
        service: 0,
        method: "GET",
        route: "/api/orders/{id}",
        steps: &[Step::Call(ORDER_GET), Step::Call(CART_GET)],
        repeat: Some(0),
    },
];

/// Every span name each service produces (`{method} {route}` and `{operation} {table}`), for
/// search queries that match something.
pub fn operations_by_service() -> BTreeMap<&'static str, Vec<String>> {
    let mut out: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    for operation in &OPERATIONS {
        let names = out.entry(SERVICES[operation.service]).or_default();
        names.push(format!("{} {}", operation.method, operation.route));
        for step in operation.steps {
            match step {
                Step::Query(verb, table, _) => names.push(format!("{verb} {table}")),
                Step::Call(callee) => {
                    let callee = &OPERATIONS[*callee];
                    names.push(format!("{} {}", callee.method, callee.route));
                }
                Step::External(method, host, _) => names.push(format!("{method} {host}")),
            }
        }
    }
    for names in out.values_mut() {
        names.sort();
        names.dedup();
    }
    out
}

struct User {
    id: String,
    tier: &'static str,
    region: &'static str,
    device: &'static str,
    locale: &'static str,
    company: &'static str,
}

fn users(rng: &mut Xoshiro256PlusPlus) -> Vec<User> {
    (0..USERS)
        .map(|n| {
            let roll: f64 = rng.random();
            User {
                id: format!("user-{n:05}"),
                tier: if roll < 0.1 {
                    "gold"
                } else if roll < 0.4 {
                    "silver"
                } else {
                    "bronze"
                },
                region: REGIONS.choose(rng).copied().unwrap_or(REGIONS[0]),
                device: DEVICES.choose(rng).copied().unwrap_or(DEVICES[0]),
                locale: LOCALES.choose(rng).copied().unwrap_or(LOCALES[0]),
                company: COMPANIES.choose(rng).copied().unwrap_or(COMPANIES[0]),
            }
        })
        .collect()
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn text(key: &str, value: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(value.to_string()))
}

fn int(key: &str, value: i64) -> KeyValue {
    kv(key, any_value::Value::IntValue(value))
}

fn port(service: usize) -> i64 {
    8080 + service as i64
}

/// The resources: two instances of each service.
fn resources() -> Vec<Resource> {
    (0..SERVICES.len() * 2)
        .map(|n| {
            let service = n / 2;
            Resource {
                attributes: vec![
                    text("service.name", SERVICES[service]),
                    text("service.namespace", "tracedojo"),
                    text(
                        "service.version",
                        if n % 2 == 0 { "1.4.2" } else { "1.4.3" },
                    ),
                    text(
                        "service.instance.id",
                        &format!("{:08x}-6d1c-4b8e-9f3a-{:012x}", 0x5eed_0000 + n, n * 7919),
                    ),
                    text("host.name", &format!("shop-host-{}", n % 3 + 1)),
                    text("host.arch", "amd64"),
                    text("os.type", "linux"),
                    int("process.pid", 4_000 + n as i64),
                    text("process.runtime.name", "rustc"),
                    text("deployment.environment.name", "workshop"),
                    text("telemetry.sdk.name", "opentelemetry"),
                    text("telemetry.sdk.language", "rust"),
                    text("telemetry.sdk.version", "0.33.1"),
                ],
                ..Default::default()
            }
        })
        .collect()
}

/// Builds one trace's spans, depth first (a parent always comes before its children).
struct TraceBuilder<'a> {
    rng: &'a mut Xoshiro256PlusPlus,
    trace_id: Vec<u8>,
    user: &'a User,
    /// Spans still allowed in this trace.
    budget: usize,
    /// Gold customers' requests fail more often, so error analysis has something to find.
    error_rate: f64,
    spans: Vec<(usize, Span)>,
}

impl TraceBuilder<'_> {
    fn span_id(&mut self) -> Vec<u8> {
        self.rng.random::<u64>().to_le_bytes().to_vec()
    }

    fn push(&mut self, resource: usize, span: Span) -> usize {
        self.budget = self.budget.saturating_sub(1);
        self.spans.push((resource, span));
        self.spans.len() - 1
    }

    /// Milliseconds, log-normal around `median` (nanoseconds out).
    fn latency(&mut self, median_ms: f64) -> u64 {
        let normal: f64 = (0..12).map(|_| self.rng.random::<f64>()).sum::<f64>() - 6.0;
        (median_ms * (0.6 * normal).exp() * 1e6) as u64
    }

    /// A SERVER span for `operation` starting at `start`, its work, and its end. Returns
    /// the span's index and whether it failed.
    fn server(&mut self, op: usize, parent: &[u8], start: u64) -> (usize, bool) {
        let operation = &OPERATIONS[op];
        let resource = operation.service * 2 + self.rng.random_range(0..2);
        let span_id = self.span_id();
        let path = operation
            .route
            .replace("{id}", &self.rng.random_range(1..=240).to_string());
        let user = self.user;
        let attributes = vec![
            text("http.request.method", operation.method),
            text("http.route", operation.route),
            text("url.path", &path),
            text("url.scheme", "http"),
            text("server.address", "127.0.0.1"),
            int("server.port", port(operation.service)),
            text("network.protocol.version", "1.1"),
            text("tracedojo.user.tier", user.tier),
            text("tracedojo.user.region", user.region),
            text("tracedojo.user.device", user.device),
            text("tracedojo.user.locale", user.locale),
            text("tracedojo.user.company", user.company),
            text("user.id", &user.id),
        ];
        let index = self.push(
            resource,
            Span {
                trace_id: self.trace_id.clone(),
                span_id: span_id.clone(),
                parent_span_id: parent.to_vec(),
                name: format!("{} {}", operation.method, operation.route),
                kind: span::SpanKind::Server as i32,
                start_time_unix_nano: start,
                attributes,
                ..Default::default()
            },
        );
        let mut at = start + self.latency(0.05);
        let mut failed = false;
        for step in operation.steps {
            if self.budget == 0 || failed {
                break;
            }
            (at, failed) = self.step(step, resource, &span_id, at);
        }
        if let Some(repeat) = operation.repeat {
            // Inner services repeat a little; the root repeats until the budget is spent.
            let most = if operation.service == 0 {
                usize::MAX
            } else {
                6
            };
            let mut done = 0;
            while self.budget > 0 && !failed && done < most {
                (at, failed) = self.step(&operation.steps[repeat], resource, &span_id, at);
                done += 1;
                if operation.service != 0 && self.rng.random_bool(0.4) {
                    break;
                }
            }
        }
        let end = at + self.latency(0.1);
        let code = if failed { 500 } else { 200 };
        let span = &mut self.spans[index].1;
        span.end_time_unix_nano = end;
        span.attributes.push(int("http.response.status_code", code));
        if failed {
            span.status = Some(error_status("Internal Server Error"));
            span.attributes.push(text("error.type", "500"));
        }
        (index, failed)
    }

    /// One step of an operation starting at `at`; returns when it ended and whether it failed.
    fn step(&mut self, step: &Step, resource: usize, parent: &[u8], at: u64) -> (u64, bool) {
        match step {
            Step::Query(verb, table, query) => {
                let slow = self.rng.random_bool(0.02);
                let duration = self.latency(if slow { 120.0 } else { 0.4 });
                let failed = self.rng.random_bool(self.error_rate / 4.0);
                let mut span = Span {
                    trace_id: self.trace_id.clone(),
                    span_id: self.span_id(),
                    parent_span_id: parent.to_vec(),
                    name: format!("{verb} {table}"),
                    kind: span::SpanKind::Client as i32,
                    start_time_unix_nano: at,
                    end_time_unix_nano: at + duration,
                    attributes: vec![
                        text("db.system.name", "sqlite"),
                        text("db.query.text", query),
                        text("db.operation.name", verb),
                        text("db.collection.name", table),
                        text("db.namespace", "tracedojo"),
                    ],
                    ..Default::default()
                };
                if failed {
                    fail(
                        &mut span,
                        at + duration / 2,
                        "SqliteError",
                        "database is locked",
                    );
                }
                self.push(resource, span);
                (at + duration + self.latency(0.02), failed)
            }
            Step::External(method, host, url) => {
                let duration = self.latency(60.0);
                let failed = self.rng.random_bool(self.error_rate);
                let mut span = Span {
                    trace_id: self.trace_id.clone(),
                    span_id: self.span_id(),
                    parent_span_id: parent.to_vec(),
                    name: format!("{method} {host}"),
                    kind: span::SpanKind::Client as i32,
                    start_time_unix_nano: at,
                    end_time_unix_nano: at + duration,
                    attributes: vec![
                        text("http.request.method", method),
                        text("url.full", url),
                        text("server.address", host),
                        int("server.port", 443),
                        int("http.response.status_code", if failed { 503 } else { 200 }),
                    ],
                    ..Default::default()
                };
                if failed {
                    fail(&mut span, at + duration, "503", "gateway unavailable");
                    span.attributes.push(text("error.type", "503"));
                }
                self.push(resource, span);
                (at + duration, failed)
            }
            Step::Call(callee) => {
                let operation = &OPERATIONS[*callee];
                let client_id = self.span_id();
                let client = self.push(
                    resource,
                    Span {
                        trace_id: self.trace_id.clone(),
                        span_id: client_id.clone(),
                        parent_span_id: parent.to_vec(),
                        name: format!("{} {}", operation.method, operation.route),
                        kind: span::SpanKind::Client as i32,
                        start_time_unix_nano: at,
                        attributes: vec![
                            text("http.request.method", operation.method),
                            text(
                                "url.full",
                                &format!(
                                    "http://127.0.0.1:{}{}",
                                    port(operation.service),
                                    operation.route
                                ),
                            ),
                            text("url.template", operation.route),
                            text("server.address", "127.0.0.1"),
                            int("server.port", port(operation.service)),
                        ],
                        ..Default::default()
                    },
                );
                let sent = at + self.latency(0.15);
                let (failed, end) = if self.budget > 0 {
                    let (server, failed) = self.server(*callee, &client_id, sent);
                    (failed, self.spans[server].1.end_time_unix_nano)
                } else {
                    (false, sent + self.latency(1.0))
                };
                let end = end + self.latency(0.15);
                let span = &mut self.spans[client].1;
                span.end_time_unix_nano = end;
                span.attributes.push(int(
                    "http.response.status_code",
                    if failed { 500 } else { 200 },
                ));
                if failed {
                    span.status = Some(error_status("500 Internal Server Error"));
                    span.attributes.push(text("error.type", "500"));
                }
                (end, failed)
            }
        }
    }
}

fn error_status(message: &str) -> opentelemetry_proto::tonic::trace::v1::Status {
    opentelemetry_proto::tonic::trace::v1::Status {
        code: status::StatusCode::Error as i32,
        message: message.to_string(),
    }
}

/// Marks a span failed, with the exception event SDKs record.
fn fail(span: &mut Span, at: u64, kind: &str, message: &str) {
    span.status = Some(error_status(message));
    span.events.push(span::Event {
        time_unix_nano: at,
        name: "exception".to_string(),
        attributes: vec![
            text("exception.type", kind),
            text("exception.message", message),
        ],
        ..Default::default()
    });
}

/// A pre-encoded `ExportTraceServiceRequest` and the places to patch in it.
struct Template {
    bytes: Vec<u8>,
    /// Offsets of 16-byte trace ids (spans' and links').
    trace_ids: Vec<usize>,
    /// Offsets of 8-byte span ids (spans', parents', links').
    span_ids: Vec<usize>,
    /// Offsets of little-endian u64 timestamps (starts, ends, events).
    times: Vec<usize>,
    spans: usize,
}

/// Batches of synthetic spans, sent over and over with fresh ids and current timestamps.
pub struct Corpus {
    templates: Vec<Template>,
    /// The time the templates' timestamps are relative to.
    base_unix_nanos: u64,
    seed: u64,
}

pub fn now_unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

impl Corpus {
    /// `batches` templates of [`BATCH_SPANS`] spans each, from `seed`.
    pub fn generate(seed: u64, batches: usize) -> Corpus {
        let base = now_unix_nanos();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let users = users(&mut rng);
        let resources = resources();
        let templates = (0..batches)
            .map(|_| Template::new(&batch(&mut rng, &users, &resources, base, BATCH_SPANS)))
            .collect();
        Corpus {
            templates,
            base_unix_nanos: base,
            seed,
        }
    }

    /// Spans in the request [`Corpus::render`] gives for `index`.
    pub fn spans_in(&self, index: u64) -> usize {
        self.templates[index as usize % self.templates.len()].spans
    }

    /// The encoded bytes of all templates, for the figures.
    pub fn encoded_bytes(&self) -> usize {
        self.templates.iter().map(|t| t.bytes.len()).sum()
    }

    pub fn batches(&self) -> usize {
        self.templates.len()
    }

    /// Encoded bytes per span, on average over the templates.
    pub fn bytes_per_span(&self) -> f64 {
        self.encoded_bytes() as f64 / (self.batches() * BATCH_SPANS) as f64
    }

    /// Request number `index`: template `index % batches` with ids unique to its round and
    /// timestamps moved so that its traces end around `now_unix_nanos`.
    pub fn render(&self, index: u64, now_unix_nanos: u64) -> Bytes {
        let template = &self.templates[index as usize % self.templates.len()];
        let round = index / self.templates.len() as u64;
        let mask = splitmix64(self.seed ^ splitmix64(round + 1));
        let mask2 = splitmix64(mask);
        let shift = now_unix_nanos.wrapping_sub(self.base_unix_nanos);
        let mut bytes = template.bytes.clone();
        for &at in &template.trace_ids {
            xor(&mut bytes[at..at + 8], mask);
            xor(&mut bytes[at + 8..at + 16], mask2);
        }
        for &at in &template.span_ids {
            xor(&mut bytes[at..at + 8], mask);
        }
        for &at in &template.times {
            let field: &mut [u8; 8] = (&mut bytes[at..at + 8]).try_into().expect("8 bytes");
            *field = u64::from_le_bytes(*field).wrapping_add(shift).to_le_bytes();
        }
        Bytes::from(bytes)
    }
}

fn xor(bytes: &mut [u8], mask: u64) {
    for (byte, m) in bytes.iter_mut().zip(mask.to_le_bytes()) {
        *byte ^= m;
    }
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// One request of exactly `spans` spans: whole traces of 5 to 60 spans ending shortly before
/// `base`, the last one cut short to fit (as a batch boundary cuts a trace in a real exporter),
/// grouped by resource the way an exporter or collector sends them.
fn batch(
    rng: &mut Xoshiro256PlusPlus,
    users: &[User],
    resources: &[Resource],
    base: u64,
    spans: usize,
) -> ExportTraceServiceRequest {
    let mut by_resource: BTreeMap<usize, Vec<Span>> = BTreeMap::new();
    let mut count = 0;
    while count < spans {
        let budget = rng.random_range(5..=60).min(spans - count);
        let user = &users[rng.random_range(0..users.len())];
        let root = rng.random_range(FIRST_ROOT..OPERATIONS.len());
        let mut builder = TraceBuilder {
            trace_id: rng.random::<u128>().to_le_bytes().to_vec(),
            rng: &mut *rng,
            user,
            budget,
            error_rate: if user.tier == "gold" { 0.03 } else { 0.008 },
            spans: Vec::new(),
        };
        builder.server(root, &[], 0);
        let trace = builder.spans;
        // Built from 0; move the trace so it ends up to a second before `base`.
        let end = trace
            .iter()
            .map(|(_, s)| s.end_time_unix_nano)
            .max()
            .unwrap_or(0);
        let offset = base - end - rng.random_range(0..1_000_000_000);
        for (resource, mut span) in trace {
            span.start_time_unix_nano += offset;
            span.end_time_unix_nano += offset;
            for event in &mut span.events {
                event.time_unix_nano += offset;
            }
            by_resource.entry(resource).or_default().push(span);
            count += 1;
        }
    }
    ExportTraceServiceRequest {
        resource_spans: by_resource
            .into_iter()
            .map(|(resource, spans)| ResourceSpans {
                resource: Some(resources[resource].clone()),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "tracedojo-kit".to_string(),
                        version: "0.1.0".to_string(),
                        ..Default::default()
                    }),
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    }
}

impl Template {
    fn new(request: &ExportTraceServiceRequest) -> Template {
        let bytes = request.encode_to_vec();
        let mut template = Template {
            trace_ids: Vec::new(),
            span_ids: Vec::new(),
            times: Vec::new(),
            spans: request
                .resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .map(|s| s.spans.len())
                .sum(),
            bytes: Vec::new(),
        };
        // ExportTraceServiceRequest.resource_spans = 1; ResourceSpans.scope_spans = 2;
        // ScopeSpans.spans = 2.
        for (_, resource_spans) in fields(&bytes, 0..bytes.len(), 1) {
            for (_, scope_spans) in fields(&bytes, resource_spans, 2) {
                for (_, span) in fields(&bytes, scope_spans, 2) {
                    template.locate_span(&bytes, span);
                }
            }
        }
        template.bytes = bytes;
        template
    }

    /// Span: trace_id = 1, span_id = 2, parent_span_id = 4, start = 7, end = 8 (fixed64),
    /// events = 11 (Event.time_unix_nano = 1), links = 13 (Link.trace_id = 1, span_id = 2).
    fn locate_span(&mut self, bytes: &[u8], span: std::ops::Range<usize>) {
        for (field, value) in fields(bytes, span, 0) {
            match field {
                1 if value.len() == 16 => self.trace_ids.push(value.start),
                2 | 4 if value.len() == 8 => self.span_ids.push(value.start),
                7 | 8 => self.times.push(value.start),
                11 => {
                    for (field, value) in fields(bytes, value, 1) {
                        if field == 1 {
                            self.times.push(value.start);
                        }
                    }
                }
                13 => {
                    for (field, value) in fields(bytes, value, 0) {
                        match field {
                            1 if value.len() == 16 => self.trace_ids.push(value.start),
                            2 if value.len() == 8 => self.span_ids.push(value.start),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// The fields of the protobuf message in `bytes[range]` (only field `only` unless it is 0),
/// each with the range of its value: a length-delimited field's payload, a fixed field's
/// bytes. The bytes are our own encoding, so malformed input is a bug and panics.
fn fields(
    bytes: &[u8],
    range: std::ops::Range<usize>,
    only: u64,
) -> Vec<(u64, std::ops::Range<usize>)> {
    fn varint(bytes: &[u8], at: &mut usize) -> u64 {
        let mut value = 0;
        for shift in (0..64).step_by(7) {
            let byte = bytes[*at];
            *at += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                break;
            }
        }
        value
    }
    let mut out = Vec::new();
    let mut at = range.start;
    while at < range.end {
        let key = varint(bytes, &mut at);
        let start = at;
        let value = match key & 7 {
            0 => {
                varint(bytes, &mut at);
                start..at
            }
            1 => start..start + 8,
            5 => start..start + 4,
            2 => {
                let len = varint(bytes, &mut at) as usize;
                at..at + len
            }
            other => panic!("wire type {other} in our own encoding"),
        };
        at = at.max(value.end);
        if only == 0 || key >> 3 == only {
            out.push((key >> 3, value));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn decode(bytes: &[u8]) -> Vec<Span> {
        ExportTraceServiceRequest::decode(bytes)
            .expect("decodes")
            .resource_spans
            .into_iter()
            .flat_map(|r| r.scope_spans)
            .flat_map(|s| s.spans)
            .collect()
    }

    #[test]
    fn rendered_batches_have_fresh_ids_shifted_times_and_intact_structure() {
        let corpus = Corpus::generate(7, 3);
        let template = decode(&corpus.render(0, corpus.base_unix_nanos));
        assert_eq!(template.len(), BATCH_SPANS);
        let later = corpus.base_unix_nanos + 5_000_000_000;
        // Index 3 is template 0 in the next round.
        let rendered = decode(&corpus.render(3, later));
        assert_eq!(rendered.len(), BATCH_SPANS);
        let ids: HashSet<&[u8]> = rendered.iter().map(|s| s.span_id.as_slice()).collect();
        assert_eq!(ids.len(), BATCH_SPANS, "span ids unique");
        for (old, new) in template.iter().zip(&rendered) {
            assert_ne!(old.trace_id, new.trace_id);
            assert_ne!(old.span_id, new.span_id);
            assert_eq!(old.name, new.name);
            assert_eq!(
                new.start_time_unix_nano - old.start_time_unix_nano,
                5_000_000_000
            );
            assert_eq!(
                new.end_time_unix_nano - new.start_time_unix_nano,
                old.end_time_unix_nano - old.start_time_unix_nano
            );
            for (old_event, new_event) in old.events.iter().zip(&new.events) {
                assert_eq!(
                    new_event.time_unix_nano - old_event.time_unix_nano,
                    5_000_000_000
                );
            }
            // A parent in the batch is still found under its patched id.
            if !new.parent_span_id.is_empty() {
                let parent = rendered
                    .iter()
                    .find(|p| p.span_id == new.parent_span_id)
                    .expect("parent present");
                assert_eq!(parent.trace_id, new.trace_id);
                assert!(parent.start_time_unix_nano <= new.start_time_unix_nano);
                assert!(parent.end_time_unix_nano >= new.end_time_unix_nano);
            }
        }
    }

    #[test]
    fn traces_look_like_the_shop() {
        let corpus = Corpus::generate(11, 4);
        let spans: Vec<Span> = (0..4).flat_map(|i| decode(&corpus.render(i, 0))).collect();
        let mut per_trace: BTreeMap<&[u8], usize> = BTreeMap::new();
        for span in &spans {
            *per_trace.entry(span.trace_id.as_slice()).or_default() += 1;
        }
        let whole: Vec<usize> = per_trace.values().copied().filter(|n| *n >= 5).collect();
        assert!(whole.len() > per_trace.len() * 3 / 4, "{per_trace:?}");
        assert!(whole.iter().all(|n| *n <= 60));
        let has = |key: &str| {
            spans
                .iter()
                .any(|s| s.attributes.iter().any(|a| a.key == key))
        };
        for key in [
            "http.route",
            "url.path",
            "tracedojo.user.tier",
            "tracedojo.user.company",
            "db.query.text",
            "db.collection.name",
            "http.response.status_code",
        ] {
            assert!(has(key), "{key}");
        }
        assert!(spans.iter().any(|s| s.status.is_some()), "some errors");
        let roots = spans.iter().filter(|s| s.parent_span_id.is_empty()).count();
        assert!(roots >= per_trace.len() - 1);
    }
}
