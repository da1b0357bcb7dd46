//! What a scenario file must hold beyond its shape: a name the command line can take, acts
//! of a length a booth can follow, load the load generator accepts, faults the faults crate
//! accepts, a service of the shop to look at, and every text in both languages. Errors name
//! the file, the line and the field; [`warnings`] says what may not work on this machine.

use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use toml::Spanned;
use tracedojo_faults::spec::SERVICES;
use tracedojo_loadgen::limits::compact;
use tracedojo_loadgen::schedule::{PROFILE_NAMES, Profile};

use crate::error::{ScenarioError, Warning};
use crate::scenario::{Act, Scenario, Texts, fault_specs, line_at};

/// The shortest act: less is gone before anyone reads its caption.
pub const MIN_ACT_SECONDS: u64 = 5;
/// The longest act: a booth visitor stays a few minutes, not a quarter of an hour.
pub const MAX_ACT_SECONDS: u64 = 600;
/// The longest loop.
pub const MAX_LOOP_SECONDS: u64 = 3600;
pub const MAX_ACTS: usize = 20;
/// A caption is one line on the big screen, read from across the booth.
pub const MAX_CAPTION_CHARS: usize = 100;
pub const MAX_TALK_CHARS: usize = 1200;

/// Journeys a second one core can give, the shop, the explorer, the load generator and the
/// kiosk's browser sharing it: the shop spends about 10 ms of CPU per checkout with its
/// telemetry (bench/PROFILE.md), a purchase journey makes several requests, and a booth
/// machine keeps half its CPU for the page and the browser. Above this times the cores, an
/// act's load is said to be more than the machine can give (a warning: a faster machine may).
pub const JOURNEYS_PER_CORE: f64 = 20.0;

/// The explorer's trace search parameters, which `look.query` may use.
pub const QUERY_PARAMETERS: [&str; 12] = [
    "service",
    "operation",
    "min_duration",
    "max_duration",
    "errors",
    "failing",
    "attr",
    "start",
    "end",
    "since",
    "limit",
    "namespace",
];

/// Checks `scenario`, read from `text`.
pub fn scenario(scenario: &Scenario, text: &str) -> Result<(), ScenarioError> {
    let file = scenario.file.as_str();
    let fail = |span: Range<usize>, field: &str, message: String| {
        ScenarioError::invalid(file, line_at(text, span.start), field, message)
    };
    let name = scenario.name.get_ref();
    let name_ok = (1..=40).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if !name_ok {
        return Err(fail(
            scenario.name.span(),
            "name",
            format!(
                "{name:?}: give lower-case words joined by dashes, at most 40 characters (e.g. slow-payment)"
            ),
        ));
    }
    for (lang, titles) in [("en", &scenario.en), ("ja", &scenario.ja)] {
        one_line(&titles.title, 80)
            .map_err(|why| fail(titles.title.span(), &format!("{lang}.title"), why))?;
    }
    if scenario.acts.is_empty() || scenario.acts.len() > MAX_ACTS {
        return Err(ScenarioError::invalid(
            file,
            1,
            "act",
            format!(
                "{} acts: give 1 to {MAX_ACTS} [[act]] tables",
                scenario.acts.len()
            ),
        ));
    }
    for (index, act) in scenario.acts.iter().enumerate() {
        self::act(act, text).map_err(|(span, field, message)| {
            fail(span, &format!("act[{}].{field}", index + 1), message)
        })?;
    }
    let total = scenario.loop_seconds();
    if total > MAX_LOOP_SECONDS {
        return Err(fail(
            scenario.acts[0].seconds.span(),
            "act",
            format!(
                "the acts add up to {total} s; a loop lasts at most {MAX_LOOP_SECONDS} s (an hour)"
            ),
        ));
    }
    Ok(())
}

type Failure = (Range<usize>, String, String);

/// One act's values; the field is relative to the act.
fn act(act: &Act, text: &str) -> Result<(), Failure> {
    let failure =
        |span: Range<usize>, field: &str, message: String| (span, field.to_string(), message);
    one_line(&act.name, 40).map_err(|why| failure(act.name.span(), "name", why))?;
    let seconds = *act.seconds.get_ref();
    if seconds == 0 {
        return Err(failure(
            act.seconds.span(),
            "seconds",
            format!(
                "an act of zero length is never on screen; give {MIN_ACT_SECONDS} to {MAX_ACT_SECONDS} seconds"
            ),
        ));
    }
    if !(MIN_ACT_SECONDS..=MAX_ACT_SECONDS).contains(&seconds) {
        return Err(failure(
            act.seconds.span(),
            "seconds",
            format!(
                "{seconds} is out of range: give {MIN_ACT_SECONDS} to {MAX_ACT_SECONDS} seconds"
            ),
        ));
    }
    load(act, text).map_err(|(span, key, why)| failure(span, &format!("load.{key}"), why))?;
    for (index, fault) in act.faults.iter().enumerate() {
        fault_specs(fault.get_ref())
            .map_err(|why| failure(fault.span(), &format!("faults[{}]", index + 1), why))?;
    }
    look(act).map_err(|(span, key, why)| failure(span, &format!("look.{key}"), why))?;
    for (lang, texts) in [("en", &act.en), ("ja", &act.ja)] {
        self::texts(texts)
            .map_err(|(span, key, why)| failure(span, &format!("{lang}.{key}"), why))?;
    }
    Ok(())
}

/// The act's load: a profile the load generator can plan for the act's length.
fn load(act: &Act, text: &str) -> Result<(), (Range<usize>, &'static str, String)> {
    let span = act.load.span();
    let load = act.load.get_ref();
    let at = |key: &str| key_span(text, &span, key);
    let not_here = [
        (
            load.duration_s.is_some(),
            "duration_s",
            "the act's `seconds` is its length",
        ),
        (
            load.journeys.is_some(),
            "journeys",
            "an act's traffic lasts as long as the act",
        ),
        (
            load.target.is_some(),
            "target",
            "the showcase drives the shop it runs",
        ),
    ];
    for (given, key, why) in not_here {
        if given {
            return Err((at(key), key, format!("remove it: {why}")));
        }
    }
    let Some(rate) = load.rate else {
        return Err((
            span.clone(),
            "rate",
            "missing: give the act's journeys per second (e.g. rate = 5)".to_string(),
        ));
    };
    let name = load.profile.as_deref().unwrap_or("constant");
    let known = PROFILE_NAMES.contains(&name.trim().to_ascii_lowercase().as_str());
    if !known {
        return Err((
            at("profile"),
            "profile",
            format!(
                "{name:?} is not a profile; choose {}",
                PROFILE_NAMES.join(", ")
            ),
        ));
    }
    // The curve the profile draws from `rate` over the act: its lowest rate must be one too.
    Profile::from_name(name, rate, Duration::from_secs(*act.seconds.get_ref()))
        .map_err(|err| (at("rate"), "rate", err.to_string()))?;
    load.mix(Path::new("")).map_err(|err| {
        let why = err.to_string();
        // The load generator's message starts with the path it was given, here empty.
        let why = why.trim_start_matches(": ").to_string();
        (at("mix"), "mix", why)
    })?;
    Ok(())
}

/// The pointer: a service of the shop, and well-formed optional details.
fn look(act: &Act) -> Result<(), (Range<usize>, &'static str, String)> {
    let look = &act.look;
    let service = look.service.get_ref();
    if !SERVICES.contains(&service.as_str()) {
        return Err((
            look.service.span(),
            "service",
            format!(
                "{service:?} is not a service of the shop; choose one of: {}",
                SERVICES.join(", ")
            ),
        ));
    }
    if let Some(operation) = &look.operation {
        one_line(operation, 100).map_err(|why| (operation.span(), "operation", why))?;
    }
    if let Some(attribute) = &look.attribute {
        let value = attribute.get_ref();
        let well_formed = value.split_once('=').is_some_and(|(key, value)| {
            !key.trim().is_empty() && !value.trim().is_empty() && !key.contains(char::is_whitespace)
        });
        if !well_formed || value.len() > 200 {
            return Err((
                attribute.span(),
                "attribute",
                format!("{value:?}: give KEY=VALUE, e.g. tracedojo.user.tier=gold"),
            ));
        }
    }
    if let Some(query) = &look.query {
        search_query(query.get_ref()).map_err(|why| (query.span(), "query", why))?;
    }
    Ok(())
}

/// `min_duration=1s&errors=true`: the explorer's search parameters, each with a value.
fn search_query(query: &str) -> Result<(), String> {
    if query.trim().is_empty() || query.len() > 500 {
        return Err(
            "give the explorer's search parameters, e.g. min_duration=1s&errors=true".into(),
        );
    }
    for pair in query.trim_start_matches('?').split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if !QUERY_PARAMETERS.contains(&key) {
            return Err(format!(
                "{key:?} is not a search parameter of the explorer; choose from {}",
                QUERY_PARAMETERS.join(", ")
            ));
        }
        if value.is_empty() || value.contains(char::is_whitespace) {
            return Err(format!("{key} needs a value without spaces ({key}=...)"));
        }
    }
    Ok(())
}

/// A caption on one line, a talk-track note; neither empty.
fn texts(texts: &Texts) -> Result<(), (Range<usize>, &'static str, String)> {
    one_line(&texts.caption, MAX_CAPTION_CHARS)
        .map_err(|why| (texts.caption.span(), "caption", why))?;
    let talk = texts.talk.get_ref();
    if talk.trim().is_empty() || talk.chars().count() > MAX_TALK_CHARS {
        return Err((
            texts.talk.span(),
            "talk",
            format!("give 1 to {MAX_TALK_CHARS} characters of what to say during the act"),
        ));
    }
    Ok(())
}

/// Not empty, one line, at most `max` characters.
fn one_line(value: &Spanned<String>, max: usize) -> Result<(), String> {
    let value = value.get_ref();
    if value.trim().is_empty() {
        return Err("must not be empty".to_string());
    }
    if value.trim().contains('\n') || value.chars().count() > max {
        return Err(format!("give one line of at most {max} characters"));
    }
    Ok(())
}

/// Where `key = ` is written inside the table at `span`, else the table itself.
fn key_span(text: &str, span: &Range<usize>, key: &str) -> Range<usize> {
    let inside = &text[span.start.min(text.len())..span.end.min(text.len())];
    let mut offset = 0;
    for piece in inside.split_inclusive(['{', ',', '\n']) {
        let trimmed = piece.trim_start();
        let lead = piece.len() - trimmed.len();
        if trimmed
            .strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with('='))
        {
            let start = span.start + offset + lead;
            return start..start + key.len();
        }
        offset += piece.len();
    }
    span.clone()
}

/// What may not work on this machine: an act asking for more journeys a second than
/// `cores` cores give ([`JOURNEYS_PER_CORE`] each), its rate multiplied by the speed factor
/// it is played at.
pub fn warnings(scenario: &Scenario, text: &str, cores: usize, speed: f64) -> Vec<Warning> {
    let can_give = JOURNEYS_PER_CORE * cores.max(1) as f64;
    scenario
        .acts
        .iter()
        .enumerate()
        .filter_map(|(index, act)| {
            let rate = act.load.get_ref().rate? * speed;
            (rate > can_give).then(|| Warning {
                file: scenario.file.clone(),
                line: line_at(text, key_span(text, &act.load.span(), "rate").start),
                field: format!("act[{}].load.rate", index + 1),
                message: format!(
                    "{}{} journeys a second is more than this machine ({cores} {}) can give while it runs the shop and the kiosk (about {}); the act will show late and dropped sends rather than its story",
                    if speed == 1.0 {
                        String::new()
                    } else {
                        format!("at --speed {}, ", compact(speed))
                    },
                    compact(rate),
                    if cores == 1 { "core" } else { "cores" },
                    compact(can_give)
                ),
            })
        })
        .collect()
}
