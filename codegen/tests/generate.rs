//! The whole generation on small documents and on the SDK's own: what it
//! produces, and that a stale docs overlay is reported, never fatal.

use fingerprint_server_sdk_codegen::docs::Stale;
use fingerprint_server_sdk_codegen::{Options, generate};

/// One operation returning an object with a nested object and an enum.
const SMALL: &str = r##"{
  "openapi": "3.0.3",
  "info": {"title": "t", "version": "4"},
  "paths": {"/things/{thing_id}": {"get": {
    "operationId": "getThing",
    "parameters": [{"name": "thing_id", "in": "path", "required": true, "schema": {"type": "string"}}],
    "responses": {"200": {"description": "", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}}}
  }}},
  "components": {"schemas": {
    "Thing": {"type": "object", "required": ["id"], "additionalProperties": false, "properties": {
      "id": {"type": "string"},
      "colour": {"$ref": "#/components/schemas/Colour"},
      "part": {"$ref": "#/components/schemas/Part"}
    }},
    "Part": {"type": "object", "properties": {"weight": {"type": "number", "format": "float"}}},
    "Colour": {"type": "string", "enum": ["red", "green"]}
  }}
}"##;

fn small_options() -> Options {
    Options {
        search_table: false,
        ..Options::v4()
    }
}

#[test]
fn a_small_document_gives_open_models_and_a_client_on_the_runtime() {
    let out = generate(SMALL, None, &small_options()).expect("generates");
    assert!(out.stale_docs.is_empty());
    assert!(out.search.is_none());
    let models = &out.models;
    assert!(models.contains("pub struct Thing"), "{models}");
    assert!(
        models.contains("pub unknown_fields: ::serde_json::Map"),
        "{models}"
    );
    assert!(
        models.contains("Unrecognized(::std::string::String)"),
        "open enum: {models}"
    );
    assert!(
        models.contains("pub weight: ::std::option::Option<f64>"),
        "f64: {models}"
    );
    assert!(!models.contains("deny_unknown_fields"), "{models}");
    let client = &out.client;
    assert!(client.contains("pub fn get_thing(&self)"), "{client}");
    assert!(client.contains("crate::runtime::Call::new"), "{client}");
    assert!(client.contains("pub fn timeout(mut self"), "{client}");
    assert!(!client.contains("progenitor_client"), "{client}");
    for text in [models, client] {
        syn::parse_file(text).expect("the output parses");
    }
}

#[test]
fn a_stale_overlay_entry_is_reported_and_the_rest_still_applies() {
    let overlay = r#"
        [schemas.Thing]
        description = "A thing we describe."
        [schemas.Thing.properties]
        id = "Its id."
        gone_property = "Described, but no longer in the document."
        [operations]
        getThing = "Gets a thing."
        removedOperation = "Gone."
    "#;
    let out =
        generate(SMALL, Some(overlay), &small_options()).expect("a stale overlay is not fatal");
    let mut stale = out.stale_docs.clone();
    stale.sort();
    assert_eq!(
        stale,
        [
            Stale::Property {
                schema: "Thing".into(),
                property: "gone_property".into()
            },
            Stale::Operation("removedOperation".into()),
        ]
    );
    assert!(out.models.contains("A thing we describe."));
    assert!(out.client.contains("Gets a thing."));

    let unreadable =
        generate(SMALL, Some("not [toml"), &small_options()).expect("not fatal either");
    assert!(matches!(unreadable.stale_docs[..], [Stale::Unreadable(_)]));
}

#[test]
fn the_sdks_own_document_and_overlay_generate_without_stale_entries() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/");
    let (Ok(document), Ok(docs)) = (
        std::fs::read_to_string(format!("{root}fingerprint-server-api-v4.json")),
        std::fs::read_to_string(format!("{root}docs.toml")),
    ) else {
        eprintln!("skipped: the SDK's openapi/ is not next to this crate (a packaged copy)");
        return;
    };
    let out = generate(&document, Some(&docs), &Options::v4()).expect("generates");
    assert_eq!(
        out.stale_docs,
        [],
        "openapi/docs.toml describes names the document does not have (`cargo xtask regen` removes them)"
    );
    let search = out.search.expect("the v4 search table");
    assert_eq!(search.matches("Parameter {").count(), 52);
}

#[test]
fn a_document_progenitor_cannot_read_is_an_error_not_a_panic() {
    assert!(generate("{", None, &small_options()).is_err());
    assert!(generate(r#"{"paths": {}}"#, None, &small_options()).is_err());
}
