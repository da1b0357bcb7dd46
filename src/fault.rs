//! `tracedojo fault`: the fault plan from the command line, through the control API; and the
//! control API itself as `tracedojo up` serves it.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, bail};
use serde_json::Value;
use tokio::net::TcpListener;
use tracedojo_faults::FaultStore;
use tracedojo_faults::client::ControlClient;
use tracedojo_faults::spec::FaultSpec;

use crate::cli::{FaultAction, FaultArgs, FaultSetArgs};

/// Binds the control API (refusing a non-loopback address without a token) and serves it in
/// the background; its URL and the plan it serves.
pub async fn serve_control(
    address: SocketAddr,
    token: Option<String>,
    reveal: bool,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<(String, Arc<FaultStore>)> {
    tracedojo_faults::api::check_exposure(address, token.as_deref()).map_err(anyhow::Error::msg)?;
    let listener = TcpListener::bind(address).await.map_err(|err| {
        if err.kind() == std::io::ErrorKind::AddrInUse {
            anyhow::anyhow!(
                "port {} (for the fault control API) is already in use; choose another with --control-port",
                address.port()
            )
        } else {
            anyhow::anyhow!("cannot listen on {address} for the fault control API: {err}")
        }
    })?;
    let bound = listener.local_addr()?;
    let store = Arc::new(FaultStore::new(reveal));
    let router = tracedojo_faults::api::router(store.clone(), token);
    tokio::spawn(async move {
        let _ = tracedojo_kit::server::serve(listener, router, shutdown).await;
    });
    let host = if bound.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        bound.ip().to_string()
    };
    let url = format!("http://{}", SocketAddr::new(host.parse()?, bound.port()));
    Ok((url, store))
}

pub async fn run(args: FaultArgs) -> anyhow::Result<()> {
    if let FaultAction::Serve {
        listen,
        reveal_faults,
    } = &args.action
    {
        let (url, _) = serve_control(
            *listen,
            args.token.clone(),
            *reveal_faults,
            std::future::pending(),
        )
        .await?;
        println!("fault control API on {url}/api/faults; Ctrl-C stops it");
        tracedojo_kit::shutdown::signal().await;
        return Ok(());
    }
    if let FaultAction::Presets = &args.action {
        // The catalogue ships with this binary: listing it needs no running shop.
        for preset in tracedojo_faults::presets::PRESETS {
            println!("  {:<22} {}", preset.name, preset.summary);
        }
        return Ok(());
    }
    tracedojo_kit::telemetry::install_crypto_provider();
    let control = ControlClient::new(&args.control, args.token.clone())?;
    match &args.action {
        FaultAction::Serve { .. } | FaultAction::Presets => {}
        FaultAction::List => {
            let plan = control
                .send(reqwest::Method::GET, "/api/faults", None)
                .await?;
            print_plan(&plan);
        }
        FaultAction::Set(set) => {
            let specs = specs(&control, set).await?;
            // All in one request: a preset is set whole or not at all.
            let body = serde_json::to_value(&specs)?;
            let answer = control
                .send(reqwest::Method::POST, "/api/faults", Some(&body))
                .await?;
            for (spec, id) in specs
                .iter()
                .zip(answer["ids"].as_array().into_iter().flatten())
            {
                println!(
                    "set fault {id}: {} on {}",
                    spec.fault.kind(),
                    spec.fault.service()
                );
            }
            println!("{}", applied(&answer).trim_start_matches("; "));
        }
        FaultAction::Reveal { switch } => {
            let body = serde_json::json!({ "reveal": switch == "on" });
            let answer = control
                .send(reqwest::Method::PUT, "/api/faults/reveal", Some(&body))
                .await?;
            println!("reveal {switch}{}", applied(&answer));
        }
        FaultAction::Clear { id, all } => {
            let path = match (id, all) {
                (Some(id), _) => format!("/api/faults/{id}"),
                (None, true) => "/api/faults".to_string(),
                (None, false) => {
                    bail!("say which fault to clear: an id from `tracedojo fault list`, or --all")
                }
            };
            let answer = control.send(reqwest::Method::DELETE, &path, None).await?;
            println!("cleared: {}{}", answer["cleared"], applied(&answer));
        }
    }
    Ok(())
}

/// The specs `set` sends: a preset's, or the one given, each narrowed by the flags.
async fn specs(control: &ControlClient, set: &FaultSetArgs) -> anyhow::Result<Vec<FaultSpec>> {
    let mut specs = match (&set.preset, &set.spec) {
        (Some(name), _) => {
            let presets = control
                .send(reqwest::Method::GET, "/api/faults/presets", None)
                .await?;
            let preset = presets
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["name"] == name.trim())
                .with_context(|| {
                    format!("no preset {name:?}; `tracedojo fault presets` lists them")
                })?;
            serde_json::from_value::<Vec<FaultSpec>>(preset["faults"].clone())
                .context("the control API sent a preset this version cannot read")?
        }
        (None, Some(spec)) => {
            let text = match spec.strip_prefix('@') {
                Some(path) => std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the fault spec file {path}"))?,
                None => spec.clone(),
            };
            let spec: FaultSpec = serde_json::from_str(&text)
                .map_err(|e| anyhow::anyhow!("--spec is not a fault spec: {e}"))?;
            vec![spec]
        }
        (None, None) => bail!("give a preset name or --spec"),
    };
    for spec in &mut specs {
        let target = &mut spec.target;
        for (key, value) in [
            ("tracedojo.user.tier", &set.tier),
            ("tracedojo.user.region", &set.region),
            ("tracedojo.user.device", &set.device),
        ] {
            if let Some(value) = value {
                target.attributes.insert(key.to_string(), value.clone());
            }
        }
        if set.route.is_some() {
            target.route = set.route.clone();
        }
        if set.version.is_some() {
            target.version = set.version.clone();
        }
        if let Some(probability) = set.probability {
            target.probability = probability;
        }
        if set.expires_in.is_some() {
            spec.expires_in_s = set.expires_in;
        }
        // Checked here too, so a mistake is reported before anything is sent.
        spec.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(specs)
}

/// `; applied by 8 services`, or which ones have not applied it yet.
fn applied(answer: &Value) -> String {
    let count = |key: &str| answer[key].as_array().map_or(0, Vec::len);
    let pending: Vec<&str> = answer["pending"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if pending.is_empty() {
        format!("; applied by {} services", count("applied_by"))
    } else {
        format!("; not yet applied by {}", pending.join(", "))
    }
}

fn print_plan(plan: &Value) {
    let faults = plan["faults"].as_array().cloned().unwrap_or_default();
    if faults.is_empty() {
        println!("no faults in force");
        return;
    }
    println!("  {:<4} {:<20} {:<15} TARGET", "ID", "KIND", "SERVICE");
    for fault in faults {
        let target = &fault["target"];
        let mut parts = Vec::new();
        if let Some(p) = target["probability"].as_f64()
            && p < 1.0
        {
            parts.push(format!("{:.0} % of requests", p * 100.0));
        }
        if let Some(route) = target["route"].as_str() {
            parts.push(format!("route {route}"));
        }
        for (key, value) in target["attributes"].as_object().into_iter().flatten() {
            parts.push(format!("{key}={}", value.as_str().unwrap_or("")));
        }
        if let Some(version) = target["version"].as_str() {
            parts.push(format!("version {version}"));
        }
        // What the control API says is left, not our clock against its clock.
        if let Some(left_ms) = fault["expires_in_ms"].as_u64() {
            parts.push(format!("ends in {} s", left_ms.div_ceil(1000)));
        }
        println!(
            "  {:<4} {:<20} {:<15} {}",
            fault["id"].as_u64().unwrap_or(0),
            fault["fault"]["kind"].as_str().unwrap_or(""),
            fault["fault"]["service"].as_str().unwrap_or(""),
            match (parts.is_empty(), fault["fault"]["kind"].as_str()) {
                (true, Some("unreachable" | "missing_index" | "async_backlog")) => {
                    "the whole service".to_string()
                }
                (true, _) => "every request".to_string(),
                (false, _) => parts.join(", "),
            }
        );
    }
}
