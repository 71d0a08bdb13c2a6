//! Error responses become `fingerprint_server_sdk::Error` with their status,
//! their decoded code and message, and their body text when it is not JSON.
//! Each answer is served by the fake API as a raw answer.

use std::path::Path;

use fingerprint_server_sdk::mock::{FakeApi, Fault, Operation};
use fingerprint_server_sdk::{Client, Error, RetryPolicy, types};

fn client(fake: &FakeApi) -> Client {
    fake.client_builder()
        .retry(RetryPolicy::disabled())
        .build()
        .expect("client builds")
}

async fn get_event_answered_with(status: u16, content_type: &str, body: &str) -> Error {
    let fake = FakeApi::start().await.expect("the fake starts");
    fake.fail_next_on(
        Operation::GetEvent,
        1,
        Fault::Raw {
            status,
            content_type: content_type.to_owned(),
            body: body.as_bytes().to_vec(),
        },
    );
    client(&fake)
        .get_event()
        .event_id("evt_err")
        .send()
        .await
        .expect_err("an error status must be an error")
}

#[tokio::test]
async fn every_upstream_error_example_maps_to_its_status_and_code() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/upstream/schemas/paths/examples/errors");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("skipped: {} is absent (it is present in CI)", dir.display());
        return;
    };
    let mut checked = 0;
    for entry in entries {
        let path = entry.expect("dir entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let status: u16 = name
            .split('_')
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{name}: file name does not start with a status"));
        let body = std::fs::read_to_string(&path).expect("readable example");
        let expected: serde_json::Value = serde_json::from_str(&body).expect("example is JSON");
        let err = get_event_answered_with(status, "application/json", &body).await;
        assert_eq!(
            err.status().map(|s| s.as_u16()),
            Some(status),
            "{name}: {err:?}"
        );
        let api = err
            .api_error()
            .unwrap_or_else(|| panic!("{name}: not decoded: {err:?}"));
        assert_eq!(api.code.as_str(), expected["error"]["code"], "{name}");
        assert_eq!(api.message, expected["error"]["message"], "{name}");
        assert!(
            !api.code.is_unrecognized(),
            "{name}: code {} should be known",
            api.code
        );
        assert_eq!(err.body(), Some(body.as_str()), "{name}: body kept");
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} error examples found");
}

#[tokio::test]
async fn html_502_from_a_gateway_keeps_status_and_text() {
    let page = "<html><head><title>502 Bad Gateway</title></head>\n<body><center><h1>502 Bad Gateway</h1></center><hr><center>edge-proxy</center></body></html>";
    let err = get_event_answered_with(502, "text/html", page).await;
    assert_eq!(err.status().map(|s| s.as_u16()), Some(502));
    assert!(err.api_error().is_none());
    assert_eq!(err.body(), Some(page));
    let shown = err.to_string();
    assert!(
        shown.contains("502") && shown.contains("Bad Gateway"),
        "{shown}"
    );
}

#[tokio::test]
async fn html_500_on_a_documented_status_keeps_status_and_text() {
    let page = "<h1>Internal error</h1>";
    let err = get_event_answered_with(500, "text/html", page).await;
    assert_eq!(err.status().map(|s| s.as_u16()), Some(500));
    assert_eq!(err.body(), Some(page));
}

#[tokio::test]
async fn empty_503_keeps_status() {
    let err = get_event_answered_with(503, "text/plain", "").await;
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(err.body(), Some(""));
    assert!(err.to_string().contains("empty body"), "{err}");
}

#[tokio::test]
async fn json_error_body_of_another_shape_is_kept_as_text() {
    let body = r#"{"status":"bad","detail":"something else"}"#;
    let err = get_event_answered_with(400, "application/json", body).await;
    assert_eq!(err.status().map(|s| s.as_u16()), Some(400));
    assert!(err.api_error().is_none());
    assert_eq!(err.body(), Some(body));
}

#[tokio::test]
async fn unknown_error_code_is_kept_verbatim() {
    let body = r#"{"error":{"code":"quantum_flux","message":"the flux is out of phase"}}"#;
    let err = get_event_answered_with(409, "application/json", body).await;
    let api = err.api_error().expect("decoded");
    assert_eq!(
        api.code,
        types::ErrorCode::Unrecognized("quantum_flux".into())
    );
    assert_eq!(api.code.as_str(), "quantum_flux");
    assert_eq!(api.message, "the flux is out of phase");
    assert!(err.to_string().contains("quantum_flux"), "{err}");
}

#[tokio::test]
async fn invalid_json_with_200_is_a_decode_error_with_the_body() {
    let err =
        get_event_answered_with(200, "application/json", "{\"event_id\": \"evt_err\", ").await;
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(200));
    assert_eq!(err.body(), Some("{\"event_id\": \"evt_err\", "));
}

#[tokio::test]
async fn a_200_that_is_not_an_event_is_a_decode_error() {
    let err = get_event_answered_with(200, "application/json", r#"{"invalid":true}"#).await;
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");
    assert!(
        err.to_string().contains("event_id"),
        "names the missing field: {err}"
    );
}

#[tokio::test]
async fn wrong_region_error_carries_a_hint() {
    let body = r#"{"error":{"code":"wrong_region","message":"wrong region"}}"#;
    let err = get_event_answered_with(403, "application/json", body).await;
    assert_eq!(err.code(), Some(&types::ErrorCode::WrongRegion));
    assert!(err.hint().is_some());
    assert!(err.to_string().contains("region"), "{err}");
}

#[tokio::test]
async fn not_found_is_easy_to_test_for() {
    let body = r#"{"error":{"code":"event_not_found","message":"event id not found"}}"#;
    let err = get_event_answered_with(404, "application/json", body).await;
    assert!(err.is_not_found());
    assert_eq!(err.attempts(), 1);
}
