//! Reading the API's query parameters: durations with units, windows, limits and
//! attribute filters, each refusal naming the parameter and what it allows.

use std::time::{SystemTime, UNIX_EPOCH};

/// A query parameter that could not be used; the API answers it with 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{parameter}: {message}")]
pub struct BadParameter {
    pub parameter: &'static str,
    pub message: String,
}

impl BadParameter {
    pub fn new(parameter: &'static str, message: impl Into<String>) -> Self {
        BadParameter {
            parameter,
            message: message.into(),
        }
    }
}

const NANOS_PER_MS: f64 = 1e6;

/// `250us`, `150ms`, `1.5s`, `2m`, `1h`, `7d`, or a bare number of milliseconds, in
/// nanoseconds (a fraction of a nanosecond is dropped).
pub fn duration(parameter: &'static str, text: &str) -> Result<u64, BadParameter> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let allowed = "write a number with a unit: 250us, 150ms, 1.5s, 2m, 1h, 7d (a bare number means milliseconds)";
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
        return Err(BadParameter::new(
            parameter,
            format!("{text:?} is not a duration; {allowed}"),
        ));
    }
    let nanos_per_unit: u128 = match unit.trim() {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "" | "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        other => {
            return Err(BadParameter::new(
                parameter,
                format!("unknown unit {other:?} in {text:?}; {allowed}"),
            ));
        }
    };
    // In decimal, not floating point: as a float 4.35ms came to 4349999ns, one short of
    // what a `min_duration=4.35ms` means.
    let too_long = || BadParameter::new(parameter, format!("{text:?} is too long"));
    let whole: u128 = match whole {
        "" => 0,
        digits => digits.parse().map_err(|_| too_long())?,
    };
    // Digits past the 20th are far below a nanosecond whatever the unit.
    let (mut fraction_value, mut scale) = (0u128, 1u128);
    for digit in fraction.bytes().take(20) {
        fraction_value = fraction_value * 10 + u128::from(digit - b'0');
        scale *= 10;
    }
    let nanos = whole
        .checked_mul(nanos_per_unit)
        .and_then(|n| n.checked_add(fraction_value * nanos_per_unit / scale))
        .ok_or_else(too_long)?;
    u64::try_from(nanos).map_err(|_| too_long())
}

/// The shortest and longest `since` window.
const MIN_WINDOW: u64 = 1_000_000_000;
pub const MAX_WINDOW: u64 = 7 * 86_400 * 1_000_000_000;
/// The aggregate views' window when none is given.
pub const DEFAULT_WINDOW: u64 = 15 * 60 * 1_000_000_000;

/// A `since` window in nanoseconds, between 1 s and 7 d.
pub fn window(text: Option<&str>) -> Result<u64, BadParameter> {
    let Some(text) = text else {
        return Ok(DEFAULT_WINDOW);
    };
    let nanos = duration("since", text)?;
    if !(MIN_WINDOW..=MAX_WINDOW).contains(&nanos) {
        return Err(BadParameter::new(
            "since",
            format!("{text:?} is outside the allowed 1s to 7d"),
        ));
    }
    Ok(nanos)
}

/// Unix milliseconds, in nanoseconds.
pub fn unix_millis(parameter: &'static str, text: &str) -> Result<u64, BadParameter> {
    let millis: u64 = text.trim().parse().map_err(|_| {
        BadParameter::new(
            parameter,
            format!("{text:?} is not a time; give Unix milliseconds, e.g. 1700000000000"),
        )
    })?;
    millis
        .checked_mul(1_000_000)
        .ok_or_else(|| BadParameter::new(parameter, format!("{text:?} is too far in the future")))
}

/// `limit`: 1 to `max`, `default` when absent.
pub fn limit(text: Option<&str>, default: usize, max: usize) -> Result<usize, BadParameter> {
    let Some(text) = text else {
        return Ok(default);
    };
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(BadParameter::new(
            "limit",
            format!("{text:?} is not a whole number from 1 to {max}"),
        )),
    }
}

/// `true`/`false` (and `1`/`0`, `yes`/`no`, `on`/`off`).
pub fn boolean(parameter: &'static str, text: Option<&str>) -> Result<bool, BadParameter> {
    match text.map(str::trim) {
        None | Some("") => Ok(false),
        Some("true" | "1" | "yes" | "on") => Ok(true),
        Some("false" | "0" | "no" | "off") => Ok(false),
        Some(other) => Err(BadParameter::new(
            parameter,
            format!("{other:?} is not true or false"),
        )),
    }
}

/// `KEY=VALUE`.
pub fn attribute(text: &str) -> Result<(String, String), BadParameter> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_owned(), value.to_owned()))
        }
        _ => Err(BadParameter::new(
            "attr",
            format!("{text:?} is not KEY=VALUE, e.g. attr=tracedojo.user.tier=gold"),
        )),
    }
}

/// Now, in Unix nanoseconds.
pub fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Nanoseconds as fractional milliseconds, for people.
pub fn ms(nanos: u64) -> f64 {
    nanos as f64 / NANOS_PER_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units() {
        assert_eq!(duration("d", "250us"), Ok(250_000));
        assert_eq!(duration("d", "150ms"), Ok(150_000_000));
        assert_eq!(duration("d", "150"), Ok(150_000_000));
        assert_eq!(duration("d", "1.5s"), Ok(1_500_000_000));
        assert_eq!(duration("d", "2m"), Ok(120_000_000_000));
        let error = duration("min_duration", "5 parsecs").expect_err("unknown unit");
        assert_eq!(error.parameter, "min_duration");
        assert!(error.message.contains("150ms"), "{error}");
        assert!(duration("d", "").is_err());
        assert!(duration("d", "-5ms").is_err());
        assert!(duration("d", "1e400s").is_err());
    }

    #[test]
    fn durations_are_exact() {
        assert_eq!(duration("d", "4.35ms"), Ok(4_350_000));
        assert_eq!(duration("d", "39203.7h"), Ok(141_133_320_000_000_000));
        assert_eq!(duration("d", "0.1s"), Ok(100_000_000));
        assert_eq!(duration("d", ".5"), Ok(500_000));
        assert_eq!(duration("d", "2."), Ok(2_000_000));
        assert_eq!(duration("d", "1.5ns"), Ok(1));
        assert_eq!(duration("d", "0.000000000000000000000009d"), Ok(0));
        assert_eq!(duration("d", "18446744073709551615ns"), Ok(u64::MAX));
        for bad in [
            ".",
            "1.2.3",
            "..5",
            "18446744073709551616ns",
            &"9".repeat(60),
        ] {
            assert!(duration("d", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn windows_limits_and_filters_are_checked() {
        assert_eq!(window(None), Ok(DEFAULT_WINDOW));
        assert_eq!(window(Some("5m")), Ok(300_000_000_000));
        assert!(window(Some("10ms")).is_err());
        assert!(window(Some("30d")).is_err());
        assert_eq!(limit(None, 20, 1000), Ok(20));
        assert!(limit(Some("0"), 20, 1000).is_err());
        assert!(limit(Some("1001"), 20, 1000).is_err());
        assert_eq!(
            attribute("tracedojo.user.tier=gold"),
            Ok(("tracedojo.user.tier".into(), "gold".into()))
        );
        assert_eq!(attribute("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert!(attribute("=gold").is_err());
        assert!(attribute("gold").is_err());
        assert_eq!(boolean("errors", Some("true")), Ok(true));
        assert!(boolean("errors", Some("maybe")).is_err());
        assert!(unix_millis("start", "yesterday").is_err());
        assert!(unix_millis("start", "99999999999999999999").is_err());
    }
}
