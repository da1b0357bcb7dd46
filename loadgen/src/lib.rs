//! The load generator behind `tracedojo load` (being built).
//!
//! It follows the open model: every request's intended start time is computed from a
//! schedule before the run, never from when the previous request finished, so a slow shop
//! cannot quietly slow the load down (coordinated omission).
//!
//! Done so far: [`schedule`] (when each journey starts, per load profile), [`population`]
//! (the seeded users and their baggage), [`journeys`] (what each visit does) and [`plan`]
//! (which user starts which journey at each arrival), [`runner`] (sends the plan, open model,
//! with an in-flight cap) and [`recorder`] (corrected and uncorrected HDR latencies).

pub mod http;
pub mod journeys;
pub mod plan;
pub mod population;
pub mod profile_file;
pub mod recorder;
pub mod runner;
pub mod schedule;
pub mod traced;

pub use schedule::{Arrivals, Profile, Schedule, ScheduleError};
