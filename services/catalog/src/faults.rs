//! The two faults that change how the catalog itself works, rather than one request:
//!
//! - `missing_index`: the search index is really dropped while the fault is in force, so the
//!   search query really reads the whole table, and is built again when it is cleared.
//! - `n_plus_one`: product lists load their page's ids first and then each product with its
//!   own query, as a lazily loading ORM would.
//!
//! Both show only as what they do to queries: more time in the search spans, more spans in a
//! list request.

use std::future::Future;
use std::time::Duration;

use tracedojo_faults::{Fault, Faults, follower};
use tracedojo_kit::Db;

use crate::store;

/// How soon to try again when the index could not be changed (the database was busy).
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Whether product lists should be loaded one query per product now.
pub fn lists_load_one_by_one() -> bool {
    // Per request: the fault's targeting (a route, a tier, a share of requests) applies.
    tracedojo_kit::faults::request_fault(|f| matches!(f, Fault::NPlusOne { .. }).then_some(()))
        .is_some()
}

/// Whether the search index should be missing now.
pub fn search_index_missing() -> bool {
    follower::installed().is_some_and(|faults| search_index_missing_in(faults))
}

fn search_index_missing_in(faults: &Faults) -> bool {
    in_force(faults, |f| matches!(f, Fault::MissingIndex { .. }))
}

fn in_force(faults: &Faults, kind: impl Fn(&Fault) -> bool) -> bool {
    faults.service_fault(|f| kind(f).then_some(())).is_some()
}

/// Keeps the search index as the plan wants it (dropped while `missing_index` is in force,
/// present otherwise) until `stop` completes: once at start, so an index left dropped by a
/// previous run comes back, then on every new plan and whenever a fault may have expired.
pub async fn follow_search_index(db: Db, stop: impl Future<Output = ()>) {
    tokio::pin!(stop);
    let faults = follower::installed();
    let mut changes = faults.map(|f| f.subscribe());
    // None until the first change succeeds: the database may be in either state at start.
    let mut applied: Option<bool> = None;
    loop {
        let missing = faults.is_some_and(|f| search_index_missing_in(f));
        let mut wake = faults.and_then(|f| f.plan().next_expiry());
        if applied != Some(missing) {
            match set_search_index(&db, missing).await {
                Ok(()) => applied = Some(missing),
                Err(err) => {
                    tracing::warn!(exception.message = %err, "cannot change the search index; trying again");
                    wake = Some(wake.map_or(RETRY_AFTER, |w| w.min(RETRY_AFTER)));
                }
            }
        }
        let Some(changes) = changes.as_mut() else {
            // No plan to follow: nothing will ever ask for another change.
            if applied.is_some() {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(RETRY_AFTER) => continue,
                _ = &mut stop => return,
            }
        };
        let woken = async {
            match wake {
                Some(after) => tokio::time::sleep(after).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            changed = changes.changed() => {
                if changed.is_err() {
                    // The plan can no longer change; keep the index as it is.
                    stop.await;
                    return;
                }
            }
            _ = woken => {}
            _ = &mut stop => return,
        }
    }
}

async fn set_search_index(db: &Db, missing: bool) -> Result<(), sqlx::Error> {
    if missing {
        store::drop_search_index(db).await
    } else {
        store::create_search_index(db).await
    }
}
