//! Presets for `--to VENDOR`: a vendor's OTLP endpoint, protocol and header names.
//!
//! A wrong endpoint or a mistyped auth header is where a workshop loses most of its time, so
//! every supported backend is one row of [`PRESETS`], checked against the vendor's own
//! documentation. The page is cited in a comment above the row and kept in [`Preset::docs`],
//! so the README table can link the same page.
//!
//! A row holds only *names*. Its endpoint and header values are templates in which `{VAR}`
//! stands for an environment variable, and [`resolve`] fills them in. Secrets come only from
//! those variables, never from a flag, so they stay out of shell history and process lists;
//! a missing one is a one-line error naming the variable and where the vendor shows its value.
//!
//! Naming: `NAME` or `NAME:REGION`, lower case, e.g. `newrelic`, `newrelic:eu`, `signoz:in`.
//! A vendor with one endpoint per region has one row per region. The bare name means the
//! region the vendor itself treats as the default (New Relic and Honeycomb: US); a vendor
//! without one (SigNoz) asks for the region instead. [`known_names`] lists every accepted
//! name, and an unknown name is answered with that list.
//!
//! What comes out is [`Settings`]. [`Settings::otel_environment`] turns it into standard
//! OpenTelemetry variables (`OTEL_EXPORTER_OTLP_*`, and where a backend needs them
//! `OTEL_METRICS_EXPORTER`, `OTEL_LOGS_EXPORTER` or the metrics temporality), so the services
//! keep reading nothing but those.

use std::fmt::{self, Write as _};

use crate::otel_env::{self, Protocol};

/// One backend, or one region of a backend.
#[derive(Debug, PartialEq, Eq)]
pub struct Preset {
    /// The vendor part of the name, as typed after `--to`.
    pub vendor: &'static str,
    /// The region part of `NAME:REGION`, for vendors with one endpoint per region.
    pub region: Option<&'static str>,
    /// Whether the bare vendor name picks this region.
    pub default_region: bool,
    /// The vendor's own spelling, for messages and the README.
    pub display: &'static str,
    pub protocol: Protocol,
    /// The base URL as `OTEL_EXPORTER_OTLP_ENDPOINT` takes it (the SDK appends `/v1/traces`
    /// for HTTP); `{VAR}` is replaced by that variable's value.
    pub endpoint: &'static str,
    pub headers: &'static [Header],
    /// Headers sent with metrics only, after [`Preset::headers`] (e.g. Honeycomb's metrics
    /// dataset). When there are any, metrics get their own header list.
    pub metrics_headers: &'static [Header],
    /// Every variable the templates name, in the order they are asked for.
    pub vars: &'static [Var],
    /// Further standard variables with fixed values, for what a backend requires beyond the
    /// endpoint: `OTEL_METRICS_EXPORTER=none` where it takes no metrics, delta temporality
    /// where it wants deltas. Never a secret.
    pub also_set: &'static [(&'static str, &'static str)],
    /// Where the traces show up in the vendor's UI, for the README.
    pub traces_in_ui: &'static str,
    /// The documentation page this row was checked against.
    pub docs: &'static str,
}

/// One header the exporter sends. Its name is fixed; its value usually holds a secret.
#[derive(Debug, PartialEq, Eq)]
pub struct Header {
    pub name: &'static str,
    pub value: Value,
}

/// How a header value is built from the variables.
#[derive(Debug, PartialEq, Eq)]
pub enum Value {
    /// `{VAR}` replaced by that variable's value, e.g. `Api-Token {DT_API_TOKEN}`.
    Template(&'static str),
    /// HTTP basic authentication: `Basic ` and base64 of `user:password`.
    Basic {
        user: &'static str,
        password: &'static str,
    },
}

/// An environment variable a preset reads, described the way the error messages need it.
#[derive(Debug, PartialEq, Eq)]
pub struct Var {
    pub name: &'static str,
    /// What it holds, worded to fit "needs … in NAME": e.g. "your API key".
    pub holds: &'static str,
    /// Where the user finds the value, e.g. "Mackerel: Organization > API Keys".
    pub found_at: &'static str,
    pub shape: Shape,
    pub when_unset: WhenUnset,
}

/// What a value must look like. Checked before use, because a pasted URL where a zone name
/// belongs (or a key with a line break) otherwise fails much later as a refused export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A credential: anything without whitespace, and never shown.
    Secret,
    /// A URL starting with `http://` or `https://`.
    Url,
    /// A host, zone, tenant or id: letters, digits, `.`, `-` and `_`.
    Name,
}

/// What happens when the variable is not set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenUnset {
    /// The preset cannot work without it: a one-line error names it.
    Fail,
    /// A local default, e.g. `http://localhost:4318`.
    Use(&'static str),
    /// Every header that uses it is left out (e.g. Tempo's tenant header).
    Skip,
}

const LOCAL_OTLP_HTTP: &str = "http://localhost:4318";

/// For a backend that takes traces only: the services export no metrics and no logs, instead
/// of sending them somewhere that refuses them every few seconds.
const TRACES_ONLY: &[(&str, &str)] = &[
    ("OTEL_METRICS_EXPORTER", "none"),
    ("OTEL_LOGS_EXPORTER", "none"),
];

/// Counters and histograms as deltas (up-down counters stay cumulative, as the specification's
/// `delta` preference says), for a backend that requires or recommends them.
const DELTA_METRICS: &[(&str, &str)] =
    &[("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "delta")];

/// Every supported backend. Tests in `vendors/tests.rs` pin each row's resolved endpoint,
/// protocol, headers and further variables, so a change here shows up as a failing expectation.
///
/// All rows use OTLP over HTTP/protobuf: it is the only transport Dynatrace accepts, the
/// one Mackerel documents and New Relic recommends, and one every other backend here takes.
pub static PRESETS: &[Preset] = &[
    // https://mackerel.io/docs/entry/tracing/installations/other-language
    // Traces go to https://otlp-vaxila.mackerelio.com/v1/traces with `Accept: */*` and
    // `Mackerel-Api-Key` (an API key with write permission), over OTLP/HTTP.
    // That endpoint is for traces only. Mackerel takes OTLP metrics ("labeled metrics") at a
    // different address, otlp.mackerelio.com:4317 over gRPC, as a paid option not in the Free
    // plan, and takes no logs over OTLP: "Of the three telemetry data (metric, log, and trace)
    // listed by OpenTelemetry, Mackerel supports only metric currently" on that endpoint
    // (https://mackerel.io/docs/entry/howto/labeled-metrics/post-metrics). So this preset
    // turns metrics and logs off rather than point metrics at a second endpoint, on another
    // protocol, that a Free plan cannot use.
    Preset {
        vendor: "mackerel",
        region: None,
        default_region: false,
        display: "Mackerel",
        protocol: Protocol::HttpProtobuf,
        endpoint: "https://otlp-vaxila.mackerelio.com",
        headers: &[
            Header {
                name: "Accept",
                value: Value::Template("*/*"),
            },
            Header {
                name: "Mackerel-Api-Key",
                value: Value::Template("{MACKEREL_APIKEY}"),
            },
        ],
        metrics_headers: &[],
        vars: &[Var {
            // The name Mackerel's own tools (mkr) read.
            name: "MACKEREL_APIKEY",
            holds: "your API key",
            found_at: "Mackerel: Organization > API Keys, a key with write permission",
            shape: Shape::Secret,
            when_unset: WhenUnset::Fail,
        }],
        also_set: TRACES_ONLY,
        // The APM service list shows each service.name and leads to that service's summary
        // and traces (https://mackerel.io/blog/entry/announcement/20250403).
        traces_in_ui: "APM > the service (its service.name), then its traces",
        docs: "https://mackerel.io/docs/entry/tracing/installations/other-language",
    },
    // https://docs.newrelic.com/docs/opentelemetry/best-practices/opentelemetry-otlp/
    // US https://otlp.nr-data.net, EU https://otlp.eu01.nr-data.net (ports 443, 4317, 4318;
    // https alone means 443), a header named `api-key` holding the account's license key, and
    // OTLP/HTTP binary protobuf as the recommended protocol. The same page recommends delta
    // temporality for metrics (OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=delta).
    Preset {
        vendor: "newrelic",
        region: Some("us"),
        default_region: true,
        display: "New Relic",
        protocol: Protocol::HttpProtobuf,
        endpoint: "https://otlp.nr-data.net",
        headers: NEW_RELIC_HEADERS,
        metrics_headers: &[],
        vars: NEW_RELIC_VARS,
        also_set: DELTA_METRICS,
        traces_in_ui: NEW_RELIC_TRACES,
        docs: NEW_RELIC_DOCS,
    },
    Preset {
        vendor: "newrelic",
        region: Some("eu"),
        default_region: false,
        display: "New Relic",
        protocol: Protocol::HttpProtobuf,
        endpoint: "https://otlp.eu01.nr-data.net",
        headers: NEW_RELIC_HEADERS,
        metrics_headers: &[],
        vars: NEW_RELIC_VARS,
        also_set: DELTA_METRICS,
        traces_in_ui: NEW_RELIC_TRACES,
        docs: NEW_RELIC_DOCS,
    },
    // UNVERIFIED: New Relic's documentation gives no OTLP endpoint for the Japan data center.
    // The OTLP page above lists US, EU, FedRAMP and Infinite Tracing only, and the data center
    // page (docs/accounts/accounts-billing/account-setup/choose-your-data-center) gives no OTLP
    // host either; searched New Relic's docs site and its docs-website repository for
    // "otlp.jp" and "Japan" + OTLP, without a hit. The host below is the one New Relic's own
    // code uses for region JP: its Helm charts (library/common-library/templates/_endpoints.tpl,
    // "newrelic.common.otlp_endpoint") and its install recipes (newrelic/open-install-library
    // pull request 1392). Header and protocol are assumed to be as for US and EU.
    Preset {
        vendor: "newrelic",
        region: Some("jp"),
        default_region: false,
        display: "New Relic",
        protocol: Protocol::HttpProtobuf,
        endpoint: "https://otlp.jp.nr-data.net",
        headers: NEW_RELIC_HEADERS,
        metrics_headers: &[],
        vars: NEW_RELIC_VARS,
        also_set: DELTA_METRICS,
        traces_in_ui: NEW_RELIC_TRACES,
        docs: "https://github.com/newrelic/helm-charts/blob/master/library/common-library/templates/_endpoints.tpl",
    },
    // https://docs.honeycomb.io/send-data/opentelemetry/
    // OTLP over gRPC, HTTP/protobuf or HTTP/JSON; US api.honeycomb.io:443, EU
    // api.eu1.honeycomb.io:443 (so https://api.honeycomb.io and https://api.eu1.honeycomb.io
    // as OTLP/HTTP base URLs), header `x-honeycomb-team` = an ingest API key. With an
    // Environments key a trace's dataset is named after its service.name, so traces and logs
    // need no `x-honeycomb-dataset`. Metrics do: "an x-honeycomb-dataset header with the name
    // of the dataset you would like to send metrics to", and without it they land in a
    // dataset called unknown_metrics (https://docs.honeycomb.io/send-data/metrics/application).
    // The header then goes in OTEL_EXPORTER_OTLP_METRICS_HEADERS, which an exporter may read
    // instead of the general header list, so the key is repeated there.
    Preset {
        vendor: "honeycomb",
        region: Some("us"),
        default_region: true,
        display: "Honeycomb",
        protocol: Protocol::HttpProtobuf,
        endpoint: "https://api.honeycomb.io",
        headers: HONEYCOMB_HEADERS,
        metrics_headers: HONEYCOMB_METRICS_HEADERS,
        vars: HONEYCOMB_VARS,
        also_set: &[],
        traces_in_ui: HONEYCOMB_TRACES,
        docs: HONEYCOMB_DOCS,
    },
    Preset {
        vendor: "honeycomb",
        region: Some("eu"),
        default_region: false,
        display: "Honeycomb",
        protocol: Protocol::HttpProtobuf,
        endpoint: "https://api.eu1.honeycomb.io",
        headers: HONEYCOMB_HEADERS,
        metrics_headers: HONEYCOMB_METRICS_HEADERS,
        vars: HONEYCOMB_VARS,
        also_set: &[],
        traces_in_ui: HONEYCOMB_TRACES,
        docs: HONEYCOMB_DOCS,
    },
    // https://grafana.com/docs/grafana-cloud/send-data/otlp/send-data-otlp/
    // The stack's OpenTelemetry card shows https://otlp-gateway-<zone>.grafana.net/otlp and
    // an instance ID; OTEL_EXPORTER_OTLP_ENDPOINT is that URL including /otlp (the SDK adds
    // /v1/traces), and the header is `Authorization: Basic base64(instance ID:access policy
    // token)`, spelled out in
    // https://grafana.com/docs/learning-hub/intro-to-agent-observability/07-add-traces-and-metrics/32-direct-export-or-a-collector/
    // The card's "Generate now" makes the token. The gateway takes traces, metrics and logs.
    // Only the zone is asked for, so a pasted `/v1/traces` cannot end up in the URL.
    Preset {
        vendor: "grafana-cloud",
        region: None,
        default_region: false,
        display: "Grafana Cloud",
        protocol: Protocol::HttpProtobuf,
        endpoint: "https://otlp-gateway-{GRAFANA_CLOUD_ZONE}.grafana.net/otlp",
        headers: &[Header {
            name: "Authorization",
            value: Value::Basic {
                user: "GRAFANA_CLOUD_INSTANCE_ID",
                password: "GRAFANA_CLOUD_API_KEY",
            },
        }],
        metrics_headers: &[],
        vars: &[
            Var {
                name: "GRAFANA_CLOUD_ZONE",
                holds: "your stack's OTLP zone only, e.g. prod-eu-west-2 from https://otlp-gateway-prod-eu-west-2.grafana.net/otlp",
                found_at: "Grafana Cloud portal: your stack > OpenTelemetry > Configure",
                shape: Shape::Name,
                when_unset: WhenUnset::Fail,
            },
            Var {
                name: "GRAFANA_CLOUD_INSTANCE_ID",
                holds: "your stack's OTLP instance ID",
                found_at: "Grafana Cloud portal: your stack > OpenTelemetry > Configure",
                shape: Shape::Name,
                when_unset: WhenUnset::Fail,
            },
            Var {
                name: "GRAFANA_CLOUD_API_KEY",
                holds: "an access policy token that may write traces, metrics and logs",
                found_at: "Grafana Cloud portal: your stack > OpenTelemetry > Configure > Generate now",
                shape: Shape::Secret,
                when_unset: WhenUnset::Fail,
            },
        ],
        also_set: &[],
        traces_in_ui: "Explore > the grafanacloud-<stack>-traces data source, or Application Observability",
        docs: "https://grafana.com/docs/grafana-cloud/send-data/otlp/send-data-otlp/",
    },
    // https://docs.datadoghq.com/opentelemetry/setup/otlp_ingest_in_the_agent/
    // The Agent's OTLP receiver is off by default; DD_OTLP_CONFIG_RECEIVER_PROTOCOLS_HTTP_ENDPOINT
    // (0.0.0.0:4318 in a container) turns on OTLP/HTTP at port 4318, and the application sets
    // OTEL_EXPORTER_OTLP_ENDPOINT=http://<agent>:4318. Traces and metrics are then on; logs
    // also need DD_LOGS_ENABLED=true and DD_OTLP_CONFIG_LOGS_ENABLED=true on the Agent. The
    // API key lives in the Agent, so the services send no header. The supported setup is an
    // Agent on the same host, hence localhost by default.
    // https://docs.datadoghq.com/opentelemetry/guide/otlp_delta_temporality/: "Datadog works
    // best with delta aggregation temporality", set with
    // OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE.
    Preset {
        vendor: "datadog",
        region: None,
        default_region: false,
        display: "Datadog",
        protocol: Protocol::HttpProtobuf,
        endpoint: "http://{DD_AGENT_HOST}:4318",
        headers: &[],
        metrics_headers: &[],
        vars: &[Var {
            // The name Datadog's own tracers use to find the Agent.
            name: "DD_AGENT_HOST",
            holds: "the host the Datadog Agent runs on",
            found_at: "the Agent needs DD_OTLP_CONFIG_RECEIVER_PROTOCOLS_HTTP_ENDPOINT=0.0.0.0:4318; default localhost",
            shape: Shape::Name,
            when_unset: WhenUnset::Use("localhost"),
        }],
        also_set: DELTA_METRICS,
        traces_in_ui: "APM > Traces (Trace Explorer)",
        docs: "https://docs.datadoghq.com/opentelemetry/setup/otlp_ingest_in_the_agent/",
    },
    // https://docs.dynatrace.com/docs/ingest-from/opentelemetry/getting-started/otlp-export
    // SaaS base URL https://{your-environment-id}.live.dynatrace.com/api/v2/otlp, to which the
    // standard /v1/traces, /v1/metrics and /v1/logs are appended; "Use of HTTP—gRPC is not yet
    // supported" and binary protobuf only. The token goes in `Authorization: Api-Token <token>`
    // and needs the openTelemetryTrace.ingest, metrics.ingest and logs.ingest scopes to take
    // all three signals, as in Dynatrace's own Collector configuration
    // (https://docs.dynatrace.com/docs/extend-dynatrace/opentelemetry/collector/configuration).
    // Metrics must be deltas: "The Dynatrace backend exclusively works with delta values ...
    // set the OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE environment variable to DELTA"
    // (https://docs.dynatrace.com/docs/extend-dynatrace/opentelemetry/getting-started/metrics/limitations);
    // cumulative sums are rejected as UNSUPPORTED_METRIC_TYPE_MONOTONIC_CUMULATIVE_SUM.
    // Asking for the environment ID rather than a URL avoids the usual mix-up with the
    // apps.dynatrace.com address the browser shows.
    Preset {
        vendor: "dynatrace",
        region: None,
        default_region: false,
        display: "Dynatrace",
        protocol: Protocol::HttpProtobuf,
        endpoint: "https://{DT_ENVIRONMENT_ID}.live.dynatrace.com/api/v2/otlp",
        headers: &[Header {
            name: "Authorization",
            value: Value::Template("Api-Token {DT_API_TOKEN}"),
        }],
        metrics_headers: &[],
        vars: &[
            Var {
                name: "DT_ENVIRONMENT_ID",
                holds: "your environment ID only, e.g. abc12345 from https://abc12345.apps.dynatrace.com",
                found_at: "Dynatrace: the first part of your environment's address",
                shape: Shape::Name,
                when_unset: WhenUnset::Fail,
            },
            Var {
                // The name Dynatrace's own Collector examples use.
                name: "DT_API_TOKEN",
                holds: "an access token with the openTelemetryTrace.ingest, metrics.ingest and logs.ingest scopes",
                found_at: "Dynatrace: Access Tokens > Generate new token",
                shape: Shape::Secret,
                when_unset: WhenUnset::Fail,
            },
        ],
        also_set: DELTA_METRICS,
        traces_in_ui: "Distributed Tracing, filtered by service",
        docs: "https://docs.dynatrace.com/docs/ingest-from/opentelemetry/getting-started/otlp-export",
    },
    // https://www.elastic.co/docs/solutions/observability/get-started/quickstart-elastic-cloud-otel-endpoint
    // The Managed OTLP endpoint is per project or deployment (Serverless: Manage project >
    // Connection alias > Managed OTLP endpoint; Hosted: Integrations > OpenTelemetry), it
    // takes traces, metrics and logs, and the header is `Authorization: ApiKey <key>`, with
    // the `ApiKey ` scheme written in front of the key Kibana shows. An APM Server URL takes
    // the same header (https://www.elastic.co/docs/solutions/observability/apm/upstream-opentelemetry-collectors-language-sdks).
    Preset {
        vendor: "elastic",
        region: None,
        default_region: false,
        display: "Elastic",
        protocol: Protocol::HttpProtobuf,
        endpoint: "{ELASTIC_OTLP_ENDPOINT}",
        headers: &[Header {
            name: "Authorization",
            value: Value::Template("ApiKey {ELASTIC_API_KEY}"),
        }],
        metrics_headers: &[],
        vars: &[
            Var {
                name: "ELASTIC_OTLP_ENDPOINT",
                holds: "your project's Managed OTLP endpoint URL",
                found_at: "Elastic Cloud: Manage project > Connection alias, or your deployment's Integrations > OpenTelemetry",
                shape: Shape::Url,
                when_unset: WhenUnset::Fail,
            },
            Var {
                name: "ELASTIC_API_KEY",
                holds: "an API key with ingest privileges, without the ApiKey prefix",
                found_at: "Elastic Cloud: Manage project > API Keys > Create API Key",
                shape: Shape::Secret,
                when_unset: WhenUnset::Fail,
            },
        ],
        also_set: &[],
        traces_in_ui: "Observability > Applications > Service inventory > your service",
        docs: "https://www.elastic.co/docs/solutions/observability/get-started/quickstart-elastic-cloud-otel-endpoint",
    },
    // https://signoz.io/docs/ingestion/signoz-cloud/overview/
    // https://ingest.<region>.signoz.cloud:443 (one port for OTLP/HTTP and OTLP/gRPC), header
    // `signoz-ingestion-key` (signoz-access-token is deprecated), key and region under
    // Settings > Ingestion. The page's region table is filled from SigNoz's region list: as
    // published it names us, eu, in, in2, eu2 and us2; the page source's built-in fallback
    // (signoz-web components/Region/regions.ts) names us, eu and in. There is no default
    // region, so the bare name asks for one.
    Preset {
        vendor: "signoz",
        region: Some("us"),
        default_region: false,
        display: "SigNoz Cloud",
        protocol: Protocol::HttpProtobuf,
        endpoint: "https://ingest.us.signoz.cloud:443",
        headers: SIGNOZ_HEADERS,
        metrics_headers: &[],
        vars: SIGNOZ_VARS,
        also_set: &[],
        traces_in_ui: SIGNOZ_TRACES,
        docs: SIGNOZ_DOCS,
    },
    Preset {
        vendor: "signoz",
        region: Some("us2"),
        default_region: false,
        display: "SigNoz Cloud",
        protocol: Protocol::HttpProtobuf,
        endpoint: "https://ingest.us2.signoz.cloud:443",
        headers: SIGNOZ_HEADERS,
        metrics_headers: &[],
        vars: SIGNOZ_VARS,
        also_set: &[],
        traces_in_ui: SIGNOZ_TRACES,
        docs: SIGNOZ_DOCS,
    },
    Preset {
        vendor: "signoz",
        region: Some("eu"),
        default_region: false,
        display: "SigNoz Cloud",
        protocol: Protocol::HttpProtobuf,
        endpoint: "https://ingest.eu.signoz.cloud:443",
        headers: SIGNOZ_HEADERS,
        metrics_headers: &[],
        vars: SIGNOZ_VARS,
        also_set: &[],
        traces_in_ui: SIGNOZ_TRACES,
        docs: SIGNOZ_DOCS,
    },
    Preset {
        vendor: "signoz",
        region: Some("eu2"),
        default_region: false,
        display: "SigNoz Cloud",
        protocol: Protocol::HttpProtobuf,
        endpoint: "https://ingest.eu2.signoz.cloud:443",
        headers: SIGNOZ_HEADERS,
        metrics_headers: &[],
        vars: SIGNOZ_VARS,
        also_set: &[],
        traces_in_ui: SIGNOZ_TRACES,
        docs: SIGNOZ_DOCS,
    },
    Preset {
        vendor: "signoz",
        region: Some("in"),
        default_region: false,
        display: "SigNoz Cloud",
        protocol: Protocol::HttpProtobuf,
        endpoint: "https://ingest.in.signoz.cloud:443",
        headers: SIGNOZ_HEADERS,
        metrics_headers: &[],
        vars: SIGNOZ_VARS,
        also_set: &[],
        traces_in_ui: SIGNOZ_TRACES,
        docs: SIGNOZ_DOCS,
    },
    Preset {
        vendor: "signoz",
        region: Some("in2"),
        default_region: false,
        display: "SigNoz Cloud",
        protocol: Protocol::HttpProtobuf,
        endpoint: "https://ingest.in2.signoz.cloud:443",
        headers: SIGNOZ_HEADERS,
        metrics_headers: &[],
        vars: SIGNOZ_VARS,
        also_set: &[],
        traces_in_ui: SIGNOZ_TRACES,
        docs: SIGNOZ_DOCS,
    },
    // https://www.jaegertracing.io/docs/latest/getting-started/
    // The container publishes OTLP on 4317 (gRPC) and 4318 (HTTP) and the UI on
    // http://localhost:16686. Jaeger stores traces only: its all-in-one configuration has a
    // traces pipeline and nothing else
    // (https://github.com/jaegertracing/jaeger/blob/main/cmd/jaeger/internal/all-in-one.yaml),
    // so metrics and logs are turned off.
    Preset {
        vendor: "jaeger",
        region: None,
        default_region: false,
        display: "Jaeger",
        protocol: Protocol::HttpProtobuf,
        endpoint: "{JAEGER_OTLP_ENDPOINT}",
        headers: &[],
        metrics_headers: &[],
        vars: &[Var {
            name: "JAEGER_OTLP_ENDPOINT",
            holds: "Jaeger's OTLP/HTTP address",
            found_at: "the port 4318 Jaeger publishes; default http://localhost:4318",
            shape: Shape::Url,
            when_unset: WhenUnset::Use(LOCAL_OTLP_HTTP),
        }],
        also_set: TRACES_ONLY,
        traces_in_ui: "Jaeger UI (http://localhost:16686) > Search, pick the service",
        docs: "https://www.jaegertracing.io/docs/latest/getting-started/",
    },
    // https://grafana.com/docs/tempo/latest/operations/manage-advanced-systems/multitenancy/
    // A multi-tenant Tempo (multitenancy_enabled: true) requires the tenant in `X-Scope-OrgID`;
    // "Multi-tenancy on ingestion is supported with GPRC and HTTP for OTLP", and the page's
    // example exports OTLP/HTTP to http://tempo:4318. A single-tenant Tempo needs no header.
    // Tempo's distributors "receive spans" (https://grafana.com/docs/tempo/latest/configuration/):
    // it stores traces only, so metrics and logs are turned off.
    Preset {
        vendor: "tempo",
        region: None,
        default_region: false,
        display: "Grafana Tempo",
        protocol: Protocol::HttpProtobuf,
        endpoint: "{TEMPO_OTLP_ENDPOINT}",
        headers: &[Header {
            name: "X-Scope-OrgID",
            value: Value::Template("{TEMPO_TENANT}"),
        }],
        metrics_headers: &[],
        vars: &[
            Var {
                name: "TEMPO_OTLP_ENDPOINT",
                holds: "Tempo's OTLP/HTTP address",
                found_at: "the distributor's port 4318; default http://localhost:4318",
                shape: Shape::Url,
                when_unset: WhenUnset::Use(LOCAL_OTLP_HTTP),
            },
            Var {
                name: "TEMPO_TENANT",
                holds: "the tenant (organisation) name",
                found_at: "only for a multi-tenant Tempo (multitenancy_enabled: true)",
                shape: Shape::Name,
                when_unset: WhenUnset::Skip,
            },
        ],
        also_set: TRACES_ONLY,
        traces_in_ui: "Grafana > Explore > the Tempo data source",
        docs: "https://grafana.com/docs/tempo/latest/operations/manage-advanced-systems/multitenancy/",
    },
    // https://github.com/open-telemetry/opentelemetry-collector/blob/main/receiver/otlpreceiver/README.md
    // The OTLP receiver listens on port 4317 (gRPC) and 4318 (HTTP) by default and takes
    // traces, metrics and logs; what reaches a backend depends on the Collector's pipelines.
    Preset {
        vendor: "otel-collector",
        region: None,
        default_region: false,
        display: "OpenTelemetry Collector",
        protocol: Protocol::HttpProtobuf,
        endpoint: "{COLLECTOR_OTLP_ENDPOINT}",
        headers: &[],
        metrics_headers: &[],
        vars: &[Var {
            name: "COLLECTOR_OTLP_ENDPOINT",
            holds: "the Collector's OTLP/HTTP address",
            found_at: "its otlp receiver's http endpoint; default http://localhost:4318",
            shape: Shape::Url,
            when_unset: WhenUnset::Use(LOCAL_OTLP_HTTP),
        }],
        also_set: &[],
        traces_in_ui: "wherever the Collector's pipeline exports them",
        docs: "https://github.com/open-telemetry/opentelemetry-collector/blob/main/receiver/otlpreceiver/README.md",
    },
];

const NEW_RELIC_HEADERS: &[Header] = &[Header {
    name: "api-key",
    value: Value::Template("{NEW_RELIC_LICENSE_KEY}"),
}];
const NEW_RELIC_VARS: &[Var] = &[Var {
    // The name New Relic's own agents read.
    name: "NEW_RELIC_LICENSE_KEY",
    holds: "your license key",
    found_at: "New Relic: API keys, type Ingest - License",
    shape: Shape::Secret,
    when_unset: WhenUnset::Fail,
}];
const NEW_RELIC_TRACES: &str = "APM & Services > your service > Distributed tracing";
const NEW_RELIC_DOCS: &str =
    "https://docs.newrelic.com/docs/opentelemetry/best-practices/opentelemetry-otlp/";

const HONEYCOMB_HEADERS: &[Header] = &[Header {
    name: "x-honeycomb-team",
    value: Value::Template("{HONEYCOMB_API_KEY}"),
}];
const HONEYCOMB_METRICS_HEADERS: &[Header] = &[Header {
    name: "x-honeycomb-dataset",
    value: Value::Template("{HONEYCOMB_METRICS_DATASET}"),
}];
const HONEYCOMB_VARS: &[Var] = &[
    Var {
        // The name Honeycomb's own OpenTelemetry distributions read.
        name: "HONEYCOMB_API_KEY",
        holds: "an ingest API key",
        found_at: "Honeycomb: Environment settings > API Keys",
        shape: Shape::Secret,
        when_unset: WhenUnset::Fail,
    },
    Var {
        // The name Honeycomb's own OpenTelemetry distributions read.
        name: "HONEYCOMB_METRICS_DATASET",
        holds: "the dataset for metrics",
        found_at: "any name; created on first use; default tracedojo-metrics",
        shape: Shape::Name,
        when_unset: WhenUnset::Use("tracedojo-metrics"),
    },
];
const HONEYCOMB_TRACES: &str = "Query the dataset named after service.name, then a trace";
const HONEYCOMB_DOCS: &str = "https://docs.honeycomb.io/send-data/opentelemetry/";

const SIGNOZ_HEADERS: &[Header] = &[Header {
    name: "signoz-ingestion-key",
    value: Value::Template("{SIGNOZ_INGESTION_KEY}"),
}];
const SIGNOZ_VARS: &[Var] = &[Var {
    name: "SIGNOZ_INGESTION_KEY",
    holds: "your ingestion key",
    found_at: "SigNoz: Settings > Ingestion",
    shape: Shape::Secret,
    when_unset: WhenUnset::Fail,
}];
const SIGNOZ_TRACES: &str = "Services, or Traces Explorer";
const SIGNOZ_DOCS: &str = "https://signoz.io/docs/ingestion/signoz-cloud/overview/";

/// The signal-specific variables. The SDK prefers them to the general ones that
/// [`Settings::otel_environment`] sets, so whoever applies a preset removes these first, or
/// an old value in the user's shell would quietly win.
pub const OVERRIDING_VARIABLES: [&str; 9] = [
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
    "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
    "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
];

impl Preset {
    /// The name as typed after `--to`: `vendor` or `vendor:region`.
    pub fn name(&self) -> String {
        match self.region {
            Some(region) => format!("{}:{region}", self.vendor),
            None => self.vendor.to_string(),
        }
    }

    /// The settings this preset gives with the variables `env` returns.
    pub fn resolve(
        &'static self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, PresetError> {
        let values = self.read_vars(env)?;
        let endpoint = fill(self.endpoint, &values)
            .expect("an endpoint names only variables that are required or have a default");
        let headers = fill_headers(self.headers, &values);
        let metrics_headers = match fill_headers(self.metrics_headers, &values) {
            extra if extra.is_empty() => Vec::new(),
            extra => headers.iter().cloned().chain(extra).collect(),
        };
        Ok(Settings {
            preset: self,
            endpoint,
            protocol: self.protocol,
            headers,
            metrics_headers,
        })
    }

    /// Each declared variable's value (or default), checked; `None` for an unset `Skip`.
    fn read_vars(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Vec<(&'static str, Option<String>)>, PresetError> {
        let mut values = Vec::with_capacity(self.vars.len());
        for var in self.vars {
            let given = env(var.name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty());
            let value = match (given, var.when_unset) {
                (Some(value), _) => {
                    if let Some(problem) = shape_problem(var.shape, &value) {
                        return Err(PresetError::Malformed {
                            preset: self.name(),
                            variable: var.name,
                            holds: var.holds,
                            found_at: var.found_at,
                            problem,
                        });
                    }
                    Some(value)
                }
                (None, WhenUnset::Use(default)) => Some(default.to_string()),
                (None, WhenUnset::Skip) => None,
                (None, WhenUnset::Fail) => {
                    return Err(PresetError::Missing {
                        preset: self.name(),
                        variable: var.name,
                        holds: var.holds,
                        found_at: var.found_at,
                    });
                }
            };
            // A trailing slash would give `//v1/traces` once the SDK appends the path.
            let value = match var.shape {
                Shape::Url => value.map(|v| v.trim_end_matches('/').to_string()),
                _ => value,
            };
            values.push((var.name, value));
        }
        Ok(values)
    }
}

/// Why a value cannot be used, worded without the value itself.
fn shape_problem(shape: Shape, value: &str) -> Option<&'static str> {
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some("it contains a space or a line break");
    }
    match shape {
        Shape::Secret => None,
        Shape::Url if value.starts_with("http://") || value.starts_with("https://") => None,
        Shape::Url => Some("it does not start with http:// or https://"),
        Shape::Name
            if value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')) =>
        {
            None
        }
        Shape::Name => Some("it may hold only letters, digits, '.', '-' and '_'"),
    }
}

/// Each header with its value filled in; one that uses an unset `Skip` variable is left out.
fn fill_headers(
    headers: &'static [Header],
    values: &[(&'static str, Option<String>)],
) -> Vec<(&'static str, String)> {
    headers
        .iter()
        .filter_map(|header| {
            let value = match header.value {
                Value::Template(template) => fill(template, values)?,
                Value::Basic { user, password } => {
                    let pair = format!("{}:{}", lookup(values, user)?, lookup(values, password)?);
                    format!("Basic {}", base64(pair.as_bytes()))
                }
            };
            Some((header.name, value))
        })
        .collect()
}

fn lookup<'a>(values: &'a [(&'static str, Option<String>)], name: &str) -> Option<&'a str> {
    values
        .iter()
        .find(|(var, _)| *var == name)
        .and_then(|(_, value)| value.as_deref())
}

/// `template` with each `{VAR}` replaced; `None` when one of them has no value.
fn fill(template: &str, values: &[(&'static str, Option<String>)]) -> Option<String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let close = open + rest[open..].find('}')?;
        out.push_str(&rest[..open]);
        out.push_str(lookup(values, &rest[open + 1..close])?);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// What a preset resolved to: everything the OTLP exporter needs. Header values are
/// secrets, so [`fmt::Debug`] shows only their names.
#[derive(Clone)]
pub struct Settings {
    pub preset: &'static Preset,
    /// The base URL, as `OTEL_EXPORTER_OTLP_ENDPOINT` takes it.
    pub endpoint: String,
    pub protocol: Protocol,
    /// `(name, value)` pairs, in the order the table gives them.
    pub headers: Vec<(&'static str, String)>,
    /// Every header sent with metrics, when that differs from [`Settings::headers`]
    /// (they come first, then the metrics-only ones); empty when metrics get the same.
    pub metrics_headers: Vec<(&'static str, String)>,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = |headers: &[(&str, String)]| -> Vec<String> {
            headers
                .iter()
                .map(|(name, _)| format!("{name}: ***"))
                .collect()
        };
        f.debug_struct("Settings")
            .field("preset", &self.preset.name())
            .field("endpoint", &otel_env::redact_url(&self.endpoint))
            .field("protocol", &self.protocol)
            .field("headers", &names(&self.headers))
            .field("metrics_headers", &names(&self.metrics_headers))
            .field("also_set", &self.preset.also_set)
            .finish()
    }
}

impl Settings {
    /// The settings as standard variables, ready to put in a service's environment after
    /// removing [`OVERRIDING_VARIABLES`].
    ///
    /// Always the endpoint, the protocol and `OTEL_EXPORTER_OTLP_HEADERS`, in that order; then
    /// `OTEL_EXPORTER_OTLP_METRICS_HEADERS` when metrics need headers of their own (repeating
    /// the general ones, since an exporter may read it instead of them), then the preset's
    /// [`Preset::also_set`]. `OTEL_EXPORTER_OTLP_HEADERS` is present even when empty: a key
    /// left in the user's shell for one vendor must not travel to another. Header values are
    /// percent-encoded because the variables use the W3C Baggage format
    /// (<https://opentelemetry.io/docs/specs/otel/protocol/exporter/#specifying-headers-via-environment-variables>):
    /// `Basic abc` must be written `Basic%20abc`, and a comma inside a value would otherwise
    /// start a new header.
    pub fn otel_environment(&self) -> Vec<(&'static str, String)> {
        let mut variables = vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT", self.endpoint.clone()),
            (
                "OTEL_EXPORTER_OTLP_PROTOCOL",
                self.protocol.as_str().to_string(),
            ),
            ("OTEL_EXPORTER_OTLP_HEADERS", header_list(&self.headers)),
        ];
        if !self.metrics_headers.is_empty() {
            variables.push((
                "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
                header_list(&self.metrics_headers),
            ));
        }
        variables.extend(
            self.preset
                .also_set
                .iter()
                .map(|(name, value)| (*name, value.to_string())),
        );
        variables
    }
}

/// Headers as `OTEL_EXPORTER_OTLP_HEADERS` takes them: `name=value,...`, values encoded.
fn header_list(headers: &[(&'static str, String)]) -> String {
    headers
        .iter()
        .map(|(name, value)| format!("{name}={}", percent_encode(value)))
        .collect::<Vec<_>>()
        .join(",")
}

/// Why `--to NAME` cannot be applied. Every message is one line and never holds a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PresetError {
    #[error("unknown backend {given:?} for --to; known: {}", .known.join(", "))]
    Unknown { given: String, known: Vec<String> },
    #[error("--to {vendor} needs a region: {}", .choices.join(", "))]
    NeedsRegion {
        vendor: String,
        choices: Vec<String>,
    },
    #[error("--to {preset} needs {holds} in {variable} ({found_at})")]
    Missing {
        preset: String,
        variable: &'static str,
        holds: &'static str,
        found_at: &'static str,
    },
    #[error("--to {preset}: {variable} should hold {holds} ({found_at}), but {problem}")]
    Malformed {
        preset: String,
        variable: &'static str,
        holds: &'static str,
        found_at: &'static str,
        problem: &'static str,
    },
}

/// Every name `--to` accepts, in table order; a bare vendor name comes before its regions.
pub fn known_names() -> Vec<String> {
    names_of(PRESETS.iter())
}

fn names_of<'a>(presets: impl Iterator<Item = &'a Preset>) -> Vec<String> {
    let mut names = Vec::new();
    for preset in presets {
        if preset.default_region {
            names.push(preset.vendor.to_string());
        }
        names.push(preset.name());
    }
    names
}

/// The preset `--to NAME` means (case and surrounding spaces do not matter).
pub fn find(name: &str) -> Result<&'static Preset, PresetError> {
    let given = name.trim().to_ascii_lowercase();
    let (vendor, region) = match given.split_once(':') {
        Some((vendor, region)) => (vendor, Some(region)),
        None => (given.as_str(), None),
    };
    let rows = || PRESETS.iter().filter(|p| p.vendor == vendor);
    if rows().next().is_none() {
        return Err(PresetError::Unknown {
            given,
            known: known_names(),
        });
    }
    let found = match region {
        None => rows().find(|p| p.region.is_none() || p.default_region),
        Some(region) => rows().find(|p| p.region == Some(region)),
    };
    match (found, region) {
        (Some(preset), _) => Ok(preset),
        (None, None) => Err(PresetError::NeedsRegion {
            vendor: vendor.to_string(),
            choices: names_of(rows()),
        }),
        (None, Some(_)) => Err(PresetError::Unknown {
            known: names_of(rows()),
            given,
        }),
    }
}

/// `--to NAME` resolved with the variables `env` returns; the CLI passes
/// `|name| std::env::var(name).ok()`, tests pass a fixed list.
pub fn resolve(name: &str, env: impl Fn(&str) -> Option<String>) -> Result<Settings, PresetError> {
    find(name)?.resolve(env)
}

/// Standard base64 with padding (RFC 4648, section 4), for HTTP basic authentication. Small
/// enough to write here: the crates in the tree that have one are not direct dependencies.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let byte = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let group = byte(0) << 16 | byte(1) << 8 | byte(2);
        // Three bytes make four 6-bit digits; a short last chunk is padded with '='.
        for digit in 0..4 {
            if digit <= chunk.len() {
                let index = (group >> (18 - 6 * digit)) & 0x3f;
                out.push(char::from(ALPHABET[index as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A header value as `OTEL_EXPORTER_OTLP_HEADERS` must carry it: bytes outside the W3C
/// Baggage value characters (space, `"`, `,`, `;`, `\`, controls, non-ASCII) and `%` itself
/// become `%XX`, which the SDKs decode back.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        let plain = matches!(byte,
            0x21 | 0x23..=0x24 | 0x26..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e);
        if plain {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests;
