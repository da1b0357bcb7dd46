//! The shop's telemetry to the letter of its attribute registry (`semconv/`), as OpenTelemetry
//! Weaver's `registry live-check` would judge it, without Weaver or network access.
//!
//! - [`registry_files_are_well_formed`] reads `semconv/` itself: every attribute has an id, a
//!   type, a brief, examples and a stability, ids are the shop's own (`tracedojo.`), none is both a key
//!   and the namespace of another, and the lists of OpenTelemetry keys (with the references
//!   weaver reads in `semconv/opentelemetry.yaml`) and of old keys agree with it.
//! - [`every_attribute_the_shop_sends_is_in_a_registry`] runs the shop with the fault reveal on,
//!   drives bounded traffic through it (purchases approved and declined, product views,
//!   searches, cart changes, HTML pages, the load generator), with faults that make errors,
//!   retries, slow calls and extra queries, and checks every attribute key of every span, span
//!   event, span link, log record, metric data point, exemplar, scope and resource it exported:
//!   each must be in `semconv/*.yaml` or `semconv/opentelemetry-attributes.txt`, with the type
//!   the registry gives it, and none may be an old key of `semconv/deprecated.txt`. Span events
//!   may not carry `tracing`'s `level` or `target`, and no log record may be named after a source
//!   line (`event services/cart/src/routes.rs:75`).
//!
//! The shop exports over OTLP/HTTP to a receiver in this test that keeps the decoded requests
//! whole: the explorer's store flattens them and keeps neither a log record's event name nor
//! scope or exemplar attributes.
//!
//! The parts: [`registry`] reads `semconv/`, [`collector`] is the receiver, [`traffic`] drives
//! the shop and [`findings`] judges what arrived.

#[path = "../support/mod.rs"]
mod support;

mod collector;
mod findings;
mod registry;
mod traffic;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use collector::{Collector, service_of, trace_complete};
use findings::Findings;
use registry::{
    OPENTELEMETRY_REFS, Registries, STABILITIES, VALUE_TYPES, deprecated_keys,
    opentelemetry_attributes, read, registry_files, semconv_dir,
};
use support::Shop;
use traffic::{Driver, drive};

// The eight services of the shop, by their `service.name`.
use tracedojo_faults::spec::SERVICES as SHOP_SERVICES;
/// The `service.name` of `tracedojo load`'s spans.
const LOADGEN_SERVICE: &str = "loadgenerator";
/// Every wait of the test; generous, since a loaded machine is slow, not wrong.
const WAIT: Duration = Duration::from_secs(90);
/// The parent span id of the test's own requests (sent in `traceparent`), so their traces can
/// be found without relying on any attribute key.
const TEST_PARENT: &str = "5e3c0bf1a9d2e7f4";

#[test]
fn registry_files_are_well_formed() {
    let mut errors: Vec<String> = Vec::new();
    let files = registry_files();
    assert!(!files.is_empty(), "no registry files in semconv/");
    // id -> where it is defined
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    for (path, groups) in &files {
        let file = format!(
            "semconv/{}",
            path.file_name().unwrap_or_default().to_string_lossy()
        );
        let groups = match groups {
            Ok(groups) => groups,
            Err(e) => {
                errors.push(format!("{file}: {e}"));
                continue;
            }
        };
        let stem = path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let area = format!("tracedojo.{stem}");
        if groups.is_empty() {
            errors.push(format!("{file}: no groups"));
        }
        for group in groups {
            let at = format!("{file}:{}", group.entry.line);
            let expected_id = format!("registry.{area}");
            if group.entry.id != expected_id {
                errors.push(format!(
                    "{at}: group {} should be {expected_id} (one group per area, named after the file)",
                    group.entry.id
                ));
            }
            if group.entry.field("type") != Some("attribute_group") {
                errors.push(format!(
                    "{at}: group {} is not `type: attribute_group`",
                    group.entry.id
                ));
            }
            if group.entry.field("brief").is_none() {
                errors.push(format!("{at}: group {} has no brief", group.entry.id));
            }
            if group.attributes.is_empty() {
                errors.push(format!("{at}: group {} has no attributes", group.entry.id));
            }
            for attribute in &group.attributes {
                let at = format!("{file}:{}", attribute.line);
                let id = &attribute.id;
                if !id.starts_with(&format!("{area}.")) {
                    errors.push(format!(
                        "{at}: {id} does not start with `{area}.` (the area of {file})"
                    ));
                }
                if !id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.')
                    || id.contains("..")
                    || id.ends_with('.')
                {
                    errors.push(format!(
                        "{at}: {id} is not lower-case words joined by `.` and `_`"
                    ));
                }
                let value_type = attribute.value_type();
                if attribute.is_enum {
                    if attribute.members.is_empty() {
                        errors.push(format!("{at}: {id} is an enum without member values"));
                    }
                } else if !VALUE_TYPES.contains(&value_type.as_str()) {
                    errors.push(format!(
                        "{at}: {id} has type {value_type:?}; expected one of {VALUE_TYPES:?} or an enum with members"
                    ));
                }
                for field in ["brief", "examples", "stability"] {
                    if attribute.field(field).is_none() {
                        errors.push(format!("{at}: {id} has no {field}"));
                    }
                }
                if let Some(stability) = attribute.field("stability")
                    && !STABILITIES.contains(&stability)
                {
                    errors.push(format!(
                        "{at}: {id} has stability {stability:?}; expected one of {STABILITIES:?}"
                    ));
                }
                if let Some(other) = ids.insert(id.clone(), at.clone()) {
                    errors.push(format!("{at}: {id} is also defined at {other}"));
                }
            }
        }
    }

    let opentelemetry = opentelemetry_attributes();
    for (key, (value_type, stability, line)) in &opentelemetry {
        let at = format!("semconv/opentelemetry-attributes.txt:{line}");
        if !VALUE_TYPES.contains(&value_type.as_str()) {
            errors.push(format!("{at}: {key} has type {value_type:?}"));
        }
        if !STABILITIES.contains(&stability.as_str()) {
            errors.push(format!("{at}: {key} has stability {stability:?}"));
        }
        if let Some(ours) = ids.get(key) {
            errors.push(format!("{at}: {key} is also the shop's own, at {ours}"));
        }
    }

    // No key of either registry may be the namespace of another (`tracedojo.fault` next to
    // `tracedojo.fault.kind`): a backend could not show both, and weaver refuses it.
    let all: BTreeSet<&str> = ids
        .keys()
        .map(String::as_str)
        .chain(opentelemetry.keys().map(String::as_str))
        .collect();
    for key in &all {
        let namespace = format!("{key}.");
        if let Some(longer) = all.iter().find(|k| k.starts_with(&namespace)) {
            errors.push(format!(
                "{key} is an attribute and also the namespace of {longer}"
            ));
        }
    }

    let deprecated = deprecated_keys();
    let readme = read(&semconv_dir().join("README.md"));
    for (old, (new, line)) in &deprecated {
        let at = format!("semconv/deprecated.txt:{line}");
        if let Some(ours) = ids.get(old) {
            errors.push(format!("{at}: old key {old} is still defined at {ours}"));
        }
        if opentelemetry.contains_key(old) {
            errors.push(format!(
                "{at}: old key {old} is still allowed by semconv/opentelemetry-attributes.txt"
            ));
        }
        if new != "(removed)" && !ids.contains_key(new) && !opentelemetry.contains_key(new) {
            errors.push(format!(
                "{at}: {old} -> {new}, but {new} is in neither registry"
            ));
        }
        if !readme.contains(&format!("`{old}`")) {
            errors.push(format!(
                "{at}: {old} is missing from the rename table of semconv/README.md"
            ));
        }
    }
    for key in ["level", "target"] {
        if !deprecated.contains_key(key) {
            errors.push(format!(
                "semconv/deprecated.txt: `{key}` (tracing's, on span events) should be listed"
            ));
        }
    }

    // Weaver knows the OpenTelemetry attributes the shop sends only through the references in
    // semconv/opentelemetry.yaml: they must be exactly the listed ones.
    let referenced: BTreeSet<String> = read(&semconv_dir().join(OPENTELEMETRY_REFS))
        .lines()
        .filter_map(|line| line.trim().strip_prefix("- ref:"))
        .map(|key| key.trim().to_string())
        .collect();
    let listed_keys: BTreeSet<String> = opentelemetry.keys().cloned().collect();
    for key in listed_keys.difference(&referenced) {
        errors.push(format!(
            "semconv/{OPENTELEMETRY_REFS}: no `- ref: {key}`, though opentelemetry-attributes.txt allows it"
        ));
    }
    for key in referenced.difference(&listed_keys) {
        errors.push(format!(
            "semconv/{OPENTELEMETRY_REFS}: `- ref: {key}` is not in opentelemetry-attributes.txt"
        ));
    }

    // The manifest depends on the same OpenTelemetry release the key list was checked against.
    let manifest = read(&semconv_dir().join("manifest.yaml"));
    let listed = read(&semconv_dir().join("opentelemetry-attributes.txt"));
    let version = manifest
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("- schema_url: https://opentelemetry.io/schemas/")
        })
        .map(str::trim);
    match version {
        None => errors.push(
            "semconv/manifest.yaml: no dependency with schema_url https://opentelemetry.io/schemas/<version>"
                .into(),
        ),
        Some(version) => {
            if !manifest.contains(&format!("/v{version}.zip[model]"))
                && !manifest.contains(&format!("@v{version}[model]"))
            {
                errors.push(format!(
                    "semconv/manifest.yaml: the registry_path should be release v{version}'s model"
                ));
            }
            if !listed.contains(&format!("v{version}")) {
                errors.push(format!(
                    "semconv/opentelemetry-attributes.txt does not say it was checked against v{version}, the release semconv/manifest.yaml depends on"
                ));
            }
        }
    }

    assert!(
        errors.is_empty(),
        "semconv/ is not well formed ({} problems):\n  {}",
        errors.len(),
        errors.join("\n  ")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_attribute_the_shop_sends_is_in_a_registry() {
    let registries = Registries::load();
    let collector = Collector::start();
    let mut shop = Shop::start_with(
        &["--no-load", "--reveal-faults"],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ],
    );
    let mut driver = Driver {
        http: support::client(),
        shop: shop.url.clone(),
        traces: Vec::new(),
        orders: Vec::new(),
    };
    drive(&shop, &mut driver, &collector).await;
    let metric_exports_before = collector.lock().metric_exports.len();

    // Everything the traffic made has arrived: each request's trace whole, each order
    // consumed by shipping, and a metrics export from every service after the traffic.
    let traces = driver.traces.clone();
    collector
        .wait_until("every request's trace, complete", |received| {
            traces
                .iter()
                .all(|(trace_id, _)| trace_complete(&received.spans, trace_id))
        })
        .await;
    let orders = driver.orders.clone();
    collector
        .wait_until("shipping to take up every order placed", |received| {
            orders.iter().all(|order| {
                received
                    .spans
                    .iter()
                    .any(|s| s.link_traces.iter().any(|t| t == order))
            })
        })
        .await;
    collector
        .wait_until(
            "a metrics export from every service after the traffic",
            |received| {
                SHOP_SERVICES.iter().all(|service| {
                    received.metric_exports
                        [metric_exports_before.min(received.metric_exports.len())..]
                        .iter()
                        .any(|services| services.contains(*service))
                })
            },
        )
        .await;
    // The stop flushes what is still batched (logs among them) and adds the shutdown's own.
    let stopped_cleanly = shop.stop();

    let received = collector.lock();
    assert!(
        received.errors.is_empty(),
        "the receiver could not read: {:?}",
        received.errors
    );
    let findings = Findings::check(&registries, &received);
    // Nothing passes for want of telemetry: every service sent spans, metrics and logs.
    for service in SHOP_SERVICES.iter().chain([&LOADGEN_SERVICE]) {
        assert!(
            received.spans.iter().any(|s| s.service == *service),
            "no spans from {service}; {}",
            findings.summary()
        );
    }
    for service in SHOP_SERVICES {
        let logged = received
            .logs
            .iter()
            .flat_map(|r| &r.resource_logs)
            .any(|r| service_of(r.resource.as_ref()) == service);
        assert!(
            logged,
            "no log records from {service}; {}",
            findings.summary()
        );
    }
    eprintln!("{}", findings.summary());
    if !stopped_cleanly {
        eprintln!("note: the shop did not stop cleanly, so some telemetry may be missing");
    }
    let unseen: Vec<&String> = registries
        .project
        .keys()
        .filter(|key| !findings.seen.contains(*key))
        .collect();
    if !unseen.is_empty() {
        eprintln!("note: registry keys this traffic did not produce: {unseen:?}");
    }
    assert!(
        findings.problems.is_empty(),
        "{}\n{}",
        findings.report(),
        findings.summary()
    );
}
