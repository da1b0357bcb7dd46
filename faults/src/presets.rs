//! Named presets: the incidents a facilitator reaches for, each one or more fault specs.

use crate::distribution::Distribution;
use crate::spec::{Fault, FaultSpec, Targeting};

/// A named incident.
pub struct Preset {
    pub name: &'static str,
    /// What the audience will see, in one line (symptoms, never the cause).
    pub summary: &'static str,
    pub faults: fn() -> Vec<FaultSpec>,
}

/// Every preset, in the order `tracedojo fault presets` lists them.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "slow-payment-gateway",
        summary: "checkouts slow down; payment's /payments has a long tail",
        faults: || {
            vec![on(Fault::Latency {
                service: "payment".into(),
                distribution: Distribution::LogNormal {
                    median_ms: 800.0,
                    sigma: 0.6,
                },
            })]
        },
    },
    Preset {
        name: "missing-index",
        summary: "product search gets slow; its query reads the whole table",
        faults: || {
            vec![on(Fault::MissingIndex {
                service: "catalog".into(),
            })]
        },
    },
    Preset {
        name: "n-plus-one",
        summary: "product listings make one query per product",
        faults: || {
            vec![on(Fault::NPlusOne {
                service: "catalog".into(),
            })]
        },
    },
    Preset {
        name: "inventory-lock",
        summary: "checkouts queue up behind each other at inventory",
        faults: || {
            vec![on(Fault::LockContention {
                service: "inventory".into(),
                hold_ms: 150,
            })]
        },
    },
    Preset {
        name: "payment-outage",
        summary: "every checkout fails; payment cannot be reached",
        faults: || {
            vec![on(Fault::Unreachable {
                service: "payment".into(),
            })]
        },
    },
    Preset {
        name: "bad-release",
        summary: "catalog 1.1.0 rolls out; its answers slow down and some fail",
        faults: || {
            vec![on(Fault::BadRelease {
                service: "catalog".into(),
                version: "1.1.0".into(),
                latency: Some(Distribution::Normal {
                    mean_ms: 250.0,
                    stddev_ms: 50.0,
                }),
                error_rate: 0.05,
            })]
        },
    },
    Preset {
        name: "gold-tier-errors",
        summary: "checkouts fail for gold customers in eu-west-1 only",
        faults: || {
            vec![FaultSpec {
                fault: Fault::Errors {
                    service: "checkout".into(),
                    status: 500,
                    message: "order could not be priced".into(),
                },
                target: Targeting {
                    route: Some("/checkout".into()),
                    attributes: [
                        ("tracedojo.user.tier".to_string(), "gold".to_string()),
                        ("tracedojo.user.region".to_string(), "eu-west-1".to_string()),
                    ]
                    .into(),
                    ..Targeting::default()
                },
                expires_in_s: None,
            }]
        },
    },
    Preset {
        name: "cache-failure",
        summary: "recommendations hit the catalogue on every product view",
        faults: || {
            vec![on(Fault::CacheFailure {
                service: "recommendation".into(),
            })]
        },
    },
    Preset {
        name: "memory-leak",
        summary: "cart's memory grows with every request",
        faults: || {
            vec![on(Fault::MemoryLeak {
                service: "cart".into(),
                kb_per_request: 64,
                cap_mb: 256,
            })]
        },
    },
    Preset {
        name: "retry-storm",
        summary: "inventory slows; checkout's retries pile more load onto it",
        faults: || {
            vec![
                on(Fault::Latency {
                    service: "inventory".into(),
                    distribution: Distribution::Uniform {
                        min_ms: 150.0,
                        max_ms: 400.0,
                    },
                }),
                on(Fault::RetryStorm {
                    service: "checkout".into(),
                    peer: "inventory".into(),
                    timeout_ms: 200,
                    retries: 3,
                }),
            ]
        },
    },
    Preset {
        name: "shipping-backlog",
        summary: "orders wait longer and longer before they ship",
        faults: || {
            vec![on(Fault::AsyncBacklog {
                service: "shipping".into(),
                ms_per_message: 1500,
            })]
        },
    },
];

fn on(fault: Fault) -> FaultSpec {
    FaultSpec {
        fault,
        target: Targeting::default(),
        expires_in_s: None,
    }
}

/// The preset called `name`.
pub fn find(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name.trim())
}

/// The names, for error messages and help.
pub fn names() -> String {
    PRESETS
        .iter()
        .map(|p| p.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A fault as a file gives it (a workshop stage, a showcase act): `preset = "NAME"` or
/// `spec = '{...}'` in the control API's JSON, exactly one of them (see [`resolve`]).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresetOrSpec {
    #[serde(default)]
    pub preset: Option<String>,
    #[serde(default)]
    pub spec: Option<String>,
}

/// A fault as a file gives it (a workshop stage, a showcase act): a preset by name or a spec
/// in the control API's JSON, exactly one of them; every spec checked with
/// [`FaultSpec::validate`].
pub fn resolve(preset: Option<&str>, spec: Option<&str>) -> Result<Vec<FaultSpec>, String> {
    match (preset, spec) {
        (Some(name), None) => find(name)
            .map(|preset| (preset.faults)())
            .ok_or_else(|| format!("no preset {name:?}; the presets are {}", names())),
        (None, Some(json)) => {
            let spec: FaultSpec = serde_json::from_str(json).map_err(|err| err.to_string())?;
            spec.validate().map_err(|err| err.to_string())?;
            Ok(vec![spec])
        }
        _ => Err("give either `preset` or `spec`, not both or neither".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_is_valid_and_named_once() {
        for preset in PRESETS {
            let faults = (preset.faults)();
            assert!(!faults.is_empty(), "{}", preset.name);
            for spec in faults {
                spec.validate()
                    .unwrap_or_else(|e| panic!("{}: {e}", preset.name));
            }
            assert_eq!(PRESETS.iter().filter(|p| p.name == preset.name).count(), 1);
        }
        assert!(find(" missing-index ").is_some());
        assert!(find("meteor").is_none());
    }

    #[test]
    fn a_preset_or_a_spec_resolves_to_checked_specs() {
        assert_eq!(resolve(Some("n-plus-one"), None).unwrap().len(), 1);
        let spec = r#"{"fault": {"kind": "unreachable", "service": "cart"}}"#;
        assert_eq!(resolve(None, Some(spec)).unwrap().len(), 1);
        let err = resolve(Some("meteor"), None).unwrap_err();
        assert!(err.starts_with("no preset \"meteor\"; the presets are slow-payment-gateway"));
        let err = resolve(
            None,
            Some(r#"{"fault": {"kind": "unreachable", "service": "mars"}}"#),
        )
        .unwrap_err();
        assert!(err.starts_with("fault.service:"), "{err}");
        assert!(resolve(None, Some("{")).is_err());
        assert!(
            resolve(Some("n-plus-one"), Some(spec))
                .unwrap_err()
                .contains("not both")
        );
        assert!(resolve(None, None).unwrap_err().contains("neither"));
    }
}
