//! The control API over real HTTP on loopback: what it refuses, and that a refusal changes
//! nothing.

use std::sync::Arc;

use serde_json::{Value, json};

use super::*;

async fn serve(token: Option<&str>) -> (String, Arc<FaultStore>) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let store = Arc::new(FaultStore::new(false));
    let app = router(store.clone(), token.map(str::to_string));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, store)
}

async fn post(url: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{url}/api/faults"))
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn requests_from_web_pages_and_foreign_hosts_are_refused() {
    let (url, store) = serve(None).await;
    let client = reqwest::Client::new();
    let spec = json!({"fault": {"kind": "unreachable", "service": "payment"}});
    let from_page = client
        .post(format!("{url}/api/faults/presets/payment-outage"))
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(from_page.status(), 403);
    let rebound = client
        .post(format!("{url}/api/faults"))
        .header("host", "evil.example:8089")
        .json(&spec)
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 403);
    assert!(store.plan().faults.is_empty(), "nothing was applied");
    assert_eq!(
        post(&url, spec).await.0,
        201,
        "the CLI's own request passes"
    );
}

#[tokio::test]
async fn a_token_is_required_and_compared_whole() {
    let token = "0123456789abcdef0123";
    let (url, store) = serve(Some(token)).await;
    let client = reqwest::Client::new();
    for given in [
        None,
        Some("0123456789abcdef012"),
        Some("wrong-token-of-length20"),
    ] {
        let mut request = client.get(format!("{url}/api/faults"));
        if let Some(given) = given {
            request = request.bearer_auth(given);
        }
        assert_eq!(request.send().await.unwrap().status(), 401, "{given:?}");
    }
    let ok = client
        .get(format!("{url}/api/faults"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert!(store.plan().faults.is_empty());
    assert!(check_exposure("0.0.0.0:8089".parse().unwrap(), None).is_err());
    assert!(check_exposure("0.0.0.0:8089".parse().unwrap(), Some("short")).is_err());
    assert!(check_exposure("0.0.0.0:8089".parse().unwrap(), Some(token)).is_ok());
    assert!(check_exposure("127.0.0.1:8089".parse().unwrap(), None).is_ok());
}

#[tokio::test]
async fn errors_name_the_field_and_several_specs_are_set_whole_or_not_at_all() {
    let (url, store) = serve(None).await;
    let (status, answer) = post(
        &url,
        json!({"fault": {"kind": "latency", "service": "cart"}}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(answer["field"], "fault", "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("missing field `distribution`")
    );

    let (status, answer) = post(
        &url,
        json!({"fault": {"kind": "unreachable", "service": "cart"},
               "target": {"attributes": {"tracedojo.user.tier": "gold"}}}),
    )
    .await;
    assert_eq!(
        (status, answer["field"].as_str()),
        (400, Some("target")),
        "{answer}"
    );

    // A key from before the rename is refused with its new name, not set to match nothing.
    let (status, answer) = post(
        &url,
        json!({"fault": {"kind": "errors", "service": "cart"},
               "target": {"attributes": {"user.region": "eu-west-1"}}}),
    )
    .await;
    assert_eq!(
        (status, answer["field"].as_str()),
        (400, Some("target.attributes")),
        "{answer}"
    );
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains(r#""user.region" was renamed "tracedojo.user.region"; use that"#),
        "{answer}"
    );

    let (status, answer) = post(
        &url,
        json!([
            {"fault": {"kind": "cache_failure", "service": "recommendation"}},
            {"fault": {"kind": "errors", "service": "cart"}, "target": {"probability": 7}}
        ]),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(answer["field"], "faults[1].target.probability", "{answer}");
    assert!(store.plan().faults.is_empty(), "none of the two was set");

    let (status, answer) = post(
        &url,
        json!([
            {"fault": {"kind": "cache_failure", "service": "recommendation"}},
            {"fault": {"kind": "errors", "service": "cart"}}
        ]),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["ids"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn the_reveal_switch_can_be_turned_at_run_time() {
    let (url, store) = serve(None).await;
    let before = store.plan().version;
    let response = reqwest::Client::new()
        .put(format!("{url}/api/faults/reveal"))
        .json(&json!({"reveal": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let plan = store.plan();
    assert!(plan.reveal);
    assert!(plan.version > before, "services follow it like any change");
    let bad = reqwest::Client::new()
        .put(format!("{url}/api/faults/reveal"))
        .json(&json!({"reveal": "yes"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}
