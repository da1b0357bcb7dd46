//! The load generator behind `tracedojo load`.
//!
//! It follows the open model: every request's intended start time is computed from a
//! schedule before the run, never from when the previous request finished, so a slow shop
//! cannot quietly slow the load down (coordinated omission).
//!
//! The parts: [`schedule`] (when each journey starts, per load profile), [`population`] (the
//! seeded users and their baggage), [`journeys`] (what each visit does), [`plan`] (which user
//! starts which journey at each arrival), [`runner`] (sends the plan on worker threads, with an
//! in-flight cap), [`http`] (the lean HTTP/1.1 client each worker uses), [`traced`] (each
//! request as a root span of service `loadgenerator`), [`recorder`] (corrected and uncorrected
//! HDR latencies, and whether anything answered), [`liveness`] (says when the target stops
//! answering and when it is back), [`profile_file`] (settings from a TOML file),
//! [`limits`] (the ranges of the settings, shared by flags and files), [`instance`] (one
//! generator of several, each playing its own share of the users) and [`report`] (the JSON
//! report of a run, and the exact merge of several generators' reports).

pub mod http;
pub mod instance;
pub mod journeys;
pub mod limits;
pub mod liveness;
pub mod plan;
pub mod population;
pub mod profile_file;
pub mod recorder;
pub mod report;
pub mod runner;
pub mod schedule;
pub mod traced;

pub use schedule::{Arrivals, Profile, Schedule, ScheduleError};
