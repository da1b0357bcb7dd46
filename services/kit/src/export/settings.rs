//! Where one signal goes and how: the `OTEL_EXPORTER_OTLP_*` settings of one destination.
//!
//! Each setting has a general variable and a per-signal one (`OTEL_EXPORTER_OTLP_TIMEOUT` and
//! `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`); the per-signal one wins. Files named by the TLS
//! variables are read here, when the process starts, so a path that does not exist or a file
//! that is not PEM stops the start with a line naming the variable, instead of every export
//! failing later.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use http::{HeaderName, HeaderValue};

use crate::otel_env::{self, EnvError, Protocol, Signal};

/// How one destination is reached. Header values are secrets: `Debug` and
/// [`DestinationSettings::describe`] show their names only.
#[derive(Clone)]
pub struct DestinationSettings {
    pub signal: Signal,
    /// The URL posted to (`…/v1/traces`) for OTLP/HTTP; the server's base URL for gRPC.
    pub url: String,
    pub protocol: Protocol,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub timeout: Duration,
    pub gzip: bool,
    pub tls: TlsFiles,
    /// Whether `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` apply (not to the local explorer).
    pub use_proxy: bool,
    /// What a vendor preset knows: the header carrying the key and the variable holding it,
    /// so a rejected key can be explained in its words.
    pub expected_key_header: Option<String>,
    pub key_variable: Option<String>,
}

/// The PEM contents of `OTEL_EXPORTER_OTLP_CERTIFICATE` (CAs to trust besides the system's)
/// and of `_CLIENT_CERTIFICATE` / `_CLIENT_KEY` (mutual TLS), read when the process started.
#[derive(Clone, Default)]
pub struct TlsFiles {
    pub ca: Option<PemFile>,
    pub client_certificate: Option<PemFile>,
    pub client_key: Option<PemFile>,
}

#[derive(Clone)]
pub struct PemFile {
    pub path: PathBuf,
    pub pem: Vec<u8>,
}

/// Set by `--to VENDOR` next to the `OTEL_*` variables it fills: the header that carries the
/// vendor's key and the variable the key came from, so a rejected key is explained in the
/// vendor's terms. Names only, never a value.
pub const KEY_HEADER: &str = "TRACEDOJO_KEY_HEADER";
pub const KEY_VARIABLE: &str = "TRACEDOJO_KEY_VARIABLE";

/// The SDK's default export timeout (the specification's 10 s).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

impl DestinationSettings {
    /// The user's backend for `signal`, from the `OTEL_EXPORTER_OTLP_*` variables.
    pub fn from_env(signal: Signal) -> Result<DestinationSettings, EnvError> {
        let protocol = otel_env::protocol(signal)?;
        let url = otel_env::endpoint(signal, protocol)?;
        let (variable, raw) = signal_var(signal, "TIMEOUT");
        let timeout = match raw {
            None => DEFAULT_TIMEOUT,
            Some(value) => match value.trim().parse::<u64>() {
                Ok(ms) if ms > 0 => Duration::from_millis(ms),
                _ => {
                    return Err(EnvError {
                        variable,
                        problem: format!(
                            "\"{}\" is not a whole number of milliseconds",
                            value.trim()
                        ),
                        fix: "give milliseconds, e.g. 10000 for ten seconds".into(),
                    });
                }
            },
        };
        let (variable, raw) = signal_var(signal, "COMPRESSION");
        let gzip = match raw.as_deref().map(str::trim) {
            None | Some("none") => false,
            Some("gzip") => true,
            Some(other) => {
                return Err(EnvError {
                    variable,
                    problem: format!("compression \"{other}\" is not supported"),
                    fix: "use gzip or none".into(),
                });
            }
        };
        let tls = TlsFiles {
            ca: pem_file(signal, "CERTIFICATE", "CERTIFICATE")?,
            client_certificate: pem_file(signal, "CLIENT_CERTIFICATE", "CERTIFICATE")?,
            client_key: pem_file(signal, "CLIENT_KEY", "PRIVATE KEY")?,
        };
        if tls.client_certificate.is_some() != tls.client_key.is_some() {
            let missing = if tls.client_key.is_none() {
                "OTEL_EXPORTER_OTLP_CLIENT_KEY"
            } else {
                "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE"
            };
            return Err(EnvError {
                variable: missing.into(),
                problem: "mutual TLS needs both a client certificate and its key".into(),
                fix: "set OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY to PEM files, or neither".into(),
            });
        }
        Ok(DestinationSettings {
            signal,
            url,
            protocol,
            headers: headers(signal)?,
            timeout,
            gzip,
            tls,
            use_proxy: true,
            expected_key_header: set(KEY_HEADER),
            key_variable: set(KEY_VARIABLE),
        })
    }

    /// The local explorer's copy of the spans: OTLP/HTTP protobuf to `url` as it is, none of
    /// the user's headers (their backend's credentials), no proxy (it is on this machine or
    /// next to it), and a short timeout (a longer wait only means it is gone).
    pub fn explorer(url: &str) -> DestinationSettings {
        DestinationSettings {
            signal: Signal::Traces,
            url: url.to_string(),
            protocol: Protocol::HttpProtobuf,
            headers: Vec::new(),
            timeout: Duration::from_secs(5),
            gzip: false,
            tls: TlsFiles::default(),
            use_proxy: false,
            expected_key_header: None,
            key_variable: None,
        }
    }

    /// `https://host/v1/traces (OTLP http/protobuf)`, credentials hidden.
    pub fn describe(&self) -> String {
        format!(
            "{} (OTLP {})",
            otel_env::redact_url(&self.url),
            self.protocol.as_str()
        )
    }

    /// The names of the headers sent, lower-cased.
    pub fn header_names(&self) -> Vec<String> {
        self.headers
            .iter()
            .map(|(name, _)| name.as_str().to_string())
            .collect()
    }

    /// The header values, so a backend's message that echoes one can be cleaned.
    pub(crate) fn secrets(&self) -> Vec<&str> {
        self.headers
            .iter()
            .filter_map(|(_, value)| value.to_str().ok())
            .collect()
    }

    pub(crate) fn is_https(&self) -> bool {
        self.url.starts_with("https://")
    }
}

impl fmt::Debug for DestinationSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DestinationSettings")
            .field("signal", &self.signal)
            .field("url", &otel_env::redact_url(&self.url))
            .field("protocol", &self.protocol)
            .field("headers", &self.header_names())
            .field("timeout", &self.timeout)
            .field("gzip", &self.gzip)
            .field("use_proxy", &self.use_proxy)
            .finish_non_exhaustive()
    }
}

/// The per-signal variable if set, else the general one: `(name used, value)`.
fn signal_var(signal: Signal, suffix: &str) -> (String, Option<String>) {
    let specific = format!("OTEL_EXPORTER_OTLP_{}_{suffix}", signal.upper());
    if let Some(value) = set(&specific) {
        return (specific, Some(value));
    }
    let general = format!("OTEL_EXPORTER_OTLP_{suffix}");
    let value = set(&general);
    (general, value)
}

fn set(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A PEM file named by a TLS variable, read now; `label` is what its blocks must be
/// (`CERTIFICATE`, or any `PRIVATE KEY`).
fn pem_file(signal: Signal, suffix: &str, label: &str) -> Result<Option<PemFile>, EnvError> {
    let (variable, raw) = signal_var(signal, suffix);
    let Some(raw) = raw else {
        return Ok(None);
    };
    let path = PathBuf::from(raw.trim());
    let pem = std::fs::read(&path).map_err(|err| EnvError {
        variable: variable.clone(),
        problem: format!("cannot read {}: {err}", path.display()),
        fix: "give the path of a PEM file that exists and can be read".into(),
    })?;
    let text = String::from_utf8_lossy(&pem);
    let found = text.lines().any(|line| {
        line.starts_with("-----BEGIN ") && line.trim_end().ends_with(&format!("{label}-----"))
    });
    if !found {
        return Err(EnvError {
            variable,
            problem: format!("{} holds no PEM {label} block", path.display()),
            fix: format!("give a PEM file (\"-----BEGIN {label}-----\" ...)"),
        });
    }
    Ok(Some(PemFile { path, pem }))
}

/// `OTEL_EXPORTER_OTLP_HEADERS` and the per-signal list: `name=value` pairs, comma-separated,
/// values percent-decoded as the specification says; the per-signal list wins for a name in
/// both. Already validated by [`otel_env::validate_headers`]; checked again here for the
/// conversion, without echoing a value.
fn headers(signal: Signal) -> Result<Vec<(HeaderName, HeaderValue)>, EnvError> {
    let mut headers: Vec<(HeaderName, HeaderValue)> = Vec::new();
    for variable in [
        "OTEL_EXPORTER_OTLP_HEADERS".to_string(),
        format!("OTEL_EXPORTER_OTLP_{}_HEADERS", signal.upper()),
    ] {
        let Some(list) = set(&variable) else { continue };
        for (index, entry) in list.split(',').enumerate() {
            if entry.trim().is_empty() {
                continue;
            }
            let bad = |problem: &str| EnvError {
                variable: variable.clone(),
                problem: format!("entry {} {problem}", index + 1),
                fix: "write name=value pairs separated by commas, e.g. api-key=YOUR_KEY".into(),
            };
            let (name, value) = entry.split_once('=').ok_or_else(|| bad("has no '='"))?;
            let name = HeaderName::from_bytes(name.trim().as_bytes())
                .map_err(|_| bad("has a name that is not a valid header name"))?;
            let decoded = percent_decode(value.trim());
            let mut value = HeaderValue::from_str(&decoded)
                .map_err(|_| bad("has a value that cannot be sent in a header"))?;
            value.set_sensitive(true);
            headers.retain(|(existing, _)| existing != name);
            headers.push((name, value));
        }
    }
    Ok(headers)
}

/// `%20` and the like back to their bytes; anything malformed is kept as it is.
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) = bytes
                .get(i + 1..i + 3)
                .and_then(|hex| std::str::from_utf8(hex).ok())
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_are_percent_decoded() {
        assert_eq!(percent_decode("Basic%20abc%3D"), "Basic abc=");
        assert_eq!(percent_decode("50%"), "50%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }

    #[test]
    fn debug_shows_header_names_not_values() {
        let mut settings = DestinationSettings::explorer("http://127.0.0.1:4318/v1/traces");
        settings.headers.push((
            HeaderName::from_static("api-key"),
            HeaderValue::from_static("SECRET-VALUE"),
        ));
        let shown = format!("{settings:?}");
        assert!(shown.contains("api-key"), "{shown}");
        assert!(!shown.contains("SECRET-VALUE"), "{shown}");
    }
}
