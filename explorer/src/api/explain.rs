//! `GET /api/traces/{trace_id}/explain`: one trace in plain words (see
//! [`crate::query::explain`]). Reads and checks the parameters; a malformed one is a 400
//! naming it, an unknown trace or a span not in it a 404.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Json, Response};

use crate::query::explain::{self, Lang, NotInTrace, Request};
use crate::query::params::BadParameter;
use crate::store::table::unhex;

use super::{ApiError, ApiState, Pairs, Params, run, trace_id_of};

pub(super) const PARAMETERS: &[&str] = &["lang", "span", "objective"];

pub(super) async fn explain_trace(
    State(state): State<ApiState>,
    Path(trace_id): Path<String>,
    Query(pairs): Query<Pairs>,
) -> Result<Response, ApiError> {
    let id = trace_id_of(&trace_id)?;
    let params = Params::new(pairs, PARAMETERS)?;
    let lang = Lang::parse(params.get("lang"))?;
    let span = params
        .get("span")
        .map(|text| {
            unhex::<8>(text.trim()).ok_or_else(|| {
                BadParameter::new(
                    "span",
                    format!("{text:?} is not a span id: give 16 hex digits"),
                )
            })
        })
        .transpose()?;
    let objective = params.duration("objective")?;
    if objective == Some(0) {
        return Err(BadParameter::new(
            "objective",
            "the objective must be longer than 0; give a duration such as 800ms or 1.5s",
        )
        .into());
    }
    let request = Request {
        span,
        objective,
        objectives: state.latency_objectives.clone(),
    };
    let trace_id = trace_id.to_ascii_lowercase();
    run(&state.store, move |table| {
        let Some(trace) = table.trace(&id) else {
            return Err(ApiError::NotFound(format!(
                "no trace {trace_id} is stored (it may not have arrived yet, or was evicted to stay within the store's bounds)"
            )));
        };
        match explain::explain(table, trace, &request, lang) {
            Ok(explanation) => Ok(Json(explanation).into_response()),
            Err(NotInTrace::Span(span)) => Err(ApiError::NotFound(format!(
                "span {span} is not in trace {trace_id} (it may not have arrived yet); leave span out to explain the whole request"
            ))),
            Err(NotInTrace::Empty) => Err(ApiError::NotFound(format!(
                "trace {trace_id} holds no spans to explain"
            ))),
        }
    })
    .await?
}
