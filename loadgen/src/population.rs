//! The users a run plays: a seeded population whose attributes travel as W3C baggage.
//!
//! The same seed gives the same people, so a run can be repeated and a workshop question
//! ("which tier sees the errors?") has the same answer for everyone.

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

/// `(value, weight)`: most shoppers are on the free tier, a few on platinum.
pub const TIERS: [(&str, u32); 4] = [("free", 60), ("silver", 25), ("gold", 12), ("platinum", 3)];
pub const REGIONS: [(&str, u32); 7] = [
    ("us-east-1", 25),
    ("us-west-2", 15),
    ("eu-west-1", 20),
    ("eu-central-1", 10),
    ("ap-northeast-1", 15),
    ("ap-southeast-2", 8),
    ("sa-east-1", 7),
];
pub const DEVICES: [(&str, u32); 3] = [("desktop", 50), ("mobile", 42), ("tablet", 8)];
/// Fictional customer companies the users belong to.
pub const COMPANIES: [(&str, u32); 6] = [
    ("Contoso", 25),
    ("Fabrikam", 20),
    ("Northwind Traders", 20),
    ("Tailspin Toys", 15),
    ("Wide World Importers", 12),
    ("Adventure Works", 8),
];

/// One shopper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    /// The user's own session: each journey's cart session starts with it (see
    /// [`User::journey_session`]).
    pub session_id: String,
    pub tier: &'static str,
    pub region: &'static str,
    pub device: &'static str,
    pub locale: &'static str,
    pub company: &'static str,
    /// The W3C `baggage` header value that carries this user, made once.
    pub baggage: String,
}

impl User {
    /// The session (and so the cart) of one journey of this user: the user's session, the
    /// run's id and the journey's number in the plan.
    ///
    /// The shop keeps one cart per session, so two journeys of one user under way at once
    /// must not share a session: the first checkout would empty the cart the second is about
    /// to pay for. Two runs with the same seed (`up`'s background load and someone's own run)
    /// plan the same journeys for the same users at the same moments; the run's id, random
    /// per process, keeps their carts apart while the plans stay the same.
    pub fn journey_session(&self, run: u32, journey: u64) -> String {
        // At most 46 characters of [0-9a-z-]: within the shop's 64 of [A-Za-z0-9_-].
        format!("{}-{run:08x}-{journey:x}", self.session_id)
    }

    /// The W3C `baggage` header value that carries this user (marked synthetic: load, not a
    /// person).
    fn baggage_header(&self) -> String {
        format!(
            "user.id={},tracedojo.user.tier={},tracedojo.user.region={},tracedojo.user.device={},tracedojo.user.locale={},tracedojo.user.company={},user_agent.synthetic.type=test",
            self.id,
            self.tier,
            self.region,
            self.device,
            self.locale,
            encode_baggage_value(self.company)
        )
    }
}

/// Baggage values are percent-encoded where they would break the header (spaces, commas).
fn encode_baggage_value(value: &str) -> String {
    value
        .chars()
        .map(|c| match c {
            ' ' => "%20".to_string(),
            ',' => "%2C".to_string(),
            ';' => "%3B".to_string(),
            '=' => "%3D".to_string(),
            other => other.to_string(),
        })
        .collect()
}

/// Picks from `(value, weight)` pairs with one uniform draw.
pub fn weighted<T: Copy>(choices: &[(T, u32)], rng: &mut Xoshiro256PlusPlus) -> T {
    let total: u32 = choices.iter().map(|(_, w)| w).sum();
    let mut ticket = rng.random_range(0..total.max(1));
    for (value, weight) in choices {
        if ticket < *weight {
            return *value;
        }
        ticket -= weight;
    }
    choices[choices.len() - 1].0
}

fn locale_for(region: &str, rng: &mut Xoshiro256PlusPlus) -> &'static str {
    // Mostly the region's language, sometimes English anywhere.
    if rng.random_range(0..10) < 2 {
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

/// A fixed set of users, drawn from a seed.
#[derive(Debug, Clone)]
pub struct Population {
    users: Vec<User>,
}

impl Population {
    pub fn new(size: usize, seed: u64) -> Population {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x7573_6572_7300_0000);
        let users = (0..size.max(1))
            .map(|n| {
                let region = weighted(&REGIONS, &mut rng);
                let mut user = User {
                    id: format!("load-{seed:x}-{n:05}"),
                    session_id: format!("load{:016x}", rng.random::<u64>()),
                    tier: weighted(&TIERS, &mut rng),
                    region,
                    device: weighted(&DEVICES, &mut rng),
                    locale: locale_for(region, &mut rng),
                    company: weighted(&COMPANIES, &mut rng),
                    baggage: String::new(),
                };
                user.baggage = user.baggage_header();
                user
            })
            .collect();
        Population { users }
    }

    pub fn users(&self) -> &[User] {
        &self.users
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}
