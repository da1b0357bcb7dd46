//! `GET /api/customers` (see `explorer/API.md`): reads the window, the customer attribute
//! and the other parameters, and runs [`crate::query::customers`] off the async workers.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Json, Response};

use crate::query::customers::{self, CustomerQuery};
use crate::query::params::{self, BadParameter};
use crate::query::window::Window;

use super::{ApiError, ApiState, Pairs, Params, run};

const PARAMETERS: &[&str] = &[
    "since",
    "start",
    "end",
    "attribute",
    "slower_than",
    "namespace",
    "limit",
];
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 1000;

pub(super) async fn customers(
    State(state): State<ApiState>,
    Query(pairs): Query<Pairs>,
) -> Result<Response, ApiError> {
    let params = Params::new(pairs, PARAMETERS)?;
    let query = CustomerQuery {
        attribute: params
            .text("attribute")
            .map(|a| a.trim().to_owned())
            .unwrap_or_else(|| state.customer_attribute.to_string()),
        window: window(&params, params::now_nanos())?,
        slower_than: params.duration("slower_than")?,
        namespace: params.text("namespace"),
        limit: params::limit(params.get("limit"), DEFAULT_LIMIT, MAX_LIMIT)?,
    };
    run(&state.store, move |table| {
        Json(customers::customers(table, &query)).into_response()
    })
    .await
}

/// The window: `start` to `end` (Unix ms), or the `since` before `end` (15 minutes by
/// default); `end` is now unless given.
fn window(params: &Params, now: u64) -> Result<Window, BadParameter> {
    let start = params
        .get("start")
        .map(|t| params::unix_millis("start", t))
        .transpose()?;
    let end = params
        .get("end")
        .map(|t| params::unix_millis("end", t))
        .transpose()?
        .unwrap_or(now);
    let from = match (start, params.get("since")) {
        (Some(_), Some(_)) => {
            return Err(BadParameter::new(
                "since",
                "give either since or start, not both",
            ));
        }
        (Some(start), None) => start,
        (None, since) => end.saturating_sub(params::window(since)?),
    };
    if from > end {
        return Err(BadParameter::new("end", "end is before start"));
    }
    Ok(Window {
        from,
        now: end,
        until: u64::MAX,
    })
}
