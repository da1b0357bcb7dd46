//! The `namespace` filter of search, the service map, RED and errors: only spans whose
//! resource has `service.namespace` with the given value.
//!
//! Many people (or teams, or environments) can send to one explorer, each under a
//! `service.namespace` of their own, and each wants to see only theirs. The explorer knows
//! nothing of who they are: the namespace is just a resource attribute, which the store
//! already indexes like every other (per trace, when a resource first joins it). So the
//! filter costs nothing on the ingest path: a query narrows its traces with that index entry,
//! then checks each span's resource, once per resource.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};

use crate::store::attrs;
use crate::store::index;
use crate::store::intern::Sym;
use crate::store::table::{SpanRow, Table, TraceEntry};

use super::window::Window;

/// The resource attribute the filter reads.
pub const KEY: &str = "service.namespace";

/// A namespace filter resolved against one table.
#[derive(Debug)]
pub enum Namespace<'a> {
    /// No filter: every span.
    All,
    /// A namespace no stored resource has: no span.
    Nothing,
    Only {
        key: Sym,
        wanted: &'a str,
        /// The traces the index lists under `service.namespace=wanted` (of a span or a
        /// resource), oldest first; `None` when the value is too long to be indexed.
        traces: Option<&'a VecDeque<u64>>,
        /// Whether each resource seen so far has the namespace: a trace's spans share a
        /// handful of resources, so each is read once.
        resources: RefCell<HashMap<u32, bool>>,
    },
}

impl<'a> Namespace<'a> {
    pub fn new(table: &'a Table, wanted: Option<&'a str>) -> Namespace<'a> {
        let Some(wanted) = wanted else {
            return Namespace::All;
        };
        let Some(key) = table.interner.lookup(KEY) else {
            return Namespace::Nothing;
        };
        let traces = match index::attr_filter_key(key, wanted) {
            Some(k) => match table.index.list(k) {
                Some(list) => Some(list),
                None => return Namespace::Nothing,
            },
            None => None,
        };
        Namespace::Only {
            key,
            wanted,
            traces,
            resources: RefCell::new(HashMap::new()),
        }
    }

    /// Whether the span's resource is of the namespace.
    pub fn holds(&self, table: &Table, span: &SpanRow) -> bool {
        match self {
            Namespace::All => true,
            Namespace::Nothing => false,
            Namespace::Only {
                key,
                wanted,
                resources,
                ..
            } => *resources
                .borrow_mut()
                .entry(span.resource)
                .or_insert_with(|| resource_has(table, span.resource, *key, wanted)),
        }
    }

    /// The traces of the window that may hold a span of the namespace, newest first: those
    /// the index lists (every trace of the window when there is no filter).
    pub fn traces<'t>(&self, table: &'t Table, window: &Window) -> Vec<&'t TraceEntry> {
        match self {
            Namespace::All | Namespace::Only { traces: None, .. } => window.traces(table),
            Namespace::Nothing => Vec::new(),
            Namespace::Only {
                traces: Some(list), ..
            } => window.traces_among(table, list),
        }
    }
}

/// Whether resource `id` has `key` with the value `wanted` (as an attribute filter compares).
pub fn resource_has(table: &Table, id: u32, key: Sym, wanted: &str) -> bool {
    table
        .resource(id)
        .and_then(|r| attrs::get(&r.attrs, key))
        .is_some_and(|value| value.matches(wanted))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::Value;

    use super::*;
    use crate::store::StoredSpan;

    /// A one-span trace of `service`, `namespace` on its resource (none when `None`),
    /// starting `start` ns after the epoch.
    fn span(trace: u64, service: &str, namespace: Option<&str>, start: u64) -> StoredSpan {
        let mut resource = BTreeMap::from([("service.name".to_owned(), Value::from(service))]);
        if let Some(namespace) = namespace {
            resource.insert(KEY.to_owned(), Value::from(namespace));
        }
        StoredSpan {
            trace_id: format!("{trace:032x}"),
            span_id: format!("{:016x}", trace + 1),
            parent_span_id: String::new(),
            name: "GET /".into(),
            kind: "SERVER".into(),
            start_unix_nanos: start,
            end_unix_nanos: start + 10,
            status_code: "UNSET".into(),
            status_message: String::new(),
            attributes: BTreeMap::new(),
            events: vec![],
            links: vec![],
            resource,
            scope_name: String::new(),
        }
    }

    fn services(table: &Table, namespace: Option<&str>, window: Window) -> Vec<String> {
        let filter = Namespace::new(table, namespace);
        filter
            .traces(table, &window)
            .into_iter()
            .flat_map(|t| &t.spans)
            .filter(|s| filter.holds(table, s))
            .map(|s| table.interner.text(s.service).to_owned())
            .collect()
    }

    #[test]
    fn only_the_spans_of_the_namespace_in_the_window_newest_first() {
        let long = "n".repeat(index::MAX_INDEXED_VALUE + 1);
        let mut table = Table::new(usize::MAX, usize::MAX);
        let mut spans = vec![
            span(1, "a-old", Some("a"), 100),
            span(2, "b", Some("b"), 200),
            span(3, "none", None, 300),
            span(4, "long", Some(&long), 400),
        ];
        spans.extend((5..10).map(|n| span(n, &format!("a{n}"), Some("a"), n * 100)));
        table.insert_stored(spans);
        let everything = Window::since(0, 2000);
        assert_eq!(
            services(&table, Some("a"), everything),
            ["a9", "a8", "a7", "a6", "a5", "a-old"]
        );
        let recent = Window::since(650, 2000);
        assert_eq!(services(&table, Some("a"), recent), ["a9", "a8", "a7"]);
        assert_eq!(services(&table, Some("b"), everything), ["b"]);
        // Too long for the index: every trace is read, and still only its spans count.
        assert!(matches!(
            Namespace::new(&table, Some(&long)),
            Namespace::Only { traces: None, .. }
        ));
        assert_eq!(services(&table, Some(&long), everything), ["long"]);
        assert!(matches!(
            Namespace::new(&table, Some("c")),
            Namespace::Nothing
        ));
        assert!(services(&table, Some("c"), everything).is_empty());
        assert_eq!(services(&table, None, everything).len(), 9);
    }

    #[test]
    fn a_store_without_namespaces_matches_none() {
        let mut table = Table::new(usize::MAX, usize::MAX);
        table.insert_stored(vec![span(1, "a", None, 100)]);
        assert!(matches!(
            Namespace::new(&table, Some("a")),
            Namespace::Nothing
        ));
    }
}
