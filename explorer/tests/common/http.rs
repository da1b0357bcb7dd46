//! Reads of the explorer's JSON API over plain HTTP/1.1, a fresh connection each: the test
//! sees the status, headers and body exactly as the server wrote them.

use std::net::SocketAddr;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The answer to a GET.
pub struct Answer {
    pub status: u16,
    /// The status line and the headers.
    pub head: String,
    pub body: Value,
}

/// GET `path`, naming `addr` in the `Host` header.
pub async fn answer(addr: SocketAddr, path: &str) -> Answer {
    answer_as(addr, &addr.to_string(), path).await
}

/// GET `path` with the `Host` header a browser would send for `host`.
pub async fn answer_as(addr: SocketAddr, host: &str, path: &str) -> Answer {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8(raw).expect("utf-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
    let status: u16 = head[9..12].parse().expect("status code");
    let body = serde_json::from_str(body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"));
    Answer {
        status,
        head: head.to_owned(),
        body,
    }
}

/// GET `path`; returns the status and the JSON body, which the answer must label as JSON.
pub async fn get(addr: SocketAddr, path: &str) -> (u16, Value) {
    get_as(addr, &addr.to_string(), path).await
}

/// [`get`] with the `Host` header a browser would send for `host`.
pub async fn get_as(addr: SocketAddr, host: &str, path: &str) -> (u16, Value) {
    let Answer { status, head, body } = answer_as(addr, host, path).await;
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{path}: {head}"
    );
    (status, body)
}

/// Asserts that `path` was answered 400 with a message that names `parameter` and says
/// `says`.
pub fn assert_refused(path: &str, (status, body): (u16, Value), parameter: &str, says: &str) {
    assert_eq!(status, 400, "{path}: {body}");
    assert_eq!(body["parameter"], parameter, "{path}: {body}");
    let error = body["error"].as_str().expect("error");
    assert!(error.contains(says), "{path}: {error}");
}
