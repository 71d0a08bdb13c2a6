//! The generated models against the project's own fixtures: exact round trips
//! (every number included), forward compatibility with fields and enum values
//! this SDK does not know, the rule action variants, the update body, error
//! bodies and search pages.

#[path = "common/fixtures.rs"]
mod fixtures;

use fingerprint_server_sdk::{ApiError, types};
use fixtures::{SchemaPaths, describe, differences, fixture_bytes, fixture_json, v4_document};
use serde_json::{Value, json};

fn event_from(relative: &str) -> types::Event {
    serde_json::from_slice(&fixture_bytes(relative))
        .unwrap_or_else(|e| panic!("{relative} must deserialize into types::Event: {e}"))
}

/// Serializes through both routes a user can take (straight to a `Value`,
/// and to text parsed back) and checks they agree before returning one.
fn reserialized<T: serde::Serialize>(model: &T) -> Value {
    let direct = serde_json::to_value(model).expect("model serializes to a Value");
    let text = serde_json::to_string(model).expect("model serializes to text");
    let reparsed: Value = serde_json::from_str(&text).expect("serialized text is JSON");
    assert_eq!(
        direct,
        reparsed,
        "to_value and to_string disagree:\n{}",
        describe(&differences(&direct, &reparsed))
    );
    direct
}

fn assert_round_trips_exactly<T>(relative: &str)
where
    T: serde::de::DeserializeOwned + serde::Serialize,
{
    let input = fixture_json(relative);
    let model: T = serde_json::from_value(input.clone())
        .unwrap_or_else(|e| panic!("{relative} must deserialize: {e}"));
    let output = reserialized(&model);
    let diff = differences(&input, &output);
    assert!(
        diff.is_empty(),
        "{relative} does not survive deserialize + serialize:\n{}",
        describe(&diff)
    );
    assert_eq!(input, output, "{relative}: Value equality after round trip");
}

// Fidelity.

#[test]
fn full_event_round_trips_exactly() {
    assert_round_trips_exactly::<types::Event>("events/full_event.json");
}

#[test]
fn block_rule_action_event_round_trips_exactly() {
    assert_round_trips_exactly::<types::Event>("events/event_rule_action_block.json");
}

#[test]
fn minimal_event_round_trips_without_nulls_or_empty_collections() {
    assert_round_trips_exactly::<types::Event>("events/minimal_event.json");
    let output = reserialized(&event_from("events/minimal_event.json"));
    let keys: Vec<&str> = output
        .as_object()
        .expect("an event serializes to an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["event_id", "timestamp"]);
}

#[test]
fn search_pages_round_trip_exactly() {
    assert_round_trips_exactly::<types::EventSearch>("events/search_page.json");
    assert_round_trips_exactly::<types::EventSearch>("events/search_last_page.json");
}

/// The fidelity test only means something if the fixtures set every property
/// the document declares; a property added by a schema refresh shows up here.
#[test]
fn event_fixtures_set_every_declared_event_property() {
    let schema = SchemaPaths::of(&v4_document(), "Event");
    let mut present = fixtures::value_paths(&fixture_json("events/full_event.json"));
    // The block variant of `rule_action` lives in its own fixture.
    present.extend(fixtures::value_paths(&fixture_json(
        "events/event_rule_action_block.json",
    )));
    let missing: Vec<&String> = schema.declared.difference(&present).collect();
    assert!(
        missing.is_empty(),
        "declared Event properties no fixture sets: {missing:?}"
    );
    let full = fixtures::value_paths(&fixture_json("events/full_event.json"));
    let unknown: Vec<&String> = full.iter().filter(|path| !schema.knows(path)).collect();
    assert!(
        unknown.is_empty(),
        "full_event.json sets properties the document does not declare: {unknown:?}"
    );
}

#[test]
fn full_event_fields_land_in_their_typed_fields() {
    let event = event_from("events/full_event.json");
    assert_eq!(event.event_id, "1742291234567.Xk3pQz");
    assert_eq!(event.timestamp, 1_742_291_234_567);

    let identification = event.identification.as_ref().expect("identification");
    assert_eq!(identification.visitor_id, "Qm7vT2xLpA9sW4eRz1Nc");
    assert!(identification.visitor_found);
    let confidence = identification.confidence.as_ref().expect("confidence");
    assert_eq!(confidence.score, 0.95);

    let proximity = event.proximity.as_ref().expect("proximity");
    assert_eq!(proximity.precision_radius, 450);

    let ip_info = event.ip_info.as_ref().expect("ip_info");
    let v4 = ip_info.v4.as_ref().expect("ip_info.v4");
    assert_eq!(v4.address, "203.0.113.47");
    let geo = v4.geolocation.as_ref().expect("v4 geolocation");
    assert_eq!(geo.latitude, Some(51.3397));
    assert_eq!(
        geo.subdivisions.as_ref().expect("subdivisions")[0].name,
        "Saxony"
    );
    let v6 = ip_info.v6.as_ref().expect("ip_info.v6");
    assert_eq!(v6.address, "2001:db8:3c4d:15::1a2f");
    assert_eq!(
        v6.geolocation.as_ref().and_then(|g| g.longitude),
        Some(-13.7373)
    );

    assert_eq!(event.bot, Some(types::BotResult::Bad));
    let bot_info = event.bot_info.as_ref().expect("bot_info");
    assert_eq!(bot_info.category, types::BotInfoCategory::AiAgent);
    assert_eq!(bot_info.identity, types::BotInfoIdentity::Signed);
    assert_eq!(
        event.proxy_details.as_ref().map(|p| &p.proxy_type),
        Some(&types::ProxyDetailsProxyType::Unknown)
    );
    assert_eq!(
        event.rare_device_percentile_bucket,
        Some(types::RareDevicePercentileBucket::P99P995)
    );

    let velocity = event.velocity.as_ref().expect("velocity");
    let ip_events = velocity.ip_events.as_ref().expect("velocity.ip_events");
    assert_eq!(
        (ip_events.x5_minutes, ip_events.x1_hour, ip_events.x24_hours),
        (7, 42, Some(310))
    );

    let raw = event
        .raw_device_attributes
        .as_ref()
        .expect("raw attributes");
    assert_eq!(raw.audio, Some(35.738_334_022_462_37));
    assert_eq!(
        raw.screen_resolution.as_ref().map(|r| r.as_slice()),
        Some(&[1920, 1080][..])
    );
    let plugin = &raw.plugins.as_ref().expect("plugins")[0];
    let mime_types = plugin.mime_types.as_ref().expect("mime types");
    assert_eq!(mime_types.len(), 2);
    assert_eq!(mime_types[0].type_.as_deref(), Some("application/pdf"));

    let tags = event.tags.as_ref().expect("tags");
    assert_eq!(tags["order"]["items"][0]["price"], json!(12.34));
    assert_eq!(tags["order"]["coupon"], Value::Null);

    let triggered = event.triggered_by.as_ref().expect("triggered_by");
    assert_eq!(triggered[0].id, "r_4hZ8pLwQ");
}

/// `format: float` fields (here `proximity.confidence`) must be `f64`: an
/// `f32` would print 0.93 back as 0.9300000071525574.
#[test]
fn float_format_fields_keep_their_decimal_text() {
    let event = event_from("events/full_event.json");
    let proximity = event.proximity.as_ref().expect("proximity");
    assert_eq!(proximity.confidence, 0.93);
    let text = serde_json::to_string(proximity).expect("proximity serializes");
    assert!(
        text.contains("\"confidence\":0.93,") || text.contains("\"confidence\":0.93}"),
        "proximity.confidence changed in text: {text}"
    );
    let score = event
        .identification
        .as_ref()
        .and_then(|i| i.confidence.as_ref())
        .expect("confidence");
    assert_eq!(
        serde_json::to_string(&score.score).expect("f64 serializes"),
        "0.95"
    );
}

// Forward compatibility.

#[test]
fn unknown_fields_are_kept_at_every_level() {
    let input = fixture_json("events/forward_compat_event.json");
    let event: types::Event = serde_json::from_value(input.clone())
        .unwrap_or_else(|e| panic!("an event with unknown fields must deserialize: {e}"));
    assert_eq!(event.event_id, "1767225600123.Fw9cMp");
    let identification = event.identification.as_ref().expect("identification");
    assert_eq!(identification.visitor_id, "Zp3nL8vQw1KcRt6YhB2m");
    assert_eq!(
        identification.confidence.as_ref().map(|c| c.score),
        Some(0.75)
    );
    let v4 = event
        .ip_info
        .as_ref()
        .and_then(|i| i.v4.as_ref())
        .expect("ip_info.v4");
    assert_eq!(v4.asn.as_deref(), Some("64510"));
    assert_eq!(
        v4.geolocation.as_ref().and_then(|g| g.city_name.as_deref()),
        Some("Utrecht")
    );
    assert_eq!(
        event
            .proxy_details
            .as_ref()
            .and_then(|p| p.provider.as_deref()),
        Some("Example Orbit")
    );
    assert_eq!(
        event.vpn_methods.as_ref().and_then(|m| m.public_vpn),
        Some(true)
    );
    let events = event
        .velocity
        .as_ref()
        .and_then(|v| v.events.as_ref())
        .expect("velocity.events");
    assert_eq!(
        (events.x5_minutes, events.x1_hour, events.x24_hours),
        (2, 5, None)
    );

    // What comes back out is the input, unknown fields included: the typed
    // models keep what they have no field for (in `unknown_fields`, at every
    // level) and write it back. These are exactly the input's paths the
    // schema does not declare.
    let schema = SchemaPaths::of(&v4_document(), "Event");
    let output = reserialized(&event);
    let lost: Vec<String> = differences(&input, &output)
        .into_iter()
        .map(|d| d.to_string())
        .collect();
    assert_eq!(lost, Vec::<String>::new(), "nothing is lost or changed");
    let unknown = [
        "bot_info.first_seen_year",
        "identification.confidence.calibration",
        "identification.stitched_from",
        "ip_info.v4.carrier_grade_nat",
        "ip_info.v4.geolocation.metro_code",
        "ip_info.v6.ipv6_privacy_extension",
        "ip_info.v8",
        "proxy_details.uplink_band",
        "quantum_signal",
        "raw_device_attributes.canvas.hdr",
        "raw_device_attributes.holographic_display",
        "risk_summary",
        "sdk.build_channel",
        "velocity.distinct_device_by_ip",
        "velocity.events.7_days",
        "vpn_methods.quantum_tunnel",
    ];
    let undeclared = schema.undeclared(&input);
    assert_eq!(
        undeclared.iter().map(String::as_str).collect::<Vec<_>>(),
        unknown,
        "the input's undeclared paths"
    );
    assert!(event.unknown_fields.contains_key("quantum_signal"));
    assert!(event.unknown_fields.contains_key("risk_summary"));
    assert!(identification.unknown_fields.contains_key("stitched_from"));
    assert!(
        event
            .velocity
            .as_ref()
            .and_then(|v| v.events.as_ref())
            .is_some_and(|e| e.unknown_fields.contains_key("7_days"))
    );
}

#[test]
fn unknown_enum_values_are_kept_verbatim() {
    let event = event_from("events/forward_compat_event.json");
    let bot_info = event.bot_info.as_ref().expect("bot_info");
    let sdk = event.sdk.as_ref().expect("sdk");
    let proxy_details = event.proxy_details.as_ref().expect("proxy_details");

    assert_eq!(
        event.bot,
        Some(types::BotResult::Unrecognized("suspicious".into()))
    );
    assert_eq!(
        event.proxy_confidence,
        Some(types::ProxyConfidence::Unrecognized("extreme".into()))
    );
    assert_eq!(
        proxy_details.proxy_type,
        types::ProxyDetailsProxyType::Unrecognized("satellite".into())
    );
    assert_eq!(
        event.vpn_confidence,
        Some(types::VpnConfidence::Unrecognized("certain".into()))
    );
    assert_eq!(
        event.incremental_identification_status,
        Some(types::IncrementalIdentificationStatus::Unrecognized(
            "pending_review".into()
        ))
    );
    assert_eq!(
        event.source,
        Some(types::EventSource::Unrecognized("satellite_relay".into()))
    );
    assert_eq!(
        event.rare_device_percentile_bucket,
        Some(types::RareDevicePercentileBucket::Unrecognized(
            "p99.99+".into()
        ))
    );
    assert_eq!(
        event.tampering_confidence,
        Some(types::TamperingConfidence::Unrecognized("absolute".into()))
    );
    assert_eq!(
        bot_info.category,
        types::BotInfoCategory::Unrecognized("quantum_crawler".into())
    );
    assert_eq!(
        bot_info.identity,
        types::BotInfoIdentity::Unrecognized("attested".into())
    );
    assert_eq!(
        bot_info.confidence,
        types::BotInfoConfidence::Unrecognized("very_high".into())
    );
    assert_eq!(
        sdk.platform,
        types::SdkPlatform::Unrecognized("webassembly".into())
    );

    assert_eq!(event.bot.as_ref().map(|b| b.as_str()), Some("suspicious"));
    assert_eq!(proxy_details.proxy_type.as_str(), "satellite");
    assert_eq!(sdk.platform.to_string(), "webassembly");
}

#[test]
fn unknown_enum_values_serialize_back_unchanged() {
    let input = fixture_json("events/forward_compat_event.json");
    let output = reserialized(&event_from("events/forward_compat_event.json"));
    for pointer in [
        "/bot",
        "/source",
        "/incremental_identification_status",
        "/proxy_confidence",
        "/proxy_details/proxy_type",
        "/vpn_confidence",
        "/tampering_confidence",
        "/rare_device_percentile_bucket",
        "/bot_info/category",
        "/bot_info/identity",
        "/bot_info/confidence",
        "/sdk/platform",
    ] {
        let sent = input.pointer(pointer).expect("the fixture sets it");
        assert_eq!(
            output.pointer(pointer),
            Some(sent),
            "{pointer} changed on the way back out"
        );
    }
}

// Open enums.

/// Checks one open enum against the wire values the document lists for it:
/// each is a known variant, and `From`, `FromStr`, `as_str`, `Display` and
/// serde agree on it; a made-up value lands in `Unrecognized`, verbatim.
macro_rules! check_open_enum {
    ($document:expr, $ty:ty, $pointer:literal) => {{
        type Enum = $ty;
        let values = $document
            .pointer($pointer)
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("no enum at {}", $pointer));
        assert!(values.len() >= 2, "{} lists fewer than 2 values", $pointer);
        for value in values {
            let wire = value.as_str().expect("string enum value");
            let from = Enum::from(wire);
            assert!(
                !matches!(from, Enum::Unrecognized(_)),
                "{}: documented value {wire:?} is not a known variant",
                stringify!($ty)
            );
            assert_eq!(from.as_str(), wire, "{}: as_str", stringify!($ty));
            assert_eq!(from.to_string(), wire, "{}: Display", stringify!($ty));
            assert_eq!(
                wire.parse::<Enum>().expect("FromStr is infallible"),
                from,
                "{}: FromStr",
                stringify!($ty)
            );
            assert_eq!(
                serde_json::from_value::<Enum>(value.clone()).expect("deserializes"),
                from,
                "{}: Deserialize",
                stringify!($ty)
            );
            assert_eq!(
                serde_json::to_value(&from).expect("serializes"),
                *value,
                "{}: Serialize",
                stringify!($ty)
            );
        }
        let made_up = "zz_not_a_real_value";
        let unknown = Enum::from(made_up);
        assert_eq!(unknown, Enum::Unrecognized(made_up.to_owned()));
        assert_eq!(unknown.as_str(), made_up);
        assert_eq!(unknown.to_string(), made_up);
        assert_eq!(
            made_up.parse::<Enum>().expect("FromStr is infallible"),
            unknown
        );
        assert_eq!(
            serde_json::to_value(&unknown).expect("serializes"),
            json!(made_up)
        );
        values.len()
    }};
}

#[test]
fn every_documented_enum_value_is_a_known_variant() {
    let document = v4_document();
    let checked = [
        check_open_enum!(
            document,
            types::BotResult,
            "/components/schemas/BotResult/enum"
        ),
        check_open_enum!(
            document,
            types::BotInfoCategory,
            "/components/schemas/BotInfoCategory/enum"
        ),
        check_open_enum!(
            document,
            types::BotInfoConfidence,
            "/components/schemas/BotInfoConfidence/enum"
        ),
        check_open_enum!(
            document,
            types::BotInfoIdentity,
            "/components/schemas/BotInfoIdentity/enum"
        ),
        check_open_enum!(
            document,
            types::ErrorCode,
            "/components/schemas/ErrorCode/enum"
        ),
        check_open_enum!(
            document,
            types::EventSource,
            "/components/schemas/EventSource/enum"
        ),
        check_open_enum!(
            document,
            types::IncrementalIdentificationStatus,
            "/components/schemas/IncrementalIdentificationStatus/enum"
        ),
        check_open_enum!(
            document,
            types::ProxyConfidence,
            "/components/schemas/ProxyConfidence/enum"
        ),
        check_open_enum!(
            document,
            types::ProxyDetailsProxyType,
            "/components/schemas/ProxyDetails/properties/proxy_type/enum"
        ),
        check_open_enum!(
            document,
            types::RareDevicePercentileBucket,
            "/components/schemas/RareDevicePercentileBucket/enum"
        ),
        check_open_enum!(
            document,
            types::RuleActionType,
            "/components/schemas/RuleActionType/enum"
        ),
        check_open_enum!(
            document,
            types::SdkPlatform,
            "/components/schemas/SDK/properties/platform/enum"
        ),
        check_open_enum!(
            document,
            types::TamperingConfidence,
            "/components/schemas/TamperingConfidence/enum"
        ),
        check_open_enum!(
            document,
            types::VpnConfidence,
            "/components/schemas/VpnConfidence/enum"
        ),
    ];
    // Guards against the document losing its enums (and the test its teeth).
    assert!(checked.iter().sum::<usize>() >= 60, "{checked:?}");
}

#[test]
fn bot_result_from_str_known_and_unknown() {
    assert_eq!(types::BotResult::from("bad"), types::BotResult::Bad);
    assert_eq!(
        types::BotResult::from("not_detected"),
        types::BotResult::NotDetected
    );
    assert_eq!(
        types::BotResult::from("zzz"),
        types::BotResult::Unrecognized("zzz".to_owned())
    );
    // Wire values are exact: another spelling is not the known variant.
    assert_eq!(
        types::BotResult::from("BAD"),
        types::BotResult::Unrecognized("BAD".to_owned())
    );
    assert_eq!(
        types::BotResult::from(String::from("good")),
        types::BotResult::Good
    );
    assert_eq!(
        "zzz".parse::<types::BotResult>().map(|b| b.to_string()),
        Ok("zzz".into())
    );
}

/// `unknown` and `other` are real server values: they must not be mistaken
/// for the catch-all.
#[test]
fn real_unknown_and_other_values_are_known_variants() {
    assert_eq!(
        types::ProxyDetailsProxyType::from("unknown"),
        types::ProxyDetailsProxyType::Unknown
    );
    assert_eq!(
        types::SdkPlatform::from("unknown"),
        types::SdkPlatform::Unknown
    );
    assert_eq!(
        types::BotInfoIdentity::from("unknown"),
        types::BotInfoIdentity::Unknown
    );
    assert_eq!(
        types::BotInfoCategory::from("unknown"),
        types::BotInfoCategory::Unknown
    );
    assert_eq!(
        types::BotInfoCategory::from("other"),
        types::BotInfoCategory::Other
    );
    let details: types::ProxyDetails =
        serde_json::from_value(json!({"proxy_type": "unknown"})).expect("proxy details");
    assert_eq!(details.proxy_type, types::ProxyDetailsProxyType::Unknown);
    assert_eq!(
        serde_json::to_value(&details).expect("serializes"),
        json!({"proxy_type": "unknown"})
    );
}

// Rule actions.

#[test]
fn allow_rule_action_is_the_allow_variant() {
    let event = event_from("events/full_event.json");
    match event.rule_action.expect("rule_action") {
        types::EventRuleAction::Variant0 {
            type_,
            ruleset_id,
            rule_id,
            request_header_modifications,
            ..
        } => {
            assert_eq!(type_.to_string(), "allow");
            assert_eq!(ruleset_id, "rs_7TQm2fKd");
            assert_eq!(rule_id.as_deref(), Some("r_4hZ8pLwQ"));
            let modifications = request_header_modifications.expect("modifications");
            assert_eq!(modifications.set.map(|s| s.len()), Some(1));
            assert_eq!(modifications.append.map(|a| a.len()), Some(2));
            assert_eq!(
                modifications.remove.as_deref(),
                Some(&["x-debug-session".to_owned(), "x-internal-trace".to_owned()][..])
            );
        }
        other => panic!("an allow rule action became {other:?}"),
    }
}

#[test]
fn block_rule_action_is_the_block_variant() {
    let event = event_from("events/event_rule_action_block.json");
    match event.rule_action.expect("rule_action") {
        types::EventRuleAction::Variant1 {
            type_,
            status_code,
            headers,
            body,
            ruleset_id,
            ..
        } => {
            assert_eq!(type_.to_string(), "block");
            assert_eq!(status_code, Some(403));
            let headers = headers.expect("headers");
            assert_eq!(headers.len(), 2);
            assert_eq!(headers[1].name, "retry-after");
            assert_eq!(headers[1].value, "3600");
            assert_eq!(
                body.as_deref(),
                Some(r#"{"reason":"automated traffic is not allowed here"}"#)
            );
            assert_eq!(ruleset_id, "rs_7TQm2fKd");
        }
        other => panic!("a block rule action became {other:?}"),
    }
}

/// A block-shaped payload must not be read as allow just because allow is
/// tried first (the one-value `type` enums are what tells them apart).
#[test]
fn block_fields_do_not_turn_an_allow_into_a_block() {
    let allow: types::EventRuleAction = serde_json::from_value(json!({
        "type": "allow",
        "ruleset_id": "rs_1",
        "status_code": 403
    }))
    .expect("allow with a stray field");
    assert!(
        matches!(allow, types::EventRuleAction::Variant0 { .. }),
        "{allow:?}"
    );
    let block: types::EventRuleAction =
        serde_json::from_value(json!({"type": "block", "ruleset_id": "rs_1"}))
            .expect("a bare block");
    assert!(
        matches!(block, types::EventRuleAction::Variant1 { .. }),
        "{block:?}"
    );
}

#[test]
fn rule_action_without_type_is_kept_but_not_taken_for_allow_or_block() {
    let action = json!({"ruleset_id": "rs_1"});
    let result = serde_json::from_value::<types::EventRuleAction>(action.clone());
    assert!(
        matches!(&result, Ok(types::EventRuleAction::Unrecognized(kept)) if *kept == action),
        "{result:?}"
    );
}

/// A rule action type the SDK does not know (the server may add one) does
/// not make the whole event unreadable: it is kept, as the JSON sent, in
/// `EventRuleAction::Unrecognized`, and written back unchanged.
#[test]
fn unknown_rule_action_type_does_not_fail_the_event() {
    let action = json!({"type": "captcha", "ruleset_id": "rs_7TQm2fKd", "difficulty": 2});
    let result = serde_json::from_value::<types::Event>(json!({
        "event_id": "1742291700000.Cp1aTc",
        "timestamp": 1742291700000_i64,
        "rule_action": action.clone()
    }));
    let event = result.unwrap_or_else(|e| panic!("the event failed: {e}"));
    match event.rule_action {
        Some(types::EventRuleAction::Unrecognized(kept)) => assert_eq!(kept, action),
        other => panic!("expected the unknown action kept verbatim, got {other:?}"),
    }
}

// Update body.

#[test]
fn event_update_serializes_only_the_fields_set() {
    assert_eq!(
        serde_json::to_value(types::EventUpdate::default()).expect("serializes"),
        json!({})
    );
    let linked_only = types::EventUpdate {
        linked_id: Some("order-5521".into()),
        ..Default::default()
    };
    assert_eq!(
        serde_json::to_value(&linked_only).expect("serializes"),
        json!({"linked_id": "order-5521"})
    );
    let suspect_false = types::EventUpdate {
        suspect: Some(false),
        ..Default::default()
    };
    assert_eq!(
        serde_json::to_string(&suspect_false).expect("serializes"),
        r#"{"suspect":false}"#
    );
    let mut tags = serde_json::Map::new();
    tags.insert("reviewed_by".into(), json!("analyst-7"));
    tags.insert("score".into(), json!(0.25));
    tags.insert("history".into(), json!([{"step": 1, "ok": true}]));
    let everything = types::EventUpdate {
        linked_id: Some("order-5521".into()),
        suspect: Some(true),
        tags: Some(tags),
        ..Default::default()
    };
    assert_eq!(
        serde_json::to_value(&everything).expect("serializes"),
        json!({
            "linked_id": "order-5521",
            "suspect": true,
            "tags": {"reviewed_by": "analyst-7", "score": 0.25, "history": [{"step": 1, "ok": true}]}
        })
    );
}

// Error bodies.

#[test]
fn error_with_unknown_code_keeps_the_code() {
    let body = fixture_bytes("errors/unknown_code.json");
    let response: types::ErrorResponse =
        serde_json::from_slice(&body).expect("an unknown code is still an error body");
    assert_eq!(
        response.error.code,
        types::ErrorCode::Unrecognized("quantum_flux".into())
    );
    assert_eq!(response.error.code.as_str(), "quantum_flux");
    let api = ApiError::from_body(&body).expect("from_body accepts an unknown code");
    assert_eq!(
        api.code,
        types::ErrorCode::Unrecognized("quantum_flux".into())
    );
    assert_eq!(
        api.message,
        "The flux capacitor needs recalibration; try again later."
    );
}

#[test]
fn known_error_code_decodes_to_its_variant() {
    let body = fixture_bytes("errors/event_not_found.json");
    let api = ApiError::from_body(&body).expect("an error body");
    assert_eq!(api.code, types::ErrorCode::EventNotFound);
    assert_eq!(api.message, "No event is stored under this id.");
    assert_round_trips_exactly::<types::ErrorResponse>("errors/event_not_found.json");
}

#[test]
fn bodies_that_are_not_error_shapes_are_not_api_errors() {
    for relative in ["errors/not_matching.json", "errors/html_502.html"] {
        let body = fixture_bytes(relative);
        assert!(
            ApiError::from_body(&body).is_none(),
            "{relative} was taken for an API error"
        );
        assert!(
            serde_json::from_slice::<types::ErrorResponse>(&body).is_err(),
            "{relative} deserialized as ErrorResponse"
        );
    }
    assert!(ApiError::from_body(b"").is_none());
    assert!(ApiError::from_body(br#"{"error":{"code":"failed"}}"#).is_none());
}

// Search pages.

#[test]
fn search_page_has_events_and_a_pagination_key() {
    let page: types::EventSearch =
        serde_json::from_slice(&fixture_bytes("events/search_page.json")).expect("search page");
    assert_eq!(page.events.len(), 3);
    let ids: Vec<&str> = page.events.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "1742300000001.Sa1bCd",
            "1742300000456.Sa2eFg",
            "1742300001789.Sa3hIj"
        ]
    );
    assert_eq!(
        page.pagination_key.as_deref(),
        Some("eyJvZmZzZXQiOiIxNzQyMzAwMDAxNzg5In0")
    );
    assert_eq!(page.total_hits, None);
    assert_eq!(page.events[2].source, Some(types::EventSource::Edge));
}

#[test]
fn last_search_page_has_no_pagination_key() {
    let page: types::EventSearch =
        serde_json::from_slice(&fixture_bytes("events/search_last_page.json"))
            .expect("last search page");
    assert_eq!(page.events.len(), 1);
    assert_eq!(page.pagination_key, None);
    assert_eq!(page.total_hits, Some(4));
}

// Things that are not events.

#[test]
fn non_events_are_rejected() {
    for (what, body) in [
        ("an unrelated object", json!({"invalid": true})),
        ("an empty object", json!({})),
        ("no timestamp", json!({"event_id": "1742291234567.Xk3pQz"})),
        ("no event_id", json!({"timestamp": 1_742_291_234_567_i64})),
        (
            "a timestamp as text",
            json!({"event_id": "e", "timestamp": "1742291234567"}),
        ),
        (
            "an event_id as a number",
            json!({"event_id": 7, "timestamp": 1}),
        ),
        ("an array", json!([{"event_id": "e", "timestamp": 1}])),
        ("null", Value::Null),
    ] {
        let result = serde_json::from_value::<types::Event>(body);
        assert!(
            result.is_err(),
            "{what} was accepted as an Event: {result:?}"
        );
    }
    assert!(
        serde_json::from_value::<types::EventSearch>(json!({"pagination_key": "k"})).is_err(),
        "a search page without events was accepted"
    );
    assert!(
        serde_json::from_value::<types::ErrorResponse>(json!({"invalid": true})).is_err(),
        "an object without error was accepted as ErrorResponse"
    );
}

/// `proximity.precision_radius` lists its values in the document, but a
/// radius the server adds later must not fail the whole event: numeric enums
/// are generated as plain numbers.
#[test]
fn unlisted_precision_radius_does_not_fail_the_event() {
    let result = serde_json::from_value::<types::Event>(json!({
        "event_id": "1742291800000.Pr4dRs",
        "timestamp": 1742291800000_i64,
        "proximity": {"id": "zN4kQ8rTy2", "precision_radius": 50, "confidence": 0.5}
    }));
    let event = result.unwrap_or_else(|e| panic!("the event failed: {e}"));
    assert_eq!(event.proximity.map(|p| p.precision_radius), Some(50));
}

// Known, documented losses: pinned so a change is noticed either way.

/// Optional lists and maps tell empty from absent: `[]` and `{}` read in
/// are written back, and absent ones stay absent. This covers every such
/// field of `Event`, a block action's headers and an update's tags.
#[test]
fn empty_lists_and_maps_round_trip_and_absent_ones_stay_absent() {
    let input = json!({
        "event_id": "1742291900000.El5tYq",
        "timestamp": 1742291900000_i64,
        "ip_info": {"v4": {"address": "192.0.2.10", "geolocation": {"subdivisions": []}}},
        "sdk": {"platform": "js", "version": "3.12.4", "integrations": []},
        "raw_device_attributes": {
            "webgl_extensions": {"unsupported_extensions": []},
            "plugins": [{"name": "PDF Viewer", "mimeTypes": []}]
        },
        "rule_action": {
            "type": "allow",
            "ruleset_id": "rs_1",
            "request_header_modifications": {"set": [], "append": [], "remove": []}
        }
    });
    let event: types::Event = serde_json::from_value(input.clone()).expect("event");
    let output = reserialized(&event);
    let found = differences(&input, &output);
    assert!(
        found.is_empty(),
        "{}",
        found
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );

    let block_input = json!({"type": "block", "ruleset_id": "rs_1", "headers": []});
    let block: types::EventRuleAction = serde_json::from_value(block_input.clone()).expect("block");
    assert_eq!(
        serde_json::to_value(&block).expect("serializes"),
        block_input
    );
    let bare: types::EventRuleAction =
        serde_json::from_value(json!({"type": "block", "ruleset_id": "rs_1"})).expect("block");
    assert_eq!(
        serde_json::to_value(&bare).expect("serializes"),
        json!({"type": "block", "ruleset_id": "rs_1"})
    );

    let clear: types::EventUpdate = serde_json::from_value(json!({"tags": {}})).expect("update");
    assert_eq!(
        serde_json::to_value(&clear).expect("serializes"),
        json!({"tags": {}})
    );
    assert_eq!(
        serde_json::to_value(types::EventUpdate::default()).expect("serializes"),
        json!({})
    );
}

/// `f64` fields write whole numbers with a decimal point: the server's `8`
/// comes back as `8.0`. Same value, different text.
#[test]
fn whole_numbers_in_float_fields_come_back_with_a_decimal_point() {
    let emoji: types::Emoji =
        serde_json::from_value(json!({"left": 8, "width": 12.34})).expect("emoji");
    assert_eq!(emoji.left, Some(8.0));
    assert_eq!(
        serde_json::to_string(&emoji).expect("serializes"),
        r#"{"left":8.0,"width":12.34}"#
    );
}

/// The rule action is read in one pass by its `type`: wherever `type` comes
/// in the object, the variant it names is built; a property of the other
/// variant is kept in `unknown_fields`; a known type without `ruleset_id`
/// is kept whole; everything comes back out as it went in.
#[test]
fn rule_action_is_read_by_its_type_wherever_it_comes() {
    let late_tag = json!({
        "ruleset_id": "rs_1",
        "status_code": 429,
        "body": "slow down",
        "rule_id": "r_2",
        "type": "block"
    });
    let block: types::EventRuleAction = serde_json::from_value(late_tag.clone()).expect("reads");
    match &block {
        types::EventRuleAction::Variant1 {
            status_code,
            body,
            rule_id,
            unknown_fields,
            ..
        } => {
            assert_eq!(
                (*status_code, body.as_deref()),
                (Some(429), Some("slow down"))
            );
            assert_eq!(rule_id.as_deref(), Some("r_2"));
            assert!(unknown_fields.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(serde_json::to_value(&block).expect("writes"), late_tag);

    let allow_with_stray =
        json!({"type": "allow", "ruleset_id": "rs_1", "status_code": 403, "future": [1]});
    let allow: types::EventRuleAction =
        serde_json::from_value(allow_with_stray.clone()).expect("reads");
    match &allow {
        types::EventRuleAction::Variant0 { unknown_fields, .. } => {
            assert_eq!(unknown_fields.get("status_code"), Some(&json!(403)));
            assert_eq!(unknown_fields.get("future"), Some(&json!([1])));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        serde_json::to_value(&allow).expect("writes"),
        allow_with_stray
    );

    let no_ruleset = json!({"type": "block", "status_code": 403, "extra": true});
    let kept: types::EventRuleAction = serde_json::from_value(no_ruleset.clone()).expect("reads");
    assert!(
        matches!(&kept, types::EventRuleAction::Unrecognized(v) if *v == no_ruleset),
        "{kept:?}"
    );

    // A known property of the wrong type is a decode error, as anywhere.
    let wrong = json!({"type": "block", "ruleset_id": "rs_1", "status_code": "403"});
    assert!(serde_json::from_value::<types::EventRuleAction>(wrong).is_err());
    // So is a repeated property.
    let twice = r#"{"type": "allow", "type": "block", "ruleset_id": "rs_1"}"#;
    assert!(serde_json::from_str::<types::EventRuleAction>(twice).is_err());
}
