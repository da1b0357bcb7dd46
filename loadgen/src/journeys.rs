//! User journeys: what a shopper does on one visit, step by step, with think times.
//!
//! A journey is drawn by weight, then made concrete (which products, which search words,
//! how long the user pauses) from the run's seeded generator, so a plan is reproducible.

use std::time::Duration;

use rand::RngExt;
use rand::rngs::Xoshiro256PlusPlus;

use crate::population::weighted;

/// Product ids the shop's catalogue holds.
pub const PRODUCT_IDS: std::ops::RangeInclusive<u32> = 1..=240;
pub const CATEGORIES: [&str; 8] = [
    "kitchen",
    "garden",
    "outdoor",
    "books",
    "electronics",
    "toys",
    "fashion",
    "coffee",
];
pub const SEARCH_WORDS: [&str; 10] = [
    "cast iron",
    "tent",
    "coffee",
    "lamp",
    "skillet",
    "novel",
    "drone",
    "jacket",
    "kettle",
    "puzzle",
];
/// The shop's test cards: one always approved, one always declined.
pub const APPROVED_CARD: &str = "4242424242424242";
pub const DECLINED_CARD: &str = "4000000000000002";

/// The kinds of visit, with how often each happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JourneyKind {
    Browse,
    Search,
    ViewProduct,
    AbandonCart,
    Purchase,
}

impl JourneyKind {
    pub const ALL: [JourneyKind; 5] = [
        JourneyKind::Browse,
        JourneyKind::Search,
        JourneyKind::ViewProduct,
        JourneyKind::AbandonCart,
        JourneyKind::Purchase,
    ];

    /// The kind named `name` (as in [`JourneyKind::name`]).
    pub fn from_name(name: &str) -> Option<JourneyKind> {
        JourneyKind::ALL
            .into_iter()
            .find(|k| k.name() == name.trim())
    }

    pub fn name(self) -> &'static str {
        match self {
            JourneyKind::Browse => "browse",
            JourneyKind::Search => "search",
            JourneyKind::ViewProduct => "view_product",
            JourneyKind::AbandonCart => "abandon_cart",
            JourneyKind::Purchase => "purchase",
        }
    }
}

/// The default mix, in percent.
pub const DEFAULT_MIX: [(JourneyKind, u32); 5] = [
    (JourneyKind::Browse, 30),
    (JourneyKind::Search, 20),
    (JourneyKind::ViewProduct, 20),
    (JourneyKind::AbandonCart, 15),
    (JourneyKind::Purchase, 15),
];

/// One request of a journey, in the shop's public API terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    ListProducts {
        category: Option<&'static str>,
    },
    Search {
        query: &'static str,
    },
    ViewProduct {
        product_id: u32,
    },
    AddToCart {
        product_id: u32,
        quantity: u32,
    },
    ViewCart,
    Checkout {
        card_number: &'static str,
    },
    /// The order placed by this journey's checkout.
    ViewOrder,
}

/// A step and the pause before it (a person reading the previous page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimedStep {
    pub think: Duration,
    pub step: Step,
}

fn think(rng: &mut Xoshiro256PlusPlus, max_think: Duration) -> Duration {
    if max_think.is_zero() {
        return Duration::ZERO;
    }
    let millis = max_think.as_millis().min(u128::from(u32::MAX)) as u32;
    Duration::from_millis(u64::from(rng.random_range(0..=millis)))
}

fn product(rng: &mut Xoshiro256PlusPlus) -> u32 {
    rng.random_range(PRODUCT_IDS)
}

/// How journeys are made concrete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JourneyOptions {
    /// The longest pause between two steps (pauses are uniform from zero to this).
    pub max_think: Duration,
    /// Purchases paid with the declined test card, per thousand. Zero by default: a decline
    /// is an error on the caller's CLIENT span, and a run without faults should show none.
    pub declined_per_mille: u32,
}

impl Default for JourneyOptions {
    fn default() -> Self {
        JourneyOptions {
            max_think: Duration::from_secs(2),
            declined_per_mille: 0,
        }
    }
}

/// Draws a journey kind from `mix` and makes it concrete.
pub fn draw(
    mix: &[(JourneyKind, u32)],
    rng: &mut Xoshiro256PlusPlus,
    options: JourneyOptions,
) -> (JourneyKind, Vec<TimedStep>) {
    let max_think = options.max_think;
    let kind = weighted(mix, rng);
    let mut steps = Vec::new();
    let mut push = |rng: &mut Xoshiro256PlusPlus, step: Step, first: bool| {
        let pause = if first {
            Duration::ZERO
        } else {
            think(rng, max_think)
        };
        steps.push(TimedStep { think: pause, step });
    };
    match kind {
        JourneyKind::Browse => {
            push(rng, Step::ListProducts { category: None }, true);
            let category = CATEGORIES[rng.random_range(0..CATEGORIES.len())];
            push(
                rng,
                Step::ListProducts {
                    category: Some(category),
                },
                false,
            );
            let id = product(rng);
            push(rng, Step::ViewProduct { product_id: id }, false);
        }
        JourneyKind::Search => {
            let query = SEARCH_WORDS[rng.random_range(0..SEARCH_WORDS.len())];
            push(rng, Step::Search { query }, true);
            let id = product(rng);
            push(rng, Step::ViewProduct { product_id: id }, false);
        }
        JourneyKind::ViewProduct => {
            let id = product(rng);
            push(rng, Step::ViewProduct { product_id: id }, true);
        }
        JourneyKind::AbandonCart => {
            let id = product(rng);
            push(rng, Step::ViewProduct { product_id: id }, true);
            let quantity = rng.random_range(1..=3);
            push(
                rng,
                Step::AddToCart {
                    product_id: id,
                    quantity,
                },
                false,
            );
            push(rng, Step::ViewCart, false);
        }
        JourneyKind::Purchase => {
            let first = product(rng);
            push(rng, Step::ViewProduct { product_id: first }, true);
            push(
                rng,
                Step::AddToCart {
                    product_id: first,
                    quantity: 1,
                },
                false,
            );
            if rng.random_range(0..2) == 0 {
                let second = product(rng);
                let quantity = rng.random_range(1..=2);
                push(
                    rng,
                    Step::AddToCart {
                        product_id: second,
                        quantity,
                    },
                    false,
                );
            }
            push(rng, Step::ViewCart, false);
            let card = if rng.random_range(0..1000) < options.declined_per_mille {
                DECLINED_CARD
            } else {
                APPROVED_CARD
            };
            push(rng, Step::Checkout { card_number: card }, false);
            push(rng, Step::ViewOrder, false);
        }
    }
    (kind, steps)
}
