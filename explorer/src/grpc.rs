//! OTLP/gRPC: the collector's trace, metrics and logs services, each storing
//! what it receives into a [`SpanStore`].

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tonic::codec::CompressionEncoding;
use tonic::service::Routes;
use tonic::{Request, Response, Status};

use crate::convert;
use crate::store::{SpanStore, Transport};

/// Implements all three OTLP collector services over one store.
#[derive(Debug, Clone)]
pub struct OtlpGrpcService {
    store: SpanStore,
}

impl OtlpGrpcService {
    pub fn new(store: SpanStore) -> Self {
        OtlpGrpcService { store }
    }
}

// The export counter is bumped before inserting so that a waiter woken by the
// insert already sees the request counted.

#[tonic::async_trait]
impl TraceService for OtlpGrpcService {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.store.record_export(Transport::Grpc);
        let rejected = self.store.insert_request(request.into_inner());
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success: partial_success(rejected),
        }))
    }
}

#[tonic::async_trait]
impl MetricsService for OtlpGrpcService {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        let metrics = convert::metrics_from_request(request.into_inner());
        self.store.record_export(Transport::Grpc);
        self.store.insert_metrics(metrics);
        Ok(Response::new(ExportMetricsServiceResponse {
            partial_success: None,
        }))
    }
}

#[tonic::async_trait]
impl LogsService for OtlpGrpcService {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        let logs = convert::logs_from_request(request.into_inner());
        self.store.record_export(Transport::Grpc);
        self.store.insert_logs(logs);
        Ok(Response::new(ExportLogsServiceResponse {
            partial_success: None,
        }))
    }
}

/// The OTLP answer for an export of which `rejected` spans were refused, shared by both
/// transports.
pub fn partial_success(rejected: u64) -> Option<ExportTracePartialSuccess> {
    (rejected > 0).then(|| ExportTracePartialSuccess {
        rejected_spans: i64::try_from(rejected).unwrap_or(i64::MAX),
        error_message: format!(
            "{rejected} spans refused: a trace id must be 16 bytes and a span id 8, not all zero"
        ),
    })
}

/// The three services as tonic routes. `max_message_bytes` replaces tonic's
/// 4 MiB default so gRPC accepts the same batch sizes as HTTP.
pub fn routes(store: SpanStore, max_message_bytes: usize) -> Routes {
    let service = OtlpGrpcService::new(store);
    // Exporters with OTEL_EXPORTER_OTLP_COMPRESSION=gzip compress gRPC messages too; tonic
    // applies the size limit to the inflated message.
    Routes::new(
        TraceServiceServer::new(service.clone())
            .max_decoding_message_size(max_message_bytes)
            .accept_compressed(CompressionEncoding::Gzip),
    )
    .add_service(
        MetricsServiceServer::new(service.clone())
            .max_decoding_message_size(max_message_bytes)
            .accept_compressed(CompressionEncoding::Gzip),
    )
    .add_service(
        LogsServiceServer::new(service)
            .max_decoding_message_size(max_message_bytes)
            .accept_compressed(CompressionEncoding::Gzip),
    )
}
