//! `--to VENDOR`: a vendor preset turned into the standard `OTEL_*` variables of this process
//! (and so of every child `up` starts), before anything reads them.
//!
//! The preset fills the endpoint, protocol and header names; the key comes from the vendor's
//! own variable (e.g. `MACKEREL_APIKEY`), never from a flag, so it is not in the shell's
//! history or the process list. The per-signal variables a user may have set for another
//! backend are cleared, so they cannot send part of the telemetry elsewhere.

use tracedojo_kit::export::settings::{KEY_HEADER, KEY_VARIABLE};
use tracedojo_kit::vendors::{self, OVERRIDING_VARIABLES, Shape};

/// Applies the preset `name` to this process's environment; returns its display name.
///
/// Must run before the async runtime or any other thread starts: it changes the
/// environment, which is only sound while this thread is the only one.
pub fn apply_preset(name: &str) -> anyhow::Result<&'static str> {
    let settings = vendors::resolve(name, |variable| {
        std::env::var(variable)
            .ok()
            .filter(|v| !v.trim().is_empty())
    })
    .map_err(|err| anyhow::anyhow!("{err}"))?;
    let preset = settings.preset;
    let key_header = preset.headers.first().map(|header| header.name);
    let key_variable = preset
        .vars
        .iter()
        .find(|var| var.shape == Shape::Secret)
        .map(|var| var.name);
    // SAFETY: `main` calls this before it builds the runtime; no other thread exists yet.
    unsafe {
        for variable in OVERRIDING_VARIABLES {
            std::env::remove_var(variable);
        }
        for (variable, value) in settings.otel_environment() {
            std::env::set_var(variable, value);
        }
        std::env::remove_var(KEY_HEADER);
        std::env::remove_var(KEY_VARIABLE);
        if let Some(header) = key_header {
            std::env::set_var(KEY_HEADER, header);
        }
        if let Some(variable) = key_variable {
            std::env::set_var(KEY_VARIABLE, variable);
        }
    }
    Ok(preset.display)
}

/// Points this process at the local default (`http://localhost:4318`, where `up`'s explorer
/// listens) when no backend is set; whether it did.
pub fn default_to_local_explorer() -> bool {
    if tracedojo_kit::otel_env::endpoint_configured() {
        return false;
    }
    // SAFETY: as in `apply_preset`, before any other thread starts.
    unsafe {
        std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318");
        std::env::set_var("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf");
    }
    true
}
