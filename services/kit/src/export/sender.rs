//! One OTLP destination's connection: sends an encoded payload over OTLP/HTTP (protobuf or
//! JSON) or gRPC and says what happened, as [`Delivered`] or an [`ExportFailure`].
//!
//! The payload arrives already encoded (see [`super::encode`]), so sending the same batch to
//! two destinations costs one encoding. Over gRPC the encoded bytes are written as the message
//! as they are ([`RawCodec`]): the protobuf of an OTLP request is the same on both transports.

use std::error::Error as StdError;
use std::time::{Duration, Instant};

use bytes::Bytes;
use prost::Message;

use super::classify::{classify_grpc_status, classify_http_status, classify_transport};
use super::encode::Payload;
use super::failure::{ExportFailure, backend_message};
use super::proxy::proxy_for;
use super::settings::DestinationSettings;
use crate::otel_env::{Protocol, Signal};

/// A delivery the backend confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    pub took: Duration,
}

/// A ready connection to one destination. Built inside a tokio runtime (the gRPC channel is
/// created there); `send` may be called from any task of that runtime.
pub struct Sender {
    settings: DestinationSettings,
    transport: Transport,
    /// The proxy this destination goes through, if any (for the failure's words).
    proxy: Option<String>,
}

enum Transport {
    Http(reqwest::Client),
    Grpc(tonic::transport::Channel),
}

impl Sender {
    pub fn new(settings: DestinationSettings) -> Result<Sender, ExportFailure> {
        crate::telemetry::install_crypto_provider();
        let proxy = if settings.use_proxy && settings.protocol != Protocol::Grpc {
            proxy_for(&settings.url)
        } else {
            None
        };
        let transport = match settings.protocol {
            Protocol::Grpc => Transport::Grpc(grpc_channel(&settings)?),
            _ => Transport::Http(http_client(&settings)?),
        };
        Ok(Sender {
            settings,
            transport,
            proxy,
        })
    }

    pub fn settings(&self) -> &DestinationSettings {
        &self.settings
    }

    /// The proxy that requests to this destination go through (credentials hidden).
    pub fn proxy(&self) -> Option<String> {
        self.proxy.as_deref().map(crate::otel_env::redact_url)
    }

    /// Sends one payload and waits for the backend's answer (at most the timeout).
    pub async fn send(&self, payload: &Payload) -> Result<Delivered, ExportFailure> {
        let started = Instant::now();
        match &self.transport {
            Transport::Http(client) => self.send_http(client, payload).await?,
            Transport::Grpc(channel) => self.send_grpc(channel.clone(), payload).await?,
        }
        Ok(Delivered {
            took: started.elapsed(),
        })
    }

    async fn send_http(
        &self,
        client: &reqwest::Client,
        payload: &Payload,
    ) -> Result<(), ExportFailure> {
        let settings = &self.settings;
        let (body, content_type) = match settings.protocol {
            Protocol::HttpJson => (payload.json()?, "application/json"),
            _ => (payload.proto.clone(), "application/x-protobuf"),
        };
        let mut request = client
            .post(&settings.url)
            .header(http::header::CONTENT_TYPE, content_type)
            // Some backends (Mackerel among them) refuse a request without it.
            .header(http::header::ACCEPT, "*/*");
        for (name, value) in &settings.headers {
            request = request.header(name, value);
        }
        let body = if settings.gzip {
            request = request.header(http::header::CONTENT_ENCODING, "gzip");
            gzip(&body)?
        } else {
            body
        };
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|err| classify_transport(&err, settings, self.proxy.as_deref()))?;
        let status = response.status().as_u16();
        let answered_content_type = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = response.bytes().await.unwrap_or_default();
        if !(200..300).contains(&status) {
            let message = backend_message(&String::from_utf8_lossy(&body), &settings.secrets());
            return Err(classify_http_status(
                status,
                &answered_content_type,
                message,
                settings,
                self.proxy.as_deref(),
            ));
        }
        let partial = if answered_content_type.starts_with("application/json") {
            partial_success_json(settings.signal, &body)
        } else {
            partial_success_proto(settings.signal, &body)
        };
        check_partial(partial, settings)
    }

    async fn send_grpc(
        &self,
        channel: tonic::transport::Channel,
        payload: &Payload,
    ) -> Result<(), ExportFailure> {
        let settings = &self.settings;
        let mut grpc = tonic::client::Grpc::new(channel);
        if settings.gzip {
            grpc = grpc.send_compressed(tonic::codec::CompressionEncoding::Gzip);
        }
        grpc.ready()
            .await
            .map_err(|err| classify_transport(&err, settings, None))?;
        let mut request = tonic::Request::new(payload.proto.clone());
        request.set_timeout(settings.timeout);
        for (name, value) in &settings.headers {
            if let (Ok(key), Ok(value)) = (
                tonic::metadata::MetadataKey::from_bytes(name.as_str().as_bytes()),
                tonic::metadata::MetadataValue::try_from(value.as_bytes()),
            ) {
                request.metadata_mut().insert(key, value);
            }
        }
        let path = http::uri::PathAndQuery::from_static(grpc_path(settings.signal));
        let response =
            match tokio::time::timeout(settings.timeout, grpc.unary(request, path, RawCodec)).await
            {
                Ok(Ok(response)) => response.into_inner(),
                Ok(Err(status)) => return Err(classify_grpc_status(&status, settings)),
                Err(_) => {
                    return Err(ExportFailure::Timeout {
                        url: settings.url.clone(),
                        after: settings.timeout,
                    });
                }
            };
        check_partial(partial_success_proto(settings.signal, &response), settings)
    }
}

fn check_partial(
    partial: Option<(u64, String)>,
    settings: &DestinationSettings,
) -> Result<(), ExportFailure> {
    match partial {
        Some((rejected, message)) if rejected > 0 => Err(ExportFailure::PartialSuccess {
            rejected,
            noun: noun(settings.signal),
            message: backend_message(&message, &settings.secrets()),
        }),
        _ => Ok(()),
    }
}

fn noun(signal: Signal) -> &'static str {
    match signal {
        Signal::Traces => "spans",
        Signal::Metrics => "data points",
        Signal::Logs => "log records",
    }
}

fn grpc_path(signal: Signal) -> &'static str {
    match signal {
        Signal::Traces => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        Signal::Metrics => "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
        Signal::Logs => "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    }
}

fn gzip(body: &[u8]) -> Result<Bytes, ExportFailure> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::fast(),
    );
    encoder
        .write_all(body)
        .and_then(|()| encoder.finish())
        .map(Bytes::from)
        .map_err(|err| ExportFailure::Other {
            problem: format!("could not compress the batch: {err}"),
        })
}

/// The partial success of an OTLP protobuf response: `(rejected, message)`.
fn partial_success_proto(signal: Signal, body: &[u8]) -> Option<(u64, String)> {
    use opentelemetry_proto::tonic::collector::{logs, metrics, trace};
    let (rejected, message) = match signal {
        Signal::Traces => {
            let p = trace::v1::ExportTraceServiceResponse::decode(body)
                .ok()?
                .partial_success?;
            (p.rejected_spans, p.error_message)
        }
        Signal::Metrics => {
            let p = metrics::v1::ExportMetricsServiceResponse::decode(body)
                .ok()?
                .partial_success?;
            (p.rejected_data_points, p.error_message)
        }
        Signal::Logs => {
            let p = logs::v1::ExportLogsServiceResponse::decode(body)
                .ok()?
                .partial_success?;
            (p.rejected_log_records, p.error_message)
        }
    };
    Some((u64::try_from(rejected).unwrap_or(0), message))
}

/// The same from an OTLP/JSON response (`partialSuccess.rejectedSpans`, a number or a
/// string as the JSON mapping of int64 allows).
fn partial_success_json(signal: Signal, body: &[u8]) -> Option<(u64, String)> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let partial = value.get("partialSuccess")?;
    let field = match signal {
        Signal::Traces => "rejectedSpans",
        Signal::Metrics => "rejectedDataPoints",
        Signal::Logs => "rejectedLogRecords",
    };
    let rejected = match partial.get(field) {
        Some(serde_json::Value::Number(n)) => n.as_u64().unwrap_or(0),
        Some(serde_json::Value::String(s)) => s.parse().unwrap_or(0),
        _ => 0,
    };
    let message = partial
        .get("errorMessage")
        .and_then(|m| m.as_str())
        .unwrap_or("")
        .to_string();
    Some((rejected, message))
}

fn http_client(settings: &DestinationSettings) -> Result<reqwest::Client, ExportFailure> {
    let tls_problem = |problem: String, fix: &str| ExportFailure::Tls {
        url: settings.url.clone(),
        problem,
        fix: fix.to_string(),
    };
    let mut builder = reqwest::Client::builder()
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout.min(Duration::from_secs(10)));
    if !settings.use_proxy {
        builder = builder.no_proxy();
    }
    if let Some(ca) = &settings.tls.ca {
        let certificates = reqwest::Certificate::from_pem_bundle(&ca.pem).map_err(|err| {
            tls_problem(
                format!(
                    "{} cannot be read as certificates: {}",
                    ca.path.display(),
                    source_text(&err)
                ),
                "give OTEL_EXPORTER_OTLP_CERTIFICATE a PEM file of CA certificates",
            )
        })?;
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    if let (Some(certificate), Some(key)) =
        (&settings.tls.client_certificate, &settings.tls.client_key)
    {
        let mut pem = key.pem.clone();
        pem.push(b'\n');
        pem.extend_from_slice(&certificate.pem);
        let identity = reqwest::Identity::from_pem(&pem).map_err(|err| {
            tls_problem(
                format!("the client certificate and key cannot be used: {}", source_text(&err)),
                "give OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and _CLIENT_KEY a matching PEM certificate and key",
            )
        })?;
        builder = builder.identity(identity);
    }
    builder.build().map_err(|err| ExportFailure::Other {
        problem: format!("could not build the HTTP client: {}", source_text(&err)),
    })
}

fn grpc_channel(
    settings: &DestinationSettings,
) -> Result<tonic::transport::Channel, ExportFailure> {
    use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

    let endpoint = Endpoint::from_shared(settings.url.clone())
        .map_err(|err| ExportFailure::Other {
            problem: format!(
                "{} is not a usable gRPC address: {err}",
                crate::otel_env::redact_url(&settings.url)
            ),
        })?
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout.min(Duration::from_secs(10)));
    let endpoint = if settings.is_https() {
        let mut tls = ClientTlsConfig::new().with_webpki_roots();
        if let Some(ca) = &settings.tls.ca {
            tls = tls.ca_certificate(Certificate::from_pem(&ca.pem));
        }
        if let (Some(certificate), Some(key)) =
            (&settings.tls.client_certificate, &settings.tls.client_key)
        {
            tls = tls.identity(Identity::from_pem(&certificate.pem, &key.pem));
        }
        endpoint.tls_config(tls).map_err(|err| ExportFailure::Tls {
            url: settings.url.clone(),
            problem: source_text(&err),
            fix: "check OTEL_EXPORTER_OTLP_CERTIFICATE, _CLIENT_CERTIFICATE and _CLIENT_KEY".into(),
        })?
    } else {
        endpoint
    };
    Ok(endpoint.connect_lazy())
}

/// An error and its causes on one line.
pub(crate) fn source_text(err: &(dyn StdError + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Sends already-encoded protobuf bytes as a gRPC message and keeps the answer's bytes.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }

    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl tonic::codec::Encoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: Bytes,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        use bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;

    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Bytes>, tonic::Status> {
        use bytes::Buf;
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}
