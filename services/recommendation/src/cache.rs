//! An in-process cache of each category's products, kept for a fixed time (TTL).
//!
//! The catalogue changes rarely and every recommendation needs a whole category, so caching
//! saves a catalog call on most requests. The cost is staleness: a new product appears in
//! recommendations only once its category's entry expires.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::catalog::Product;

/// Products by category slug, each with the moment they were fetched.
///
/// The map is never pruned: there is one entry per category (8 in the shop), and an expired
/// entry is simply overwritten by the next fetch.
#[derive(Debug)]
pub struct CategoryCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, Vec<Product>)>>,
}

impl CategoryCache {
    pub fn new(ttl: Duration) -> Self {
        CategoryCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The category's products if they were fetched less than the TTL ago. Nothing while a
    /// cache failure is in force: every lookup misses, as with a cache that lost its data.
    pub fn get(&self, category: &str) -> Option<Vec<Product>> {
        if failing() {
            return None;
        }
        let entries = self.lock();
        let (fetched_at, products) = entries.get(category)?;
        (fetched_at.elapsed() < self.ttl).then(|| products.clone())
    }

    pub fn insert(&self, category: &str, products: Vec<Product>) {
        self.lock()
            .insert(category.to_string(), (Instant::now(), products));
    }

    /// The lock is held only for a map operation, never across an `.await`. A panic while it
    /// was held cannot leave the map half-updated, so a poisoned lock is safe to reuse.
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Vec<Product>)>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn failing() -> bool {
    tracedojo_kit::faults::request_fault(|fault| {
        matches!(fault, tracedojo_kit::faults::Fault::CacheFailure { .. }).then_some(())
    })
    .is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(id: i64) -> Product {
        Product {
            id,
            sku: format!("KIT-{id:04}"),
            name: format!("Product {id}"),
            description: String::new(),
            category: "kitchen".into(),
            price_cents: 999,
            currency: "USD".into(),
            image: "🍳".into(),
        }
    }

    #[test]
    fn a_fresh_entry_is_returned() {
        let cache = CategoryCache::new(Duration::from_secs(60));
        assert_eq!(cache.get("kitchen"), None);
        cache.insert("kitchen", vec![product(1), product(2)]);
        assert_eq!(cache.get("kitchen").map(|p| p.len()), Some(2));
        assert_eq!(cache.get("books"), None);
    }

    #[test]
    fn an_expired_entry_is_a_miss() {
        // A zero TTL expires every entry at once, so no test has to wait for time to pass.
        let cache = CategoryCache::new(Duration::ZERO);
        cache.insert("kitchen", vec![product(1)]);
        assert_eq!(cache.get("kitchen"), None);
    }
}
