use super::*;

fn error(text: &str) -> ObjectivesError {
    Objectives::parse("objectives.toml", text).expect_err("refused")
}

#[test]
fn the_shop_objectives_are_valid_and_cover_checkout() {
    let shop = Objectives::shop();
    assert_eq!(shop.period_days(), 30.0);
    let checkout = shop.of("frontend", "POST /api/checkout").expect("checkout");
    assert_eq!(
        checkout.targets,
        [
            Target {
                indicator: Indicator::LatencyP95,
                target: 0.95,
                threshold_ms: Some(400.0)
            },
            Target {
                indicator: Indicator::LatencyP99,
                target: 0.99,
                threshold_ms: Some(1500.0)
            },
            Target {
                indicator: Indicator::Success,
                target: 0.99,
                threshold_ms: None
            },
        ]
    );
    let search = shop
        .of("frontend", "GET /api/search")
        .expect("every frontend endpoint");
    assert_eq!(search.targets[0].threshold_ms, Some(250.0));
    assert!(shop.of("catalog", "GET /products").is_none());
    let latency = shop.latency_objectives();
    assert_eq!(latency.len(), 3);
    assert_eq!(
        (latency[0].operation.as_deref(), latency[0].threshold_nanos),
        (None, 250_000_000)
    );
    assert_eq!(
        (latency[1].operation.as_deref(), latency[1].threshold_nanos),
        (Some("POST /api/checkout"), 400_000_000)
    );
    assert_eq!(
        shop.thresholds(),
        [250_000_000, 400_000_000, 1_000_000_000, 1_500_000_000]
    );
}

#[test]
fn an_endpoint_takes_what_it_leaves_out_from_its_service() {
    let objectives = Objectives::parse(
        "o.toml",
        r#"
[[objective]]
service = "api"
p99 = "2s"
success = 0.999

[[objective]]
service = "api"
operation = "GET /slow"
p99 = "5s"
"#,
    )
    .expect("valid");
    let slow = objectives.of("api", "GET /slow").expect("objective");
    assert_eq!(slow.targets.len(), 2);
    assert_eq!(slow.targets[0].threshold_ms, Some(5000.0));
    assert_eq!(slow.targets[1].indicator, Indicator::Success);
    assert!((slow.targets[1].budget() - 0.001).abs() < 1e-12);
    assert_eq!(objectives.period_nanos, DEFAULT_PERIOD);
}

#[test]
fn errors_name_the_file_the_line_and_the_field() {
    let e = error("[[objective]]\nservice = \"api\"\np95 = \"fast\"\n");
    assert_eq!((e.line, e.field.as_str()), (3, "p95"), "{e}");
    assert!(e.to_string().starts_with("objectives.toml:3: p95: "), "{e}");
    assert!(e.message.contains("250us, 150ms"), "{e}");

    let e = error("[[objective]]\nservice = \"api\"\n\nsuccess = 99.5\n");
    assert_eq!((e.line, e.field.as_str()), (4, "success"), "{e}");
    assert!(e.message.contains("write 0.995"), "{e}");

    let e = error("[[objective]]\nservice = \"api\"\np95 = \"1s\"\nlatency = \"2s\"\n");
    assert_eq!((e.line, e.field.as_str()), (4, "latency"), "{e}");
    assert!(
        e.message.contains("an objective takes service, operation"),
        "{e}"
    );

    let e = error("[[objective]]\np95 = \"1s\"\n");
    assert_eq!(e.field, "service", "{e}");

    let e = error("[[objective]]\nservice = \"api\"\n");
    assert_eq!((e.line, e.field.as_str()), (1, "objective"), "{e}");
    assert!(e.message.contains("promises nothing"), "{e}");

    let e = error("period = \"5m\"\n[[objective]]\nservice = \"a\"\np95 = \"1s\"\n");
    assert_eq!((e.line, e.field.as_str()), (1, "period"), "{e}");

    let e = error(
        "[[objective]]\nservice = \"a\"\np95 = \"1s\"\n\n[[objective]]\nservice = \"a\"\nsuccess = 0.9\n",
    );
    assert_eq!((e.line, e.field.as_str()), (6, "objective"), "{e}");
    assert!(e.message.contains("has an objective already"), "{e}");

    let e = error("[[objective]\nservice = \"a\"\n");
    assert_eq!((e.line, e.field.as_str()), (1, "syntax"), "{e}");

    let e = error("# nothing here\n");
    assert_eq!(e.field, "objective", "{e}");

    let e = error("[[objective]]\nservice = \" \"\np95 = \"1s\"\n");
    assert_eq!((e.line, e.field.as_str()), (2, "service"), "{e}");

    let e = error("[[objective]]\nservice = \"a\"\np95 = \"0ms\"\n");
    assert_eq!((e.line, e.field.as_str()), (3, "p95"), "{e}");
}

#[test]
fn a_missing_file_is_said_plainly() {
    let e = Objectives::read(std::path::Path::new("no-such-objectives.toml")).expect_err("missing");
    assert_eq!(e.field, "file");
    assert!(
        e.to_string()
            .starts_with("no-such-objectives.toml:0: file: cannot read it"),
        "{e}"
    );
}
