//! Each profile's plan has the right number of arrivals, in the right shape.

use std::time::Duration;

use super::*;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn plan(profile: Profile, arrivals: Arrivals, duration: u64, seed: u64) -> Vec<Duration> {
    Schedule::new(profile, arrivals, Some(secs(duration)), None, seed)
        .unwrap()
        .offsets()
        .collect()
}

/// Arrivals per window of `window` seconds.
fn per_window(offsets: &[Duration], window: f64, windows: usize) -> Vec<usize> {
    let mut counts = vec![0; windows];
    for offset in offsets {
        let index = (offset.as_secs_f64() / window) as usize;
        if index < windows {
            counts[index] += 1;
        }
    }
    counts
}

fn assert_close(actual: usize, expected: f64, tolerance: f64, what: &str) {
    assert!(
        (actual as f64 - expected).abs() <= tolerance,
        "{what}: {actual} arrivals, expected {expected} ± {tolerance}"
    );
}

#[test]
fn constant_gives_the_rate_in_every_second() {
    let offsets = plan(Profile::Constant { rate: 100.0 }, Arrivals::Uniform, 10, 1);
    assert_eq!(offsets.len(), 1000);
    for (second, count) in per_window(&offsets, 1.0, 10).into_iter().enumerate() {
        assert_close(count, 100.0, 1.0, &format!("second {second}"));
    }
    assert!(
        offsets.windows(2).all(|w| w[0] <= w[1]),
        "offsets are in order"
    );
}

#[test]
fn ramp_grows_linearly() {
    let profile = Profile::Ramp {
        from: 0.0,
        to: 200.0,
        over: secs(10),
    };
    let offsets = plan(profile, Arrivals::Uniform, 10, 1);
    // ∫ 20 t dt over 0..10 = 1000; second i holds 20 i + 10.
    assert_close(offsets.len(), 1000.0, 1.0, "total");
    for (i, count) in per_window(&offsets, 1.0, 10).into_iter().enumerate() {
        assert_close(count, 20.0 * i as f64 + 10.0, 1.0, &format!("second {i}"));
    }
}

#[test]
fn steps_hold_each_rate_for_its_step() {
    let profile = Profile::Steps {
        rates: vec![50.0, 100.0, 150.0],
        step: secs(2),
    };
    let offsets = plan(profile, Arrivals::Uniform, 8, 1);
    let counts = per_window(&offsets, 2.0, 4);
    for (count, expected) in counts.iter().zip([100.0, 200.0, 300.0, 300.0]) {
        assert_close(*count, expected, 1.0, "step");
    }
}

#[test]
fn diurnal_is_quiet_at_night_and_busy_at_noon() {
    let profile = Profile::Diurnal {
        min: 10.0,
        max: 110.0,
        period: secs(24),
    };
    let offsets = plan(profile, Arrivals::Uniform, 24, 1);
    // Mean rate (min + max) / 2 = 60 over 24 s.
    assert_close(offsets.len(), 1440.0, 1.0, "total");
    let hours = per_window(&offsets, 1.0, 24);
    // Night (first and last hour) near the minimum, noon near the maximum, symmetric.
    assert!(hours[0] < 15 && hours[23] < 15, "{hours:?}");
    assert!(hours[11] > 100 && hours[12] > 100, "{hours:?}");
    for h in 0..12 {
        assert!(
            (hours[h] as i64 - hours[23 - h] as i64).abs() <= 1,
            "{hours:?}"
        );
    }
}

#[test]
fn spike_raises_the_rate_only_inside_its_window() {
    let profile = Profile::Spike {
        base: 20.0,
        peak: 200.0,
        at: secs(4),
        length: secs(2),
    };
    let counts = per_window(&plan(profile, Arrivals::Uniform, 10, 1), 1.0, 10);
    for (second, count) in counts.into_iter().enumerate() {
        let expected = if (4..6).contains(&second) {
            200.0
        } else {
            20.0
        };
        assert_close(count, expected, 1.0, &format!("second {second}"));
    }
}

#[test]
fn poisson_arrivals_keep_the_rate_on_average_and_vary() {
    let offsets = plan(Profile::Constant { rate: 200.0 }, Arrivals::Poisson, 50, 7);
    // 10,000 expected; a Poisson count has σ = 100, so 4σ is a generous bound.
    assert_close(offsets.len(), 10_000.0, 400.0, "total");
    let gaps: Vec<f64> = offsets
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64())
        .collect();
    let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
    let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
    // Exponential gaps: standard deviation equals the mean (0.005 s), unlike even spacing.
    assert!((mean - 0.005).abs() < 0.0003, "mean gap {mean}");
    assert!(
        (var.sqrt() / mean - 1.0).abs() < 0.1,
        "sd/mean {}",
        var.sqrt() / mean
    );
}

#[test]
fn the_same_seed_gives_the_same_plan_and_another_seed_does_not() {
    let profile = Profile::Diurnal {
        min: 5.0,
        max: 50.0,
        period: secs(10),
    };
    let a = plan(profile.clone(), Arrivals::Poisson, 10, 42);
    let b = plan(profile.clone(), Arrivals::Poisson, 10, 42);
    let c = plan(profile, Arrivals::Poisson, 10, 43);
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn a_count_ends_the_run_before_the_duration_and_alone() {
    let schedule = Schedule::new(
        Profile::Constant { rate: 100.0 },
        Arrivals::Uniform,
        Some(secs(60)),
        Some(250),
        1,
    )
    .unwrap();
    let offsets: Vec<Duration> = schedule.offsets().collect();
    assert_eq!(offsets.len(), 250);
    assert!(offsets[249] < Duration::from_millis(2_500));
    let count_only = Schedule::new(
        Profile::Constant { rate: 1000.0 },
        Arrivals::Uniform,
        None,
        Some(30),
        1,
    )
    .unwrap();
    assert_eq!(count_only.offsets().count(), 30);
}

#[test]
fn bad_values_are_refused_with_the_field_named() {
    let zero = Schedule::new(
        Profile::Constant { rate: 0.0 },
        Arrivals::Uniform,
        Some(secs(1)),
        None,
        1,
    );
    assert_eq!(
        zero.unwrap_err(),
        ScheduleError::BadRate {
            field: "rate",
            value: 0.0
        }
    );
    let negative = Profile::Ramp {
        from: -1.0,
        to: 5.0,
        over: secs(1),
    }
    .validate();
    assert!(
        negative
            .unwrap_err()
            .to_string()
            .starts_with("from must be")
    );
    let nan = Profile::Constant { rate: f64::NAN }.validate();
    assert!(nan.is_err());
    assert_eq!(
        Schedule::new(
            Profile::Constant { rate: 1.0 },
            Arrivals::Uniform,
            None,
            None,
            1
        )
        .unwrap_err(),
        ScheduleError::Unbounded
    );
    assert_eq!(
        Profile::Steps {
            rates: vec![],
            step: secs(1)
        }
        .validate()
        .unwrap_err(),
        ScheduleError::NoSteps
    );
    let unknown = Profile::from_name("sawtooth", 10.0, secs(10)).unwrap_err();
    assert!(
        unknown
            .to_string()
            .contains("constant, ramp, steps, diurnal, spike")
    );
    for name in PROFILE_NAMES {
        assert!(Profile::from_name(name, 10.0, secs(10)).is_ok(), "{name}");
    }
}

#[test]
fn instances_at_one_rate_interleave_their_evenly_spaced_arrivals() {
    let instance_offsets = |phase: f64| -> Vec<Duration> {
        Schedule::new(
            Profile::Constant { rate: 10.0 },
            Arrivals::Uniform,
            Some(secs(2)),
            None,
            1,
        )
        .unwrap()
        .with_phase(phase)
        .offsets()
        .collect()
    };
    assert_eq!(
        instance_offsets(0.5),
        plan(Profile::Constant { rate: 10.0 }, Arrivals::Uniform, 2, 1)
    );
    let mut all: Vec<Duration> = [0.125, 0.375, 0.625, 0.875]
        .into_iter()
        .flat_map(instance_offsets)
        .collect();
    all.sort();
    assert_eq!(all.len(), 80);
    // Four generators at 10 a second together send one every 25 ms, none at once.
    for (k, offset) in all.iter().enumerate() {
        let expected = 0.025 * (k as f64 + 0.5);
        assert!(
            (offset.as_secs_f64() - expected).abs() < 1e-6,
            "arrival {k} at {offset:?}, expected {expected} s"
        );
    }
}
