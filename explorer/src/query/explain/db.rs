//! The database hints of an explanation: a query run again and again (N+1), a query taking
//! a large share of the critical path, a query returning many rows.

use std::collections::HashMap;

use crate::ids::hex_id;
use crate::query::params::ms;
use crate::store::intern::Sym;

use super::{DbHint, MANY_ROWS, REPEATED_QUERY, Reader, SLOW_QUERY_SHARE, number, text};

/// Hints of each kind at most.
const HINTS_PER_KIND: usize = 3;

/// One query's runs in scope.
#[derive(Default)]
struct QueryRuns {
    spans: Vec<usize>,
    total: u64,
    on_path: u64,
}

pub(super) fn db_hints(
    reader: &Reader<'_>,
    scope: &[usize],
    on_path: &[u64],
    share: &dyn Fn(u64) -> f64,
) -> Vec<DbHint> {
    let keys = &reader.keys;
    let mut queries: HashMap<(Sym, String), QueryRuns> = HashMap::new();
    for &i in scope {
        if reader.attr(i, &keys.db_system).is_none() {
            continue;
        }
        let query = reader
            .attr(i, &keys.db_query)
            .map(text)
            .unwrap_or_else(|| reader.operation(i));
        let runs = queries.entry((reader.spans[i].service, query)).or_default();
        runs.spans.push(i);
        runs.total += reader.spans[i].duration();
        runs.on_path += on_path[i];
    }
    // Largest first; among equals, by service and query, so the answer does not depend on
    // the map's order.
    let mut queries: Vec<((Sym, String), QueryRuns)> = queries.into_iter().collect();
    queries.sort_by(|a, b| a.0.1.cmp(&b.0.1).then(a.0.0.cmp(&b.0.0)));
    let service = |sym: Sym| reader.table.interner.text(sym).to_owned();

    let mut repeated: Vec<&((Sym, String), QueryRuns)> = queries
        .iter()
        .filter(|(_, runs)| runs.spans.len() >= REPEATED_QUERY)
        .collect();
    repeated.sort_by_key(|(_, runs)| std::cmp::Reverse((runs.spans.len(), runs.total)));
    let mut slow: Vec<&((Sym, String), QueryRuns)> = queries
        .iter()
        .filter(|(_, runs)| runs.on_path > 0 && share(runs.on_path) >= SLOW_QUERY_SHARE)
        .collect();
    slow.sort_by_key(|(_, runs)| std::cmp::Reverse(runs.on_path));
    let mut many_rows: Vec<(&(Sym, String), usize, i64)> = queries
        .iter()
        .filter_map(|(query, runs)| {
            runs.spans
                .iter()
                .filter_map(|&i| Some((i, reader.attr(i, &keys.db_rows).and_then(number)?)))
                .max_by_key(|&(i, rows)| (rows, std::cmp::Reverse(reader.spans[i].start)))
                .filter(|&(_, rows)| rows >= MANY_ROWS)
                .map(|(i, rows)| (query, i, rows))
        })
        .collect();
    many_rows.sort_by_key(|&(_, _, rows)| std::cmp::Reverse(rows));

    let mut hints = Vec::new();
    hints.extend(
        repeated
            .into_iter()
            .take(HINTS_PER_KIND)
            .map(|((sym, query), runs)| DbHint::RepeatedQuery {
                service: service(*sym),
                query: query.clone(),
                count: runs.spans.len(),
                total_ms: ms(runs.total),
            }),
    );
    hints.extend(
        slow.into_iter()
            .take(HINTS_PER_KIND)
            .map(|((sym, query), runs)| DbHint::SlowQuery {
                service: service(*sym),
                query: query.clone(),
                count: runs.spans.len(),
                ms: ms(runs.on_path),
                share: share(runs.on_path),
            }),
    );
    hints.extend(
        many_rows
            .into_iter()
            .take(HINTS_PER_KIND)
            .map(|((sym, query), i, rows)| DbHint::ManyRows {
                service: service(*sym),
                query: query.clone(),
                span_id: hex_id(&reader.spans[i].span_id),
                rows,
            }),
    );
    hints
}
