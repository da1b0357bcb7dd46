//! Why an export did not arrive, in the plain words a presenter can act on.
//!
//! The same words appear in `tracedojo doctor`, in the warnings of `tracedojo up` and in the
//! explorer's export health, so a failure reads the same wherever it is met. A message never
//! holds a header's value: credentials are named by their header, never shown.

use std::fmt;
use std::time::Duration;

use crate::otel_env::redact_url;

/// One failed export, classified. [`fmt::Display`] gives the one-line explanation with the
/// fix; [`ExportFailure::kind`] the short name used to group failures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportFailure {
    /// 401 or 403: the backend refused the credentials (or their absence).
    KeyRejected {
        status: u16,
        /// The headers sent that could carry the key (names only).
        sent_headers: Vec<String>,
        /// The header this backend expects, when a vendor preset says so.
        expected_header: Option<String>,
        /// The variable holding the key, when a vendor preset names one.
        key_variable: Option<String>,
    },
    /// 404 (or a gRPC server without the OTLP service): nothing listens at this path.
    PathWrong { url: String, hint: String },
    /// The two sides disagree on the protocol (gRPC to an HTTP port or the reverse).
    WrongProtocol { url: String, hint: String },
    /// The TLS handshake failed: unknown CA, name mismatch, TLS to a plain port ...
    Tls {
        url: String,
        problem: String,
        fix: String,
    },
    /// The host name does not resolve.
    NameNotResolved { host: String },
    /// Nothing listens at that address.
    ConnectionRefused { address: String },
    /// `HTTPS_PROXY` / `HTTP_PROXY` is set for this address and the proxy failed.
    Proxy { proxy: String, problem: String },
    /// No answer within the timeout (a black hole, a firewall dropping packets).
    Timeout { url: String, after: Duration },
    /// 413: the batch is bigger than the backend accepts.
    PayloadTooLarge { limit_hint: String },
    /// 429 or 503 with a request to slow down.
    Throttled { status: u16 },
    /// The backend took the request but rejected some items, with its own message.
    PartialSuccess {
        rejected: u64,
        noun: &'static str,
        message: String,
    },
    /// Any other answer the backend gave.
    Refused { status: String, message: String },
    /// Any other transport problem.
    Other { problem: String },
}

impl ExportFailure {
    /// A short stable name: `key rejected`, `timeout` ..., for grouping and for pages.
    pub fn kind(&self) -> &'static str {
        match self {
            ExportFailure::KeyRejected { .. } => "key rejected",
            ExportFailure::PathWrong { .. } => "endpoint path wrong",
            ExportFailure::WrongProtocol { .. } => "wrong protocol",
            ExportFailure::Tls { .. } => "TLS problem",
            ExportFailure::NameNotResolved { .. } => "name not resolved",
            ExportFailure::ConnectionRefused { .. } => "connection refused",
            ExportFailure::Proxy { .. } => "proxy in the way",
            ExportFailure::Timeout { .. } => "timeout",
            ExportFailure::PayloadTooLarge { .. } => "payload too large",
            ExportFailure::Throttled { .. } => "throttled",
            ExportFailure::PartialSuccess { .. } => "partial success",
            ExportFailure::Refused { .. } => "refused",
            ExportFailure::Other { .. } => "export failed",
        }
    }
}

impl fmt::Display for ExportFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExportFailure::KeyRejected {
                status,
                sent_headers,
                expected_header,
                key_variable,
            } => {
                write!(f, "key rejected ({status}): ")?;
                match (expected_header, sent_headers.is_empty()) {
                    (Some(header), _) => {
                        write!(f, "the backend did not accept the key in header `{header}`")?
                    }
                    (None, false) => write!(
                        f,
                        "the backend did not accept the credentials in header {}",
                        quoted_list(sent_headers)
                    )?,
                    (None, true) => write!(f, "no key was sent")?,
                };
                match key_variable {
                    Some(variable) => write!(
                        f,
                        "; check {variable} (a key for this account and region, with ingest rights)"
                    ),
                    None if sent_headers.is_empty() => write!(
                        f,
                        "; set OTEL_EXPORTER_OTLP_HEADERS=HEADER=KEY with the header your backend expects"
                    ),
                    None => write!(
                        f,
                        "; check the key in OTEL_EXPORTER_OTLP_HEADERS (account, region, ingest rights)"
                    ),
                }
            }
            ExportFailure::PathWrong { url, hint } => {
                write!(
                    f,
                    "endpoint path wrong (404 at {}): {hint}",
                    redact_url(url)
                )
            }
            ExportFailure::WrongProtocol { url, hint } => {
                write!(f, "wrong protocol at {}: {hint}", redact_url(url))
            }
            ExportFailure::Tls { url, problem, fix } => {
                write!(f, "TLS problem at {}: {problem}; {fix}", redact_url(url))
            }
            ExportFailure::NameNotResolved { host } => write!(
                f,
                "name not resolved: {host} is not known to DNS; check the endpoint's spelling and region"
            ),
            ExportFailure::ConnectionRefused { address } => write!(
                f,
                "connection refused: nothing listens at {address}; check the host and port (OTLP: 4318 for HTTP, 4317 for gRPC)"
            ),
            ExportFailure::Proxy { proxy, problem } => write!(
                f,
                "proxy in the way: {problem} (proxy {}); fix the proxy settings, or list the host in NO_PROXY",
                redact_url(proxy)
            ),
            ExportFailure::Timeout { url, after } => write!(
                f,
                "timeout: {} did not answer within {}; a firewall may drop the packets, or the port is wrong",
                redact_url(url),
                crate::telemetry::seconds(*after)
            ),
            ExportFailure::PayloadTooLarge { limit_hint } => write!(
                f,
                "payload too large (413): the backend refused the batch's size; {limit_hint}"
            ),
            ExportFailure::Throttled { status } => write!(
                f,
                "throttled ({status}): the backend asks to slow down; lower the load or check the account's ingest limits"
            ),
            ExportFailure::PartialSuccess {
                rejected,
                noun,
                message,
            } => {
                write!(f, "partial success: the backend rejected {rejected} {noun}")?;
                if message.is_empty() {
                    Ok(())
                } else {
                    write!(f, ", saying \"{message}\"")
                }
            }
            ExportFailure::Refused { status, message } => {
                write!(f, "refused ({status})")?;
                if message.is_empty() {
                    Ok(())
                } else {
                    write!(f, ": \"{message}\"")
                }
            }
            ExportFailure::Other { problem } => write!(f, "export failed: {problem}"),
        }
    }
}

impl std::error::Error for ExportFailure {}

fn quoted_list(names: &[String]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A backend's own words, fit for one line: control characters out, at most 200 characters,
/// and never a header value we sent (a backend may echo the request).
pub(crate) fn backend_message(raw: &str, secrets: &[&str]) -> String {
    let mut message: String = raw
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        message = message.replace(secret, "***");
    }
    let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
    match message.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_rejected_names_the_header_never_a_value() {
        let failure = ExportFailure::KeyRejected {
            status: 403,
            sent_headers: vec!["api-key".into()],
            expected_header: None,
            key_variable: None,
        };
        assert_eq!(
            failure.to_string(),
            "key rejected (403): the backend did not accept the credentials in header `api-key`; check the key in OTEL_EXPORTER_OTLP_HEADERS (account, region, ingest rights)"
        );
        let preset = ExportFailure::KeyRejected {
            status: 401,
            sent_headers: vec![],
            expected_header: Some("Mackerel-Api-Key".into()),
            key_variable: Some("MACKEREL_APIKEY".into()),
        };
        assert!(
            preset.to_string().contains("`Mackerel-Api-Key`"),
            "{preset}"
        );
        assert!(preset.to_string().contains("MACKEREL_APIKEY"), "{preset}");
        assert_eq!(preset.kind(), "key rejected");
    }

    #[test]
    fn a_backends_message_is_one_short_line_without_our_secrets() {
        let message = backend_message("bad key\nSECRET-123 \u{7} refused", &["SECRET-123"]);
        assert_eq!(message, "bad key *** refused");
        let long = backend_message(&"x".repeat(500), &[]);
        assert_eq!(long.chars().count(), 201);
    }
}
