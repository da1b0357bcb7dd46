//! Playing a scenario against a running shop, through its public interfaces only: each act's
//! faults through the fault control API, its shoppers through the load generator's library,
//! for the act's length divided by the speed factor, then the next act, and from the first
//! again, until told to stop.
//!
//! The presenter steers it ([`Command`]): pause holds the act (its faults and traffic go on,
//! its countdown stops), next and previous jump. Whatever the jump, the faults in force are
//! those the scenario gives the act ([`faults_in_force`]), so a jump never leaves a fault of
//! another act behind. What plays now is published on a `watch` channel ([`NowPlaying`]) for
//! the kiosk page and the console.
//!
//! A speed factor compresses time, not the story: acts are shorter and their traffic denser
//! by the same factor, so an act holds as many journeys as at speed 1 (the symptom is as
//! clear) in less time.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use tracedojo_faults::FaultSpec;
use tracedojo_faults::client::ControlClient;
use tracedojo_loadgen::http::Target;
use tracedojo_loadgen::journeys::{JourneyKind, JourneyOptions};
use tracedojo_loadgen::plan::plan;
use tracedojo_loadgen::population::Population;
use tracedojo_loadgen::recorder::Recorder;
use tracedojo_loadgen::runner::{RunnerConfig, run as run_journeys};
use tracedojo_loadgen::schedule::{Arrivals, Profile, Schedule};

use crate::scenario::{Scenario, fault_specs};

/// The fastest a scenario may be played: a 4-minute loop in under three seconds is no longer
/// a story, and its traffic would be a hundred times the act's.
pub const MAX_SPEED: f64 = 100.0;
/// The slowest: ten times the written length.
pub const MIN_SPEED: f64 = 0.1;
/// How soon a fault change that the control API refused or did not answer is tried again.
const FAULT_RETRY: Duration = Duration::from_secs(2);
/// How long an act's traffic has to stop before the next act's starts anyway.
const LOAD_STOP_GRACE: Duration = Duration::from_secs(5);
/// Simulated shoppers a scenario draws its users from (tiers, regions, companies), unless its
/// acts' `users` ask for more.
const USERS: usize = 1000;

/// What the presenter asks of the player.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Command {
    Pause,
    Resume,
    /// Pause when playing, resume when paused: one key for both.
    Toggle,
    Next,
    Previous,
}

/// What plays now.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct NowPlaying {
    /// The loop, from 1; 0 before the first act starts.
    pub loop_number: u64,
    /// The act, from 0.
    pub act: usize,
    /// When the act started (Unix milliseconds): the kiosk's traces and charts are the act's.
    pub act_started_unix_ms: u64,
    /// The act's length at this speed.
    pub act_ms: u64,
    /// When the act ends (Unix milliseconds), unless paused.
    pub ends_unix_ms: Option<u64>,
    /// What is left of the act, as of when it was paused (or started).
    pub remaining_ms: u64,
    pub paused: bool,
    /// The faults in force, `kind on service`, for the presenter's eyes.
    pub faults: Vec<String>,
    /// The last fault change that did not take, in words; `None` once it took.
    pub trouble: Option<String>,
    /// The act's traffic so far: journeys sent, requests answered and failed.
    pub journeys: u64,
    pub requests: u64,
    pub failed_requests: u64,
    /// Played every loop asked for (`--loops`).
    pub finished: bool,
}

impl NowPlaying {
    /// What is left of the act at `now_unix_ms`.
    pub fn remaining_at(&self, now_unix_ms: u64) -> u64 {
        match self.ends_unix_ms {
            Some(ends) => ends.saturating_sub(now_unix_ms),
            None => self.remaining_ms,
        }
    }
}

/// Where and how to play.
pub struct PlayConfig {
    /// The shop's front door, as the load generator addresses it.
    pub shop: Target,
    pub control: ControlClient,
    /// Time compression: 1 plays the acts as written.
    pub speed: f64,
    /// Stop after this many loops; `None` plays until stopped.
    pub loops: Option<u64>,
    /// Seeds the shoppers and their journeys, so two booths play the same traffic.
    pub seed: u64,
}

/// Why the player could not start.
#[derive(Debug, thiserror::Error)]
pub enum PlayError {
    #[error(
        "--speed {0} is out of range: give a factor from 0.1 to 100 (1 plays the acts as written)"
    )]
    Speed(f64),
    #[error("{file}: act {act}: {message}")]
    Act {
        file: String,
        act: usize,
        message: String,
    },
}

/// The specs in force during act `index`: those of the acts before it since the last clear,
/// and its own.
pub fn faults_in_force(scenario: &Scenario, index: usize) -> Result<Vec<FaultSpec>, PlayError> {
    let mut specs = Vec::new();
    for (number, act) in scenario.acts.iter().enumerate().take(index + 1) {
        if act.clear {
            specs.clear();
        }
        for fault in &act.faults {
            specs.extend(
                fault_specs(fault.get_ref()).map_err(|message| PlayError::Act {
                    file: scenario.file.clone(),
                    act: number + 1,
                    message,
                })?,
            );
        }
    }
    Ok(specs)
}

/// Plays `scenario` until `stop` completes or the loops asked for are played; publishes what
/// plays on `now`. Faults are cleared when it ends.
pub async fn play(
    scenario: &Scenario,
    config: PlayConfig,
    mut commands: mpsc::Receiver<Command>,
    now: watch::Sender<NowPlaying>,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), PlayError> {
    if !(MIN_SPEED..=MAX_SPEED).contains(&config.speed) || !config.speed.is_finite() {
        return Err(PlayError::Speed(config.speed));
    }
    // Every act's faults are resolved before the first plays: a bad one stops nothing later.
    let in_force = (0..scenario.acts.len())
        .map(|index| faults_in_force(scenario, index))
        .collect::<Result<Vec<_>, _>>()?;
    // One population for the whole loop, so a shopper is the same person from act to act.
    let users = scenario
        .acts
        .iter()
        .filter_map(|act| act.load.get_ref().users)
        .max()
        .map_or(USERS, |users| users as usize);
    let population = Arc::new(Population::new(users, config.seed));
    tokio::pin!(stop);

    let mut index = 0;
    let mut loop_number = 1;
    let mut applied: Option<Vec<FaultSpec>> = None;
    'acts: loop {
        let act = &scenario.acts[index];
        let length = Duration::from_secs_f64(*act.seconds.get_ref() as f64 / config.speed);
        let started = Instant::now();
        let started_unix_ms = unix_ms(SystemTime::now());
        let mut state = NowPlaying {
            loop_number,
            act: index,
            act_started_unix_ms: started_unix_ms,
            act_ms: length.as_millis() as u64,
            ends_unix_ms: Some(started_unix_ms + length.as_millis() as u64),
            remaining_ms: length.as_millis() as u64,
            faults: describe(&in_force[index]),
            ..NowPlaying::default()
        };
        let wanted = &in_force[index];
        if applied.as_ref() != Some(wanted) {
            match apply(&config.control, wanted).await {
                Ok(()) => applied = Some(wanted.clone()),
                Err(why) => state.trouble = Some(why),
            }
        }
        let _ = now.send(state.clone());

        let recorder = Arc::new(Mutex::new(Recorder::default()));
        let traffic = Traffic::start(
            scenario,
            index,
            &config,
            loop_number,
            population.clone(),
            length,
            recorder.clone(),
        );
        let mut deadline = tokio::time::Instant::from_std(started + length);
        let mut remaining = length;
        let mut paused = false;
        let mut retry = tokio::time::interval(FAULT_RETRY);
        retry.reset();
        let mut tally = tokio::time::interval(Duration::from_secs(1));
        let jump = loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline), if !paused => break Jump::Next,
                command = commands.recv() => match command {
                    None => {}
                    Some(Command::Next) => break Jump::Next,
                    Some(Command::Previous) => break Jump::Previous,
                    Some(command) => {
                        let pause = match command {
                            Command::Pause => true,
                            Command::Resume => false,
                            _ => !paused,
                        };
                        if pause && !paused {
                            remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
                            state.ends_unix_ms = None;
                        } else if !pause && paused {
                            deadline = tokio::time::Instant::now() + remaining;
                            state.ends_unix_ms = Some(unix_ms(SystemTime::now()) + remaining.as_millis() as u64);
                        }
                        paused = pause;
                        state.paused = paused;
                        state.remaining_ms = remaining.as_millis() as u64;
                        let _ = now.send(state.clone());
                    }
                },
                _ = retry.tick(), if applied.as_ref() != Some(wanted) => {
                    match apply(&config.control, wanted).await {
                        Ok(()) => {
                            applied = Some(wanted.clone());
                            state.trouble = None;
                        }
                        Err(why) => state.trouble = Some(why),
                    }
                    let _ = now.send(state.clone());
                }
                _ = tally.tick() => {
                    count(&recorder, &mut state);
                    let _ = now.send(state.clone());
                }
                _ = &mut stop => {
                    traffic.stop().await;
                    break 'acts;
                }
            }
        };
        traffic.stop().await;
        index = match jump {
            Jump::Next if index + 1 == scenario.acts.len() => {
                if config.loops.is_some_and(|loops| loop_number >= loops) {
                    break 'acts;
                }
                loop_number += 1;
                0
            }
            Jump::Next => index + 1,
            Jump::Previous => index.checked_sub(1).unwrap_or(scenario.acts.len() - 1),
        };
    }
    // The shop is left as it was found: without the scenario's faults.
    let _ = config.control.clear_all().await;
    now.send_modify(|state| {
        state.finished = true;
        state.ends_unix_ms = None;
        state.remaining_ms = 0;
    });
    Ok(())
}

enum Jump {
    Next,
    Previous,
}

/// Sets exactly `specs`: every other fault cleared first.
async fn apply(control: &ControlClient, specs: &[FaultSpec]) -> Result<(), String> {
    control.clear_all().await.map_err(|err| err.to_string())?;
    if !specs.is_empty() {
        control.set(specs).await.map_err(|err| err.to_string())?;
    }
    Ok(())
}

fn describe(specs: &[FaultSpec]) -> Vec<String> {
    specs
        .iter()
        .map(|spec| format!("{} on {}", spec.fault.kind(), spec.fault.service()))
        .collect()
}

fn count(recorder: &Mutex<Recorder>, state: &mut NowPlaying) {
    let recorder = recorder.lock().unwrap_or_else(|p| p.into_inner());
    state.journeys = recorder.journeys_started;
    state.requests = recorder.requests();
    state.failed_requests = recorder.errors();
}

/// Unix milliseconds of `time`.
pub fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

/// One act's simulated shoppers, running on their own until stopped. When the act outlasts
/// its traffic (paused), the traffic starts again: a held act stays alive.
struct Traffic {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Traffic {
    fn start(
        scenario: &Scenario,
        index: usize,
        config: &PlayConfig,
        loop_number: u64,
        population: Arc<Population>,
        length: Duration,
        recorder: Arc<Mutex<Recorder>>,
    ) -> Traffic {
        let load = scenario.acts[index].load.get_ref().clone();
        // Validated with the scenario: the mix names known journeys. Without one, an act's
        // shoppers buy (as a workshop stage's do).
        let mix = load
            .mix(Path::new(&scenario.file))
            .ok()
            .flatten()
            .unwrap_or_else(|| vec![(JourneyKind::Purchase, 1)]);
        let speed = config.speed;
        let rate = load.rate.unwrap_or(1.0) * speed;
        let profile_name = load.profile.clone().unwrap_or_else(|| "constant".into());
        let options = JourneyOptions {
            max_think: Duration::from_millis(load.think_max_ms.unwrap_or(2000))
                .div_f64(speed.max(1.0)),
            declined_per_mille: load.declined_per_mille.unwrap_or(0),
        };
        let arrivals = if load.poisson.unwrap_or(false) {
            Arrivals::Poisson
        } else {
            Arrivals::Uniform
        };
        let seed = load
            .seed
            .unwrap_or(config.seed)
            .wrapping_add(loop_number.wrapping_mul(1009))
            .wrapping_add(index as u64);
        let runner = RunnerConfig {
            target: config.shop.clone(),
            max_in_flight: load.max_in_flight.unwrap_or(1000) as usize,
            request_timeout: Duration::from_secs(10),
            workers: 1,
            ..RunnerConfig::default()
        };
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let mut round = 0u64;
            while !*stopped.borrow() {
                // The scenario's profile names were validated with it.
                let Ok(profile) = Profile::from_name(&profile_name, rate, length) else {
                    return;
                };
                let Ok(schedule) = Schedule::new(
                    profile,
                    arrivals,
                    Some(length.max(Duration::from_millis(1))),
                    None,
                    seed.wrapping_add(round),
                ) else {
                    return;
                };
                let journeys = plan(
                    &schedule,
                    &population,
                    &mix,
                    options,
                    seed.wrapping_add(round),
                );
                let mut until_stopped = stopped.clone();
                run_journeys(
                    journeys,
                    population.clone(),
                    runner.clone(),
                    recorder.clone(),
                    async move {
                        let _ = until_stopped.wait_for(|stop| *stop).await;
                    },
                )
                .await;
                round += 1;
            }
        });
        Traffic { stop, task }
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        let mut task = self.task;
        if tokio::time::timeout(LOAD_STOP_GRACE, &mut task)
            .await
            .is_err()
        {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(text: &str) -> Scenario {
        crate::scenario::parse("test.toml", text).expect("a valid scenario")
    }

    const THREE_ACTS: &str = r#"
name = "three"
[en]
title = "Three"
[ja]
title = "三幕"
[[act]]
name = "normal"
seconds = 10
clear = true
load = { rate = 2 }
look = { service = "frontend" }
en = { caption = "normal", talk = "normal" }
ja = { caption = "通常", talk = "通常" }
[[act]]
name = "incident"
seconds = 10
faults = [{ preset = "slow-payment-gateway" }]
load = { rate = 2 }
look = { service = "payment" }
en = { caption = "incident", talk = "incident" }
ja = { caption = "障害", talk = "障害" }
[[act]]
name = "diagnosis"
seconds = 10
load = { rate = 2 }
look = { service = "payment" }
en = { caption = "diagnosis", talk = "diagnosis" }
ja = { caption = "診断", talk = "診断" }
[[act]]
name = "fix"
seconds = 10
clear = true
load = { rate = 2 }
look = { service = "payment" }
en = { caption = "fix", talk = "fix" }
ja = { caption = "対処", talk = "対処" }
"#;

    #[test]
    fn faults_carry_over_until_an_act_clears_them() {
        let scenario = scenario(THREE_ACTS);
        let counts: Vec<usize> = (0..4)
            .map(|i| faults_in_force(&scenario, i).unwrap().len())
            .collect();
        assert_eq!(counts[0], 0);
        assert!(counts[1] > 0, "the incident sets the preset's faults");
        assert_eq!(counts[2], counts[1], "the diagnosis keeps them");
        assert_eq!(counts[3], 0, "the fix clears them");
        assert_eq!(
            faults_in_force(&scenario, 2).unwrap(),
            faults_in_force(&scenario, 1).unwrap()
        );
    }

    #[test]
    fn the_countdown_stops_while_paused() {
        let playing = NowPlaying {
            ends_unix_ms: Some(10_000),
            remaining_ms: 9_000,
            ..NowPlaying::default()
        };
        assert_eq!(playing.remaining_at(4_000), 6_000);
        assert_eq!(playing.remaining_at(12_000), 0);
        let paused = NowPlaying {
            ends_unix_ms: None,
            paused: true,
            ..playing
        };
        assert_eq!(paused.remaining_at(4_000), 9_000);
    }
}
