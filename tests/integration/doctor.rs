//! `tracedojo doctor` against fake backends on loopback: one line per signal in plain words,
//! exit 0 only when every signal was delivered, and never a credential in what it prints.
//!
//! Each fake backend is a small HTTP/1.1 server on its own threads (optionally behind TLS with
//! a CA made by the test), answering as a vendor would and keeping what it was sent.

use crate::support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use crate::support::{Shop, temp_dir};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;

/// The key every run carries in `OTEL_EXPORTER_OTLP_HEADERS`; no output may ever show it.
const SECRET: &str = "SECRET-123";
const KEY_HEADER: &str = "api-key";
/// The longest a run may take before the test calls it a hang (the checks use 2-10 s).
const HANG_GUARD: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------
// Running the binary

/// A finished `tracedojo doctor`.
struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The line about `signal` (`traces`, `metrics`, `logs`).
    fn line(&self, signal: &str) -> &str {
        self.stdout
            .lines()
            .find(|line| line.split_whitespace().next() == Some(signal))
            .unwrap_or_else(|| panic!("no {signal} line:\n{}", self.all()))
    }

    fn all(&self) -> String {
        format!(
            "status: {}\nstdout:\n{}\nstderr:\n{}",
            self.status, self.stdout, self.stderr
        )
    }

    fn assert_failed(&self) {
        assert!(!self.status.success(), "should fail:\n{}", self.all());
        assert!(
            !self.stderr.contains("panicked"),
            "panicked:\n{}",
            self.all()
        );
    }

    fn assert_passed(&self) {
        assert!(self.status.success(), "should pass:\n{}", self.all());
    }
}

/// Variables of the test's own shell that would change where the doctor sends, or how.
fn inherited_setting(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    upper.starts_with("OTEL_")
        || upper.starts_with("TRACEDOJO_")
        || upper.contains("OTLP")
        || upper.ends_with("_PROXY")
        || upper == "RUST_LOG"
}

/// `tracedojo doctor ARGS` with only `env` among the settings that matter; ends it and fails
/// the test if it has not ended within [`HANG_GUARD`]. Fails the test if any output holds
/// [`SECRET`].
fn doctor(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(support::BIN);
    command
        .arg("doctor")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, _) in std::env::vars_os() {
        if inherited_setting(&name.to_string_lossy()) {
            command.env_remove(name);
        }
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let child = command.spawn().expect("start tracedojo doctor");
    let pid = child.id();
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    let output = match finished.recv_timeout(HANG_GUARD) {
        Ok(output) => output.expect("wait for tracedojo doctor"),
        Err(_) => {
            // SAFETY: signalling the child this test spawned; the waiting thread reaps it.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
            panic!("tracedojo doctor {args:?} did not end within {HANG_GUARD:?}");
        }
    };
    let run = Run {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(
        !run.stdout.contains(SECRET) && !run.stderr.contains(SECRET),
        "the key was printed:\n{}",
        run.all()
    );
    run
}

/// The usual settings: everything to `endpoint` (a base URL) with the key.
fn to_backend(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.to_string()),
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            format!("{KEY_HEADER}={SECRET}"),
        ),
    ]
}

fn as_env<'a>(vars: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    vars.iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect()
}

/// A loopback port nothing listens on (bound, then let go).
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

// ---------------------------------------------------------------------------------------
// A fake OTLP/HTTP backend

#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    /// Lower-cased names.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the backend does with a request.
enum Answer {
    Reply {
        status: u16,
        content_type: &'static str,
        body: Vec<u8>,
    },
    /// Keeps the connection open and says nothing.
    Silence,
}

impl Answer {
    fn status(status: u16, body: &str) -> Answer {
        Answer::Reply {
            status,
            content_type: "text/plain",
            body: body.as_bytes().to_vec(),
        }
    }

    /// 200 with an empty protobuf body: an export response with nothing to report.
    fn ok() -> Answer {
        Answer::Reply {
            status: 200,
            content_type: "application/x-protobuf",
            body: Vec::new(),
        }
    }
}

type Responder = Arc<dyn Fn(&Request) -> Answer + Send + Sync>;

/// The three OTLP/HTTP paths answer 200, anything else 404.
fn otlp_paths(request: &Request) -> Answer {
    match (request.method.as_str(), request.path.as_str()) {
        ("POST", "/v1/traces" | "/v1/metrics" | "/v1/logs") => Answer::ok(),
        _ => Answer::status(404, "404 page not found"),
    }
}

/// As a vendor: 401 unless `api-key` holds [`SECRET`], echoing what it was given (some do),
/// then [`otlp_paths`].
fn vendor(request: &Request) -> Answer {
    match request.header(KEY_HEADER) {
        Some(SECRET) => otlp_paths(request),
        given => Answer::status(
            401,
            &format!("invalid api key: {}", given.unwrap_or("(none)")),
        ),
    }
}

/// A fake backend on its own threads; stops taking connections when dropped, and each open
/// connection ends when the client closes it or after 30 s of silence.
struct Backend {
    address: SocketAddr,
    scheme: &'static str,
    requests: Arc<Mutex<Vec<Request>>>,
    stopped: Arc<AtomicBool>,
}

impl Backend {
    fn start(respond: impl Fn(&Request) -> Answer + Send + Sync + 'static) -> Backend {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind loopback");
        Backend::serve(listener, None, Arc::new(respond))
    }

    fn start_tls(
        tls: Arc<rustls::ServerConfig>,
        respond: impl Fn(&Request) -> Answer + Send + Sync + 'static,
    ) -> Backend {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind loopback");
        Backend::serve(listener, Some(tls), Arc::new(respond))
    }

    fn serve(
        listener: TcpListener,
        tls: Option<Arc<rustls::ServerConfig>>,
        respond: Responder,
    ) -> Backend {
        let address = listener.local_addr().expect("local address");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stopped = Arc::new(AtomicBool::new(false));
        let (kept, stop) = (requests.clone(), stopped.clone());
        let scheme = if tls.is_some() { "https" } else { "http" };
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let (kept, respond, tls) = (kept.clone(), respond.clone(), tls.clone());
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
                    match tls {
                        None => connection(stream, &respond, &kept),
                        Some(config) => {
                            let Ok(session) = rustls::ServerConnection::new(config) else {
                                return;
                            };
                            connection(rustls::StreamOwned::new(session, stream), &respond, &kept)
                        }
                    }
                });
            }
        });
        Backend {
            address,
            scheme,
            requests,
            stopped,
        }
    }

    /// `http://127.0.0.1:PORT` (or https), plus `path`.
    fn url(&self, path: &str) -> String {
        format!("{}://{}{path}", self.scheme, self.address)
    }

    /// The same with `localhost`, the name the test certificates carry.
    fn localhost_url(&self) -> String {
        format!("{}://localhost:{}", self.scheme, self.address.port())
    }

    fn requests(&self) -> Vec<Request> {
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn request_to(&self, path: &str) -> Request {
        self.requests()
            .into_iter()
            .find(|r| r.path == path)
            .unwrap_or_else(|| panic!("nothing was sent to {path}: {:?}", self.paths()))
    }

    fn paths(&self) -> Vec<String> {
        let mut paths: Vec<String> = self.requests().into_iter().map(|r| r.path).collect();
        paths.sort();
        paths
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect_timeout(&self.address, Duration::from_secs(1));
    }
}

/// One connection: HTTP/1.1 requests until the client closes. Anything that is not HTTP/1.x
/// (a TLS hello, the HTTP/2 preface of gRPC) gets a 400 and the connection is closed, as an
/// HTTP/1.1-only server does.
fn connection<S: Read + Write>(stream: S, respond: &Responder, kept: &Mutex<Vec<Request>>) {
    let mut reader = BufReader::new(stream);
    loop {
        let first = match reader.fill_buf() {
            Ok([]) | Err(_) => return,
            Ok(bytes) => bytes[0],
        };
        if !first.is_ascii_uppercase() {
            bad_request(&mut reader);
            return;
        }
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let [method, path, version] = words.as_slice() else {
            bad_request(&mut reader);
            return;
        };
        if !version.starts_with("HTTP/1.") {
            bad_request(&mut reader);
            return;
        }
        let (method, path) = (method.to_string(), path.to_string());
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
        let request = Request {
            method,
            path,
            headers,
            body,
        };
        let answer = respond(&request);
        kept.lock().unwrap_or_else(|p| p.into_inner()).push(request);
        match answer {
            Answer::Reply {
                status,
                content_type,
                body,
            } => {
                let head = format!(
                    "HTTP/1.1 {status} {}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
                    reason(status),
                    body.len()
                );
                let writer = reader.get_mut();
                if writer.write_all(head.as_bytes()).is_err()
                    || writer.write_all(&body).is_err()
                    || writer.flush().is_err()
                {
                    return;
                }
            }
            Answer::Silence => {
                // Until the client gives up and closes (or the read timeout ends it).
                let mut sink = Vec::new();
                let _ = reader.read_to_end(&mut sink);
                return;
            }
        }
    }
}

/// A 400, then a lingering close as HTTP/1.1 servers do: what the client still sends is read
/// until it closes, so that it gets the answer rather than a reset connection.
fn bad_request<S: Read + Write>(reader: &mut BufReader<S>) {
    let writer = reader.get_mut();
    let _ = writer
        .write_all(b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
    let _ = writer.flush();
    let mut sink = Vec::new();
    let _ = reader.read_to_end(&mut sink);
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        401 => "Unauthorized",
        404 => "Not Found",
        413 => "Payload Too Large",
        _ => "Answer",
    }
}

// ---------------------------------------------------------------------------------------
// Certificates made by the test

/// A CA of the test's own, written as PEM to `ca.pem` in a fresh directory.
struct TestCa {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    dir: PathBuf,
    pem_file: PathBuf,
}

impl TestCa {
    fn new() -> TestCa {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "tracedojo test CA");
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let key = rcgen::KeyPair::generate().unwrap();
        let certificate = params.self_signed(&key).unwrap();
        let dir = temp_dir("doctor-ca");
        let pem_file = dir.join("ca.pem");
        std::fs::write(&pem_file, certificate.pem()).unwrap();
        TestCa {
            issuer: rcgen::Issuer::new(params, key),
            dir,
            pem_file,
        }
    }

    fn pem_path(&self) -> &str {
        self.pem_file.to_str().expect("a UTF-8 temp path")
    }

    /// A server configuration with a certificate for `names`, signed by this CA.
    fn server(&self, names: &[&str]) -> Arc<rustls::ServerConfig> {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = rcgen::CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "tracedojo test backend");
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let key = rcgen::KeyPair::generate().unwrap();
        let certificate = params.signed_by(&key, &self.issuer).unwrap();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(
            rustls::pki_types::PrivatePkcs8KeyDer::from(key.serialize_der()),
        );
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![certificate.der().clone()], key)
            .unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }
}

impl Drop for TestCa {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn decode_trace_id(request: &ExportTraceServiceRequest) -> String {
    let span = &request.resource_spans[0].scope_spans[0].spans[0];
    span.trace_id.iter().map(|b| format!("{b:02x}")).collect()
}

fn gunzip(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body)
        .read_to_end(&mut out)
        .expect("a gzip body");
    out
}

// ---------------------------------------------------------------------------------------
// 1. Delivered

#[test]
fn a_backend_that_takes_the_key_gets_all_three_signals() {
    let backend = Backend::start(vendor);
    let base = backend.url("");
    let run = doctor(&[], &as_env(&to_backend(&base)));
    run.assert_passed();
    for signal in ["traces", "metrics", "logs"] {
        let line = run.line(signal);
        assert!(line.contains(" delivered in "), "{line}");
        assert!(
            line.ends_with(&format!("ms to {base}/v1/{signal} (OTLP http/protobuf)")),
            "{line}"
        );
    }
    assert_eq!(backend.paths(), ["/v1/logs", "/v1/metrics", "/v1/traces"]);
    for request in backend.requests() {
        assert_eq!(request.method, "POST");
        assert_eq!(request.header(KEY_HEADER), Some(SECRET), "{request:?}");
        assert_eq!(
            request.header("content-type"),
            Some("application/x-protobuf")
        );
    }
    let traces = ExportTraceServiceRequest::decode(&*backend.request_to("/v1/traces").body)
        .expect("an OTLP trace request");
    let trace_id = decode_trace_id(&traces);
    assert!(
        run.stdout.contains(&format!(
            "look for trace {trace_id} (service tracedojo-doctor)"
        )),
        "{}",
        run.all()
    );
    ExportMetricsServiceRequest::decode(&*backend.request_to("/v1/metrics").body)
        .expect("an OTLP metrics request");
    ExportLogsServiceRequest::decode(&*backend.request_to("/v1/logs").body)
        .expect("an OTLP logs request");
}

// 2. Key rejected

#[test]
fn a_wrong_or_missing_key_is_rejected_naming_the_header() {
    let backend = Backend::start(vendor);
    let base = backend.url("");
    let wrong = format!("{KEY_HEADER}=WRONG-{SECRET}");
    let run = doctor(
        &[],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &base),
            ("OTEL_EXPORTER_OTLP_HEADERS", &wrong),
        ],
    );
    run.assert_failed();
    for signal in ["traces", "metrics", "logs"] {
        let line = run.line(signal);
        assert!(
            line.contains(&format!(
                "key rejected (401): the backend did not accept the credentials in header `{KEY_HEADER}`"
            )),
            "{line}"
        );
        assert!(line.contains("OTEL_EXPORTER_OTLP_HEADERS"), "{line}");
    }
    assert!(
        run.stderr
            .contains("3 of 3 signals did not reach the backend"),
        "{}",
        run.all()
    );

    let run = doctor(&[], &[("OTEL_EXPORTER_OTLP_ENDPOINT", &base)]);
    run.assert_failed();
    let line = run.line("traces");
    assert!(
        line.contains("key rejected (401): no key was sent")
            && line.contains("OTEL_EXPORTER_OTLP_HEADERS=HEADER=KEY"),
        "{line}"
    );
}

#[test]
fn the_collector_preset_sends_to_its_variable_and_leaves_a_stale_key_behind() {
    let backend = Backend::start(otlp_paths);
    let base = backend.url("");
    let run = doctor(
        &["--to", "otel-collector"],
        &[
            ("COLLECTOR_OTLP_ENDPOINT", &base),
            // A key left in the shell for another vendor must not travel to the collector.
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                &format!("{KEY_HEADER}={SECRET}"),
            ),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://127.0.0.1:9/elsewhere",
            ),
        ],
    );
    run.assert_passed();
    for signal in ["traces", "metrics", "logs"] {
        let line = run.line(signal);
        assert!(
            line.contains(" delivered in ") && line.contains(&format!("to {base}/v1/{signal} ")),
            "{line}"
        );
    }
    assert_eq!(backend.requests().len(), 3, "{:?}", backend.paths());
    for request in backend.requests() {
        assert_eq!(request.header(KEY_HEADER), None, "{request:?}");
    }

    // A collector set up to want a key says so in the preset's words.
    let guarded = Backend::start(vendor);
    let run = doctor(
        &["--to", "otel-collector"],
        &[("COLLECTOR_OTLP_ENDPOINT", &guarded.url(""))],
    );
    run.assert_failed();
    let line = run.line("traces");
    assert!(
        line.contains("key rejected (401): no key was sent"),
        "{line}"
    );
}

#[test]
fn the_jaeger_preset_checks_traces_and_turns_the_rest_off() {
    let backend = Backend::start(vendor);
    let run = doctor(
        &["--to", "jaeger"],
        &[("JAEGER_OTLP_ENDPOINT", &backend.url(""))],
    );
    // Jaeger as a preset sends no key; this one wants one.
    run.assert_failed();
    let line = run.line("traces");
    assert!(line.contains("key rejected (401)"), "{line}");
    assert_eq!(
        run.line("metrics"),
        "metrics  not sent: turned off by OTEL_METRICS_EXPORTER=none"
    );
    assert_eq!(
        run.line("logs"),
        "logs     not sent: turned off by OTEL_LOGS_EXPORTER=none"
    );
    assert_eq!(backend.paths(), ["/v1/traces"]);

    let open = Backend::start(otlp_paths);
    let run = doctor(
        &["--to", "jaeger"],
        &[("JAEGER_OTLP_ENDPOINT", &open.url(""))],
    );
    run.assert_passed();
    assert!(
        run.line("traces").contains(" delivered in "),
        "{}",
        run.all()
    );
}

// 3. Path wrong

#[test]
fn a_signal_endpoint_without_its_path_says_so() {
    let backend = Backend::start(vendor);
    let base = backend.url("");
    let mut env = to_backend(&base);
    env.push(("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", base.clone()));
    let run = doctor(&[], &as_env(&env));
    run.assert_failed();
    let line = run.line("traces");
    assert!(
        line.contains(&format!("endpoint path wrong (404 at {base}): ")),
        "{line}"
    );
    assert!(line.contains("does not end in /v1/traces"), "{line}");
    assert!(
        line.contains("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
        "{line}"
    );
    assert!(
        run.line("metrics").contains(" delivered in "),
        "{}",
        run.all()
    );
    assert!(run.line("logs").contains(" delivered in "), "{}", run.all());
}

#[test]
fn a_doubled_signal_path_says_so() {
    let backend = Backend::start(vendor);
    let with_path = backend.url("/v1/traces");
    let run = doctor(&[], &as_env(&to_backend(&with_path)));
    run.assert_failed();
    let line = run.line("traces");
    assert!(
        line.contains(&format!(
            "endpoint path wrong (404 at {with_path}/v1/traces): /v1/traces appears twice"
        )),
        "{line}"
    );
    assert!(
        line.contains("OTEL_EXPORTER_OTLP_ENDPOINT the base URL only"),
        "{line}"
    );
    assert!(
        run.line("metrics").contains("endpoint path wrong (404"),
        "{}",
        run.all()
    );
}

// 4. Nothing listening

#[test]
fn nothing_listening_is_connection_refused() {
    let address = format!("127.0.0.1:{}", free_port());
    let run = doctor(&[], &as_env(&to_backend(&format!("http://{address}"))));
    run.assert_failed();
    for signal in ["traces", "metrics", "logs"] {
        let line = run.line(signal);
        assert!(
            line.contains(&format!("connection refused: nothing listens at {address}")),
            "{line}"
        );
    }
}

// 5. No answer

#[test]
fn a_silent_backend_times_out_and_the_check_ends() {
    let backend = Backend::start(|_: &Request| Answer::Silence);
    let base = backend.url("");
    let run = doctor(&["--timeout", "2"], &as_env(&to_backend(&base)));
    run.assert_failed();
    for signal in ["traces", "metrics", "logs"] {
        let line = run.line(signal);
        assert!(
            line.contains(&format!(
                "timeout: {base}/v1/{signal} did not answer within 2"
            )),
            "{line}"
        );
    }
    assert_eq!(backend.requests().len(), 3, "{:?}", backend.paths());
}

// 6. Too large

#[test]
fn a_413_says_payload_too_large() {
    let backend = Backend::start(|_: &Request| Answer::status(413, "request entity too large"));
    let run = doctor(&[], &as_env(&to_backend(&backend.url(""))));
    run.assert_failed();
    let line = run.line("traces");
    assert!(line.contains("payload too large (413)"), "{line}");
    assert!(
        line.contains("OTEL_EXPORTER_OTLP_COMPRESSION=gzip"),
        "{line}"
    );
}

// 7. Partial success

#[test]
fn a_partial_success_names_the_count_and_the_backends_words() {
    let response = ExportTraceServiceResponse {
        partial_success: Some(ExportTracePartialSuccess {
            rejected_spans: 1,
            error_message: "span timestamp too old".into(),
        }),
    }
    .encode_to_vec();
    let backend = Backend::start(move |request: &Request| {
        if request.path == "/v1/traces" {
            Answer::Reply {
                status: 200,
                content_type: "application/x-protobuf",
                body: response.clone(),
            }
        } else {
            vendor(request)
        }
    });
    let run = doctor(&[], &as_env(&to_backend(&backend.url(""))));
    run.assert_failed();
    let line = run.line("traces");
    assert!(
        line.contains(
            "partial success: the backend rejected 1 spans, saying \"span timestamp too old\""
        ),
        "{line}"
    );
    assert!(
        run.line("metrics").contains(" delivered in "),
        "{}",
        run.all()
    );
    assert!(run.line("logs").contains(" delivered in "), "{}", run.all());
    assert!(
        run.stderr
            .contains("1 of 3 signals did not reach the backend"),
        "{}",
        run.all()
    );
}

// 8. Protocol mix-ups

#[test]
fn grpc_to_an_http_1_port_says_wrong_protocol() {
    let backend = Backend::start(vendor);
    let mut env = to_backend(&backend.url(""));
    env.push(("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".into()));
    let run = doctor(&["--timeout", "5"], &as_env(&env));
    run.assert_failed();
    for signal in ["traces", "metrics", "logs"] {
        let line = run.line(signal);
        assert!(
            line.contains(&format!("wrong protocol at {}: ", backend.url("")))
                && line.contains("this port does not speak gRPC"),
            "{line}"
        );
        assert!(
            line.contains("OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf"),
            "{line}"
        );
    }
}

#[test]
fn grpc_to_the_explorers_http_port_says_wrong_protocol() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = runtime
        .block_on(tracedojo_explorer::Receiver::start_local())
        .unwrap();
    let mut env = to_backend(&receiver.http_endpoint());
    env.push(("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".into()));
    let run = doctor(&["--timeout", "5"], &as_env(&env));
    run.assert_failed();
    let line = run.line("traces");
    assert!(
        line.contains("wrong protocol at ") && line.contains("this port does not speak gRPC"),
        "{line}"
    );
    drop(receiver);
}

#[test]
fn http_to_a_grpc_port_says_wrong_protocol() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = runtime
        .block_on(tracedojo_explorer::Receiver::start_local())
        .unwrap();
    let run = doctor(
        &["--timeout", "5"],
        &as_env(&to_backend(&receiver.grpc_endpoint())),
    );
    run.assert_failed();
    let line = run.line("traces");
    assert!(
        line.contains("wrong protocol at ")
            && line.contains("gRPC")
            && line.contains("OTEL_EXPORTER_OTLP_PROTOCOL=grpc"),
        "{line}"
    );
    drop(receiver);
}

// 9. TLS

#[test]
fn tls_with_the_cas_certificate_file_is_delivered() {
    let ca = TestCa::new();
    let backend = Backend::start_tls(ca.server(&["localhost", "127.0.0.1"]), vendor);
    for base in [backend.localhost_url(), backend.url("")] {
        let mut env = to_backend(&base);
        env.push(("OTEL_EXPORTER_OTLP_CERTIFICATE", ca.pem_path().to_string()));
        let run = doctor(&["--timeout", "5"], &as_env(&env));
        run.assert_passed();
        for signal in ["traces", "metrics", "logs"] {
            let line = run.line(signal);
            assert!(
                line.contains(" delivered in ")
                    && line.contains(&format!("to {base}/v1/{signal} (OTLP http/protobuf)")),
                "{line}"
            );
        }
    }
    assert_eq!(backend.requests().len(), 6, "{:?}", backend.paths());
    for request in backend.requests() {
        assert_eq!(request.header(KEY_HEADER), Some(SECRET));
    }
}

#[test]
fn tls_from_an_unknown_ca_is_named() {
    let ca = TestCa::new();
    let backend = Backend::start_tls(ca.server(&["localhost", "127.0.0.1"]), vendor);
    let base = backend.localhost_url();
    let run = doctor(&["--timeout", "5"], &as_env(&to_backend(&base)));
    run.assert_failed();
    for signal in ["traces", "metrics", "logs"] {
        let line = run.line(signal);
        assert!(
            line.contains(&format!("TLS problem at {base}/v1/{signal}: unknown CA")),
            "{line}"
        );
        assert!(line.contains("OTEL_EXPORTER_OTLP_CERTIFICATE"), "{line}");
    }
    assert!(backend.requests().is_empty(), "{:?}", backend.paths());
}

#[test]
fn tls_for_another_name_is_a_name_mismatch() {
    let ca = TestCa::new();
    let backend = Backend::start_tls(ca.server(&["otlp.example.com"]), vendor);
    let base = backend.localhost_url();
    let mut env = to_backend(&base);
    env.push(("OTEL_EXPORTER_OTLP_CERTIFICATE", ca.pem_path().to_string()));
    let run = doctor(&["--timeout", "5"], &as_env(&env));
    run.assert_failed();
    let line = run.line("traces");
    assert!(
        line.contains(&format!(
            "TLS problem at {base}/v1/traces: name mismatch: the server's certificate is not valid for localhost"
        )),
        "{line}"
    );
    assert!(backend.requests().is_empty(), "{:?}", backend.paths());
}

#[test]
fn plain_http_to_a_tls_port_says_it_may_expect_tls() {
    let ca = TestCa::new();
    let backend = Backend::start_tls(ca.server(&["localhost", "127.0.0.1"]), vendor);
    let plain = format!("http://{}", backend.address);
    let run = doctor(&["--timeout", "5"], &as_env(&to_backend(&plain)));
    run.assert_failed();
    for signal in ["traces", "metrics", "logs"] {
        let line = run.line(signal);
        assert!(
            line.contains(&format!("wrong protocol at {plain}/v1/{signal}: "))
                && line.contains("it may expect TLS")
                && line.contains("use https://"),
            "{line}"
        );
    }
}

#[test]
fn tls_to_a_plain_port_says_the_port_does_not_speak_tls() {
    let backend = Backend::start(vendor);
    let https = format!("https://{}", backend.address);
    let run = doctor(&["--timeout", "5"], &as_env(&to_backend(&https)));
    run.assert_failed();
    for signal in ["traces", "metrics", "logs"] {
        let line = run.line(signal);
        assert!(
            line.contains(&format!(
                "TLS problem at {https}/v1/{signal}: the port does not speak TLS"
            )),
            "{line}"
        );
        assert!(line.contains("use http://"), "{line}");
    }
}

// 10. gzip

#[test]
fn gzip_compression_sends_gzipped_otlp() {
    let backend = Backend::start(vendor);
    let mut env = to_backend(&backend.url(""));
    env.push(("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip".into()));
    let run = doctor(&[], &as_env(&env));
    run.assert_passed();
    assert_eq!(backend.requests().len(), 3, "{:?}", backend.paths());
    for request in backend.requests() {
        assert_eq!(
            request.header("content-encoding"),
            Some("gzip"),
            "{request:?}"
        );
    }
    let body = gunzip(&backend.request_to("/v1/traces").body);
    let traces = ExportTraceServiceRequest::decode(&*body).expect("an OTLP trace request");
    assert_eq!(
        traces.resource_spans[0].scope_spans[0].spans[0].name,
        "tracedojo doctor export check"
    );
    let trace_id = decode_trace_id(&traces);
    assert!(run.stdout.contains(&trace_id), "{}", run.all());
    ExportMetricsServiceRequest::decode(&*gunzip(&backend.request_to("/v1/metrics").body))
        .expect("an OTLP metrics request");
    ExportLogsServiceRequest::decode(&*gunzip(&backend.request_to("/v1/logs").body))
        .expect("an OTLP logs request");
}

// 11. Proxy

#[test]
fn a_dead_proxy_is_blamed_and_no_proxy_goes_direct() {
    let backend = Backend::start(vendor);
    let proxy = format!("http://127.0.0.1:{}", free_port());
    let mut env = to_backend(&backend.url(""));
    env.push(("HTTP_PROXY", proxy.clone()));
    env.push(("HTTPS_PROXY", proxy.clone()));
    let run = doctor(&["--timeout", "5"], &as_env(&env));
    run.assert_failed();
    for signal in ["traces", "metrics", "logs"] {
        let line = run.line(signal);
        assert!(
            line.contains(&format!(
                "proxy in the way: the proxy refused the connection (proxy {proxy})"
            )),
            "{line}"
        );
        assert!(line.contains("NO_PROXY"), "{line}");
        assert!(
            line.contains(&format!("through the proxy {proxy}")),
            "{line}"
        );
    }
    assert!(backend.requests().is_empty(), "{:?}", backend.paths());

    env.push(("NO_PROXY", "localhost,127.0.0.1".into()));
    let run = doctor(&["--timeout", "5"], &as_env(&env));
    run.assert_passed();
    for signal in ["traces", "metrics", "logs"] {
        let line = run.line(signal);
        assert!(line.contains(" delivered in "), "{line}");
        assert!(!line.contains("proxy"), "{line}");
    }
    assert_eq!(backend.requests().len(), 3, "{:?}", backend.paths());
}

// 12. No backend set

/// The default endpoint's port: held by this test when it is free, so the result does not
/// depend on what a developer runs there.
const DEFAULT_OTLP_HTTP_PORT: u16 = 4318;

#[test]
fn without_a_backend_it_checks_the_local_explorer_and_fails() {
    // Both loopback families, as `localhost` may resolve to either; when something else
    // already holds the port, only what does not depend on it is checked.
    let held = TcpListener::bind((Ipv4Addr::LOCALHOST, DEFAULT_OTLP_HTTP_PORT))
        .ok()
        .and_then(
            |v4| match TcpListener::bind((Ipv6Addr::LOCALHOST, DEFAULT_OTLP_HTTP_PORT)) {
                Ok(v6) => Some((v4, Some(v6))),
                Err(err) if err.kind() == std::io::ErrorKind::AddrInUse => None,
                Err(_) => Some((v4, None)),
            },
        );
    let backends = held.map(|(v4, v6)| {
        let respond: Responder = Arc::new(otlp_paths);
        let v4 = Backend::serve(v4, None, respond.clone());
        let v6 = v6.map(|v6| Backend::serve(v6, None, respond));
        (v4, v6)
    });
    let run = doctor(&["--timeout", "5"], &[]);
    run.assert_failed();
    let first = run.stdout.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("no backend is set") && first.contains("checking that instead"),
        "{}",
        run.all()
    );
    assert!(first.contains("explorer"), "{first}");
    assert!(
        run.stderr.contains("no backend is set")
            || run.stderr.contains("signals did not reach the backend"),
        "{}",
        run.all()
    );
    if let Some((v4, v6)) = backends {
        for signal in ["traces", "metrics", "logs"] {
            let line = run.line(signal);
            assert!(
                line.contains(" delivered in ")
                    && line.contains(&format!(
                        "to http://localhost:{DEFAULT_OTLP_HTTP_PORT}/v1/{signal} "
                    )),
                "{line}"
            );
        }
        assert!(
            run.stderr
                .contains("no backend is set, so only the local explorer was checked"),
            "{}",
            run.all()
        );
        let received = v4.requests().len() + v6.as_ref().map_or(0, |b| b.requests().len());
        assert_eq!(received, 3);
    }
}

// 13. `up` runs the same check first

#[test]
fn up_says_a_rejected_key_in_one_line_and_starts_anyway() {
    let backend = Backend::start(vendor);
    let wrong = format!("{KEY_HEADER}=WRONG-{SECRET}");
    let base = backend.url("");
    let mut shop = Shop::start(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &base),
        ("OTEL_EXPORTER_OTLP_HEADERS", &wrong),
    ]);
    let line = shop
        .stdout
        .wait_for("doctor:", Duration::ZERO)
        .expect("a doctor line before the summary");
    assert!(
        line.starts_with(&format!(
            "doctor: traces: key rejected (401): the backend did not accept the credentials in header `{KEY_HEADER}`"
        )),
        "{line}"
    );
    assert!(line.contains("the shop starts anyway"), "{line}");
    let stdout = shop.stdout.text();
    let doctor_at = stdout.find("doctor:").unwrap();
    let shop_at = stdout.find("Shop:").unwrap();
    assert!(doctor_at < shop_at, "{stdout}");
    assert!(
        backend.paths().contains(&"/v1/traces".to_string()),
        "{:?}",
        backend.paths()
    );
    shop.stop();
    let all = format!("{}\n{}", shop.stdout.text(), shop.stderr.text());
    assert!(!all.contains(SECRET), "the key was printed:\n{all}");
}
