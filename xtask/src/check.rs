//! A readable summary of how two versions of the bundled document differ:
//! paths, operations, schemas, properties, enum values and parameters, and a
//! count (with examples) of whatever else changed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use serde_json::{Map, Value};

use crate::convert::{HTTP_METHODS, escape};

/// How many "other" pointers to list by name.
const OTHER_EXAMPLES: usize = 15;

#[derive(Default, Debug)]
pub struct Drift {
    pub paths_added: Vec<String>,
    pub paths_removed: Vec<String>,
    pub operations_added: Vec<String>,
    pub operations_removed: Vec<String>,
    pub schemas_added: Vec<String>,
    pub schemas_removed: Vec<String>,
    /// Location (`Schema.prop.sub`) → property names.
    pub properties_added: BTreeMap<String, Vec<String>>,
    pub properties_removed: BTreeMap<String, Vec<String>>,
    /// Location → enum values (as JSON text).
    pub enum_added: BTreeMap<String, Vec<String>>,
    pub enum_removed: BTreeMap<String, Vec<String>>,
    /// Operation → parameters (`in name`).
    pub parameters_added: BTreeMap<String, Vec<String>>,
    pub parameters_removed: BTreeMap<String, Vec<String>>,
    /// Pointers of differences not covered above.
    pub other: Vec<String>,
}

impl Drift {
    pub fn is_empty(&self) -> bool {
        self.total() == 0
    }

    fn total(&self) -> usize {
        let maps = [
            &self.properties_added,
            &self.properties_removed,
            &self.enum_added,
            &self.enum_removed,
            &self.parameters_added,
            &self.parameters_removed,
        ];
        self.paths_added.len()
            + self.paths_removed.len()
            + self.operations_added.len()
            + self.operations_removed.len()
            + self.schemas_added.len()
            + self.schemas_removed.len()
            + maps.iter().map(|m| m.len()).sum::<usize>()
            + self.other.len()
    }

    pub fn render(&self) -> String {
        let mut s = String::new();
        let list = |s: &mut String, title: &str, items: &[String]| {
            if !items.is_empty() {
                let _ = writeln!(s, "  {title} ({}): {}", items.len(), items.join(", "));
            }
        };
        let map = |s: &mut String, title: &str, items: &BTreeMap<String, Vec<String>>| {
            if !items.is_empty() {
                let n: usize = items.values().map(Vec::len).sum();
                let _ = writeln!(s, "  {title} ({n}):");
                for (at, v) in items {
                    let _ = writeln!(s, "    {at}: {}", v.join(", "));
                }
            }
        };
        list(&mut s, "paths added", &self.paths_added);
        list(&mut s, "paths removed", &self.paths_removed);
        list(&mut s, "operations added", &self.operations_added);
        list(&mut s, "operations removed", &self.operations_removed);
        list(&mut s, "schemas added", &self.schemas_added);
        list(&mut s, "schemas removed", &self.schemas_removed);
        map(&mut s, "properties added", &self.properties_added);
        map(&mut s, "properties removed", &self.properties_removed);
        map(&mut s, "enum values added", &self.enum_added);
        map(&mut s, "enum values removed", &self.enum_removed);
        map(&mut s, "parameters added", &self.parameters_added);
        map(&mut s, "parameters removed", &self.parameters_removed);
        if !self.other.is_empty() {
            let _ = writeln!(s, "  other changes: {}", self.other.len());
            for p in self.other.iter().take(OTHER_EXAMPLES) {
                let _ = writeln!(s, "    {p}");
            }
            if self.other.len() > OTHER_EXAMPLES {
                let _ = writeln!(s, "    ... and {} more", self.other.len() - OTHER_EXAMPLES);
            }
        }
        s
    }
}

fn obj<'v>(v: &'v Value, key: &str) -> Option<&'v Map<String, Value>> {
    v.get(key).and_then(Value::as_object)
}

fn keys(m: Option<&Map<String, Value>>) -> BTreeSet<String> {
    m.map(|m| m.keys().cloned().collect()).unwrap_or_default()
}

fn diff_sets<T: Ord + Clone>(old: &BTreeSet<T>, new: &BTreeSet<T>) -> (Vec<T>, Vec<T>) {
    (
        new.difference(old).cloned().collect(),
        old.difference(new).cloned().collect(),
    )
}

/// Operations as `METHOD path` → operationId.
pub(crate) fn operations(doc: &Value) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    if let Some(paths) = obj(doc, "paths") {
        for (p, item) in paths {
            for m in HTTP_METHODS {
                if let Some(op) = item.get(*m) {
                    let id = op
                        .get("operationId")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    out.insert((p.clone(), m.to_string()), id);
                }
            }
        }
    }
    out
}

fn op_label(path: &str, method: &str, id: &str) -> String {
    if id.is_empty() {
        format!("{} {path}", method.to_uppercase())
    } else {
        format!("{} {path} ({id})", method.to_uppercase())
    }
}

fn param_key(p: &Value) -> Option<String> {
    if let Some(r) = p.get("$ref").and_then(Value::as_str) {
        return Some(format!("$ref {r}"));
    }
    Some(format!(
        "{} {}",
        p.get("in")?.as_str()?,
        p.get("name")?.as_str()?
    ))
}

/// The parameters of the operation at `base`, keyed by `in name`.
fn params_of<'v>(doc: &'v Value, base: &str) -> BTreeMap<String, &'v Value> {
    doc.pointer(&format!("{base}/parameters"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|x| Some((param_key(x)?, x))).collect())
        .unwrap_or_default()
}

/// Parameter arrays keyed by `in name`, so that a removed parameter does not
/// shift the others in the generic diff.
fn normalize(v: &Value, parent_key: &str) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), normalize(x, k)))
                .collect(),
        ),
        Value::Array(a)
            if parent_key == "parameters" && a.iter().all(|p| param_key(p).is_some()) =>
        {
            Value::Object(
                a.iter()
                    .filter_map(|p| Some((param_key(p)?, normalize(p, ""))))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| normalize(x, "")).collect()),
        other => other.clone(),
    }
}

/// Pointers where two values differ (added, removed or changed leaves;
/// arrays of different lengths count once).
fn generic_diff(old: &Value, new: &Value, ptr: &str, out: &mut Vec<String>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let all: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in all {
                let p = format!("{ptr}/{}", escape(k));
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => generic_diff(x, y, &p, out),
                    _ => out.push(p),
                }
            }
        }
        (Value::Array(a), Value::Array(b))
            if a.len() == b.len() && a.iter().any(|x| x.is_object()) =>
        {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                generic_diff(x, y, &format!("{ptr}/{i}"), out);
            }
        }
        (x, y) => {
            if x != y {
                out.push(ptr.to_string());
            }
        }
    }
}

/// Every schema node reachable inside a schema (through properties, items,
/// additionalProperties, allOf/oneOf/anyOf, not), with a readable label and
/// its pointer.
fn schema_nodes<'v>(
    v: &'v Value,
    label: &str,
    ptr: &str,
    out: &mut BTreeMap<String, (String, &'v Value)>,
) {
    let Some(m) = v.as_object() else { return };
    out.insert(ptr.to_string(), (label.to_string(), v));
    if let Some(props) = m.get("properties").and_then(Value::as_object) {
        for (name, s) in props {
            schema_nodes(
                s,
                &format!("{label}.{name}"),
                &format!("{ptr}/properties/{}", escape(name)),
                out,
            );
        }
    }
    if let Some(s) = m.get("items") {
        schema_nodes(s, &format!("{label}[]"), &format!("{ptr}/items"), out);
    }
    if let Some(s) = m.get("additionalProperties") {
        schema_nodes(
            s,
            &format!("{label}{{*}}"),
            &format!("{ptr}/additionalProperties"),
            out,
        );
    }
    if let Some(s) = m.get("not") {
        schema_nodes(s, &format!("{label}!"), &format!("{ptr}/not"), out);
    }
    for comb in ["allOf", "oneOf", "anyOf"] {
        if let Some(a) = m.get(comb).and_then(Value::as_array) {
            for (i, s) in a.iter().enumerate() {
                schema_nodes(
                    s,
                    &format!("{label}/{comb}[{i}]"),
                    &format!("{ptr}/{comb}/{i}"),
                    out,
                );
            }
        }
    }
}

/// Follows internal `$ref`s to the schema they name.
fn resolve<'v>(doc: &'v Value, mut v: &'v Value) -> &'v Value {
    for _ in 0..16 {
        let target = v
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
            .and_then(|p| doc.pointer(p));
        match target {
            Some(t) => v = t,
            None => break,
        }
    }
    v
}

/// Enum values of a schema, seen through a `$ref` (so an inline enum
/// replaced by a reference to an equal enum is no change).
fn enum_values(doc: &Value, v: &Value) -> BTreeSet<String> {
    resolve(doc, v)
        .get("enum")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|x| x.to_string()).collect())
        .unwrap_or_default()
}

fn prop_names(v: &Value) -> BTreeSet<String> {
    keys(v.get("properties").and_then(Value::as_object))
}

/// Compares the committed document (`old`) with a freshly computed one
/// (`new`). "Added" means present in `new` only.
pub fn compare(old: &Value, new: &Value) -> Drift {
    let mut d = Drift::default();
    // Pointer prefixes explained by the categories; the rest is "other".
    let mut claimed: Vec<String> = Vec::new();

    // Paths.
    let (added, removed) = diff_sets(&keys(obj(old, "paths")), &keys(obj(new, "paths")));
    for p in added.iter().chain(&removed) {
        claimed.push(format!("/paths/{}", escape(p)));
    }
    d.paths_added = added;
    d.paths_removed = removed;

    // Operations.
    let (old_ops, new_ops) = (operations(old), operations(new));
    for ((p, m), id) in &new_ops {
        if !old_ops.contains_key(&(p.clone(), m.clone())) {
            d.operations_added.push(op_label(p, m, id));
            claimed.push(format!("/paths/{}/{m}", escape(p)));
        }
    }
    for ((p, m), id) in &old_ops {
        if !new_ops.contains_key(&(p.clone(), m.clone())) {
            d.operations_removed.push(op_label(p, m, id));
            claimed.push(format!("/paths/{}/{m}", escape(p)));
        }
    }

    // Parameters, per operation present in both (and path-level ones).
    let mut param_schemas: Vec<(String, String, &Value, &Value)> = Vec::new();
    for ((p, m), id) in &new_ops {
        let Some(old_id) = old_ops.get(&(p.clone(), m.clone())) else {
            continue;
        };
        let label = op_label(p, m, if id.is_empty() { old_id } else { id });
        let base = format!("/paths/{}/{m}", escape(p));
        let (op_old, op_new) = (params_of(old, &base), params_of(new, &base));
        let (added, removed) = diff_sets(
            &op_old.keys().cloned().collect(),
            &op_new.keys().cloned().collect(),
        );
        for k in added.iter().chain(&removed) {
            claimed.push(format!("{base}/parameters/{}", escape(k)));
        }
        if !added.is_empty() {
            d.parameters_added.insert(label.clone(), added);
        }
        if !removed.is_empty() {
            d.parameters_removed.insert(label.clone(), removed);
        }
        for (k, po) in &op_old {
            if let Some(pn) = op_new.get(k) {
                param_schemas.push((
                    format!("{label} {k}"),
                    format!("{base}/parameters/{}/schema", escape(k)),
                    po,
                    pn,
                ));
            }
        }
    }

    // Schemas.
    let (old_s, new_s) = (
        obj(old, "components").and_then(|c| c.get("schemas")),
        obj(new, "components").and_then(|c| c.get("schemas")),
    );
    let (old_s, new_s) = (
        old_s.and_then(Value::as_object),
        new_s.and_then(Value::as_object),
    );
    let (added, removed) = diff_sets(&keys(old_s), &keys(new_s));
    for s in added.iter().chain(&removed) {
        claimed.push(format!("/components/schemas/{}", escape(s)));
    }
    d.schemas_added = added;
    d.schemas_removed = removed;

    // Properties and enum values inside schemas present in both, and in
    // parameter schemas.
    let mut pairs: Vec<(String, String, &Value, &Value)> = Vec::new();
    if let (Some(o), Some(n)) = (old_s, new_s) {
        for (name, so) in o {
            if let Some(sn) = n.get(name) {
                pairs.push((
                    name.clone(),
                    format!("/components/schemas/{}", escape(name)),
                    so,
                    sn,
                ));
            }
        }
    }
    for (label, ptr, po, pn) in param_schemas {
        if let (Some(so), Some(sn)) = (po.get("schema"), pn.get("schema")) {
            pairs.push((label, ptr, so, sn));
        }
    }
    for (label, ptr, so, sn) in pairs {
        let (mut on, mut nn) = (BTreeMap::new(), BTreeMap::new());
        schema_nodes(so, &label, &ptr, &mut on);
        schema_nodes(sn, &label, &ptr, &mut nn);
        for (p, (at, o)) in &on {
            let Some((_, n)) = nn.get(p) else { continue };
            let (added, removed) = diff_sets(&prop_names(o), &prop_names(n));
            for x in added.iter().chain(&removed) {
                claimed.push(format!("{p}/properties/{}", escape(x)));
            }
            if !added.is_empty() {
                d.properties_added.insert(at.clone(), added);
            }
            if !removed.is_empty() {
                d.properties_removed.insert(at.clone(), removed);
            }
            // Two references: the referenced schemas are compared themselves.
            let both_refs = o.get("$ref").is_some() && n.get("$ref").is_some();
            let (eo, en) = (enum_values(old, o), enum_values(new, n));
            if !both_refs && eo != en {
                claimed.push(format!("{p}/enum"));
                let (added, removed) = diff_sets(&eo, &en);
                if !added.is_empty() {
                    d.enum_added.insert(at.clone(), added);
                }
                if !removed.is_empty() {
                    d.enum_removed.insert(at.clone(), removed);
                }
            }
        }
    }

    // Everything else.
    let mut all = Vec::new();
    generic_diff(&normalize(old, ""), &normalize(new, ""), "", &mut all);
    let is_claimed = |p: &str| {
        claimed.iter().any(|c| {
            p == c || (p.starts_with(c.as_str()) && p.as_bytes().get(c.len()) == Some(&b'/'))
        })
    };
    d.other = all.into_iter().filter(|p| !is_claimed(p)).collect();
    d
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
                    {"name": "mode", "in": "query", "schema": {"type": "string", "enum": ["fast", "slow"]}}
                ], "responses": {"200": {"description": ""}}}},
                "/b": {"delete": {"operationId": "delB", "responses": {"204": {"description": ""}}}}
            },
            "components": {"schemas": {
                "Color": {"type": "string", "enum": ["red", "green"]},
                "Thing": {"type": "object", "properties": {
                    "name": {"type": "string"},
                    "inner": {"type": "object", "properties": {"size": {"type": "integer"}}}
                }}
            }}
        })
    }

    #[test]
    fn identical_documents_have_no_drift() {
        let d = compare(&base(), &base());
        assert!(d.is_empty(), "{}", d.render());
    }

    #[test]
    fn reports_enum_value_added_property_removed_and_path_removed() {
        let old = base();
        let mut new = base();
        new["components"]["schemas"]["Color"]["enum"] = json!(["red", "green", "blue"]);
        new["components"]["schemas"]["Thing"]["properties"]["inner"]["properties"]
            .as_object_mut()
            .unwrap()
            .remove("size");
        new["paths"].as_object_mut().unwrap().remove("/b");
        new["paths"]["/a"]["get"]["parameters"][1]["schema"]["enum"] = json!(["fast"]);
        new["paths"]["/a"]["get"]["parameters"]
            .as_array_mut()
            .unwrap()
            .remove(0);
        new["components"]["schemas"]["Thing"]["properties"]["name"]["format"] = json!("uuid");

        let d = compare(&old, &new);
        assert_eq!(d.paths_removed, vec!["/b"]);
        assert_eq!(d.operations_removed, vec!["DELETE /b (delB)"]);
        assert_eq!(d.enum_added["Color"], vec!["\"blue\""]);
        assert_eq!(d.properties_removed["Thing.inner"], vec!["size"]);
        assert_eq!(d.parameters_removed["GET /a (getA)"], vec!["query x"]);
        assert_eq!(d.enum_removed["GET /a (getA) query mode"], vec!["\"slow\""]);
        // The format change is the only thing not in a category.
        assert_eq!(
            d.other,
            vec!["/components/schemas/Thing/properties/name/format"]
        );
        let text = d.render();
        assert!(text.contains("paths removed (1): /b"), "{text}");
        assert!(text.contains("Color: \"blue\""), "{text}");
        assert!(text.contains("Thing.inner: size"), "{text}");
        assert!(text.contains("other changes: 1"), "{text}");
    }

    #[test]
    fn reports_additions_in_the_other_direction() {
        let d = compare(&base(), &{
            let mut n = base();
            n["components"]["schemas"]["New"] = json!({"type": "string"});
            n["components"]["schemas"]["Thing"]["properties"]["extra"] = json!({"type": "string"});
            n["paths"]["/c"] = json!({"post": {"operationId": "postC", "responses": {}}});
            n
        });
        assert_eq!(d.schemas_added, vec!["New"]);
        assert_eq!(d.properties_added["Thing"], vec!["extra"]);
        assert_eq!(d.paths_added, vec!["/c"]);
        assert_eq!(d.operations_added, vec!["POST /c (postC)"]);
        assert!(d.other.is_empty(), "{:?}", d.other);
    }
}
