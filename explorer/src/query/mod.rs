//! The questions the API answers, as functions over the span table: search, one trace's
//! waterfall, the service map, RED tables and series, error analysis, and which customers
//! were hit. They hold no state and know nothing of HTTP, so they can be tested and
//! benchmarked directly. Each aggregate view and search can be narrowed to one
//! `service.namespace` ([`namespace`]).

pub mod customers;
pub mod errors;
pub mod explain;
pub mod map;
pub mod namespace;
pub mod params;
pub mod red;
pub mod search;
pub mod separating;
pub mod series;
pub mod trace;
pub mod window;
