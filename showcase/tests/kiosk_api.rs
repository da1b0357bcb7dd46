//! The kiosk's API over real HTTP: what `/api/now` answers as the player publishes, a
//! presenter's key reaching the player, and the guard (loopback `Host` without a token; the
//! bearer token with one; another site's page refused).

use std::net::SocketAddr;

use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tracedojo_showcase::kiosk::{self, KioskConfig, lens};
use tracedojo_showcase::play::{Command, NowPlaying, unix_ms};

const TOKEN: &str = "0123456789abcdef0123";

struct Kiosk {
    address: SocketAddr,
    now: watch::Sender<NowPlaying>,
    keys: mpsc::Receiver<Command>,
    _lens: watch::Sender<lens::View>,
}

async fn start(token: Option<&str>) -> Kiosk {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let scenario = tracedojo_showcase::find("slow-payment").expect("a built-in scenario");
    let (now, now_rx) = watch::channel(NowPlaying::default());
    let (lens_tx, lens_rx) = watch::channel(lens::View::default());
    let (commands, keys) = mpsc::channel(4);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(kiosk::serve(
        listener,
        KioskConfig {
            scenario,
            lang: "ja",
            speed: 2.0,
            token: token.map(str::to_string),
            now: now_rx,
            lens: lens_rx,
            commands,
        },
        std::future::pending(),
    ));
    Kiosk {
        address,
        now,
        keys,
        _lens: lens_tx,
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

#[tokio::test]
async fn now_answers_the_act_playing_with_its_countdown() {
    let kiosk = start(None).await;
    let started = unix_ms(std::time::SystemTime::now());
    kiosk.now.send_replace(NowPlaying {
        loop_number: 3,
        act: 1,
        act_started_unix_ms: started,
        act_ms: 30_000,
        ends_unix_ms: Some(started + 30_000),
        remaining_ms: 30_000,
        ..NowPlaying::default()
    });
    let answer: Value = client()
        .get(format!("http://{}/api/now", kiosk.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["lang"], "ja");
    assert_eq!(answer["speed"], 2.0);
    assert_eq!(answer["playing"]["loop_number"], 3);
    assert_eq!(answer["playing"]["act"], 1);
    let remaining = answer["playing"]["remaining_ms"].as_u64().unwrap();
    assert!(remaining > 0 && remaining <= 30_000, "{remaining}");
    assert_eq!(answer["scenario"]["name"], "slow-payment");
    assert_eq!(answer["scenario"]["acts"][1]["name"], "incident");
    assert!(
        !answer["scenario"]["acts"][1]["ja"]["caption"]
            .as_str()
            .unwrap()
            .is_empty()
    );
    assert_eq!(answer["scenario"]["acts"][2]["look"]["service"], "payment");
}

#[tokio::test]
async fn a_presenters_key_reaches_the_player_and_a_bad_one_is_refused() {
    let mut kiosk = start(None).await;
    let url = format!("http://{}/api/control", kiosk.address);
    let sent = client()
        .post(&url)
        .json(&json!({ "command": "next" }))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 202);
    assert_eq!(kiosk.keys.recv().await, Some(Command::Next));
    let bad = client()
        .post(&url)
        .json(&json!({ "command": "rewind" }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("pause, resume, toggle, next, previous"),
        "{body}"
    );
}

#[tokio::test]
async fn without_a_token_only_loopback_names_and_the_own_page_are_answered() {
    let kiosk = start(None).await;
    let url = format!("http://{}/api/now", kiosk.address);
    let rebound = client()
        .get(&url)
        .header("host", "evil.example:8097")
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 403);
    let other_site = client()
        .post(format!("http://{}/api/control", kiosk.address))
        .header("origin", "http://evil.example")
        .json(&json!({ "command": "next" }))
        .send()
        .await
        .unwrap();
    assert_eq!(other_site.status(), 403);
    let page = client()
        .get(format!("http://{}/", kiosk.address))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'self'")
    );
}

#[tokio::test]
async fn with_a_token_the_api_needs_it() {
    let mut kiosk = start(Some(TOKEN)).await;
    let url = format!("http://{}/api/now", kiosk.address);
    let without = client().get(&url).send().await.unwrap();
    assert_eq!(without.status(), 401);
    let wrong = client()
        .get(&url)
        .bearer_auth("0123456789abcdef0124")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let right = client().get(&url).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(right.status(), 200);
    // The page itself loads without it: the token is in its URL's fragment.
    let page = client()
        .get(format!("http://{}/", kiosk.address))
        .header("host", "booth-screen.local:8097")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let key = client()
        .post(format!("http://{}/api/control", kiosk.address))
        .bearer_auth(TOKEN)
        .json(&json!({ "command": "pause" }))
        .send()
        .await
        .unwrap();
    assert_eq!(key.status(), 202);
    assert_eq!(kiosk.keys.recv().await, Some(Command::Pause));
}
