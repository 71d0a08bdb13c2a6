//! The SDK's generation policy, applied to the document before progenitor
//! reads it: what a newer server sends must not break an older SDK, and what
//! the server sends must come back out unchanged.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// The choices that differ between API versions.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Drop `required` from every component schema but the response and
    /// request envelopes, so a missing field is `None` rather than a failed
    /// response (the v3 servers leave out fields the v3 schema requires).
    pub optional_fields: bool,
}

/// Applies every rule of the policy to the document.
pub fn apply(doc: &mut Value, policy: &Policy) {
    if policy.optional_fields {
        let envelopes = envelopes(doc);
        if let Some(schemas) = doc
            .pointer_mut("/components/schemas")
            .and_then(Value::as_object_mut)
        {
            schemas
                .iter_mut()
                .filter(|(name, _)| !envelopes.contains(name.as_str()))
                .for_each(|(_, schema)| drop_required(schema));
        }
    }
    open_schemas(doc);
    inline_primitive_aliases(doc);
    undeclare_errors(doc);
}

/// Keywords that only constrain values. The server is the validator: a
/// model must never refuse what the server sends (a score above a documented
/// maximum, an id of a new shape), and a builder must not force
/// `NonZeroU32` on a plain `limit(100)`.
const CONSTRAINTS: &[&str] = &[
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "multipleOf",
];

/// Opens closed objects, removes value constraints and numeric enums, and
/// maps formats whose Rust type would change what the server sent.
fn open_schemas(node: &mut Value) {
    match node {
        Value::Object(map) => {
            // A closed object would make the generated struct reject any
            // field the server adds later.
            if map.get("additionalProperties") == Some(&Value::Bool(false)) {
                map.remove("additionalProperties");
            }
            // A numeric enum would become a newtype that refuses any number
            // not listed (a new precision radius, say): keep the number.
            if matches!(
                map.get("type").and_then(Value::as_str),
                Some("integer" | "number")
            ) && matches!(map.get("enum"), Some(Value::Array(_)))
            {
                map.remove("enum");
            }
            // Only scalar values: an object under such a key is a property
            // that happens to have that name.
            map.retain(|key, value| {
                !(CONSTRAINTS.contains(&key.as_str())
                    && (value.is_number() || value.is_string() || value.is_boolean()))
            });
            if let Some(Value::String(format)) = map.get("format") {
                match format.as_str() {
                    // `f32` cannot hold what the server sends (0.95 comes
                    // back as 0.949999988079071): `f64` throughout.
                    "float" => {
                        map.insert("format".into(), Value::String("double".into()));
                    }
                    // Typed IP addresses would re-serialize in canonical form
                    // and refuse a malformed value outright; strings keep
                    // exactly what the server sent.
                    "ipv4" | "ipv6" => {
                        map.remove("format");
                    }
                    _ => {}
                }
            }
            map.values_mut().for_each(open_schemas);
        }
        Value::Array(items) => items.iter_mut().for_each(open_schemas),
        _ => {}
    }
}

/// Replaces every reference to a component schema that is only a primitive
/// (`EventId` is a string, `Timestamp` an integer) with the primitive itself,
/// so fields are plain `String`, `i64` and `bool` rather than one newtype
/// each. Enums and objects keep their names.
fn inline_primitive_aliases(doc: &mut Value) {
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let aliases: Map<String, Value> = schemas
        .iter()
        .filter(|(_, schema)| is_primitive(schema))
        .map(|(name, schema)| (reference(name), schema.clone()))
        .collect();
    schemas.retain(|name, _| !aliases.contains_key(&reference(name)));
    replace_refs(doc, &aliases);
}

fn reference(name: &str) -> String {
    format!("#/components/schemas/{name}")
}

fn is_primitive(schema: &Value) -> bool {
    let Some(map) = schema.as_object() else {
        return false;
    };
    let primitive = matches!(
        map.get("type").and_then(Value::as_str),
        Some("string" | "integer" | "number" | "boolean")
    );
    primitive && !map.contains_key("enum")
}

fn replace_refs(node: &mut Value, aliases: &Map<String, Value>) {
    match node {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref")
                && let Some(schema) = aliases.get(target)
            {
                *node = schema.clone();
                return;
            }
            map.values_mut().for_each(|v| replace_refs(v, aliases));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| replace_refs(v, aliases)),
        _ => {}
    }
}

/// Removes the non-2xx responses from every operation. progenitor would
/// decode a declared error status itself and lose the status or the body
/// when the body is not the documented JSON (an HTML page from a gateway, an
/// empty 503); undeclared, every error response reaches the hand-written
/// layer whole, which keeps the status, the headers and the body text.
fn undeclare_errors(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for item in paths.values_mut().filter_map(Value::as_object_mut) {
        for op in item.values_mut() {
            if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
                responses.retain(|status, _| status.starts_with('2'));
            }
        }
    }
}

/// The schemas an operation returns or takes as its body directly: their
/// own required fields stay required.
fn envelopes(doc: &Value) -> BTreeSet<String> {
    let ops = doc
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|paths| paths.values())
        .filter_map(Value::as_object)
        .flat_map(|item| item.values());
    let mut names = BTreeSet::new();
    for op in ops {
        let bodies = op
            .get("responses")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|r| r.values())
            .chain(op.get("requestBody"));
        for body in bodies {
            let target = body
                .pointer("/content/application~1json/schema/$ref")
                .and_then(Value::as_str);
            if let Some(name) = target.and_then(|t| t.strip_prefix("#/components/schemas/")) {
                names.insert(name.to_owned());
            }
        }
    }
    names
}

fn drop_required(node: &mut Value) {
    match node {
        Value::Object(map) => {
            if matches!(map.get("required"), Some(Value::Array(_))) {
                map.remove("required");
            }
            map.values_mut().for_each(drop_required);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_required),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A three-schema document: an envelope that references an object, which
    /// references a primitive alias.
    fn small() -> Value {
        json!({
            "paths": {"/things/{id}": {"get": {
                "operationId": "getThing",
                "responses": {
                    "200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
                    "404": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
                    "429": {}
                }
            }}},
            "components": {"schemas": {
                "Thing": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["id", "part"],
                    "properties": {
                        "id": {"$ref": "#/components/schemas/ThingId"},
                        "part": {"$ref": "#/components/schemas/Part"},
                        "score": {"type": "number", "format": "float", "minimum": 0, "maximum": 1},
                        "radius": {"type": "integer", "enum": [10, 50]},
                        "ip": {"type": "string", "format": "ipv4", "pattern": "^[0-9.]+$"},
                        "minimum": {"type": "object", "properties": {}}
                    }
                },
                "Part": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
                "ThingId": {"type": "string", "minLength": 1}
            }}
        })
    }

    #[test]
    fn objects_are_opened_and_constraints_dropped() {
        let mut doc = small();
        apply(&mut doc, &Policy::default());
        let thing = &doc["components"]["schemas"]["Thing"];
        assert!(thing.get("additionalProperties").is_none());
        assert_eq!(
            thing["properties"]["score"],
            json!({"type": "number", "format": "double"})
        );
        assert_eq!(thing["properties"]["radius"], json!({"type": "integer"}));
        assert_eq!(thing["properties"]["ip"], json!({"type": "string"}));
        // A property named like a constraint keyword is a property.
        assert!(thing["properties"].get("minimum").is_some());
    }

    #[test]
    fn primitive_aliases_are_inlined_and_removed() {
        let mut doc = small();
        apply(&mut doc, &Policy::default());
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        assert!(!schemas.contains_key("ThingId"));
        assert_eq!(
            schemas["Thing"]["properties"]["id"],
            json!({"type": "string"})
        );
        // Objects keep their names.
        assert_eq!(
            schemas["Thing"]["properties"]["part"],
            json!({"$ref": "#/components/schemas/Part"})
        );
    }

    #[test]
    fn error_responses_are_left_to_the_hand_layer() {
        let mut doc = small();
        apply(&mut doc, &Policy::default());
        let responses = doc
            .pointer("/paths/~1things~1{id}/get/responses")
            .and_then(Value::as_object)
            .expect("responses");
        assert_eq!(responses.keys().collect::<Vec<_>>(), ["200"]);
    }

    #[test]
    fn optional_fields_keep_envelopes_required() {
        let mut doc = small();
        apply(
            &mut doc,
            &Policy {
                optional_fields: true,
            },
        );
        let schemas = &doc["components"]["schemas"];
        assert_eq!(schemas["Thing"]["required"], json!(["id", "part"]));
        assert!(schemas["Part"].get("required").is_none());

        let mut strict = small();
        apply(&mut strict, &Policy::default());
        assert_eq!(
            strict["components"]["schemas"]["Part"]["required"],
            json!(["name"])
        );
    }
}
