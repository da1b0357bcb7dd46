//! A small HTTP/1.1 server for the export tests: answers every request with one status and
//! body, keeping what it was sent, or takes connections and never answers (a black hole).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    /// Lower-cased names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

pub struct TestServer {
    address: SocketAddr,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl TestServer {
    /// Answers `status` with `body` (as `application/x-protobuf` bytes) to every request.
    pub fn answering(status: u16, body: &'static str) -> TestServer {
        TestServer::start(Some((status, body.as_bytes().to_vec())))
    }

    /// Answers `status` with these body bytes.
    pub fn answering_bytes(status: u16, body: Vec<u8>) -> TestServer {
        TestServer::start(Some((status, body)))
    }

    /// Accepts connections, reads what comes, never answers.
    pub fn black_hole() -> TestServer {
        TestServer::start(None)
    }

    fn start(answer: Option<(u16, Vec<u8>)>) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let address = listener.local_addr().expect("local address");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let kept = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let kept = kept.clone();
                let answer = answer.clone();
                std::thread::spawn(move || serve(stream, answer, kept));
            }
        });
        TestServer { address, requests }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

fn serve(stream: TcpStream, answer: Option<(u16, Vec<u8>)>, kept: Arc<Mutex<Vec<Request>>>) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
        let mut headers = Vec::new();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
            }
        }
        let length: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        kept.lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Request {
                path,
                headers,
                body,
            });
        let Some((status, answer_body)) = &answer else {
            // A black hole: keep the connection open, say nothing.
            std::thread::park();
            return;
        };
        let head = format!(
            "HTTP/1.1 {status} Answer\r\ncontent-type: application/x-protobuf\r\ncontent-length: {}\r\n\r\n",
            answer_body.len()
        );
        if writer.write_all(head.as_bytes()).is_err() || writer.write_all(answer_body).is_err() {
            return;
        }
    }
}
