//! Every example payload in upstream's schema tree (read in place from
//! `../shared/upstream/schemas/paths/examples`) decodes into the model its
//! directory and name say it is, and comes back out of that model with every
//! value it held: nothing dropped (fields the schema does not declare are
//! kept in `unknown_fields`), nothing changed (a whole number in a float
//! field may come back as `8.0`: the same value). Skips with a printed reason
//! when `../shared` is absent.

#[path = "common/fixtures.rs"]
mod fixtures;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use fingerprint_server_sdk::{ApiError, types};
use fixtures::{Difference, SchemaPaths, describe, differences, shared_path, v4_document};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

const EXAMPLES: &str = "upstream/schemas/paths/examples";

/// What an example file is, from where it sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Event,
    EventSearch,
    EventUpdate,
    EdgeRequest,
    EdgeResponse,
    Error,
}

impl Kind {
    /// The schema in the bundled document that describes this kind.
    fn schema(self) -> &'static str {
        match self {
            Self::Event => "Event",
            Self::EventSearch => "EventSearch",
            Self::EventUpdate => "EventUpdate",
            Self::EdgeRequest => "EdgeRequest",
            Self::EdgeResponse => "EdgeResponse",
            Self::Error => "ErrorResponse",
        }
    }
}

/// Maps a path relative to the examples directory to its kind. Anything not
/// listed here is an error, so a new directory or file upstream is noticed.
fn classify(relative: &Path) -> Result<Kind, String> {
    let parts: Vec<&str> = relative
        .iter()
        .map(|p| p.to_str().expect("example paths are UTF-8"))
        .collect();
    let kind = match parts.as_slice() {
        [name] => return Err(format!("example {name} sits outside any category")),
        [_, name] | [_, _, name] if !name.ends_with(".json") => {
            return Err(format!("{} is not a .json example", relative.display()));
        }
        ["events", name] if name.contains("request") => Kind::EventUpdate,
        ["events", _] => Kind::Event,
        ["events", "search", _] => Kind::EventSearch,
        ["webhook", _] => Kind::Event,
        ["edge", "analyze.json"] => Kind::EdgeRequest,
        ["edge", "analyze_200.json"] => Kind::EdgeResponse,
        ["errors", _] => Kind::Error,
        _ => {
            return Err(format!(
                "{}: unknown example category; teach tests/upstream_examples.rs what it is",
                relative.display()
            ));
        }
    };
    Ok(kind)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// What the round trip of one example showed, beyond exact equality.
#[derive(Default)]
struct Tolerated {
    /// Paths the input sets that the schema does not declare (reported, not
    /// failed: they show the round trip kept something the typed fields do
    /// not hold, through `unknown_fields`).
    undeclared: BTreeSet<String>,
    /// Numbers written differently but equal in value (`1` came back `1.0`).
    renumbered: Vec<String>,
}

/// Decodes `input` into `T`, serializes it back and sorts the differences:
/// anything other than a number respelled is a failure.
fn round_trip<T: DeserializeOwned + Serialize>(
    input: &Value,
    schema: &SchemaPaths,
) -> Result<(T, Tolerated), String> {
    let model: T = serde_json::from_value(input.clone()).map_err(|e| format!("decode: {e}"))?;
    let output = serde_json::to_value(&model).map_err(|e| format!("encode: {e}"))?;
    let mut tolerated = Tolerated {
        undeclared: schema.undeclared(input),
        ..Tolerated::default()
    };
    let mut wrong = Vec::new();
    for difference in differences(input, &output) {
        match &difference {
            Difference::Changed { .. } if difference.is_same_number() => {
                tolerated.renumbered.push(difference.to_string());
            }
            _ => wrong.push(difference),
        }
    }
    if wrong.is_empty() {
        Ok((model, tolerated))
    } else {
        Err(format!(
            "the round trip lost or changed known fields:\n{}",
            describe(&wrong)
        ))
    }
}

/// Checks one example; `Err` carries the reason.
fn check(kind: Kind, bytes: &[u8], schema: &SchemaPaths) -> Result<Tolerated, String> {
    let input: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    match kind {
        Kind::Event => round_trip::<types::Event>(&input, schema).map(|(_, t)| t),
        Kind::EventSearch => {
            let (page, tolerated) = round_trip::<types::EventSearch>(&input, schema)?;
            if page.events.is_empty() {
                return Err("a search example without events checks nothing".into());
            }
            Ok(tolerated)
        }
        Kind::EventUpdate => round_trip::<types::EventUpdate>(&input, schema).map(|(_, t)| t),
        Kind::EdgeRequest => round_trip::<types::EdgeRequest>(&input, schema).map(|(_, t)| t),
        Kind::EdgeResponse => round_trip::<types::EdgeResponse>(&input, schema).map(|(_, t)| t),
        Kind::Error => {
            let (response, tolerated) = round_trip::<types::ErrorResponse>(&input, schema)?;
            if let types::ErrorCode::Unrecognized(code) = &response.error.code {
                return Err(format!(
                    "error code {code:?} is not a known ErrorCode variant"
                ));
            }
            let api = ApiError::from_body(bytes).ok_or("ApiError::from_body returned None")?;
            if api.code != response.error.code || api.message != response.error.message {
                return Err(format!(
                    "ApiError::from_body disagrees with ErrorResponse: {api:?}"
                ));
            }
            Ok(tolerated)
        }
    }
}

#[test]
fn every_upstream_example_decodes_and_round_trips() {
    let Some(root) = shared_path(EXAMPLES) else {
        return;
    };
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.sort();

    let document = v4_document();
    let mut schemas: BTreeMap<Kind, SchemaPaths> = BTreeMap::new();
    let mut per_kind: BTreeMap<Kind, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut undeclared: BTreeMap<String, Vec<String>> = BTreeMap::new();

    for path in &files {
        let relative = path.strip_prefix(&root).expect("under the root");
        let name = relative.display().to_string();
        let kind = match classify(relative) {
            Ok(kind) => kind,
            Err(reason) => {
                failures.push(reason);
                continue;
            }
        };
        let schema = schemas
            .entry(kind)
            .or_insert_with(|| SchemaPaths::of(&document, kind.schema()));
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {name}: {e}"));
        match check(kind, &bytes, schema) {
            Ok(tolerated) => {
                *per_kind.entry(kind).or_default() += 1;
                for path in &tolerated.undeclared {
                    undeclared
                        .entry(path.clone())
                        .or_default()
                        .push(name.clone());
                }
                if !tolerated.renumbered.is_empty() {
                    eprintln!(
                        "{name} ({kind:?}): numbers respelled, same value: {:?}",
                        tolerated.renumbered
                    );
                }
            }
            Err(reason) => failures.push(format!("{name} as {kind:?}: {reason}")),
        }
    }
    for (path, files) in &undeclared {
        eprintln!("not in the schema, kept in unknown_fields: {path} (in {files:?})");
    }

    assert!(
        failures.is_empty(),
        "{} of {} upstream examples failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
    // Every category must have been exercised, or the walk found nothing.
    for kind in [
        Kind::Event,
        Kind::EventSearch,
        Kind::EventUpdate,
        Kind::EdgeRequest,
        Kind::EdgeResponse,
        Kind::Error,
    ] {
        assert!(
            per_kind.get(&kind).copied().unwrap_or(0) > 0,
            "no upstream example of {kind:?} was found under {}",
            root.display()
        );
    }
}

#[test]
fn example_categories_are_classified_and_unknown_ones_refused() {
    let cases = [
        ("events/get_event_200.json", Some(Kind::Event)),
        (
            "events/update_event_one_field_request.json",
            Some(Kind::EventUpdate),
        ),
        (
            "events/search/get_event_search_200.json",
            Some(Kind::EventSearch),
        ),
        ("webhook/webhook_event.json", Some(Kind::Event)),
        ("edge/analyze.json", Some(Kind::EdgeRequest)),
        ("edge/analyze_200.json", Some(Kind::EdgeResponse)),
        ("errors/404_event_not_found.json", Some(Kind::Error)),
        ("visitors/delete_200.json", None),
        ("edge/analyze_400.json", None),
        ("events/search/deeper/x.json", None),
        ("errors/readme.md", None),
        ("loose.json", None),
    ];
    for (path, expected) in cases {
        assert_eq!(classify(Path::new(path)).ok(), expected, "{path}");
    }
}
