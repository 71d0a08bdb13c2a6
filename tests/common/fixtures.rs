//! Shared helpers for JSON fixture tests: loading the project's own fixtures,
//! finding `../shared` (absent on a fresh clone), listing the property paths
//! the bundled v4 document declares (and those of a value it does not), and
//! describing how two JSON values differ.
//!
//! Include it with `#[path = "common/fixtures.rs"] mod fixtures;`.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// `tests/fixtures/<relative>`.
pub fn fixture_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(relative)
}

/// The bytes of `tests/fixtures/<relative>`; panics with the path when missing.
pub fn fixture_bytes(relative: &str) -> Vec<u8> {
    let path = fixture_path(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// `tests/fixtures/<relative>` parsed as JSON.
pub fn fixture_json(relative: &str) -> Value {
    let bytes = fixture_bytes(relative);
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{relative} is not JSON: {e}"))
}

/// `../shared/<relative>` seen from the project root, or `None` (with the
/// reason printed) when that directory is absent, as on a fresh clone.
pub fn shared_path(relative: &str) -> Option<PathBuf> {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared")).join(relative);
    if path.exists() {
        Some(path)
    } else {
        eprintln!(
            "skipped: {} is absent (../shared is only present in CI and on dev machines)",
            path.display()
        );
        None
    }
}

/// The bundled v4 document the models are generated from.
pub fn v4_document() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/fingerprint-server-api-v4.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).expect("the bundled v4 document is JSON")
}

/// The property paths a schema declares, written `a.b[].c` (`[]` for "any
/// item of the array"), and the paths under which any key is allowed
/// (free-form objects such as `tags`).
#[derive(Debug, Default)]
pub struct SchemaPaths {
    pub declared: BTreeSet<String>,
    pub free_form: BTreeSet<String>,
}

impl SchemaPaths {
    /// Walks `#/components/schemas/<name>` of `document`, following `$ref`,
    /// `oneOf`/`anyOf`/`allOf`, `properties` and `items`.
    pub fn of(document: &Value, name: &str) -> Self {
        let mut paths = Self::default();
        let schema = document
            .pointer(&format!("/components/schemas/{name}"))
            .unwrap_or_else(|| panic!("no schema {name} in the document"));
        paths.walk(document, schema, "", 0);
        paths
    }

    fn walk(&mut self, document: &Value, schema: &Value, prefix: &str, depth: usize) {
        assert!(depth < 32, "schema nesting too deep at {prefix:?}");
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            let pointer = reference
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("external $ref {reference}"));
            let target = document
                .pointer(pointer)
                .unwrap_or_else(|| panic!("dangling $ref {reference}"));
            self.walk(document, target, prefix, depth + 1);
        }
        for combinator in ["oneOf", "anyOf", "allOf"] {
            for variant in schema
                .get(combinator)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                self.walk(document, variant, prefix, depth + 1);
            }
        }
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            for (key, sub) in properties {
                let path = join(prefix, key);
                self.declared.insert(path.clone());
                self.walk(document, sub, &path, depth + 1);
            }
        }
        let has_properties = schema.get("properties").is_some();
        let additional = schema.get("additionalProperties");
        let open_object = matches!(additional, Some(Value::Bool(true)) | Some(Value::Object(_)))
            || (schema.get("type").and_then(Value::as_str) == Some("object")
                && !has_properties
                && additional.is_none());
        if open_object {
            self.free_form.insert(prefix.to_owned());
        }
        if let Some(items) = schema.get("items") {
            self.walk(document, items, &format!("{prefix}[]"), depth + 1);
        }
    }

    /// `true` when the document declares `path`, or `path` lies inside a
    /// free-form object.
    pub fn knows(&self, path: &str) -> bool {
        self.declared.contains(path) || self.free_form.iter().any(|open| is_inside(path, open))
    }

    /// The paths of `value` the document does not know, each only where the
    /// unknown part starts (not the paths inside it).
    pub fn undeclared(&self, value: &Value) -> BTreeSet<String> {
        let unknown: Vec<String> = value_paths(value)
            .into_iter()
            .filter(|path| !self.knows(path))
            .collect();
        unknown
            .iter()
            .filter(|path| !unknown.iter().any(|outer| is_inside(path, outer)))
            .cloned()
            .collect()
    }
}

/// `true` when `path` lies inside `outer` (`outer.x` or `outer[]…`).
fn is_inside(path: &str, outer: &str) -> bool {
    path.strip_prefix(outer)
        .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Every object key path present in `value`, in the same notation as
/// [`SchemaPaths`] (array items collapse to `[]`).
pub fn value_paths(value: &Value) -> BTreeSet<String> {
    fn walk(value: &Value, prefix: &str, out: &mut BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                for (key, sub) in map {
                    let path = join(prefix, key);
                    out.insert(path.clone());
                    walk(sub, &path, out);
                }
            }
            Value::Array(items) => {
                for item in items {
                    walk(item, &format!("{prefix}[]"), out);
                }
            }
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(value, "", &mut out);
    out
}

/// One difference between an input JSON value and its re-serialized form.
#[derive(Debug, Clone, PartialEq)]
pub enum Difference {
    /// Present in the input, absent from the output.
    Dropped { path: String, input: Value },
    /// Absent from the input, present in the output.
    Added { path: String, output: Value },
    /// Present in both with different values.
    Changed {
        path: String,
        input: Value,
        output: Value,
    },
}

impl Difference {
    /// A number written differently but equal in value (`1` against `1.0`).
    pub fn is_same_number(&self) -> bool {
        match self {
            Self::Changed {
                input: Value::Number(a),
                output: Value::Number(b),
                ..
            } => a.as_f64().is_some() && a.as_f64() == b.as_f64(),
            _ => false,
        }
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dropped { path, input } => write!(f, "{path}: dropped (input {input})"),
            Self::Added { path, output } => write!(f, "{path}: added (output {output})"),
            Self::Changed {
                path,
                input,
                output,
            } => write!(f, "{path}: {input} became {output}"),
        }
    }
}

/// The differences between `input` and `output`, deepest first found. Objects
/// are compared key by key, arrays index by index, anything else with `==`
/// (so `1` and `1.0` differ, as `serde_json::Value` equality has it).
pub fn differences(input: &Value, output: &Value) -> Vec<Difference> {
    fn walk(input: &Value, output: &Value, path: &str, out: &mut Vec<Difference>) {
        match (input, output) {
            (Value::Object(a), Value::Object(b)) => {
                for (key, sub) in a {
                    let sub_path = join(path, key);
                    match b.get(key) {
                        Some(other) => walk(sub, other, &sub_path, out),
                        None => out.push(Difference::Dropped {
                            path: sub_path,
                            input: sub.clone(),
                        }),
                    }
                }
                for (key, sub) in b {
                    if !a.contains_key(key) {
                        out.push(Difference::Added {
                            path: join(path, key),
                            output: sub.clone(),
                        });
                    }
                }
            }
            (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
                for (index, (x, y)) in a.iter().zip(b).enumerate() {
                    walk(x, y, &format!("{path}[{index}]"), out);
                }
            }
            _ if input == output => {}
            _ => out.push(Difference::Changed {
                path: path.to_owned(),
                input: input.clone(),
                output: output.clone(),
            }),
        }
    }
    let mut out = Vec::new();
    walk(input, output, "", &mut out);
    out
}

/// The differences, one per line, for assertion messages.
pub fn describe(differences: &[Difference]) -> String {
    differences
        .iter()
        .map(|d| format!("  {d}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Compares two JSON values loosely, for events that went through the
/// generated types: `null`, `{}` and `[]` on one side count as the field
/// being absent on the other, and numbers compare by value (`8` and `8.0`
/// are equal). Appends each differing path to `out`.
pub fn loose_differences(got: &Value, expected: &Value, path: &str, out: &mut Vec<String>) {
    fn is_empty(v: &Value) -> bool {
        match v {
            Value::Null => true,
            Value::Object(m) => m.is_empty(),
            Value::Array(a) => a.is_empty(),
            _ => false,
        }
    }
    match (got, expected) {
        (Value::Object(g), Value::Object(e)) => {
            for (k, gv) in g {
                match e.get(k) {
                    Some(ev) => loose_differences(gv, ev, &format!("{path}.{k}"), out),
                    None if is_empty(gv) => {}
                    None => out.push(format!("{path}.{k}: only in the parsed event")),
                }
            }
            for (k, ev) in e {
                if !g.contains_key(k) && !is_empty(ev) {
                    out.push(format!("{path}.{k}: missing from the parsed event"));
                }
            }
        }
        (Value::Array(g), Value::Array(e)) if g.len() == e.len() => {
            for (i, (gv, ev)) in g.iter().zip(e).enumerate() {
                loose_differences(gv, ev, &format!("{path}[{i}]"), out);
            }
        }
        (Value::Number(g), Value::Number(e)) if g.as_f64() == e.as_f64() => {}
        (g, e) if g == e => {}
        (g, e) => out.push(format!("{path}: {g} != {e}")),
    }
}
