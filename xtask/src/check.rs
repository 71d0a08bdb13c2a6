//! How two versions of the converted document differ, said in sentences: the
//! drift report a maintainer reads before accepting a schema refresh, with
//! what each change means for the crate's version.
//!
//! The walk knows what each node is (operation, parameter, response, schema),
//! so every difference is named by what it is about; whatever has no sentence
//! of its own gets a generic one, never a bare JSON pointer.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};

use serde_json::{Map, Value};

use crate::convert::HTTP_METHODS;

/// How many places a grouped generic sentence names before "and N more".
const PLACES_SHOWN: usize = 12;
/// Longest JSON value quoted in a generic sentence.
const VALUE_CHARS: usize = 80;
/// Schemas nested deeper than this are not compared (a bound for recursive
/// schemas compared through references on both sides).
const MAX_DEPTH: usize = 40;

/// What a change means for the crate's next version (`MAJOR.MINOR.PATCH+4`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Impact {
    /// Removes or changes something users may rely on.
    Major,
    /// Only adds.
    Minor,
    /// No rule decides it: read the change.
    Review,
}

/// Where inside a schema a change is: `Event.ip_info.v4` of a component,
/// or `source[]` of a parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    /// Words before the path, ending in a space (empty for components).
    pub context: String,
    pub path: String,
}

impl Place {
    fn component(name: &str) -> Place {
        Place {
            context: String::new(),
            path: name.to_string(),
        }
    }

    fn child(&self, suffix: &str) -> Place {
        Place {
            context: self.context.clone(),
            path: format!("{}{suffix}", self.path),
        }
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}`{}`", self.context, self.path)
    }
}

/// A parameter as the report shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    /// `query`, `path`, `header` or `cookie`.
    pub location: String,
    pub required: bool,
    /// The rendered type, e.g. `int64 | date-time`.
    pub ty: String,
}

/// How a parameter's requiredness reads in the report.
fn presence(required: bool) -> &'static str {
    if required { "required" } else { "optional" }
}

/// One difference between the committed document and the new one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    OperationAdded {
        op: String,
        method: String,
        path: String,
    },
    OperationRemoved {
        op: String,
        method: String,
        path: String,
    },
    ResponseAdded {
        op: String,
        status: String,
        body: Option<String>,
    },
    ResponseRemoved {
        op: String,
        status: String,
        body: Option<String>,
    },
    ParameterAdded {
        op: String,
        param: Param,
    },
    ParameterRemoved {
        op: String,
        param: Param,
    },
    ParameterMoved {
        op: String,
        name: String,
        from: String,
        to: String,
    },
    ParameterRequired {
        op: String,
        name: String,
        location: String,
        now_required: bool,
    },
    SchemaAdded {
        name: String,
        summary: String,
    },
    SchemaRemoved {
        name: String,
        summary: String,
    },
    PropertyAdded {
        at: Place,
        name: String,
        ty: String,
    },
    PropertyRemoved {
        at: Place,
        name: String,
        ty: String,
    },
    TypeChanged {
        at: Place,
        from: String,
        to: String,
    },
    /// An inline schema replaced by a reference to an equal named one.
    NowNamed {
        at: Place,
        name: String,
    },
    /// A reference replaced by an equal inline schema.
    NowInline {
        at: Place,
        was: String,
    },
    EnumValuesAdded {
        at: Place,
        values: Vec<String>,
    },
    EnumValuesRemoved {
        at: Place,
        values: Vec<String>,
    },
    /// A free value now limited to a list.
    EnumRestricted {
        at: Place,
        values: Vec<String>,
    },
    /// A list of values no longer there: any value goes.
    EnumLifted {
        at: Place,
        values: Vec<String>,
    },
    RequiredChanged {
        at: Place,
        property: String,
        now_required: bool,
    },
    /// Anything else: `key` (dotted, under `at`) added, removed or changed;
    /// values as compact JSON.
    Other {
        at: String,
        key: String,
        old: Option<String>,
        new: Option<String>,
    },
}

impl Change {
    /// What this change calls for, by the rules in CONTRIBUTING.md.
    pub fn impact(&self) -> Impact {
        use Change::*;
        match self {
            OperationAdded { .. }
            | SchemaAdded { .. }
            | PropertyAdded { .. }
            | EnumValuesAdded { .. } => Impact::Minor,
            ParameterAdded { param, .. } => {
                if param.required {
                    Impact::Major
                } else {
                    Impact::Minor
                }
            }
            // An optional parameter breaks no caller.
            ParameterRequired { now_required, .. } => {
                if *now_required {
                    Impact::Major
                } else {
                    Impact::Minor
                }
            }
            // A success status shapes the return type; the others do not.
            ResponseAdded { status, .. } | ResponseRemoved { status, .. } => {
                if status.starts_with('2') {
                    Impact::Major
                } else {
                    Impact::Minor
                }
            }
            OperationRemoved { .. }
            | ParameterRemoved { .. }
            | ParameterMoved { .. }
            | SchemaRemoved { .. }
            | PropertyRemoved { .. }
            | TypeChanged { .. }
            | EnumValuesRemoved { .. }
            | EnumRestricted { .. }
            | EnumLifted { .. }
            | RequiredChanged { .. } => Impact::Major,
            // The generated type's name may change with it.
            NowNamed { .. } | NowInline { .. } | Other { .. } => Impact::Review,
        }
    }

    /// Orders sentences of one impact so that alike ones sit together.
    fn rank(&self) -> u8 {
        use Change::*;
        match self {
            OperationAdded { .. } | OperationRemoved { .. } => 0,
            ParameterAdded { .. }
            | ParameterRemoved { .. }
            | ParameterMoved { .. }
            | ParameterRequired { .. } => 1,
            ResponseAdded { .. } | ResponseRemoved { .. } => 2,
            SchemaAdded { .. } | SchemaRemoved { .. } => 3,
            PropertyAdded { .. } | PropertyRemoved { .. } => 4,
            TypeChanged { .. } | NowNamed { .. } | NowInline { .. } => 5,
            EnumValuesAdded { .. }
            | EnumValuesRemoved { .. }
            | EnumRestricted { .. }
            | EnumLifted { .. } => 6,
            RequiredChanged { .. } => 7,
            Other { .. } => 8,
        }
    }
}

fn values_list(values: &[String]) -> String {
    values
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Change::*;
        match self {
            OperationAdded { op, method, path } => {
                write!(f, "operation `{op}` ({method} {path}) added")
            }
            OperationRemoved { op, method, path } => {
                write!(f, "operation `{op}` ({method} {path}) removed")
            }
            ResponseAdded { op, status, body } => {
                write!(f, "`{op}`: response {status} added")?;
                match body {
                    Some(b) => write!(f, " (body `{b}`)"),
                    None => Ok(()),
                }
            }
            ResponseRemoved { op, status, body } => {
                write!(f, "`{op}`: response {status} removed")?;
                match body {
                    Some(b) => write!(f, " (body was `{b}`)"),
                    None => Ok(()),
                }
            }
            ParameterAdded { op, param } => write!(
                f,
                "`{op}`: {} parameter `{}` added ({}, `{}`)",
                param.location,
                param.name,
                presence(param.required),
                param.ty
            ),
            ParameterRemoved { op, param } => write!(
                f,
                "`{op}`: {} parameter `{}` removed (was {}, `{}`)",
                param.location,
                param.name,
                presence(param.required),
                param.ty
            ),
            ParameterMoved { op, name, from, to } => {
                write!(f, "`{op}`: parameter `{name}` moved from {from} to {to}")
            }
            ParameterRequired {
                op,
                name,
                location,
                now_required,
            } => write!(
                f,
                "`{op}`: {location} parameter `{name}` is now {}",
                presence(*now_required)
            ),
            SchemaAdded { name, summary } => write!(f, "schema `{name}` added ({summary})"),
            SchemaRemoved { name, summary } => {
                write!(f, "schema `{name}` removed (was {summary})")
            }
            PropertyAdded { at, name, ty } => write!(f, "{at}: property `{name}` added (`{ty}`)"),
            PropertyRemoved { at, name, ty } => {
                write!(f, "{at}: property `{name}` removed (was `{ty}`)")
            }
            TypeChanged { at, from, to } => {
                write!(f, "{at}: type changed from `{from}` to `{to}`")
            }
            NowNamed { at, name } => write!(
                f,
                "{at}: now a reference to schema `{name}` (was an equal inline schema)"
            ),
            NowInline { at, was } => write!(
                f,
                "{at}: now an inline schema (was a reference to the equal schema `{was}`)"
            ),
            EnumValuesAdded { at, values } => {
                write!(f, "{at}: enum values added: {}", values_list(values))
            }
            EnumValuesRemoved { at, values } => {
                write!(f, "{at}: enum values removed: {}", values_list(values))
            }
            EnumRestricted { at, values } => {
                write!(f, "{at}: now limited to the values {}", values_list(values))
            }
            EnumLifted { at, values } => write!(
                f,
                "{at}: no longer limited to a list of values (was {})",
                values_list(values)
            ),
            RequiredChanged {
                at,
                property,
                now_required,
            } => write!(
                f,
                "{at}: property `{property}` is {}",
                if *now_required {
                    "now required"
                } else {
                    "no longer required"
                }
            ),
            Other { at, key, old, new } => write!(f, "{at}: {}", other_what(key, old, new)),
        }
    }
}

/// The part of a generic sentence that does not name the place.
fn other_what(key: &str, old: &Option<String>, new: &Option<String>) -> String {
    match (old, new) {
        (None, Some(n)) => format!("`{key}` added (`{n}`)"),
        (Some(o), None) => format!("`{key}` removed (was `{o}`)"),
        (Some(o), Some(n)) => format!("`{key}` changed from `{o}` to `{n}`"),
        (None, None) => format!("`{key}` changed"),
    }
}

/// Every difference found, in the order found.
#[derive(Debug, Default)]
pub struct Drift {
    pub changes: Vec<Change>,
}

impl Drift {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The highest impact among the changes (`Review` only when nothing is
    /// decided by a rule).
    pub fn bump(&self) -> Option<Impact> {
        let has = |i| self.changes.iter().any(|c| c.impact() == i);
        [Impact::Major, Impact::Minor, Impact::Review]
            .into_iter()
            .find(|i| has(*i))
    }

    /// One sentence per change; generic ones that say the same thing about
    /// several places are merged into one.
    pub fn sentences(&self, impact: Impact) -> Vec<String> {
        let mut picked: Vec<&Change> = self
            .changes
            .iter()
            .filter(|c| c.impact() == impact)
            .collect();
        picked.sort_by_key(|c| c.rank());
        let mut out = Vec::new();
        // (what, places) of generic changes, in first-seen order.
        let mut others: Vec<(String, Vec<&str>)> = Vec::new();
        for c in picked {
            match c {
                Change::Other { at, key, old, new } => {
                    let what = other_what(key, old, new);
                    match others.iter_mut().find(|(w, _)| *w == what) {
                        Some((_, places)) => places.push(at),
                        None => others.push((what, vec![at])),
                    }
                }
                c => out.push(c.to_string()),
            }
        }
        for (what, places) in others {
            if places.len() == 1 {
                out.push(format!("{}: {what}", places[0]));
            } else {
                let shown = places.len().min(PLACES_SHOWN);
                let mut s = format!(
                    "{what} in {} places: {}",
                    places.len(),
                    places[..shown].join(", ")
                );
                if places.len() > shown {
                    let _ = write!(s, " and {} more", places.len() - shown);
                }
                out.push(s);
            }
        }
        out
    }

    /// The report: sentences grouped by what they mean for the version,
    /// then the version the changes call for.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let groups = [
            (Impact::Major, "breaking (a major version)"),
            (Impact::Minor, "compatible (a minor version)"),
            (Impact::Review, "to review (no rule decides these)"),
        ];
        let mut counts = Vec::new();
        for (impact, title) in groups {
            let lines = self.sentences(impact);
            if lines.is_empty() {
                continue;
            }
            counts.push((impact, lines.len()));
            let _ = writeln!(s, "  {title}:");
            for l in lines {
                let _ = writeln!(s, "    - {l}");
            }
        }
        let n = |i| counts.iter().find(|(x, _)| *x == i).map_or(0, |(_, n)| *n);
        let verdict = match self.bump() {
            None => return s,
            Some(Impact::Major) => "major",
            Some(Impact::Minor) => "minor",
            Some(Impact::Review) => "decide after review",
        };
        let _ = writeln!(
            s,
            "  version: {verdict} ({} breaking, {} additive, {} to review)",
            n(Impact::Major),
            n(Impact::Minor),
            n(Impact::Review)
        );
        s
    }
}

fn obj(v: Option<&Value>) -> Option<&Map<String, Value>> {
    v.and_then(Value::as_object)
}

fn union<'v>(
    a: Option<&'v Map<String, Value>>,
    b: Option<&'v Map<String, Value>>,
) -> BTreeSet<&'v String> {
    a.into_iter().chain(b).flat_map(|m| m.keys()).collect()
}

/// Operations as (path, method) → operationId (empty when none).
pub(crate) fn operations(doc: &Value) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    if let Some(paths) = obj(doc.get("paths")) {
        for (p, item) in paths {
            for m in HTTP_METHODS {
                if let Some(op) = item.get(*m) {
                    out.insert((p.clone(), m.to_string()), op_id(op).unwrap_or_default());
                }
            }
        }
    }
    out
}

fn op_id(op: &Value) -> Option<String> {
    op.get("operationId")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Compact JSON, shortened when long.
fn compact(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() <= VALUE_CHARS {
        return s;
    }
    let cut: String = s.chars().take(VALUE_CHARS - 1).collect();
    format!("{cut}…")
}

/// An enum value as shown: strings without quotes.
fn enum_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The schema a reference points at, inside `doc`.
fn resolve<'v>(doc: &'v Value, reference: &str) -> Option<&'v Value> {
    doc.pointer(reference.strip_prefix('#')?)
}

fn ref_of(s: &Value) -> Option<&str> {
    s.get("$ref").and_then(Value::as_str)
}

/// `#/components/schemas/Event` → `Event`.
fn ref_name(reference: &str) -> String {
    let last = reference
        .strip_prefix("#/components/schemas/")
        .unwrap_or(reference);
    last.replace("~1", "/").replace("~0", "~")
}

/// A schema's type in a few words: `int64 | date-time`, `array of string`,
/// `Event`, `object | null`. With `expand`, references are replaced by what
/// they name, so an inline schema and a reference to an equal one read the
/// same.
pub fn render(doc: &Value, s: &Value, expand: bool) -> String {
    render_at(doc, s, expand, 0)
}

fn render_at(doc: &Value, s: &Value, expand: bool, depth: usize) -> String {
    let Some(m) = s.as_object() else {
        return "any".to_string();
    };
    if let Some(r) = ref_of(s) {
        if expand
            && depth < 8
            && let Some(t) = resolve(doc, r)
        {
            return render_at(doc, t, expand, depth + 1);
        }
        return ref_name(r);
    }
    let inner = |v: &Value| {
        let t = render_at(doc, v, expand, depth + 1);
        if t.contains(" | ") || t.contains(" & ") {
            format!("({t})")
        } else {
            t
        }
    };
    let members = |key: &str, sep: &str| {
        m.get(key)
            .and_then(Value::as_array)
            .map(|a| a.iter().map(&inner).collect::<Vec<_>>().join(sep))
    };
    let ty = m.get("type").and_then(Value::as_str);
    let base = if let Some(t) = members("oneOf", " | ").or_else(|| members("anyOf", " | ")) {
        t
    } else if let Some(t) = members("allOf", " & ") {
        t
    } else {
        match ty {
            Some("array") => match m.get("items") {
                Some(i) => format!("array of {}", inner(i)),
                None => "array of any".to_string(),
            },
            Some("object") | None if m.contains_key("properties") || ty == Some("object") => {
                match m.get("additionalProperties") {
                    Some(ap @ Value::Object(_)) if !m.contains_key("properties") => {
                        format!("map of {}", inner(ap))
                    }
                    _ => "object".to_string(),
                }
            }
            Some(t) => m
                .get("format")
                .and_then(Value::as_str)
                .unwrap_or(t)
                .to_string(),
            None => match m.get("format").and_then(Value::as_str) {
                Some(f) => f.to_string(),
                None => "any".to_string(),
            },
        }
    };
    if m.get("nullable") == Some(&Value::Bool(true)) {
        format!("{base} | null")
    } else {
        base
    }
}

/// A schema's type plus its size: `string, 4 values`, `object, 12 properties`.
fn summary(doc: &Value, s: &Value) -> String {
    let ty = render(doc, s, false);
    if let Some(n) = s.get("enum").and_then(Value::as_array).map(Vec::len) {
        return format!("`{ty}`, {n} value{}", if n == 1 { "" } else { "s" });
    }
    if let Some(n) = obj(s.get("properties")).map(Map::len) {
        return format!("`{ty}`, {n} propert{}", if n == 1 { "y" } else { "ies" });
    }
    format!("`{ty}`")
}

/// Keys of a schema the schema walk deals with itself.
const SCHEMA_STRUCTURE: &[&str] = &[
    "$ref",
    "enum",
    "required",
    "properties",
    "items",
    "additionalProperties",
    "oneOf",
    "anyOf",
    "allOf",
    "not",
];
/// Keys that only change what `render` shows.
const SCHEMA_TYPE: &[&str] = &["type", "format", "nullable"];

/// Compares the committed document (`old`) with a newly computed one
/// (`new`): "added" means only in `new`.
pub fn compare(old: &Value, new: &Value) -> Drift {
    let mut w = Walk {
        old,
        new,
        out: Vec::new(),
    };
    w.document();
    Drift { changes: w.out }
}

struct Walk<'v> {
    old: &'v Value,
    new: &'v Value,
    out: Vec<Change>,
}

impl<'v> Walk<'v> {
    fn push(&mut self, c: Change) {
        self.out.push(c);
    }

    /// Generic differences under `key` (dotted), down through objects;
    /// arrays and scalars are compared whole.
    fn generic(&mut self, at: &str, key: &str, o: Option<&Value>, n: Option<&Value>) {
        match (o, n) {
            (Some(Value::Object(a)), Some(Value::Object(b))) => {
                for k in union(Some(a), Some(b)) {
                    self.generic(at, &format!("{key}.{k}"), a.get(k), b.get(k));
                }
            }
            (o, n) if o != n => self.push(Change::Other {
                at: at.to_string(),
                key: key.to_string(),
                old: o.map(compact),
                new: n.map(compact),
            }),
            _ => {}
        }
    }

    fn document(&mut self) {
        let (o, n) = (self.old.as_object(), self.new.as_object());
        for k in union(o, n) {
            let (a, b) = (self.old.get(k), self.new.get(k));
            match k.as_str() {
                "paths" => self.paths(a, b),
                "components" => self.components(a, b),
                _ => self.generic("the document", k, a, b),
            }
        }
    }

    fn paths(&mut self, o: Option<&'v Value>, n: Option<&'v Value>) {
        let (po, pn) = (obj(o), obj(n));
        for path in union(po, pn) {
            let (io, inew) = (po.and_then(|m| m.get(path)), pn.and_then(|m| m.get(path)));
            let (mo, mn) = (obj(io), obj(inew));
            for key in union(mo, mn) {
                let (a, b) = (mo.and_then(|m| m.get(key)), mn.and_then(|m| m.get(key)));
                let method = key.to_uppercase();
                let label = |op: &Value| op_id(op).unwrap_or_else(|| format!("{method} {path}"));
                if HTTP_METHODS.contains(&key.as_str()) {
                    match (a, b) {
                        (None, Some(op)) => self.push(Change::OperationAdded {
                            op: label(op),
                            method: method.clone(),
                            path: path.clone(),
                        }),
                        (Some(op), None) => self.push(Change::OperationRemoved {
                            op: label(op),
                            method: method.clone(),
                            path: path.clone(),
                        }),
                        (Some(x), Some(y)) => {
                            let name = op_id(y).or_else(|| op_id(x));
                            let name = name.unwrap_or_else(|| format!("{method} {path}"));
                            self.operation(&name, x, y);
                        }
                        (None, None) => {}
                    }
                } else if key == "parameters" {
                    self.parameters(&format!("path {path}"), a, b);
                } else {
                    self.generic(&format!("path `{path}`"), key, a, b);
                }
            }
        }
    }

    fn operation(&mut self, name: &str, o: &'v Value, n: &'v Value) {
        for key in union(o.as_object(), n.as_object()) {
            let (a, b) = (o.get(key), n.get(key));
            match key.as_str() {
                "parameters" => self.parameters(name, a, b),
                "responses" => self.responses(name, a, b),
                "requestBody" if a.is_some() && b.is_some() => {
                    let (a, b) = (self.deref_old(a), self.deref_new(b));
                    self.body(&format!("`{name}` request body"), a, b);
                }
                _ => self.generic(&format!("`{name}`"), key, a, b),
            }
        }
    }

    /// Follows a `$ref` to a component (parameter, response, body) in the
    /// old document.
    fn deref_old(&self, v: Option<&'v Value>) -> Option<&'v Value> {
        match v.and_then(ref_of) {
            Some(r) => resolve(self.old, r).or(v),
            None => v,
        }
    }

    fn deref_new(&self, v: Option<&'v Value>) -> Option<&'v Value> {
        match v.and_then(ref_of) {
            Some(r) => resolve(self.new, r).or(v),
            None => v,
        }
    }

    fn param_list(
        &self,
        doc: &'v Value,
        v: Option<&'v Value>,
    ) -> BTreeMap<(String, String), &'v Value> {
        let mut out = BTreeMap::new();
        for p in v.and_then(Value::as_array).into_iter().flatten() {
            let p = match ref_of(p) {
                Some(r) => resolve(doc, r).unwrap_or(p),
                None => p,
            };
            let field = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_string);
            if let (Some(name), Some(location)) = (field("name"), field("in")) {
                out.insert((name, location), p);
            }
        }
        out
    }

    fn param_view(doc: &Value, p: &Value) -> Param {
        let field = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        Param {
            name: field("name"),
            location: field("in"),
            required: p.get("required") == Some(&Value::Bool(true)),
            ty: p
                .get("schema")
                .map_or_else(|| "any".to_string(), |s| render(doc, s, false)),
        }
    }

    fn parameters(&mut self, op: &str, o: Option<&'v Value>, n: Option<&'v Value>) {
        let lo = self.param_list(self.old, o);
        let ln = self.param_list(self.new, n);
        let mut added: Vec<&(String, String)> =
            ln.keys().filter(|k| !lo.contains_key(*k)).collect();
        let mut removed: Vec<&(String, String)> =
            lo.keys().filter(|k| !ln.contains_key(*k)).collect();
        // The same name gone from one place and new in another: moved.
        let mut moved = Vec::new();
        removed.retain(|r| {
            let same: Vec<usize> = (0..added.len()).filter(|i| added[*i].0 == r.0).collect();
            if let [i] = same[..] {
                moved.push((*r, added.remove(i)));
                false
            } else {
                true
            }
        });
        for k in added {
            let param = Self::param_view(self.new, ln[k]);
            self.push(Change::ParameterAdded {
                op: op.to_string(),
                param,
            });
        }
        for k in removed {
            let param = Self::param_view(self.old, lo[k]);
            self.push(Change::ParameterRemoved {
                op: op.to_string(),
                param,
            });
        }
        for (ko, kn) in moved {
            self.push(Change::ParameterMoved {
                op: op.to_string(),
                name: kn.0.clone(),
                from: ko.1.clone(),
                to: kn.1.clone(),
            });
            self.parameter(op, &kn.0, &kn.1, lo[ko], ln[kn]);
        }
        for (k, po) in &lo {
            if let Some(pn) = ln.get(k) {
                self.parameter(op, &k.0, &k.1, po, pn);
            }
        }
    }

    fn parameter(&mut self, op: &str, name: &str, location: &str, o: &'v Value, n: &'v Value) {
        let at = format!("`{op}` {location} parameter `{name}`");
        for key in union(o.as_object(), n.as_object()) {
            let (a, b) = (o.get(key), n.get(key));
            match key.as_str() {
                "name" | "in" => {}
                "required" => {
                    let (ra, rb) = (a == Some(&Value::Bool(true)), b == Some(&Value::Bool(true)));
                    if ra != rb {
                        self.push(Change::ParameterRequired {
                            op: op.to_string(),
                            name: name.to_string(),
                            location: location.to_string(),
                            now_required: rb,
                        });
                    }
                }
                "schema" if a.is_some() && b.is_some() => {
                    let place = Place {
                        context: format!("`{op}` {location} parameter "),
                        path: name.to_string(),
                    };
                    self.schema(
                        &place,
                        a.unwrap_or(&Value::Null),
                        b.unwrap_or(&Value::Null),
                        0,
                    );
                }
                _ => self.generic(&at, key, a, b),
            }
        }
    }

    fn responses(&mut self, op: &str, o: Option<&'v Value>, n: Option<&'v Value>) {
        let (mo, mn) = (obj(o), obj(n));
        for status in union(mo, mn) {
            let a = self.deref_old(mo.and_then(|m| m.get(status)));
            let b = self.deref_new(mn.and_then(|m| m.get(status)));
            match (a, b) {
                (None, Some(r)) => self.push(Change::ResponseAdded {
                    op: op.to_string(),
                    status: status.clone(),
                    body: body_type(self.new, r),
                }),
                (Some(r), None) => self.push(Change::ResponseRemoved {
                    op: op.to_string(),
                    status: status.clone(),
                    body: body_type(self.old, r),
                }),
                (Some(x), Some(y)) => {
                    let at = format!("`{op}` response {status}");
                    self.body(&at, Some(x), Some(y));
                }
                (None, None) => {}
            }
        }
    }

    /// A response or request body: its media types, their schemas, the rest.
    fn body(&mut self, at: &str, o: Option<&'v Value>, n: Option<&'v Value>) {
        let (mo, mn) = (obj(o), obj(n));
        for key in union(mo, mn) {
            let (a, b) = (mo.and_then(|m| m.get(key)), mn.and_then(|m| m.get(key)));
            if key != "content" {
                self.generic(at, key, a, b);
                continue;
            }
            let (co, cn) = (obj(a), obj(b));
            for media in union(co, cn) {
                let (x, y) = (co.and_then(|m| m.get(media)), cn.and_then(|m| m.get(media)));
                let (Some(x), Some(y)) = (x, y) else {
                    self.generic(at, &format!("content.{media}"), x, y);
                    continue;
                };
                for k in union(x.as_object(), y.as_object()) {
                    let (sa, sb) = (x.get(k), y.get(k));
                    match (k.as_str(), sa, sb) {
                        ("schema", Some(sa), Some(sb)) => {
                            let place = Place {
                                context: format!("{at} ({media}) "),
                                path: "body".to_string(),
                            };
                            self.schema(&place, sa, sb, 0);
                        }
                        _ => self.generic(at, &format!("content.{media}.{k}"), sa, sb),
                    }
                }
            }
        }
    }

    fn components(&mut self, o: Option<&'v Value>, n: Option<&'v Value>) {
        let (mo, mn) = (obj(o), obj(n));
        for key in union(mo, mn) {
            let (a, b) = (mo.and_then(|m| m.get(key)), mn.and_then(|m| m.get(key)));
            if key != "schemas" {
                self.generic("the document", &format!("components.{key}"), a, b);
                continue;
            }
            let (so, sn) = (obj(a), obj(b));
            for name in union(so, sn) {
                match (so.and_then(|m| m.get(name)), sn.and_then(|m| m.get(name))) {
                    (None, Some(s)) => self.push(Change::SchemaAdded {
                        name: name.clone(),
                        summary: summary(self.new, s),
                    }),
                    (Some(s), None) => self.push(Change::SchemaRemoved {
                        name: name.clone(),
                        summary: summary(self.old, s),
                    }),
                    (Some(x), Some(y)) => self.schema(&Place::component(name), x, y, 0),
                    (None, None) => {}
                }
            }
        }
    }

    /// Two versions of the schema at `at`.
    fn schema(&mut self, at: &Place, o: &'v Value, n: &'v Value, depth: usize) {
        if depth > MAX_DEPTH || o == n {
            return;
        }
        let (ro, rn) = (ref_of(o), ref_of(n));
        // Two references: a different name is a different type; the same
        // name is compared once, where the schema is defined.
        if let (Some(a), Some(b)) = (ro, rn) {
            if a != b {
                self.push(Change::TypeChanged {
                    at: at.clone(),
                    from: ref_name(a),
                    to: ref_name(b),
                });
            }
            return;
        }
        let (to, tn) = (render(self.old, o, false), render(self.new, n, false));
        let same_expanded = render(self.old, o, true) == render(self.new, n, true);
        match (ro, rn) {
            (None, Some(r)) if same_expanded => {
                if let Some(target) = resolve(self.new, r) {
                    self.push(Change::NowNamed {
                        at: at.clone(),
                        name: ref_name(r),
                    });
                    self.details(at, o, target, true, depth);
                    return;
                }
            }
            (Some(r), None) if same_expanded => {
                if let Some(target) = resolve(self.old, r) {
                    self.push(Change::NowInline {
                        at: at.clone(),
                        was: ref_name(r),
                    });
                    self.details(at, target, n, true, depth);
                    return;
                }
            }
            (None, None) if to == tn || same_expanded => {
                // Same type, or a difference further down (say, items that
                // became a reference): look inside.
                self.details(at, o, n, true, depth);
                return;
            }
            _ => {}
        }
        self.push(Change::TypeChanged {
            at: at.clone(),
            from: to,
            to: tn,
        });
        if ro.is_none() && rn.is_none() {
            self.details(at, o, n, false, depth);
        }
    }

    /// Enum, required, properties and (with `children`) the schemas inside;
    /// then every other keyword, generically. Without `children` the type
    /// was already reported changed, and what makes up the type is skipped.
    fn details(&mut self, at: &Place, o: &'v Value, n: &'v Value, children: bool, depth: usize) {
        let enum_of = |s: &Value| {
            s.get("enum")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(enum_text).collect::<Vec<_>>())
        };
        match (enum_of(o), enum_of(n)) {
            (Some(a), Some(b)) => {
                let added: Vec<String> = b.iter().filter(|v| !a.contains(v)).cloned().collect();
                let removed: Vec<String> = a.iter().filter(|v| !b.contains(v)).cloned().collect();
                if !added.is_empty() {
                    self.push(Change::EnumValuesAdded {
                        at: at.clone(),
                        values: added,
                    });
                }
                if !removed.is_empty() {
                    self.push(Change::EnumValuesRemoved {
                        at: at.clone(),
                        values: removed,
                    });
                }
            }
            (None, Some(values)) => self.push(Change::EnumRestricted {
                at: at.clone(),
                values,
            }),
            (Some(values), None) => self.push(Change::EnumLifted {
                at: at.clone(),
                values,
            }),
            (None, None) => {}
        }

        let (po, pn) = (obj(o.get("properties")), obj(n.get("properties")));
        // After a type change, properties are compared only when both sides
        // have them (object to nullable object, say).
        if children || (po.is_some() && pn.is_some()) {
            let required = |s: &Value| -> BTreeSet<String> {
                s.get("required")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let (qo, qn) = (required(o), required(n));
            for p in qn.symmetric_difference(&qo) {
                self.push(Change::RequiredChanged {
                    at: at.clone(),
                    property: p.clone(),
                    now_required: qn.contains(p),
                });
            }
            for name in union(po, pn) {
                let (a, b) = (po.and_then(|m| m.get(name)), pn.and_then(|m| m.get(name)));
                match (a, b) {
                    (None, Some(s)) => self.push(Change::PropertyAdded {
                        at: at.clone(),
                        name: name.clone(),
                        ty: render(self.new, s, false),
                    }),
                    (Some(s), None) => self.push(Change::PropertyRemoved {
                        at: at.clone(),
                        name: name.clone(),
                        ty: render(self.old, s, false),
                    }),
                    (Some(x), Some(y)) => {
                        self.schema(&at.child(&format!(".{name}")), x, y, depth + 1);
                    }
                    (None, None) => {}
                }
            }
        }

        let label = at.to_string();
        if children {
            for (key, suffix) in [
                ("items", "[]"),
                ("additionalProperties", ".*"),
                ("not", "!"),
            ] {
                match (o.get(key), n.get(key)) {
                    (Some(x @ Value::Object(_)), Some(y @ Value::Object(_))) => {
                        self.schema(&at.child(suffix), x, y, depth + 1);
                    }
                    (a, b) => self.generic(&label, key, a, b),
                }
            }
            for key in ["oneOf", "anyOf", "allOf"] {
                match (o.get(key), n.get(key)) {
                    (Some(Value::Array(a)), Some(Value::Array(b))) if a.len() == b.len() => {
                        for (i, (x, y)) in a.iter().zip(b).enumerate() {
                            self.schema(&at.child(&format!(".{key}[{i}]")), x, y, depth + 1);
                        }
                    }
                    (a, b) => self.generic(&label, key, a, b),
                }
            }
        } else {
            // Only a boolean `additionalProperties` is not part of the type.
            let (a, b) = (o.get("additionalProperties"), n.get("additionalProperties"));
            if !a.is_some_and(Value::is_object) && !b.is_some_and(Value::is_object) {
                self.generic(&label, "additionalProperties", a, b);
            }
        }

        for key in union(o.as_object(), n.as_object()) {
            let k = key.as_str();
            if SCHEMA_STRUCTURE.contains(&k) || (!children && SCHEMA_TYPE.contains(&k)) {
                continue;
            }
            self.generic(&label, k, o.get(k), n.get(k));
        }
    }
}

/// The type of a response's body, from `application/json` or else the
/// first media type.
fn body_type(doc: &Value, r: &Value) -> Option<String> {
    let content = obj(r.get("content"))?;
    let media = content
        .get("application/json")
        .or_else(|| content.values().next())?;
    media.get("schema").map(|s| render(doc, s, false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Value {
        json!({
            "openapi": "3.0.3",
            "info": {"title": "T", "version": "1"},
            "paths": {
                "/a": {"get": {"operationId": "getA", "parameters": [
                    {"name": "x", "in": "query", "schema": {"type": "string"}},
                    {"name": "mode", "in": "query", "schema": {"type": "string", "enum": ["fast", "slow"]}},
                    {"name": "start", "in": "query", "schema": {"oneOf": [
                        {"type": "integer", "format": "int64"},
                        {"type": "string", "format": "date-time"}
                    ]}}
                ], "responses": {"200": {"description": "", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Thing"}}}}}}},
                "/b": {"delete": {"operationId": "delB", "responses": {"204": {"description": ""}}}}
            },
            "components": {"schemas": {
                "Color": {"type": "string", "enum": ["red", "green"]},
                "Flag": {"type": "boolean"},
                "Thing": {"type": "object", "required": ["name"], "properties": {
                    "name": {"type": "string"},
                    "flag": {"$ref": "#/components/schemas/Flag"},
                    "inner": {"type": "object", "properties": {"size": {"type": "integer"}}},
                    "list": {"type": "array", "items": {"type": "string"}}
                }}
            }}
        })
    }

    /// The sentences of one run, whatever their impact.
    fn said(d: &Drift) -> Vec<String> {
        [Impact::Major, Impact::Minor, Impact::Review]
            .into_iter()
            .flat_map(|i| d.sentences(i))
            .collect()
    }

    fn assert_says(d: &Drift, sentence: &str) {
        let all = said(d);
        assert!(
            all.iter().any(|s| s == sentence),
            "no `{sentence}` in {all:#?}"
        );
    }

    #[test]
    fn identical_documents_have_no_drift() {
        let d = compare(&base(), &base());
        assert!(d.is_empty(), "{}", d.render());
        assert_eq!(d.render(), "");
        assert_eq!(d.bump(), None);
    }

    #[test]
    fn renders_types_in_words() {
        let doc = base();
        let r = |s: Value| render(&doc, &s, false);
        assert_eq!(r(json!({"type": "integer", "format": "int64"})), "int64");
        assert_eq!(r(json!({"type": "string"})), "string");
        assert_eq!(
            r(
                json!({"oneOf": [{"type": "integer", "format": "int64"}, {"type": "string", "format": "date-time"}]})
            ),
            "int64 | date-time"
        );
        assert_eq!(
            r(json!({"type": "array", "items": {"$ref": "#/components/schemas/Color"}})),
            "array of Color"
        );
        assert_eq!(
            r(json!({"type": "object", "additionalProperties": {"type": "string"}})),
            "map of string"
        );
        assert_eq!(
            r(json!({"type": "object", "nullable": true})),
            "object | null"
        );
        assert_eq!(r(json!({})), "any");
        assert_eq!(
            render(&doc, &json!({"$ref": "#/components/schemas/Flag"}), true),
            "boolean"
        );
    }

    #[test]
    fn operations_responses_and_parameters_in_words() {
        let mut new = base();
        new["paths"].as_object_mut().unwrap().remove("/b");
        new["paths"]["/c"] = json!({"post": {"operationId": "postC", "responses": {}}});
        let op = &mut new["paths"]["/a"]["get"];
        op["responses"]["429"] = json!({"description": "", "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Color"}}}});
        let params = op["parameters"].as_array_mut().unwrap();
        params.remove(0); // x
        params[1]["schema"]["oneOf"] = json!([
            {"type": "string", "format": "date-time"},
            {"type": "integer", "format": "int64"}
        ]);
        params[1]["required"] = json!(true);
        params.push(json!({"name": "limit", "in": "query", "schema": {"type": "integer", "format": "int32"}}));
        params.push(json!({"name": "token", "in": "header", "required": true, "schema": {"type": "string"}}));

        let d = compare(&base(), &new);
        assert_says(&d, "operation `delB` (DELETE /b) removed");
        assert_says(&d, "operation `postC` (POST /c) added");
        assert_says(&d, "`getA`: response 429 added (body `Color`)");
        assert_says(
            &d,
            "`getA`: query parameter `x` removed (was optional, `string`)",
        );
        assert_says(
            &d,
            "`getA`: query parameter `limit` added (optional, `int32`)",
        );
        assert_says(
            &d,
            "`getA`: header parameter `token` added (required, `string`)",
        );
        assert_says(
            &d,
            "`getA` query parameter `start`: type changed from `int64 | date-time` to `date-time | int64`",
        );
        assert_says(&d, "`getA`: query parameter `start` is now required");
        assert_eq!(d.changes.len(), 8, "{}", d.render());
        let major = d.sentences(Impact::Major);
        assert!(major.iter().any(|s| s.contains("`x` removed")), "{major:?}");
        assert!(
            major.iter().any(|s| s.contains("`token` added")),
            "{major:?}"
        );
        let minor = d.sentences(Impact::Minor);
        assert!(
            minor.iter().any(|s| s.contains("`limit` added")),
            "{minor:?}"
        );
        assert!(
            minor.iter().any(|s| s.contains("response 429")),
            "{minor:?}"
        );
        assert_eq!(d.bump(), Some(Impact::Major));
    }

    #[test]
    fn a_parameter_that_changes_place_is_moved() {
        let mut new = base();
        new["paths"]["/a"]["get"]["parameters"][0]["in"] = json!("header");
        let d = compare(&base(), &new);
        assert_eq!(
            said(&d),
            vec!["`getA`: parameter `x` moved from query to header"]
        );
    }

    #[test]
    fn schemas_properties_enums_and_required_in_words() {
        let mut new = base();
        let s = &mut new["components"]["schemas"];
        s["Color"]["enum"] = json!(["red", "blue"]);
        s["New"] = json!({"type": "string", "enum": ["a", "b"]});
        s.as_object_mut().unwrap().remove("Flag");
        let t = &mut s["Thing"];
        t["required"] = json!(["inner"]);
        t["properties"]["flag"] = json!({"type": "boolean"});
        t["properties"]["extra"] =
            json!({"type": "array", "items": {"type": "number", "format": "double"}});
        t["properties"]["inner"]["properties"]
            .as_object_mut()
            .unwrap()
            .remove("size");
        t["properties"]["list"]["items"]["type"] = json!("integer");
        t["properties"]["name"]["enum"] = json!(["n"]);

        let d = compare(&base(), &new);
        assert_says(&d, "schema `New` added (`string`, 2 values)");
        assert_says(&d, "schema `Flag` removed (was `boolean`)");
        assert_says(&d, "`Color`: enum values added: `blue`");
        assert_says(&d, "`Color`: enum values removed: `green`");
        assert_says(&d, "`Thing`: property `extra` added (`array of double`)");
        assert_says(&d, "`Thing.inner`: property `size` removed (was `integer`)");
        assert_says(
            &d,
            "`Thing.list`: type changed from `array of string` to `array of integer`",
        );
        assert_says(&d, "`Thing.name`: now limited to the values `n`");
        assert_says(&d, "`Thing`: property `inner` is now required");
        assert_says(&d, "`Thing`: property `name` is no longer required");
        assert_says(
            &d,
            "`Thing.flag`: now an inline schema (was a reference to the equal schema `Flag`)",
        );
        assert_eq!(d.changes.len(), 11, "{}", d.render());
        let minor = d.sentences(Impact::Minor);
        assert_eq!(minor.len(), 3, "{minor:?}");
    }

    #[test]
    fn an_inline_enum_that_becomes_a_named_one_is_not_a_type_change() {
        let mut new = base();
        new["components"]["schemas"]["Mode"] = json!({"type": "string", "enum": ["fast", "slow"]});
        new["paths"]["/a"]["get"]["parameters"][1]["schema"] =
            json!({"$ref": "#/components/schemas/Mode"});
        let d = compare(&base(), &new);
        assert_says(
            &d,
            "`getA` query parameter `mode`: now a reference to schema `Mode` (was an equal inline schema)",
        );
        assert!(
            !said(&d).iter().any(|s| s.contains("type changed")),
            "{}",
            d.render()
        );
        // ... while different values through the reference still show.
        new["components"]["schemas"]["Mode"]["enum"] = json!(["fast"]);
        let d = compare(&base(), &new);
        assert_says(
            &d,
            "`getA` query parameter `mode`: enum values removed: `slow`",
        );
    }

    #[test]
    fn anything_else_gets_a_sentence_not_a_pointer() {
        let mut new = base();
        let t = &mut new["components"]["schemas"]["Thing"];
        t["properties"]["name"]["format"] = json!("uuid");
        t["properties"]["name"]["maxLength"] = json!(36);
        t["additionalProperties"] = json!(false);
        new["components"]["schemas"]["Color"]["additionalProperties"] = json!(false);
        new["info"]["version"] = json!("2");
        new["paths"]["/a"]["get"]["deprecated"] = json!(true);
        new["paths"]["/a"]["get"]["responses"]["200"]["headers"] =
            json!({"X-Rate": {"schema": {"type": "integer"}}});
        let d = compare(&base(), &new);
        let text = d.render();
        assert!(
            !text.contains("/components") && !text.contains("/paths"),
            "{text}"
        );
        assert_says(&d, "`Thing.name`: type changed from `string` to `uuid`");
        assert_says(&d, "`Thing.name`: `maxLength` added (`36`)");
        assert_says(
            &d,
            "`additionalProperties` added (`false`) in 2 places: `Color`, `Thing`",
        );
        assert_says(
            &d,
            "the document: `info.version` changed from `\"1\"` to `\"2\"`",
        );
        assert_says(&d, "`getA`: `deprecated` added (`true`)");
        assert_says(
            &d,
            "`getA` response 200: `headers` added (`{\"X-Rate\":{\"schema\":{\"type\":\"integer\"}}}`)",
        );
        assert!(
            text.contains("  to review (no rule decides these):\n"),
            "{text}"
        );
        assert!(
            text.ends_with("version: major (1 breaking, 0 additive, 5 to review)\n"),
            "{text}"
        );
    }

    #[test]
    fn a_long_list_of_places_is_cut() {
        let mut old = base();
        let mut new = base();
        for i in 0..20 {
            old["components"]["schemas"][format!("S{i:02}")] = json!({"type": "object"});
            new["components"]["schemas"][format!("S{i:02}")] =
                json!({"type": "object", "additionalProperties": false});
        }
        let d = compare(&old, &new);
        let s = d.sentences(Impact::Review);
        assert_eq!(s.len(), 1, "{s:?}");
        assert!(
            s[0].starts_with("`additionalProperties` added (`false`) in 20 places: `S00`, `S01`"),
            "{}",
            s[0]
        );
        assert!(s[0].ends_with("`S11` and 8 more"), "{}", s[0]);
    }
}
