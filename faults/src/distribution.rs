//! Latency distributions a fault draws from: fixed, uniform, normal, log-normal and Pareto
//! (the long tail of a congested dependency). Every draw is capped, so no fault can park a
//! request for longer than [`MAX_LATENCY_MS`].

use std::time::Duration;

use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::spec::FieldError;

/// The longest delay any fault may add to one request, call or query.
pub const MAX_LATENCY_MS: f64 = 30_000.0;

/// A latency distribution, in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Distribution {
    /// Always `ms`.
    Fixed { ms: f64 },
    /// Evenly between `min_ms` and `max_ms`.
    Uniform { min_ms: f64, max_ms: f64 },
    /// Bell-shaped around `mean_ms` (draws below zero count as zero).
    Normal { mean_ms: f64, stddev_ms: f64 },
    /// Skewed: half the draws under `median_ms`, a tail that grows with `sigma`.
    LogNormal { median_ms: f64, sigma: f64 },
    /// Heavy-tailed: never under `scale_ms`; the smaller `shape`, the longer the tail.
    Pareto { scale_ms: f64, shape: f64 },
}

impl Distribution {
    /// One draw, capped at [`MAX_LATENCY_MS`].
    pub fn sample(&self, rng: &mut impl rand::Rng) -> Duration {
        let ms = match *self {
            Distribution::Fixed { ms } => ms,
            Distribution::Uniform { min_ms, max_ms } => {
                min_ms + (max_ms - min_ms) * rng.random::<f64>()
            }
            Distribution::Normal { mean_ms, stddev_ms } => {
                mean_ms + stddev_ms * standard_normal(rng)
            }
            Distribution::LogNormal { median_ms, sigma } => {
                median_ms * (sigma * standard_normal(rng)).exp()
            }
            Distribution::Pareto { scale_ms, shape } => {
                // 1 - u lies in (0, 1]: never a division by zero.
                scale_ms / (1.0 - rng.random::<f64>()).powf(1.0 / shape)
            }
        };
        Duration::from_secs_f64(ms.clamp(0.0, MAX_LATENCY_MS) / 1000.0)
    }

    /// The `p`-quantile in milliseconds (0 < p < 1), capped like the draws: what a run's
    /// observed percentiles are compared with.
    pub fn quantile_ms(&self, p: f64) -> f64 {
        let ms = match *self {
            Distribution::Fixed { ms } => ms,
            Distribution::Uniform { min_ms, max_ms } => min_ms + (max_ms - min_ms) * p,
            Distribution::Normal { mean_ms, stddev_ms } => mean_ms + stddev_ms * normal_quantile(p),
            Distribution::LogNormal { median_ms, sigma } => {
                median_ms * (sigma * normal_quantile(p)).exp()
            }
            Distribution::Pareto { scale_ms, shape } => scale_ms / (1.0 - p).powf(1.0 / shape),
        };
        ms.clamp(0.0, MAX_LATENCY_MS)
    }

    /// Checks every parameter; `field` is where this distribution sits in the request.
    pub fn validate(&self, field: &str) -> Result<(), FieldError> {
        let in_range = |name: &str, value: f64, low: f64, high: f64| {
            if value.is_finite() && (low..=high).contains(&value) {
                Ok(())
            } else {
                Err(FieldError::new(
                    format!("{field}.{name}"),
                    format!("must be a number from {low} to {high}, not {value}"),
                ))
            }
        };
        match *self {
            Distribution::Fixed { ms } => in_range("ms", ms, 0.0, MAX_LATENCY_MS),
            Distribution::Uniform { min_ms, max_ms } => {
                in_range("min_ms", min_ms, 0.0, MAX_LATENCY_MS)?;
                in_range("max_ms", max_ms, min_ms, MAX_LATENCY_MS)
            }
            Distribution::Normal { mean_ms, stddev_ms } => {
                in_range("mean_ms", mean_ms, 0.0, MAX_LATENCY_MS)?;
                in_range("stddev_ms", stddev_ms, 0.0, MAX_LATENCY_MS)
            }
            Distribution::LogNormal { median_ms, sigma } => {
                in_range("median_ms", median_ms, 0.0, MAX_LATENCY_MS)?;
                in_range("sigma", sigma, 0.0, 3.0)
            }
            Distribution::Pareto { scale_ms, shape } => {
                in_range("scale_ms", scale_ms, 0.0, MAX_LATENCY_MS)?;
                in_range("shape", shape, 0.5, 20.0)
            }
        }
    }

    /// A short description for listings: `log-normal, median 300 ms, sigma 0.5`.
    pub fn describe(&self) -> String {
        match *self {
            Distribution::Fixed { ms } => format!("fixed {ms} ms"),
            Distribution::Uniform { min_ms, max_ms } => format!("uniform {min_ms}-{max_ms} ms"),
            Distribution::Normal { mean_ms, stddev_ms } => {
                format!("normal, mean {mean_ms} ms, stddev {stddev_ms} ms")
            }
            Distribution::LogNormal { median_ms, sigma } => {
                format!("log-normal, median {median_ms} ms, sigma {sigma}")
            }
            Distribution::Pareto { scale_ms, shape } => {
                format!("Pareto, from {scale_ms} ms, shape {shape}")
            }
        }
    }
}

/// A standard normal draw (Box-Muller).
fn standard_normal(rng: &mut impl rand::Rng) -> f64 {
    // 1 - u lies in (0, 1], so the logarithm is finite.
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// The standard normal quantile, by the rational approximation of Abramowitz and Stegun
/// (26.2.23; absolute error under 4.5e-4, far below what a benchmark can resolve).
fn normal_quantile(p: f64) -> f64 {
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    let (q, sign) = if p < 0.5 { (p, -1.0) } else { (1.0 - p, 1.0) };
    let t = (-2.0 * q.ln()).sqrt();
    let numerator = 2.515517 + 0.802853 * t + 0.010328 * t * t;
    let denominator = 1.0 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t;
    sign * (t - numerator / denominator)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::Xoshiro256PlusPlus;

    use super::*;

    /// The empirical p-quantile of 200,000 draws, in milliseconds.
    fn empirical(distribution: &Distribution, p: f64) -> f64 {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let mut draws: Vec<f64> = (0..200_000)
            .map(|_| distribution.sample(&mut rng).as_secs_f64() * 1000.0)
            .collect();
        draws.sort_by(f64::total_cmp);
        draws[((draws.len() as f64) * p) as usize]
    }

    #[test]
    fn draws_follow_their_stated_quantiles() {
        let distributions = [
            Distribution::Fixed { ms: 120.0 },
            Distribution::Uniform {
                min_ms: 100.0,
                max_ms: 300.0,
            },
            Distribution::Normal {
                mean_ms: 200.0,
                stddev_ms: 30.0,
            },
            Distribution::LogNormal {
                median_ms: 150.0,
                sigma: 0.6,
            },
            Distribution::Pareto {
                scale_ms: 50.0,
                shape: 2.5,
            },
        ];
        for distribution in &distributions {
            for p in [0.5, 0.9, 0.99] {
                let stated = distribution.quantile_ms(p);
                let drawn = empirical(distribution, p);
                // The sampling error of a p99 from 200,000 draws of a heavy tail is about 1 %.
                let tolerance = if p > 0.95 { 0.04 } else { 0.02 };
                assert!(
                    (drawn - stated).abs() <= tolerance * stated,
                    "{}: p{} drawn {drawn:.1} ms, stated {stated:.1} ms",
                    distribution.describe(),
                    p * 100.0
                );
            }
        }
    }

    #[test]
    fn no_draw_exceeds_the_cap_or_goes_below_zero() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let wild = Distribution::Pareto {
            scale_ms: 20_000.0,
            shape: 0.5,
        };
        let negative = Distribution::Normal {
            mean_ms: 1.0,
            stddev_ms: 500.0,
        };
        for _ in 0..10_000 {
            assert!(wild.sample(&mut rng) <= Duration::from_secs(30));
            let _ = negative.sample(&mut rng); // clamped at zero, never a panic
        }
    }

    #[test]
    fn out_of_range_parameters_name_their_field() {
        let bad = [
            (Distribution::Fixed { ms: -1.0 }, "latency.distribution.ms"),
            (
                Distribution::Uniform {
                    min_ms: 50.0,
                    max_ms: 10.0,
                },
                "latency.distribution.max_ms",
            ),
            (
                Distribution::LogNormal {
                    median_ms: 100.0,
                    sigma: f64::NAN,
                },
                "latency.distribution.sigma",
            ),
            (
                Distribution::Pareto {
                    scale_ms: 10.0,
                    shape: 0.0,
                },
                "latency.distribution.shape",
            ),
            (
                Distribution::Fixed { ms: 3_600_000.0 },
                "latency.distribution.ms",
            ),
        ];
        for (distribution, field) in bad {
            let error = distribution.validate("latency.distribution").unwrap_err();
            assert_eq!(error.field, field, "{error}");
        }
    }
}
