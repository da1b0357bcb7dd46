//! Setting a lesson's stage through the shop's public interfaces: the faults through the
//! control API (every earlier fault cleared first, so a stage never depends on the last
//! one), then a bounded burst of simulated shoppers so the symptom is in the explorer within
//! seconds.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracedojo_faults::FaultSpec;
use tracedojo_faults::client::ControlClient;
use tracedojo_loadgen::http::Target;
use tracedojo_loadgen::journeys::{JourneyKind, JourneyOptions};
use tracedojo_loadgen::plan::plan;
use tracedojo_loadgen::population::Population;
use tracedojo_loadgen::recorder::Recorder;
use tracedojo_loadgen::runner::{RunnerConfig, run};
use tracedojo_loadgen::schedule::{Arrivals, Profile, Schedule};

use crate::error::WorkshopError;
use crate::lesson::{Stage, StageFault, StageLoad};
use crate::vary::substitute;

/// What setting the stage did.
#[derive(Debug, Default)]
pub struct StageReport {
    /// Faults set (kind on service), for the facilitator's eyes; `start` does not print them.
    pub faults: Vec<String>,
    /// The burst: journeys planned, requests answered and failed.
    pub journeys: u64,
    pub requests: u64,
    pub failed: u64,
}

/// The specs of one stage fault, with this participant's values.
pub fn specs(
    fault: &StageFault,
    vars: &BTreeMap<String, String>,
) -> Result<Vec<FaultSpec>, String> {
    let spec = fault
        .spec
        .as_deref()
        .map(|template| substitute(template, vars));
    tracedojo_faults::presets::resolve(fault.preset.as_deref(), spec.as_deref())
}

/// Sets the stage: faults cleared and set, reveal switched, then the burst of traffic.
pub async fn set(
    stage: &Stage,
    vars: &BTreeMap<String, String>,
    control: &ControlClient,
    shop: &str,
    seed: u64,
) -> Result<StageReport, WorkshopError> {
    let mut all = Vec::new();
    for fault in &stage.faults {
        all.extend(specs(fault, vars).map_err(WorkshopError::Load)?);
    }
    control.clear_all().await?;
    control.reveal(stage.reveal).await?;
    if !all.is_empty() {
        control.set(&all).await?;
    }
    let mut report = StageReport {
        faults: all
            .iter()
            .map(|s| format!("{} on {}", s.fault.kind(), s.fault.service()))
            .collect(),
        ..StageReport::default()
    };
    if let Some(load) = &stage.load {
        let recorder = burst(load, shop, seed).await?;
        report.journeys = load.journeys;
        report.requests = recorder.requests();
        report.failed = recorder.errors();
    }
    Ok(report)
}

/// Runs the stage's journeys against the shop and returns what they recorded.
async fn burst(load: &StageLoad, shop: &str, seed: u64) -> Result<Recorder, WorkshopError> {
    let target = Target::parse(shop).map_err(|err| WorkshopError::Load(format!("--shop {err}")))?;
    // Long enough for every journey to start; the plan ends at the last one.
    let duration = Duration::from_secs_f64(load.journeys as f64 / load.rate + 1.0);
    let profile = Profile::from_name("constant", load.rate, duration)
        .map_err(|e| WorkshopError::Load(e.to_string()))?;
    let schedule = Schedule::new(
        profile,
        Arrivals::Uniform,
        Some(duration),
        Some(load.journeys),
        seed,
    )
    .map_err(|e| WorkshopError::Load(e.to_string()))?;
    let population = Arc::new(Population::new(1000, seed));
    let mix = journey_mix(&load.mix).map_err(WorkshopError::Load)?;
    let options = JourneyOptions {
        max_think: Duration::from_millis(load.think_max_ms),
        declined_per_mille: 0,
    };
    let journeys: Vec<_> = plan(&schedule, &population, &mix, options, seed).collect();
    let config = RunnerConfig {
        target,
        max_in_flight: 100,
        request_timeout: Duration::from_secs(10),
        workers: 1,
        ..RunnerConfig::default()
    };
    let recorder = Arc::new(Mutex::new(Recorder::default()));
    run(
        journeys.into_iter(),
        population,
        config,
        recorder.clone(),
        std::future::pending(),
    )
    .await;
    let recorder = std::mem::take(&mut *recorder.lock().unwrap_or_else(|p| p.into_inner()));
    if recorder.requests() > 0 && recorder.errors() == recorder.requests() {
        return Err(WorkshopError::Load(format!(
            "none of the {} requests to the shop at {shop} was answered; is `tracedojo up` running? (--shop says where)",
            recorder.requests()
        )));
    }
    Ok(recorder)
}

/// A `[mix]` table as the load generator takes it; empty means purchases only.
pub fn journey_mix(mix: &BTreeMap<String, u32>) -> Result<Vec<(JourneyKind, u32)>, String> {
    if mix.is_empty() {
        return Ok(vec![(JourneyKind::Purchase, 1)]);
    }
    mix.iter()
        .map(|(name, weight)| {
            JourneyKind::from_name(name).map(|kind| (kind, *weight)).ok_or_else(|| {
                format!("unknown journey {name:?}; choose from browse, search, view_product, abandon_cart, purchase")
            })
        })
        .collect()
}
