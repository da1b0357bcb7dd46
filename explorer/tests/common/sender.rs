//! [`Sender`]: an explorer started for a test, and an OTLP/gRPC client of its receiver that
//! puts the test's traces in it.

use std::net::SocketAddr;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use tonic::transport::Channel;
use tracedojo_explorer::{Explorer, ExplorerConfig};

use super::trace::TraceBuilder;

pub struct Sender {
    pub explorer: Explorer,
    client: TraceServiceClient<Channel>,
}

impl Sender {
    pub async fn start(config: ExplorerConfig) -> Sender {
        let explorer = Explorer::start(config).await.expect("explorer starts");
        let client = TraceServiceClient::connect(explorer.receiver().grpc_endpoint())
            .await
            .expect("gRPC connects");
        Sender { explorer, client }
    }

    /// Exports `request`; the receiver has stored it when this returns.
    pub async fn export(&mut self, request: ExportTraceServiceRequest) {
        self.client.export(request).await.expect("gRPC export");
    }

    pub async fn send(&mut self, trace: &TraceBuilder) {
        self.export(trace.request()).await;
    }

    /// The address of the explorer's UI and JSON API.
    pub fn ui(&self) -> SocketAddr {
        self.explorer.ui_addr()
    }
}

/// A running explorer with the default settings, holding `traces`.
pub async fn explorer_with(traces: &[&TraceBuilder]) -> Explorer {
    let mut sender = Sender::start(ExplorerConfig::local()).await;
    for trace in traces {
        sender.send(trace).await;
    }
    sender.explorer
}
