//! The checks: each kind reads the explorer's API (narrowed to the participant's namespace)
//! and says whether the participant's answer or change is right, and when it is not, where
//! to look, never the answer.
//!
//! A lesson file names its check by `kind`; a kind's parameters sit next to it:
//!
//! | kind | the participant answers | right when |
//! |---|---|---|
//! | `own-checkout` | a trace id | it is a checkout the participant made in the shop (not the load generator's), since the lesson started |
//! | `checkout-services` | a number | it is how many services the recent checkouts cross |
//! | `baggage-tier` | `HEADER TIER` | the header is `baggage` and the tier is what payment recorded for the participant's own checkout |
//! | `slow-service` | `SERVICE P95_MS` | the service is the one the stage slowed, and the p95 is within `tolerance` of its slowest endpoint's p95 since the start |

mod answer;
mod checkout;
mod latency;

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::WorkshopError;
use crate::explorer::Explorer;
use crate::text::Lang;

pub use answer::words;

/// A lesson's check, as its file gives it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Check {
    OwnCheckout,
    CheckoutServices,
    BaggageTier,
    SlowService {
        /// How far the answered p95 may be from the measured one, as a share (0.25 = 25 %).
        tolerance: f64,
    },
}

impl Check {
    /// Whether `check N` needs an answer (the other kinds look at what the participant did).
    pub fn takes_answer(&self) -> bool {
        true
    }

    /// The names the stage must vary for this check (`${service}` ...).
    pub fn needs_vars(&self) -> &'static [&'static str] {
        match self {
            Check::SlowService { .. } => &["service"],
            _ => &[],
        }
    }
}

/// What a check has to go on.
pub struct Context<'a> {
    pub explorer: &'a Explorer,
    pub lang: Lang,
    /// When the participant started the lesson (Unix milliseconds): only later traffic counts.
    pub started_unix_ms: u64,
    /// The stage's values for this participant.
    pub vars: &'a BTreeMap<String, String>,
    /// The lesson's answer format, in both languages, for refusals.
    pub format_en: &'a str,
    pub format_ja: &'a str,
}

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Right,
    Wrong,
    /// The explorer does not hold what is needed to tell yet (no traffic since the start).
    NotYet,
}

/// A check's outcome and what to tell the participant.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub outcome: Outcome,
    pub message: String,
}

impl Verdict {
    fn right(message: String) -> Verdict {
        Verdict {
            outcome: Outcome::Right,
            message,
        }
    }
    fn wrong(message: String) -> Verdict {
        Verdict {
            outcome: Outcome::Wrong,
            message,
        }
    }
    fn not_yet(message: String) -> Verdict {
        Verdict {
            outcome: Outcome::NotYet,
            message,
        }
    }
}

/// Runs `check` on `answer`.
pub async fn run(
    check: &Check,
    context: &Context<'_>,
    answer: &str,
) -> Result<Verdict, WorkshopError> {
    match check {
        Check::OwnCheckout => checkout::own_checkout(context, answer).await,
        Check::CheckoutServices => checkout::services_crossed(context, answer).await,
        Check::BaggageTier => checkout::baggage_tier(context, answer).await,
        Check::SlowService { tolerance } => {
            latency::slow_service(context, answer, *tolerance).await
        }
    }
}
