//! The ranges of a run's settings, shared by `tracedojo load`'s flags and profile files, so a
//! value refused on the command line is refused in a file too, with the same words.
//!
//! Every bound is there because a value beyond it breaks a run rather than merely stressing
//! the shop: a think time of years never ends, a billion users do not fit in memory.

use crate::schedule::MAX_RATE;

/// The lowest rate a run may ask for: one journey every 1000 s. Below it a run is silent
/// for longer than anyone watches it.
pub const MIN_RATE: f64 = 0.001;

/// An inclusive range of whole numbers and what they count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    pub min: u64,
    pub max: u64,
    /// What the number counts, e.g. "milliseconds".
    pub unit: &'static str,
    /// Said after the range, e.g. " (a minute)".
    pub note: &'static str,
}

/// How long a run lasts, in seconds: at most a year, what `up`'s background load asks for.
pub const DURATION_S: Bound = Bound {
    min: 0,
    max: 365 * 24 * 3600,
    unit: "seconds",
    note: " (a year; 0 runs until the journey count is reached)",
};
/// The longest think time between two steps; a minute is a long read of one page.
pub const THINK_MAX_MS: Bound = Bound {
    min: 0,
    max: 60_000,
    unit: "milliseconds",
    note: " (a minute)",
};
pub const USERS: Bound = Bound {
    min: 1,
    max: 1_000_000,
    unit: "users",
    note: "",
};
pub const MAX_IN_FLIGHT: Bound = Bound {
    min: 1,
    max: 100_000,
    unit: "journeys",
    note: "",
};
pub const WORKERS: Bound = Bound {
    min: 1,
    max: 256,
    unit: "threads",
    note: "",
};
pub const DECLINED_PER_MILLE: Bound = Bound {
    min: 0,
    max: 1000,
    unit: "purchases per thousand",
    note: "",
};

impl Bound {
    /// `value` if it is in range, else what the range is.
    pub fn check(&self, value: u64) -> Result<u64, String> {
        if (self.min..=self.max).contains(&value) {
            Ok(value)
        } else {
            Err(format!("{value} is out of range: {}", self.allowed()))
        }
    }

    /// Parses a command-line value (for clap): a whole number in range.
    pub fn parse(&self, text: &str) -> Result<u64, String> {
        match text.trim().parse::<u64>() {
            Ok(value) => self.check(value).map_err(|_| self.allowed()),
            Err(_) => Err(format!("not a whole number: {}", self.allowed())),
        }
    }

    /// "give a whole number of milliseconds from 0 to 60000 (a minute)".
    pub fn allowed(&self) -> String {
        format!(
            "give a whole number of {} from {} to {}{}",
            self.unit, self.min, self.max, self.note
        )
    }
}

/// A rate of journeys per second, if it is in range (NaN and infinities are not).
pub fn check_rate(value: f64) -> Result<f64, String> {
    if value.is_finite() && (MIN_RATE..=MAX_RATE).contains(&value) {
        Ok(value)
    } else {
        Err(format!(
            "{} is out of range: {}",
            compact(value),
            rate_allowed()
        ))
    }
}

/// Parses a command-line rate (for clap).
pub fn parse_rate(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(value) => check_rate(value).map_err(|_| rate_allowed()),
        Err(_) => Err(format!("not a number: {}", rate_allowed())),
    }
}

/// "give journeys per second from 0.001 to 1000000".
pub fn rate_allowed() -> String {
    format!(
        "give journeys per second from {} to {}",
        compact(MIN_RATE),
        compact(MAX_RATE)
    )
}

/// A number as people write it: `5`, `0.25`, `1000000`, `1e300`, `1.5e-9`, never a run of
/// hundreds of digits (what `{}` prints for 1e300). Ten significant digits at most: it is
/// said back to someone, not stored.
pub fn compact(value: f64) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    // Rounding through the exponent form drops the binary noise of values such as 0.1 + 0.2.
    let rounded = format!("{value:.9e}")
        .parse::<f64>()
        .ok()
        .filter(|r| r.is_finite())
        .unwrap_or(value);
    let magnitude = rounded.abs();
    if rounded == 0.0 || (1e-4..1e12).contains(&magnitude) {
        rounded.to_string()
    } else {
        format!("{rounded:e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_said_back_compactly() {
        for (value, said) in [
            (5.0, "5"),
            (0.25, "0.25"),
            (0.1 + 0.2, "0.3"),
            (1_000_000.0, "1000000"),
            (1e300, "1e300"),
            (-1e300, "-1e300"),
            (1.5e-9, "1.5e-9"),
            (1e-300, "1e-300"),
            (123_456.789, "123456.789"),
            (0.0, "0"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "inf"),
        ] {
            assert_eq!(compact(value), said, "{value:?}");
        }
        assert!(compact(f64::MAX).len() < 30, "{}", compact(f64::MAX));
    }

    #[test]
    fn out_of_range_values_name_the_range() {
        assert_eq!(THINK_MAX_MS.parse("60000"), Ok(60_000));
        assert_eq!(THINK_MAX_MS.parse(" 0 "), Ok(0));
        for bad in [
            "60001",
            "18446744073709551615",
            "99999999999999999999",
            "-1",
            "1.5",
            "",
        ] {
            let err = THINK_MAX_MS.parse(bad).unwrap_err();
            assert!(err.contains("from 0 to 60000"), "{bad}: {err}");
        }
        assert_eq!(
            USERS.check(0).unwrap_err(),
            "0 is out of range: give a whole number of users from 1 to 1000000"
        );
        assert_eq!(parse_rate("2.5"), Ok(2.5));
        for bad in ["0", "-3", "1e300", "1e-300", "NaN", "inf", "-inf", "fast"] {
            let err = parse_rate(bad).unwrap_err();
            assert!(err.contains("from 0.001 to 1000000"), "{bad}: {err}");
        }
        assert_eq!(
            check_rate(1e300).unwrap_err(),
            "1e300 is out of range: give journeys per second from 0.001 to 1000000"
        );
    }
}
