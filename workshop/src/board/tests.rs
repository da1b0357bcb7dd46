//! The board over real HTTP on loopback: what it refuses, how it orders, what bounds it.

use std::time::Duration;

use serde_json::{Value, json};

use super::*;

const CODE: &str = "K7QX3M";
const TOKEN: &str = "board-token-0123456789";

async fn serve(token: Option<&str>) -> String {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bound = listener.local_addr().unwrap();
    let config = BoardConfig {
        code: CODE.to_string(),
        token: token.map(str::to_string),
        join_url: format!("http://{bound}"),
    };
    tokio::spawn(async move { super::serve(listener, config, std::future::pending()).await });
    format!("http://{bound}")
}

fn report(participant: &str, lesson: u32, event: &str) -> Value {
    json!({
        "code": CODE, "participant": participant, "lesson": lesson,
        "title": format!("lesson {lesson}"), "event": event, "at_unix_ms": 1_700_000_000_000u64,
    })
}

async fn post(url: &str, body: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{url}/api/board/reports"))
        .json(body)
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

async fn board(url: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = reqwest::Client::new().get(format!("{url}/api/board"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

fn names(board: &Value) -> Vec<String> {
    board["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["participant"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_wrong_join_code_is_refused_with_403_and_changes_nothing() {
    let url = serve(None).await;
    for code in ["WRONG1", "K7QX3", ""] {
        let mut body = report("alice", 2, "started");
        body["code"] = json!(code);
        let (status, answer) = post(&url, &body).await;
        assert_eq!(status, 403, "{code:?}: {answer}");
        assert_eq!(answer["field"], "code");
        assert!(
            answer["error"].as_str().unwrap().contains("join code"),
            "{answer}"
        );
    }
    assert_eq!(board(&url, None).await.1["participants"], json!([]));
    // Case and spaces do not matter: participants type the code off a screen.
    let mut body = report("alice", 2, "started");
    body["code"] = json!(" k7qx3m ");
    assert_eq!(post(&url, &body).await.0, 200);
    assert_eq!(names(&board(&url, None).await.1), ["alice"]);
}

#[tokio::test]
async fn bad_fields_are_refused_with_400_naming_the_field() {
    let url = serve(None).await;
    let with = |field: &str, value: Value| {
        let mut body = report("alice", 2, "started");
        if value.is_null() {
            body.as_object_mut().unwrap().remove(field);
        } else {
            body[field] = value;
        }
        body
    };
    let cases = [
        (with("code", Value::Null), "code"),
        (with("code", json!(7)), "code"),
        (with("participant", Value::Null), "participant"),
        (with("participant", json!("  ")), "participant"),
        (with("participant", json!("a".repeat(65))), "participant"),
        (with("participant", json!("bad\nname")), "participant"),
        (with("participant", json!(["alice"])), "participant"),
        (with("lesson", Value::Null), "lesson"),
        (with("lesson", json!(0)), "lesson"),
        (with("lesson", json!(1000)), "lesson"),
        (with("lesson", json!("2")), "lesson"),
        (with("lesson", json!(2.5)), "lesson"),
        (with("title", json!("t".repeat(161))), "title"),
        (with("title", json!(3)), "title"),
        (with("event", Value::Null), "event"),
        (with("event", json!("finished")), "event"),
        (with("at_unix_ms", json!(-1)), "at_unix_ms"),
        (with("at_unix_ms", json!("now")), "at_unix_ms"),
        (json!(["not", "an", "object"]), "body"),
    ];
    for (body, field) in cases {
        let (status, answer) = post(&url, &body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["field"], field, "{body}: {answer}");
        let message = answer["error"].as_str().unwrap();
        assert!(!message.contains('\n'), "one line: {message}");
    }
    let response = reqwest::Client::new()
        .post(format!("{url}/api/board/reports"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<Value>().await.unwrap()["field"], "body");
    let oversized = json!({ "code": CODE, "participant": "x".repeat(10_000) });
    assert_eq!(post(&url, &oversized).await.0, 413);
    // Nothing bad was kept; a title and a time are optional.
    assert_eq!(board(&url, None).await.1["participants"], json!([]));
    let minimal = json!({"code": CODE, "participant": "alice", "lesson": 2, "event": "hint"});
    assert_eq!(post(&url, &minimal).await.0, 200);
}

#[test]
fn beyond_loopback_the_board_refuses_to_start_without_a_good_token() {
    let anywhere: SocketAddr = "0.0.0.0:8095".parse().unwrap();
    let loopback: SocketAddr = "127.0.0.1:8095".parse().unwrap();
    let refused = check_exposure(anywhere, None).unwrap_err();
    assert!(refused.en.contains("--board-token"), "{refused}");
    assert!(refused.ja.contains("トークン"), "{refused:?}");
    assert!(check_exposure(anywhere, Some("short")).is_err());
    assert!(check_exposure(loopback, Some("short")).is_err());
    assert!(check_exposure(anywhere, Some("has spaces in the token")).is_err());
    assert!(check_exposure("[::]:8095".parse().unwrap(), None).is_err());
    assert!(check_exposure(anywhere, Some(TOKEN)).is_ok());
    assert!(check_exposure(loopback, None).is_ok());
    assert!(check_exposure("[::1]:8095".parse().unwrap(), None).is_ok());
}

#[tokio::test]
async fn with_a_token_reading_the_board_needs_it_and_reporting_does_not() {
    let url = serve(Some(TOKEN)).await;
    assert_eq!(post(&url, &report("alice", 3, "started")).await.0, 200);
    for given in [
        None,
        Some("board-token-012345678"),
        Some("wrong-token-0123456789"),
    ] {
        let (status, answer) = board(&url, given).await;
        assert_eq!(status, 401, "{given:?}");
        let message = answer["error"].as_str().unwrap();
        assert!(
            message.contains("Bearer") && !message.contains('\n'),
            "{message}"
        );
        assert!(
            answer.get("participants").is_none(),
            "nothing leaks: {answer}"
        );
    }
    let (status, answer) = board(&url, Some(TOKEN)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(names(&answer), ["alice"]);
    assert_eq!(answer["code"], CODE);
    // The page itself holds no data, so it needs no token.
    let page = reqwest::get(format!("{url}/")).await.unwrap();
    assert_eq!(page.status(), 200);
}

#[tokio::test]
async fn requests_from_other_sites_pages_and_foreign_hosts_are_refused() {
    let url = serve(None).await;
    let client = reqwest::Client::new();
    let host = url.trim_start_matches("http://");
    let from_page = client
        .post(format!("{url}/api/board/reports"))
        .header("origin", "http://evil.example")
        .json(&report("mallory", 1, "started"))
        .send()
        .await
        .unwrap();
    assert_eq!(from_page.status(), 403);
    let rebound = client
        .get(format!("{url}/api/board"))
        .header("host", "evil.example:8095")
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 403);
    // The board's own page may call it.
    let own = client
        .get(format!("{url}/api/board"))
        .header("origin", format!("http://{host}"))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
    assert_eq!(board(&url, None).await.1["participants"], json!([]));
}

#[tokio::test]
async fn the_longest_stuck_come_first_and_a_pass_moves_one_down() {
    let url = serve(None).await;
    // The board times reports by its own clock, in the order they arrive.
    for (name, lesson, event) in [
        ("alice", 4, "started"),
        ("bob", 2, "hint"),
        ("carol", 3, "wrong"),
    ] {
        assert_eq!(post(&url, &report(name, lesson, event)).await.0, 200);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, answer) = board(&url, None).await;
    assert_eq!(names(&answer), ["alice", "bob", "carol"]);
    let first = &answer["participants"][0];
    assert_eq!(first["lesson"], 4);
    assert_eq!(first["titles"]["en"], "The slow dependency", "{first}");
    assert!(first["stuck_for_ms"].as_u64().unwrap() >= 40, "{first}");
    assert_eq!(answer["participants"][1]["hints"], 1);
    assert_eq!(answer["participants"][2]["wrong_checks"], 1);

    assert_eq!(post(&url, &report("alice", 4, "passed")).await.0, 200);
    let (_, answer) = board(&url, None).await;
    assert_eq!(names(&answer), ["bob", "carol", "alice"]);
    let alice = &answer["participants"][2];
    assert_eq!(alice["stuck_for_ms"], Value::Null);
    assert_eq!(alice["lessons_passed"], 1);
    assert_eq!(alice["lesson_passed"], true);
}

#[tokio::test]
async fn the_board_keeps_at_most_its_capacity_of_participants() {
    let url = serve(None).await;
    let client = reqwest::Client::new();
    for n in 0..state::MAX_PARTICIPANTS {
        let status = client
            .post(format!("{url}/api/board/reports"))
            .json(&report(&format!("p{n}"), 1, "started"))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200, "participant {n}");
    }
    let (status, answer) = post(&url, &report("one-too-many", 1, "started")).await;
    assert_eq!(status, 429, "{answer}");
    assert_eq!(answer["field"], "participant");
    assert_eq!(post(&url, &report("p7", 2, "started")).await.0, 200);
    let (_, answer) = board(&url, None).await;
    assert_eq!(
        answer["participants"].as_array().unwrap().len(),
        state::MAX_PARTICIPANTS
    );
}

#[tokio::test]
async fn the_page_and_its_assets_are_served_with_their_types_and_policy() {
    let url = serve(Some(TOKEN)).await;
    for (path, content_type) in [
        ("/", "text/html; charset=utf-8"),
        ("/assets/board.js", "text/javascript; charset=utf-8"),
        ("/assets/board.css", "text/css; charset=utf-8"),
        ("/assets/favicon.svg", "image/svg+xml"),
    ] {
        let response = reqwest::get(format!("{url}{path}")).await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        assert_eq!(header("content-type"), content_type, "{path}");
        assert_eq!(
            header("content-security-policy"),
            page::CONTENT_SECURITY_POLICY
        );
    }
    let missing = reqwest::get(format!("{url}/assets/nothing.js"))
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[test]
fn the_page_keeps_to_its_policy_and_reads_the_board_only() {
    assert_eq!(page::PAGE.flaws(), Vec::<String>::new());
    let script = std::str::from_utf8(page::PAGE.asset("board.js").unwrap().body).unwrap();
    for other_site in ["http://", "https://"] {
        assert!(
            !script.contains(other_site),
            "board.js names {other_site}: reports come from the board only"
        );
    }
}

#[test]
fn join_codes_are_unambiguous_and_typed_in_any_case() {
    for _ in 0..200 {
        let code = new_code();
        assert_eq!(code.len(), 6);
        assert!(code.bytes().all(|b| CODE_ALPHABET.contains(&b)), "{code}");
        assert!(!code.contains(['0', 'O', '1', 'I', 'L']), "{code}");
    }
    assert_eq!(parse_code(" room-42 ").unwrap(), "ROOM-42");
    assert!(parse_code("abc").is_err());
    assert!(parse_code("has space").is_err());
    assert!(parse_code(&"x".repeat(33)).is_err());
}

#[test]
fn the_page_url_carries_the_token_in_its_fragment_and_the_join_url_a_reachable_address() {
    let anywhere: SocketAddr = "0.0.0.0:8095".parse().unwrap();
    assert_eq!(
        page_url(anywhere, Some("a+b&c#d-0123456789")),
        "http://127.0.0.1:8095/#token=a%2Bb%26c%23d-0123456789"
    );
    assert_eq!(
        page_url("127.0.0.1:9000".parse().unwrap(), None),
        "http://127.0.0.1:9000/"
    );
    assert_eq!(
        join_url("192.168.1.23:8095".parse().unwrap()).as_deref(),
        Some("http://192.168.1.23:8095")
    );
    if let Some(url) = join_url(anywhere) {
        assert!(
            !url.contains("0.0.0.0") && !url.contains("127.0.0.1"),
            "{url}"
        );
    }
}

#[tokio::test]
async fn a_reporter_says_in_one_line_why_a_report_was_not_taken() {
    let url = serve(None).await;
    let reporter = Reporter::new(&url, "wrong-code", Some("alice")).unwrap();
    let refused = reporter
        .send(2, "Anatomy", Event::Started)
        .await
        .unwrap_err();
    assert!(refused.en.contains("join code"), "{refused}");
    assert!(refused.ja.contains("参加コード"), "{refused:?}");
    assert!(!refused.en.contains('\n'));
    let reporter = Reporter::new(&url, "k7qx3m", Some("alice")).unwrap();
    reporter.send(2, "Anatomy", Event::Started).await.unwrap();
    assert_eq!(names(&board(&url, None).await.1), ["alice"]);

    let nobody = Reporter::new(&url, CODE, None).unwrap_err();
    assert!(nobody.en.contains("--participant"), "{nobody}");
    assert!(Reporter::new("ftp://x", CODE, Some("alice")).is_err());
    // Nothing listens on port 9 of loopback: refused at once, well within the timeout.
    let gone = Reporter::new("http://127.0.0.1:9", CODE, Some("alice")).unwrap();
    let refused = gone.send(2, "", Event::Hint).await.unwrap_err();
    assert!(refused.en.contains("cannot connect"), "{refused}");
}
