//! Carriers and prices: who delivers to each region, and what a delivery costs.

use serde::Serialize;
use tracing::field::Empty;

/// A carrier serving one region, with its tariff.
#[derive(Debug)]
pub struct Carrier {
    pub name: &'static str,
    /// Starts every tracking number, as a carrier's own numbers do.
    pub tracking_prefix: &'static str,
    pub base_cents: i64,
    pub per_item_cents: i64,
    pub base_days: i64,
}

/// The regions the shop ships to and the carrier for each.
static CARRIERS: [(&str, Carrier); 7] = [
    ("us-east-1", carrier("UPS Ground", "1Z", 599, 150, 3)),
    ("us-west-2", carrier("USPS Priority", "94", 549, 140, 3)),
    ("eu-west-1", carrier("An Post", "CE", 499, 120, 2)),
    ("eu-central-1", carrier("DHL Paket", "JJD", 449, 110, 2)),
    (
        "ap-northeast-1",
        carrier("Yamato Transport", "YT", 650, 100, 1),
    ),
    (
        "ap-southeast-2",
        carrier("Australia Post", "AP", 899, 200, 5),
    ),
    ("sa-east-1", carrier("Correios", "BR", 999, 250, 8)),
];

/// Who delivers an order whose region this service does not know (a newer checkout, say):
/// slower and dearer, but the parcel still leaves.
pub static INTERNATIONAL: Carrier = carrier("International Post", "IP", 1499, 300, 10);

const fn carrier(
    name: &'static str,
    tracking_prefix: &'static str,
    base_cents: i64,
    per_item_cents: i64,
    base_days: i64,
) -> Carrier {
    Carrier {
        name,
        tracking_prefix,
        base_cents,
        per_item_cents,
        base_days,
    }
}

/// The regions quotes can be asked for, in a stable order (for error messages).
pub fn regions() -> impl Iterator<Item = &'static str> {
    CARRIERS.iter().map(|(region, _)| *region)
}

pub fn carrier_for(region: &str) -> Option<&'static Carrier> {
    CARRIERS
        .iter()
        .find(|(name, _)| *name == region)
        .map(|(_, carrier)| carrier)
}

/// What `POST /quotes` answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quote {
    pub carrier: &'static str,
    pub cost_cents: i64,
    pub estimated_days: i64,
}

/// The price and time of delivering `item_count` items to `region`, or `None` for a region
/// no carrier serves.
#[tracing::instrument(
    name = "compute shipping quote",
    skip_all,
    fields(tracedojo.shipping.region = region, tracedojo.shipping.item_count = item_count, tracedojo.shipping.carrier = Empty)
)]
pub fn compute_quote(region: &str, item_count: i64) -> Option<Quote> {
    let carrier = carrier_for(region)?;
    tracing::Span::current().record("tracedojo.shipping.carrier", carrier.name);
    let extra_items = item_count.saturating_sub(1).max(0);
    Some(Quote {
        carrier: carrier.name,
        cost_cents: carrier.base_cents + carrier.per_item_cents * extra_items,
        // A large order needs a pallet, not a parcel: one more day for every ten items.
        estimated_days: carrier.base_days + extra_items / 10,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_region_has_a_carrier_and_more_items_cost_more() {
        for region in regions() {
            let (Some(one), Some(many)) = (compute_quote(region, 1), compute_quote(region, 25))
            else {
                panic!("no quote for {region}");
            };
            assert!(many.cost_cents > one.cost_cents, "{region}");
            assert!(many.estimated_days > one.estimated_days, "{region}");
        }
    }

    #[test]
    fn an_unknown_region_gets_no_quote() {
        assert_eq!(compute_quote("moon-1", 1), None);
    }
}
