use std::process::Command;

use super::*;
use crate::otel_env::Signal;

/// A stand-in for the process environment, so no test touches the real one.
fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |name| {
        pairs
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.to_string())
    }
}

/// The same, for a list built inside a test.
fn env_from(pairs: Vec<(&'static str, String)>) -> impl Fn(&str) -> Option<String> {
    move |name| {
        pairs
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.clone())
    }
}

fn no_env(_: &str) -> Option<String> {
    None
}

/// One `--to` name with fake variables and what the vendor's documentation says must come
/// out. Every row of [`PRESETS`] has at least one case (see `every_preset_has_a_case`).
struct Case {
    name: &'static str,
    env: &'static [(&'static str, &'static str)],
    endpoint: &'static str,
    protocol: Protocol,
    headers: &'static [(&'static str, &'static str)],
    /// Every header sent with metrics when it differs from `headers`; empty otherwise.
    metrics_headers: &'static [(&'static str, &'static str)],
    /// The further variables the backend needs.
    also_set: &'static [(&'static str, &'static str)],
}

const NEW_RELIC_KEY: &[(&str, &str)] = &[("NEW_RELIC_LICENSE_KEY", "nr-secret-NRAL")];
const HONEYCOMB_KEY: &[(&str, &str)] = &[("HONEYCOMB_API_KEY", "hc-secret-key")];
const SIGNOZ_KEY: &[(&str, &str)] = &[("SIGNOZ_INGESTION_KEY", "sz-secret-key")];

/// Mackerel's tracing endpoint, Jaeger and Tempo take traces and nothing else.
const NO_METRICS_NO_LOGS: &[(&str, &str)] = &[
    ("OTEL_METRICS_EXPORTER", "none"),
    ("OTEL_LOGS_EXPORTER", "none"),
];
/// Dynatrace requires delta metrics; New Relic and Datadog recommend them.
const DELTA: &[(&str, &str)] = &[("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "delta")];

const CASES: &[Case] = &[
    // https://mackerel.io/docs/entry/tracing/installations/other-language
    Case {
        name: "mackerel",
        env: &[("MACKEREL_APIKEY", "mk-secret-key")],
        endpoint: "https://otlp-vaxila.mackerelio.com",
        protocol: Protocol::HttpProtobuf,
        headers: &[("Accept", "*/*"), ("Mackerel-Api-Key", "mk-secret-key")],
        metrics_headers: &[],
        also_set: NO_METRICS_NO_LOGS,
    },
    // https://docs.newrelic.com/docs/opentelemetry/best-practices/opentelemetry-otlp/
    Case {
        name: "newrelic",
        env: NEW_RELIC_KEY,
        endpoint: "https://otlp.nr-data.net",
        protocol: Protocol::HttpProtobuf,
        headers: &[("api-key", "nr-secret-NRAL")],
        metrics_headers: &[],
        also_set: DELTA,
    },
    Case {
        name: "newrelic:us",
        env: NEW_RELIC_KEY,
        endpoint: "https://otlp.nr-data.net",
        protocol: Protocol::HttpProtobuf,
        headers: &[("api-key", "nr-secret-NRAL")],
        metrics_headers: &[],
        also_set: DELTA,
    },
    Case {
        name: "newrelic:eu",
        env: NEW_RELIC_KEY,
        endpoint: "https://otlp.eu01.nr-data.net",
        protocol: Protocol::HttpProtobuf,
        headers: &[("api-key", "nr-secret-NRAL")],
        metrics_headers: &[],
        also_set: DELTA,
    },
    // Not in New Relic's documentation: the host New Relic's own Helm charts use for JP.
    Case {
        name: "newrelic:jp",
        env: NEW_RELIC_KEY,
        endpoint: "https://otlp.jp.nr-data.net",
        protocol: Protocol::HttpProtobuf,
        headers: &[("api-key", "nr-secret-NRAL")],
        metrics_headers: &[],
        also_set: DELTA,
    },
    // https://docs.honeycomb.io/send-data/opentelemetry/ and, for the metrics dataset,
    // https://docs.honeycomb.io/send-data/metrics/application
    Case {
        name: "honeycomb",
        env: HONEYCOMB_KEY,
        endpoint: "https://api.honeycomb.io",
        protocol: Protocol::HttpProtobuf,
        headers: &[("x-honeycomb-team", "hc-secret-key")],
        metrics_headers: &[
            ("x-honeycomb-team", "hc-secret-key"),
            ("x-honeycomb-dataset", "tracedojo-metrics"),
        ],
        also_set: &[],
    },
    Case {
        name: "honeycomb:us",
        env: HONEYCOMB_KEY,
        endpoint: "https://api.honeycomb.io",
        protocol: Protocol::HttpProtobuf,
        headers: &[("x-honeycomb-team", "hc-secret-key")],
        metrics_headers: &[
            ("x-honeycomb-team", "hc-secret-key"),
            ("x-honeycomb-dataset", "tracedojo-metrics"),
        ],
        also_set: &[],
    },
    Case {
        name: "honeycomb:eu",
        env: &[
            ("HONEYCOMB_API_KEY", "hc-secret-key"),
            ("HONEYCOMB_METRICS_DATASET", "shop-metrics"),
        ],
        endpoint: "https://api.eu1.honeycomb.io",
        protocol: Protocol::HttpProtobuf,
        headers: &[("x-honeycomb-team", "hc-secret-key")],
        metrics_headers: &[
            ("x-honeycomb-team", "hc-secret-key"),
            ("x-honeycomb-dataset", "shop-metrics"),
        ],
        also_set: &[],
    },
    // https://grafana.com/docs/grafana-cloud/send-data/otlp/send-data-otlp/
    Case {
        name: "grafana-cloud",
        env: &[
            ("GRAFANA_CLOUD_ZONE", "prod-eu-west-2"),
            ("GRAFANA_CLOUD_INSTANCE_ID", "123456"),
            ("GRAFANA_CLOUD_API_KEY", "glc_secret-token"),
        ],
        endpoint: "https://otlp-gateway-prod-eu-west-2.grafana.net/otlp",
        protocol: Protocol::HttpProtobuf,
        // base64("123456:glc_secret-token"), computed outside this code.
        headers: &[("Authorization", "Basic MTIzNDU2OmdsY19zZWNyZXQtdG9rZW4=")],
        metrics_headers: &[],
        also_set: &[],
    },
    // https://docs.datadoghq.com/opentelemetry/setup/otlp_ingest_in_the_agent/
    Case {
        name: "datadog",
        env: &[],
        endpoint: "http://localhost:4318",
        protocol: Protocol::HttpProtobuf,
        headers: &[],
        metrics_headers: &[],
        also_set: DELTA,
    },
    Case {
        name: "datadog",
        env: &[("DD_AGENT_HOST", "datadog-agent")],
        endpoint: "http://datadog-agent:4318",
        protocol: Protocol::HttpProtobuf,
        headers: &[],
        metrics_headers: &[],
        also_set: DELTA,
    },
    // https://docs.dynatrace.com/docs/ingest-from/opentelemetry/getting-started/otlp-export
    Case {
        name: "dynatrace",
        env: &[
            ("DT_ENVIRONMENT_ID", "abc12345"),
            ("DT_API_TOKEN", "dt0c01.SECRET.TOKEN"),
        ],
        endpoint: "https://abc12345.live.dynatrace.com/api/v2/otlp",
        protocol: Protocol::HttpProtobuf,
        headers: &[("Authorization", "Api-Token dt0c01.SECRET.TOKEN")],
        metrics_headers: &[],
        also_set: DELTA,
    },
    // https://www.elastic.co/docs/solutions/observability/get-started/quickstart-elastic-cloud-otel-endpoint
    Case {
        name: "elastic",
        env: &[
            // The trailing slash is dropped so the SDK does not build `//v1/traces`.
            (
                "ELASTIC_OTLP_ENDPOINT",
                "https://my-deployment.ingest.eu-west-1.aws.elastic.cloud:443/",
            ),
            ("ELASTIC_API_KEY", "es-secret-key=="),
        ],
        endpoint: "https://my-deployment.ingest.eu-west-1.aws.elastic.cloud:443",
        protocol: Protocol::HttpProtobuf,
        headers: &[("Authorization", "ApiKey es-secret-key==")],
        metrics_headers: &[],
        also_set: &[],
    },
    // https://signoz.io/docs/ingestion/signoz-cloud/overview/
    Case {
        name: "signoz:us",
        env: SIGNOZ_KEY,
        endpoint: "https://ingest.us.signoz.cloud:443",
        protocol: Protocol::HttpProtobuf,
        headers: &[("signoz-ingestion-key", "sz-secret-key")],
        metrics_headers: &[],
        also_set: &[],
    },
    Case {
        name: "signoz:us2",
        env: SIGNOZ_KEY,
        endpoint: "https://ingest.us2.signoz.cloud:443",
        protocol: Protocol::HttpProtobuf,
        headers: &[("signoz-ingestion-key", "sz-secret-key")],
        metrics_headers: &[],
        also_set: &[],
    },
    Case {
        name: "signoz:eu",
        env: SIGNOZ_KEY,
        endpoint: "https://ingest.eu.signoz.cloud:443",
        protocol: Protocol::HttpProtobuf,
        headers: &[("signoz-ingestion-key", "sz-secret-key")],
        metrics_headers: &[],
        also_set: &[],
    },
    Case {
        name: "signoz:eu2",
        env: SIGNOZ_KEY,
        endpoint: "https://ingest.eu2.signoz.cloud:443",
        protocol: Protocol::HttpProtobuf,
        headers: &[("signoz-ingestion-key", "sz-secret-key")],
        metrics_headers: &[],
        also_set: &[],
    },
    Case {
        name: "signoz:in",
        env: SIGNOZ_KEY,
        endpoint: "https://ingest.in.signoz.cloud:443",
        protocol: Protocol::HttpProtobuf,
        headers: &[("signoz-ingestion-key", "sz-secret-key")],
        metrics_headers: &[],
        also_set: &[],
    },
    Case {
        name: "signoz:in2",
        env: SIGNOZ_KEY,
        endpoint: "https://ingest.in2.signoz.cloud:443",
        protocol: Protocol::HttpProtobuf,
        headers: &[("signoz-ingestion-key", "sz-secret-key")],
        metrics_headers: &[],
        also_set: &[],
    },
    // https://www.jaegertracing.io/docs/latest/getting-started/
    Case {
        name: "jaeger",
        env: &[],
        endpoint: "http://localhost:4318",
        protocol: Protocol::HttpProtobuf,
        headers: &[],
        metrics_headers: &[],
        also_set: NO_METRICS_NO_LOGS,
    },
    Case {
        name: "jaeger",
        env: &[("JAEGER_OTLP_ENDPOINT", "http://jaeger:4318")],
        endpoint: "http://jaeger:4318",
        protocol: Protocol::HttpProtobuf,
        headers: &[],
        metrics_headers: &[],
        also_set: NO_METRICS_NO_LOGS,
    },
    // https://grafana.com/docs/tempo/latest/operations/manage-advanced-systems/multitenancy/
    Case {
        name: "tempo",
        env: &[],
        endpoint: "http://localhost:4318",
        protocol: Protocol::HttpProtobuf,
        headers: &[],
        metrics_headers: &[],
        also_set: NO_METRICS_NO_LOGS,
    },
    Case {
        name: "tempo",
        env: &[
            ("TEMPO_OTLP_ENDPOINT", "http://tempo:4318"),
            ("TEMPO_TENANT", "team-a"),
        ],
        endpoint: "http://tempo:4318",
        protocol: Protocol::HttpProtobuf,
        headers: &[("X-Scope-OrgID", "team-a")],
        metrics_headers: &[],
        also_set: NO_METRICS_NO_LOGS,
    },
    // https://github.com/open-telemetry/opentelemetry-collector/blob/main/receiver/otlpreceiver/README.md
    Case {
        name: "otel-collector",
        env: &[],
        endpoint: "http://localhost:4318",
        protocol: Protocol::HttpProtobuf,
        headers: &[],
        metrics_headers: &[],
        also_set: &[],
    },
    Case {
        name: "otel-collector",
        env: &[(
            "COLLECTOR_OTLP_ENDPOINT",
            "https://collector.example.com:4318",
        )],
        endpoint: "https://collector.example.com:4318",
        protocol: Protocol::HttpProtobuf,
        headers: &[],
        metrics_headers: &[],
        also_set: &[],
    },
];

fn resolved(case: &Case) -> Settings {
    resolve(case.name, env_of(case.env))
        .unwrap_or_else(|err| panic!("{} did not resolve: {err}", case.name))
}

fn as_strs<'a>(headers: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    headers
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect()
}

#[test]
fn each_preset_gives_what_its_documentation_gives() {
    for case in CASES {
        let settings = resolved(case);
        assert_eq!(settings.endpoint, case.endpoint, "{}", case.name);
        assert_eq!(settings.protocol, case.protocol, "{}", case.name);
        assert_eq!(as_strs(&settings.headers), case.headers, "{}", case.name);
        assert_eq!(
            as_strs(&settings.metrics_headers),
            case.metrics_headers,
            "{}",
            case.name
        );

        // And exactly these variables come out, in this order.
        let mut expected = vec![
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            "OTEL_EXPORTER_OTLP_HEADERS",
        ];
        if !case.metrics_headers.is_empty() {
            expected.push("OTEL_EXPORTER_OTLP_METRICS_HEADERS");
        }
        expected.extend(case.also_set.iter().map(|(name, _)| *name));
        let rendered = settings.otel_environment();
        let names: Vec<&str> = rendered.iter().map(|(name, _)| *name).collect();
        assert_eq!(names, expected, "{}", case.name);
        let tail: Vec<(&str, &str)> = rendered[rendered.len() - case.also_set.len()..]
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        assert_eq!(tail, case.also_set, "{}", case.name);
    }
}

#[test]
fn every_preset_has_a_case() {
    for preset in PRESETS {
        let name = preset.name();
        assert!(
            CASES.iter().any(|case| case.name == name),
            "no case pins {name}"
        );
    }
}

#[test]
fn every_accepted_name_is_listed() {
    assert_eq!(
        known_names(),
        [
            "mackerel",
            "newrelic",
            "newrelic:us",
            "newrelic:eu",
            "newrelic:jp",
            "honeycomb",
            "honeycomb:us",
            "honeycomb:eu",
            "grafana-cloud",
            "datadog",
            "dynatrace",
            "elastic",
            "signoz:us",
            "signoz:us2",
            "signoz:eu",
            "signoz:eu2",
            "signoz:in",
            "signoz:in2",
            "jaeger",
            "tempo",
            "otel-collector",
        ]
    );
    for name in known_names() {
        assert!(find(&name).is_ok(), "{name} is listed but not found");
    }
}

#[test]
fn names_ignore_case_and_surrounding_spaces() {
    let preset = find("  NewRelic:EU ").expect("found");
    assert_eq!(preset.name(), "newrelic:eu");
}

#[test]
fn a_missing_key_is_one_line_naming_the_variable() {
    let err = resolve("mackerel", no_env).unwrap_err();
    assert_eq!(
        err.to_string(),
        "--to mackerel needs your API key in MACKEREL_APIKEY \
         (Mackerel: Organization > API Keys, a key with write permission)"
    );

    // Blank counts as unset, as it does for the OTEL_* variables.
    let err = resolve("newrelic:eu", env_of(&[("NEW_RELIC_LICENSE_KEY", "  ")])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "--to newrelic:eu needs your license key in NEW_RELIC_LICENSE_KEY \
         (New Relic: API keys, type Ingest - License)"
    );

    // Variables are asked for in table order, so the first one missing is named.
    let err = resolve(
        "grafana-cloud",
        env_of(&[("GRAFANA_CLOUD_ZONE", "prod-eu-west-2")]),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            PresetError::Missing {
                variable: "GRAFANA_CLOUD_INSTANCE_ID",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn with_nothing_set_only_local_presets_resolve() {
    for preset in PRESETS {
        let first_required = preset
            .vars
            .iter()
            .find(|var| var.when_unset == WhenUnset::Fail);
        match (preset.resolve(no_env), first_required) {
            (Ok(_), None) => {}
            (Err(err), Some(var)) => {
                let message = err.to_string();
                assert!(
                    matches!(err, PresetError::Missing { variable, .. } if variable == var.name),
                    "{message}"
                );
                assert!(message.contains(var.name), "{message}");
                assert!(!message.contains('\n'), "{message}");
            }
            (Ok(_), Some(var)) => panic!("{} resolved without {}", preset.name(), var.name),
            (Err(err), None) => panic!("{} failed with nothing required: {err}", preset.name()),
        }
    }
}

#[test]
fn an_unknown_vendor_lists_every_known_name() {
    let err = resolve("newrelik", no_env).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "unknown backend \"newrelik\" for --to; known: {}",
            known_names().join(", ")
        )
    );
}

#[test]
fn an_unknown_region_lists_that_vendors_names() {
    let err = find("newrelic:apac").unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown backend \"newrelic:apac\" for --to; \
         known: newrelic, newrelic:us, newrelic:eu, newrelic:jp"
    );
    let err = find("mackerel:eu").unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown backend \"mackerel:eu\" for --to; known: mackerel"
    );
}

#[test]
fn a_vendor_without_a_default_region_asks_for_one() {
    let err = find("signoz").unwrap_err();
    assert_eq!(
        err.to_string(),
        "--to signoz needs a region: \
         signoz:us, signoz:us2, signoz:eu, signoz:eu2, signoz:in, signoz:in2"
    );
}

#[test]
fn odd_input_gives_one_line_not_a_panic() {
    for name in [
        "",
        ":",
        "newrelic:",
        ":eu",
        "a\nb",
        "signoz::us",
        "{}",
        "ÄÖ",
    ] {
        let message = resolve(name, no_env).unwrap_err().to_string();
        assert!(!message.contains('\n'), "{message}");
    }
}

#[test]
fn a_value_of_the_wrong_shape_is_named_without_showing_it() {
    let pasted_url = "https://otlp-gateway-prod-us-east-0.grafana.net/otlp";
    let err = resolve(
        "grafana-cloud",
        env_of(&[
            (
                "GRAFANA_CLOUD_ZONE",
                "https://otlp-gateway-prod-us-east-0.grafana.net/otlp",
            ),
            ("GRAFANA_CLOUD_INSTANCE_ID", "123456"),
            ("GRAFANA_CLOUD_API_KEY", "glc_secret-token"),
        ]),
    )
    .unwrap_err();
    let message = err.to_string();
    assert!(message.starts_with("--to grafana-cloud: GRAFANA_CLOUD_ZONE should hold"));
    assert!(message.ends_with("but it may hold only letters, digits, '.', '-' and '_'"));
    assert!(!message.contains(pasted_url), "{message}");

    let err = resolve(
        "elastic",
        env_of(&[
            ("ELASTIC_OTLP_ENDPOINT", "my-deployment.elastic.cloud:443"),
            ("ELASTIC_API_KEY", "es-secret-key"),
        ]),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .ends_with("but it does not start with http:// or https://"),
        "{err}"
    );

    let err = resolve(
        "honeycomb",
        env_of(&[("HONEYCOMB_API_KEY", "first-half second-half")]),
    )
    .unwrap_err();
    let message = err.to_string();
    assert!(
        message.ends_with("but it contains a space or a line break"),
        "{message}"
    );
    assert!(!message.contains("first-half"), "{message}");
}

#[test]
fn a_key_copied_with_its_line_break_still_works() {
    let settings = resolve(
        "honeycomb:eu",
        env_of(&[("HONEYCOMB_API_KEY", "hc-secret-key\n")]),
    )
    .expect("resolves");
    assert_eq!(
        settings.headers,
        [("x-honeycomb-team", String::from("hc-secret-key"))]
    );
}

#[test]
fn debug_output_never_shows_a_secret() {
    for case in CASES {
        let settings = resolved(case);
        let shown = format!("{settings:?}");
        for (name, value) in settings.headers.iter().chain(&settings.metrics_headers) {
            assert!(shown.contains(name), "{shown}");
            assert!(!shown.contains(value.as_str()), "{}: {shown}", case.name);
        }
        for (variable, value) in case.env {
            let secret = settings
                .preset
                .vars
                .iter()
                .any(|var| var.name == *variable && var.shape == Shape::Secret);
            if secret {
                assert!(!shown.contains(value), "{}: {shown}", case.name);
            }
        }
    }
}

#[test]
fn debug_output_hides_credentials_in_a_user_given_url() {
    let settings = resolve(
        "otel-collector",
        env_of(&[(
            "COLLECTOR_OTLP_ENDPOINT",
            "https://user:hunter2@collector:4318",
        )]),
    )
    .expect("resolves");
    let shown = format!("{settings:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
}

/// Reads `OTEL_EXPORTER_OTLP_HEADERS` the way opentelemetry-otlp 0.33 does (its
/// `parse_header_string`): entries split on `,`, name and value split on the first `=`,
/// both trimmed, then `%XX` in the value decoded.
fn read_headers_like_the_sdk(list: &str) -> Vec<(String, String)> {
    list.split_terminator(',')
        .filter_map(|entry| entry.trim().split_once('='))
        .map(|(name, value)| (name.trim().to_string(), percent_decode(value.trim())))
        .collect()
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("ascii");
            out.push(u8::from_str_radix(hex, 16).expect("two hex digits"));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("utf-8")
}

#[test]
fn header_values_are_percent_encoded_as_the_specification_asks() {
    assert_eq!(percent_encode("Basic abc="), "Basic%20abc=");
    assert_eq!(
        percent_encode("a,b;c\"d\\e%f g+h/é"),
        "a%2Cb%3Bc%22d%5Ce%25f%20g+h/%C3%A9"
    );
    let tricky = "Basic a,b;c\"d\\e%f g+h/é=";
    assert_eq!(percent_decode(&percent_encode(tricky)), tricky);
}

/// The value `otel_environment` gives `variable`, if it gives one.
fn rendered(settings: &Settings, variable: &str) -> Option<String> {
    settings
        .otel_environment()
        .into_iter()
        .find(|(name, _)| *name == variable)
        .map(|(_, value)| value)
}

fn owned(headers: &[(&'static str, String)]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| (name.to_string(), value.clone()))
        .collect()
}

#[test]
fn the_headers_variables_read_back_as_the_sdk_reads_them() {
    for case in CASES {
        let settings = resolved(case);
        let list = rendered(&settings, "OTEL_EXPORTER_OTLP_HEADERS").expect("always set");
        assert_eq!(
            read_headers_like_the_sdk(&list),
            owned(&settings.headers),
            "{}",
            case.name
        );
        match rendered(&settings, "OTEL_EXPORTER_OTLP_METRICS_HEADERS") {
            Some(list) => assert_eq!(
                read_headers_like_the_sdk(&list),
                owned(&settings.metrics_headers),
                "{}",
                case.name
            ),
            None => assert!(settings.metrics_headers.is_empty(), "{}", case.name),
        }
    }
}

#[test]
fn the_environment_lists_the_general_variables_first() {
    let settings = resolved(&CASES[0]);
    assert_eq!(
        settings.otel_environment(),
        [
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "https://otlp-vaxila.mackerelio.com".to_string()
            ),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".to_string()),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "Accept=*/*,Mackerel-Api-Key=mk-secret-key".to_string()
            ),
            ("OTEL_METRICS_EXPORTER", "none".to_string()),
            ("OTEL_LOGS_EXPORTER", "none".to_string()),
        ]
    );
    // No header still sets the variable, so a key left in the shell is not sent along.
    let settings = resolve("otel-collector", no_env).expect("resolves");
    assert_eq!(
        rendered(&settings, "OTEL_EXPORTER_OTLP_HEADERS"),
        Some(String::new())
    );
    // Metrics headers of their own repeat the general ones: an exporter may read them instead.
    let settings = resolve("honeycomb", env_of(HONEYCOMB_KEY)).expect("resolves");
    assert_eq!(
        rendered(&settings, "OTEL_EXPORTER_OTLP_METRICS_HEADERS"),
        Some("x-honeycomb-team=hc-secret-key,x-honeycomb-dataset=tracedojo-metrics".to_string())
    );
}

/// Set in the child process this test starts; holds the index of the case to check.
const ROUND_TRIP_CASE: &str = "TRACEDOJO_TEST_VENDOR_CASE";

/// `otel_env` reads the process environment, which a test must not change under the other
/// tests running beside it. So this test starts itself again, once per case, with the
/// rendered variables as that child's whole OTEL_* environment, and the child reads them
/// back through `otel_env`'s own checks.
#[test]
fn the_rendered_environment_reads_back_through_otel_env() {
    if let Ok(index) = std::env::var(ROUND_TRIP_CASE) {
        let case = &CASES[index.parse::<usize>().expect("a case index")];
        check_with_otel_env(case);
        return;
    }
    let test = module_path!()
        .split_once("::")
        .map(|(_, path)| format!("{path}::the_rendered_environment_reads_back_through_otel_env"))
        .expect("a module path");
    let exe = std::env::current_exe().expect("the test binary");
    for (index, case) in CASES.iter().enumerate() {
        let mut child = Command::new(&exe);
        child.args([test.as_str(), "--exact", "--nocapture"]);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("OTEL_") {
                child.env_remove(key);
            }
        }
        child
            .envs(resolved(case).otel_environment())
            .env(ROUND_TRIP_CASE, index.to_string());
        let output = child.output().expect("run the test binary");
        assert!(
            output.status.success(),
            "{}:\n{}{}",
            case.name,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

fn check_with_otel_env(case: &Case) {
    let settings = resolved(case);
    otel_env::validate_all().expect("otel_env accepts the rendered variables");
    let protocol = otel_env::protocol(Signal::Traces).expect("protocol");
    assert_eq!(protocol, settings.protocol, "{}", case.name);
    let traces = match protocol {
        Protocol::Grpc => settings.endpoint.clone(),
        _ => format!("{}/v1/traces", settings.endpoint),
    };
    assert_eq!(
        otel_env::endpoint(Signal::Traces, protocol).expect("endpoint"),
        traces,
        "{}",
        case.name
    );
    let names: Vec<String> = settings
        .headers
        .iter()
        .map(|(name, _)| name.to_ascii_lowercase())
        .collect();
    assert_eq!(otel_env::trace_header_names(), names, "{}", case.name);
    assert!(
        otel_env::endpoint_configured(),
        "{}: a preset always names its backend",
        case.name
    );
    let off = |variable: &str| case.also_set.contains(&(variable, "none"));
    assert_eq!(
        otel_env::exporter_enabled(Signal::Metrics).expect("metrics exporter"),
        !off("OTEL_METRICS_EXPORTER"),
        "{}",
        case.name
    );
    assert_eq!(
        otel_env::exporter_enabled(Signal::Logs).expect("logs exporter"),
        !off("OTEL_LOGS_EXPORTER"),
        "{}",
        case.name
    );
}

#[test]
fn base64_matches_the_rfc_4648_test_vectors() {
    for (input, encoded) in [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ] {
        assert_eq!(base64(input.as_bytes()), encoded, "{input:?}");
    }
    // The alphabet's last two characters.
    assert_eq!(base64(&[0xfb, 0xff, 0xbf]), "+/+/");
}

fn placeholders(template: &str) -> Vec<&str> {
    template
        .split('{')
        .skip(1)
        .filter_map(|part| part.split_once('}').map(|(name, _)| name))
        .collect()
}

/// The rules the resolver relies on instead of checking at run time.
#[test]
fn the_table_is_consistent() {
    let mut names = Vec::new();
    for preset in PRESETS {
        let name = preset.name();
        assert_eq!(name, name.to_ascii_lowercase());
        assert!(!preset.vendor.contains(':'), "{name}");
        assert!(!names.contains(&name), "{name} appears twice");
        assert!(preset.region.is_some() || !preset.default_region, "{name}");
        assert!(preset.docs.starts_with("https://"), "{name}");
        names.push(name.clone());

        let declared = |var: &str| preset.vars.iter().find(|v| v.name == var);
        let mut used = Vec::new();
        for var in placeholders(preset.endpoint) {
            let decl = declared(var).unwrap_or_else(|| panic!("{name}: {var} undeclared"));
            assert_ne!(
                decl.when_unset,
                WhenUnset::Skip,
                "{name}: endpoint needs {var}"
            );
            // A secret in a URL would end up in logs that print the endpoint.
            assert_ne!(decl.shape, Shape::Secret, "{name}: {var} in the URL");
            used.push(var);
        }
        for header in preset.headers.iter().chain(preset.metrics_headers) {
            let vars = match header.value {
                Value::Template(template) => placeholders(template),
                Value::Basic { user, password } => vec![user, password],
            };
            for var in vars {
                assert!(declared(var).is_some(), "{name}: {var} undeclared");
                used.push(var);
            }
        }
        for var in preset.vars {
            assert!(
                used.contains(&var.name),
                "{name}: {} is never used",
                var.name
            );
        }
        for extra in preset.metrics_headers {
            assert!(
                preset.headers.iter().all(|h| h.name != extra.name),
                "{name}: {} is sent twice with metrics",
                extra.name
            );
        }
        // Fixed, public values for variables nothing else sets.
        let general = [
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            "OTEL_EXPORTER_OTLP_HEADERS",
        ];
        for (variable, value) in preset.also_set {
            assert!(variable.starts_with("OTEL_"), "{name}: {variable}");
            assert!(!general.contains(variable), "{name}: {variable}");
            assert!(
                !OVERRIDING_VARIABLES.contains(variable),
                "{name}: {variable}"
            );
            assert!(
                !value.is_empty() && !value.contains(['{', ' ', ',']),
                "{name}: {variable}={value}"
            );
        }
    }
    for vendor in PRESETS.iter().map(|p| p.vendor) {
        let defaults = PRESETS
            .iter()
            .filter(|p| p.vendor == vendor && p.default_region)
            .count();
        assert!(defaults <= 1, "{vendor} has {defaults} default regions");
    }
}

#[test]
fn resolved_endpoints_are_base_urls() {
    for case in CASES {
        let endpoint = resolved(case).endpoint;
        assert!(
            endpoint.starts_with("https://") || endpoint.starts_with("http://"),
            "{endpoint}"
        );
        assert!(!endpoint.ends_with('/'), "{endpoint}");
        assert!(!endpoint.contains("/v1/"), "{endpoint}");
    }
}

/// Every value a case gives a secret variable.
fn secrets_of(case: &Case) -> Vec<&'static str> {
    let preset = find(case.name).expect("a known name");
    case.env
        .iter()
        .filter(|(variable, _)| {
            preset
                .vars
                .iter()
                .any(|var| var.name == *variable && var.shape == Shape::Secret)
        })
        .map(|(_, value)| *value)
        .collect()
}

/// A value of the wrong shape for `shape`, distinct enough to spot in a message.
fn misshapen(shape: Shape) -> &'static str {
    match shape {
        Shape::Secret => "leaked-7f3a first half\nsecond-half-9c1e",
        Shape::Url => "leaked-7f3a.example.com:4318",
        Shape::Name => "https://leaked-7f3a.example.com/otlp",
    }
}

#[test]
fn a_missing_variable_is_named_on_one_line_without_any_value() {
    for case in CASES {
        let preset = find(case.name).expect("a known name");
        for var in preset
            .vars
            .iter()
            .filter(|var| var.when_unset == WhenUnset::Fail)
        {
            // Everything else set as the case sets it, this one left out.
            let env: Vec<(&'static str, String)> = case
                .env
                .iter()
                .filter(|(name, _)| *name != var.name)
                .map(|(name, value)| (*name, value.to_string()))
                .collect();
            let err = resolve(case.name, env_from(env)).unwrap_err();
            let message = err.to_string();
            assert!(
                matches!(err, PresetError::Missing { variable, .. } if variable == var.name),
                "{message}"
            );
            assert!(message.contains(var.name), "{message}");
            assert!(!message.contains('\n'), "{message}");
            for secret in secrets_of(case) {
                assert!(!message.contains(secret), "{}: {message}", case.name);
            }
        }
    }
}

#[test]
fn a_misshapen_value_is_named_without_showing_it_or_any_secret() {
    for case in CASES {
        let preset = find(case.name).expect("a known name");
        for var in preset.vars {
            let bad = misshapen(var.shape);
            let mut env: Vec<(&'static str, String)> = case
                .env
                .iter()
                .filter(|(name, _)| *name != var.name)
                .map(|(name, value)| (*name, value.to_string()))
                .collect();
            env.push((var.name, bad.to_string()));
            let err = resolve(case.name, env_from(env)).unwrap_err();
            let message = err.to_string();
            assert!(
                matches!(err, PresetError::Malformed { variable, .. } if variable == var.name),
                "{message}"
            );
            assert!(!message.contains('\n'), "{message}");
            assert!(!message.contains("leaked-7f3a"), "{message}");
            assert!(!message.contains("second-half"), "{message}");
            for secret in secrets_of(case) {
                assert!(!message.contains(secret), "{}: {message}", case.name);
            }
            // Nor in the error's Debug form, which a caller might log.
            let debug = format!("{err:?}");
            assert!(!debug.contains("leaked-7f3a"), "{debug}");
            for secret in secrets_of(case) {
                assert!(!debug.contains(secret), "{}: {debug}", case.name);
            }
        }
    }
}
