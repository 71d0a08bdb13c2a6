//! The table of search parameters, read from the document's `searchEvents`
//! operation: for each query parameter its wire name, its kind (with enum
//! values and integer ranges), whether it repeats, the builder method that
//! sets it, and its role (a filter, or one of the paging and window
//! controls). The SDK publishes it as `search::PARAMETERS`; the CLI builds
//! its flags from it and the fake API checks its semantics against it.

use proc_macro2::TokenStream;
use quote::quote;
use serde_json::{Map, Value};

use crate::{Error, Result};

/// The operationId of the search.
pub const OPERATION: &str = "searchEvents";

/// One search parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    /// The wire name (`vpn_confidence`).
    pub name: String,
    /// What values it takes.
    pub kind: Kind,
    /// Whether it is a list, sent as repeated keys.
    pub repeated: bool,
    /// What it does for paging and the time window, or `Filter`.
    pub role: Role,
    /// The overlay's description, empty when there is none.
    pub summary: String,
}

impl Parameter {
    /// The builder method that sets it: progenitor names it after the wire
    /// name (the names of this API are already snake case).
    pub fn method(&self) -> &str {
        &self.name
    }
}

/// The values a parameter takes.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// `true` or `false`.
    Bool,
    /// Any text.
    String,
    /// A whole number, within the documented bounds when there are any.
    Integer {
        /// The smallest documented value.
        min: Option<i64>,
        /// The largest documented value.
        max: Option<i64>,
    },
    /// A number.
    Number,
    /// A point in time: Unix milliseconds or RFC 3339.
    Time,
    /// One of these values.
    Enum(Vec<String>),
}

/// What a parameter is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Narrows the events returned.
    Filter,
    /// The start of the time window.
    Start,
    /// The end of the time window.
    End,
    /// The page size.
    Limit,
    /// The key of the next page.
    PaginationKey,
    /// Oldest first.
    Reverse,
    /// Ask for the number of matches.
    TotalHits,
}

impl Role {
    /// The role of a parameter of this API, by its wire name.
    fn of(name: &str) -> Self {
        match name {
            "start" => Self::Start,
            "end" => Self::End,
            "limit" => Self::Limit,
            "pagination_key" => Self::PaginationKey,
            "reverse" => Self::Reverse,
            "total_hits" => Self::TotalHits,
            _ => Self::Filter,
        }
    }
}

/// The query parameters of `operation_id`, in document order. `doc` is the
/// document before the policy removed the value constraints (the integer
/// bounds are read from it).
pub fn collect(doc: &Value, operation_id: &str) -> Result<Vec<Parameter>> {
    let op = operation(doc, operation_id)
        .ok_or_else(|| Error::new(format!("the document has no operation {operation_id}")))?;
    let schemas = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object);
    let mut out = Vec::new();
    for parameter in op
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if parameter.get("in").and_then(Value::as_str) != Some("query") {
            continue;
        }
        let name = parameter
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::new(format!("a parameter of {operation_id} has no name")))?;
        let schema = parameter
            .get("schema")
            .ok_or_else(|| Error::new(format!("parameter {name} has no schema")))?;
        let schema = resolve(schema, schemas);
        let (kind, repeated) = if schema.get("type").and_then(Value::as_str) == Some("array") {
            let items = schema
                .get("items")
                .map(|items| resolve(items, schemas))
                .ok_or_else(|| Error::new(format!("array parameter {name} has no items")))?;
            (kind(name, items)?, true)
        } else {
            (kind(name, schema)?, false)
        };
        out.push(Parameter {
            name: name.to_owned(),
            kind,
            repeated,
            role: Role::of(name),
            summary: String::new(),
        });
    }
    Ok(out)
}

fn operation<'a>(doc: &'a Value, operation_id: &str) -> Option<&'a Map<String, Value>> {
    doc.get("paths")?
        .as_object()?
        .values()
        .filter_map(Value::as_object)
        .flat_map(|item| item.values())
        .find(|op| op.get("operationId").and_then(Value::as_str) == Some(operation_id))?
        .as_object()
}

/// Follows a `$ref` to a component schema (one level is all this API uses).
fn resolve<'a>(schema: &'a Value, schemas: Option<&'a Map<String, Value>>) -> &'a Value {
    schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
        .and_then(|name| schemas?.get(name))
        .unwrap_or(schema)
}

fn kind(name: &str, schema: &Value) -> Result<Kind> {
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let values = values
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| Error::new(format!("parameter {name} has a non-string enum")))?;
        return Ok(Kind::Enum(values));
    }
    if let Some(choices) = schema.get("oneOf").and_then(Value::as_array) {
        let formats: Vec<Option<&str>> = choices
            .iter()
            .map(|c| c.get("format").and_then(Value::as_str))
            .collect();
        if formats.contains(&Some("date-time")) && formats.contains(&Some("int64")) {
            return Ok(Kind::Time);
        }
        return Err(Error::new(format!(
            "parameter {name}: a oneOf other than date-time or int64 is not supported"
        )));
    }
    let bound = |key: &str| schema.get(key).and_then(Value::as_i64);
    match schema.get("type").and_then(Value::as_str) {
        Some("boolean") => Ok(Kind::Bool),
        Some("string") if schema.get("format").and_then(Value::as_str) == Some("date-time") => {
            Ok(Kind::Time)
        }
        Some("string") => Ok(Kind::String),
        Some("integer") => Ok(Kind::Integer {
            min: bound("minimum"),
            max: bound("maximum"),
        }),
        Some("number") => Ok(Kind::Number),
        other => Err(Error::new(format!(
            "parameter {name} has a type the search table does not know: {other:?}"
        ))),
    }
}

/// `pub static PARAMETERS`, for the SDK's `search` module to include: it
/// names `Parameter`, `Kind` and `Role`, which that module defines.
pub fn table(parameters: &[Parameter]) -> TokenStream {
    let entries = parameters.iter().map(|p| {
        let (name, method, summary, repeated) = (&p.name, p.method(), &p.summary, p.repeated);
        let kind = match &p.kind {
            Kind::Bool => quote!(Kind::Bool),
            Kind::String => quote!(Kind::String),
            Kind::Number => quote!(Kind::Number),
            Kind::Time => quote!(Kind::Time),
            Kind::Integer { min, max } => {
                let min = option(min);
                let max = option(max);
                quote!(Kind::Integer { min: #min, max: #max })
            }
            Kind::Enum(values) => quote!(Kind::Enum(&[#(#values),*])),
        };
        let role = syn::Ident::new(&format!("{:?}", p.role), proc_macro2::Span::call_site());
        quote! {
            Parameter {
                name: #name,
                method: #method,
                kind: #kind,
                repeated: #repeated,
                role: Role::#role,
                summary: #summary,
            }
        }
    });
    let count = parameters.len();
    let doc = format!(
        "Every query parameter of the search ({count}), in the order of the OpenAPI document \
         this version of the SDK was generated from."
    );
    quote! {
        #[doc = #doc]
        pub static PARAMETERS: &[Parameter] = &[#(#entries),*];
    }
}

fn option(value: &Option<i64>) -> TokenStream {
    match value {
        Some(v) => quote!(Some(#v)),
        None => quote!(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({
            "paths": {"/events": {"get": {
                "operationId": "searchEvents",
                "parameters": [
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
                    {"name": "api-version", "in": "header", "schema": {"type": "string"}},
                    {"name": "vpn", "in": "query", "schema": {"type": "boolean"}},
                    {"name": "bot", "in": "query", "schema": {"type": "string", "enum": ["good", "bad"]}},
                    {"name": "category", "in": "query", "schema": {"type": "array", "items": {"$ref": "#/components/schemas/Category"}}},
                    {"name": "start", "in": "query", "schema": {"oneOf": [
                        {"type": "string", "format": "date-time"}, {"type": "integer", "format": "int64"}]}},
                    {"name": "min_score", "in": "query", "schema": {"type": "number"}},
                    {"name": "env", "in": "query", "schema": {"type": "array", "items": {"type": "string"}}}
                ]
            }}},
            "components": {"schemas": {"Category": {"type": "string", "enum": ["crawler", "agent"]}}}
        })
    }

    #[test]
    fn kinds_ranges_repeats_and_roles() {
        let table = collect(&doc(), "searchEvents").expect("table");
        let names: Vec<&str> = table.iter().map(|p| p.name.as_str()).collect();
        // Header parameters are not search parameters.
        assert_eq!(
            names,
            [
                "limit",
                "vpn",
                "bot",
                "category",
                "start",
                "min_score",
                "env"
            ]
        );
        assert_eq!(
            table[0].kind,
            Kind::Integer {
                min: Some(1),
                max: Some(100)
            }
        );
        assert_eq!(table[0].role, Role::Limit);
        assert_eq!(table[1].kind, Kind::Bool);
        assert_eq!(table[2].kind, Kind::Enum(vec!["good".into(), "bad".into()]));
        assert_eq!(
            table[3].kind,
            Kind::Enum(vec!["crawler".into(), "agent".into()])
        );
        assert!(table[3].repeated && !table[2].repeated);
        assert_eq!(
            (table[4].kind.clone(), table[4].role),
            (Kind::Time, Role::Start)
        );
        assert_eq!(table[5].kind, Kind::Number);
        assert_eq!(
            (table[6].kind.clone(), table[6].repeated),
            (Kind::String, true)
        );
        assert!(
            table
                .iter()
                .skip(1)
                .filter(|p| p.name != "start")
                .all(|p| p.role == Role::Filter)
        );
        assert!(syn::parse2::<syn::File>(super::table(&table)).is_ok());
    }

    #[test]
    fn refuses_what_it_cannot_describe() {
        let mut odd = doc();
        odd["paths"]["/events"]["get"]["parameters"][1]["in"] = json!("query");
        odd["paths"]["/events"]["get"]["parameters"][1]["schema"] = json!({"type": "object"});
        assert!(
            collect(&odd, "searchEvents")
                .unwrap_err()
                .to_string()
                .contains("api-version")
        );
        assert!(collect(&doc(), "listThings").is_err());
    }
}
