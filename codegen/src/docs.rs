//! The docs overlay: the project's own descriptions of schemas, properties,
//! operations and parameters (`openapi/docs.toml`), merged into the document
//! so they become the generated items' doc comments. The vendored document
//! carries no prose of its own.
//!
//! A name the document no longer has is not an error: its text is left out
//! and the name is reported as [`Stale`], for `cargo xtask regen` to prune.
//! A user's build never fails over the overlay.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

/// The overlay, as read from its TOML text.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Docs {
    #[serde(default)]
    schemas: BTreeMap<String, SchemaDocs>,
    #[serde(default)]
    operations: BTreeMap<String, String>,
    /// operationId → parameter name → description.
    #[serde(default)]
    parameters: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SchemaDocs {
    description: String,
    #[serde(default)]
    properties: BTreeMap<String, String>,
}

/// A name the overlay describes that the document does not have.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stale {
    /// `[schemas.NAME]`: no such schema.
    Schema(String),
    /// `[schemas.SCHEMA.properties] NAME`: the schema has no such property.
    Property {
        /// The schema.
        schema: String,
        /// The property it no longer has.
        property: String,
    },
    /// `[operations] ID`: no such operation.
    Operation(String),
    /// `[parameters.OPERATION] NAME`: the operation is gone or has no such
    /// parameter.
    Parameter {
        /// The operationId.
        operation: String,
        /// The parameter it no longer has.
        parameter: String,
    },
    /// The overlay could not be read at all (its text is ignored).
    Unreadable(String),
}

impl fmt::Display for Stale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Schema(name) => write!(f, "schema {name} is not in the document"),
            Self::Property { schema, property } => {
                write!(f, "schema {schema} has no property {property}")
            }
            Self::Operation(id) => write!(f, "operation {id} is not in the document"),
            Self::Parameter {
                operation,
                parameter,
            } => write!(f, "operation {operation} has no parameter {parameter}"),
            Self::Unreadable(why) => write!(f, "docs.toml could not be read: {why}"),
        }
    }
}

impl Docs {
    /// Reads the overlay's TOML text.
    pub fn parse(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    /// Sets each description in `doc`; returns the names `doc` does not
    /// have, whose text was left out.
    pub fn merge(&self, doc: &mut Value) -> Vec<Stale> {
        let mut stale = Vec::new();
        for (name, schema_docs) in &self.schemas {
            let Some(schema) = doc
                .pointer_mut(&format!("/components/schemas/{name}"))
                .and_then(Value::as_object_mut)
            else {
                stale.push(Stale::Schema(name.clone()));
                continue;
            };
            schema.insert(
                "description".into(),
                Value::String(schema_docs.description.clone()),
            );
            for (property, text) in &schema_docs.properties {
                match schema
                    .get_mut("properties")
                    .and_then(|p| p.get_mut(property))
                    .and_then(Value::as_object_mut)
                {
                    Some(target) => describe(target, text),
                    None => stale.push(Stale::Property {
                        schema: name.clone(),
                        property: property.clone(),
                    }),
                }
            }
        }
        for (operation_id, text) in &self.operations {
            match operation_mut(doc, operation_id) {
                Some(op) => {
                    op.insert("description".into(), Value::String(text.clone()));
                }
                None => stale.push(Stale::Operation(operation_id.clone())),
            }
        }
        for (operation_id, parameters) in &self.parameters {
            let mut list = operation_mut(doc, operation_id)
                .and_then(|op| op.get_mut("parameters"))
                .and_then(Value::as_array_mut);
            for (name, text) in parameters {
                let parameter = list.as_deref_mut().and_then(|list| {
                    list.iter_mut()
                        .find(|p| p.get("name").and_then(Value::as_str) == Some(name.as_str()))
                        .and_then(Value::as_object_mut)
                });
                match parameter {
                    Some(parameter) => {
                        parameter.insert("description".into(), Value::String(text.clone()));
                    }
                    None => stale.push(Stale::Parameter {
                        operation: operation_id.clone(),
                        parameter: name.clone(),
                    }),
                }
            }
        }
        stale
    }

    /// The overlay's text for parameter `name` of `operation_id`, if any.
    pub fn parameter(&self, operation_id: &str, name: &str) -> Option<&str> {
        self.parameters
            .get(operation_id)?
            .get(name)
            .map(String::as_str)
    }
}

/// A `$ref` cannot carry a description in OpenAPI 3.0; wrapping it in
/// `allOf` would change the generated type, so a referenced property keeps
/// its type's description and the text goes on inline ones only.
fn describe(target: &mut Map<String, Value>, text: &str) {
    if !target.contains_key("$ref") {
        target.insert("description".into(), Value::String(text.to_owned()));
    }
}

fn operation_mut<'a>(doc: &'a mut Value, operation_id: &str) -> Option<&'a mut Map<String, Value>> {
    doc.get_mut("paths")?
        .as_object_mut()?
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
        .find(|op| op.get("operationId").and_then(Value::as_str) == Some(operation_id))?
        .as_object_mut()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({
            "paths": {"/things": {"get": {
                "operationId": "listThings",
                "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer"}}]
            }}},
            "components": {"schemas": {
                "Thing": {"type": "object", "properties": {
                    "name": {"type": "string"},
                    "part": {"$ref": "#/components/schemas/Part"}
                }},
                "Part": {"type": "object"}
            }}
        })
    }

    const OVERLAY: &str = r#"
        [operations]
        listThings = "Lists the things."
        [parameters.listThings]
        limit = "At most this many."
        [schemas.Thing]
        description = "A thing."
        [schemas.Thing.properties]
        name = "Its name."
        part = "Its part."
    "#;

    #[test]
    fn descriptions_land_where_the_names_are() {
        let mut doc = doc();
        let stale = Docs::parse(OVERLAY).expect("toml").merge(&mut doc);
        assert_eq!(stale, []);
        assert_eq!(
            doc["components"]["schemas"]["Thing"]["description"],
            "A thing."
        );
        assert_eq!(
            doc["components"]["schemas"]["Thing"]["properties"]["name"]["description"],
            "Its name."
        );
        // A reference keeps its target's description.
        assert!(
            doc["components"]["schemas"]["Thing"]["properties"]["part"]
                .get("description")
                .is_none()
        );
        assert_eq!(
            doc["paths"]["/things"]["get"]["description"],
            "Lists the things."
        );
        assert_eq!(
            doc["paths"]["/things"]["get"]["parameters"][0]["description"],
            "At most this many."
        );
    }

    #[test]
    fn names_the_document_lacks_are_reported_not_fatal() {
        let overlay = r#"
            [operations]
            gone = "Old."
            [parameters.listThings]
            offset = "Old."
            [parameters.gone]
            x = "Old."
            [schemas.Thing]
            description = "A thing."
            [schemas.Thing.properties]
            colour = "Old."
            [schemas.Ghost]
            description = "Old."
        "#;
        let mut doc = doc();
        let mut stale = Docs::parse(overlay).expect("toml").merge(&mut doc);
        stale.sort();
        assert_eq!(
            stale,
            [
                Stale::Schema("Ghost".into()),
                Stale::Property {
                    schema: "Thing".into(),
                    property: "colour".into()
                },
                Stale::Operation("gone".into()),
                Stale::Parameter {
                    operation: "gone".into(),
                    parameter: "x".into()
                },
                Stale::Parameter {
                    operation: "listThings".into(),
                    parameter: "offset".into()
                },
            ]
        );
        // What still exists is still described.
        assert_eq!(
            doc["components"]["schemas"]["Thing"]["description"],
            "A thing."
        );
        assert_eq!(
            Stale::Property {
                schema: "Thing".into(),
                property: "colour".into()
            }
            .to_string(),
            "schema Thing has no property colour"
        );
    }

    #[test]
    fn unknown_keys_in_the_overlay_are_refused() {
        assert!(Docs::parse("[schema.Thing]\ndescription = \"typo\"").is_err());
    }
}
