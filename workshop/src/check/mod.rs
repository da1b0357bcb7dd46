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
//! | `root-cause` | `SERVICE` | it is where the failures since the start begin (the Errors view's first root cause) |
//! | `segment` | `KEY=VALUE` | it is the stage's `segment` (`tier=gold` may stand for `tracedojo.user.tier=gold`) |
//! | `bad-release` | `SERVICE VERSION` | they are the stage's `service` and `version`, once that release has served |
//! | `db-hints` | `TABLE N` | the table is the one the slowest catalogue query reads, and N how often a listing page repeats its most repeated query |
//! | `queue-lag` | `SERVICE LAG_MS` | the service consumed the participant's latest order, after about that wait (`tolerance`, at least 50 ms) |
//! | `objective` | `METHOD ROUTE` | it is a frontend endpoint whose p95 since the start is over `p95_ms` |
//! | `sampled-count` | `N` | it is how many of the stage's checkouts the explorer holds (within `slack`), and a sampler kept fewer than half |
//! | `export` | nothing | a backend besides the explorer takes the shop's spans without failing, and the participant has a namespace |
//! | `slow-service` | `SERVICE P95_MS` | the service is the one the stage slowed, and the p95 is within `tolerance` of its slowest endpoint's p95 since the start |
//! | `external-service` | nothing | since the start, in the participant's namespace, a frontend call to recommendation has as its child the SERVER span of a recommendation that is not the shop's own (its resource's `telemetry.sdk.language` is not `rust`): one trace crosses the participant's service |
//! | `own-span` | nothing: they change the code | since the start, a checkout whose payment `POST /payments` holds an INTERNAL span of theirs right under it, over half its time (the gateway's wait), and whose checkout `POST /checkout` carries a key that checkout did not send before the start nor the registry (`semconv/`) lists |

mod answer;
mod checkout;
mod code;
mod database;
mod errors;
mod export;
mod external;
mod latency;
mod objective;
mod queue;
mod sampling;

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
    RootCause,
    Segment,
    BadRelease,
    DbHints,
    QueueLag {
        /// How far the answered wait may be from the measured one, as a share.
        tolerance: f64,
    },
    Objective {
        /// The objective: p95 under this many milliseconds.
        p95_ms: f64,
    },
    OwnSpan,
    ExternalService,
    Export,
    SampledCount {
        /// How far the answer may be from the count (spans still arriving).
        slack: u64,
    },
}

impl Check {
    /// Whether `check N` needs an answer (the other kinds look at what the participant did).
    pub fn takes_answer(&self) -> bool {
        match self {
            Check::OwnSpan | Check::ExternalService | Check::Export => false,
            Check::OwnCheckout
            | Check::CheckoutServices
            | Check::BaggageTier
            | Check::SlowService { .. }
            | Check::RootCause
            | Check::Segment
            | Check::BadRelease
            | Check::DbHints
            | Check::QueueLag { .. }
            | Check::Objective { .. }
            | Check::SampledCount { .. } => true,
        }
    }

    /// The names the stage must vary for this check (`${service}` ...).
    pub fn needs_vars(&self) -> &'static [&'static str] {
        match self {
            Check::SlowService { .. } => &["service"],
            Check::Segment => &["segment"],
            Check::BadRelease => &["service", "version"],
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
    /// How many journeys the stage's burst planned (0 without one).
    pub stage_journeys: u64,
}

impl Context<'_> {
    /// The refusal of an answer that is not in this lesson's form.
    fn wrong_form(&self, given: &str) -> WorkshopError {
        answer::wrong_form(self.format_en, self.format_ja, given)
    }

    /// An answer that is one number (`7`).
    fn one_number(&self, given: &str) -> Result<f64, WorkshopError> {
        match answer::words(given).as_slice() {
            [word] => answer::number(word).ok_or_else(|| self.wrong_form(given)),
            _ => Err(self.wrong_form(given)),
        }
    }

    /// An answer that is a word and a number (`payment 480`).
    fn word_and_number(&self, given: &str) -> Result<(String, f64), WorkshopError> {
        match answer::words(given).as_slice() {
            [word, number] => answer::number(number)
                .map(|n| (word.clone(), n))
                .ok_or_else(|| self.wrong_form(given)),
            _ => Err(self.wrong_form(given)),
        }
    }
}

/// The explorer's window (`since`) from the lesson's start until now.
pub fn since_start(context: &Context<'_>) -> String {
    let elapsed_s = crate::progress::now_ms().saturating_sub(context.started_unix_ms) / 1000;
    format!("{}s", elapsed_s.clamp(1, 7 * 24 * 3600))
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
        Check::RootCause => errors::root_cause(context, answer).await,
        Check::Segment => errors::segment(context, answer).await,
        Check::BadRelease => errors::bad_release(context, answer).await,
        Check::DbHints => database::db_hints(context, answer).await,
        Check::QueueLag { tolerance } => queue::queue_lag(context, answer, *tolerance).await,
        Check::Objective { p95_ms } => objective::objective(context, answer, *p95_ms).await,
        Check::OwnSpan => code::own_span_and_attribute(context).await,
        Check::ExternalService => external::own_service(context).await,
        Check::Export => export::export(context).await,
        Check::SampledCount { slack } => sampling::sampled_count(context, answer, *slack).await,
    }
}
