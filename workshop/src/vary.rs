//! Per-participant variations of a stage: each `vary` name takes one of its values, picked by
//! the participant's seed, so neighbours see different incidents and cannot copy answers,
//! while one participant always gets the same stage.

use std::collections::BTreeMap;

use crate::lesson::VaryValue;
use crate::progress::fnv1a;

/// The value of every `vary` name for this seed and lesson.
pub fn choose(
    seed: u64,
    slug: &str,
    vary: &BTreeMap<String, Vec<VaryValue>>,
) -> BTreeMap<String, String> {
    let chosen = vary
        .iter()
        .filter(|(_, values)| !values.is_empty())
        .map(|(name, values)| {
            let key = format!("{seed}/{slug}/{name}");
            let index = (fnv1a(key.as_bytes()) % values.len() as u64) as usize;
            (name.clone(), values[index].as_text())
        })
        .collect();
    with_parts(chosen)
}

/// Adds `NAME.key` and `NAME.value` for each value written `key=value`, so one varied
/// choice can fill two places (`"${segment.key}": "${segment.value}"`) and stay a pair.
pub fn with_parts(mut vars: BTreeMap<String, String>) -> BTreeMap<String, String> {
    let pairs: Vec<(String, String, String)> = vars
        .iter()
        .filter_map(|(name, value)| {
            value
                .split_once('=')
                .map(|(k, v)| (name.clone(), k.to_string(), v.to_string()))
        })
        .collect();
    for (name, key, value) in pairs {
        vars.insert(format!("{name}.key"), key);
        vars.insert(format!("{name}.value"), value);
    }
    vars
}

/// Whether `${placeholder}` names a `vary` entry (or the key or value part of one).
pub fn is_known(placeholder: &str, vary: &BTreeMap<String, Vec<VaryValue>>) -> bool {
    let name = placeholder
        .strip_suffix(".key")
        .or_else(|| placeholder.strip_suffix(".value"))
        .unwrap_or(placeholder);
    vary.contains_key(name)
}

/// `template` with each `${name}` replaced by its value.
pub fn substitute(template: &str, vars: &BTreeMap<String, String>) -> String {
    let mut text = template.to_string();
    for (name, value) in vars {
        text = text.replace(&format!("${{{name}}}"), value);
    }
    text
}

/// The `${name}` placeholders in `template`.
pub fn placeholders(template: &str) -> Vec<String> {
    template
        .split("${")
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vary() -> BTreeMap<String, Vec<VaryValue>> {
        BTreeMap::from([
            (
                "service".to_string(),
                vec![
                    VaryValue::Text("payment".into()),
                    VaryValue::Text("inventory".into()),
                    VaryValue::Text("shipping".into()),
                ],
            ),
            (
                "delay_ms".to_string(),
                vec![VaryValue::Number(300), VaryValue::Number(600)],
            ),
        ])
    }

    #[test]
    fn a_seed_always_picks_the_same_values_and_seeds_differ() {
        assert_eq!(choose(7, "slow", &vary()), choose(7, "slow", &vary()));
        let picks: std::collections::BTreeSet<String> = (0..50)
            .map(|seed| choose(seed, "slow", &vary())["service"].clone())
            .collect();
        assert_eq!(picks.len(), 3, "fifty seeds must reach every value");
    }

    #[test]
    fn a_pair_fills_two_places() {
        let vary = BTreeMap::from([(
            "segment".to_string(),
            vec![VaryValue::Text("tracedojo.user.tier=gold".into())],
        )]);
        let vars = choose(1, "segment", &vary);
        assert_eq!(
            substitute(r#"{"${segment.key}": "${segment.value}"}"#, &vars),
            r#"{"tracedojo.user.tier": "gold"}"#
        );
        assert!(is_known("segment.key", &vary) && !is_known("segment.name", &vary));
    }

    #[test]
    fn placeholders_are_found_and_replaced() {
        let template = r#"{"service": "${service}", "ms": ${delay_ms}}"#;
        assert_eq!(placeholders(template), vec!["service", "delay_ms"]);
        let vars = BTreeMap::from([
            ("service".to_string(), "cart".to_string()),
            ("delay_ms".to_string(), "300".to_string()),
        ]);
        assert_eq!(
            substitute(template, &vars),
            r#"{"service": "cart", "ms": 300}"#
        );
    }
}
