//! A lean HTTP/1.1 client for the load generator, one per worker thread.
//!
//! Why not a general-purpose client: at tens of thousands of requests a second, the
//! machinery such a client carries (URL parsing, a connection pool shared between threads,
//! a task and channels per connection, header maps) costs several times what the request
//! itself costs, and that cost, not the shop, would set the generator's limit. This one knows
//! a single target; a journey takes a kept-alive connection, writes its request in one
//! piece, parses the answer in place ([`httparse`]) and puts the connection back.
//!
//! It speaks what the shop's API answers with: `Content-Length`, `chunked`, or a body that
//! ends when the connection closes; interim `1xx` answers are skipped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Limits that keep a misbehaving target from growing the generator's memory.
const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 16 * 1024 * 1024;
/// A kept-alive connection idle for longer than this is checked before it is reused.
const CHECK_IF_IDLE_FOR: Duration = Duration::from_secs(1);

/// What the target URL was wrong about.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("{0:?} must start with http:// or https://, e.g. http://127.0.0.1:8080")]
    Scheme(String),
    #[error("{0:?} has no host, e.g. http://127.0.0.1:8080")]
    NoHost(String),
    #[error("{0:?} has a port that is not a number from 1 to 65535")]
    Port(String),
    #[error("{0:?} must not carry a query, a fragment, a user or spaces: give the shop's base URL")]
    Extra(String),
}

/// The shop the load is sent to: scheme, host, port and an optional path prefix.
#[derive(Debug, Clone)]
pub struct Target {
    https: bool,
    host: String,
    port: u16,
    /// `host[:port]` as the `Host` header carries it.
    authority: String,
    /// Put before every request path (`/shop` for `http://host/shop`), without a final `/`.
    prefix: String,
}

impl Target {
    pub fn parse(url: &str) -> Result<Target, TargetError> {
        let url = url.trim();
        let (https, rest) = if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else {
            return Err(TargetError::Scheme(url.to_string()));
        };
        let rest = rest.trim_end_matches('/');
        if rest.contains(['?', '#', '@', ' ', '\r', '\n', '\t']) {
            return Err(TargetError::Extra(url.to_string()));
        }
        let (authority, prefix) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let (host, port) = match authority.rsplit_once(':') {
            // An IPv6 address without a port: its colons are inside the brackets.
            Some((host, port)) if !port.contains(']') => (host, Some(port)),
            _ => (authority, None),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(TargetError::NoHost(url.to_string()));
        }
        let port = match port {
            None => {
                if https {
                    443
                } else {
                    80
                }
            }
            Some(port) => port
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| TargetError::Port(url.to_string()))?,
        };
        Ok(Target {
            https,
            host: host.to_string(),
            port,
            authority: authority.to_string(),
            prefix: prefix.to_string(),
        })
    }

    /// The full URL of `path` (which starts with `/`), as a span records it.
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}{}{path}", self.authority, self.prefix)
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

/// A request to send: method, path (with its query) and extra header lines.
#[derive(Debug, Clone)]
pub struct Request {
    method: &'static str,
    path: String,
    /// `name: value\r\n` lines, ready to be written.
    headers: String,
    body: Option<Vec<u8>>,
}

impl Request {
    pub fn get(path: impl Into<String>) -> Request {
        Request {
            method: "GET",
            path: path.into(),
            headers: String::with_capacity(256),
            body: None,
        }
    }

    /// A POST whose body is `json`.
    pub fn post_json(path: impl Into<String>, json: &serde_json::Value) -> Request {
        Request {
            method: "POST",
            path: path.into(),
            headers: String::with_capacity(256),
            body: Some(json.to_string().into_bytes()),
        }
    }

    /// Adds a header; one whose name or value could break the request (line breaks, a
    /// colon in the name) is left out.
    pub fn header(&mut self, name: &str, value: &str) {
        let breaks = |s: &str| s.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0);
        if name.is_empty() || name.contains(':') || breaks(name) || breaks(value) {
            return;
        }
        self.headers.push_str(name);
        self.headers.push_str(": ");
        self.headers.push_str(value);
        self.headers.push_str("\r\n");
    }

    pub fn method(&self) -> &'static str {
        self.method
    }

    /// The path with its query, under the target's prefix.
    pub fn path(&self) -> &str {
        &self.path
    }

    fn write_to(&self, target: &Target, out: &mut Vec<u8>) {
        out.clear();
        for part in [
            self.method,
            " ",
            &target.prefix,
            &self.path,
            " HTTP/1.1\r\nhost: ",
            &target.authority,
            "\r\n",
            &self.headers,
        ] {
            out.extend_from_slice(part.as_bytes());
        }
        if let Some(body) = &self.body {
            out.extend_from_slice(b"content-type: application/json\r\n");
            out.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
            out.extend_from_slice(body);
        } else {
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// Lets the OpenTelemetry propagator write `traceparent` and `baggage` into a request.
impl opentelemetry::propagation::Injector for Request {
    fn set(&mut self, key: &str, value: String) {
        self.header(key, &value);
    }
}

/// An answer, its body read in full.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Why no answer came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Failure {
    /// Nothing accepted the connection.
    Refused,
    /// The connection or TLS handshake failed some other way.
    Connect,
    /// No connection within the request timeout.
    Timeout,
    /// A connection was made and the request sent, but no complete answer came within the
    /// request timeout: something listens there and says nothing.
    NoAnswer,
    /// The connection broke while the request or answer was under way.
    Broken,
    /// The answer was not HTTP/1.1 we could read, or was too large.
    Malformed,
}

impl Failure {
    /// The `error.type` a span records for this failure.
    pub fn error_type(self) -> &'static str {
        match self {
            Failure::Refused => "connection_refused",
            Failure::Connect => "connect_error",
            Failure::Timeout | Failure::NoAnswer => "timeout",
            Failure::Broken => "transport_error",
            Failure::Malformed => "malformed_response",
        }
    }

    /// A key for reports, one per variant.
    pub fn name(self) -> &'static str {
        match self {
            Failure::Refused => "connection_refused",
            Failure::Connect => "connect_error",
            Failure::Timeout => "connect_timeout",
            Failure::NoAnswer => "no_answer",
            Failure::Broken => "closed_without_answer",
            Failure::Malformed => "malformed_response",
        }
    }

    /// The same in words, for a person.
    pub fn reason(self) -> &'static str {
        match self {
            Failure::Refused => "connection refused",
            Failure::Connect => "could not connect",
            Failure::Timeout => "no connection in time",
            Failure::NoAnswer => "accepted, no answer in time",
            Failure::Broken => "closed without an answer",
            Failure::Malformed => "not HTTP/1.1",
        }
    }
}

/// One worker's connections to the target.
pub struct Client {
    target: Arc<Target>,
    timeout: Duration,
    tls: Option<tokio_rustls::TlsConnector>,
    idle: Mutex<Vec<Connection>>,
}

impl Client {
    pub fn new(target: Arc<Target>, timeout: Duration) -> Client {
        let tls = if target.https { tls_connector() } else { None };
        Client {
            target,
            timeout,
            tls,
            idle: Mutex::new(Vec::new()),
        }
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Sends `request` and reads the whole answer, within the request timeout.
    pub async fn send(&self, request: &Request) -> Result<Response, Failure> {
        // Set once a connection is there, so a timeout can tell "nothing accepted the
        // connection" from "it was accepted and nothing answered": the fixes differ.
        let connected = AtomicBool::new(false);
        match tokio::time::timeout(self.timeout, self.send_within_timeout(request, &connected))
            .await
        {
            Ok(result) => result,
            Err(_) if connected.load(Ordering::Relaxed) => Err(Failure::NoAnswer),
            Err(_) => Err(Failure::Timeout),
        }
    }

    async fn send_within_timeout(
        &self,
        request: &Request,
        connected: &AtomicBool,
    ) -> Result<Response, Failure> {
        if let Some(mut connection) = self.take_idle() {
            connected.store(true, Ordering::Relaxed);
            match connection.exchange(request, &self.target).await {
                Ok((response, keep_alive)) => {
                    self.put_back(connection, keep_alive);
                    return Ok(response);
                }
                // The shop closed this kept-alive connection before reading the request:
                // sent again on a new one. Only a GET, which cannot have changed anything.
                Err(Exchange::ClosedBeforeAnswer) if request.method == "GET" => {}
                Err(failure) => return Err(failure.into()),
            }
        }
        // Boxed: connecting is rare, and its future would make every request's larger.
        let mut connection = Box::pin(self.connect(connected)).await?;
        let (response, keep_alive) = connection
            .exchange(request, &self.target)
            .await
            .map_err(Failure::from)?;
        self.put_back(connection, keep_alive);
        Ok(response)
    }

    fn take_idle(&self) -> Option<Connection> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(connection) = idle.pop() {
            if connection.last_used.elapsed() < CHECK_IF_IDLE_FOR || connection.still_open() {
                return Some(connection);
            }
        }
        None
    }

    fn put_back(&self, mut connection: Connection, keep_alive: bool) {
        if keep_alive {
            connection.last_used = Instant::now();
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            idle.push(connection);
        }
    }

    async fn connect(&self, connected: &AtomicBool) -> Result<Connection, Failure> {
        let target = &self.target;
        let tcp = TcpStream::connect((target.host.as_str(), target.port))
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::ConnectionRefused => Failure::Refused,
                _ => Failure::Connect,
            })?;
        connected.store(true, Ordering::Relaxed);
        // Requests are written whole; waiting to coalesce them would only add latency.
        let _ = tcp.set_nodelay(true);
        let stream = match &self.tls {
            None if target.https => return Err(Failure::Connect),
            None => Stream::Plain(tcp),
            Some(tls) => {
                let name = rustls::pki_types::ServerName::try_from(target.host.clone())
                    .map_err(|_| Failure::Connect)?;
                let tls = tls.connect(name, tcp).await.map_err(|_| Failure::Connect)?;
                Stream::Tls(Box::new(tls))
            }
        };
        Ok(Connection {
            stream,
            input: Vec::with_capacity(8 * 1024),
            output: Vec::with_capacity(1024),
            last_used: Instant::now(),
        })
    }
}

/// How one exchange on a connection failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exchange {
    /// The connection ended before a single byte of the answer.
    ClosedBeforeAnswer,
    /// It ended, or broke, part-way.
    Broken,
    Malformed,
}

impl From<Exchange> for Failure {
    fn from(exchange: Exchange) -> Failure {
        match exchange {
            Exchange::ClosedBeforeAnswer | Exchange::Broken => Failure::Broken,
            Exchange::Malformed => Failure::Malformed,
        }
    }
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

/// One kept-alive connection with its buffers, reused request after request.
struct Connection {
    stream: Stream,
    /// Bytes read and not yet consumed.
    input: Vec<u8>,
    output: Vec<u8>,
    last_used: Instant,
}

/// How the answer's body is delimited.
enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
}

impl Connection {
    /// False when the peer has closed a connection that sat idle (or sent something
    /// unasked); TLS connections are assumed open and caught by the retry instead.
    fn still_open(&self) -> bool {
        match &self.stream {
            Stream::Plain(tcp) => {
                let mut probe = [0u8; 1];
                matches!(tcp.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
            }
            Stream::Tls(_) => true,
        }
    }

    async fn write_all(&mut self) -> std::io::Result<()> {
        match &mut self.stream {
            Stream::Plain(tcp) => tcp.write_all(&self.output).await,
            Stream::Tls(tls) => {
                tls.write_all(&self.output).await?;
                tls.flush().await
            }
        }
    }

    /// Reads more into `input`; false at the end of the stream.
    async fn read_more(&mut self) -> Result<bool, Exchange> {
        if self.input.capacity() - self.input.len() < 4096 {
            self.input.reserve(8 * 1024);
        }
        let read = match &mut self.stream {
            Stream::Plain(tcp) => tcp.read_buf(&mut self.input).await,
            Stream::Tls(tls) => tls.read_buf(&mut self.input).await,
        };
        match read {
            Ok(0) => Ok(false),
            Ok(_) => Ok(true),
            Err(_) if self.input.is_empty() => Err(Exchange::ClosedBeforeAnswer),
            Err(_) => Err(Exchange::Broken),
        }
    }

    /// Writes the request and reads its answer; the flag says whether the connection can
    /// carry another request.
    async fn exchange(
        &mut self,
        request: &Request,
        target: &Target,
    ) -> Result<(Response, bool), Exchange> {
        self.input.clear();
        request.write_to(target, &mut self.output);
        if self.write_all().await.is_err() {
            return Err(Exchange::ClosedBeforeAnswer);
        }
        let (status, head_len, framing, keep_alive) = loop {
            match parse_head(&self.input)? {
                Some(head) if (100..200).contains(&head.0) => {
                    // An interim answer (100 Continue, 103 Early Hints): the real one follows.
                    self.input.drain(..head.1);
                }
                Some(head) => break head,
                None => {
                    if self.input.len() > MAX_HEAD {
                        return Err(Exchange::Malformed);
                    }
                    if !self.read_more().await? {
                        return Err(if self.input.is_empty() {
                            Exchange::ClosedBeforeAnswer
                        } else {
                            Exchange::Broken
                        });
                    }
                }
            }
        };
        let body = match framing {
            Framing::Length(length) => {
                if length > MAX_BODY {
                    return Err(Exchange::Malformed);
                }
                while self.input.len() < head_len + length {
                    if !self.read_more().await? {
                        return Err(Exchange::Broken);
                    }
                }
                self.input[head_len..head_len + length].to_vec()
            }
            Framing::Chunked => self.read_chunked(head_len).await?,
            Framing::UntilClose => {
                while self.read_more().await? {
                    if self.input.len() - head_len > MAX_BODY {
                        return Err(Exchange::Malformed);
                    }
                }
                self.input[head_len..].to_vec()
            }
        };
        let keep_alive = keep_alive && !matches!(framing, Framing::UntilClose);
        Ok((Response { status, body }, keep_alive))
    }

    /// Decodes a `chunked` body that starts at `start` in the input.
    async fn read_chunked(&mut self, start: usize) -> Result<Vec<u8>, Exchange> {
        let mut body = Vec::new();
        let mut at = start;
        loop {
            let (size_len, size) = loop {
                match httparse::parse_chunk_size(&self.input[at..]) {
                    Ok(httparse::Status::Complete(found)) => break found,
                    Ok(httparse::Status::Partial) => {
                        if !self.read_more().await? {
                            return Err(Exchange::Broken);
                        }
                    }
                    Err(_) => return Err(Exchange::Malformed),
                }
            };
            at += size_len;
            let size = usize::try_from(size).map_err(|_| Exchange::Malformed)?;
            if body.len() + size > MAX_BODY {
                return Err(Exchange::Malformed);
            }
            if size == 0 {
                // Trailer lines, if any, then an empty line.
                loop {
                    match find_line_end(&self.input[at..]) {
                        Some(0) => return Ok(body),
                        Some(end) => at += end + 2,
                        None => {
                            if !self.read_more().await? {
                                return Err(Exchange::Broken);
                            }
                        }
                    }
                }
            }
            while self.input.len() < at + size + 2 {
                if !self.read_more().await? {
                    return Err(Exchange::Broken);
                }
            }
            body.extend_from_slice(&self.input[at..at + size]);
            if &self.input[at + size..at + size + 2] != b"\r\n" {
                return Err(Exchange::Malformed);
            }
            at += size + 2;
        }
    }
}

/// Where the first `\r\n` in `bytes` starts.
fn find_line_end(bytes: &[u8]) -> Option<usize> {
    bytes.windows(2).position(|pair| pair == b"\r\n")
}

/// The status, head length, body framing and keep-alive of a complete answer head in
/// `input`; `None` while the head is incomplete.
fn parse_head(input: &[u8]) -> Result<Option<(u16, usize, Framing, bool)>, Exchange> {
    let mut headers = [httparse::EMPTY_HEADER; 48];
    let mut response = httparse::Response::new(&mut headers);
    let head_len = match response.parse(input) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(Exchange::Malformed),
    };
    let status = response.code.ok_or(Exchange::Malformed)?;
    let mut keep_alive = response.version == Some(1);
    let mut framing = Framing::UntilClose;
    for header in response.headers.iter() {
        if header.name.eq_ignore_ascii_case("content-length") {
            let length = std::str::from_utf8(header.value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or(Exchange::Malformed)?;
            if !matches!(framing, Framing::Chunked) {
                framing = Framing::Length(length);
            }
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            // Chunked wins over a length (RFC 9112 §6.3).
            if header.value.eq_ignore_ascii_case(b"chunked") {
                framing = Framing::Chunked;
            } else {
                return Err(Exchange::Malformed);
            }
        } else if header.name.eq_ignore_ascii_case("connection") {
            keep_alive &= !header.value.eq_ignore_ascii_case(b"close");
        }
    }
    // These never carry a body, whatever the headers say.
    if status == 204 || status == 304 || (100..200).contains(&status) {
        framing = Framing::Length(0);
    }
    Ok(Some((status, head_len, framing, keep_alive)))
}

/// TLS with the web's public roots, on the ring provider the whole binary uses.
fn tls_connector() -> Option<tokio_rustls::TlsConnector> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map(|builder| builder.with_root_certificates(roots).with_no_client_auth());
    // The ring provider supports the default versions; were it not so, every https
    // connection would fail as a connect error.
    let mut config = config.ok()?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Some(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

#[cfg(test)]
mod tests;
