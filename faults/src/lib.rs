//! Faults: the incidents tracedojo can cause at run time, for people to find in traces.
//!
//! - [`spec`]: what a fault is ([`spec::Fault`], one variant per kind of incident), what it
//!   hits ([`spec::Targeting`]: probability, route, baggage attributes, service version)
//!   and how values are checked.
//! - [`distribution`]: the latency distributions faults draw from.
//! - [`presets`]: named incidents ("slow-payment-gateway", "missing-index", ...).
//! - [`plan`]: the plan of faults in force and its store, the one source of truth.
//! - [`api`]: the control API that serves the store; [`client`]: what programs outside the
//!   shop use to call it.
//! - [`follower`]: what each service runs: it follows the plan and answers the kit's hooks.
//!
//! A fault causes the mechanism of an incident, not a label: spans show only its symptoms,
//! unless the plan's reveal switch is on.

pub mod api;
pub mod client;
pub mod distribution;
pub mod follower;
pub mod plan;
pub mod presets;
pub mod spec;

pub use distribution::Distribution;
pub use follower::Faults;
pub use plan::{FaultStore, Plan};
pub use spec::{Fault, FaultSpec, Targeting};
