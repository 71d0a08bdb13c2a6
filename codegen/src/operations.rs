//! The table of operations read from the document: progenitor's name for
//! each, its HTTP method and its path template. The generated code hands
//! the entry of its operation to the runtime with every request, which
//! checks the request's path against the template before sending.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use serde_json::Value;

use crate::{Error, Result};

/// The HTTP methods an OpenAPI path item can hold.
const METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options"];

/// One operation of the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// progenitor's name: the snake case of the operationId (`get_event`).
    pub name: String,
    /// The HTTP method, upper case (`GET`).
    pub method: String,
    /// The path template (`/events/{event_id}`).
    pub template: String,
}

impl Operation {
    /// The name of the generated static holding this entry (`GET_EVENT`).
    pub fn static_ident(&self) -> syn::Ident {
        format_ident!("{}", self.name.to_ascii_uppercase())
    }
}

/// Every operation of the document, sorted by name.
pub fn collect(doc: &Value) -> Result<Vec<Operation>> {
    let paths = doc
        .get("paths")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::new("the document has no paths"))?;
    let mut operations = Vec::new();
    for (template, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        for (method, op) in item {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            let id = op
                .get("operationId")
                .and_then(Value::as_str)
                .ok_or_else(|| Error::new(format!("{method} {template} has no operationId")))?;
            operations.push(Operation {
                name: snake(id),
                method: method.to_ascii_uppercase(),
                template: template.clone(),
            });
        }
    }
    operations.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(pair) = operations.windows(2).find(|w| w[0].name == w[1].name) {
        return Err(Error::new(format!(
            "two operations are both named {}",
            pair[0].name
        )));
    }
    Ok(operations)
}

/// progenitor's names for operations: the snake case of the operationId.
pub fn snake(id: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in id.chars() {
        if c.is_ascii_uppercase() {
            if prev_lower {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            prev_lower = false;
        } else {
            out.push(c);
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        }
    }
    out
}

/// `pub(crate) mod operations` with one `crate::runtime::Operation` static
/// per operation, and `ALL`.
pub fn table(operations: &[Operation]) -> TokenStream {
    let statics = operations.iter().map(|op| {
        let ident = op.static_ident();
        let (name, method, template) = (&op.name, &op.method, &op.template);
        let doc = format!("`{method} {template}`");
        quote! {
            #[doc = #doc]
            pub(crate) static #ident: crate::runtime::Operation = crate::runtime::Operation {
                name: #name,
                method: #method,
                template: #template,
            };
        }
    });
    let all = operations.iter().map(Operation::static_ident);
    quote! {
        /// Every operation of the document, as read at build time.
        pub(crate) mod operations {
            #(#statics)*
            /// All of the above.
            pub(crate) static ALL: &[&crate::runtime::Operation] = &[#(&#all),*];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn snake_case_like_progenitor() {
        assert_eq!(snake("getEvent"), "get_event");
        assert_eq!(
            snake("analyzeRequestForAutomationIntelligence"),
            "analyze_request_for_automation_intelligence"
        );
        assert_eq!(snake("getV3Thing"), "get_v3_thing");
        assert_eq!(snake("already_snake"), "already_snake");
    }

    #[test]
    fn collects_method_and_template_and_skips_other_keys() {
        let doc = json!({"paths": {
            "/events/{event_id}": {
                "parameters": [],
                "get": {"operationId": "getEvent"},
                "patch": {"operationId": "updateEvent"}
            },
            "/visitors/{visitor_id}": {"delete": {"operationId": "deleteVisitorData"}}
        }});
        let ops = collect(&doc).expect("collects");
        assert_eq!(
            ops,
            [
                Operation {
                    name: "delete_visitor_data".into(),
                    method: "DELETE".into(),
                    template: "/visitors/{visitor_id}".into()
                },
                Operation {
                    name: "get_event".into(),
                    method: "GET".into(),
                    template: "/events/{event_id}".into()
                },
                Operation {
                    name: "update_event".into(),
                    method: "PATCH".into(),
                    template: "/events/{event_id}".into()
                },
            ]
        );
        let tokens = table(&ops).to_string();
        assert!(syn::parse2::<syn::File>(table(&ops)).is_ok(), "{tokens}");
    }

    #[test]
    fn refuses_operations_without_an_id_or_with_the_same_name() {
        let no_id = json!({"paths": {"/x": {"get": {}}}});
        assert!(
            collect(&no_id)
                .unwrap_err()
                .to_string()
                .contains("no operationId")
        );
        let twice = json!({"paths": {
            "/x": {"get": {"operationId": "getX"}},
            "/y": {"get": {"operationId": "get_x"}}
        }});
        assert!(collect(&twice).unwrap_err().to_string().contains("get_x"));
    }
}
