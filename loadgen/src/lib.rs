//! The load generator behind `tracedojo load` (being built).
//!
//! It follows the open model: every request's intended start time is computed from a
//! schedule before the run, never from when the previous request finished, so a slow shop
//! cannot quietly slow the load down (coordinated omission).
//!
//! Done so far: [`schedule`], the arrival plans for each load profile.

pub mod schedule;

pub use schedule::{Arrivals, Profile, Schedule, ScheduleError};
