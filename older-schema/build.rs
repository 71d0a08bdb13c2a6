//! Generates the models from an older form of the vendored document: today's
//! with a few properties taken out (as a release before they were added
//! would have them), so the tests can check what such a build of the SDK
//! does with events that carry them.

use std::path::PathBuf;

use serde_json::Value;

/// Schema and property taken out of the document.
const REMOVED: &[(&str, &str)] = &[
    ("Event", "active_call"),
    ("Event", "source"),
    ("RawDeviceAttributes", "battery_charging"),
    ("RawDeviceAttributes", "keyboard_layout_hash"),
    ("RawDeviceAttributes", "keyboard_layout_name"),
];

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("manifest dir"));
    let source = manifest.join("../openapi/fingerprint-server-api-v4.json");
    println!("cargo:rerun-if-changed={}", source.display());
    let text = std::fs::read_to_string(&source).expect("the vendored document");
    let mut doc: Value = serde_json::from_str(&text).expect("JSON");
    for (schema, property) in REMOVED {
        let schema = doc
            .pointer_mut(&format!("/components/schemas/{schema}"))
            .and_then(Value::as_object_mut)
            .expect("schema");
        let removed = schema
            .get_mut("properties")
            .and_then(Value::as_object_mut)
            .and_then(|p| p.remove(*property));
        assert!(
            removed.is_some(),
            "the document has no {property} to take out"
        );
        if let Some(Value::Array(required)) = schema.get_mut("required") {
            required.retain(|r| r != property);
        }
    }
    let older = serde_json::to_string(&doc).expect("JSON");
    let generated = fingerprint_server_sdk_codegen::generate(
        &older,
        None,
        &fingerprint_server_sdk_codegen::Options::v4(),
    )
    .expect("generates");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("out dir"));
    std::fs::write(out.join("older_models.rs"), generated.models).expect("writes");
}
