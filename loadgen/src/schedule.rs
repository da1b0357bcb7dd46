//! Arrival plans: when each request of a run is meant to start.
//!
//! A [`Profile`] is a rate curve r(t) in requests per second. The plan places the k-th
//! arrival where the expected number of arrivals so far, Λ(t) = ∫₀ᵗ r, reaches k (evenly
//! spaced arrivals), or where it reaches the k-th point of a unit-rate Poisson process
//! (random arrivals with the same curve on average). Only the rate curve differs between
//! profiles; counting, stopping and seeding are shared.

use std::f64::consts::TAU;
use std::time::Duration;

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

use crate::limits::compact;

/// The highest rate a profile may ask for; beyond it a plan would be mostly late sends.
pub const MAX_RATE: f64 = 1_000_000.0;

/// The names `Profile::from_name` accepts, for error messages and `--help`.
pub const PROFILE_NAMES: [&str; 5] = ["constant", "ramp", "steps", "diurnal", "spike"];

/// A rate curve, in requests per second.
#[derive(Debug, Clone, PartialEq)]
pub enum Profile {
    /// The same rate throughout.
    Constant { rate: f64 },
    /// From one rate to another, linearly, over `over` (then stays at `to`).
    Ramp { from: f64, to: f64, over: Duration },
    /// Each rate in turn for `step`; the last one then holds.
    Steps { rates: Vec<f64>, step: Duration },
    /// A day compressed into `period`: `min` at the start (night), `max` half-way (midday).
    Diurnal {
        min: f64,
        max: f64,
        period: Duration,
    },
    /// `base` throughout, `peak` from `at` for `length` (a flash sale, a retry storm).
    Spike {
        base: f64,
        peak: f64,
        at: Duration,
        length: Duration,
    },
}

/// Evenly spaced or Poisson arrivals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrivals {
    Uniform,
    Poisson,
}

/// Why a profile or plan cannot be used; each message says which value and what is allowed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScheduleError {
    #[error(
        "{field} must be a number of requests per second above 0 and at most {}, got {}",
        compact(MAX_RATE),
        compact(*.value)
    )]
    BadRate { field: &'static str, value: f64 },
    #[error("{field} must be longer than zero")]
    ZeroDuration { field: &'static str },
    #[error("steps needs at least one rate")]
    NoSteps,
    #[error("a run needs an end: give a duration, a request count, or both")]
    Unbounded,
    #[error("unknown profile \"{0}\"; choose one of: constant, ramp, steps, diurnal, spike")]
    UnknownProfile(String),
}

fn check_rate(field: &'static str, value: f64, allow_zero: bool) -> Result<(), ScheduleError> {
    let low_ok = if allow_zero {
        value >= 0.0
    } else {
        value > 0.0
    };
    if value.is_finite() && low_ok && value <= MAX_RATE {
        Ok(())
    } else {
        Err(ScheduleError::BadRate { field, value })
    }
}

fn check_duration(field: &'static str, value: Duration) -> Result<(), ScheduleError> {
    if value.is_zero() {
        Err(ScheduleError::ZeroDuration { field })
    } else {
        Ok(())
    }
}

impl Profile {
    /// A profile by name with its usual shape around `rate` (for the command line); files
    /// and flags can then set each parameter.
    pub fn from_name(name: &str, rate: f64, duration: Duration) -> Result<Profile, ScheduleError> {
        let duration = if duration.is_zero() {
            Duration::from_secs(60)
        } else {
            duration
        };
        let profile = match name.trim().to_ascii_lowercase().as_str() {
            "constant" => Profile::Constant { rate },
            "ramp" => Profile::Ramp {
                from: rate / 10.0,
                to: rate,
                over: duration,
            },
            "steps" => Profile::Steps {
                rates: vec![rate / 4.0, rate / 2.0, rate * 3.0 / 4.0, rate],
                step: duration / 4,
            },
            "diurnal" => Profile::Diurnal {
                min: rate / 5.0,
                max: rate,
                period: duration,
            },
            "spike" => Profile::Spike {
                base: rate / 5.0,
                peak: rate,
                at: duration / 3,
                length: duration / 6,
            },
            _ => return Err(ScheduleError::UnknownProfile(name.to_string())),
        };
        profile.validate()?;
        Ok(profile)
    }

    /// Checks every value; a profile that passes yields a finite, positive-rate plan.
    pub fn validate(&self) -> Result<(), ScheduleError> {
        match self {
            Profile::Constant { rate } => check_rate("rate", *rate, false),
            Profile::Ramp { from, to, over } => {
                check_rate("from", *from, true)?;
                check_rate("to", *to, true)?;
                if *from == 0.0 && *to == 0.0 {
                    return Err(ScheduleError::BadRate {
                        field: "to",
                        value: 0.0,
                    });
                }
                check_duration("over", *over)
            }
            Profile::Steps { rates, step } => {
                if rates.is_empty() {
                    return Err(ScheduleError::NoSteps);
                }
                for rate in rates {
                    check_rate("steps rate", *rate, true)?;
                }
                if rates.iter().all(|r| *r == 0.0) {
                    return Err(ScheduleError::BadRate {
                        field: "steps rate",
                        value: 0.0,
                    });
                }
                check_duration("step", *step)
            }
            Profile::Diurnal { min, max, period } => {
                check_rate("min", *min, true)?;
                check_rate("max", *max, false)?;
                check_duration("period", *period)
            }
            Profile::Spike {
                base, peak, length, ..
            } => {
                check_rate("base", *base, true)?;
                check_rate("peak", *peak, false)?;
                check_duration("length", *length)
            }
        }
    }

    /// The rate at `t` seconds into the run.
    pub fn rate_at(&self, t: f64) -> f64 {
        match self {
            Profile::Constant { rate } => *rate,
            Profile::Ramp { from, to, over } => {
                let progress = (t / over.as_secs_f64()).clamp(0.0, 1.0);
                from + (to - from) * progress
            }
            Profile::Steps { rates, step } => {
                let index = (t / step.as_secs_f64()).floor().max(0.0) as usize;
                rates[index.min(rates.len() - 1)]
            }
            Profile::Diurnal { min, max, period } => {
                let phase = TAU * t / period.as_secs_f64();
                min + (max - min) * (1.0 - phase.cos()) / 2.0
            }
            Profile::Spike {
                base,
                peak,
                at,
                length,
            } => {
                let start = at.as_secs_f64();
                if t >= start && t < start + length.as_secs_f64() {
                    *peak
                } else {
                    *base
                }
            }
        }
    }
}

/// A plan: a profile, how arrivals are spaced, and when the run ends.
#[derive(Debug, Clone)]
pub struct Schedule {
    profile: Profile,
    arrivals: Arrivals,
    duration: Option<Duration>,
    count: Option<u64>,
    seed: u64,
    /// Where, in gaps, the first of evenly spaced arrivals falls.
    phase: f64,
}

impl Schedule {
    /// A plan that ends after `duration` or `count` arrivals, whichever comes first.
    pub fn new(
        profile: Profile,
        arrivals: Arrivals,
        duration: Option<Duration>,
        count: Option<u64>,
        seed: u64,
    ) -> Result<Schedule, ScheduleError> {
        profile.validate()?;
        if duration.is_none_or(|d| d.is_zero()) && count.is_none_or(|c| c == 0) {
            return Err(ScheduleError::Unbounded);
        }
        Ok(Schedule {
            profile,
            arrivals,
            duration: duration.filter(|d| !d.is_zero()),
            count: count.filter(|c| *c > 0),
            seed,
            phase: 0.5,
        })
    }

    /// Evenly spaced arrivals begin `phase` (0 to 1) of a gap into the run instead of half a
    /// gap, so that several generators at the same rate interleave their sends (see
    /// [`crate::instance::Instance::phase`]). Poisson arrivals are unaffected.
    pub fn with_phase(mut self, phase: f64) -> Schedule {
        if phase.is_finite() {
            self.phase = phase.clamp(0.0, 1.0);
        }
        self
    }

    /// Every intended start time, as an offset from the start of the run, in order.
    pub fn offsets(&self) -> Offsets<'_> {
        Offsets {
            schedule: self,
            rng: Xoshiro256PlusPlus::seed_from_u64(self.seed),
            t: 0.0,
            expected: 0.0,
            next_target: 0.0,
            produced: 0,
            first: true,
        }
    }
}

/// Iterator over a plan's intended start offsets.
pub struct Offsets<'a> {
    schedule: &'a Schedule,
    rng: Xoshiro256PlusPlus,
    /// Seconds into the run that Λ has been integrated to.
    t: f64,
    /// Λ(t): arrivals expected by `t`.
    expected: f64,
    /// The value of Λ at which the next arrival falls.
    next_target: f64,
    produced: u64,
    first: bool,
}

/// Integration step, in seconds: about a tenth of the gap between arrivals at the current
/// rate, within these bounds, so every plan costs about the same per arrival.
const MIN_STEP: f64 = 0.000_001;
const MAX_STEP: f64 = 0.005;
/// Guard against a zero-rate stretch with no end (a ramp from 0, a diurnal min of 0).
const MAX_SILENCE: f64 = 366.0 * 24.0 * 3600.0;

impl Offsets<'_> {
    fn advance_target(&mut self) {
        let gap = match self.schedule.arrivals {
            Arrivals::Uniform => 1.0,
            // Exponential gaps in Λ-space: a Poisson process with the profile's rate.
            Arrivals::Poisson => {
                let u: f64 = self.rng.random::<f64>();
                -(1.0 - u).ln()
            }
        };
        // Evenly spaced arrivals start at Λ = 0.5 (half a gap in, so windows count fairly),
        // or at the phase one instance of several was given.
        if self.first && self.schedule.arrivals == Arrivals::Uniform {
            self.next_target = self.schedule.phase;
        } else {
            self.next_target += gap;
        }
        self.first = false;
    }
}

impl Iterator for Offsets<'_> {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        if self.schedule.count.is_some_and(|c| self.produced >= c) {
            return None;
        }
        self.advance_target();
        let end = self
            .schedule
            .duration
            .map_or(MAX_SILENCE, |d| d.as_secs_f64());
        // Integrate the rate (midpoint rule) until Λ reaches the target, then interpolate
        // within the last step.
        while self.expected < self.next_target {
            if self.t >= end {
                return None;
            }
            let step =
                (0.1 / self.schedule.profile.rate_at(self.t).max(1.0)).clamp(MIN_STEP, MAX_STEP);
            let rate = self.schedule.profile.rate_at(self.t + step / 2.0);
            let gained = rate * step;
            if self.expected + gained >= self.next_target && gained > 0.0 {
                let fraction = (self.next_target - self.expected) / gained;
                let at = self.t + fraction * step;
                self.t += step;
                self.expected += gained;
                if at >= end {
                    return None;
                }
                self.produced += 1;
                return Some(Duration::from_secs_f64(at));
            }
            self.t += step;
            self.expected += gained;
        }
        // The target was already passed within the previous step (several arrivals in one).
        self.produced += 1;
        Some(Duration::from_secs_f64(self.t.min(end)))
    }
}

#[cfg(test)]
mod tests;
