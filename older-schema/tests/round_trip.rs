//! A model generated without a property still round-trips it: today's event
//! through the older models comes back whole, and what they have no field
//! for is in `unknown_fields`.

use older_schema_check::types;
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../tests/fixtures/events/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("JSON")
}

#[test]
fn todays_event_through_yesterdays_models_loses_nothing() {
    let input = fixture("full_event.json");
    let event: types::Event = serde_json::from_value(input.clone()).expect("decodes");
    // The older model has no field for these: they are kept aside.
    assert_eq!(
        event.unknown_fields.get("active_call"),
        input.get("active_call")
    );
    assert_eq!(event.unknown_fields.get("source"), input.get("source"));
    let raw = event
        .raw_device_attributes
        .as_ref()
        .expect("raw_device_attributes");
    for key in [
        "battery_charging",
        "keyboard_layout_hash",
        "keyboard_layout_name",
    ] {
        assert_eq!(
            raw.unknown_fields.get(key),
            input["raw_device_attributes"].get(key),
            "{key}"
        );
    }
    // And written back, they are where they were.
    let output = serde_json::to_value(&event).expect("encodes");
    assert_eq!(output, input);
}

#[test]
fn every_event_fixture_comes_back_whole() {
    for name in [
        "full_event.json",
        "minimal_event.json",
        "forward_compat_event.json",
        "event_rule_action_block.json",
    ] {
        let input = fixture(name);
        let event: types::Event = serde_json::from_value(input.clone()).expect(name);
        let output = serde_json::to_value(&event).expect(name);
        assert_eq!(output, input, "{name}");
    }
}
