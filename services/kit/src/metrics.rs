//! The RED histograms every service records, named as the semantic conventions name them.
//!
//! Instruments are created on first use, after [`crate::telemetry`] has installed the meter
//! provider; created earlier they would be no-ops for the life of the process.

use std::sync::OnceLock;

use opentelemetry::global;
use opentelemetry::metrics::Histogram;

/// Bucket boundaries (seconds) recommended by the HTTP semantic conventions.
const DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

pub struct Instruments {
    pub http_server_duration: Histogram<f64>,
    pub http_client_duration: Histogram<f64>,
    pub db_operation_duration: Histogram<f64>,
    pub messaging_process_duration: Histogram<f64>,
}

fn seconds(name: &'static str, description: &'static str) -> Histogram<f64> {
    global::meter("tracedojo")
        .f64_histogram(name)
        .with_unit("s")
        .with_description(description)
        .with_boundaries(DURATION_BUCKETS.to_vec())
        .build()
}

pub fn instruments() -> &'static Instruments {
    static INSTRUMENTS: OnceLock<Instruments> = OnceLock::new();
    INSTRUMENTS.get_or_init(|| Instruments {
        http_server_duration: seconds(
            "http.server.request.duration",
            "Duration of HTTP server requests",
        ),
        http_client_duration: seconds(
            "http.client.request.duration",
            "Duration of HTTP client requests",
        ),
        db_operation_duration: seconds(
            "db.client.operation.duration",
            "Duration of database client operations",
        ),
        messaging_process_duration: seconds(
            "messaging.process.duration",
            "Duration of processing one queued message",
        ),
    })
}
