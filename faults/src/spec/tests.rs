//! Fault specs as the control API reads them: good ones parse, bad ones name their field.

use super::*;

fn parse(json: &str) -> Result<FaultSpec, String> {
    let spec: FaultSpec = serde_json::from_str(json).map_err(|e| e.to_string())?;
    spec.validate().map_err(|e| e.to_string())?;
    Ok(spec)
}

#[test]
fn a_targeted_latency_fault_reads_with_its_defaults() {
    let spec = parse(
        r#"{"fault": {"kind": "latency", "service": "payment",
                      "distribution": {"type": "log_normal", "median_ms": 300, "sigma": 0.5}},
            "target": {"attributes": {"tracedojo.user.tier": "gold"}, "route": "/payments"},
            "expires_in_s": 600}"#,
    )
    .unwrap();
    assert_eq!(spec.fault.kind(), "latency");
    assert_eq!(spec.fault.service(), "payment");
    assert_eq!(spec.target.probability, 1.0);
    assert_eq!(spec.expires_in_s, Some(600));

    let errors = parse(r#"{"fault": {"kind": "errors", "service": "checkout"}}"#).unwrap();
    assert_eq!(
        errors.fault,
        Fault::Errors {
            service: "checkout".into(),
            status: 500,
            message: "internal error".into()
        }
    );
}

#[test]
fn bad_values_name_their_field_and_what_is_allowed() {
    let cases = [
        (
            r#"{"fault": {"kind": "latency", "service": "paymnt", "distribution": {"type": "fixed", "ms": 5}}}"#,
            "fault.service: \"paymnt\" is not a service",
        ),
        (
            r#"{"fault": {"kind": "missing_index", "service": "cart"}}"#,
            "choose one of: catalog",
        ),
        (
            r#"{"fault": {"kind": "errors", "service": "cart", "status": 404}}"#,
            "fault.status: must be a 5xx",
        ),
        (
            r#"{"fault": {"kind": "cpu_burn", "service": "cart", "ms": 50000}}"#,
            "fault.ms: must be from 1 to 1000",
        ),
        (
            r#"{"fault": {"kind": "memory_leak", "service": "cart", "kb_per_request": 64, "cap_mb": 100000}}"#,
            "fault.cap_mb: must be from 1 to 512",
        ),
        (
            r#"{"fault": {"kind": "errors", "service": "cart"}, "target": {"probability": 1.5}}"#,
            "target.probability: must be a probability from 0 to 1",
        ),
        (
            r#"{"fault": {"kind": "errors", "service": "cart"}, "target": {"attributes": {"tier": "gold"}}}"#,
            "target.attributes.tier: unknown attribute; choose from: tracedojo.user.tier",
        ),
        (
            r#"{"fault": {"kind": "errors", "service": "cart"}, "target": {"route": "api/cart"}}"#,
            "target.route",
        ),
        (
            r#"{"fault": {"kind": "retry_storm", "service": "checkout", "peer": "paymnt", "timeout_ms": 200}}"#,
            "fault.peer",
        ),
        (
            r#"{"fault": {"kind": "bad_release", "service": "payment", "version": "2.0.0"}}"#,
            "a bad release needs a regression",
        ),
        (
            r#"{"fault": {"kind": "errors", "service": "cart"}, "expires_in_s": 0}"#,
            "expires_in_s: must be from 1",
        ),
    ];
    for (json, says) in cases {
        let error = parse(json).unwrap_err();
        assert!(
            error.contains(says),
            "{json}\n  gave: {error}\n  wanted: {says}"
        );
    }
}

#[test]
fn the_old_baggage_keys_are_refused_with_their_new_names() {
    let target = |key: &str| {
        format!(
            r#"{{"fault": {{"kind": "errors", "service": "checkout"}},
                 "target": {{"attributes": {{"{key}": "x"}}}}}}"#
        )
    };
    for (old, new) in [
        ("user.tier", "tracedojo.user.tier"),
        ("user.region", "tracedojo.user.region"),
        ("user.device", "tracedojo.user.device"),
        ("user.locale", "tracedojo.user.locale"),
        ("user.company", "tracedojo.user.company"),
    ] {
        let error = parse(&target(old)).unwrap_err();
        assert!(
            error.starts_with(&format!(
                "target.attributes: \"{old}\" was renamed \"{new}\"; use that ("
            )),
            "{error}"
        );
        assert!(
            error.contains(&ATTRIBUTE_KEYS.join(", ")),
            "the allowed keys are listed: {error}"
        );
        parse(&target(new)).unwrap_or_else(|e| panic!("{new}: {e}"));
    }
    let error = parse(&target("synthetic")).unwrap_err();
    assert!(
        error.starts_with(
            "target.attributes: \"synthetic\" was renamed \"user_agent.synthetic.type\", which faults cannot target"
        ),
        "{error}"
    );
    parse(&target("user.id")).expect("user.id is the registry's own and unchanged");
}

#[test]
fn unknown_kinds_and_fields_are_refused_by_name() {
    let error = parse(r#"{"fault": {"kind": "meteor", "service": "cart"}}"#).unwrap_err();
    assert!(error.contains("unknown variant `meteor`"), "{error}");
    assert!(
        error.contains("latency"),
        "the allowed kinds are listed: {error}"
    );
    let error =
        parse(r#"{"fault": {"kind": "errors", "service": "cart", "rate": 0.5}}"#).unwrap_err();
    assert!(error.contains("unknown field `rate`"), "{error}");
}

#[test]
fn targeting_matches_route_version_and_baggage_together() {
    let target = Targeting {
        route: Some("/payments".into()),
        attributes: [("tracedojo.user.tier".to_string(), "gold".to_string())].into(),
        version: Some("2.0.0".into()),
        ..Targeting::default()
    };
    let gold = |key: &str| (key == "tracedojo.user.tier").then(|| "gold".to_string());
    let free = |key: &str| (key == "tracedojo.user.tier").then(|| "free".to_string());
    fn facts<'a>(
        route: Option<&'a str>,
        version: &'a str,
        attribute: &'a dyn Fn(&str) -> Option<String>,
    ) -> RequestFacts<'a> {
        RequestFacts {
            route,
            version,
            attribute,
        }
    }
    assert!(target.selects(&facts(Some("/payments"), "2.0.0", &gold)));
    assert!(!target.selects(&facts(Some("/payments"), "2.0.0", &free)));
    assert!(!target.selects(&facts(Some("/refund"), "2.0.0", &gold)));
    assert!(!target.selects(&facts(Some("/payments"), "1.0.0", &gold)));
    assert!(!target.selects(&facts(None, "2.0.0", &gold)));
    assert!(Targeting::default().selects(&facts(None, "1.0.0", &free)));
    // Baggage still under the old key is not the attribute targeted.
    let old = |key: &str| (key == "user.tier").then(|| "gold".to_string());
    assert!(!target.selects(&facts(Some("/payments"), "2.0.0", &old)));
}
