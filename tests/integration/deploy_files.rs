//! The container set-up cannot drift from the binary: every container of docker-compose.yml
//! (and of its override files) that runs the tracedojo image may pass only flags, and set only
//! environment variables, that the real binary's `--help` for that subcommand lists. A renamed
//! flag, a typo in a variable or a removed option then fails here, not in someone's
//! `docker compose up`. The eight shop services must each run in a container of their own, and
//! every variable the compose files use must be documented in `.env.example` (and the reverse).
//!
//! The compose files are read with a YAML parser (serde_norway, a dev-dependency), with YAML's
//! merge keys (`<<: *anchor`) resolved as Compose does. No Docker is needed. (Against the
//! Compose file schema, `deploy/compose/check.sh` checks them with docker-compose.)

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::process::Command;

use serde_json::{Map, Value};

use crate::support::BIN;

/// The base file first: it says which containers run the tracedojo image.
const COMPOSE_FILES: [&str; 3] = [
    "docker-compose.yml",
    "docker-compose.explorer.yml",
    "docker-compose.vendor.yml",
];

/// Variables a subcommand reads that its `--help` does not list as `[env: VAR]`, each with the
/// reason. Keep this short: a variable belongs in `--help` unless there is a reason it cannot.
const READ_WITHOUT_HELP: &[(&str, &str, &str)] = &[(
    "service",
    "TRACEDOJO_CONTROL_TOKEN",
    "the token for --faults-url: read from the environment only, never from a flag, so that \
     no process list shows it (src/service.rs)",
)];

/// The subcommands whose processes send telemetry through the kit's set-up, which reads the
/// standard OTEL_* variables; the ones they may set are those `tracedojo service --help` names.
const SENDS_TELEMETRY: [&str; 2] = ["service", "load"];

#[test]
fn compose_files_use_only_flags_and_variables_the_binary_accepts() {
    let problems = problems(&read_compose_files());
    assert!(
        problems.is_empty(),
        "the compose files do not match the binary:\n  {}",
        problems.join("\n  ")
    );
}

/// The check itself must see a wrong flag and a wrong variable, or it proves nothing.
#[test]
fn a_flag_or_variable_the_binary_does_not_know_is_caught() {
    let files = read_compose_files();
    let base = &files[0].1;
    for (from, to, expected) in [
        (
            r#"command: ["service", "catalog"]"#,
            r#"command: ["service", "catalog", "--no-such-flag"]"#,
            "catalog: `tracedojo service` has no flag --no-such-flag",
        ),
        (
            "      PORT: \"8084\"\n",
            "      PORT: \"8084\"\n      NO_SUCH_VARIABLE: \"1\"\n",
            "payment: `tracedojo service` reads no variable NO_SUCH_VARIABLE",
        ),
        (
            "      - --poisson\n",
            "      - --poisson\n      - --no-such-flag=1\n",
            "load: `tracedojo load` has no flag --no-such-flag",
        ),
    ] {
        assert!(
            base.contains(from),
            "docker-compose.yml no longer holds {from:?}"
        );
        let mut changed = files.clone();
        changed[0].1 = base.replacen(from, to, 1);
        let problems = problems(&changed);
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "a change to {to:?} was not caught; problems: {problems:?}"
        );
    }
}

fn read_compose_files() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    COMPOSE_FILES
        .iter()
        .map(|name| {
            let text = std::fs::read_to_string(root.join(name))
                .unwrap_or_else(|err| panic!("cannot read {name}: {err}"));
            (name.to_string(), text)
        })
        .collect()
}

/// Every mismatch between the compose files (name, text) and the binary, in words.
fn problems(files: &[(String, String)]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut help = HelpTexts::default();
    let documents: Vec<(&str, Value)> = files
        .iter()
        .map(|(name, text)| (name.as_str(), parse_yaml(name, text)))
        .collect();

    // The containers of the tracedojo image, and the subcommand each runs.
    let (base_name, base) = &documents[0];
    let mut subcommands: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut shop_services = BTreeSet::new();
    for (name, service) in services(base) {
        let image = service["image"].as_str().unwrap_or_default();
        if !image.to_ascii_lowercase().contains("tracedojo") {
            continue;
        }
        match subcommand(service) {
            Ok((path, args)) => {
                if path == ["service"] {
                    shop_services.insert(args.first().cloned().unwrap_or_default());
                }
                subcommands.insert(name.to_string(), path);
            }
            Err(problem) => problems.push(format!("{base_name}: {name}: {problem}")),
        }
    }

    // Each of the eight services the binary knows runs in a container of its own.
    let known: BTreeSet<String> = help.service_names().into_iter().collect();
    if shop_services != known {
        problems.push(format!(
            "{base_name}: the containers run the services {shop_services:?}, the binary has {known:?}"
        ));
    }

    for (file, document) in &documents {
        for (name, service) in services(document) {
            let Some(path) = subcommands.get(name) else {
                continue;
            };
            let shown = format!("`tracedojo {}`", path.join(" "));
            if service.get("command").is_some() {
                match subcommand(service) {
                    Ok((own_path, args)) if &own_path == path => {
                        let options = help.options(path);
                        for flag in flags(&args) {
                            if !options.contains(&flag) {
                                problems
                                    .push(format!("{file}: {name}: {shown} has no flag {flag}"));
                            }
                        }
                    }
                    Ok((own_path, _)) => problems.push(format!(
                        "{file}: {name}: runs `tracedojo {}` here but {shown} in {base_name}",
                        own_path.join(" ")
                    )),
                    Err(problem) => problems.push(format!("{file}: {name}: {problem}")),
                }
            }
            let variables = help.variables(path);
            for variable in environment_names(&service["environment"]) {
                if !variables.contains(&variable) {
                    problems.push(format!(
                        "{file}: {name}: {shown} reads no variable {variable} (its --help lists \
                         none by that name; if it reads it all the same, add it to \
                         READ_WITHOUT_HELP with the reason)"
                    ));
                }
            }
        }
    }

    let values: Vec<&Value> = documents.iter().map(|(_, document)| document).collect();
    problems.extend(env_example_problems(&values));
    problems
}

/// The subcommand a container runs (`["service"]`, `["fault", "serve"]` ...) and the
/// arguments after it. Only the list form of `command` is accepted: a string would be split
/// by Compose's own rules, which this check does not repeat.
fn subcommand(service: &Value) -> Result<(Vec<String>, Vec<String>), String> {
    let Some(command) = service["command"].as_array() else {
        return Err("its command must be a list, e.g. [\"service\", \"catalog\"]".into());
    };
    let words: Vec<String> = command
        .iter()
        .map(|word| word.as_str().unwrap_or_default().to_string())
        .collect();
    let depth = match words.first().map(String::as_str) {
        Some("service" | "explore" | "load") => 1,
        Some("fault") if words.get(1).is_some_and(|w| w == "serve") => 2,
        _ => {
            return Err(format!(
                "runs {words:?}; expected `service NAME`, `explore`, `fault serve` or `load`"
            ));
        }
    };
    Ok((words[..depth].to_vec(), words[depth..].to_vec()))
}

/// The flags among a command's arguments (`--rate`, `--max-memory` of `--max-memory=1GiB`).
fn flags(args: &[String]) -> Vec<String> {
    args.iter()
        .filter(|arg| arg.starts_with('-'))
        .map(|arg| arg.split('=').next().unwrap_or_default().to_string())
        .collect()
}

/// The names an `environment:` sets, in its mapping form or its list form (`NAME=value`).
fn environment_names(environment: &Value) -> Vec<String> {
    match environment {
        Value::Object(map) => map.keys().cloned().collect(),
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(|item| item.split('=').next().unwrap_or_default().to_string())
            .collect(),
        _ => Vec::new(),
    }
}

fn services(document: &Value) -> Vec<(&str, &Value)> {
    document["services"]
        .as_object()
        .map(|services| services.iter().map(|(k, v)| (k.as_str(), v)).collect())
        .unwrap_or_default()
}

/// The real binary's `--help`, read once per subcommand.
#[derive(Default)]
struct HelpTexts {
    texts: HashMap<Vec<String>, String>,
}

impl HelpTexts {
    fn text(&mut self, path: &[String]) -> &str {
        self.texts.entry(path.to_vec()).or_insert_with(|| {
            let output = Command::new(BIN)
                .args(path)
                .arg("--help")
                .output()
                .expect("tracedojo runs");
            assert!(
                output.status.success(),
                "tracedojo {} --help failed: {}",
                path.join(" "),
                String::from_utf8_lossy(&output.stderr)
            );
            String::from_utf8(output.stdout).expect("help is UTF-8")
        })
    }

    /// The long and short options the subcommand defines: the lines of its `Options:` section
    /// that start with a dash (`  -h, --help`, `      --port <PORT>`), not flags merely
    /// mentioned in its text (the help of `service` mentions some of `up`'s).
    fn options(&mut self, path: &[String]) -> BTreeSet<String> {
        let mut options = BTreeSet::new();
        let mut in_options = false;
        for line in self.text(path).lines() {
            if line == "Options:" {
                in_options = true;
                continue;
            }
            if in_options && !line.is_empty() && !line.starts_with(' ') {
                break;
            }
            let definition = line.trim_start();
            if !in_options || !definition.starts_with('-') {
                continue;
            }
            for word in definition.split([' ', ',']) {
                if word.starts_with('-') {
                    options.insert(word.to_string());
                } else if !word.is_empty() {
                    break;
                }
            }
        }
        options
    }

    /// The variables the subcommand reads: its `[env: NAME]` notes, the OTEL_* variables named
    /// by `tracedojo service --help` when it sends telemetry, and [`READ_WITHOUT_HELP`].
    fn variables(&mut self, path: &[String]) -> BTreeSet<String> {
        let mut variables: BTreeSet<String> = self
            .text(path)
            .split("[env: ")
            .skip(1)
            .map(|rest| rest.chars().take_while(is_name_char).collect())
            .collect();
        if SENDS_TELEMETRY.contains(&path[0].as_str()) {
            let service_help = self.text(&["service".to_string()]);
            variables.extend(
                service_help
                    .split(|c: char| !is_name_char(&c))
                    .filter(|word| word.starts_with("OTEL_"))
                    .map(str::to_string),
            );
        }
        variables.extend(
            READ_WITHOUT_HELP
                .iter()
                .filter(|(subcommand, _, _)| path.join(" ") == *subcommand)
                .map(|(_, variable, _)| variable.to_string()),
        );
        variables
    }

    /// The services `tracedojo service NAME` runs, from the words of its help: "The service to
    /// run: frontend, catalog, ... or shipping".
    fn service_names(&mut self) -> Vec<String> {
        let text = self.text(&["service".to_string()]);
        let line = text
            .lines()
            .find_map(|line| line.split_once("The service to run: "))
            .map(|(_, names)| names)
            .expect("`tracedojo service --help` names the services");
        line.split([',', ' '])
            .filter(|word| !word.is_empty() && *word != "or")
            .map(str::to_string)
            .collect()
    }
}

/// The variables substituted in the strings of a parsed compose file (comments are not read,
/// as Compose does not read them).
fn substituted(value: &Value, used: &mut BTreeSet<String>) {
    match value {
        Value::String(text) => {
            let mut rest = text.as_str();
            while let Some(start) = rest.find("${") {
                let escaped = rest[..start].ends_with('$');
                rest = &rest[start + 2..];
                if !escaped {
                    used.insert(rest.chars().take_while(is_name_char).collect());
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| substituted(item, used)),
        Value::Object(map) => {
            for (key, item) in map {
                substituted(&Value::String(key.clone()), used);
                substituted(item, used);
            }
        }
        _ => {}
    }
}

fn is_name_char(c: &char) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_'
}

/// Each variable the compose files substitute (`${NAME}`, `${NAME:-default}`,
/// `${NAME:?message}`; `$${...}` is a literal dollar) must have a line in .env.example, and each
/// line of .env.example must be used by some compose file.
fn env_example_problems(documents: &[&Value]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let example = std::fs::read_to_string(root.join(".env.example")).expect(".env.example exists");
    let documented: BTreeSet<String> = example
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(name, _)| name.trim().to_string())
        .collect();
    let mut used = BTreeSet::new();
    for document in documents {
        substituted(document, &mut used);
    }
    let mut problems = Vec::new();
    for name in used.difference(&documented) {
        problems.push(format!(
            "the compose files use ${{{name}}}, which .env.example does not document"
        ));
    }
    for name in documented.difference(&used) {
        problems.push(format!(
            ".env.example documents {name}, which no compose file uses"
        ));
    }
    problems
}

/// One YAML document as JSON values (every scalar a string, as Compose reads them), with the
/// merge keys (`<<: *anchor`, `<<: [*a, *b]`) resolved: a mapping's own keys win over merged
/// ones, and an earlier merged mapping over a later one.
fn parse_yaml(name: &str, text: &str) -> Value {
    let yaml: serde_norway::Value =
        serde_norway::from_str(text).unwrap_or_else(|err| panic!("{name}: {err}"));
    to_json(&yaml)
}

fn to_json(yaml: &serde_norway::Value) -> Value {
    use serde_norway::Value as Yaml;
    match yaml {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::String(b.to_string()),
        Yaml::Number(n) => Value::String(n.to_string()),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Sequence(items) => Value::Array(items.iter().map(to_json).collect()),
        Yaml::Mapping(mapping) => {
            let mut map = Map::new();
            let mut merged = Vec::new();
            for (key, value) in mapping {
                let key = match to_json(key) {
                    Value::String(key) => key,
                    other => other.to_string(),
                };
                if key == "<<" {
                    match to_json(value) {
                        Value::Array(sources) => merged.extend(sources),
                        source => merged.push(source),
                    }
                } else {
                    map.insert(key, to_json(value));
                }
            }
            for source in merged {
                let Value::Object(source) = source else {
                    panic!("a merge key (<<) takes a mapping or a list of mappings");
                };
                for (key, value) in source {
                    map.entry(key).or_insert(value);
                }
            }
            Value::Object(map)
        }
        Yaml::Tagged(tagged) => to_json(&tagged.value),
    }
}
