//! One backend account, many participants: two `tracedojo up` runs, each with a participant
//! name of its own, export to one explorer (standing in for a shared vendor account). Every
//! span of each run carries its participant as `service.namespace` in its resource, `up`
//! says how to filter to it, and the explorer's API narrowed with `namespace=` answers with
//! one participant's traces, services and spans only.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::support::{ServiceProcess, Shop, buy_approved, client, service_pids};
use serde_json::Value;
use tracedojo_explorer::{Explorer, ExplorerConfig, StoredSpan};

const WAIT: Duration = Duration::from_secs(60);

fn namespace_of(span: &StoredSpan) -> &str {
    span.resource
        .get("service.namespace")
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn pid_of(span: &StoredSpan) -> u32 {
    span.resource
        .get("process.pid")
        .and_then(Value::as_u64)
        .and_then(|pid| u32::try_from(pid).ok())
        .unwrap_or(0)
}

/// The pid of the background load, from `Load: ... (pid N)` in the summary.
fn load_pid(shop: &Shop) -> Option<u32> {
    let line = shop.stdout.wait_for("Load:", Duration::ZERO).ok()?;
    let (_, after) = line.split_once("(pid ")?;
    after.split(')').next()?.parse().ok()
}

/// The participant's checkout went through the whole shop, and its order was shipped.
fn purchase_arrived(spans: &[StoredSpan], namespace: &str) -> bool {
    let ours = |s: &&StoredSpan| namespace_of(s) == namespace;
    let Some(root) = spans.iter().filter(ours).find(|s| {
        s.service_name() == "frontend" && s.kind == "SERVER" && s.name == "POST /api/checkout"
    }) else {
        return false;
    };
    let services: BTreeSet<&str> = spans
        .iter()
        .filter(ours)
        .filter(|s| s.trace_id == root.trace_id)
        .map(StoredSpan::service_name)
        .collect();
    let shipped = spans
        .iter()
        .filter(ours)
        .any(|s| s.kind == "CONSUMER" && s.links.iter().any(|l| l.trace_id == root.trace_id));
    services.len() >= 7 && shipped
}

async fn get_json(url: &str) -> Value {
    let response = client().get(url).send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_participants_share_one_backend_and_each_sees_only_their_own() {
    let shared = Explorer::start(ExplorerConfig::local()).await.unwrap();
    let endpoint = shared.receiver().http_endpoint();
    let backend = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
    ];
    // Alice names herself on the command line and keeps her own explorer and the load; Bob
    // through the variable, under a shell that sets another namespace for everyone.
    let mut alice = Shop::start_with(&["--participant", "alice"], &backend);
    let mut bob = Shop::start_with(
        &["--no-load", "--no-explorer"],
        &[
            backend[0],
            backend[1],
            ("TRACEDOJO_PARTICIPANT", "bob"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "service.namespace=shared-team,team.name=blue",
            ),
        ],
    );

    // What `up` says: how to filter, in the explorer and in a backend; which namespace wins.
    let own_explorer = alice.explorer.clone().expect("alice runs an explorer");
    let filtered = format!("{own_explorer}/?namespace=alice");
    let line = alice
        .stdout
        .wait_for("in the explorer:", Duration::ZERO)
        .unwrap();
    assert!(line.ends_with(&filtered), "{line}");
    alice
        .stdout
        .wait_for("filter on service.namespace = alice", Duration::ZERO)
        .unwrap();
    bob.stdout
        .wait_for(
            "--participant bob wins over service.namespace=shared-team",
            Duration::ZERO,
        )
        .unwrap();
    bob.stdout
        .wait_for("filter on service.namespace = bob", Duration::ZERO)
        .unwrap();
    assert!(
        !bob.stdout.text().contains("in the explorer:"),
        "bob runs no explorer:\n{}",
        bob.stdout.text()
    );

    // The shop's own links to the explorer open it narrowed to the participant.
    let page = client()
        .get(format!("{}/", alice.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!(r#"href="{filtered}""#)),
        "the shop's Traces link is not narrowed to alice:\n{page}"
    );

    let (status, order) = buy_approved(&alice, "alice-1", "tracedojo.user.tier=gold").await;
    assert_eq!(status, 201, "{order}");
    let (status, order) = buy_approved(&bob, "bob-1", "tracedojo.user.tier=silver").await;
    assert_eq!(status, 201, "{order}");
    shared
        .receiver()
        .store()
        .wait_for_spans(
            |spans| {
                purchase_arrived(spans, "alice")
                    && purchase_arrived(spans, "bob")
                    && spans
                        .iter()
                        .any(|s| s.service_name() == "loadgenerator" && namespace_of(s) == "alice")
            },
            WAIT,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    // The link `up` printed opens the explorer; its own copy holds alice's spans only.
    let page = client().get(&filtered).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("/assets/app.js"));
    let own = get_json(&format!("{own_explorer}/api/traces?namespace=alice")).await;
    assert!(!own["traces"].as_array().unwrap().is_empty(), "{own}");
    let other = get_json(&format!("{own_explorer}/api/traces?namespace=bob")).await;
    assert_eq!(other["traces"], Value::Array(vec![]), "{other}");

    // Stopped, the runs have flushed everything: what the store holds is final, so the
    // API's answers can be compared with it exactly.
    let mut pids: BTreeMap<u32, &str> = BTreeMap::new();
    for (_, pid) in service_pids(&alice) {
        pids.insert(pid, "alice");
    }
    pids.insert(load_pid(&alice).expect("the load's pid"), "alice");
    for (_, pid) in service_pids(&bob) {
        pids.insert(pid, "bob");
    }
    assert_eq!(pids.len(), 8 + 1 + 8, "{pids:?}");
    assert!(alice.stop(), "alice's up did not stop cleanly");
    assert!(bob.stop(), "bob's up did not stop cleanly");
    let spans = shared.receiver().store().spans();

    // `up` checked the backend before it started: one test span per run, under its
    // participant's namespace. They are the only spans of no shop process.
    let mut doctor_namespaces: Vec<String> = spans
        .iter()
        .filter(|span| span.service_name() == "tracedojo-doctor")
        .map(|span| namespace_of(span).to_string())
        .collect();
    doctor_namespaces.sort();
    assert_eq!(doctor_namespaces, ["alice", "bob"]);

    // Every span carries its own run's participant, whichever process sent it.
    for span in spans
        .iter()
        .filter(|span| span.service_name() != "tracedojo-doctor")
    {
        let run = pids.get(&pid_of(span)).unwrap_or_else(|| {
            panic!(
                "a span from a process of neither run: {} {:?}",
                span.name, span.resource
            )
        });
        assert_eq!(
            namespace_of(span),
            *run,
            "{} of {}",
            span.name,
            span.service_name()
        );
        if *run == "bob" {
            assert_eq!(span.resource.get("team.name"), Some(&Value::from("blue")));
        }
    }
    for metric in shared.receiver().store().metrics() {
        let namespace = metric.resource.get("service.namespace");
        assert!(
            [Some(&Value::from("alice")), Some(&Value::from("bob"))].contains(&namespace),
            "{} of {}: {namespace:?}",
            metric.name,
            metric.service_name()
        );
    }

    let ui = format!("http://{}", shared.ui_addr());
    let mut traces_of: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for namespace in ["alice", "bob"] {
        let ours: Vec<&StoredSpan> = spans
            .iter()
            .filter(|s| namespace_of(s) == namespace)
            .collect();
        let trace_ids: BTreeSet<String> = ours.iter().map(|s| s.trace_id.clone()).collect();
        let services: BTreeSet<String> = ours.iter().map(|s| s.service_name().to_owned()).collect();

        let found = get_json(&format!("{ui}/api/traces?namespace={namespace}&limit=1000")).await;
        let found: BTreeSet<String> = found["traces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["trace_id"].as_str().unwrap().to_owned())
            .collect();
        assert!(found.len() < 1000, "the limit cut the answer short");
        assert_eq!(found, trace_ids, "search, namespace {namespace}");

        let listed = get_json(&format!("{ui}/api/services?namespace={namespace}")).await;
        let listed: BTreeSet<String> = listed["services"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(listed, services, "services, namespace {namespace}");

        let map = get_json(&format!("{ui}/api/service-map?namespace={namespace}")).await;
        let traced: Vec<&Value> = map["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["traced"] == Value::Bool(true))
            .collect();
        let mapped: usize = traced
            .iter()
            .map(|n| n["span_count"].as_u64().unwrap() as usize)
            .sum();
        assert_eq!(mapped, ours.len(), "map, namespace {namespace}: {map}");
        let names: BTreeSet<String> = traced
            .iter()
            .map(|n| n["name"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(names, services, "map, namespace {namespace}");

        let red = get_json(&format!("{ui}/api/red?namespace={namespace}")).await;
        let served: u64 = red["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["requests"].as_u64().unwrap())
            .sum();
        let expected = ours
            .iter()
            .filter(|s| s.kind == "SERVER" || s.kind == "CONSUMER")
            .count();
        assert_eq!(served as usize, expected, "RED, namespace {namespace}");

        let errors = get_json(&format!("{ui}/api/errors?namespace={namespace}")).await;
        assert_eq!(
            errors["traces"].as_u64().unwrap() as usize,
            trace_ids.len(),
            "errors, namespace {namespace}: {errors}"
        );
        traces_of.insert(namespace, trace_ids);
    }
    // Nothing is shared between the runs, and nothing is left out of both.
    assert!(traces_of["alice"].is_disjoint(&traces_of["bob"]));
    let all: BTreeSet<String> = spans.iter().map(|s| s.trace_id.clone()).collect();
    assert_eq!(all.len(), traces_of["alice"].len() + traces_of["bob"].len());
    shared.shutdown().await.unwrap();
}

/// `tracedojo service` on its own honours the variable too; a name the kit refuses stops the
/// service with one line naming the problem, as it stops `up`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_on_its_own_reads_the_participant_from_its_environment() {
    let receiver = tracedojo_explorer::Receiver::start_local().await.unwrap();
    let endpoint = receiver.http_endpoint();
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ("OTEL_RESOURCE_ATTRIBUTES", ""),
        ("TRACEDOJO_PARTICIPANT", "carol"),
    ];
    let refused = support::run_to_end(
        &["service", "payment", "--port", "0"],
        &[env[0], env[1], ("TRACEDOJO_PARTICIPANT", "carol smith")],
    );
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("TRACEDOJO_PARTICIPANT")
            && stderr.contains("has a space at position 6")
            && stderr.contains("1 to 32")
            && !stderr.contains("panicked"),
        "{stderr}"
    );

    let service = ServiceProcess::start("payment", &env);
    let pay = serde_json::json!({"order_ref": "ord_p", "amount_cents": 100, "currency": "USD", "card_number": "4242424242424242"});
    let response = client()
        .post(format!("{}/payments", service.url))
        .json(&pay)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let spans = receiver
        .store()
        .wait_for_spans(|spans| !spans.is_empty(), WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for span in &spans {
        assert_eq!(namespace_of(span), "carol", "{}", span.name);
    }
}
