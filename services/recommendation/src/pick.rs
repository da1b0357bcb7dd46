//! Which products to recommend: a stable choice among the other products of the category.
//!
//! There is no model here, only a hash: each (product, candidate) pair gets a score and the
//! lowest scores win. The same product always gets the same recommendations, which keeps
//! traces comparable and tests exact, while different products get different neighbours.

use crate::catalog::Product;

/// Up to `limit` products from `candidates`, never the product itself, in a fixed order
/// that depends on `product_id`.
#[tracing::instrument(name = "pick recommendations", skip_all, fields(tracedojo.product.id = product_id, tracedojo.recommendation.candidates = candidates.len() as i64))]
pub fn pick_others(product_id: i64, candidates: Vec<Product>, limit: usize) -> Vec<Product> {
    let mut others: Vec<(u64, Product)> = candidates
        .into_iter()
        .filter(|candidate| candidate.id != product_id)
        .map(|candidate| (score(product_id, candidate.id), candidate))
        .collect();
    others.sort_by_key(|(score, candidate)| (*score, candidate.id));
    others.truncate(limit);
    others.into_iter().map(|(_, product)| product).collect()
}

/// SplitMix64 over the pair: cheap, well spread, and identical on every platform and Rust
/// version (std's `DefaultHasher` promises neither).
fn score(product_id: i64, candidate_id: i64) -> u64 {
    let mut z = (product_id as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(candidate_id as u64);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn products(ids: std::ops::RangeInclusive<i64>) -> Vec<Product> {
        ids.map(|id| Product {
            id,
            sku: format!("KIT-{id:04}"),
            name: format!("Product {id}"),
            description: String::new(),
            category: "kitchen".into(),
            price_cents: 999,
            currency: "USD".into(),
            image: "🍳".into(),
        })
        .collect()
    }

    fn ids(products: &[Product]) -> Vec<i64> {
        products.iter().map(|p| p.id).collect()
    }

    #[test]
    fn never_recommends_the_product_itself() {
        for product_id in 1..=30 {
            let picked = pick_others(product_id, products(1..=30), 12);
            assert_eq!(picked.len(), 12);
            assert!(!ids(&picked).contains(&product_id));
        }
    }

    #[test]
    fn is_stable_and_differs_between_products() {
        let first = ids(&pick_others(7, products(1..=30), 4));
        assert_eq!(first, ids(&pick_others(7, products(1..=30), 4)));
        assert_ne!(first, ids(&pick_others(8, products(1..=30), 4)));
    }

    #[test]
    fn a_small_category_gives_fewer() {
        assert_eq!(ids(&pick_others(2, products(1..=3), 4)).len(), 2);
        assert!(pick_others(1, products(1..=1), 4).is_empty());
    }
}
