//! The Kubernetes manifests (`deploy/kubernetes`) held to the binary they run, in every
//! overlay: each shop service has a Deployment running `tracedojo service NAME` on the
//! service's own port with `/health` probes, and a Service of that name; every container's
//! command line, with every setting it takes from its environment, parses with this binary's
//! CLI; every in-cluster URL names a Service of the overlay on that port; and every pod reports
//! its k8s.* resource attributes. What a schema cannot see; `deploy/kubernetes/check.sh`
//! validates the rest.
//!
//! The overlays are rendered by the kubectl of the virtualenv that check.sh makes
//! (target/kubernetes-check) and turned into JSON by its Python and PyYAML. CI runs check.sh
//! before the tests; elsewhere, run it once.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use clap::{CommandFactory, Parser};
use serde_json::Value;

use crate::cli::Cli;
use crate::ports;

const CHECK: &str = "deploy/kubernetes/check.sh";

/// Renders the overlay named by argv[2] with the kubectl at argv[1] and prints it as JSON.
const RENDER: &str = "import json, subprocess, sys, yaml
out = subprocess.run([sys.argv[1], 'kustomize', sys.argv[2]], check=True, stdout=subprocess.PIPE, text=True).stdout
print(json.dumps([doc for doc in yaml.safe_load_all(out) if doc]))";

/// Variables a service reads itself rather than through a flag.
const READ_DIRECTLY: [&str; 3] = [
    "TRACEDOJO_CONTROL_TOKEN",
    "TRACEDOJO_EXPLORER_ENDPOINT",
    "TRACEDOJO_PARTICIPANT",
];

const K8S_ATTRIBUTES: [&str; 5] = [
    "k8s.namespace.name",
    "k8s.pod.name",
    "k8s.pod.uid",
    "k8s.node.name",
    "k8s.deployment.name",
];

struct Overlay {
    name: String,
    resources: Vec<Value>,
}

impl Overlay {
    fn find(&self, kind: &str, name: &str) -> Option<&Value> {
        self.resources
            .iter()
            .find(|r| r["kind"] == kind && r["metadata"]["name"] == name)
    }

    fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Value> {
        self.resources.iter().filter(move |r| r["kind"] == kind)
    }

    /// Every container running this binary, with the Deployment it belongs to.
    fn tracedojo_containers(&self) -> Vec<(&Value, &Value)> {
        self.of_kind("Deployment")
            .flat_map(|d| {
                pod(d)["containers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(move |c| (d, c))
            })
            .filter(|(_, c)| c["command"][0] == "tracedojo")
            .collect()
    }

    /// A container's environment: its own variables (`None` for one from a Secret or the
    /// downward API) and those of the ConfigMaps it takes whole.
    fn environment(&self, container: &Value) -> Vec<(String, Option<String>)> {
        let mut env = Vec::new();
        for source in container["envFrom"].as_array().into_iter().flatten() {
            if let Some(name) = source["configMapRef"]["name"].as_str() {
                let map = self
                    .find("ConfigMap", name)
                    .unwrap_or_else(|| panic!("{}: no ConfigMap {name} for envFrom", self.name));
                for (key, value) in map["data"].as_object().unwrap() {
                    env.push((key.clone(), value.as_str().map(str::to_string)));
                }
            }
        }
        for var in container["env"].as_array().into_iter().flatten() {
            let name = var["name"].as_str().unwrap().to_string();
            env.push((name, var["value"].as_str().map(str::to_string)));
        }
        env
    }
}

fn pod(workload: &Value) -> &Value {
    &workload["spec"]["template"]["spec"]
}

fn name(resource: &Value) -> &str {
    resource["metadata"]["name"].as_str().unwrap()
}

fn command_line(container: &Value) -> Vec<String> {
    ["command", "args"]
        .iter()
        .flat_map(|key| container[*key].as_array().into_iter().flatten())
        .map(|word| word.as_str().unwrap().to_string())
        .collect()
}

fn overlays() -> Vec<Overlay> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let venv = root.join("target/kubernetes-check/bin");
    let ready = venv.join("kubectl").exists() && venv.join("python").exists();
    // Outside CI (a fresh clone's `cargo test --workspace`) the tools may not be made yet:
    // say so and check nothing; CI runs check.sh first and requires them.
    if !ready && std::env::var_os("CI").is_none() {
        eprintln!(
            "SKIPPED the Kubernetes manifest checks: run {CHECK} once to make the tools they use"
        );
        return Vec::new();
    }
    assert!(
        ready,
        "these tests render the manifests with the kubectl and PyYAML of {}, which is missing: \
         run {CHECK} once (it makes that virtualenv from deploy/kubernetes/requirements.txt)",
        venv.display()
    );
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join("deploy/kubernetes/overlays"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 3, "overlays missing: {dirs:?}");
    dirs.iter()
        .map(|dir| {
            let output = Command::new(venv.join("python"))
                .args(["-c", RENDER])
                .arg(venv.join("kubectl"))
                .arg(dir)
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "cannot render {}: {}",
                dir.display(),
                String::from_utf8_lossy(&output.stderr)
            );
            let resources: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            Overlay { name, resources }
        })
        .collect()
}

#[test]
fn every_shop_service_runs_on_its_own_port_with_health_probes() {
    for overlay in overlays() {
        for (service, offset) in ports::SERVICES {
            let port = 8080 + offset;
            let at = format!("{}: {service}", overlay.name);
            let deployment = overlay
                .find("Deployment", service)
                .unwrap_or_else(|| panic!("{at}: no Deployment"));
            let container = &pod(deployment)["containers"][0];
            assert_eq!(
                command_line(container),
                ["tracedojo", "service", service],
                "{at}"
            );
            let ports = container["ports"].as_array().unwrap();
            assert!(
                ports
                    .iter()
                    .any(|p| p["name"] == "http" && p["containerPort"] == port),
                "{at}: container port http is not {port}: {ports:?}"
            );
            for probe in ["readinessProbe", "livenessProbe"] {
                let get = &container[probe]["httpGet"];
                assert_eq!(get["path"], "/health", "{at}: {probe}");
                assert_eq!(get["port"], "http", "{at}: {probe}");
            }
            let svc = overlay
                .find("Service", service)
                .unwrap_or_else(|| panic!("{at}: no Service"));
            let ports = svc["spec"]["ports"].as_array().unwrap();
            assert!(
                ports
                    .iter()
                    .any(|p| p["port"] == port && p["targetPort"] == "http"),
                "{at}: the Service does not serve port {port} from http: {ports:?}"
            );
            let labels = &deployment["spec"]["template"]["metadata"]["labels"];
            for (key, value) in svc["spec"]["selector"].as_object().unwrap() {
                assert_eq!(&labels[key], value, "{at}: the Service selects other pods");
            }
        }
    }
}

#[test]
fn every_command_line_and_setting_parses_with_this_binary() {
    let mut cli = Cli::command();
    cli.build();
    for overlay in overlays() {
        for (deployment, container) in overlay.tracedojo_containers() {
            let at = format!("{}: {}", overlay.name, name(deployment));
            let mut argv = command_line(container);
            let words = argv[1..].join(" ");
            // The subcommand the words name (`service`, `fault serve` ...), for its variables.
            let mut command = &cli;
            for word in &argv[1..] {
                match command.find_subcommand(word) {
                    Some(sub) => command = sub,
                    None => break,
                }
            }
            let flags: BTreeMap<String, &clap::Arg> = command
                .get_arguments()
                .filter_map(|arg| Some((arg.get_env()?.to_str()?.to_string(), arg)))
                .collect();
            for (var, value) in overlay.environment(container) {
                if var.starts_with("OTEL_") || var.starts_with("K8S_") {
                    continue;
                }
                if command.get_name() == "service" && READ_DIRECTLY.contains(&var.as_str()) {
                    continue;
                }
                let arg = flags
                    .get(&var)
                    .unwrap_or_else(|| panic!("{at}: `{words}` reads no variable {var}"));
                // Given as its flag, so the value meets the same parser as from the variable.
                if let (Some(value), Some(long)) = (value, arg.get_long())
                    && arg.get_action().takes_values()
                {
                    argv.push(format!("--{long}={value}"));
                }
            }
            if let Err(err) = Cli::try_parse_from(&argv) {
                panic!("{at}: {argv:?} does not parse:\n{}", err.render());
            }
        }
    }
}

#[test]
fn every_in_cluster_url_names_a_service_on_its_port() {
    for overlay in overlays() {
        let mut texts: Vec<String> = Vec::new();
        for map in overlay.of_kind("ConfigMap") {
            let data = map["data"].as_object().unwrap();
            texts.extend(data.values().filter_map(|v| v.as_str().map(str::to_string)));
        }
        for (_, container) in overlay.tracedojo_containers() {
            texts.extend(command_line(container));
            texts.extend(
                overlay
                    .environment(container)
                    .into_iter()
                    .filter_map(|(_, v)| v),
            );
        }
        let mut seen = 0;
        for text in &texts {
            for (_, rest) in text
                .match_indices("http://")
                .map(|(i, _)| text.split_at(i + 7))
            {
                let authority = rest.split(['/', ',', ' ', '\n', '"']).next().unwrap();
                let Some((host, port)) = authority.split_once(':') else {
                    continue;
                };
                if host == "localhost" || host.contains('.') {
                    continue; // the user's own browser, or outside the cluster
                }
                let port: u16 = port.parse().unwrap();
                let service = overlay.find("Service", host).unwrap_or_else(|| {
                    panic!(
                        "{}: {text:?} names {host}, which is no Service",
                        overlay.name
                    )
                });
                let ports = service["spec"]["ports"].as_array().unwrap();
                assert!(
                    ports.iter().any(|p| p["port"] == port),
                    "{}: {text:?} names port {port}, which Service {host} does not serve",
                    overlay.name
                );
                seen += 1;
            }
        }
        // Seven peers, the faults, the collector (twice) and the explorer at least.
        assert!(
            seen >= 11,
            "{}: only {seen} in-cluster URLs found",
            overlay.name
        );
    }
}

#[test]
fn every_pod_reports_its_kubernetes_names_and_writes_only_to_volumes() {
    for overlay in overlays() {
        for (deployment, container) in overlay.tracedojo_containers() {
            let at = format!("{}: {}", overlay.name, name(deployment));
            let env = overlay.environment(container);
            let defined = |var: &str, before: usize| env[..before].iter().any(|(n, _)| n == var);
            let (position, attributes) = env
                .iter()
                .enumerate()
                .find_map(|(i, (n, v))| (n == "OTEL_RESOURCE_ATTRIBUTES").then(|| (i, v.clone())))
                .unwrap_or_else(|| panic!("{at}: no OTEL_RESOURCE_ATTRIBUTES"));
            let attributes: BTreeMap<&str, &str> = attributes
                .as_deref()
                .unwrap()
                .split(',')
                .map(|pair| pair.split_once('=').unwrap())
                .collect();
            for key in K8S_ATTRIBUTES {
                let value = attributes
                    .get(key)
                    .unwrap_or_else(|| panic!("{at}: no {key}"));
                // Kubernetes expands $(VAR) only from variables defined earlier in the list.
                let var = value
                    .strip_prefix("$(")
                    .and_then(|v| v.strip_suffix(')'))
                    .unwrap();
                assert!(
                    defined(var, position),
                    "{at}: {key} uses {var} before it is set"
                );
            }
            // k8s.deployment.name comes from the pods' name label: it must be the Deployment's.
            let labels = &deployment["spec"]["template"]["metadata"]["labels"];
            assert_eq!(labels["app.kubernetes.io/name"], name(deployment), "{at}");

            let pod = pod(deployment);
            assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{at}");
            assert_eq!(
                container["securityContext"]["readOnlyRootFilesystem"], true,
                "{at}"
            );
            // A service without a database URL proves at start that its data directory can
            // be written: on a read-only root filesystem that directory must be a volume.
            if container["command"][1] == "service" && !defined("DATABASE_URL", env.len()) {
                let dir = env.iter().find(|(n, _)| n == "TRACEDOJO_DATA_DIR");
                let dir = dir.and_then(|(_, v)| v.clone()).unwrap_or_else(|| {
                    panic!("{at}: no DATABASE_URL, so TRACEDOJO_DATA_DIR must name a volume")
                });
                let mounts = container["volumeMounts"].as_array().into_iter().flatten();
                assert!(
                    mounts.into_iter().any(|m| m["mountPath"] == dir.as_str()),
                    "{at}: TRACEDOJO_DATA_DIR {dir} is not a mounted volume"
                );
            }
        }
    }
}
