//! Reading `semconv/`: the shop's own registry files (the subset of YAML they use), the list
//! of OpenTelemetry keys the shop may send, the list of old keys, and the [`Registries`] that
//! sent attributes are judged against.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::findings::Problem;

pub(crate) fn semconv_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("semconv")
}

pub(crate) fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// A group or an attribute of a registry file: its `id`, the line it starts on, and its other
/// fields as text (a folded `brief: >` joined into one line).
#[derive(Debug, Default, Clone)]
pub(crate) struct Entry {
    pub(crate) id: String,
    pub(crate) line: usize,
    fields: BTreeMap<String, String>,
    /// The `value`s of an enum's members, as written (quotes removed).
    pub(crate) members: Vec<String>,
    /// Whether the `type:` had `members:` below it.
    pub(crate) is_enum: bool,
}

impl Entry {
    pub(crate) fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// `string`, `int`, `double`, `boolean`, an array of them (`string[]` ...), or for an enum
    /// the type of its members' values.
    pub(crate) fn value_type(&self) -> String {
        if self.is_enum {
            let all_int =
                !self.members.is_empty() && self.members.iter().all(|v| v.parse::<i64>().is_ok());
            return if all_int { "int" } else { "string" }.to_string();
        }
        self.field("type").unwrap_or_default().to_string()
    }
}

#[derive(Debug, Default)]
pub(crate) struct Group {
    pub(crate) entry: Entry,
    pub(crate) attributes: Vec<Entry>,
}

/// Reads the subset of YAML the registry files use (the layout of the OpenTelemetry
/// semantic-conventions model): `groups:`, group items `- id:` with fields, `attributes:` with
/// items `- id:` and their fields, enum `type:` with `members:`. Not a general YAML reader: a
/// file it cannot follow is an error, so a file that drifts from the layout is noticed.
fn parse_registry(text: &str) -> Result<Vec<Group>, String> {
    let mut groups: Vec<Group> = Vec::new();
    let mut group_item: Option<usize> = None;
    let mut attribute_item: Option<usize> = None;
    let mut in_attributes = false;
    let mut last_field = String::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = raw.len() - raw.trim_start().len();
        let (is_item, body) = match trimmed.strip_prefix("- ") {
            Some(body) => (true, body.trim()),
            None => (false, trimmed),
        };
        let pair = key_value(body);
        if indent == 0 {
            if body != "groups:" {
                return Err(format!(
                    "line {line}: only `groups:` is expected at the top level, not {body:?}"
                ));
            }
            continue;
        }
        if is_item && let Some(("id", id)) = pair {
            if group_item.is_none_or(|i| i == indent) {
                group_item = Some(indent);
                groups.push(Group {
                    entry: Entry {
                        id: id.to_string(),
                        line,
                        ..Entry::default()
                    },
                    attributes: Vec::new(),
                });
                in_attributes = false;
                attribute_item = None;
                last_field = "id".into();
                continue;
            }
            if in_attributes && attribute_item.is_none_or(|i| i == indent) {
                attribute_item = Some(indent);
                let group = groups.last_mut().expect("in a group");
                group.attributes.push(Entry {
                    id: id.to_string(),
                    line,
                    ..Entry::default()
                });
                last_field = "id".into();
                continue;
            }
        }
        let Some(group) = groups.last_mut() else {
            return Err(format!("line {line}: {body:?} before the first group"));
        };
        let group_field = group_item.map(|i| i + 2);
        let attribute_field = attribute_item.map(|i| i + 2);
        let current_field = if in_attributes && !group.attributes.is_empty() {
            attribute_field
        } else {
            group_field
        };
        if !is_item && in_attributes && Some(indent) == attribute_field {
            let Some((key, value)) = pair else {
                return Err(format!("line {line}: expected `key: value`, got {body:?}"));
            };
            let attribute = group.attributes.last_mut().expect("an attribute");
            attribute.fields.insert(key.to_string(), value.to_string());
            last_field = key.to_string();
        } else if !is_item && Some(indent) == group_field {
            let Some((key, value)) = pair else {
                return Err(format!("line {line}: expected `key: value`, got {body:?}"));
            };
            in_attributes = key == "attributes";
            attribute_item = None;
            group
                .entry
                .fields
                .insert(key.to_string(), value.to_string());
            last_field = key.to_string();
        } else if current_field.is_some_and(|field| indent > field) {
            // Below the last field: an enum's members, or the rest of a folded text.
            let entry = if in_attributes && !group.attributes.is_empty() {
                group.attributes.last_mut().expect("an attribute")
            } else {
                &mut group.entry
            };
            match (last_field.as_str(), pair) {
                ("type", Some(("members", ""))) => entry.is_enum = true,
                ("type", Some(("value", value))) if !is_item => {
                    entry.members.push(value.to_string());
                }
                ("type", _) => {}
                (field @ ("brief" | "note" | "examples" | "display_name"), _) => {
                    let text = entry.fields.entry(field.to_string()).or_default();
                    if matches!(text.as_str(), ">" | "|" | ">-" | "|-") {
                        text.clear();
                    }
                    if !text.is_empty() {
                        text.push(' ');
                    }
                    text.push_str(trimmed);
                }
                (field, _) => {
                    return Err(format!(
                        "line {line}: {body:?} is indented below `{field}`, which takes one line"
                    ));
                }
            }
        } else {
            return Err(format!(
                "line {line}: unexpected indentation ({indent} spaces) for {body:?}"
            ));
        }
    }
    Ok(groups)
}

/// `key: value` with a plain key; the value without its quotes.
fn key_value(body: &str) -> Option<(&str, &str)> {
    let (key, value) = body.split_once(':')?;
    if key.is_empty()
        || !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
    {
        return None;
    }
    let value = value.trim();
    let unquoted = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
        .unwrap_or(value);
    Some((key, unquoted))
}

/// The file that takes the OpenTelemetry attributes into the registry for weaver (`- ref:`).
pub(crate) const OPENTELEMETRY_REFS: &str = "opentelemetry.yaml";

/// Every `semconv/*.yaml` of the shop's own attributes (not the manifest, not
/// [`OPENTELEMETRY_REFS`]), with its groups, sorted by file name.
pub(crate) fn registry_files() -> Vec<(PathBuf, Result<Vec<Group>, String>)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(semconv_dir())
        .expect("semconv/ at the top of the repository")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| {
            path.extension().is_some_and(|e| e == "yaml")
                && path
                    .file_name()
                    .is_some_and(|n| n != "manifest.yaml" && n != OPENTELEMETRY_REFS)
        })
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let groups = parse_registry(&read(&path));
            (path, groups)
        })
        .collect()
}

/// What the test checks sent attributes against.
pub(crate) struct Registries {
    /// The shop's own attributes: id -> value type.
    pub(crate) project: BTreeMap<String, String>,
    /// The allowed OpenTelemetry attributes: key -> value type.
    opentelemetry: BTreeMap<String, String>,
    /// Old keys -> what replaced them.
    deprecated: BTreeMap<String, String>,
}

impl Registries {
    pub(crate) fn load() -> Registries {
        let mut project = BTreeMap::new();
        for (path, groups) in registry_files() {
            let groups = groups.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            for attribute in groups.iter().flat_map(|g| &g.attributes) {
                project.insert(attribute.id.clone(), attribute.value_type());
            }
        }
        let opentelemetry = opentelemetry_attributes()
            .into_iter()
            .map(|(key, (value_type, _, _))| (key, value_type))
            .collect();
        let deprecated = deprecated_keys()
            .into_iter()
            .map(|(old, (new, _))| (old, new))
            .collect();
        Registries {
            project,
            opentelemetry,
            deprecated,
        }
    }

    /// The type the registries give `key`, or why it is not allowed.
    pub(crate) fn judge(&self, key: &str) -> Result<&str, Problem> {
        if let Some(new) = self.deprecated.get(key) {
            return Err(Problem::Deprecated { new: new.clone() });
        }
        self.project
            .get(key)
            .or_else(|| self.opentelemetry.get(key))
            .map(String::as_str)
            .ok_or(Problem::Unknown)
    }
}

/// The lines of a `semconv/*.txt` list that say something, numbered from 1, without their
/// `#` comments.
fn content_lines(path: &Path) -> Vec<(usize, String)> {
    read(path)
        .lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line.split('#').next().unwrap_or_default().trim()))
        .filter(|(_, content)| !content.is_empty())
        .map(|(line_no, content)| (line_no, content.to_string()))
        .collect()
}

/// `semconv/opentelemetry-attributes.txt`: key -> (type, stability, line).
pub(crate) fn opentelemetry_attributes() -> BTreeMap<String, (String, String, usize)> {
    let path = semconv_dir().join("opentelemetry-attributes.txt");
    let mut keys = BTreeMap::new();
    for (line_no, content) in content_lines(&path) {
        let content = content.as_str();
        let words: Vec<&str> = content.split_whitespace().collect();
        let [key, value_type, stability] = words.as_slice() else {
            panic!(
                "{}:{line_no}: expected `key type stability`, got {content:?}",
                path.display()
            );
        };
        let previous = keys.insert(
            key.to_string(),
            (value_type.to_string(), stability.to_string(), line_no),
        );
        assert!(
            previous.is_none(),
            "{}:{line_no}: {key} is listed twice",
            path.display()
        );
    }
    keys
}

/// `semconv/deprecated.txt`: old key -> (its replacement, line).
pub(crate) fn deprecated_keys() -> BTreeMap<String, (String, usize)> {
    let path = semconv_dir().join("deprecated.txt");
    let mut keys = BTreeMap::new();
    for (line_no, content) in content_lines(&path) {
        let content = content.as_str();
        let Some((old, new)) = content.split_once("->") else {
            panic!(
                "{}:{line_no}: expected `old -> new`, got {content:?}",
                path.display()
            );
        };
        let (old, new) = (old.trim(), new.trim());
        assert!(
            !old.is_empty() && !old.contains(char::is_whitespace) && !new.is_empty(),
            "{}:{line_no}: expected `old -> new`, got {content:?}",
            path.display()
        );
        let previous = keys.insert(old.to_string(), (new.to_string(), line_no));
        assert!(
            previous.is_none(),
            "{}:{line_no}: {old} is listed twice",
            path.display()
        );
    }
    keys
}

pub(crate) const VALUE_TYPES: [&str; 8] = [
    "string",
    "int",
    "double",
    "boolean",
    "string[]",
    "int[]",
    "double[]",
    "boolean[]",
];
pub(crate) const STABILITIES: [&str; 3] = ["development", "release_candidate", "stable"];

#[test]
fn the_registry_reader_follows_the_layout_and_refuses_others() {
    let groups = parse_registry(
        "groups:\n  - id: registry.tracedojo.x\n    type: attribute_group\n    brief: >\n      Two\n      lines.\n    attributes:\n      - id: tracedojo.x.kind\n        type:\n          members:\n            - id: a\n              value: \"a\"\n              brief: A.\n        brief: Kind.\n        examples: [\"a\"]\n        stability: development\n      - id: tracedojo.x.count\n        type: int\n        brief: Count.\n",
    )
    .unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].entry.field("brief"), Some("Two lines."));
    let ids: Vec<&str> = groups[0].attributes.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["tracedojo.x.kind", "tracedojo.x.count"]);
    let kind = &groups[0].attributes[0];
    assert!(kind.is_enum);
    assert_eq!(kind.members, ["a"]);
    assert_eq!(kind.field("brief"), Some("Kind."));
    assert_eq!(groups[0].attributes[1].value_type(), "int");
    assert!(parse_registry("attributes:\n  - key: tracedojo.x\n").is_err());
    assert!(parse_registry("groups:\n  - id: g\n      type: odd\n").is_err());
}
