//! `tracedojo load` at a target that answers nothing, or stops answering: one plain line
//! that says which, soon, and an exit status that tells a script whether anything answered.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;

use crate::support::{failure_line, run_to_end};

/// A port on this machine where nothing listens (bound, then let go).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn nothing_listening_is_connection_refused_and_asks_whether_up_runs() {
    let url = format!("http://127.0.0.1:{}", free_port());
    // `run_to_end` waits at most 30 s, only so that a hang fails instead of blocking the suite.
    let line = failure_line(
        &["load", "--target", &url, "--duration", "30", "--no-trace"],
        &[],
    );
    assert!(line.contains(&url), "{line}");
    assert!(line.contains("connection refused"), "{line}");
    assert!(line.contains("tracedojo up"), "{line}");
}

#[test]
fn a_listener_that_accepts_and_never_answers_is_named_as_such() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    // Accepts every connection and holds it open without a byte in reply, until the test
    // process ends.
    thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let line = failure_line(
        &["load", "--target", &url, "--duration", "30", "--no-trace"],
        &[],
    );
    assert!(
        line.contains(&format!(
            "{url} accepted the connection but answered nothing in 5 s"
        )),
        "{line}"
    );
    assert!(!line.contains("connection refused"), "{line}");
}

/// Answers `answers` requests with `200 {}` (one connection each), then closes its listening
/// socket, so every later connection is refused. Returns the URL and a receiver that yields
/// once the listener is gone.
fn answers_then_goes_away(answers: usize) -> (String, mpsc::Receiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (gone_tx, gone_rx) = mpsc::channel();
    thread::spawn(move || {
        for stream in listener.incoming().take(answers).flatten() {
            answer_once(stream);
        }
        drop(listener);
        let _ = gone_tx.send(());
    });
    (url, gone_rx)
}

fn answer_once(mut stream: TcpStream) {
    let mut request = Vec::new();
    let mut buffer = [0u8; 4096];
    // The head is enough: the answer does not depend on the body.
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buffer[..n]),
        }
    }
    let _ = stream.write_all(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\
          connection: close\r\n\r\n{}",
    );
}

#[test]
fn a_shop_that_goes_away_mid_run_is_reported_and_the_run_goes_on() {
    let (url, gone) = answers_then_goes_away(6);
    let output = run_to_end(
        &[
            "load",
            "--target",
            &url,
            "--duration",
            "6",
            "--rate",
            "5",
            "--no-trace",
        ],
        &[],
    );
    gone.try_recv()
        .expect("the run used up the target's answers, so it closed its listener");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let warning = stderr
        .lines()
        .find(|l| l.starts_with("no answer for"))
        .unwrap_or_else(|| panic!("no warning that the shop stopped answering:\n{stderr}"));
    assert!(
        warning.contains(&format!("connection refused at {url}")),
        "{warning}"
    );
    assert!(warning.contains("the run goes on"), "{warning}");
    assert!(
        stdout.contains(&format!("{url} stopped answering")),
        "the summary says it:\n{stdout}"
    );
    // Some requests were answered, so the run's figures stand: a plain exit.
    assert!(output.status.success(), "{stderr}");
}
