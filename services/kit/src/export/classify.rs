//! From what went wrong on the wire to an [`ExportFailure`]: HTTP status codes, gRPC status
//! codes, and transport errors (refused, not resolved, TLS, timeout, proxy) found by walking
//! an error's causes.

use std::error::Error as StdError;

use super::failure::ExportFailure;
use super::sender::source_text;
use super::settings::DestinationSettings;
use crate::otel_env::Protocol;

/// A non-2xx answer from an OTLP/HTTP endpoint.
pub(crate) fn classify_http_status(
    status: u16,
    content_type: &str,
    message: String,
    settings: &DestinationSettings,
    proxy: Option<&str>,
) -> ExportFailure {
    match status {
        401 | 403 => key_rejected(status, settings),
        404 => ExportFailure::PathWrong {
            url: settings.url.clone(),
            hint: path_hint(settings),
        },
        407 => ExportFailure::Proxy {
            proxy: proxy.unwrap_or("(from the environment)").to_string(),
            problem: "the proxy asks for credentials (407)".into(),
        },
        413 => ExportFailure::PayloadTooLarge {
            limit_hint: "lower OTEL_BSP_MAX_EXPORT_BATCH_SIZE (default 512) or set OTEL_EXPORTER_OTLP_COMPRESSION=gzip".into(),
        },
        429 | 503 => ExportFailure::Throttled { status },
        _ if content_type.starts_with("application/grpc") => ExportFailure::WrongProtocol {
            url: settings.url.clone(),
            hint: "this port speaks gRPC; set OTEL_EXPORTER_OTLP_PROTOCOL=grpc, or use the OTLP/HTTP port (4318)".into(),
        },
        _ => ExportFailure::Refused {
            status: format!("HTTP {status}"),
            message,
        },
    }
}

/// A gRPC status other than OK.
pub(crate) fn classify_grpc_status(
    status: &tonic::Status,
    settings: &DestinationSettings,
) -> ExportFailure {
    use tonic::Code;
    let message = super::failure::backend_message(status.message(), &settings.secrets());
    let lower = message.to_ascii_lowercase();
    match status.code() {
        Code::Unauthenticated => key_rejected(401, settings),
        Code::PermissionDenied => key_rejected(403, settings),
        Code::DeadlineExceeded => ExportFailure::Timeout {
            url: settings.url.clone(),
            after: settings.timeout,
        },
        Code::Cancelled if lower.contains("timeout") => ExportFailure::Timeout {
            url: settings.url.clone(),
            after: settings.timeout,
        },
        Code::ResourceExhausted if lower.contains("larger than") || lower.contains("too large") => {
            ExportFailure::PayloadTooLarge {
                limit_hint: "lower OTEL_BSP_MAX_EXPORT_BATCH_SIZE (default 512) or set OTEL_EXPORTER_OTLP_COMPRESSION=gzip".into(),
            }
        }
        Code::ResourceExhausted => ExportFailure::Throttled { status: 429 },
        // tonic's reading of a plain HTTP 404: an HTTP/2 server without gRPC.
        Code::Unimplemented if lower.contains("http status code") => wrong_protocol_grpc(settings),
        Code::Unimplemented => ExportFailure::PathWrong {
            url: settings.url.clone(),
            hint: "the server does not offer the OTLP service for this signal; check the port (OTLP/gRPC: 4317)".into(),
        },
        // What tonic reports when the answer is not gRPC (an HTTP/2 server without it).
        Code::Internal | Code::Unknown
            if lower.contains("content-type") || lower.contains("content type") =>
        {
            wrong_protocol_grpc(settings)
        }
        _ => match StdError::source(status) {
            Some(source) => classify_transport(source, settings, None),
            None => ExportFailure::Refused {
                status: format!("gRPC {:?}", status.code()),
                message,
            },
        },
    }
}

/// A request that got no HTTP answer: walks the error's causes for what is known.
pub(crate) fn classify_transport(
    err: &(dyn StdError + 'static),
    settings: &DestinationSettings,
    proxy: Option<&str>,
) -> ExportFailure {
    // The client's message quotes the URL, user:password included if the endpoint has one.
    let text = source_text(err).replace(&settings.url, &crate::otel_env::redact_url(&settings.url));
    let lower = text.to_ascii_lowercase();
    let timeout = || ExportFailure::Timeout {
        url: settings.url.clone(),
        after: settings.timeout,
    };
    let mut io_kind = None;
    let mut source: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(cause) = source {
        if let Some(reqwest) = cause.downcast_ref::<reqwest::Error>()
            && reqwest.is_timeout()
        {
            return timeout();
        }
        if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
            return tls_failure(tls, settings);
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            // The HTTP client wraps the TLS error in an I/O error inside another, and an I/O
            // error's `source` skips what it wraps: look inside each layer.
            let mut inner = io.get_ref();
            while let Some(wrapped) = inner {
                if let Some(tls) = wrapped.downcast_ref::<rustls::Error>() {
                    return tls_failure(tls, settings);
                }
                inner = wrapped
                    .downcast_ref::<std::io::Error>()
                    .and_then(std::io::Error::get_ref);
            }
            io_kind.get_or_insert(io.kind());
        }
        source = cause.source();
    }
    if let Some(proxy) = proxy
        && (io_kind == Some(std::io::ErrorKind::ConnectionRefused)
            || lower.contains("dns error")
            || lower.contains("failed to lookup")
            || lower.contains("proxy"))
    {
        let problem = if io_kind == Some(std::io::ErrorKind::ConnectionRefused) {
            "the proxy refused the connection".to_string()
        } else if lower.contains("dns error") || lower.contains("failed to lookup") {
            "the proxy's host name does not resolve".to_string()
        } else {
            format!("the proxy could not be used: {}", short(&text))
        };
        return ExportFailure::Proxy {
            proxy: proxy.to_string(),
            problem,
        };
    }
    if io_kind == Some(std::io::ErrorKind::TimedOut) || lower.contains("timed out") {
        return timeout();
    }
    if io_kind == Some(std::io::ErrorKind::ConnectionRefused)
        || lower.contains("connection refused")
    {
        return ExportFailure::ConnectionRefused {
            address: host_port(&settings.url),
        };
    }
    if lower.contains("dns error")
        || lower.contains("failed to lookup address")
        || lower.contains("name or service not known")
        || lower.contains("no address associated")
    {
        return ExportFailure::NameNotResolved {
            host: host_port(&settings.url)
                .rsplit_once(':')
                .map_or_else(|| host_port(&settings.url), |(h, _)| h.to_string()),
        };
    }
    // A server that does not speak HTTP/2 closes the connection on gRPC's preface.
    if settings.protocol == Protocol::Grpc
        && (lower.contains("h2 protocol error")
            || lower.contains("http2 error")
            || lower.contains("frame with invalid size")
            || lower.contains("connection reset")
            || lower.contains("connection closed")
            || lower.contains("broken pipe"))
    {
        return wrong_protocol_grpc(settings);
    }
    // A gRPC-only server answers an HTTP/1.1 request with HTTP/2 frames.
    if settings.protocol != Protocol::Grpc && lower.contains("unexpected message from connection") {
        return ExportFailure::WrongProtocol {
            url: settings.url.clone(),
            hint: "the port did not answer in HTTP/1.1; it may be an OTLP/gRPC port (4317): set OTEL_EXPORTER_OTLP_PROTOCOL=grpc, or use the OTLP/HTTP port (4318)".into(),
        };
    }
    if !settings.is_https()
        && (lower.contains("invalid http version")
            || lower.contains("invalid status")
            || lower.contains("parse")
            || lower.contains("connection closed before message completed")
            || lower.contains("connection reset"))
    {
        // A TLS port answers with an alert record, a gRPC-only port with HTTP/2 frames, and
        // which of the two the client saw first varies: name both.
        return ExportFailure::WrongProtocol {
            url: settings.url.clone(),
            hint: "the port did not answer in plain HTTP; it may expect TLS (use https:// in the endpoint), or be an OTLP/gRPC port (set OTEL_EXPORTER_OTLP_PROTOCOL=grpc, or use the OTLP/HTTP port 4318)".into(),
        };
    }
    ExportFailure::Other {
        problem: short(&text),
    }
}

fn tls_failure(err: &rustls::Error, settings: &DestinationSettings) -> ExportFailure {
    use rustls::{CertificateError, Error};
    let host = host_port(&settings.url)
        .rsplit_once(':')
        .map_or_else(|| host_port(&settings.url), |(h, _)| h.to_string());
    let (problem, fix) = match err {
        Error::InvalidCertificate(CertificateError::UnknownIssuer)
        | Error::InvalidCertificate(CertificateError::BadSignature) => (
            "unknown CA: the server's certificate is signed by an authority this machine does not trust".to_string(),
            "set OTEL_EXPORTER_OTLP_CERTIFICATE to the CA's PEM file (for a TLS-inspecting proxy, its CA)".to_string(),
        ),
        Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => (
            format!("name mismatch: the server's certificate is not valid for {host}"),
            "use the host name the certificate names".to_string(),
        ),
        Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ) => (
            "the server's certificate has expired".to_string(),
            "ask the backend's operator to renew it, or check this machine's clock".to_string(),
        ),
        Error::InvalidMessage(_) => (
            "the port does not speak TLS".to_string(),
            "use http:// for this port, or the backend's TLS port".to_string(),
        ),
        other => {
            let text = other.to_string();
            if text.contains("UnknownIssuer") || text.to_ascii_lowercase().contains("unknown issuer")
            {
                (
                    "unknown CA: the server's certificate is signed by an authority this machine does not trust".to_string(),
                    "set OTEL_EXPORTER_OTLP_CERTIFICATE to the CA's PEM file (for a TLS-inspecting proxy, its CA)".to_string(),
                )
            } else {
                (
                    text,
                    "check the endpoint's scheme and the TLS variables (OTEL_EXPORTER_OTLP_CERTIFICATE ...)"
                        .to_string(),
                )
            }
        }
    };
    ExportFailure::Tls {
        url: settings.url.clone(),
        problem,
        fix,
    }
}

fn key_rejected(status: u16, settings: &DestinationSettings) -> ExportFailure {
    ExportFailure::KeyRejected {
        status,
        sent_headers: settings.header_names(),
        expected_header: settings.expected_key_header.clone(),
        key_variable: settings.key_variable.clone(),
    }
}

fn wrong_protocol_grpc(settings: &DestinationSettings) -> ExportFailure {
    ExportFailure::WrongProtocol {
        url: settings.url.clone(),
        hint: "this port does not speak gRPC; set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf, or use the OTLP/gRPC port (4317)".into(),
    }
}

/// What to check when a path answered 404: `/v1/traces` doubled, missing, or a gRPC port.
fn path_hint(settings: &DestinationSettings) -> String {
    let signal = settings.signal.lower();
    let suffix = format!("/v1/{signal}");
    let path = settings
        .url
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_string()))
        .unwrap_or_default();
    if path.matches(&suffix).count() > 1 {
        format!(
            "{suffix} appears twice; give OTEL_EXPORTER_OTLP_ENDPOINT the base URL only ({suffix} is added), or the whole URL in OTEL_EXPORTER_OTLP_{}_ENDPOINT",
            signal.to_ascii_uppercase()
        )
    } else if !path.ends_with(&suffix) {
        format!(
            "the path does not end in {suffix}; a per-signal endpoint (OTEL_EXPORTER_OTLP_{}_ENDPOINT) is used as it is, so it needs the full path",
            signal.to_ascii_uppercase()
        )
    } else {
        "nothing takes OTLP at this path; check the endpoint against the backend's documentation (some want a prefix such as /otlp)".into()
    }
}

/// `host:port` of a URL, for a person (the default port filled in).
fn host_port(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let has_port = authority
        .rsplit_once(':')
        .is_some_and(|(_, port)| port.chars().all(|c| c.is_ascii_digit()));
    if has_port {
        authority.to_string()
    } else if scheme.eq_ignore_ascii_case("https") {
        format!("{authority}:443")
    } else {
        format!("{authority}:80")
    }
}

fn short(text: &str) -> String {
    super::failure::backend_message(text, &[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otel_env::Signal;

    fn settings(url: &str) -> DestinationSettings {
        DestinationSettings {
            signal: Signal::Traces,
            ..DestinationSettings::explorer(url)
        }
    }

    #[test]
    fn a_404_says_whether_the_path_is_doubled_or_missing() {
        let doubled = classify_http_status(
            404,
            "",
            String::new(),
            &settings("http://h:4318/v1/traces/v1/traces"),
            None,
        );
        assert!(doubled.to_string().contains("appears twice"), "{doubled}");
        let missing =
            classify_http_status(404, "", String::new(), &settings("http://h:4318"), None);
        assert!(
            missing.to_string().contains("does not end in /v1/traces"),
            "{missing}"
        );
    }

    #[test]
    fn host_ports_get_their_default_port() {
        assert_eq!(
            host_port("https://otlp.example.com/v1/traces"),
            "otlp.example.com:443"
        );
        assert_eq!(
            host_port("http://u:p@127.0.0.1:4318/v1/traces"),
            "127.0.0.1:4318"
        );
    }
}
