//! Who the shopper is: attributes derived from the session id.
//!
//! The shop has no accounts. Instead, each session id is hashed into a stable, made-up user:
//! a tier, a region, a device, a locale and a company. The same session is always the same
//! user, so a workshop participant can click around and then find *their* traces by
//! filtering on these attributes. They travel to every service as W3C baggage
//! (see [`User::baggage`]) and land on every SERVER span.

use opentelemetry::KeyValue;
use serde::Serialize;

pub const TIERS: [&str; 4] = ["free", "silver", "gold", "platinum"];

/// How often each tier occurs, in percent: most shoppers are on the free tier, as in real life,
/// which makes "is it only the platinum customers who are slow?" a question worth asking.
const TIER_PERCENT: [u64; 4] = [60, 25, 10, 5];

pub use tracedojo_kit::baggage::REGIONS;

pub const DEVICES: [&str; 3] = ["desktop", "mobile", "tablet"];

const DEVICE_PERCENT: [u64; 3] = [50, 40, 10];

/// Fictional customer companies (B2B buyers), so traces can be grouped by account.
pub const COMPANIES: [&str; 6] = [
    "Contoso",
    "Fabrikam",
    "Northwind Traders",
    "Tailspin Toys",
    "Wingtip Toys",
    "Adventure Works",
];

/// The shopper behind one session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: String,
    pub tier: &'static str,
    pub region: &'static str,
    pub device: &'static str,
    pub locale: &'static str,
    pub company: &'static str,
}

impl User {
    /// The user a session id stands for; the same id always gives the same user.
    pub fn from_session(session_id: &str) -> User {
        let region = pick(session_id, "region", &REGIONS);
        User {
            id: format!("user-{:08x}", stable_hash(session_id, "id") as u32),
            tier: pick_weighted(session_id, "tier", &TIERS, &TIER_PERCENT),
            region,
            device: pick_weighted(session_id, "device", &DEVICES, &DEVICE_PERCENT),
            locale: locale_for(session_id, region),
            company: pick(session_id, "company", &COMPANIES),
        }
    }

    /// The baggage entries that name this user, with the keys every service records.
    pub fn baggage(&self) -> Vec<KeyValue> {
        vec![
            KeyValue::new("user.id", self.id.clone()),
            KeyValue::new("tracedojo.user.tier", self.tier),
            KeyValue::new("tracedojo.user.region", self.region),
            KeyValue::new("tracedojo.user.device", self.device),
            KeyValue::new("tracedojo.user.locale", self.locale),
            KeyValue::new("tracedojo.user.company", self.company),
        ]
    }
}

/// The locale (en-US, ja-JP, de-DE, fr-FR or pt-BR): mostly the region's language, sometimes
/// English. A shopper in Tokyo usually, not always, browses in Japanese.
fn locale_for(session_id: &str, region: &str) -> &'static str {
    if stable_hash(session_id, "locale").is_multiple_of(4) {
        return "en-US";
    }
    match region {
        "ap-northeast-1" => "ja-JP",
        "eu-central-1" => "de-DE",
        "eu-west-1" => "fr-FR",
        "sa-east-1" => "pt-BR",
        _ => "en-US",
    }
}

fn pick(session_id: &str, attribute: &str, choices: &[&'static str]) -> &'static str {
    let index = stable_hash(session_id, attribute) % choices.len() as u64;
    choices[index as usize]
}

/// Like [`pick`], but `choices[i]` comes up `weights[i]` times out of the sum of `weights`.
fn pick_weighted(
    session_id: &str,
    attribute: &str,
    choices: &[&'static str],
    weights: &[u64],
) -> &'static str {
    let total: u64 = weights.iter().sum();
    let mut roll = stable_hash(session_id, attribute) % total.max(1);
    for (choice, weight) in choices.iter().zip(weights) {
        if roll < *weight {
            return choice;
        }
        roll -= weight;
    }
    choices.first().copied().unwrap_or_default()
}

/// FNV-1a over the attribute name and the session id. Unlike std's `DefaultHasher`, its
/// output never changes between Rust releases, so a user keeps their tier across upgrades.
fn stable_hash(session_id: &str, attribute: &str) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    attribute
        .bytes()
        .chain([b':'])
        .chain(session_id.bytes())
        .fold(OFFSET, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(PRIME)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_session_is_always_the_same_user() {
        assert_eq!(
            User::from_session("0123456789abcdef"),
            User::from_session("0123456789abcdef")
        );
    }

    #[test]
    fn attributes_come_from_the_known_lists_and_every_tier_occurs() {
        let mut tiers_seen = std::collections::BTreeSet::new();
        for n in 0..500 {
            let user = User::from_session(&format!("{n:016x}"));
            assert!(TIERS.contains(&user.tier));
            assert!(REGIONS.contains(&user.region));
            assert!(DEVICES.contains(&user.device));
            assert!(["en-US", "ja-JP", "de-DE", "fr-FR", "pt-BR"].contains(&user.locale));
            assert!(COMPANIES.contains(&user.company));
            tiers_seen.insert(user.tier);
        }
        assert_eq!(tiers_seen.len(), TIERS.len());
    }
}
