//! Tests of the `webhook` module: the project's own fixtures (own event, own secret, a signature
//! computed independently of this SDK) cover every behaviour; the shared known-answer vectors of
//! the other Fingerprint SDKs are read in place when present, and skipped with a message
//! otherwise. The last tests drive `examples/webhook_receiver.rs` over loopback.
#![cfg(feature = "webhook")]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use fingerprint_server_sdk::webhook::{
    self, MalformedReason, SIGNATURE_HEADER, WebhookError, WebhookSecrets,
};
use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use serde_json::Value;

#[path = "common/fixtures.rs"]
mod fixtures;
#[allow(dead_code)]
#[path = "../examples/webhook_receiver.rs"]
mod receiver;

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/webhook")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
}

/// The project's own webhook: body, secret, and its `v1` signature computed with Python's
/// `hmac` module when the fixture was made (an answer that does not come from this SDK).
struct OwnWebhook {
    body: Vec<u8>,
    secret: Vec<u8>,
    header: String,
}

fn own() -> OwnWebhook {
    OwnWebhook {
        body: fixture("event.json"),
        secret: fixture("secret.txt"),
        header: String::from_utf8(fixture("event.json.signature"))
            .unwrap()
            .trim()
            .to_owned(),
    }
}

fn hash_of(header: &str) -> &str {
    header.strip_prefix("v1=").expect("v1 header")
}

// ---------------------------------------------------------------------------------------------
// Signing and verifying with the project's own fixtures.

#[test]
fn header_name_is_the_documented_one() {
    assert_eq!(SIGNATURE_HEADER, "fpjs-event-signature");
}

#[test]
fn sign_matches_an_independently_computed_signature() {
    let own = own();
    assert_eq!(webhook::sign(&own.body, &own.secret), own.header);
    assert_eq!(own.header.len(), 3 + 64);
    assert!(
        hash_of(&own.header)
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
}

#[test]
fn own_signed_event_verifies_and_parses() {
    let own = own();
    webhook::verify(&own.header, &own.body, &own.secret).unwrap();
    let event = webhook::parse_event(&own.header, &own.body, &own.secret).unwrap();
    let got = serde_json::to_value(&event).unwrap();
    let expected: Value = serde_json::from_slice(&own.body).unwrap();
    let mut diffs = Vec::new();
    fixtures::loose_differences(&got, &expected, "", &mut diffs);
    assert!(diffs.is_empty(), "{diffs:#?}");
}

#[test]
fn any_matching_v1_entry_passes() {
    let own = own();
    let good = hash_of(&own.header);
    let stale = hash_of(&webhook::sign(&own.body, b"the previous secret")).to_owned();
    for header in [
        format!("v1={stale},v1={good}"),
        format!("v1={good},v1={stale}"),
        format!("v2=whatever,v1={good}"),
        format!(" v1 = {good} , v9=abc "),
        format!("v1={}", good.to_uppercase()),
        format!("v1={good},"),
        format!("junk,v1={good}"),
    ] {
        assert!(
            webhook::verify(&header, &own.body, &own.secret).is_ok(),
            "{header}"
        );
    }
}

#[test]
fn tampered_body_or_wrong_secret_is_a_mismatch() {
    let own = own();
    let mut body = own.body.clone();
    body[10] ^= 0x20;
    let err = webhook::verify(&own.header, &body, &own.secret).unwrap_err();
    assert!(matches!(err, WebhookError::SignatureMismatch), "{err:?}");
    let mut longer = own.body.clone();
    longer.push(b' ');
    assert!(matches!(
        webhook::verify(&own.header, &longer, &own.secret),
        Err(WebhookError::SignatureMismatch)
    ));
    assert!(matches!(
        webhook::verify(&own.header, &own.body, b"another secret"),
        Err(WebhookError::SignatureMismatch)
    ));
    // Several entries, none matching.
    let other = webhook::sign(&own.body, b"x");
    let err = webhook::verify(&format!("{other},{other}"), &own.body, &own.secret).unwrap_err();
    assert!(matches!(err, WebhookError::SignatureMismatch), "{err:?}");
    // A mismatching well-formed v1 wins over a malformed entry in the report.
    let err = webhook::verify(&format!("junk,{other}"), &own.body, &own.secret).unwrap_err();
    assert!(matches!(err, WebhookError::SignatureMismatch), "{err:?}");
}

#[test]
fn empty_inputs_have_their_own_errors() {
    let own = own();
    for header in ["", "   "] {
        assert!(matches!(
            webhook::verify(header, &own.body, &own.secret),
            Err(WebhookError::EmptyHeader)
        ));
    }
    assert!(matches!(
        webhook::verify(&own.header, &own.body, b""),
        Err(WebhookError::EmptySecret)
    ));
    assert!(matches!(
        webhook::verify(&own.header, b"", &own.secret),
        Err(WebhookError::EmptyBody)
    ));
    // Signing an empty body works, but verifying it never does.
    let header = webhook::sign(b"", &own.secret);
    assert!(matches!(
        webhook::verify(&header, b"", &own.secret),
        Err(WebhookError::EmptyBody)
    ));
}

#[test]
fn malformed_headers_are_reported_as_such() {
    let own = own();
    let good = hash_of(&own.header);
    let cases = [
        ("invalid", MalformedReason::MissingEquals),
        ("=abc", MalformedReason::EmptyVersion),
        ("v1=", MalformedReason::WrongLength),
        ("v1=abcd", MalformedReason::WrongLength),
        ("v1=zz", MalformedReason::NotHex),
        ("v1=0x12", MalformedReason::NotHex),
    ];
    for (header, reason) in cases {
        let err = webhook::verify(header, &own.body, &own.secret).unwrap_err();
        assert!(
            matches!(err, WebhookError::MalformedHeader { reason: got } if got == reason),
            "{header}: {err:?}"
        );
        assert!(err.to_string().contains(&reason.to_string()), "{err}");
    }
    // Only empty entries: nothing malformed, but nothing to check either.
    assert!(matches!(
        webhook::verify(",,", &own.body, &own.secret),
        Err(WebhookError::NoV1Signature)
    ));
    // The hash with one digit more or less.
    for header in [format!("v1={good}0"), format!("v1={}", &good[1..])] {
        let err = webhook::verify(&header, &own.body, &own.secret).unwrap_err();
        assert!(
            matches!(
                err,
                WebhookError::MalformedHeader {
                    reason: MalformedReason::WrongLength
                }
            ),
            "{err:?}"
        );
    }
}

#[test]
fn only_unknown_versions_is_no_v1_signature() {
    let own = own();
    let good = hash_of(&own.header);
    for header in [
        format!("v2={good}"),
        "v0=1,v3=2".to_owned(),
        format!("V1={good}"),
    ] {
        let err = webhook::verify(&header, &own.body, &own.secret).unwrap_err();
        assert!(
            matches!(err, WebhookError::NoV1Signature),
            "{header}: {err:?}"
        );
    }
}

#[test]
fn messages_are_clear_and_never_contain_the_secret() {
    let own = own();
    let secret_text = String::from_utf8(own.secret.clone()).unwrap();
    let errors = [
        webhook::verify("", &own.body, &own.secret).unwrap_err(),
        webhook::verify(&own.header, &own.body, b"").unwrap_err(),
        webhook::verify(&own.header, b"", &own.secret).unwrap_err(),
        webhook::verify("nope", &own.body, &own.secret).unwrap_err(),
        webhook::verify("v2=1", &own.body, &own.secret).unwrap_err(),
        webhook::verify(&own.header, b"x", &own.secret).unwrap_err(),
        webhook::parse_event(&webhook::sign(b"{}", &own.secret), b"{}", &own.secret).unwrap_err(),
    ];
    let mut seen = std::collections::HashSet::new();
    for err in &errors {
        let message = err.to_string();
        assert!(!message.contains(&secret_text), "{message}");
        assert!(!message.contains(hash_of(&own.header)), "{message}");
        assert!(message.len() > 20, "{message}");
        assert!(seen.insert(message.clone()), "duplicate message {message}");
    }
}

#[test]
fn signed_body_that_is_not_an_event_keeps_the_serde_error() {
    let own = own();
    for body in [
        &br#"{"invalid":true}"#[..],
        br#"{"event_id":"1.a"}"#,
        b"not json",
        br#"{"event_id":"1.a","timestamp":"yesterday"}"#,
    ] {
        let header = webhook::sign(body, &own.secret);
        webhook::verify(&header, body, &own.secret).unwrap();
        let err = webhook::parse_event(&header, body, &own.secret).unwrap_err();
        let WebhookError::InvalidEvent(source) = &err else {
            panic!("{err:?}");
        };
        assert!(err.to_string().contains(&source.to_string()));
        assert!(std::error::Error::source(&err).is_some());
    }
    // The signature is checked before the body is read.
    let err = webhook::parse_event("v1=00", b"not json", &own.secret).unwrap_err();
    assert!(
        matches!(err, WebhookError::MalformedHeader { .. }),
        "{err:?}"
    );
}

#[test]
fn unknown_fields_from_a_newer_api_are_accepted() {
    let own = own();
    let mut event: Value = serde_json::from_slice(&own.body).unwrap();
    event["brand_new_signal"] = serde_json::json!({"result": true});
    event["sdk"]["new_detail"] = Value::from(3);
    event["sdk"]["platform"] = Value::from("quantum_toaster");
    let body = serde_json::to_vec(&event).unwrap();
    let header = webhook::sign(&body, &own.secret);
    let parsed = webhook::parse_event(&header, &body, &own.secret).unwrap();
    let parsed = serde_json::to_value(&parsed).unwrap();
    assert_eq!(parsed["event_id"], event["event_id"]);
    assert_eq!(parsed["sdk"]["platform"], "quantum_toaster");
}

// ---------------------------------------------------------------------------------------------
// Several secrets, and whole requests from an `http::HeaderMap`.

fn headers_with(values: &[&[u8]]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for value in values {
        headers.append(SIGNATURE_HEADER, HeaderValue::from_bytes(value).unwrap());
    }
    headers
}

#[test]
fn any_secret_of_a_set_verifies_and_the_order_does_not_matter() {
    let own = own();
    let old_first = WebhookSecrets::new(&own.secret).with("replacement-secret");
    let new_first = WebhookSecrets::new("replacement-secret").with(&own.secret);
    for secrets in [&old_first, &new_first] {
        assert!(secrets.verify(&own.header, &own.body).is_ok());
        let event = secrets.parse_event(&own.header, &own.body).unwrap();
        assert!(!event.event_id.is_empty());
    }
    let others: WebhookSecrets = ["one", "two"].into_iter().collect();
    assert_eq!(others.len(), 2);
    assert!(matches!(
        others.verify(&own.header, &own.body),
        Err(WebhookError::SignatureMismatch)
    ));
}

#[test]
fn a_set_of_only_empty_secrets_is_empty_secret_but_an_empty_one_among_others_is_skipped() {
    let own = own();
    let none = WebhookSecrets::from_iter(Vec::<Vec<u8>>::new());
    assert!(none.is_empty());
    assert!(matches!(
        none.verify(&own.header, &own.body),
        Err(WebhookError::EmptySecret)
    ));
    let blank = WebhookSecrets::new("").with(b"");
    assert!(matches!(
        blank.verify(&own.header, &own.body),
        Err(WebhookError::EmptySecret)
    ));
    let mixed = WebhookSecrets::new("").with(&own.secret);
    assert!(mixed.verify(&own.header, &own.body).is_ok());
    // The header is still checked first, and an empty body still has its own error.
    assert!(matches!(
        blank.verify(" ", &own.body),
        Err(WebhookError::EmptyHeader)
    ));
    assert!(matches!(
        mixed.verify(&own.header, b""),
        Err(WebhookError::EmptyBody)
    ));
}

#[test]
fn debug_of_a_secret_set_shows_the_count_only() {
    let own = own();
    let secrets = WebhookSecrets::new(&own.secret).with("second-secret-9b1d");
    let debug = format!("{secrets:?} {secrets:#?}");
    assert!(debug.contains("count: 2"), "{debug}");
    assert!(!debug.contains("second-secret"), "{debug}");
    assert!(
        !debug.contains(std::str::from_utf8(&own.secret).unwrap()),
        "{debug}"
    );
}

#[test]
fn parse_event_request_reads_the_header_from_a_header_map() {
    let own = own();
    let secrets = WebhookSecrets::new(&own.secret);
    let headers = headers_with(&[own.header.as_bytes()]);
    let event = webhook::parse_event_request(&headers, &own.body, &secrets).unwrap();
    let expected: Value = serde_json::from_slice(&own.body).unwrap();
    assert_eq!(event.event_id, expected["event_id"].as_str().unwrap());

    // Header names are case-insensitive: a map built from "FPJS-Event-Signature" works too.
    let mut shouting = HeaderMap::new();
    shouting.insert(
        http::HeaderName::from_bytes(b"FPJS-Event-Signature").unwrap(),
        HeaderValue::from_str(&own.header).unwrap(),
    );
    assert!(webhook::verify_request(&shouting, &own.body, &secrets).is_ok());
}

#[test]
fn a_header_sent_several_times_is_one_list() {
    let own = own();
    let secrets = WebhookSecrets::new(&own.secret);
    let wrong = webhook::sign(&own.body, b"wrong");
    let headers = headers_with(&[wrong.as_bytes(), own.header.as_bytes()]);
    assert!(webhook::verify_request(&headers, &own.body, &secrets).is_ok());
    // A value that is not text does not hide a matching one...
    let headers = headers_with(&[b"v1=\xff\xfe", own.header.as_bytes()]);
    assert!(webhook::verify_request(&headers, &own.body, &secrets).is_ok());
    // ...and on its own is a malformed header.
    for headers in [
        headers_with(&[b"v1=\xff"]),
        headers_with(&[b"v1=\xff", b"\xfe"]),
    ] {
        let err = webhook::verify_request(&headers, &own.body, &secrets).unwrap_err();
        assert!(
            matches!(
                err,
                WebhookError::MalformedHeader {
                    reason: MalformedReason::NotText
                }
            ),
            "{err:?}"
        );
        assert_eq!(err.status(), http::StatusCode::UNAUTHORIZED);
    }
}

#[test]
fn request_errors_map_to_the_status_a_webhook_endpoint_should_answer() {
    let own = own();
    let secrets = WebhookSecrets::new(&own.secret);
    let status = |headers: &HeaderMap, body: &[u8], secrets: &WebhookSecrets| {
        webhook::parse_event_request(headers, body, secrets)
            .unwrap_err()
            .status()
            .as_u16()
    };
    let signed = headers_with(&[own.header.as_bytes()]);
    assert_eq!(status(&HeaderMap::new(), &own.body, &secrets), 401);
    assert_eq!(status(&headers_with(&[b""]), &own.body, &secrets), 401);
    assert_eq!(status(&signed, b"{}", &secrets), 401);
    assert_eq!(
        status(&signed, &own.body, &WebhookSecrets::new("other")),
        401
    );
    assert_eq!(status(&signed, &own.body, &WebhookSecrets::new("")), 500);
    let junk = br#"["not", "an", "event"]"#;
    let junk_signed = headers_with(&[webhook::sign(junk, &own.secret).as_bytes()]);
    assert_eq!(status(&junk_signed, junk, &secrets), 400);
}

// ---------------------------------------------------------------------------------------------
// Never panic on arbitrary input.

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_headers_and_bodies_never_panic(
        header in ".{0,160}",
        body in proptest::collection::vec(any::<u8>(), 0..200),
        secret in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let _ = webhook::verify(&header, &body, &secret);
        let _ = webhook::parse_event(&header, &body, &secret);
    }

    #[test]
    fn header_like_strings_never_panic(
        entries in proptest::collection::vec("(v1|v2|V1|)=?[0-9a-fA-Fg-z ]{0,70}", 0..5),
        body in proptest::collection::vec(any::<u8>(), 1..100),
    ) {
        let header = entries.join(",");
        let result = webhook::verify(&header, &body, b"k");
        prop_assert!(result.is_err() || header.contains(hash_of(&webhook::sign(&body, b"k"))));
    }

    #[test]
    fn sign_then_verify_round_trips_and_any_change_fails(
        body in proptest::collection::vec(any::<u8>(), 1..300),
        secret in proptest::collection::vec(any::<u8>(), 1..64),
        flip in any::<prop::sample::Index>(),
    ) {
        let header = webhook::sign(&body, &secret);
        prop_assert!(webhook::verify(&header, &body, &secret).is_ok());
        let mut changed = body.clone();
        let i = flip.index(changed.len());
        changed[i] ^= 1;
        let mismatch = matches!(
            webhook::verify(&header, &changed, &secret),
            Err(WebhookError::SignatureMismatch)
        );
        prop_assert!(mismatch);
    }
}

// ---------------------------------------------------------------------------------------------
// Shared known-answer vectors, read in place.

fn vectors_file() -> Option<PathBuf> {
    let path = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/vectors/webhook/v1_secret_data.json"
    ));
    if path.is_file() {
        Some(path.to_path_buf())
    } else {
        eprintln!(
            "skipped: webhook vectors not found at {} (they live beside the repository)",
            path.display()
        );
        None
    }
}

#[test]
fn shared_vectors_agree() {
    let Some(path) = vectors_file() else { return };
    let vectors: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    assert_eq!(vectors["header_name"], SIGNATURE_HEADER);
    let text = |v: &Value| v.as_str().expect("string").to_owned();
    let (secret, body, header) = (
        text(&vectors["secret_utf8"]),
        text(&vectors["body_utf8"]),
        text(&vectors["header_value"]),
    );
    assert_eq!(webhook::sign(body.as_bytes(), secret.as_bytes()), header);
    assert!(webhook::verify(&header, body.as_bytes(), secret.as_bytes()).is_ok());

    let cases = vectors["negative_cases_from_tests"].as_array().unwrap();
    for case in cases {
        assert_eq!(case["expected_valid"], false);
        let (h, s, b) = (
            text(&case["header"]),
            text(&case["secret"]),
            text(&case["body"]),
        );
        let err = webhook::verify(&h, b.as_bytes(), s.as_bytes()).unwrap_err();
        let expected_kind = if h.is_empty() {
            matches!(err, WebhookError::EmptyHeader)
        } else if s.is_empty() {
            matches!(err, WebhookError::EmptySecret)
        } else if b.is_empty() {
            matches!(err, WebhookError::EmptyBody)
        } else if !h.contains('=') {
            matches!(err, WebhookError::MalformedHeader { .. })
        } else {
            matches!(err, WebhookError::NoV1Signature)
        };
        assert!(expected_kind, "{case}: {err:?}");
    }
    eprintln!(
        "checked 1 valid and {} negative webhook vectors",
        cases.len()
    );
}

// ---------------------------------------------------------------------------------------------
// The example receiver, over loopback.

/// Starts the example's server on a free loopback port and returns its URL.
async fn start_receiver(secret: &[u8]) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(receiver::serve(listener, Arc::from(secret)));
    format!("http://{addr}/")
}

#[tokio::test]
async fn example_receiver_accepts_signed_and_refuses_tampered_requests() {
    let run = async {
        let own = own();
        let url = start_receiver(&own.secret).await;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let post = |body: Vec<u8>, header: Option<String>| {
            let mut request = client.post(&url).body(body);
            if let Some(header) = header {
                request = request.header(SIGNATURE_HEADER, header);
            }
            async move {
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                (status, response.text().await.unwrap())
            }
        };

        // Signed: accepted, and the event was read.
        let (status, text) = post(own.body.clone(), Some(own.header.clone())).await;
        assert_eq!(status, 200, "{text}");
        assert!(text.contains("1763901234567.mP3vXe"), "{text}");

        // Same header, one byte of the body changed.
        let mut tampered = own.body.clone();
        tampered[20] ^= 0x01;
        let (status, text) = post(tampered, Some(own.header.clone())).await;
        assert_eq!(status, 401, "{text}");
        assert!(text.contains("does not match"), "{text}");

        // No signature at all.
        let (status, _) = post(own.body.clone(), None).await;
        assert_eq!(status, 401);

        // Signed, but not an event.
        let body = br#"{"hello":"world"}"#.to_vec();
        let header = webhook::sign(&body, &own.secret);
        let (status, _) = post(body, Some(header)).await;
        assert_eq!(status, 400);

        // Too large.
        let body = vec![b' '; receiver::MAX_BODY_BYTES + 1];
        let header = webhook::sign(&body, &own.secret);
        let (status, _) = post(body, Some(header)).await;
        assert_eq!(status, 413);

        // Wrong method.
        let status = client.get(&url).send().await.unwrap().status().as_u16();
        assert_eq!(status, 405);
    };
    tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("receiver test took too long");
}
