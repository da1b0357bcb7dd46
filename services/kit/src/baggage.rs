//! The user attributes that travel with every request as W3C baggage.
//!
//! The frontend (or the load generator) decides who the user is; every service downstream
//! receives these entries in the `baggage` header and copies them onto its SERVER span, so a
//! trace can be filtered by tier, region or company in any backend.
//!
//! The keys are the ones the spans carry: the shop's own under `tracedojo.` (see `semconv/` at the
//! top of the repository), `user.id` and `user_agent.synthetic.type` from the OpenTelemetry
//! registry, so a learner sees the same name in the header and on every span.

use opentelemetry::Context;
use opentelemetry::baggage::BaggageExt;

/// Baggage keys copied onto spans. Anything else in the header is passed on but not recorded:
/// baggage comes from outside and must not be able to fill spans with arbitrary data.
pub const USER_KEYS: [&str; 7] = [
    "user.id",
    "tracedojo.user.tier",
    "tracedojo.user.region",
    "tracedojo.user.device",
    "tracedojo.user.locale",
    "tracedojo.user.company",
    SYNTHETIC_KEY,
];

/// Marks traffic that no person made (the load generator's), as the OpenTelemetry registry
/// says: `test` for synthetic tests, `bot` for crawlers.
pub const SYNTHETIC_KEY: &str = "user_agent.synthetic.type";

/// The values the registry allows for [`SYNTHETIC_KEY`]; anything else is not recorded.
const SYNTHETIC_VALUES: [&str; 2] = ["test", "bot"];

/// The regions users live in and the shop ships to: the values of `tracedojo.user.region`.
pub const REGIONS: [&str; 7] = [
    "us-east-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-northeast-1",
    "ap-southeast-2",
    "sa-east-1",
];

/// The recorded baggage entries of a context, in [`USER_KEYS`] order.
pub fn user_entries(cx: &Context) -> Vec<(&'static str, String)> {
    let baggage = cx.baggage();
    USER_KEYS
        .iter()
        .filter_map(|key| baggage.get(*key).map(|v| (*key, v.as_str().to_string())))
        .filter(|(key, value)| *key != SYNTHETIC_KEY || SYNTHETIC_VALUES.contains(&value.as_str()))
        .collect()
}
