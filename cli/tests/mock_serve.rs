//! `fingerprint mock serve` with a seed file, rulesets, queued faults and a
//! delay, run as a child process until interrupted and called through the
//! SDK's client and the binary; the flags and files it refuses.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use fingerprint_server_sdk::mock;
use fingerprint_server_sdk::types::ErrorCode;
use fingerprint_server_sdk::{Client, ClientBuilder, Error, RetryPolicy};
use serde_json::{Value, json};

mod common;
use common::{Running, assert_one_error_line, command, expected_ids, ids, path_str, run, scratch};

const KEY: &str = "serve-test-key";

/// A running `mock serve` (killed when dropped) and its banner.
struct Served {
    running: Running,
    url: String,
    banner: String,
}

/// Starts `mock serve` with a seed file of `events` and `extra` arguments,
/// and reads its banner up to the `try:` line.
fn serve(dir: &Path, events: &[Value], extra: &[&str]) -> Served {
    let seed = write_seed(dir, events);
    let mut args = vec![
        "mock",
        "serve",
        "--port",
        "0",
        "--key",
        KEY,
        "--seed",
        path_str(&seed),
    ];
    args.extend_from_slice(extra);
    let running = Running::start(command(), &args);
    let mut banner = String::new();
    loop {
        let line = running.line();
        banner.push_str(&line);
        banner.push('\n');
        if line.starts_with("try:") {
            break;
        }
    }
    let url = banner
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().last())
        .unwrap_or_default()
        .to_owned();
    assert!(url.ends_with("/v4"), "no URL announced: {banner}");
    Served {
        running,
        url,
        banner,
    }
}

/// Writes `events` to `seed.jsonl` in `dir`, one a line.
fn write_seed(dir: &Path, events: &[Value]) -> PathBuf {
    let seed = dir.join("seed.jsonl");
    let text: String = events.iter().map(|e| format!("{e}\n")).collect();
    std::fs::write(&seed, text).unwrap_or_else(|e| panic!("{e}"));
    seed
}

fn event(id: &str, bot: &str) -> Value {
    json!({
        "event_id": id,
        "timestamp": mock::now_ms() - 60_000,
        "identification": {"visitor_id": "vis_serve", "visitor_found": true},
        "bot": bot
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A client of the served fake without retries; callers add settings,
/// then build it.
fn client_builder(url: &str) -> ClientBuilder {
    Client::builder(KEY)
        .base_url(url)
        .retry(RetryPolicy::disabled())
}

#[test]
fn a_ruleset_file_gives_events_their_rule_action() {
    let dir = scratch("ruleset");
    let rules = dir.join("rules.json");
    std::fs::write(
        &rules,
        json!({"id": "rs_demo", "rules": [
            {"id": "r_bots", "when": "bot=bad",
             "action": {"type": "block", "status_code": 403, "body": "no bots"}}
        ]})
        .to_string(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let served = serve(
        &dir,
        &[event("evt_bad", "bad"), event("evt_ok", "not_detected")],
        &["--ruleset", path_str(&rules)],
    );
    assert!(
        served.banner.contains("rulesets: rs_demo"),
        "{}",
        served.banner
    );

    let get = |id: &str, ruleset: &str| {
        run(&[
            "--base-url",
            &served.url,
            "--api-key",
            KEY,
            "events",
            "get",
            id,
            "--ruleset",
            ruleset,
            "--compact",
        ])
    };
    let out = get("evt_bad", "rs_demo");
    assert_eq!(out.code, 0, "{out:?}");
    let shown: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    assert_eq!(
        shown["rule_action"],
        json!({"type": "block", "status_code": 403, "body": "no bots",
               "ruleset_id": "rs_demo", "rule_id": "r_bots", "rule_expression": "bot=bad"})
    );
    let out = get("evt_ok", "rs_demo");
    let shown: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    assert_eq!(
        shown["rule_action"],
        json!({"type": "allow", "ruleset_id": "rs_demo"})
    );

    let out = get("evt_ok", "rs_unknown");
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("ruleset_not_found"), "{out:?}");
}

#[test]
fn queued_faults_are_served_in_order_per_operation() {
    let dir = scratch("faults");
    let served = serve(
        &dir,
        &[event("evt_1", "not_detected")],
        &[
            "--fail-next",
            "search:1:html=502",
            "--fail-next",
            "1:close",
            "--fail-next",
            "update:1:409",
            "--fail-next",
            "get:1:retry-after=7",
            "--fail-next",
            "delete:1:reset",
        ],
    );
    assert!(
        served.banner.contains("faults queued: 5"),
        "{}",
        served.banner
    );
    let client = client_builder(&served.url)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    runtime().block_on(async {
        // A get skips the search's fault and takes the first untargeted one.
        let err = client
            .get_event()
            .event_id("evt_1")
            .send()
            .await
            .expect_err("closed");
        assert!(matches!(err, Error::Transport { .. }), "{err:?}");
        assert_eq!(err.status(), None);

        let err = client.search_events().send().await.expect_err("502");
        assert_eq!(err.status().map(|s| s.as_u16()), Some(502));
        assert!(err.body().unwrap_or_default().contains("<html>"), "{err:?}");

        let err = client
            .update_event()
            .event_id("evt_1")
            .body(fingerprint_server_sdk::types::EventUpdate::default())
            .send()
            .await
            .expect_err("409");
        assert_eq!(err.code(), Some(&ErrorCode::StateNotReady));

        let err = client
            .get_event()
            .event_id("evt_1")
            .send()
            .await
            .expect_err("429");
        assert_eq!(err.code(), Some(&ErrorCode::TooManyRequests));
        assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));

        let err = client
            .delete_visitor_data()
            .visitor_id("vis_unknown")
            .send()
            .await
            .expect_err("reset");
        assert!(matches!(err, Error::Transport { .. }), "{err:?}");
        assert_eq!(err.status(), None);

        // All used up.
        client
            .get_event()
            .event_id("evt_1")
            .send()
            .await
            .expect("served normally");
    });
}

#[test]
fn a_cut_body_and_a_delay_reach_the_client() {
    let dir = scratch("cut");
    let served = serve(
        &dir,
        &[event("evt_1", "not_detected")],
        &["--fail-next", "get:1:cut=5", "--delay", "300ms"],
    );
    assert!(
        served.banner.contains("every answer delayed by 300ms"),
        "{}",
        served.banner
    );
    let patient = client_builder(&served.url)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let hasty = client_builder(&served.url)
        .attempt_timeout(Duration::from_millis(50))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    runtime().block_on(async {
        let err = patient
            .get_event()
            .event_id("evt_1")
            .send()
            .await
            .expect_err("cut short");
        assert!(matches!(err, Error::Transport { .. }), "{err:?}");
        assert!(!err.is_timeout(), "{err:?}");

        let err = hasty
            .get_event()
            .event_id("evt_1")
            .send()
            .await
            .expect_err("too slow");
        assert!(err.is_timeout(), "{err:?}");

        patient
            .get_event()
            .event_id("evt_1")
            .send()
            .await
            .expect("late but whole");
    });
}

#[test]
fn mock_serve_runs_until_interrupted() {
    let dir = scratch("serve");
    let now = mock::now_ms();
    let events: Vec<Value> = (0..3)
        .map(|i| common::event(i, now - 1000 * i as i64, "seeded"))
        .collect();
    let served = serve(&dir, &events, &[]);
    assert!(
        served.url.starts_with("http://127.0.0.1:") && served.url.ends_with("/v4"),
        "{}",
        served.banner
    );
    assert!(
        served.banner.contains(&format!("secret API key: {KEY}")),
        "{}",
        served.banner
    );

    let out = run(&[
        "--base-url",
        &served.url,
        "--api-key",
        KEY,
        "events",
        "search",
        "--format",
        "jsonl",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(ids(&out.stdout), expected_ids(0..3));

    let interrupted = Command::new("kill")
        .args(["-INT", &served.running.id().to_string()])
        .status()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(interrupted.success());
    let out = served.running.finish(Duration::from_secs(10));
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains("stopped (1 requests served)"),
        "{out:?}"
    );
}

#[test]
fn bad_flags_are_refused_before_anything_listens() {
    let dir = scratch("bad");
    let seed = write_seed(&dir, &[event("evt_1", "bad")]);
    let seed = path_str(&seed);
    let missing_seed = dir.join("missing.jsonl");
    // A line that is not an event: nothing is served, and the line is named.
    let bad_seed = dir.join("bad.jsonl");
    let text = format!(
        "{}\n\n{{\"event_id\":\"no-time\"}}\n",
        common::event(0, mock::now_ms(), "seeded")
    );
    std::fs::write(&bad_seed, text).unwrap_or_else(|e| panic!("{e}"));
    let not_json = dir.join("not.json");
    std::fs::write(&not_json, "{ nope").unwrap_or_else(|e| panic!("{e}"));
    let bad_rule = dir.join("bad_rule.json");
    std::fs::write(
        &bad_rule,
        json!({"id": "rs", "rules": [{"when": "vpn=maybe", "action": {"type": "allow"}}]})
            .to_string(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let missing = dir.join("missing.json");
    for (args, code, needle) in [
        (
            vec!["--seed", seed, "--fail-next", "1:teapot"],
            2,
            "--fail-next 1:teapot",
        ),
        (
            vec!["--seed", seed, "--fail-next", "0:503"],
            2,
            "number of requests",
        ),
        (
            vec!["--seed", seed, "--fail-next", "fetch:1:503"],
            2,
            "unknown operation",
        ),
        (vec!["--seed", seed, "--delay", "soon"], 2, "soon"),
        (
            vec!["--seed", seed, "--ruleset", path_str(&missing)],
            2,
            "missing.json",
        ),
        (
            vec!["--seed", seed, "--ruleset", path_str(&not_json)],
            1,
            "not JSON",
        ),
        (
            vec!["--seed", seed, "--ruleset", path_str(&bad_rule)],
            1,
            "vpn",
        ),
        (vec!["--seed", path_str(&missing_seed)], 2, "missing.jsonl"),
        (vec!["--seed", path_str(&bad_seed)], 1, "bad.jsonl:3: "),
    ] {
        let mut all = vec!["mock", "serve", "--port", "0"];
        all.extend_from_slice(&args);
        // Refused before anything listens; a limit in case it is not.
        let out = Running::start(command(), &all).finish(Duration::from_secs(10));
        assert_eq!(out.code, code, "{args:?}: {out:?}");
        assert!(out.stderr.contains(needle), "{args:?}: {out:?}");
        assert!(out.stdout.is_empty(), "no URL announced: {out:?}");
        // A file read but not taken is named on one line, without clap's usage.
        if code == 1 {
            assert_one_error_line(&out);
        }
    }
}
