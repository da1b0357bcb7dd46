//! The run plan: for each arrival of the schedule, which user starts which journey.
//!
//! Everything random comes from one seed, so `--seed N` gives the same plan every time.

use std::time::Duration;

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

use crate::instance::Instance;
use crate::journeys::{self, JourneyKind, JourneyOptions, TimedStep};
use crate::population::Population;
use crate::schedule::Schedule;

/// One journey to start at `offset` from the beginning of the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedJourney {
    /// Its place in the plan, from 0: with the run's id, it names the journey's own cart
    /// session (see [`crate::population::User::journey_session`]).
    pub sequence: u64,
    pub offset: Duration,
    pub user: usize,
    pub kind: JourneyKind,
    pub steps: Vec<TimedStep>,
}

/// Lazily yields the plan of a run.
pub fn plan<'a>(
    schedule: &'a Schedule,
    population: &'a Population,
    mix: &'a [(JourneyKind, u32)],
    options: JourneyOptions,
    seed: u64,
) -> impl Iterator<Item = PlannedJourney> + 'a {
    plan_instance(schedule, population, mix, options, seed, Instance::WHOLE)
}

/// Lazily yields the plan of one instance of several: only its share of the population
/// starts journeys. `seed` is the instance's own ([`Instance::seed`]); the population is
/// the one every instance shares.
pub fn plan_instance<'a>(
    schedule: &'a Schedule,
    population: &'a Population,
    mix: &'a [(JourneyKind, u32)],
    options: JourneyOptions,
    seed: u64,
    instance: Instance,
) -> impl Iterator<Item = PlannedJourney> + 'a {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x6a6f_7572_6e65_7973);
    // At least one: a share checked against the population is never empty.
    let share = instance.share_len(population.len()).max(1);
    schedule.offsets().zip(0..).map(move |(offset, sequence)| {
        let user = instance.user(rng.random_range(0..share));
        let (kind, steps) = journeys::draw(mix, &mut rng, options);
        PlannedJourney {
            sequence,
            offset,
            user,
            kind,
            steps,
        }
    })
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::journeys::DEFAULT_MIX;
    use crate::population::User;
    use crate::schedule::{Arrivals, Profile};

    fn run(seed: u64, count: u64) -> Vec<PlannedJourney> {
        let schedule = Schedule::new(
            Profile::Constant { rate: 1000.0 },
            Arrivals::Poisson,
            None,
            Some(count),
            seed,
        )
        .unwrap();
        let population = Population::new(500, seed);
        let options = JourneyOptions {
            max_think: Duration::from_secs(2),
            declined_per_mille: 20,
        };
        plan(&schedule, &population, &DEFAULT_MIX, options, seed).collect()
    }

    #[test]
    fn the_journey_mix_matches_its_weights() {
        let journeys = run(11, 20_000);
        let mut counts: BTreeMap<JourneyKind, usize> = BTreeMap::new();
        for journey in &journeys {
            *counts.entry(journey.kind).or_default() += 1;
        }
        // Stated tolerance: each share within 1.5 percentage points of its weight over
        // 20,000 journeys (a binomial σ is at most 0.35 points here).
        for (kind, weight) in DEFAULT_MIX {
            let share =
                100.0 * counts.get(&kind).copied().unwrap_or(0) as f64 / journeys.len() as f64;
            assert!(
                (share - weight as f64).abs() <= 1.5,
                "{}: {share:.2} % of journeys, weight {weight} %",
                kind.name()
            );
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_plan() {
        assert_eq!(run(5, 2_000), run(5, 2_000));
        assert_ne!(run(5, 2_000), run(6, 2_000));
        assert_eq!(
            Population::new(100, 9).users(),
            Population::new(100, 9).users()
        );
    }

    #[test]
    fn every_purchase_checks_out_then_views_its_order() {
        for journey in run(3, 3_000)
            .iter()
            .filter(|j| j.kind == JourneyKind::Purchase)
        {
            let steps: Vec<_> = journey.steps.iter().map(|s| &s.step).collect();
            assert!(matches!(
                steps[steps.len() - 2],
                journeys::Step::Checkout { .. }
            ));
            assert_eq!(*steps[steps.len() - 1], journeys::Step::ViewOrder);
            assert_eq!(
                journey.steps[0].think,
                Duration::ZERO,
                "a visit starts at once"
            );
            assert!(
                journey
                    .steps
                    .iter()
                    .all(|s| s.think <= Duration::from_secs(2))
            );
        }
    }

    #[test]
    fn declined_cards_appear_only_when_asked_for() {
        let declined = |journeys: &[PlannedJourney]| {
            journeys
                .iter()
                .flat_map(|j| &j.steps)
                .filter(|s| {
                    s.step
                        == journeys::Step::Checkout {
                            card_number: journeys::DECLINED_CARD,
                        }
                })
                .count()
        };
        assert!(declined(&run(3, 10_000)) > 0, "20 per mille were asked for");
        let schedule = Schedule::new(
            Profile::Constant { rate: 1000.0 },
            Arrivals::Uniform,
            None,
            Some(10_000),
            3,
        )
        .unwrap();
        let population = Population::new(50, 3);
        let quiet: Vec<_> = plan(
            &schedule,
            &population,
            &DEFAULT_MIX,
            JourneyOptions::default(),
            3,
        )
        .collect();
        assert_eq!(declined(&quiet), 0);
    }

    #[test]
    fn every_journey_of_a_user_has_a_session_of_its_own_in_every_run() {
        let schedule = Schedule::new(
            Profile::Constant { rate: 1000.0 },
            Arrivals::Poisson,
            None,
            Some(500),
            4,
        )
        .unwrap();
        // A single user: every journey is theirs, and at 1000 a second they overlap.
        let population = Population::new(1, 4);
        let journeys: Vec<_> = plan(
            &schedule,
            &population,
            &DEFAULT_MIX,
            JourneyOptions::default(),
            4,
        )
        .collect();
        let user = &population.users()[0];
        let sessions = |run: u32| -> BTreeSet<String> {
            journeys
                .iter()
                .map(|j| user.journey_session(run, j.sequence))
                .collect()
        };
        let (first, second) = (sessions(0x1234_5678), sessions(0x9abc_def0));
        assert_eq!(first.len(), journeys.len(), "a session per journey");
        assert!(first.is_disjoint(&second), "two runs share no session");
        for session in first.iter().chain(&second) {
            assert!(session.starts_with(&user.session_id), "{session}");
            // The shop's rule for a session id: 1 to 64 of A-Z a-z 0-9 _ -.
            assert!(session.len() <= 64, "{session}");
            assert!(
                session
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "{session}"
            );
        }
        let longest = User {
            session_id: format!("load{:016x}", u64::MAX),
            ..user.clone()
        }
        .journey_session(u32::MAX, u64::MAX);
        assert!(longest.len() <= 64, "{longest}");
    }

    #[test]
    fn users_carry_their_segment_as_baggage() {
        let population = Population::new(2_000, 1);
        let gold = population
            .users()
            .iter()
            .filter(|u| u.tier == "gold")
            .count();
        assert!(
            (180..=300).contains(&gold),
            "{gold} gold users of 2,000 (weight 12 %)"
        );
        let user = &population.users()[0];
        let baggage = &user.baggage;
        assert!(
            baggage.contains(&format!("tracedojo.user.tier={}", user.tier)),
            "{baggage}"
        );
        assert!(baggage.contains("user_agent.synthetic.type=test"));
        assert!(!baggage.contains(' '), "values are encoded: {baggage}");
    }

    #[test]
    fn instances_play_disjoint_users_on_plans_of_their_own() {
        let population = Population::new(10, 5);
        let options = JourneyOptions::default();
        let plans: Vec<Vec<PlannedJourney>> = (1..=3)
            .map(|index| {
                let instance = Instance::new(index, 3).unwrap();
                let schedule = Schedule::new(
                    Profile::Constant { rate: 100.0 },
                    Arrivals::Poisson,
                    None,
                    Some(600),
                    instance.seed(5),
                )
                .unwrap();
                plan_instance(
                    &schedule,
                    &population,
                    &DEFAULT_MIX,
                    options,
                    instance.seed(5),
                    instance,
                )
                .collect()
            })
            .collect();
        let users: Vec<BTreeSet<usize>> = plans
            .iter()
            .map(|plan| plan.iter().map(|j| j.user).collect())
            .collect();
        // 600 draws from 3 or 4 users: every one of them comes up.
        assert_eq!(users[0], BTreeSet::from([0, 3, 6, 9]));
        assert_eq!(users[1], BTreeSet::from([1, 4, 7]));
        assert_eq!(users[2], BTreeSet::from([2, 5, 8]));
        assert_ne!(plans[0][0].offset, plans[1][0].offset, "not in lock-step");
        let kinds = |plan: &[PlannedJourney]| plan.iter().map(|j| j.kind).collect::<Vec<_>>();
        assert_ne!(kinds(&plans[0]), kinds(&plans[1]));
        // One instance of one is a plain run, journey for journey.
        let schedule = Schedule::new(
            Profile::Constant { rate: 100.0 },
            Arrivals::Poisson,
            None,
            Some(50),
            5,
        )
        .unwrap();
        let plain: Vec<_> = plan(&schedule, &population, &DEFAULT_MIX, options, 5).collect();
        let whole: Vec<_> = plan_instance(
            &schedule,
            &population,
            &DEFAULT_MIX,
            options,
            Instance::WHOLE.seed(5),
            Instance::WHOLE,
        )
        .collect();
        assert_eq!(plain, whole);
    }
}
