//! Error-budget arithmetic, as in multi-window burn-rate alerting.
//!
//! An objective of 99.9% success over 30 days allows 0.1% of requests to fail: that is the
//! error budget. The burn rate is how fast it is being spent: the bad share of requests in a
//! window over the share allowed. At 1 the budget lasts exactly the period; at 14.4 an hour
//! spends 2% of a 30-day budget and the whole of it goes in about two days. A single window
//! either reacts late (a long one) or to every blip (a short one); asking both a long and a
//! short window to burn fast catches a real incident quickly and stops saying so soon after
//! it ends.

use serde::Serialize;

const HOUR: f64 = 3600.0;

/// How fast a budget of `budget` (the bad share allowed, e.g. 0.001) is spent when `bad` of
/// `total` requests were bad; `None` without requests.
pub fn burn_rate(bad: usize, total: usize, budget: f64) -> Option<f64> {
    (total > 0 && budget > 0.0).then(|| (bad as f64 / total as f64) / budget)
}

/// The share of the whole budget that burning at `rate` for `window_seconds` spends, when the
/// budget is counted over `period_seconds`.
pub fn budget_spent(rate: f64, window_seconds: f64, period_seconds: f64) -> f64 {
    rate * window_seconds / period_seconds
}

/// How long a whole budget lasts at `rate`, in seconds; `None` at a rate of zero.
pub fn lasts_seconds(rate: f64, period_seconds: f64) -> Option<f64> {
    (rate > 0.0).then(|| period_seconds / rate)
}

/// How urgent a burn is, by the usual thresholds: spending 2% of the budget in an hour or
/// 5% in six hours wakes someone up; 10% in three days (a budget that will not last the
/// period) is a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Burning, but slower than the ticket threshold: the budget outlasts the period.
    Within,
    Ticket,
    Page,
    /// The fastest: 2% of the budget an hour.
    Urgent,
}

/// A rule: this share of the budget spent within this many seconds.
struct Rule {
    severity: Severity,
    spent: f64,
    within: f64,
}

const RULES: [Rule; 3] = [
    Rule {
        severity: Severity::Urgent,
        spent: 0.02,
        within: HOUR,
    },
    Rule {
        severity: Severity::Page,
        spent: 0.05,
        within: 6.0 * HOUR,
    },
    Rule {
        severity: Severity::Ticket,
        spent: 0.10,
        within: 72.0 * HOUR,
    },
];

/// The burn rate at which each severity begins, for a budget counted over `period_seconds`:
/// 14.4, 6 and 1 for 30 days.
pub fn thresholds(period_seconds: f64) -> [(Severity, f64); 3] {
    RULES.map(|rule| (rule.severity, rule.spent * period_seconds / rule.within))
}

/// The severity of burning at `rate` in both windows.
pub fn severity(rate: f64, period_seconds: f64) -> Severity {
    thresholds(period_seconds)
        .into_iter()
        .find(|(_, at)| rate >= *at - 1e-9)
        .map_or(Severity::Within, |(severity, _)| severity)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: f64 = 86_400.0;
    const MONTH: f64 = 30.0 * DAY;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9 * b.abs().max(1.0)
    }

    #[test]
    fn the_usual_thresholds_for_a_thirty_day_budget() {
        let at: Vec<f64> = thresholds(MONTH).iter().map(|(_, rate)| *rate).collect();
        assert!(
            close(at[0], 14.4) && close(at[1], 6.0) && close(at[2], 1.0),
            "{at:?}"
        );
        // Over a week the same shares of budget come with lower rates.
        let week: Vec<f64> = thresholds(7.0 * DAY).iter().map(|(_, r)| *r).collect();
        assert!(close(week[0], 3.36), "{week:?}");
    }

    #[test]
    fn worked_examples() {
        // 99.9% success: a budget of 0.1%. 1.44% of an hour's requests failing burns at
        // 14.4 and spends 2% of the month's budget in that hour; at that rate the budget
        // is gone in 50 hours.
        let rate = burn_rate(144, 10_000, 0.001).expect("requests");
        assert!(close(rate, 14.4), "{rate}");
        assert!(close(budget_spent(rate, HOUR, MONTH), 0.02));
        assert!(close(
            lasts_seconds(rate, MONTH).expect("burning"),
            50.0 * HOUR
        ));
        assert_eq!(severity(rate, MONTH), Severity::Urgent);
        // Six hours at 6 spend 5%; three days at 1 spend 10%.
        assert!(close(budget_spent(6.0, 6.0 * HOUR, MONTH), 0.05));
        assert!(close(budget_spent(1.0, 3.0 * DAY, MONTH), 0.10));
        assert_eq!(severity(6.0, MONTH), Severity::Page);
        assert_eq!(severity(1.0, MONTH), Severity::Ticket);
        assert_eq!(severity(0.99, MONTH), Severity::Within);
        // A full outage against 99.9% burns at 1000: the month's budget lasts 43.2 minutes.
        let outage = burn_rate(500, 500, 0.001).expect("requests");
        assert!(close(outage, 1000.0));
        assert!(close(
            lasts_seconds(outage, MONTH).expect("burning"),
            43.2 * 60.0
        ));
        // A p95 latency objective allows 5% slower: 10% slower burns at 2.
        assert!(close(burn_rate(10, 100, 0.05).expect("requests"), 2.0));
        assert_eq!(burn_rate(0, 0, 0.05), None);
        assert_eq!(lasts_seconds(0.0, MONTH), None);
    }
}
