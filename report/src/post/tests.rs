use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;

use super::*;
use crate::fixture::report;

/// A body and its Authorization header.
type Posted = (Value, Option<String>);

/// What a test receiver got.
#[derive(Clone, Default)]
struct Received {
    bodies: Arc<Mutex<Vec<Posted>>>,
}

async fn receiver_answering(status: StatusCode) -> (SocketAddr, Received) {
    let received = Received::default();
    let app =
        Router::new()
            .route(
                "/hooks/T000/SECRET",
                post(
                    move |State(r): State<Received>,
                          headers: HeaderMap,
                          body: axum::Json<Value>| async move {
                        let auth = headers
                            .get("authorization")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned);
                        r.bodies.lock().expect("lock").push((body.0, auth));
                        (status, "busy")
                    },
                ),
            )
            .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, received)
}

fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[tokio::test]
async fn a_failing_webhook_is_tried_again_then_reported_without_its_secret() {
    install_tls_provider();
    let (addr, received) = receiver_answering(StatusCode::INTERNAL_SERVER_ERROR).await;
    let url = format!("http://{addr}/hooks/T000/SECRET");
    let poster = Poster::with_pause(Duration::from_millis(10));
    let err = poster
        .post(&url, &json!({"text": "hi"}), None, "the chat message")
        .await
        .expect_err("500 every time");
    assert_eq!(
        received.bodies.lock().expect("lock").len(),
        ATTEMPTS as usize
    );
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "the receiver at {addr} answered 500 3 times; the chat message was not posted: busy"
        )),
        "{text}"
    );
    assert!(!text.contains("SECRET"), "{text}");
}

#[tokio::test]
async fn a_refusal_is_not_tried_again_and_a_success_once() {
    install_tls_provider();
    let (addr, received) = receiver_answering(StatusCode::FORBIDDEN).await;
    let url = format!("http://{addr}/hooks/T000/SECRET");
    let poster = Poster::with_pause(Duration::from_millis(10));
    let err = poster
        .post(&url, &json!({}), Some("Basic c2VjcmV0"), "the ticket")
        .await
        .expect_err("403");
    assert!(
        matches!(
            err,
            PostError::Refused {
                status: 403,
                attempts: 1,
                ..
            }
        ),
        "{err}"
    );
    assert!(!err.to_string().contains("c2VjcmV0"));
    assert_eq!(
        received.bodies.lock().expect("lock")[0].1.as_deref(),
        Some("Basic c2VjcmV0")
    );

    let (addr, received) = receiver_answering(StatusCode::OK).await;
    poster
        .post(
            &format!("http://{addr}/hooks/T000/SECRET"),
            &json!({"a": 1}),
            None,
            "x",
        )
        .await
        .expect("posted");
    assert_eq!(received.bodies.lock().expect("lock").len(), 1);

    // Nobody listening: tried three times, then said.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .local_addr()
        .expect("address");
    let err = poster
        .post(
            &format!("http://{closed}/x"),
            &json!({}),
            None,
            "the chat message",
        )
        .await
        .expect_err("nobody there");
    assert!(
        matches!(err, PostError::Unreachable { attempts: 3, .. }),
        "{err}"
    );
    let err = poster
        .post("ftp://example.com/x", &json!({}), None, "x")
        .await
        .expect_err("not http");
    assert!(matches!(err, PostError::BadUrl { .. }));
}

#[test]
fn the_chat_message_is_slack_shaped_and_escaped() {
    let report = report();
    let items: Vec<&Item> = report.needs_work.iter().collect();
    let queries: Vec<&QueryItem> = report.queries.iter().collect();
    let message = chat_message(&report, &items, &queries, Lang::En);
    let text = message["text"].as_str().expect("text");
    assert!(text.contains("*1. frontend POST /api/checkout* — p95 under 400 ms: objective missed (burn rate 3.0, ticket)"), "{text}");
    assert!(
        text.contains("Where the time goes (critical path): payment 82%"),
        "{text}"
    );
    assert!(
        text.contains(
            "<http://127.0.0.1:8090/#/trace/4bf92f3577b34da6a3ce929d0e0e4736|Example traces>"
        ),
        "{text}"
    );
    let blocks = message["blocks"].as_array().expect("blocks");
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(blocks.len(), 4, "header, summary, one item, one query");
    assert!(blocks.iter().all(|b| b["text"]["text"].is_string()));
    let ja = chat_message(&report, &items, &queries, Lang::Ja);
    assert!(
        ja["text"].as_str().expect("text").contains("目標未達"),
        "{ja}"
    );
    // Markup from spans is neutralised.
    let mut hostile = report.clone();
    hostile.needs_work[0].operation = "GET /<!channel> & co".into();
    let items: Vec<&Item> = hostile.needs_work.iter().collect();
    let text = chat_message(&hostile, &items, &[], Lang::En)["text"].to_string();
    assert!(text.contains("GET /&lt;!channel&gt; &amp; co"), "{text}");
}

#[test]
fn a_ticket_is_jira_shaped() {
    let report = report();
    let tracker = TicketTracker {
        url: "http://127.0.0.1:1/rest/api/2/issue".into(),
        project: "OPS".into(),
        issue_type: "Task".into(),
        authorization: None,
    };
    let ticket = ticket(&report, &report.needs_work[0], &tracker, Lang::Ja);
    let fields = &ticket["fields"];
    assert_eq!(fields["project"]["key"], "OPS");
    assert_eq!(fields["issuetype"]["name"], "Task");
    assert_eq!(
        fields["summary"],
        "[SLO] frontend POST /api/checkout: p95 400 ms 以内: 目標未達（バーンレート 3.0、チケット起票）"
    );
    let description = fields["description"].as_str().expect("description");
    assert!(
        description.contains("時間の内訳（クリティカルパス）: payment 82%"),
        "{description}"
    );
    assert!(
        !description.contains("改善が必要なクエリ"),
        "one item per ticket"
    );
    assert_eq!(
        fields["labels"],
        json!(["tracedojo", "slo", "frontend", "p95", "ticket"])
    );
}

#[test]
fn only_the_host_of_a_receiver_is_named() {
    assert_eq!(
        receiver("https://hooks.slack.com/services/T0/B0/XYZ"),
        "the receiver at hooks.slack.com"
    );
    assert_eq!(
        receiver("https://user:pass@jira.example.com/rest/api/2/issue"),
        "the receiver at jira.example.com"
    );
    assert_eq!(receiver("nonsense"), "the receiver (URL not shown)");
}
