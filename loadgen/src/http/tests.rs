//! The lean client against scripted servers on loopback: each answer shape the shop (or a
//! proxy in front of it) can send, split across writes, and connections closing under it.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

/// What a scripted server does on one connection: for each request, the pieces of its
/// answer, written one by one; then it closes the connection.
type Script = Vec<Vec<&'static [u8]>>;

/// Serves `connections` in order, one script per accepted connection; counts accepts.
async fn scripted_server(connections: Vec<Script>) -> (Arc<Target>, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = Target::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        for script in connections {
            let (mut socket, _) = listener.accept().await.unwrap();
            counter.fetch_add(1, Ordering::SeqCst);
            for answer in script {
                read_request(&mut socket).await;
                for piece in answer {
                    socket.write_all(piece).await.unwrap();
                    socket.flush().await.unwrap();
                    // Let the client read each piece on its own.
                    tokio::task::yield_now().await;
                }
            }
        }
    });
    (Arc::new(target), accepted)
}

/// Reads one request head and its `content-length` body.
async fn read_request(socket: &mut TcpStream) -> String {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let text = String::from_utf8_lossy(&bytes).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .map_or(0, |v| v.trim().parse::<usize>().unwrap());
            if bytes.len() >= end + 4 + length {
                return text;
            }
        }
        let read = socket.read(&mut chunk).await.unwrap();
        if read == 0 {
            return String::from_utf8_lossy(&bytes).to_string();
        }
        bytes.extend_from_slice(&chunk[..read]);
    }
}

fn client(target: Arc<Target>) -> Client {
    Client::new(target, Duration::from_secs(5))
}

#[test]
fn targets_are_parsed_once_with_their_defaults() {
    let target = Target::parse("http://127.0.0.1:8080/").unwrap();
    assert_eq!((target.host(), target.port()), ("127.0.0.1", 8080));
    assert_eq!(target.url("/api/cart"), "http://127.0.0.1:8080/api/cart");

    let target = Target::parse("https://shop.example.com/demo").unwrap();
    assert_eq!((target.host(), target.port()), ("shop.example.com", 443));
    assert_eq!(
        target.url("/api/cart"),
        "https://shop.example.com/demo/api/cart"
    );
    let target = Target::parse("http://[::1]:9").unwrap();
    assert_eq!((target.host(), target.port()), ("::1", 9));
    assert_eq!(Target::parse("http://[::1]").unwrap().port(), 80);
}

#[test]
fn bad_targets_say_what_is_wrong() {
    for (bad, says) in [
        ("127.0.0.1:8080", "must start with http://"),
        ("ftp://host", "must start with http://"),
        ("http://", "no host"),
        ("http://:8080", "no host"),
        ("http://host:99999", "port"),
        ("http://host:0", "port"),
        ("http://host/?q=1", "query"),
        ("http://user@host", "query"),
        ("http://a host", "query"),
    ] {
        let error = Target::parse(bad).unwrap_err().to_string();
        assert!(error.contains(says), "{bad}: {error}");
    }
}

#[test]
fn a_request_is_written_in_one_piece_under_the_target_prefix() {
    let target = Target::parse("http://shop.test:8080/demo").unwrap();
    let mut request = Request::post_json("/api/cart/items", &serde_json::json!({"quantity": 2}));
    request.header("x-session-id", "s1");
    request.header("x-evil", "a\r\ninjected: yes");
    request.header("bad:name", "v");
    let mut out = Vec::new();
    request.write_to(&target, &mut out);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "POST /demo/api/cart/items HTTP/1.1\r\nhost: shop.test:8080\r\nx-session-id: s1\r\n\
         content-type: application/json\r\ncontent-length: 14\r\n\r\n{\"quantity\":2}"
    );
}

#[tokio::test]
async fn every_body_framing_is_read_to_its_end_and_the_connection_kept() {
    let (target, accepted) =
        scripted_server(vec![vec![
        vec![b"HTTP/1.1 200 OK\r\ncontent-len", b"gth: 5\r\n\r\nhel", b"lo"],
        vec![
            b"HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n3\r",
            b"\nabc\r\n",
            b"4;ext=1\r\ndefg\r\n0\r\n",
            b"trailer: x\r\n\r\n",
        ],
        vec![b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\ncontent-length: 2\r\n\r\nno"],
        vec![b"HTTP/1.1 204 No Content\r\n\r\n"],
    ]])
        .await;
    let client = client(target);
    let answers = [(200, "hello"), (201, "abcdefg"), (404, "no"), (204, "")];
    for (status, body) in answers {
        let response = client.send(&Request::get("/x")).await.unwrap();
        assert_eq!(response.status, status);
        assert_eq!(String::from_utf8(response.body).unwrap(), body);
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "one kept-alive connection"
    );
}

#[tokio::test]
async fn a_body_that_ends_with_the_connection_closes_it() {
    let (target, accepted) = scripted_server(vec![
        vec![vec![b"HTTP/1.1 200 OK\r\n\r\nuntil ", b"close"]],
        vec![vec![b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok"]],
        vec![vec![
            b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok",
        ]],
        vec![vec![b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nlast"]],
    ])
    .await;
    let client = client(target);
    let first = client.send(&Request::get("/")).await.unwrap();
    assert_eq!(first.body, b"until close");
    for _ in 0..3 {
        client.send(&Request::get("/")).await.unwrap();
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        4,
        "no reuse after close-delimited, HTTP/1.0 or `connection: close` answers"
    );
}

#[tokio::test]
async fn a_get_on_a_connection_the_shop_closed_is_sent_again() {
    // The first connection answers once and closes at once: the client keeps it (the answer
    // did not say `close`), and the next GET finds it dead.
    let (target, accepted) = scripted_server(vec![
        vec![vec![b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n1"]],
        vec![vec![b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n2"]],
    ])
    .await;
    let client = client(target);
    assert_eq!(client.send(&Request::get("/")).await.unwrap().body, b"1");
    assert_eq!(client.send(&Request::get("/")).await.unwrap().body, b"2");
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn failures_are_told_apart() {
    let (target, _) = scripted_server(vec![
        vec![vec![b"SMTP ready\r\n\r\n"]],
        vec![vec![b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort"]],
        vec![vec![
            b"HTTP/1.1 200 OK\r\ncontent-length: 99999999999\r\n\r\n",
        ]],
    ])
    .await;
    let client = client(target);
    let failures = [Failure::Malformed, Failure::Broken, Failure::Malformed];
    for expected in failures {
        let failure = client.send(&Request::get("/")).await.unwrap_err();
        assert_eq!(failure, expected);
    }

    // Nothing listening.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let target = Arc::new(Target::parse(&format!("http://{address}")).unwrap());
    let failure = client_with_timeout(target, 5)
        .send(&Request::get("/"))
        .await;
    assert_eq!(failure.unwrap_err(), Failure::Refused);
}

fn client_with_timeout(target: Arc<Target>, seconds: u64) -> Client {
    Client::new(target, Duration::from_secs(seconds))
}

#[tokio::test]
async fn a_server_that_accepts_and_never_answers_is_told_from_one_that_never_accepts() {
    // Accepts and reads, never answers: the listener stays open for the whole test.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target =
        Arc::new(Target::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap());
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        read_request(&mut socket).await;
        let mut rest = Vec::new();
        let _ = socket.read_to_end(&mut rest).await;
    });
    let client = Client::new(target, Duration::from_millis(200));
    let failure = client.send(&Request::get("/")).await.unwrap_err();
    assert_eq!(failure, Failure::NoAnswer);
    assert_eq!(failure.error_type(), "timeout");
}
