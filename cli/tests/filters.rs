//! The search flags of the `fingerprint` binary against the SDK's table of
//! search parameters (`search::PARAMETERS`): every parameter is a flag, in
//! `--help`, with its values in `--help` and the shell completions, and
//! reaches the wire as given; the lists of filters in the READMEs are the
//! table's.

use std::collections::BTreeMap;
use std::path::Path;

use fingerprint_server_sdk::mock::Fault;
use fingerprint_server_sdk::search::{self, Kind, Parameter, Role};
use serde_json::json;

mod common;
use common::{Api, run, scratch};

/// Set to rewrite the READMEs' lists of filters instead of failing.
const BLESS: &str = "FINGERPRINT_BLESS_DOCS";

fn help(command: &[&str]) -> String {
    let mut args = command.to_vec();
    args.push("--help");
    let out = run(&args);
    assert_eq!(out.code, 0, "{command:?}: {}", out.stderr);
    out.stdout
}

fn flag(p: &Parameter) -> String {
    format!("--{}", p.name.replace('_', "-"))
}

fn filters() -> impl Iterator<Item = &'static Parameter> {
    search::PARAMETERS.iter().filter(|p| p.role == Role::Filter)
}

/// Whether `help` lists `flag` as an option (at the start of a line).
fn lists(help: &str, flag: &str) -> bool {
    help.lines().any(|line| {
        let line = line.trim_start();
        line.strip_prefix(flag)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '<', '[']))
    })
}

#[test]
fn every_parameter_is_a_flag_with_its_values_in_help_and_completions() {
    assert!(filters().count() > 40, "the table has the filters");
    let search_help = help(&["events", "search"]);
    for p in search::PARAMETERS {
        assert!(
            lists(&search_help, &flag(p)),
            "events search has no {}",
            flag(p)
        );
    }
    for command in [
        &["events", "export"][..],
        &["events", "tail"],
        &["webhook", "listen"],
    ] {
        let text = help(command);
        for p in filters() {
            assert!(lists(&text, &flag(p)), "{command:?} has no {}", flag(p));
        }
    }
    let out = run(&["completions", "bash"]);
    assert_eq!(out.code, 0);
    let bash = out.stdout;
    let mut enums = 0;
    for p in filters() {
        let Kind::Enum(values) = p.kind else { continue };
        enums += 1;
        let listed = format!("[possible values: {}]", values.join(", "));
        assert!(search_help.contains(&listed), "{}: {listed}", flag(p));
        let completed = format!("\"{}\"", values.join(" "));
        assert!(bash.contains(&completed), "{}: {completed}", flag(p));
    }
    assert!(enums > 5, "{enums} enum filters");
}

#[test]
fn every_filter_reaches_the_api_as_given() {
    let mut args: Vec<String> = Vec::new();
    let mut expected: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in filters() {
        let values: Vec<String> = match p.kind {
            // A bare boolean flag means true.
            Kind::Bool => {
                args.push(flag(p));
                expected.insert(p.name.to_owned(), vec!["true".to_owned()]);
                continue;
            }
            Kind::Enum(values) if p.repeated => {
                vec![values[0].to_owned(), values[values.len() - 1].to_owned()]
            }
            Kind::Enum(values) => vec![values[0].to_owned()],
            Kind::Integer { min, .. } => vec![min.unwrap_or(1).to_string()],
            Kind::Number => vec!["0.5".to_owned()],
            Kind::Time => vec!["1717243200000".to_owned()],
            _ if p.repeated => vec![format!("{}-a", p.name), format!("{}-b b", p.name)],
            _ => vec![format!("{}-x", p.name)],
        };
        for value in &values {
            args.push(flag(p));
            args.push(value.clone());
        }
        expected.insert(p.name.to_owned(), values);
    }
    let api = Api::start();
    // An empty page, whatever the query holds: a queued fault answers
    // before the fake looks at any value.
    api.fake
        .fail_next(1, Fault::json(200, &json!({"events": []})));
    let mut all = vec!["--retries", "0", "events", "search", "--format", "jsonl"];
    all.extend(args.iter().map(String::as_str));
    let out = api.run(&all);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    let journal = api.fake.journal();
    let [request] = journal.as_slice() else {
        panic!("one request, not {journal:?}");
    };
    let mut sent: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (key, value) in &request.query {
        sent.entry(key).or_default().push(value.clone());
    }
    let query = &request.query;
    for (name, values) in &expected {
        assert_eq!(sent.get(name.as_str()), Some(values), "{name} in {query:?}");
    }
    // No other search parameter (the SDK adds its own `ii`, which is not one).
    let parameters = sent
        .keys()
        .filter(|key| search::parameter(key).is_some())
        .count();
    assert_eq!(parameters, expected.len(), "nothing else: {query:?}");
}

#[test]
fn a_value_the_sdk_refuses_is_a_usage_error_naming_its_flag() {
    let number = filters()
        .find(|p| p.kind == Kind::Number)
        .unwrap_or_else(|| panic!("a number filter"));
    let out = run(&["--demo", "events", "search", &flag(number), "lots"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stdout.is_empty());
    assert!(
        out.stderr.contains(&format!("{}: ", flag(number))),
        "{}",
        out.stderr
    );
}

// ---------------------------------------------------------------- the READMEs

const START: &str = "<!-- filters:start -->";
const END: &str = "<!-- filters:end -->";

/// What a filter takes, for people.
fn takes(p: &Parameter) -> String {
    let mut text = match p.kind {
        Kind::Bool => "`true` or `false` (alone: `true`)".to_owned(),
        Kind::Enum(values) => {
            let listed: Vec<String> = values.iter().map(|v| format!("`{v}`")).collect();
            format!("{}, or a newer value", listed.join(", "))
        }
        Kind::Integer {
            min: Some(min),
            max: Some(max),
        } => format!("a whole number, {min} to {max}"),
        Kind::Integer { .. } => "a whole number".to_owned(),
        Kind::Number => "a number".to_owned(),
        Kind::Time => "a time (RFC 3339, Unix ms, `7d`, ...)".to_owned(),
        _ => "text".to_owned(),
    };
    if p.repeated {
        text.push_str("; repeatable");
    }
    text
}

/// The list of filters the READMEs carry, from the table.
fn filters_markdown() -> String {
    let mut out = format!(
        "{START}\n<!-- generated from search::PARAMETERS by the filters test of \
         fingerprint-cli, which rewrites it when {BLESS} is set -->\n\n\
         | flag | takes | what it selects |\n|---|---|---|\n"
    );
    for p in filters() {
        let summary = match p.summary.trim() {
            "" => "(not described yet)",
            text => text.strip_suffix('.').unwrap_or(text),
        };
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            flag(p),
            takes(p).replace('|', "\\|"),
            summary.replace('|', "\\|")
        ));
    }
    out.push_str(END);
    out
}

/// Checks the block between the markers of `file`; with [`BLESS`] set,
/// rewrites it instead. Returns the complaint, if any.
fn check_block(file: &Path, expected: &str) -> Option<String> {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let (Some(start), Some(end)) = (text.find(START), text.find(END)) else {
        return Some(format!(
            "{} has no {START} ... {END} block; add one holding:\n{expected}",
            file.display()
        ));
    };
    let found = &text[start..end + END.len()];
    if found == expected {
        return None;
    }
    if std::env::var_os(BLESS).is_some() {
        let updated = format!("{}{expected}{}", &text[..start], &text[end + END.len()..]);
        std::fs::write(file, updated).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        return None;
    }
    Some(format!(
        "the list of filters in {} differs from search::PARAMETERS; replace its block with \
         (or run with {BLESS}=1):\n{expected}",
        file.display()
    ))
}

#[test]
fn the_readmes_list_the_filters_of_the_table() {
    let expected = filters_markdown();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let complaints: Vec<String> = [root.join("../README.md"), root.join("README.md")]
        .iter()
        .filter_map(|file| check_block(file, &expected))
        .collect();
    assert!(complaints.is_empty(), "{}", complaints.join("\n\n"));
    // Every row names a flag the binary has.
    let search_help = help(&["events", "search"]);
    for line in expected.lines().filter(|l| l.starts_with("| `--")) {
        let flag = line.split('`').nth(1).unwrap_or_default();
        assert!(lists(&search_help, flag), "{flag}");
    }
}

#[test]
fn a_list_that_drifted_is_reported_with_the_expected_text() {
    if std::env::var_os(BLESS).is_some() {
        return;
    }
    let dir = scratch("drifted");
    let expected = filters_markdown();
    let file = dir.join("README.md");
    let stale = expected.replace("| `--", "| `--old-");
    std::fs::write(&file, format!("# x\n\n{stale}\n\nmore\n")).unwrap_or_else(|e| panic!("{e}"));
    let complaint = check_block(&file, &expected).unwrap_or_default();
    assert!(
        complaint.contains("differs from search::PARAMETERS"),
        "{complaint}"
    );
    assert!(complaint.ends_with(&expected), "{complaint}");
    std::fs::write(&file, format!("# x\n\n{expected}\n")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(check_block(&file, &expected), None);
    std::fs::write(&file, "# no list\n").unwrap_or_else(|e| panic!("{e}"));
    assert!(check_block(&file, &expected).is_some_and(|c| c.contains("has no")));
}
