//! The shop spread over hosts: every service on a host of its own (a network namespace with
//! its own address, so nothing is reached through loopback), the frontend as two replicas,
//! PostgreSQL and the OTLP receiver on the test's side of the network, and a load generator
//! on each of two more hosts, one per replica. One checkout is one trace across the hosts; the
//! replicas report distinct instance ids; the two load reports merge into one honest report.
//!
//! Needs root (namespaces, the PostgreSQL server run as its own user): CI has it; elsewhere
//! the test says SKIPPED and why.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tracedojo_explorer::{Receiver, ReceiverConfig, StoredSpan};

use crate::load::{assert_merged_exactly, report_of};
use crate::support::netns::Network;
use crate::support::postgres::PrivatePostgres;
use crate::support::{BIN, client, run_to_end, temp_dir, terminate};

/// The services and their ports (each host has its own network, so every one can use its
/// standard port); the frontend runs twice.
const SERVICES: [(&str, &str, u16); 9] = [
    ("catalog", "catalog", 8081),
    ("cart", "cart", 8082),
    ("inventory", "inventory", 8083),
    ("payment", "payment", 8084),
    ("checkout", "checkout", 8085),
    ("shipping", "shipping", 8086),
    ("recommendation", "recommendation", 8087),
    ("frontend-a", "frontend", 8080),
    ("frontend-b", "frontend", 8080),
];
const PEERS: [&str; 7] = [
    "catalog",
    "cart",
    "inventory",
    "payment",
    "checkout",
    "shipping",
    "recommendation",
];
const READY_WITHIN: Duration = Duration::from_secs(60);

/// A process of the test, stopped (SIGTERM, then killed) when dropped.
struct Process {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Process {
    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}

fn skip_or_fail(reason: String) {
    assert!(
        std::env::var_os("CI").is_none(),
        "CI runs the multi-host test: {reason}"
    );
    eprintln!("SKIPPED the multi-host test: {reason}");
}

/// The environment every process on a host gets: telemetry to the test's receiver, quickly.
fn telemetry_env(command: &mut Command, endpoint: &str) {
    for variable in [
        "OTEL_SERVICE_NAME",
        "OTEL_RESOURCE_ATTRIBUTES",
        "OTEL_SDK_DISABLED",
        "TRACEDOJO_EXPLORER_ENDPOINT",
        "TRACEDOJO_EXPLORER_URL",
        "DATABASE_URL",
        "QUEUE_URL",
        "RUST_LOG",
    ] {
        command.env_remove(variable);
    }
    command
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env("OTEL_BLRP_SCHEDULE_DELAY", "100")
        .env("OTEL_METRIC_EXPORT_INTERVAL", "500");
}

fn start_service(
    network: &Network,
    host: &str,
    service: &str,
    port: u16,
    database: &str,
    endpoint: &str,
    data: &Path,
) -> Process {
    let log = data.join(format!("{host}.log"));
    let mut command = network.command(host, BIN);
    command.args(["service", service, "--host", "0.0.0.0", "--port"]);
    command
        .arg(port.to_string())
        .arg("--data-dir")
        .arg(data.join(host));
    for (peer_host, peer, peer_port) in SERVICES {
        if PEERS.contains(&peer) && peer_host == peer {
            command
                .arg(format!("--{peer}-url"))
                .arg(format!("http://{}:{peer_port}", network.address(peer_host)));
        }
    }
    telemetry_env(&mut command, endpoint);
    command
        .env("DATABASE_URL", database)
        .env("PAYMENT_MEDIAN_LATENCY_MS", "5")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(data.join(format!("{host}.err"))).unwrap());
    let child = command.spawn().expect("start a service on its host");
    Process {
        name: host.to_string(),
        child,
        log: data.join(format!("{host}.err")),
    }
}

/// Waits until every service answers its health check at its host's address.
async fn until_healthy(network: &Network, processes: &mut [Process]) {
    let deadline = Instant::now() + READY_WITHIN;
    for (host, _, port) in SERVICES {
        let url = format!("http://{}:{port}/health", network.address(host));
        loop {
            let answered = client().get(&url).send().await;
            if answered.is_ok_and(|a| a.status().is_success()) {
                break;
            }
            let process = processes.iter_mut().find(|p| p.name == host).unwrap();
            if let Ok(Some(status)) = process.child.try_wait() {
                panic!("{host} exited ({status}):\n{}", process.output());
            }
            assert!(
                Instant::now() < deadline,
                "{host} not healthy at {url} after {READY_WITHIN:?}:\n{}",
                process.output()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// One load generator on `host`, as instance `instance` of two, against `target`; its report.
fn load(
    network: &Network,
    host: &str,
    instance: &str,
    target: &str,
    endpoint: &str,
    report: &Path,
) -> std::process::Output {
    let mut command = network.command(host, BIN);
    command.args([
        "load",
        "--target",
        target,
        "--instance",
        instance,
        "--users",
        "20",
        "--rate",
        "20",
        "--journeys",
        "40",
        "--duration",
        "20",
        "--think-max-ms",
        "20",
        "--seed",
        "7",
        "--json",
    ]);
    command.arg(report);
    telemetry_env(&mut command, endpoint);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = command.spawn().expect("start a load generator on its host");
    child
        .wait_with_output()
        .expect("the load generator's output")
}

/// A checkout's trace: the checkout service's `POST /checkout` span and every span of its
/// trace, once every service the checkout calls has its spans in.
fn checkout_trace(spans: &[StoredSpan]) -> Option<Vec<&StoredSpan>> {
    let wanted = [
        "frontend",
        "checkout",
        "cart",
        "catalog",
        "inventory",
        "payment",
        "shipping",
    ];
    spans
        .iter()
        .filter(|s| s.service_name() == "checkout" && s.kind == "SERVER")
        .map(|root| {
            spans
                .iter()
                .filter(|s| s.trace_id == root.trace_id)
                .collect::<Vec<_>>()
        })
        .find(|trace| {
            let services: BTreeSet<&str> = trace.iter().map(|s| s.service_name()).collect();
            wanted.iter().all(|w| services.contains(w))
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shop_runs_with_each_service_on_its_own_host_and_two_load_generators() {
    let hosts: Vec<&str> = SERVICES
        .iter()
        .map(|(host, _, _)| *host)
        .chain(["load-a", "load-b"])
        .collect();
    let network = match Network::create(&hosts) {
        Ok(network) => network,
        Err(reason) => return skip_or_fail(reason),
    };
    let database = match PrivatePostgres::create("multi-host") {
        Ok(server) => server,
        Err(reason) => return skip_or_fail(reason),
    };
    let gateway = network.gateway.to_string();
    database.trust(&format!("{}/24", gateway));
    database.start_on(&format!("127.0.0.1,{gateway}"));
    let database_url = database.url_at(&gateway);

    let mut config = ReceiverConfig::local();
    config.http_addr = SocketAddr::new(network.gateway.into(), 0);
    config.grpc_addr = SocketAddr::new(network.gateway.into(), 0);
    let receiver = Receiver::start(config).await.unwrap();
    let endpoint = receiver.http_endpoint();

    let data = temp_dir("multi-host");
    let mut processes: Vec<Process> = SERVICES
        .iter()
        .map(|(host, service, port)| {
            start_service(
                &network,
                host,
                service,
                *port,
                &database_url,
                &endpoint,
                &data,
            )
        })
        .collect();
    until_healthy(&network, &mut processes).await;

    // Two load generators at once, each on its own host, each against one frontend replica.
    let reports = [data.join("a.json"), data.join("b.json")];
    let targets = [
        format!("http://{}:8080", network.address("frontend-a")),
        format!("http://{}:8080", network.address("frontend-b")),
    ];
    let (outputs, network) = tokio::task::spawn_blocking({
        let (reports, targets, endpoint) = (reports.clone(), targets.clone(), endpoint.clone());
        move || {
            let outputs = std::thread::scope(|scope| {
                let a = scope.spawn(|| {
                    load(
                        &network,
                        "load-a",
                        "1/2",
                        &targets[0],
                        &endpoint,
                        &reports[0],
                    )
                });
                let b = scope.spawn(|| {
                    load(
                        &network,
                        "load-b",
                        "2/2",
                        &targets[1],
                        &endpoint,
                        &reports[1],
                    )
                });
                [a.join().unwrap(), b.join().unwrap()]
            });
            (outputs, network)
        }
    })
    .await
    .unwrap();
    let a = report_of(&outputs[0], &reports[0]);
    let b = report_of(&outputs[1], &reports[1]);
    for report in [&a, &b] {
        assert_eq!(report["journeys_finished"], 40, "{report}");
        assert_eq!(report["errors"], 0, "{report}");
    }
    let merged_path = data.join("merged.json");
    let output = run_to_end(
        &[
            "load",
            "merge",
            reports[0].to_str().unwrap(),
            reports[1].to_str().unwrap(),
            "--json",
            merged_path.to_str().unwrap(),
        ],
        &[],
    );
    let merged = report_of(&output, &merged_path);
    assert_merged_exactly(&a, &b, &merged);

    // One checkout is one trace across the hosts: every span's parent is in it, and each call
    // went to the callee's own host.
    let spans = receiver
        .store()
        .wait_for_spans(|spans| checkout_trace(spans).is_some(), READY_WITHIN)
        .await
        .unwrap_or_else(|e| panic!("no whole checkout trace across the hosts: {e}"));
    let trace = checkout_trace(&spans).unwrap();
    let ids: BTreeSet<&str> = trace.iter().map(|s| s.span_id.as_str()).collect();
    for span in &trace {
        assert!(
            span.parent_span_id.is_empty()
                || ids.contains(span.parent_span_id.as_str())
                || span.service_name() == "loadgenerator",
            "{} of {} has its parent outside the trace",
            span.name,
            span.service_name()
        );
    }
    let addresses: BTreeMap<String, String> = SERVICES
        .iter()
        .filter(|(host, service, _)| host == service)
        .map(|(host, _, _)| (host.to_string(), network.address(host).to_string()))
        .collect();
    let checkout_calls: Vec<&&StoredSpan> = trace
        .iter()
        .filter(|s| s.service_name() == "checkout" && s.kind == "CLIENT")
        .filter(|s| s.attr_str("service.peer.name").is_some())
        .collect();
    assert!(!checkout_calls.is_empty(), "checkout called no one");
    for call in checkout_calls {
        let peer = call.attr_str("service.peer.name").unwrap();
        assert_eq!(
            call.attr_str("server.address"),
            addresses.get(peer).map(String::as_str),
            "checkout's call to {peer}"
        );
    }

    // The two frontend replicas: each answered its own load generator, each under an
    // instance id of its own.
    let mut instances: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for span in spans
        .iter()
        .filter(|s| s.service_name() == "frontend" && s.kind == "SERVER")
    {
        let address = span
            .attr_str("server.address")
            .unwrap_or_default()
            .to_string();
        let instance = span
            .resource
            .get("service.instance.id")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string();
        instances.entry(address).or_default().insert(instance);
    }
    let replica_a = &instances[&network.address("frontend-a").to_string()];
    let replica_b = &instances[&network.address("frontend-b").to_string()];
    assert_eq!(replica_a.len(), 1, "{instances:?}");
    assert_eq!(replica_b.len(), 1, "{instances:?}");
    assert_ne!(replica_a, replica_b, "the replicas share an instance id");
    eprintln!(
        "figure: multi-host: {} hosts, {} journeys from two load generators ({} requests, 0 \
         errors), merged p99 {} ms; a checkout trace of {} spans across {} services",
        hosts.len(),
        merged["journeys_finished"],
        merged["requests"],
        merged["overall"]["corrected"]["p99_ms"],
        trace.len(),
        trace
            .iter()
            .map(|s| s.service_name())
            .collect::<BTreeSet<_>>()
            .len()
    );
    drop(processes);
    let _ = std::fs::remove_dir_all(&data);
}
