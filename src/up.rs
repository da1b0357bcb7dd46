//! `tracedojo up`: start every service as its own process and keep them running.
//!
//! The supervisor checks the environment and the ports first (so a mistake is one clear
//! line, not eight crashing children), starts the explorer in this process (unless
//! `--no-explorer`) so the traces have somewhere to go that a person can look at, starts the
//! services in dependency order, waits until each answers `GET /health`, prints where
//! everything runs, restarts a service that dies (with growing back-off), and on Ctrl-C or
//! SIGTERM stops them all at once, gracefully, so their last spans are flushed (to the
//! explorer too, which stops last). The whole stop takes a few seconds at most whatever the
//! backend does (see [`STOP_GRACE`]), and ends with one line per destination that did not get
//! every span.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, watch};
use tracedojo_explorer::{Explorer, ExplorerConfig, ExplorerError, Link, ReceiverError, Transport};
use tracedojo_kit::telemetry::{STOP_FLUSH_TIMEOUT, Unsent};
use tracedojo_kit::{otel_env, participant};

use crate::cli::UpArgs;
use crate::explore::{self, Flags};
use crate::ports::{self, SERVICES};
use crate::release::{self, Releases};
use crate::service::{DRAIN_LIMIT, prepare_data_dir};

/// `println!` that ignores a closed pipe (`tracedojo up | head`) instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// `eprintln!`, likewise.
macro_rules! say_err {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

const HEALTH_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the children have to stop, all at once, before what remains is killed: a service
/// drains its requests for at most [`DRAIN_LIMIT`], flushes its telemetry for at most
/// [`STOP_FLUSH_TIMEOUT`] and lets its runtime go for at most a second, so a backend that
/// never answers still fits, with a second to spare on a loaded machine.
const STOP_GRACE: Duration = Duration::from_secs(6);
const _: () = assert!(
    DRAIN_LIMIT.as_secs() + STOP_FLUSH_TIMEOUT.as_secs() + crate::RUNTIME_SHUTDOWN.as_secs()
        < STOP_GRACE.as_secs()
);
/// How long to wait, after the children are gone, for the last lines of their output.
const OUTPUT_GRACE: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A service that ran this long before dying starts again with the shortest back-off.
const STABLE_AFTER: Duration = Duration::from_secs(60);

/// How to start one service process.
#[derive(Debug, Clone)]
struct ChildSpec {
    name: &'static str,
    port: u16,
    /// Whether the child answers `GET /health` (services do; the background load does not).
    health: bool,
    args: Vec<String>,
    env: Vec<(String, String)>,
    env_remove: Vec<String>,
    recent_output: Arc<Mutex<VecDeque<String>>>,
    /// Where the child's "spans could not be sent" lines go, to be summed after the stop.
    unsent: mpsc::UnboundedSender<(&'static str, Unsent)>,
}

/// How long `up` waits for the backend's answers to its start-up check: a backend that does
/// not answer costs this once before the shop starts.
const DOCTOR_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    run_until(args, tracedojo_kit::shutdown::signal(), None).await
}

/// [`run`], stopping when `stop` completes instead of on a signal, and handing where the
/// shop runs to `ready` once every service answers (what the showcase plays against).
pub async fn run_until(
    args: UpArgs,
    stop: impl std::future::Future<Output = ()>,
    ready: Option<tokio::sync::oneshot::Sender<crate::running::Running>>,
) -> anyhow::Result<()> {
    let participant = preflight(&args).await?;
    // Held until `up` returns: a second shop on the same database is refused.
    let _shop_lock = match crate::database::shop_database_url(args.database_url.as_deref())? {
        Some(url) => Some(crate::database::lock_shop(&url).await?),
        None => None,
    };
    let externals = parse_externals(&args.external)?;
    prepare_data_dir(&args.data_dir)?;
    let data_dir = absolute(&args.data_dir);

    // Held until every service listens: see `free_port_lock`.
    let free_port_lock = free_port_lock(args.base_port).await;
    let ports = plan_ports(&args, &externals)?;
    // A wildcard address is reached through loopback of the same family.
    let connect_host = match args.host {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        host => host,
    };
    let url_of = |name: &str| -> String {
        externals.get(name).cloned().unwrap_or_else(|| {
            format!(
                "http://{}",
                SocketAddr::new(connect_host, ports.get(name).copied().unwrap_or(0))
            )
        })
    };

    let control_port = match args.control_port {
        Some(port) => port,
        None if args.base_port == 0 => 0,
        None => args.base_port.checked_add(9).with_context(|| {
            format!(
                "--base-port {} leaves no room for the fault control API (base + 9); choose a lower one",
                args.base_port
            )
        })?,
    };
    let (control_url, fault_store) = crate::fault::serve_control(
        SocketAddr::new(args.control_address, control_port),
        args.control_token.clone(),
        args.reveal_faults,
        std::future::pending(),
    )
    .await?;

    if args.control_token.is_some() && std::env::var_os("TRACEDOJO_CONTROL_TOKEN").is_none() {
        say_err!(
            "note: --control-token on the command line can be read by other users of this machine; TRACEDOJO_CONTROL_TOKEN keeps it private"
        );
    }
    // The backend's export health, summed over the services, shown in the explorer's header.
    let export_health = tracedojo_explorer::ExportHealth::default();
    let export_watch = otel_env::endpoint_configured().then(|| {
        let destination =
            tracedojo_kit::export::DestinationSettings::from_env(otel_env::Signal::Traces)
                .map(|settings| settings.describe())
                .unwrap_or_else(|_| "the backend".to_string());
        std::sync::Arc::new(crate::export_watch::ExportWatch::new(
            destination,
            (!args.no_explorer).then(|| export_health.clone()),
        ))
    });
    let explorer = if args.no_explorer {
        None
    } else {
        let links = vec![
            Link {
                name: "Shop".into(),
                url: url_of("frontend"),
            },
            Link {
                name: "Faults".into(),
                url: format!("{control_url}/api/faults"),
            },
        ];
        Some(start_explorer(&args, &ports, control_port, links, export_health.clone()).await?)
    };

    let (child_env, env_remove) = children_environment(
        &args,
        participant.as_ref(),
        explorer.as_ref().map(|(explorer, _)| explorer),
    );
    let exe = std::env::current_exe()
        .context("cannot find the tracedojo executable to start services")?;
    let (unsent, mut unsent_lines) = mpsc::unbounded_channel();
    let mut specs = service_specs(
        &args,
        &ports,
        &externals,
        &data_dir,
        &control_url,
        &url_of,
        (&child_env, &env_remove),
        &unsent,
    );
    if !args.no_load {
        specs.push(load_spec(
            &args,
            &url_of("frontend"),
            &child_env,
            &env_remove,
            &unsent,
        ));
    }

    // Only the children's output readers keep a sender: the channel closes when the last ends.
    drop(unsent);
    let releases = Releases::new(&specs.iter().map(|s| s.name).collect::<Vec<_>>());
    let started = Instant::now();
    let mut supervisors = Vec::new();
    let mut pids = HashMap::new();
    let shutdown = stop;
    tokio::pin!(shutdown);
    for spec in &specs {
        let start = start_healthy(&exe, spec, connect_host);
        let child = tokio::select! {
            result = start => match result {
                Ok(child) => child,
                Err(err) => {
                    stop_all(supervisors).await;
                    return Err(err);
                }
            },
            _ = &mut shutdown => {
                say!("stopping before everything started");
                stop_all(supervisors).await;
                return Ok(());
            }
        };
        pids.insert(spec.name, child.id().unwrap_or(0));
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(supervise(
            exe.clone(),
            spec.clone(),
            connect_host,
            child,
            stop_rx,
            releases.watch(spec.name),
        ));
        supervisors.push(Supervised {
            stop: stop_tx,
            task,
        });
    }

    drop(free_port_lock);
    releases.follow(fault_store);

    // A service that becomes degraded (a database it cannot write: a full disk) is one
    // warning line here, and one line again when it is well.
    let (stop_watching, watching) = watch::channel(false);
    for spec in specs.iter().filter(|s| s.health) {
        let url = format!("http://{}/health", SocketAddr::new(connect_host, spec.port));
        tokio::spawn(crate::health_watch::watch(
            spec.name,
            url,
            export_watch.clone(),
            watching.clone(),
        ));
    }

    print_summary(
        &args,
        &ports,
        &externals,
        &pids,
        explorer.as_ref(),
        &url_of("frontend"),
        &control_url,
        started.elapsed(),
    );
    let running = crate::running::Running {
        shop: Some(url_of("frontend")),
        explorer: explorer.as_ref().map(|(explorer, _)| explorer.ui_url()),
        control: Some(control_url.clone()),
        participant: participant.as_ref().map(|p| p.as_str().to_string()),
    };
    crate::running::write(&data_dir, &running);
    if let Some(ready) = ready {
        let _ = ready.send(running);
    }

    shutdown.await;
    crate::running::remove(&data_dir);
    let _ = stop_watching.send(true);
    say!("\nstopping {} services ...", supervisors.len());
    let stopping = Instant::now();
    stop_all(supervisors).await;
    say!(
        "all services stopped in {:.1}s",
        stopping.elapsed().as_secs_f64()
    );
    drop(specs);
    report_unsent(&mut unsent_lines).await;
    // Last, so the spans the services flush as they stop still arrive.
    if let Some((explorer, _)) = explorer
        && let Err(err) = explorer.shutdown().await
    {
        say_err!("the explorer did not stop cleanly: {err}");
    }
    Ok(())
}

/// What must hold before anything starts: a valid participant name and valid `OTEL_*`
/// settings, and, with a backend set, the backend's answer to a test span, metric and log
/// (`tracedojo doctor`'s check), said in one line. Returns the participant.
async fn preflight(args: &UpArgs) -> anyhow::Result<Option<participant::Participant>> {
    // First: a bad name must stop `up` before anything starts, with the kit's own message.
    let participant = args
        .participant
        .as_deref()
        .map(participant::parse)
        .transpose()?;
    otel_env::validate_all()?;
    if let Some(url) = crate::database::shop_database_url(args.database_url.as_deref())? {
        crate::database::wait_for_postgres(&url, crate::database::PATIENCE, |line| say!("{line}"))
            .await?;
    }
    if let Some(participant) = &participant
        && let Some(namespace) = otel_env::resource_attribute("service.namespace")
        && namespace != participant.as_str()
    {
        say!(
            "note: --participant {participant} wins over service.namespace={namespace} in OTEL_RESOURCE_ATTRIBUTES"
        );
    }
    // A wrong key, region or path would otherwise show only as a counter once the shop runs.
    if otel_env::endpoint_configured() && !args.skip_doctor {
        let namespace = participant.as_ref().map(|p| p.as_str());
        let report = tracedojo_kit::export::check::run(DOCTOR_TIMEOUT, namespace).await?;
        say!("{}", crate::doctor::summary(&report));
    }
    Ok(participant)
}

/// The variables every child gets (and those taken away from it).
fn children_environment(
    args: &UpArgs,
    participant: Option<&participant::Participant>,
    explorer: Option<&Explorer>,
) -> (Vec<(String, String)>, Vec<String>) {
    let (mut child_env, mut env_remove) = child_environment(args.verbose);
    // Each service reads it for its service.namespace; without one, none may linger from the
    // shell (clap took a non-empty one as --participant already).
    match participant {
        Some(participant) => {
            child_env.push((participant::ENV.to_string(), participant.to_string()))
        }
        None => env_remove.push(participant::ENV.to_string()),
    }
    explorer_environment(explorer, &mut child_env, &mut env_remove);
    // By environment, not argument: the URL holds a password. (Checked in `preflight`.)
    if let Ok(Some(url)) = crate::database::shop_database_url(args.database_url.as_deref()) {
        env_remove.retain(|variable| variable != "DATABASE_URL");
        child_env.push(("DATABASE_URL".into(), url));
    }
    // Every service with tables of finished work keeps the same number of rows.
    child_env.push(("TRACEDOJO_KEEP_ROWS".into(), args.keep_rows.to_string()));
    if HAND_OVER {
        // So that a redeploy's new process listens beside the old one (see `supervise`).
        child_env.push(("TRACEDOJO_SHARE_PORT".into(), "true".into()));
    }
    if let Some(token) = &args.control_token {
        // By environment, not argument: a command line is visible to every user.
        child_env.push(("TRACEDOJO_CONTROL_TOKEN".into(), token.clone()));
    }
    (child_env, env_remove)
}

/// The shop's services `up` starts (all but those `--external` names), each told where the
/// others are.
#[allow(clippy::too_many_arguments)]
fn service_specs(
    args: &UpArgs,
    ports: &HashMap<&'static str, u16>,
    externals: &HashMap<&str, String>,
    data_dir: &std::path::Path,
    control_url: &str,
    url_of: &dyn Fn(&str) -> String,
    (child_env, env_remove): (&[(String, String)], &[String]),
    unsent: &mpsc::UnboundedSender<(&'static str, Unsent)>,
) -> Vec<ChildSpec> {
    let mut specs = Vec::new();
    for (name, _) in SERVICES {
        if externals.contains_key(name) {
            continue;
        }
        let port = ports[name];
        let mut child_args = vec![
            "service".to_string(),
            name.to_string(),
            "--host".into(),
            args.host.to_string(),
            "--port".into(),
            port.to_string(),
            "--data-dir".into(),
            data_dir.display().to_string(),
            "--faults-url".into(),
            control_url.to_string(),
        ];
        // Every service is told where every other one is; only the frontend is no one's peer.
        for (peer, _) in SERVICES.iter().filter(|(peer, _)| *peer != "frontend") {
            child_args.push(format!("--{peer}-url"));
            child_args.push(url_of(peer));
        }
        specs.push(ChildSpec {
            name,
            port,
            health: true,
            args: child_args,
            env: child_env.to_vec(),
            env_remove: env_remove.to_vec(),
            recent_output: Arc::new(Mutex::new(VecDeque::new())),
            unsent: unsent.clone(),
        });
    }
    specs
}

/// The background load generator, driving the frontend at `--load-rate` until `up` stops.
fn load_spec(
    args: &UpArgs,
    frontend: &str,
    env: &[(String, String)],
    env_remove: &[String],
    unsent: &mpsc::UnboundedSender<(&'static str, Unsent)>,
) -> ChildSpec {
    ChildSpec {
        name: "load",
        port: 0,
        health: false,
        args: vec![
            "load".into(),
            "--target".into(),
            frontend.to_string(),
            "--rate".into(),
            args.load_rate.to_string(),
            // A year: `up` runs until stopped, and the plan is made lazily.
            "--duration".into(),
            "31536000".into(),
            "--poisson".into(),
            "--quiet".into(),
        ],
        env: env.to_vec(),
        env_remove: env_remove.to_vec(),
        recent_output: Arc::new(Mutex::new(VecDeque::new())),
        unsent: unsent.clone(),
    }
}

/// The explorer's standard OTLP ports, used unless a flag or `--base-port 0` says otherwise.
const OTLP_GRPC_PORT: u16 = 4317;
const OTLP_HTTP_PORT: u16 = 4318;

/// How `up` names the explorer's ports in its messages.
const UP_FLAGS: Flags = Flags {
    ui: "--explorer-port",
    grpc: "--explorer-grpc-port",
    http: "--explorer-http-port",
    free_port: "0 picks a free port",
    otherwise: "or turn the explorer off with --no-explorer",
    max_spans: "--explorer-max-spans",
    max_memory: "--explorer-max-memory",
};

/// Starts the explorer on up's own runtime (it is a library, not a child process), and says
/// in a note when it had to take other OTLP ports than the standard ones.
async fn start_explorer(
    args: &UpArgs,
    ports: &HashMap<&'static str, u16>,
    control_port: u16,
    links: Vec<Link>,
    exports: tracedojo_explorer::ExportHealth,
) -> anyhow::Result<(Explorer, Option<String>)> {
    let ui_port = match args.explorer_port {
        Some(port) => port,
        None if args.base_port == 0 => 0,
        None => args.base_port.checked_add(10).with_context(|| {
            format!(
                "--base-port {} leaves no room for the explorer (base + 10); choose a lower one or set --explorer-port",
                args.base_port
            )
        })?,
    };
    let standard = |given: Option<u16>, standard: u16| match given {
        Some(port) => port,
        None if args.base_port == 0 => 0,
        None => standard,
    };
    let mut grpc_port = standard(args.explorer_grpc_port, OTLP_GRPC_PORT);
    let mut http_port = standard(args.explorer_http_port, OTLP_HTTP_PORT);

    // A port the explorer takes first would make a service fail later with a vaguer message.
    for (flag, port) in [
        (UP_FLAGS.ui, ui_port),
        (UP_FLAGS.grpc, grpc_port),
        (UP_FLAGS.http, http_port),
    ] {
        let clash = ports
            .iter()
            .find(|(_, p)| **p == port)
            .map(|(name, _)| name.to_string())
            .or_else(|| (port == control_port).then(|| "the fault control API".to_string()));
        if let (true, Some(owner)) = (port != 0, clash) {
            bail!(
                "{flag} {port} is also the port of {owner}; choose another ({flag} 0 picks a free one)"
            );
        }
    }

    // With a backend of the user's own, the standard OTLP ports may well be that backend's
    // (Jaeger or a collector on this machine): the explorer then takes free ones, since the
    // services are told its address anyway. Without one, a busy port is reported.
    let backend = otel_env::endpoint_configured();
    let mut moved = Vec::new();
    loop {
        let mut config = ExplorerConfig::default();
        config.receiver.grpc_addr = SocketAddr::new(args.host, grpc_port);
        config.receiver.http_addr = SocketAddr::new(args.host, http_port);
        config.receiver.max_spans = args.explorer_max_spans;
        config.receiver.max_bytes = args.explorer_max_memory;
        config.ui_addr = SocketAddr::new(args.host, ui_port);
        config.links = links.clone();
        config.exports = exports.clone();
        config.customer_attribute = args.explorer_customer_attribute.clone();
        // The trace page's Explain compares a request with the shop's own objectives.
        config.latency_objectives =
            tracedojo_report::objectives::Objectives::shop().latency_objectives();
        let err = match Explorer::start(config).await {
            Ok(explorer) => {
                let note = match moved.as_slice() {
                    [] => None,
                    [port] => Some(format!(
                        "port {port} was in use (your backend?), so the explorer took a free port instead"
                    )),
                    ports => Some(format!(
                        "ports {} were in use (your backend?), so the explorer took free ports instead",
                        ports
                            .iter()
                            .map(u16::to_string)
                            .collect::<Vec<_>>()
                            .join(" and ")
                    )),
                };
                return Ok((explorer, note));
            }
            Err(err) => err,
        };
        if let ExplorerError::Receiver(ReceiverError::PortInUse { transport, addr }) = &err
            && backend
        {
            match transport {
                Transport::Grpc if args.explorer_grpc_port.is_none() && grpc_port != 0 => {
                    moved.push(addr.port());
                    grpc_port = 0;
                    continue;
                }
                Transport::Http if args.explorer_http_port.is_none() && http_port != 0 => {
                    moved.push(addr.port());
                    http_port = 0;
                    continue;
                }
                _ => {}
            }
        }
        let mut message = explore::start_error(&err, &UP_FLAGS);
        if let ExplorerError::Receiver(ReceiverError::PortInUse { addr, .. }) = &err
            && !backend
            && [OTLP_GRPC_PORT, OTLP_HTTP_PORT].contains(&addr.port())
        {
            message.push_str(
                "; if an OTLP receiver (Jaeger, a collector) runs there, keep sending to it with OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 and the explorer takes free ports",
            );
        }
        bail!(message);
    }
}

/// Where the children send telemetry, given the explorer (or none):
///
/// - no backend of the user's (`OTEL_EXPORTER_OTLP_ENDPOINT` and the traces variant unset):
///   everything goes to the explorer over OTLP/HTTP;
/// - a backend: it keeps everything, and the explorer gets a copy of the spans
///   (`TRACEDOJO_EXPLORER_ENDPOINT`, which the kit exports to without the user's headers).
///
/// The frontend learns the UI's address to link to it (`TRACEDOJO_EXPLORER_URL`).
fn explorer_environment(
    explorer: Option<&Explorer>,
    set: &mut Vec<(String, String)>,
    remove: &mut Vec<String>,
) {
    let Some(explorer) = explorer else {
        // A value left in the user's shell would send copies to an explorer that is not ours.
        remove.push(otel_env::EXPLORER_ENDPOINT.to_string());
        remove.push("TRACEDOJO_EXPLORER_URL".to_string());
        return;
    };
    let endpoint = explorer.receiver().http_endpoint();
    if otel_env::endpoint_configured() {
        set.push((otel_env::EXPLORER_ENDPOINT.to_string(), endpoint));
    } else {
        set.push(("OTEL_EXPORTER_OTLP_ENDPOINT".to_string(), endpoint));
        set.push((
            "OTEL_EXPORTER_OTLP_PROTOCOL".to_string(),
            "http/protobuf".to_string(),
        ));
        // A signal's own protocol would win over the general one; keep those whose own
        // endpoint the user set (they go where the user said), drop the others.
        for signal in ["TRACES", "METRICS", "LOGS"] {
            if std::env::var_os(format!("OTEL_EXPORTER_OTLP_{signal}_ENDPOINT")).is_none() {
                remove.push(format!("OTEL_EXPORTER_OTLP_{signal}_PROTOCOL"));
            }
        }
        remove.push(otel_env::EXPLORER_ENDPOINT.to_string());
    }
    set.push(("TRACEDOJO_EXPLORER_URL".to_string(), explorer.ui_url()));
}

/// A running supervisor task and the switch that stops it.
struct Supervised {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// Stops every service at once: one after another, each waiting for its own flush, a
/// backend that never answers made the stop last the sum of them (most of a minute). Each
/// child has [`STOP_GRACE`] before it is killed, so this returns within about that time.
async fn stop_all(supervisors: Vec<Supervised>) {
    for supervised in &supervisors {
        let _ = supervised.stop.send(true);
    }
    let aborts: Vec<_> = supervisors.iter().map(|s| s.task.abort_handle()).collect();
    let all = async {
        for supervised in supervisors {
            let _ = supervised.task.await;
        }
    };
    // A supervisor stuck anyway is aborted: dropping its child kills it (`kill_on_drop`).
    if tokio::time::timeout(STOP_GRACE + Duration::from_secs(2), all)
        .await
        .is_err()
    {
        for abort in aborts {
            abort.abort();
        }
    }
}

/// One line per destination that did not get every span, summing what the services said as
/// they stopped (their own lines, relayed above, say why).
async fn report_unsent(lines: &mut mpsc::UnboundedReceiver<(&'static str, Unsent)>) {
    let mut by_destination: std::collections::BTreeMap<String, Vec<(&'static str, u64)>> =
        Default::default();
    // The children are gone: their last lines are in the pipes, or nothing is.
    let _ = tokio::time::timeout(OUTPUT_GRACE, async {
        while let Some((name, unsent)) = lines.recv().await {
            by_destination
                .entry(unsent.destination)
                .or_default()
                .push((name, unsent.spans));
        }
    })
    .await;
    for (destination, mut counts) in by_destination {
        counts.sort();
        let total: u64 = counts.iter().map(|(_, spans)| spans).sum();
        let each: Vec<String> = counts
            .iter()
            .map(|(name, spans)| format!("{name} {spans}"))
            .collect();
        say_err!(
            "{total} span{} could not be sent to {destination} before the shop stopped ({})",
            if total == 1 { "" } else { "s" },
            each.join(", ")
        );
    }
}

fn absolute(path: &std::path::Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// `--external payment=http://host:port` entries, checked.
fn parse_externals(entries: &[String]) -> anyhow::Result<HashMap<&'static str, String>> {
    let mut externals = HashMap::new();
    for entry in entries {
        let Some((name, url)) = entry.split_once('=') else {
            bail!(
                "--external {entry:?} must be NAME=URL, e.g. --external payment=http://127.0.0.1:9000"
            );
        };
        let Some((known, _)) = SERVICES.iter().find(|(n, _)| *n == name.trim()) else {
            bail!(
                "--external names unknown service \"{name}\"; choose one of: {}",
                ports::names()
            );
        };
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            bail!("--external {name}={url}: the URL must start with http:// or https://");
        }
        externals.insert(*known, url.trim_end_matches('/').to_string());
    }
    Ok(externals)
}

/// Every service's port, checked free now so a clash is one clear message.
/// With `--base-port 0`, ports are found free at planning and bound by the services seconds
/// later; two `up`s starting at once on one machine (tests do) could pick the same one in
/// between. A lock file in the temporary directory, held from planning until every service
/// listens, makes such starts take turns. Without it (a read-only temporary directory) the
/// start goes ahead as before.
async fn free_port_lock(base_port: u16) -> Option<std::fs::File> {
    if base_port != 0 {
        return None;
    }
    let path = std::env::temp_dir().join("tracedojo-free-ports.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .ok()?;
    tokio::task::spawn_blocking(move || file.lock().map(|()| file))
        .await
        .ok()?
        .ok()
}

fn plan_ports(
    args: &UpArgs,
    externals: &HashMap<&'static str, String>,
) -> anyhow::Result<HashMap<&'static str, u16>> {
    let mut ports = HashMap::new();
    // In port order, so a clash reports the lowest taken port first.
    let mut by_port = SERVICES;
    by_port.sort_by_key(|(_, offset)| *offset);
    for (name, offset) in by_port {
        if externals.contains_key(name) {
            continue;
        }
        let port = if args.base_port == 0 {
            ports::free_port(args.host)
                .with_context(|| format!("cannot find a free port on {}", args.host))?
        } else {
            let Some(port) = args.base_port.checked_add(offset) else {
                bail!(
                    "--base-port {} leaves no room for {name} (needs base + {offset} ≤ 65535); choose a lower --base-port",
                    args.base_port
                );
            };
            if let Err(err) = std::net::TcpListener::bind(SocketAddr::new(args.host, port)) {
                if err.kind() == std::io::ErrorKind::AddrInUse {
                    bail!(
                        "port {port} (for {name}) is already in use; start with another --base-port (e.g. --base-port {}) or stop what uses it",
                        args.base_port.saturating_add(1000)
                    );
                }
                bail!("cannot listen on {}:{port} (for {name}): {err}", args.host);
            }
            port
        };
        ports.insert(name, port);
    }
    Ok(ports)
}

/// The environment every child gets: `OTEL_SERVICE_NAME` and a `service.name` in
/// `OTEL_RESOURCE_ATTRIBUTES` are removed, because eight services cannot share one name.
fn child_environment(verbose: bool) -> (Vec<(String, String)>, Vec<String>) {
    let mut set = Vec::new();
    let mut remove = Vec::new();
    if std::env::var_os("OTEL_SERVICE_NAME").is_some() {
        say!(
            "note: OTEL_SERVICE_NAME is ignored under `up` (each service has its own name); \
to tell your run apart, start it with --participant YOUR_NAME"
        );
        remove.push("OTEL_SERVICE_NAME".to_string());
    }
    if let Ok(attributes) = std::env::var("OTEL_RESOURCE_ATTRIBUTES") {
        let kept: Vec<&str> = attributes
            .split(',')
            .filter(|entry| entry.split('=').next().map(str::trim) != Some("service.name"))
            .collect();
        if kept.len() != attributes.split(',').count() {
            say!(
                "note: service.name in OTEL_RESOURCE_ATTRIBUTES is ignored under `up`; to tell your run apart, use --participant YOUR_NAME"
            );
            set.push(("OTEL_RESOURCE_ATTRIBUTES".to_string(), kept.join(",")));
        }
    }
    // Every service takes the shop's database from --database-url (DATABASE_URL), set below.
    remove.push("DATABASE_URL".to_string());
    for (variable, why) in [
        (
            "QUEUE_URL",
            "the queue lives beside the services' data (--data-dir or --database-url)",
        ),
        ("PORT", "each service gets its own port from --base-port"),
    ] {
        if std::env::var_os(variable).is_some() {
            say!("note: {variable} is ignored under `up`: {why}");
            remove.push(variable.to_string());
        }
    }
    if std::env::var_os("RUST_LOG").is_none() {
        let level = if verbose { "info" } else { "warn" };
        // Only the level: each service already quiets its libraries (see the kit's
        // telemetry), and naming them here would turn the SDK's per-batch export errors back on.
        set.push(("RUST_LOG".to_string(), level.to_string()));
    }
    // `up` says once, for all services, when exports to the backend fail (see
    // export_watch.rs); eight services saying it too would bury the line.
    set.push((
        tracedojo_kit::export::worker::QUIET_VARIABLE.to_string(),
        "1".to_string(),
    ));
    (set, remove)
}

fn spawn_child(exe: &PathBuf, spec: &ChildSpec) -> anyhow::Result<Child> {
    let mut command = Command::new(exe);
    command
        .args(&spec.args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (key, value) in &spec.env {
        command.env(key, value);
    }
    for key in &spec.env_remove {
        command.env_remove(key);
    }
    // Its own process group: Ctrl-C in the terminal reaches only `up`, which then stops the
    // children in order instead of watching them all die at once and restarting them.
    #[cfg(unix)]
    command.process_group(0);
    // If `up` itself dies (SIGKILL, out of memory), its children must not live on holding the
    // shop's ports: Linux sends them SIGTERM when their parent goes.
    #[cfg(target_os = "linux")]
    // SAFETY: prctl is async-signal-safe and touches only the new child's own state.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot start {}", spec.name))?;
    if let Some(stderr) = child.stderr.take() {
        let name = spec.name;
        let recent = spec.recent_output.clone();
        let unsent = spec.unsent.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                say_err!("{name:>14} | {line}");
                if let Some(lost) = Unsent::parse(&line) {
                    let _ = unsent.send((name, lost));
                }
                let mut recent = recent.lock().unwrap_or_else(|p| p.into_inner());
                if recent.len() == 20 {
                    recent.pop_front();
                }
                recent.push_back(line);
            }
        });
    }
    Ok(child)
}

/// Starts a service and waits until `GET /health` answers, or explains why it did not.
async fn start_healthy(exe: &PathBuf, spec: &ChildSpec, host: IpAddr) -> anyhow::Result<Child> {
    let mut child = spawn_child(exe, spec)?;
    if !spec.health {
        return Ok(child);
    }
    let health_url = format!("http://{}/health", SocketAddr::new(host, spec.port));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        // A new connection each time: during a hand-over the old process shares the port, and
        // a kept connection to it would never reach the new one.
        .pool_max_idle_per_host(0)
        .build()
        .context("cannot build the health-check client")?;
    let deadline = Instant::now() + HEALTH_TIMEOUT;
    let mut poll = tokio::time::interval(Duration::from_millis(25));
    loop {
        poll.tick().await;
        if let Some(status) = child.try_wait()? {
            let output = spec
                .recent_output
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join("\n  ");
            bail!(
                "{} exited during start-up ({status}):\n  {output}",
                spec.name
            );
        }
        if let Ok(response) = client.get(&health_url).send().await
            && response.status().is_success()
            && answered_by(response, child.id()).await
        {
            return Ok(child);
        }
        if Instant::now() > deadline {
            let _ = child.kill().await;
            bail!(
                "{} did not answer {health_url} within {}s",
                spec.name,
                HEALTH_TIMEOUT.as_secs()
            );
        }
    }
}

/// Whether a `/health` answer came from the child just started: with `--base-port 0` a port
/// found free can be taken by another program before the child binds it, and that program's
/// answer must not make `up` wire the shop to it (the child then exits, saying the port is in
/// use, and `up` says so).
async fn answered_by(response: reqwest::Response, child: Option<u32>) -> bool {
    let Ok(health) = response.json::<serde_json::Value>().await else {
        return false;
    };
    match (health["pid"].as_u64(), child) {
        (Some(pid), Some(child)) => pid == u64::from(child),
        _ => true,
    }
}

/// Whether a redeploy hands over: the new process starts beside the old one on the same port
/// (`service --share-port`) and the old one is stopped once the new one answers, so callers
/// meet no refused connection. Where ports cannot be shared the old one stops first, and the
/// service is away for the second or two its successor takes to start.
const HAND_OVER: bool = cfg!(all(
    unix,
    not(any(target_os = "solaris", target_os = "illumos"))
));

/// Keeps one service running until `stop` turns true, restarting it with back-off, and
/// redeploys it when its wanted version changes.
async fn supervise(
    exe: PathBuf,
    mut spec: ChildSpec,
    host: IpAddr,
    mut child: Child,
    mut stop: watch::Receiver<bool>,
    mut release: watch::Receiver<Option<String>>,
) {
    let mut backoff = Duration::from_millis(500);
    let mut restarts = 0u32;
    loop {
        let since = Instant::now();
        let status = tokio::select! {
            status = child.wait() => status,
            _ = stop.changed() => {
                stop_child(spec.name, &mut child).await;
                return;
            }
            changed = release.changed(), if release.has_changed().is_ok() => {
                if changed.is_err() {
                    continue;
                }
                // A redeploy: the same service under another version (or back to its own).
                let version = release.borrow_and_update().clone();
                let running_env = spec.env.clone();
                release::set_version(&mut spec.env, version.as_deref());
                if !HAND_OVER {
                    stop_child(spec.name, &mut child).await;
                }
                let started = tokio::select! {
                    started = start_healthy(&exe, &spec, host) => started,
                    _ = stop.changed() => {
                        stop_child(spec.name, &mut child).await;
                        return;
                    }
                };
                let version = version.as_deref().unwrap_or(env!("CARGO_PKG_VERSION"));
                match started {
                    Ok(new_child) => {
                        // The successor answers on the shared port: the old process finishes
                        // what it was doing and goes.
                        if HAND_OVER {
                            stop_child(spec.name, &mut child).await;
                        }
                        say!(
                            "{} redeployed as version {version} (pid {})",
                            spec.name,
                            new_child.id().unwrap_or(0)
                        );
                        child = new_child;
                        continue;
                    }
                    // As a failed rollout leaves the old release serving.
                    Err(err) if HAND_OVER => {
                        say_err!(
                            "{} not redeployed as version {version}, the running one stays: {}",
                            spec.name,
                            format!("{err:#}").lines().next().unwrap_or_default()
                        );
                        spec.env = running_env;
                        continue;
                    }
                    // Into the restart loop below, which keeps trying.
                    Err(err) => Err(std::io::Error::other(format!(
                        "redeploy failed: {}",
                        format!("{err:#}").lines().next().unwrap_or_default()
                    ))),
                }
            }
        };
        if since.elapsed() > STABLE_AFTER {
            backoff = Duration::from_millis(500);
        }
        let status = status
            .map(|s| s.to_string())
            .unwrap_or_else(|e| e.to_string());
        // Restart until a start succeeds, waiting longer after each failure.
        loop {
            restarts += 1;
            say_err!(
                "{} exited ({status}); restarting in {:.1}s (restart {restarts})",
                spec.name,
                backoff.as_secs_f64()
            );
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = stop.changed() => return,
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
            // Dropping a half-started child on stop kills it (`kill_on_drop`).
            let started = tokio::select! {
                started = start_healthy(&exe, &spec, host) => started,
                _ = stop.changed() => return,
            };
            match started {
                Ok(new_child) => {
                    say_err!(
                        "{} is back (pid {})",
                        spec.name,
                        new_child.id().unwrap_or(0)
                    );
                    child = new_child;
                    break;
                }
                Err(err) => {
                    say_err!("{}", format!("{err:#}").lines().next().unwrap_or_default());
                }
            }
        }
    }
}

/// SIGTERM first, so the service finishes requests and flushes spans; a kill after the grace period.
async fn stop_child(name: &str, child: &mut Child) {
    #[cfg(unix)]
    if let Some(pid) = child.id() {
        // SAFETY: kill(2) with a pid we spawned and still own (not yet reaped).
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGTERM);
        }
    }
    #[cfg(not(unix))]
    let _ = child.start_kill();
    match tokio::time::timeout(STOP_GRACE, child.wait()).await {
        Ok(_) => {}
        Err(_) => {
            say_err!(
                "{name} did not stop within {}s; killing it",
                STOP_GRACE.as_secs()
            );
            let _ = child.kill().await;
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn print_summary(
    args: &UpArgs,
    ports: &HashMap<&'static str, u16>,
    externals: &HashMap<&'static str, String>,
    pids: &HashMap<&'static str, u32>,
    explorer: Option<&(Explorer, Option<String>)>,
    shop_url: &str,
    control_url: &str,
    elapsed: Duration,
) {
    let mut names: Vec<&str> = SERVICES.iter().map(|(n, _)| *n).collect();
    names.sort_by_key(|n| ports::offset(n));
    say!(
        "\ntracedojo is running: {} services ready in {:.1}s\n",
        names.iter().filter(|n| pids.contains_key(*n)).count(),
        elapsed.as_secs_f64()
    );
    say!("  {:<16} {:<30} PID", "SERVICE", "URL");
    for name in names {
        match externals.get(name) {
            Some(url) => say!("  {name:<16} {url:<30} (external)"),
            None => say!(
                "  {name:<16} {:<30} {}",
                format!("http://{}", SocketAddr::new(args.host, ports[name])),
                pids.get(name).copied().unwrap_or(0)
            ),
        }
    }
    say!("");
    match crate::database::shop_database_url(args.database_url.as_deref()) {
        Ok(Some(url)) => say!("  Data:   {}", crate::database::describe(&url)),
        _ => say!("  Data:   {}", args.data_dir.display()),
    }
    say!(
        "  Traces: {}",
        traces_destination(explorer.map(|(explorer, _)| explorer))
    );
    say!("  Shop:   {shop_url}");
    match pids.get("load") {
        Some(pid) => say!(
            "  Load:   {} journeys/s of simulated shoppers (pid {pid}); --no-load turns it off",
            args.load_rate
        ),
        None => say!("  Load:   none (--no-load); try `tracedojo load --target {shop_url}`"),
    }
    say!(
        "  Faults: {control_url}/api/faults; `tracedojo fault presets` lists incidents{}",
        if args.reveal_faults {
            " (reveal on: affected spans say so)"
        } else {
            ""
        }
    );
    print_participant(
        args.participant.as_deref(),
        explorer.map(|(explorer, _)| explorer),
    );
    // Its own paragraph, the last thing before "Press Ctrl-C": what a newcomer opens next.
    say!("");
    match explorer {
        Some((explorer, note)) => {
            say!(
                "  Explorer: {} (OTLP/gRPC {}, OTLP/HTTP {})",
                explorer.ui_url(),
                explorer.receiver().grpc_endpoint(),
                explorer.receiver().http_endpoint()
            );
            say!("            open it to see the traces; other apps can send OTLP there too");
            if let Some(note) = note {
                say!("            {note}");
            }
        }
        None => say!("  Explorer: none (--no-explorer)"),
    }
    say!("\nPress Ctrl-C to stop.");
}

/// How to see only this participant's telemetry: in the explorer, a link that opens it
/// filtered; in a backend, the filter to type. Without a participant, a hint where one helps
/// (a backend of the user's own, which others may share).
fn print_participant(participant: Option<&str>, explorer: Option<&Explorer>) {
    let Some(name) = participant else {
        if otel_env::endpoint_configured() {
            say!("  Sharing the backend with others? --participant YOUR_NAME tells your run apart");
        }
        return;
    };
    // A checked name holds only characters a URL query takes as they are.
    say!("  Participant: {name}, sent as service.namespace={name}; to see only yours:");
    if let Some(explorer) = explorer {
        say!(
            "    in the explorer: {}/?namespace={name}",
            explorer.ui_url()
        );
    }
    say!("    in a backend:    filter on service.namespace = {name}");
}

/// Where the services' spans go, for the summary (credentials hidden).
fn traces_destination(explorer: Option<&Explorer>) -> String {
    if otel_env::sdk_disabled().unwrap_or(false) {
        return "none (OTEL_SDK_DISABLED=true)".to_string();
    }
    if !otel_env::exporter_enabled(otel_env::Signal::Traces).unwrap_or(true) {
        return "none (OTEL_TRACES_EXPORTER=none)".to_string();
    }
    let to_explorer = explorer.map(|explorer| {
        format!(
            "explorer {} (OTLP {})",
            explorer.ui_url(),
            explorer.receiver().http_endpoint()
        )
    });
    let described = otel_env::protocol(otel_env::Signal::Traces).and_then(|protocol| {
        otel_env::endpoint(otel_env::Signal::Traces, protocol).map(|endpoint| {
            format!(
                "{} (OTLP {})",
                otel_env::redact_url(&endpoint),
                protocol.as_str()
            )
        })
    });
    let described = described.unwrap_or_else(|e| e.to_string());
    match (otel_env::endpoint_configured(), to_explorer) {
        (true, Some(to_explorer)) => format!("{described}\n          and {to_explorer}"),
        (true, None) => described,
        (false, Some(to_explorer)) => to_explorer,
        (false, None) => format!(
            "{described}\n          the standard local endpoint, as OTEL_EXPORTER_OTLP_ENDPOINT is not set and the\n          explorer is off; run `tracedojo explore` (or another OTLP receiver) there, or drop --no-explorer"
        ),
    }
}
