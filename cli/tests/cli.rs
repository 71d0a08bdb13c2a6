//! Every command of the `fingerprint` binary (`mock serve` has its own file),
//! run as a child process against
//! the SDK's fake API (started here, in the test process) or `--demo`,
//! checking stdout, stderr and the exit code.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use fingerprint_server_sdk::mock::{self, Fault};
use fingerprint_server_sdk::sealed::{self, DecryptionKey};
use fingerprint_server_sdk::webhook;
use serde_json::{Value, json};

mod common;
use common::{
    Api, BIN, Output, Running, SECRET_KEY, assert_one_error_line, command, event, expected_ids,
    finish, ids, json, lines, path_str, run, run_in, scratch,
};

fn run_with_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = command()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input).unwrap_or_else(|e| panic!("{e}"));
    }
    finish(child.wait_with_output().unwrap_or_else(|e| panic!("{e}")))
}

// ---------------------------------------------------------------- help

#[test]
fn help_says_what_each_command_does_in_one_line() {
    let out = run(&["--help"]);
    assert_eq!(out.code, 0, "{out:?}");
    for (name, about) in [
        (
            "events",
            "Get, search, follow, export and update identification events",
        ),
        (
            "visitors",
            "Delete the data of a visitor, or of a list of visitors within the quota",
        ),
        (
            "webhook",
            "Verify or sign webhook bodies, or forward new events to a local webhook endpoint",
        ),
        ("unseal", "Decrypt a sealed client result"),
        ("mock", "Run the fake Server API as a local server"),
        ("completions", "Print a shell completion script"),
        ("manpage", "Print the manual page"),
    ] {
        assert!(
            out.stdout
                .lines()
                .any(|l| l.trim_start().starts_with(name) && l.contains(about)),
            "{name}: {}",
            out.stdout
        );
    }
    assert!(
        out.stdout
            .contains("Exit codes: 0 ok, 1 invalid or not found, 2 usage")
    );
    assert!(
        out.stdout.contains("5 output not written"),
        "{}",
        out.stdout
    );

    for (command, first_line) in [
        (&["events", "get"][..], "Print one event as JSON"),
        (
            &["events", "search"],
            "Search events with the API's filters",
        ),
        (
            &["events", "export"],
            "Export every matching event to a JSON lines file",
        ),
        (
            &["events", "update"],
            "Set an event's linked id, tags or suspect flag",
        ),
        (
            &["events", "tail"],
            "Print new events as they happen, until Ctrl-C or --max-events",
        ),
        (
            &["visitors", "delete"],
            "Delete everything stored about a visitor, or about every visitor in a list",
        ),
        (
            &["webhook", "listen"],
            "Forward new events to a local webhook endpoint",
        ),
        (&["completions"], "Print a shell completion script"),
        (&["manpage"], "Print the manual page"),
        (
            &["webhook", "verify"],
            "Check a webhook body against its signature header",
        ),
        (
            &["webhook", "sign"],
            "Print the signature header Fingerprint would send",
        ),
        (&["unseal"], "Decrypt a sealed client result"),
        (
            &["mock", "serve"],
            "Serve the fake API on 127.0.0.1 until Ctrl-C",
        ),
    ] {
        let mut args = command.to_vec();
        args.push("--help");
        let out = run(&args);
        assert_eq!(out.code, 0, "{out:?}");
        let first = out.stdout.lines().next().unwrap_or_default();
        assert!(first.starts_with(first_line), "{command:?}: {first}");
        assert!(out.stderr.is_empty());
    }
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["events", "search", "--nope"][..],
        &["events", "search", "--limit", "0"],
        &["events", "search", "--start", "yesterday"],
        &["events", "search", "--start", "1717243200"],
        &["events", "search", "--region", "mars"],
        &["events", "get"],
        &["events", "update", "x", "--tag", "novalue"],
        &["--timeout", "5y", "events", "get", "x"],
        &["unseal"],
    ] {
        let out = run(args);
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    // Refused before anything is sent: no key.
    let out = run(&["events", "get", "x"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("no secret API key"), "{out:?}");
    assert!(out.stderr.contains("--demo"), "{out:?}");
    assert_one_error_line(&out);
    // Seconds where milliseconds are expected get a pointed message.
    let out = run(&["--demo", "events", "search", "--start", "1717243200"]);
    assert!(out.stderr.contains("Unix seconds"), "{out:?}");
}

// ---------------------------------------------------------------- --demo

#[test]
fn demo_works_without_key_or_network() {
    let out = run(&[
        "--demo", "events", "search", "--limit", "5", "--format", "jsonl",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let found = ids(&out.stdout);
    assert_eq!(found.len(), 5);
    assert!(out.stderr.contains("--pagination-key"), "{out:?}");

    // The demo's ids hold from one run to the next, so an id found by one
    // command can be used by the next.
    let out = run(&["--demo", "events", "get", &found[2]]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(json(&out.stdout)["event_id"], found[2].as_str());

    let out = run(&["--demo", "events", "search", "--all", "--format", "jsonl"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(lines(&out.stdout).len(), 300);

    let out = run(&["--demo", "events", "update", &found[0], "--suspect", "true"]);
    assert_eq!(out.code, 0, "{out:?}");
    let out = run(&["--demo", "visitors", "delete", "demoVisitor03", "--yes"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr
            .contains("deleted the data of visitor demoVisitor03")
    );
}

// ---------------------------------------------------------------- events get

#[test]
fn get_prints_the_event() {
    let api = Api::with_events(3, 2);
    let out = api.run(&["events", "get", "evt-00001"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.lines().count() > 5, "indented: {}", out.stdout);
    let event = json(&out.stdout);
    assert_eq!(event["event_id"], "evt-00001");
    assert_eq!(event["identification"]["visitor_id"], "vis1");
    assert!(out.stderr.is_empty(), "{out:?}");

    // The fake answers an unknown ruleset with 400 `ruleset_not_found`.
    api.fake.add_ruleset(mock::Ruleset::new("rs_1"));
    let out = api.run(&[
        "events",
        "get",
        "evt-00002",
        "--compact",
        "--ruleset",
        "rs_1",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout.lines().count(), 1);
    assert_eq!(json(&out.stdout)["event_id"], "evt-00002");
    assert_eq!(json(&out.stdout)["rule_action"]["ruleset_id"], "rs_1");
}

#[test]
fn get_of_a_missing_event_exits_1_with_a_hint() {
    let api = Api::with_events(1, 1);
    let out = api.run(&["events", "get", "evt-missing"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stdout.is_empty());
    assert_one_error_line(&out);
    assert!(out.stderr.contains("HTTP 404"), "{out:?}");
    assert!(
        out.stderr.contains("event_not_found: event id not found"),
        "{out:?}"
    );
    assert!(
        out.stderr.contains("hint: no event with this id"),
        "{out:?}"
    );
}

// ---------------------------------------------------------------- events search

#[test]
fn search_follows_pages_and_jsonl_has_one_line_per_event() {
    let api = Api::with_events(250, 5);
    let out = api.run(&[
        "events", "search", "--all", "--limit", "30", "--format", "jsonl",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(lines(&out.stdout).len(), 250);
    assert_eq!(ids(&out.stdout), expected_ids(0..250));
    assert!(out.stderr.is_empty(), "{out:?}");

    // --max stops inside a page; --reverse gives the oldest first.
    let out = api.run(&[
        "events",
        "search",
        "--max",
        "45",
        "--limit",
        "20",
        "--reverse",
        "--format",
        "jsonl",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let mut oldest: Vec<String> = expected_ids(205..250);
    oldest.reverse();
    assert_eq!(ids(&out.stdout), oldest);
    assert!(out.stderr.contains("raise --max"), "{out:?}");

    // One page by default, with the key of the next on stderr.
    let out = api.run(&["events", "search", "--limit", "10", "--format", "jsonl"]);
    assert_eq!(ids(&out.stdout), expected_ids(0..10));
    let key = out
        .stderr
        .split("--pagination-key ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("{out:?}"))
        .to_owned();
    let out = api.run(&[
        "events",
        "search",
        "--limit",
        "10",
        "--format",
        "jsonl",
        "--pagination-key",
        &key,
    ]);
    assert_eq!(ids(&out.stdout), expected_ids(10..20));
}

#[test]
fn search_filters_reach_the_api() {
    let api = Api::with_events(100, 4);
    let search = |extra: &[&str]| {
        let mut args = vec!["events", "search", "--all", "--format", "jsonl"];
        args.extend_from_slice(extra);
        let out = api.run(&args);
        assert_eq!(out.code, 0, "{extra:?}: {out:?}");
        lines(&out.stdout)
            .iter()
            .map(|l| json(l))
            .collect::<Vec<_>>()
    };
    let by_visitor = search(&["--visitor-id", "vis2"]);
    assert_eq!(by_visitor.len(), 25);
    assert!(
        by_visitor
            .iter()
            .all(|e| e["identification"]["visitor_id"] == "vis2")
    );

    let suspect = search(&["--suspect"]);
    assert_eq!(
        suspect.len(),
        (0..100usize).filter(|i| i.is_multiple_of(7)).count()
    );
    let not_suspect = search(&["--suspect", "false"]);
    assert_eq!(suspect.len() + not_suspect.len(), 100);

    let bad = search(&["--bot", "bad"]);
    assert_eq!(bad.len(), 10);
    assert!(bad.iter().all(|e| e["bot"] == "bad"));

    // Events are one second apart: how many are at or after `from`.
    let since = |from: i64| {
        (0..100i64)
            .filter(|i| api.newest_ms - i * 1000 >= from)
            .count()
    };
    let before = mock::now_ms();
    let recent = search(&["--start", "90s"]);
    let after = mock::now_ms();
    assert!(
        (since(after - 90_000)..=since(before - 90_000)).contains(&recent.len()),
        "{}",
        recent.len()
    );
    // An absolute window, in Unix ms and RFC 3339: from 2.5 s before
    // evt-00000 to 2.5 s after it: evt-00000, evt-00001, evt-00002.
    let start = (api.newest_ms - 2_500).to_string();
    let end = chrono::DateTime::from_timestamp_millis(api.newest_ms + 2_500)
        .unwrap_or_default()
        .to_rfc3339();
    let window = search(&["--start", &start, "--end", &end]);
    assert_eq!(window.len(), 3);
    assert_eq!(window[2]["event_id"], "evt-00002");

    // Every filter is sent and honoured: these events have none of these
    // signals, so nothing matches.
    let many = search(&[
        "--vpn",
        "--proxy",
        "false",
        "--bot-info-category",
        "ai_crawler",
        "--bot-info-category",
        "scraping",
        "--environment",
        "env_1",
        "--min-suspect-score",
        "0.5",
        "--source",
        "edge",
        "--rare-device-percentile-bucket",
        "p99.9+",
        "--sdk-platform",
        "js",
        "--ip-address",
        "192.0.2.0/24",
    ]);
    assert!(many.is_empty());
    // Every enum is open, --source included: a value this SDK does not know
    // is sent as typed, for the API (here the fake) to judge.
    let unknown = api.run(&["events", "search", "--source", "browser"]);
    assert_eq!(unknown.code, 1, "{unknown:?}");
    assert!(
        unknown
            .stderr
            .contains("HTTP 400: request_cannot_be_parsed"),
        "{unknown:?}"
    );
}

#[test]
fn search_as_json_array_and_csv_with_nested_fields() {
    let api = Api::with_events(12, 3);
    api.insert(json!({
        "event_id": "evt-quoted",
        "timestamp": mock::now_ms() - 30_000,
        "url": "https://shop.example/?q=a,b",
        "tags": {"note": "said \"hi\"\nthen left"},
        "identification": {"visitor_id": "vis-q", "visitor_found": false, "confidence": {"score": 1}}
    }));

    let out = api.run(&["events", "search", "--all", "--limit", "5"]);
    assert_eq!(out.code, 0, "{out:?}");
    let array = json(&out.stdout);
    assert_eq!(array.as_array().map(Vec::len), Some(13));

    let out = api.run(&[
        "events", "search", "--all", "--limit", "5", "--format", "csv",
        "--fields", "event_id,identification.visitor_id,identification.confidence.score,url,tags.note,ip_info.v4.address",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let mut rows = out.stdout.split_inclusive('\n');
    assert_eq!(
        rows.next(),
        Some(
            "event_id,identification.visitor_id,identification.confidence.score,url,tags.note,ip_info.v4.address\n"
        )
    );
    // Values as the API sent them: the score was stored as 1, not 1.0.
    assert_eq!(
        rows.next(),
        Some("evt-quoted,vis-q,1,\"https://shop.example/?q=a,b\",\"said \"\"hi\"\"\n")
    );
    assert_eq!(rows.next(), Some("then left\",\n"));
    assert_eq!(
        rows.next(),
        Some("evt-00000,vis0,0.5,https://shop.example/p/0,,\n")
    );
    assert_eq!(rows.count(), 11);

    // Default CSV columns.
    let out = api.run(&["events", "search", "--limit", "2", "--format", "csv"]);
    assert!(
        out.stdout
            .starts_with("event_id,timestamp,identification.visitor_id,"),
        "{out:?}"
    );
    assert_eq!(out.stdout.lines().count(), 3);

    // Fields in JSON keep their nesting.
    let out = api.run(&[
        "events",
        "search",
        "--limit",
        "1",
        "--format",
        "jsonl",
        "--fields",
        "event_id,identification.visitor_id",
    ]);
    assert_eq!(
        json(&out.stdout),
        json!({"event_id": "evt-quoted", "identification": {"visitor_id": "vis-q"}})
    );
}

/// An event with fields no version of the SDK knows: at the top level and
/// inside an object the SDK does know.
fn event_from_the_future(ts: i64) -> Value {
    json!({
        "event_id": "evt-future",
        "timestamp": ts,
        "url": "https://shop.example/next",
        "future_signal": {"level": "high", "scores": [1, 2.5], "seen": null},
        "identification": {
            "visitor_id": "vis-future",
            "visitor_found": true,
            "confidence": {"score": 1, "future_revision": "v9"},
            "future_nested": {"x": 1}
        },
        "bot": "some_new_kind"
    })
}

#[test]
fn unknown_fields_come_out_unchanged() {
    let api = Api::start();
    let sent = event_from_the_future(api.newest_ms);
    api.insert(sent.clone());

    let out = api.run(&["events", "get", "evt-future"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(json(&out.stdout), sent);
    let out = api.run(&["events", "get", "evt-future", "--compact"]);
    assert_eq!(json(&out.stdout), sent);

    let out = api.run(&["events", "search", "--format", "jsonl"]);
    assert_eq!(out.code, 0, "{out:?}");
    let found = lines(&out.stdout);
    assert_eq!(found.len(), 1, "{out:?}");
    assert_eq!(json(found[0]), sent);
    let out = api.run(&["events", "search"]);
    assert_eq!(json(&out.stdout), json!([sent.clone()]));
    // --fields reaches unknown fields too.
    let out = api.run(&[
        "events",
        "search",
        "--format",
        "csv",
        "--fields",
        "event_id,future_signal.level,identification.future_nested.x",
    ]);
    assert_eq!(
        out.stdout,
        "event_id,future_signal.level,identification.future_nested.x\nevt-future,high,1\n"
    );

    let dir = scratch("export-unknown");
    let file = dir.join("events.jsonl");
    let out = api.run(&["events", "export", "--out", path_str(&file), "--quiet"]);
    assert_eq!(out.code, 0, "{out:?}");
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    let exported = lines(&text);
    assert_eq!(exported.len(), 1, "{text}");
    assert_eq!(json(exported[0]), sent);
}

#[test]
fn search_output_closed_early_ends_quietly() {
    let api = Api::with_events(400, 4);
    let mut child = command()
        .args(["--base-url", &api.url, "--api-key", SECRET_KEY])
        .args(["events", "search", "--all", "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut stdout = BufReader::new(child.stdout.take().unwrap_or_else(|| panic!("no stdout")));
    let mut first = String::new();
    stdout
        .read_line(&mut first)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first, "[\n");
    drop(stdout);
    let out = finish(child.wait_with_output().unwrap_or_else(|e| panic!("{e}")));
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");
}

// ---------------------------------------------------------------- events export

#[test]
fn export_killed_after_page_20_resumes_with_every_event_once_in_order() {
    let api = Api::with_events(5000, 50);
    let dir = scratch("export-resume");
    let file = dir.join("events.jsonl");
    let checkpoint = dir.join("events.jsonl.checkpoint");
    let args = [
        "--base-url",
        &api.url,
        "--api-key",
        SECRET_KEY,
        "events",
        "export",
        "--out",
        path_str(&file),
    ];

    let mut crashing = command();
    crashing.env("FINGERPRINT_EXPORT_STOP_AFTER_PAGES", "20");
    let out = run_in(crashing, &args);
    assert_eq!(out.code, 137, "{out:?}");
    // Page 21 reached the file, but its checkpoint was never written.
    let partial = std::fs::read_to_string(&file).unwrap_or_default();
    assert_eq!(lines(&partial).len(), 2100);
    let saved = json(&std::fs::read_to_string(&checkpoint).unwrap_or_default());
    assert_eq!(saved["events"], 2000);
    assert_eq!(saved["pages"], 20);

    // Without --resume the interrupted export is not overwritten.
    let out = run(&args);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--resume"), "{out:?}");
    // Resuming with other filters is refused.
    let mut other = args.to_vec();
    other.extend(["--resume", "--visitor-id", "vis1"]);
    let out = run(&other);
    assert_eq!(out.code, 2, "{out:?}");

    let mut resume = args.to_vec();
    resume.push("--resume");
    let out = run(&resume);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("resuming"), "{out:?}");
    assert!(out.stderr.contains("exported 5000 events"), "{out:?}");
    assert!(out.stdout.is_empty());

    let text = std::fs::read_to_string(&file).unwrap_or_default();
    assert_eq!(ids(&text), expected_ids(0..5000));
    assert!(!checkpoint.exists(), "the checkpoint is removed at the end");
    // Whole events, exactly as the API serves them.
    let first = json(lines(&text)[0]);
    assert_eq!(first["identification"]["visitor_id"], "vis0");
}

#[test]
fn export_refuses_to_clobber_and_supports_max_and_fields() {
    let api = Api::with_events(120, 3);
    let dir = scratch("export-small");
    let file = dir.join("out.jsonl");
    std::fs::write(&file, "keep me\n").unwrap_or_else(|e| panic!("{e}"));
    let base = [
        "--base-url",
        &api.url,
        "--api-key",
        SECRET_KEY,
        "events",
        "export",
        "--out",
        path_str(&file),
    ];

    let out = run(&base);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("already exists"), "{out:?}");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap_or_default(),
        "keep me\n"
    );

    let out = run(&[&base[..], &["--resume"]].concat());
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("nothing to resume"), "{out:?}");

    let out = run(&[
        &base[..],
        &[
            "--force",
            "--max",
            "55",
            "--limit",
            "20",
            "--fields",
            "event_id,identification.visitor_id",
            "--visitor-id",
            "vis1",
        ],
    ]
    .concat());
    assert_eq!(out.code, 0, "{out:?}");
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    let rows = lines(&text);
    assert_eq!(rows.len(), 40, "vis1 has 40 events");
    assert_eq!(
        json(rows[0]),
        json!({"event_id": "evt-00001", "identification": {"visitor_id": "vis1"}})
    );

    let out = run(&[&base[..], &["--force", "--max", "55", "--quiet"]].concat());
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");
    assert_eq!(
        ids(&std::fs::read_to_string(&file).unwrap_or_default()),
        expected_ids(0..55)
    );
}

// ---------------------------------------------------------------- events update

#[test]
fn update_sets_linked_id_tags_and_suspect() {
    let api = Api::with_events(2, 1);
    let out = api.run(&[
        "events",
        "update",
        "evt-00001",
        "--linked-id",
        "order-9",
        "--tag",
        "team=fraud",
        "--tag",
        "note=a=b",
        "--suspect",
        "true",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("updated event evt-00001"), "{out:?}");
    let stored = serde_json::to_value(api.fake.event("evt-00001")).unwrap_or_default();
    assert_eq!(stored["linked_id"], "order-9");
    assert_eq!(stored["tags"], json!({"team": "fraud", "note": "a=b"}));
    assert_eq!(stored["suspect"], true);

    let out = api.run(&["events", "update", "evt-00001", "--suspect", "false"]);
    assert_eq!(out.code, 0, "{out:?}");
    let stored = serde_json::to_value(api.fake.event("evt-00001")).unwrap_or_default();
    assert_eq!(stored["suspect"], false);

    let out = api.run(&["events", "update", "evt-00001"]);
    assert_eq!(out.code, 2, "{out:?}");
    let out = api.run(&["events", "update", "evt-nope", "--suspect", "true"]);
    assert_eq!(out.code, 1, "{out:?}");
}

// ---------------------------------------------------------------- visitors delete

#[test]
fn delete_asks_unless_yes_and_refuses_without_a_terminal() {
    let api = Api::with_events(10, 2);
    // stdin is not a terminal (closed): refused, nothing deleted.
    let out = api.run(&["visitors", "delete", "vis0"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--yes"), "{out:?}");
    assert_eq!(api.fake.len(), 10);
    assert_eq!(api.fake.requests(), 0, "nothing was sent");
    // A piped "y" is not a terminal either.
    let out = run_with_stdin(
        &[
            "--base-url",
            &api.url,
            "--api-key",
            SECRET_KEY,
            "visitors",
            "delete",
            "vis0",
        ],
        b"y\n",
    );
    assert_eq!(out.code, 2, "{out:?}");
    assert_eq!(api.fake.len(), 10);

    let out = api.run(&["visitors", "delete", "vis0", "--yes"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(api.fake.len(), 5);
    let out = api.run(&["visitors", "delete", "vis0", "-y"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("visitor_not_found"), "{out:?}");
}

// ---------------------------------------------------------------- webhook

#[test]
fn webhook_sign_and_verify() {
    let dir = scratch("webhook");
    let body = br#"{"event_id":"1.a","timestamp":1}"#;
    let file = dir.join("body.json");
    std::fs::write(&file, body).unwrap_or_else(|e| panic!("{e}"));
    let header = webhook::sign(body, b"whsec_1");

    let mut signing = command();
    signing.env("HOOK_SECRET", "whsec_1");
    let out = run_in(
        signing,
        &[
            "webhook",
            "sign",
            "--secret-env",
            "HOOK_SECRET",
            path_str(&file),
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout.trim(), header);

    let verify = |secret: &str, signature: &str, input: &str| {
        let mut c = command();
        c.env("HOOK_SECRET", secret);
        run_in(
            c,
            &[
                "webhook",
                "verify",
                "--secret-env",
                "HOOK_SECRET",
                "--signature",
                signature,
                input,
            ],
        )
    };
    let out = verify("whsec_1", &header, path_str(&file));
    assert_eq!((out.code, out.stdout.trim()), (0, "valid"), "{out:?}");
    // Rotation: any v1 entry may match.
    let rotating = format!("v1={},{header}", "0".repeat(64));
    assert_eq!(verify("whsec_1", &rotating, path_str(&file)).code, 0);

    let out = verify("whsec_2", &header, path_str(&file));
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("does not match"), "{out:?}");
    assert_one_error_line(&out);
    let out = verify("whsec_1", "v1=xyz", path_str(&file));
    assert_eq!(out.code, 1, "{out:?}");
    let out = verify("whsec_1", &header, path_str(&dir.join("missing.json")));
    assert_eq!(out.code, 2, "{out:?}");
    let out = run(&[
        "webhook",
        "verify",
        "--secret-env",
        "HOOK_SECRET_UNSET",
        "--signature",
        &header,
        path_str(&file),
    ]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("HOOK_SECRET_UNSET is not set"),
        "{out:?}"
    );

    // stdin, with `-` or by default; a changed byte fails.
    let mut c = command();
    c.env("HOOK_SECRET", "whsec_1");
    let mut child = c
        .args([
            "webhook",
            "verify",
            "--secret-env",
            "HOOK_SECRET",
            "--signature",
            &header,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(&body[..body.len() - 1])
            .unwrap_or_else(|e| panic!("{e}"));
        stdin.write_all(b" }").unwrap_or_else(|e| panic!("{e}"));
    }
    let out = finish(child.wait_with_output().unwrap_or_else(|e| panic!("{e}")));
    assert_eq!(out.code, 1, "{out:?}");
}

// ---------------------------------------------------------------- unseal

#[test]
fn unseal_opens_raw_and_base64_results_with_any_of_the_keys() {
    let dir = scratch("unseal");
    let key_text = "p2PA7MGy5tx56cnyJaFZMr96BCFwZeHjZV2EqMvTq53=";
    let other_text = "a2PA7MGy5tx56cnyJaFZMr96BCFwZeHjZV2EqMvTq50=";
    let key = DecryptionKey::from_base64(key_text).unwrap_or_else(|e| panic!("{e}"));
    let event = br#"{"event_id":"1708102555327.NLOjmg","timestamp":1708102555327,"url":"https://x.example"}"#;
    let sealed_bytes = sealed::seal(event, &key).unwrap_or_else(|e| panic!("{e}"));
    let raw = dir.join("sealed.bin");
    std::fs::write(&raw, &sealed_bytes).unwrap_or_else(|e| panic!("{e}"));

    let out = run(&[
        "unseal",
        "--key",
        other_text,
        "--key",
        key_text,
        path_str(&raw),
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let opened = json(&out.stdout);
    assert_eq!(opened["event_id"], "1708102555327.NLOjmg");
    assert_eq!(opened["url"], "https://x.example");

    let b64 = base64_encode(&sealed_bytes);
    let out = run_with_stdin(
        &["unseal", "--key", key_text, "--compact", "-"],
        format!("{b64}\n").as_bytes(),
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout.lines().count(), 1);

    let out = run(&["unseal", "--key", other_text, path_str(&raw)]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("cannot unseal"), "{out:?}");
    assert_one_error_line(&out);
    let out = run(&["unseal", "--key", "not base64!", path_str(&raw)]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        !out.stderr.contains("not base64!"),
        "the key is not echoed: {out:?}"
    );
}

#[test]
fn unseal_prints_every_field_and_takes_keys_from_the_environment() {
    let dir = scratch("unseal-env");
    let key_text = "p2PA7MGy5tx56cnyJaFZMr96BCFwZeHjZV2EqMvTq53=";
    let other_text = "a2PA7MGy5tx56cnyJaFZMr96BCFwZeHjZV2EqMvTq50=";
    let key = DecryptionKey::from_base64(key_text).unwrap_or_else(|e| panic!("{e}"));
    let seal_to = |name: &str, payload: &[u8]| {
        let sealed_bytes = sealed::seal(payload, &key).unwrap_or_else(|e| panic!("{e}"));
        let path = dir.join(name);
        std::fs::write(&path, base64_encode(&sealed_bytes)).unwrap_or_else(|e| panic!("{e}"));
        path
    };
    let event = event_from_the_future(1_708_102_555_327);
    let sealed_event = seal_to("event.b64", event.to_string().as_bytes());

    // Keys from the environment, after those given with --key.
    let unseal = |keys: &[(&str, &str)], args: &[&str]| {
        let mut c = command();
        for (var, value) in keys {
            c.env(var, value);
        }
        run_in(c, args)
    };
    let both = [("UNSEAL_OLD", other_text), ("UNSEAL_NEW", key_text)];
    let out = unseal(
        &both,
        &[
            "unseal",
            "--key-env",
            "UNSEAL_OLD",
            "--key-env",
            "UNSEAL_NEW",
            path_str(&sealed_event),
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(json(&out.stdout), event, "every field, as sealed");
    assert!(out.stdout.lines().count() > 5, "indented: {out:?}");
    let out = unseal(
        &both,
        &[
            "unseal",
            "--key",
            other_text,
            "--key-env",
            "UNSEAL_NEW",
            "--compact",
            path_str(&sealed_event),
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout.lines().count(), 1);
    assert_eq!(json(&out.stdout), event);

    // A key variable that is unset, empty or not a key: usage, key unseen.
    let path = path_str(&sealed_event);
    let out = unseal(&[], &["unseal", "--key-env", "UNSEAL_UNSET", path]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("UNSEAL_UNSET is not set"), "{out:?}");
    assert_one_error_line(&out);
    let out = unseal(
        &[("UNSEAL_EMPTY", "")],
        &["unseal", "--key-env", "UNSEAL_EMPTY", path],
    );
    assert_eq!(out.code, 2, "{out:?}");
    let out = unseal(
        &[("UNSEAL_BAD", "not-a-key!")],
        &["unseal", "--key-env", "UNSEAL_BAD", path],
    );
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--key-env UNSEAL_BAD"), "{out:?}");
    assert!(!out.stderr.contains("not-a-key!"), "{out:?}");
    assert_one_error_line(&out);
    // Neither --key nor --key-env.
    let out = run(&["unseal", path]);
    assert_eq!(out.code, 2, "{out:?}");

    // Opened, but not an event: refused as before.
    for (name, payload, why) in [
        ("text.b64", &b"not json"[..], "not valid JSON"),
        ("array.b64", b"[1,2]", "not a v4 event"),
        ("latin1.b64", b"{\"a\":\"\xe9\"}", "not UTF-8"),
    ] {
        let path = seal_to(name, payload);
        let out = run(&["unseal", "--key", key_text, path_str(&path)]);
        assert_eq!(out.code, 1, "{name}: {out:?}");
        assert!(out.stderr.contains("cannot unseal"), "{out:?}");
        assert!(out.stderr.contains(why), "{name}: {out:?}");
        assert!(out.stdout.is_empty(), "{out:?}");
        assert_one_error_line(&out);
    }
}

fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

// ---------------------------------------------------------------- errors

#[test]
fn a_wrong_key_is_refused_with_a_hint_and_never_printed() {
    let api = Api::with_events(1, 1);
    let wrong = "sk_live_wrong_Hx7Qm2Lp";
    let out = run(&[
        "--base-url",
        &api.url,
        "--api-key",
        wrong,
        "-v",
        "events",
        "search",
    ]);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(
        out.stderr.contains("HTTP 403: secret_api_key_not_found"),
        "{out:?}"
    );
    assert!(out.stderr.contains("environment"), "{out:?}");
    assert!(
        out.stderr.contains("fingerprint-server-sdk: sending"),
        "-v traces: {out:?}"
    );
    assert!(!out.stderr.contains("Hx7Qm2Lp"), "key printed: {out:?}");
    let error_lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(error_lines.len(), 1, "{out:?}");

    // The key from the environment is not shown by --help either.
    let mut with_env = command();
    with_env.env("FINGERPRINT_SECRET_API_KEY", SECRET_KEY);
    let out = run_in(with_env, &["events", "search", "--help"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!out.stdout.is_empty(), "{out:?}");
    assert!(!out.stdout.contains(SECRET_KEY));

    // Nor by a successful, traced call.
    let mut with_env = command();
    with_env.env("FINGERPRINT_SECRET_API_KEY", SECRET_KEY);
    let out = run_in(
        with_env,
        &["--base-url", &api.url, "-v", "events", "get", "evt-00000"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains("fingerprint-server-sdk: response"),
        "{out:?}"
    );
    assert!(!out.stderr.contains(SECRET_KEY) && !out.stdout.contains(SECRET_KEY));
}

#[test]
fn server_errors_are_retried_then_exit_4() {
    let api = Api::with_events(1, 1);
    api.fake.fail_next(1, Fault::Status(503));
    let out = api.run(&["-v", "events", "get", "evt-00000"]);
    assert_eq!(out.code, 0, "retried: {out:?}");
    assert!(
        out.stderr.contains("fingerprint-server-sdk: retrying"),
        "{out:?}"
    );

    api.fake.fail_next(2, Fault::Status(503));
    let out = api.run(&["--retries", "1", "events", "get", "evt-00000"]);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(out.stderr.contains("HTTP 503"), "{out:?}");
    assert!(out.stderr.contains("gave up after 2 attempts"), "{out:?}");
    assert_one_error_line(&out);

    api.fake.fail_next(
        1,
        Fault::TooManyRequests {
            retry_after: Some(1),
        },
    );
    let out = api.run(&["--retries", "0", "events", "get", "evt-00000"]);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(out.stderr.contains("too_many_requests"), "{out:?}");
}

/// A small HTTP server that reads each request head, sends it down the
/// channel, then holds the connection for `stall` and closes it without an
/// answer.
fn stalling_server(stall: Duration) -> (String, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let (heads, received) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(8) {
            let Ok(mut stream) = stream else { continue };
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let _ = heads.send(String::from_utf8_lossy(&request).into_owned());
            std::thread::sleep(stall);
        }
    });
    (format!("http://{addr}/v4"), received)
}

#[test]
fn wrong_region_names_the_regions_to_try() {
    let api = Api::with_events(1, 1);
    api.fake.fail_next(
        1,
        Fault::Api {
            status: 403,
            code: "wrong_region".into(),
            message: "wrong region".into(),
        },
    );
    let out = api.run(&["events", "get", "evt-00000"]);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(
        out.stderr.contains("HTTP 403: wrong_region: wrong region"),
        "{out:?}"
    );
    assert!(
        out.stderr
            .contains("try --region global or --region eu or --region ap without --base-url"),
        "{out:?}"
    );
    // The CLI's hint, not the SDK's (worded for code).
    assert!(!out.stderr.contains("Region::"), "{out:?}");
    assert_one_error_line(&out);

    // Other API errors keep their documented exit codes.
    for (status, code, exit) in [
        (403, "feature_not_enabled", 3),
        (400, "request_cannot_be_parsed", 1),
        (404, "some_future_code", 1),
    ] {
        api.fake.fail_next(
            1,
            Fault::Api {
                status,
                code: code.into(),
                message: "injected".into(),
            },
        );
        let out = api.run(&["events", "get", "evt-00000"]);
        assert_eq!(out.code, exit, "{code}: {out:?}");
        assert!(
            out.stderr
                .contains(&format!("HTTP {status}: {code}: injected")),
            "{out:?}"
        );
        assert_one_error_line(&out);
    }
}

#[test]
fn network_failures_and_timeouts_exit_4() {
    // A port nothing listens on.
    let closed = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap_or_else(|e| panic!("{e}"));
    let url = format!("http://{closed}/v4");
    let out = run(&[
        "--base-url",
        &url,
        "--api-key",
        SECRET_KEY,
        "--retries",
        "0",
        "events",
        "get",
        "x",
    ]);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(out.stderr.contains("could not connect"), "{out:?}");
    // The SDK's operation name is not repeated after the CLI's context.
    assert!(out.stderr.starts_with("error: get event x: "), "{out:?}");
    assert!(!out.stderr.contains("get_event:"), "{out:?}");
    assert_one_error_line(&out);

    let (stalled, heads) = stalling_server(Duration::from_secs(3));
    let out = run(&[
        "--base-url",
        &stalled,
        "--api-key",
        SECRET_KEY,
        "--timeout",
        "300ms",
        "events",
        "get",
        "x",
    ]);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(out.stderr.contains("timeout"), "{out:?}");
    assert_one_error_line(&out);

    // What the command sent: compressed answers welcome, the CLI named.
    let head = heads
        .recv_timeout(Duration::from_secs(5))
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(head.starts_with("get /v4/events/x?"), "{head}");
    assert!(head.contains("accept-encoding: gzip"), "{head}");
    assert!(head.contains("fingerprint-cli/"), "{head}");
}

// ---------------------------------------------------------------- following new events

/// A speed-up for the commands that wait (polling, retries, quota pacing):
/// a second passes in 50 ms (debug builds read it; see cli/src/clock.rs).
const FAST: &str = "20";

/// One request a [`Receiver`] got.
#[derive(Debug, Clone)]
struct Delivery {
    signature_valid: bool,
    content_type: String,
    body: Value,
    status: u16,
}

/// A loopback webhook receiver: checks each request's signature with the
/// secret, answers 2xx (or `fail_first` with 503 the first time an event
/// arrives), and reports what it got.
struct Receiver {
    url: String,
    deliveries: mpsc::Receiver<Delivery>,
}

impl Receiver {
    fn start(secret: &'static str, fail_first: &'static [&'static str]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let (tx, deliveries) = mpsc::channel();
        let seen: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (tx, seen) = (tx.clone(), seen.clone());
                std::thread::spawn(move || serve_webhook(stream, secret, fail_first, &seen, &tx));
            }
        });
        Self {
            url: format!("http://{addr}/hooks/fingerprint"),
            deliveries,
        }
    }

    /// The next request, within a few seconds.
    fn next(&self) -> Delivery {
        self.deliveries
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("no delivery"))
    }
}

fn serve_webhook(
    mut stream: TcpStream,
    secret: &str,
    fail_first: &[&str],
    seen: &Mutex<HashMap<String, u32>>,
    tx: &mpsc::Sender<Delivery>,
) {
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    // Requests on this connection, one after the other (keep-alive).
    loop {
        let mut head = Vec::new();
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) if line == "\r\n" => break,
                Ok(_) => head.push(line.trim_end().to_owned()),
            }
        }
        let header = |name: &str| {
            head.iter()
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().to_owned())
                .unwrap_or_default()
        };
        let length: usize = header("content-length").parse().unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let signature_valid = head[0].starts_with("POST /hooks/fingerprint ")
            && webhook::verify(&header("fpjs-event-signature"), &body, secret.as_bytes()).is_ok();
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let id = body["event_id"].as_str().unwrap_or_default().to_owned();
        let times = {
            let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
            let n = seen.entry(id.clone()).or_default();
            *n += 1;
            *n
        };
        let status = if times == 1 && fail_first.contains(&id.as_str()) {
            503
        } else {
            204
        };
        let _ = tx.send(Delivery {
            signature_valid,
            content_type: header("content-type"),
            body,
            status,
        });
        let answer = format!("HTTP/1.1 {status} Whatever\r\ncontent-length: 0\r\n\r\n");
        if stream.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

const HOOK_SECRET: &str = "whsec_listen_Zr8Kq2";

/// A command set up to follow events of `api` quickly.
fn following(api: &Api) -> Command {
    let mut c = command();
    c.env("FINGERPRINT_TEST_TIME_SCALE", FAST).args([
        "--base-url",
        &api.url,
        "--api-key",
        SECRET_KEY,
    ]);
    c
}

#[test]
fn listen_forwards_each_event_once_signed_and_in_order() {
    let api = Api::start();
    let base = mock::now_ms() - 10_000;
    let at = |ms: i64, id: &str| {
        let mut e = event(0, base + ms, "vis-listen");
        e["event_id"] = json!(id);
        e
    };
    // Two events in the same millisecond; one with a field no SDK knows.
    let mut first = at(0, "evt-a");
    first["future_signal"] = json!({"level": "high", "scores": [1, 2.5]});
    let initial = [
        first,
        at(1000, "evt-b"),
        at(2000, "evt-c1"),
        at(2000, "evt-c2"),
    ];
    for e in &initial {
        api.insert(e.clone());
    }
    // Not forwarded: older than --since.
    api.insert(at(-5000, "evt-before"));

    let receiver = Receiver::start(HOOK_SECRET, &["evt-b"]);
    let mut c = following(&api);
    c.env("FINGERPRINT_WEBHOOK_SECRET", HOOK_SECRET);
    let since = (base - 500).to_string();
    let listen = Running::start(
        c,
        &[
            "webhook",
            "listen",
            "--forward-to",
            &receiver.url,
            "--since",
            &since,
            "--max-events",
            "7",
            "--visitor-id",
            "vis-listen",
        ],
    );

    let mut accepted: Vec<Delivery> = Vec::new();
    let mut requests = 0;
    while accepted.len() < 4 {
        let d = receiver.next();
        requests += 1;
        if d.status < 300 {
            accepted.push(d);
        }
    }
    // Listen has polled and caught up. New events arrive, across the poll
    // boundary: one in the millisecond of the last event forwarded (its
    // cursor), two sharing a later one, and one of another visitor that
    // the filter leaves out.
    let later = [at(2000, "evt-c3"), at(3000, "evt-d1"), at(3000, "evt-d2")];
    for e in &later {
        api.insert(e.clone());
    }
    let mut other = at(2500, "evt-other");
    other["identification"]["visitor_id"] = json!("someone-else");
    api.insert(other);
    while accepted.len() < 7 {
        let d = receiver.next();
        requests += 1;
        if d.status < 300 {
            accepted.push(d);
        }
    }
    let out = listen.finish(Duration::from_secs(10));
    assert_eq!(out.code, 0, "{out:?}");

    // Every event once, in order, whole, signed, as JSON.
    let sent: Vec<Value> = initial.iter().chain(&later).cloned().collect();
    let bodies: Vec<Value> = accepted.iter().map(|d| d.body.clone()).collect();
    assert_eq!(bodies, sent);
    assert!(accepted.iter().all(|d| d.signature_valid), "{accepted:?}");
    assert!(
        accepted
            .iter()
            .all(|d| d.content_type == "application/json")
    );
    // evt-b was refused once and sent again; nothing else twice.
    assert_eq!(requests, 8);
    assert!(receiver.deliveries.try_recv().is_err(), "nothing more");

    // One stderr line per attempt: time, event id, status, latency.
    let attempts: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("  evt-"))
        .collect();
    assert_eq!(attempts.len(), 8, "{}", out.stderr);
    assert!(
        attempts[1].contains("  evt-b  503  ")
            && attempts[1].ends_with("(attempt 1 of 4, next in 1s)"),
        "{}",
        attempts[1]
    );
    assert!(attempts[2].contains("  evt-b  204  "), "{}", attempts[2]);
    let first = attempts[0];
    assert!(
        first.len() > 24
            && first.as_bytes()[10] == b'T'
            && first.contains("Z  evt-a  204  ")
            && first.ends_with("ms"),
        "{first}"
    );
    assert!(
        out.stderr.contains("forwarded 7 events, 0 skipped"),
        "{out:?}"
    );
    assert!(
        !out.stderr.contains(HOOK_SECRET),
        "the secret is never printed"
    );
    assert!(out.stdout.is_empty(), "{out:?}");
}

#[test]
fn listen_reports_and_skips_an_event_the_receiver_never_takes() {
    let api = Api::with_events(2, 1);
    let closed = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut c = following(&api);
    c.env("FINGERPRINT_WEBHOOK_SECRET", HOOK_SECRET);
    let out = run_in(
        c,
        &[
            "webhook",
            "listen",
            "--forward-to",
            &format!("http://{closed}/hook"),
            "--since",
            "5m",
            "--max-events",
            "2",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    for id in ["evt-00000", "evt-00001"] {
        let tries: Vec<&str> = out.stderr.lines().filter(|l| l.contains(id)).collect();
        assert_eq!(tries.len(), 4, "{out:?}");
        assert!(tries[0].contains("could not connect"), "{}", tries[0]);
        assert!(
            tries[3].ends_with("(attempt 4 of 4: gave up, event skipped)"),
            "{}",
            tries[3]
        );
    }
    assert!(
        out.stderr.contains("forwarded 0 events, 2 skipped"),
        "{out:?}"
    );
}

#[test]
fn listen_needs_a_secret_and_an_http_url() {
    let base = ["--demo", "webhook", "listen", "--max-events", "1"];
    let out = run(&[&base[..], &["--forward-to", "http://127.0.0.1:9/x"]].concat());
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--secret"), "{out:?}");
    for bad in ["ftp://127.0.0.1/x", "localhost:3000", "http://"] {
        let out = run(&[&base[..], &["--secret", "s", "--forward-to", bad]].concat());
        assert_eq!(out.code, 2, "{bad}: {out:?}");
    }
    let out = run(&[
        &base[..],
        &["--secret", "", "--forward-to", "http://127.0.0.1:9/"],
    ]
    .concat());
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("secret is empty"), "{out:?}");
    // The help says what happens to an event the receiver does not take.
    let mut with_env = command();
    with_env.env("FINGERPRINT_WEBHOOK_SECRET", HOOK_SECRET);
    let out = run_in(with_env, &["webhook", "listen", "--help"]);
    assert_eq!(out.code, 0, "{out:?}");
    let help = out.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        help.contains("tried 3 more times (after 1s, 2s and 4s); then the event is reported on stderr and skipped"),
        "{help}"
    );
    assert!(!out.stdout.contains(HOOK_SECRET));
}

#[test]
fn tail_prints_new_events_as_they_come() {
    let api = Api::start();
    let base = mock::now_ms() - 10_000;
    let at = |ms: i64, id: &str| {
        let mut e = event(1, base + ms, "vis-tail");
        e["event_id"] = json!(id);
        e
    };
    for e in [at(0, "evt-1"), at(100, "evt-2a"), at(100, "evt-2b")] {
        api.insert(e);
    }
    let since = (base - 1).to_string();
    let tail = Running::start(
        following(&api),
        &["events", "tail", "--since", &since, "--max-events", "5"],
    );
    let first: Vec<String> = (0..3).map(|_| tail.line()).collect();
    api.insert(at(100, "evt-2c"));
    api.insert(at(200, "evt-3"));
    let out = tail.finish(Duration::from_secs(10));
    assert_eq!(out.code, 0, "{out:?}");
    let all = format!("{}\n{}", first.join("\n"), out.stdout);
    // JSON lines when piped, oldest first, each once.
    assert_eq!(ids(&all), ["evt-1", "evt-2a", "evt-2b", "evt-2c", "evt-3"]);
    assert!(out.stderr.is_empty(), "{out:?}");

    // A table, fitted to COLUMNS.
    let mut c = following(&api);
    c.env("COLUMNS", "80");
    let out = run_in(
        c,
        &[
            "events",
            "tail",
            "--since",
            &since,
            "--max-events",
            "2",
            "--format",
            "table",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let rows: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(rows.len(), 3, "{out:?}");
    assert!(
        rows[0].starts_with("EVENT ID  ") && rows[0].contains("VISITOR"),
        "{}",
        rows[0]
    );
    assert!(
        rows[1].starts_with("evt-1  ") && rows[1].contains("vis-tail"),
        "{}",
        rows[1]
    );
    assert!(rows.iter().all(|r| r.chars().count() <= 80), "{out:?}");

    // A 429 (the SDK's own retries off) is waited out, not fatal.
    api.fake.fail_next(
        2,
        Fault::TooManyRequests {
            retry_after: Some(1),
        },
    );
    let out = run_in(
        following(&api),
        &[
            "--retries",
            "0",
            "events",
            "tail",
            "--since",
            &since,
            "--max-events",
            "2",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(ids(&out.stdout), ["evt-1", "evt-2a"]);
    let waits: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(waits.len(), 2, "{out:?}");
    for wait in waits {
        assert_eq!(
            wait,
            "search events: HTTP 429: too_many_requests: too many requests; searching again in 1s",
            "{out:?}"
        );
    }
}

#[test]
fn tail_into_a_closed_pipe_ends_quietly() {
    let mut child = command()
        .args([
            "--demo", "events", "tail", "--since", "3d", "--format", "jsonl",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut stdout = BufReader::new(child.stdout.take().unwrap_or_else(|| panic!("no stdout")));
    let mut first = String::new();
    stdout
        .read_line(&mut first)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(first.starts_with("{\""), "{first}");
    drop(stdout);
    let out = finish(child.wait_with_output().unwrap_or_else(|e| panic!("{e}")));
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");
}

// ---------------------------------------------------------------- output and exit codes

#[test]
fn output_that_cannot_be_written_exits_5_not_2() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        return; // Not on this platform.
    };
    let out = finish(
        command()
            .args(["--demo", "events", "search", "--all", "--format", "jsonl"])
            .stdout(full)
            .stderr(Stdio::piped())
            .output()
            .unwrap_or_else(|e| panic!("{e}")),
    );
    assert_eq!(out.code, 5, "{out:?}");
    assert!(out.stderr.starts_with("error: stdout: "), "{out:?}");
    assert_one_error_line(&out);
}

#[test]
fn csv_cells_a_spreadsheet_would_run_are_made_text() {
    let api = Api::start();
    let mut hostile = event(0, api.newest_ms, "vis-csv");
    hostile["linked_id"] = json!("=HYPERLINK(\"http://evil.example\",\"click\")");
    hostile["url"] = json!("+cmd|' /C calc'!A0");
    hostile["tags"] = json!({"a": "-2+3", "b": "@SUM(A1)", "c": "\tx", "d": "fine"});
    api.insert(hostile);
    let out = api.run(&[
        "events",
        "search",
        "--format",
        "csv",
        "--fields",
        "linked_id,url,tags.a,tags.b,tags.c,tags.d,identification.confidence.score",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let row = out.stdout.lines().nth(1).unwrap_or_default();
    assert_eq!(
        row,
        "\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"click\"\")\",\"'+cmd|' /C calc'!A0\",\
         \"'-2+3\",\"'@SUM(A1)\",\"'\tx\",fine,0.5"
    );
    // And the help says so.
    let out = run(&["events", "search", "--help"]);
    let help = out.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        help.contains("gets a leading ' so that spreadsheets do not run it as a formula"),
        "{help}"
    );
}

#[test]
fn search_tables_fit_the_width() {
    let api = Api::with_events(3, 1);
    let mut c = command();
    c.env("COLUMNS", "100");
    let out = run_in(
        c,
        &[
            "--base-url",
            &api.url,
            "--api-key",
            SECRET_KEY,
            "events",
            "search",
            "--format",
            "table",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let rows: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(rows.len(), 4, "{out:?}");
    assert!(rows[0].starts_with("EVENT ID "), "{out:?}");
    assert!(rows[1].starts_with("evt-00000 "), "{out:?}");
    assert!(rows.iter().all(|r| r.chars().count() <= 100), "{out:?}");
    // Piped without --format: JSON, as before.
    let out = api.run(&["events", "search"]);
    assert_eq!(json(&out.stdout).as_array().map(Vec::len), Some(3));
    // The table has its own columns.
    let out = api.run(&[
        "events", "search", "--format", "table", "--fields", "event_id",
    ]);
    assert_eq!(out.code, 2, "{out:?}");
}

// ---------------------------------------------------------------- completions and man page

#[test]
fn completions_and_manual_pages() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = run(&["completions", shell]);
        assert_eq!(out.code, 0, "{shell}: {out:?}");
        assert!(out.stdout.contains("fingerprint"), "{shell}");
        assert!(out.stdout.contains("forward-to"), "{shell}");
        // The known values of enum filters complete (clap_complete's
        // PowerShell and Elvish scripts complete flags only).
        if ["bash", "zsh", "fish"].contains(&shell) {
            assert!(out.stdout.contains("search_engine_crawler"), "{shell}");
        }
    }
    let out = run(&["completions", "bash"]);
    assert!(out.stdout.contains("\"all good bad none\""), "--bot values");
    let out = run(&["completions", "tcsh"]);
    assert_eq!(out.code, 2, "{out:?}");

    let out = run(&["manpage"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains(".TH fingerprint 1"),
        "{}",
        &out.stdout[..200.min(out.stdout.len())]
    );
    assert!(out.stdout.contains("completions"), "subcommands listed");

    let dir = scratch("manpages");
    let out = run(&["manpage", "--dir", path_str(&dir)]);
    assert_eq!(out.code, 0, "{out:?}");
    for page in [
        "fingerprint.1",
        "fingerprint-events-tail.1",
        "fingerprint-webhook-listen.1",
    ] {
        let text = std::fs::read_to_string(dir.join(page)).unwrap_or_default();
        assert!(text.contains(".TH"), "{page}");
    }
    let listen =
        std::fs::read_to_string(dir.join("fingerprint-webhook-listen.1")).unwrap_or_default();
    assert!(listen.contains("forward\\-to"), "{listen}");
}

#[test]
fn enum_filters_list_their_values_and_take_others() {
    let out = run(&["events", "search", "--help"]);
    assert!(
        out.stdout
            .contains("[possible values: all, good, bad, none]"),
        "{}",
        out.stdout
    );
    // A value this CLI does not know is sent as typed: the CLI does not
    // refuse it, the API (here the fake, which checks enum values) does,
    // naming the value it received.
    let api = Api::with_events(4, 1);
    let out = api.run(&[
        "events",
        "search",
        "--format",
        "jsonl",
        "--bot-info-category",
        "future_kind",
    ]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("HTTP 400") && out.stderr.contains("`future_kind`"),
        "{out:?}"
    );
}

// ---------------------------------------------------------------- visitors delete --from-file

/// Events for visitors `vis0`..`vis{n-1}`, two each.
fn api_with_visitors(n: usize) -> Api {
    Api::with_events(2 * n, n)
}

fn visitor_events(api: &Api, visitor: &str) -> usize {
    let out = api.run(&[
        "events",
        "search",
        "--all",
        "--format",
        "jsonl",
        "--visitor-id",
        visitor,
    ]);
    lines(&out.stdout).len()
}

#[test]
fn bulk_delete_paces_to_the_quota_and_summarises() {
    let api = api_with_visitors(6);
    let dir = scratch("bulk-delete");
    let list = dir.join("erase.txt");
    std::fs::write(
        &list,
        "# privacy request 17\nvis0\nvis1\n\nvis-unknown\nvis2\nvis0\n  vis3  \n# end\nvis4\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // A 429 on the way: waited for (Retry-After), then the same visitor again.
    api.fake.fail_next(
        1,
        Fault::TooManyRequests {
            retry_after: Some(30),
        },
    );
    let mut c = command();
    // Waits pass at once, exactly (a clock that moves only when waiting).
    c.env("FINGERPRINT_TEST_TIME_SCALE", "virtual");
    let out = run_in(
        c,
        &[
            "--base-url",
            &api.url,
            "--api-key",
            SECRET_KEY,
            "visitors",
            "delete",
            "--from-file",
            path_str(&list),
            "--yes",
            "--per-hour",
            "2",
            "--per-day",
            "5",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let journal_path = dir.join("erase.txt.journal");
    // Every request counts, the refused one too: at most 2 in any hour
    // and 5 in any day.
    let expected = [
        format!(
            "deleting 6 visitors, at most 2 requests an hour and 5 a day: about 24h; journal: {}",
            journal_path.display()
        ),
        "HTTP 429 for vis0: waiting 30s before trying it again".into(),
        "deleted vis0".into(),
        "waiting 59m 30s for the hourly quota (2 an hour)".into(),
        "deleted vis1".into(),
        "waiting 30s for the hourly quota (2 an hour)".into(),
        "not found vis-unknown (nothing to delete)".into(),
        "waiting 59m 30s for the hourly quota (2 an hour)".into(),
        "deleted vis2".into(),
        "waiting 22h for the daily quota (5 a day)".into(),
        "deleted vis3".into(),
        "waiting 30s for the daily quota (5 a day)".into(),
        "deleted vis4".into(),
        "deleted 5, not found 1, failed 0".into(),
    ];
    assert_eq!(out.stderr.lines().collect::<Vec<_>>(), expected, "{out:?}");
    for v in 0..5 {
        assert_eq!(visitor_events(&api, &format!("vis{v}")), 0, "vis{v}");
    }
    assert_eq!(visitor_events(&api, "vis5"), 2, "not in the list");

    // The journal: a request entry before each outcome, one per line.
    let journal = std::fs::read_to_string(&journal_path).unwrap_or_default();
    let entries: Vec<Value> = lines(&journal).iter().map(|l| json(l)).collect();
    assert_eq!(entries[0]["kind"], "fingerprint-cli delete journal");
    let states: Vec<(&str, &str)> = entries[1..]
        .iter()
        .map(|e| {
            (
                e["visitor_id"].as_str().unwrap_or(""),
                e["state"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        &states[..4],
        [
            ("vis0", "sending"),
            ("vis0", "throttled"),
            ("vis0", "sending"),
            ("vis0", "deleted")
        ]
    );
    assert_eq!(states.iter().filter(|(_, s)| *s == "sending").count(), 7);

    // Run again: everything is done, nothing is sent.
    let requests = api.fake.requests();
    let out = run(&[
        "--base-url",
        &api.url,
        "--api-key",
        SECRET_KEY,
        "visitors",
        "delete",
        "--from-file",
        path_str(&list),
        "--yes",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr
            .contains("deleted 0, not found 0, failed 0 (6 done in an earlier run, skipped)"),
        "{out:?}"
    );
    assert_eq!(api.fake.requests(), requests);
}

#[test]
fn an_interrupted_bulk_delete_resumes_without_repeating_a_deletion() {
    let api = api_with_visitors(4);
    let dir = scratch("bulk-resume");
    let list = dir.join("erase.txt");
    let journal = dir.join("progress.journal");
    std::fs::write(&list, "vis0\nvis1\nvis2\nvis3\n").unwrap_or_else(|e| panic!("{e}"));
    let args = [
        "--base-url",
        &api.url,
        "--api-key",
        SECRET_KEY,
        "visitors",
        "delete",
        "--from-file",
        path_str(&list),
        "--yes",
        "--journal",
        path_str(&journal),
        "--per-hour",
        "1",
    ];
    // At real speed: the first deletion, then an hour's wait, cut short.
    let first = Running::start(command(), &args);
    first.wait_for_stderr("waiting 59m");
    assert!(
        first.stderr().contains("deleted vis0"),
        "{}",
        first.stderr()
    );
    let interrupted = Command::new("kill")
        .args(["-INT", &first.id().to_string()])
        .status()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(interrupted.success());
    let out = first.finish(Duration::from_secs(10));
    assert_eq!(out.code, 130, "{out:?}");
    assert!(
        out.stderr.contains("interrupted; so far: deleted 1"),
        "{out:?}"
    );
    assert!(out.stderr.contains("run the same command again"), "{out:?}");
    assert_eq!(api.fake.requests(), 1);

    // Again, faster: vis0 is not sent again, and its request still counts
    // against the quota (the next waits for it to be an hour old).
    let mut c = command();
    c.env("FINGERPRINT_TEST_TIME_SCALE", "virtual");
    let out = run_in(c, &args);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!out.stderr.contains("vis0"), "{out:?}");
    assert!(
        out.stderr
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("waiting ")),
        "{out:?}"
    );
    assert!(
        out.stderr
            .contains("deleted 3, not found 0, failed 0 (1 done in an earlier run, skipped)"),
        "{out:?}"
    );
    assert_eq!(api.fake.requests(), 4, "one request per visitor in all");
    assert!(api.fake.is_empty());
}

#[test]
fn bulk_delete_refusals() {
    let api = api_with_visitors(2);
    let dir = scratch("bulk-refusals");
    let list = dir.join("list.txt");
    std::fs::write(&list, "vis0\nvis1\n").unwrap_or_else(|e| panic!("{e}"));
    let base = [
        "--base-url",
        &api.url,
        "--api-key",
        SECRET_KEY,
        "visitors",
        "delete",
    ];
    // No terminal to confirm on.
    let out = run(&[&base[..], &["--from-file", path_str(&list)]].concat());
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("not deleting 2 visitors"), "{out:?}");
    assert!(out.stderr.contains("--yes"), "{out:?}");
    // A list on stdin: --journal is needed (and --yes: stdin is the list).
    let out = run_with_stdin(
        &[&base[..], &["--from-file", "-", "--yes"]].concat(),
        b"vis0\n",
    );
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--journal"), "{out:?}");
    let journal = dir.join("stdin.journal");
    let out = run_with_stdin(
        &[
            &base[..],
            &["--from-file", "-", "--journal", path_str(&journal)],
        ]
        .concat(),
        b"vis0\n",
    );
    assert_eq!(out.code, 2, "{out:?}");
    // A line that is not an id; a flag that needs --from-file; a missing list.
    std::fs::write(&list, "vis0\nvis1 vis2\n").unwrap_or_else(|e| panic!("{e}"));
    let out = run(&[&base[..], &["--from-file", path_str(&list), "--yes"]].concat());
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("line 2"), "{out:?}");
    let out = run(&[&base[..], &["vis0", "--per-hour", "5", "--yes"]].concat());
    assert_eq!(out.code, 2, "{out:?}");
    let out = run(&[&base[..], &["vis0", "--from-file", path_str(&list)]].concat());
    assert_eq!(out.code, 2, "{out:?}");
    let out = run(&[
        &base[..],
        &["--from-file", path_str(&dir.join("none.txt")), "--yes"],
    ]
    .concat());
    assert_eq!(out.code, 2, "{out:?}");
    assert_eq!(api.fake.requests(), 0, "nothing was sent");

    // A key the API refuses ends the run at once (exit 3); an id it
    // refuses is a failure of that visitor only (exit 1 at the end).
    std::fs::write(&list, "vis0\nvis1\n").unwrap_or_else(|e| panic!("{e}"));
    api.fake.fail_next(
        1,
        Fault::Api {
            status: 403,
            code: "feature_not_enabled".into(),
            message: "delete API not enabled".into(),
        },
    );
    let out = run(&[&base[..], &["--from-file", path_str(&list), "--yes"]].concat());
    assert_eq!(out.code, 3, "{out:?}");
    // Without --per-hour and --per-day: the API's documented quota.
    assert!(
        out.stderr
            .starts_with("deleting 2 visitors, at most 30 requests an hour and 500 a day; "),
        "{out:?}"
    );
    let errors: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 1, "{out:?}");
    assert!(
        errors[0].contains("HTTP 403: feature_not_enabled"),
        "{out:?}"
    );
    assert!(errors[0].contains("run the same command again"), "{out:?}");
    assert_eq!(api.fake.requests(), 1);
    api.fake.fail_next(
        1,
        Fault::Api {
            status: 400,
            code: "request_cannot_be_parsed".into(),
            message: "invalid visitor id".into(),
        },
    );
    let out = run(&[&base[..], &["--from-file", path_str(&list), "--yes"]].concat());
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr
            .contains("failed vis0: HTTP 400: request_cannot_be_parsed: invalid visitor id\n"),
        "{out:?}"
    );
    assert!(out.stderr.contains("deleted vis1"), "{out:?}");
    assert!(
        out.stderr.contains("deleted 1, not found 0, failed 1"),
        "{out:?}"
    );
    // The failed one is tried again by the next run.
    let out = run(&[&base[..], &["--from-file", path_str(&list), "--yes"]].concat());
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr
            .contains("deleted 1, not found 0, failed 0 (1 done"),
        "{out:?}"
    );
}
