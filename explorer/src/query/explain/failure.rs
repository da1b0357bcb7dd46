//! Where a trace's failure began: the root cause among the spans in error (or, without any,
//! where a refusal was first given), named with what a person needs to recognise it: its
//! status, `error.type`, HTTP status code, exception and last event, and the call that
//! failed on its answer.

use crate::ids::hex_id;
use crate::store::table::{EventRow, Kind, SpanRow, Status};

use super::{Caller, Exception, Failure, Keys, Outcome, Reader, first, text};

/// Where the failure began, among the spans in `scope`.
///
/// With spans in error: the root causes are those with no failing span below them (the rule
/// of the Errors view), and the first is the one that ended first (a span's status is known
/// when it ends). A failing call whose callee's server span answered an error status without
/// being in error itself (a card declined: the gateway's 402 is the caller's error, not the
/// server's) began with that answer, so the callee's span is named, the call as its caller.
///
/// Without spans in error, a request that was refused (4xx) or answered 5xx anyway began
/// where that answer was first given: the deepest span answering the same class of status.
pub(super) fn first_failure(
    reader: &Reader<'_>,
    scope: &[usize],
    root: usize,
    outcome: Outcome,
) -> Option<(usize, Failure)> {
    let spans = reader.spans;
    let failing = |i: usize| spans[i].status == Status::Error;
    let failed_below = reader.marked_below(failing);
    if let Some(cause) = reader.earliest(
        scope
            .iter()
            .copied()
            .filter(|&i| failing(i) && !failed_below[i]),
    ) {
        let callee = (spans[cause].kind == Kind::Client)
            .then(|| {
                reader.tree.children[cause]
                    .iter()
                    .copied()
                    .filter(|&k| spans[k].kind == Kind::Server)
                    .filter(|&k| reader.http_status(k).is_some_and(|c| c >= 400))
                    .max_by_key(|&k| reader.end(k))
            })
            .flatten();
        return Some(match callee {
            Some(callee) => (callee, failure(reader, callee, Some(cause))),
            None => (cause, failure(reader, cause, None)),
        });
    }
    if outcome == Outcome::Ok {
        return None;
    }
    let class = reader.http_status(root).map(|c| c / 100);
    let answering = |i: usize| class.is_some() && reader.http_status(i).map(|c| c / 100) == class;
    let answered_below = reader.marked_below(answering);
    let origin = reader
        .earliest(
            scope
                .iter()
                .copied()
                .filter(|&i| answering(i) && !answered_below[i]),
        )
        .unwrap_or(root);
    Some((origin, failure(reader, origin, None)))
}

fn failure(reader: &Reader<'_>, i: usize, caller: Option<usize>) -> Failure {
    let span = &reader.spans[i];
    let keys = &reader.keys;
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let http_status_code = reader.http_status(i);
    Failure {
        service: reader.service(i),
        operation: reader.operation(i),
        span_id: hex_id(&span.span_id),
        kind: span.kind.name(),
        status_code: span.status.name(),
        error_type: reader.attr(i, &keys.error_type).map(text),
        status_message: non_empty(span.status_message()),
        http_status_code,
        exception: exception(span, keys),
        last_event: span
            .events()
            .iter()
            .filter(|e| !is_exception(e, keys))
            .max_by_key(|e| e.time)
            .map(|e| reader.table.interner.text(e.name).to_owned()),
        refused: span.status != Status::Error
            && http_status_code.is_some_and(|c| (400..500).contains(&c)),
        caller: caller.map(|c| Caller {
            service: reader.service(c),
            operation: reader.operation(c),
            span_id: hex_id(&reader.spans[c].span_id),
            error_type: reader.attr(c, &keys.error_type).map(text),
            http_status_code: reader.http_status(c),
        }),
    }
}

/// An `exception` event, or an event of another name carrying `exception.*` (some libraries
/// log errors as events of their own).
fn is_exception(event: &EventRow, keys: &Keys) -> bool {
    keys.exception.is_some_and(|x| x == event.name)
        || first(&event.attrs, &keys.exception_type).is_some()
        || first(&event.attrs, &keys.exception_message).is_some()
}

/// The span's exception: its `exception` event, else any event carrying `exception.*`
/// (some libraries log errors as events of their own name).
fn exception(span: &SpanRow, keys: &Keys) -> Option<Exception> {
    let read = |attrs: &[u8]| {
        let kind = first(attrs, &keys.exception_type).map(text);
        let message = first(attrs, &keys.exception_message).map(text);
        (kind.is_some() || message.is_some()).then_some(Exception { kind, message })
    };
    let events = span.events();
    events
        .iter()
        .filter(|e| keys.exception.is_some_and(|x| x == e.name))
        .find_map(|e| read(&e.attrs))
        .or_else(|| events.iter().find_map(|e| read(&e.attrs)))
}
