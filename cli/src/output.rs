//! Writing events: indented JSON arrays, JSON lines, CSV and tables,
//! optionally reduced to chosen fields, streamed one event at a time.
//!
//! Events are the JSON the API sent (not the SDK's typed `Event`), so fields
//! this version of the SDK does not know are written too.

use std::borrow::Cow;
use std::io::{self, IsTerminal, Write};

use serde_json::{Map, Value};

use crate::args::Format;
use crate::failure::{Failure, Result};
use crate::table::Layout;

/// The columns of `--format csv` when `--fields` is not given.
pub const DEFAULT_CSV_FIELDS: &[&str] = &[
    "event_id",
    "timestamp",
    "identification.visitor_id",
    "identification.confidence.score",
    "linked_id",
    "ip_address",
    "bot",
    "suspect",
    "url",
];

/// A dotted path into an event: `ip_info.v4.geolocation.city_name`. A
/// numeric segment also indexes an array.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldPath {
    text: String,
    parts: Vec<String>,
}

impl FieldPath {
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        let parts: Vec<String> = text.split('.').map(str::to_owned).collect();
        if text.is_empty() || parts.iter().any(|p| p.is_empty()) {
            return Err(Failure::usage(format!(
                "--fields: {text:?} is not a field path (names separated by dots, e.g. identification.visitor_id)"
            )));
        }
        Ok(Self {
            text: text.to_owned(),
            parts,
        })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The value at this path, if there is one.
    pub fn get<'v>(&self, value: &'v Value) -> Option<&'v Value> {
        self.parts.iter().try_fold(value, |at, part| match at {
            Value::Object(map) => map.get(part),
            Value::Array(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        })
    }

    /// Puts `value` into `into` at this path, creating objects on the way.
    fn insert(&self, into: &mut Map<String, Value>, value: Value) {
        let Some((last, parents)) = self.parts.split_last() else {
            return;
        };
        let mut at = into;
        for part in parents {
            let entry = at
                .entry(part.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            match entry {
                Value::Object(map) => at = map,
                _ => return,
            }
        }
        at.insert(last.clone(), value);
    }
}

/// Parses `--fields` (already split at commas); empty means "everything".
pub fn parse_fields(list: &[String]) -> Result<Vec<FieldPath>> {
    list.iter().map(|f| FieldPath::parse(f)).collect()
}

/// Keeps only `fields` of `event`, in their nested places; missing ones are
/// left out.
pub fn pick(event: &Value, fields: &[FieldPath]) -> Value {
    let mut out = Map::new();
    for field in fields {
        if let Some(value) = field.get(event) {
            field.insert(&mut out, value.clone());
        }
    }
    Value::Object(out)
}

/// One CSV cell: strings as they are (made formula-safe, see
/// [`formula_safe`]), numbers and booleans as JSON writes them, nothing for
/// null or missing, compact JSON for objects and arrays.
pub fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => formula_safe(s).into_owned(),
        Some(other) => other.to_string(),
    }
}

/// Text a spreadsheet would read as a formula (it starts with `=`, `+`,
/// `-`, `@`, a tab or a carriage return) with a `'` in front, which makes
/// it plain text (OWASP's advice against CSV injection); [`csv_quote`]
/// then quotes it. Only text gets this: numbers (`-1.5`) stay numbers.
pub fn formula_safe(text: &str) -> Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// Quotes a CSV field when it holds a comma, a quote or a line break
/// (RFC 4180), or is formula-safe text (OWASP: quote such cells too),
/// doubling inner quotes.
pub fn csv_quote(field: &str) -> Cow<'_, str> {
    if field.contains([',', '"', '\n', '\r']) || field.starts_with('\'') {
        Cow::Owned(format!("\"{}\"", field.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(field)
    }
}

fn write_csv_row<W: Write>(out: &mut W, cells: impl Iterator<Item = String>) -> io::Result<()> {
    let mut first = true;
    for cell in cells {
        if !first {
            out.write_all(b",")?;
        }
        first = false;
        out.write_all(csv_quote(&cell).as_bytes())?;
    }
    out.write_all(b"\n")
}

/// The width `--format table` fits: the terminal's when stdout is one (and
/// says its size), else `COLUMNS` when set, else none (nothing is cut but
/// values longer than their column).
pub fn stdout_width() -> Option<usize> {
    if io::stdout().is_terminal()
        && let Some((_, columns)) = console::Term::stdout().size_checked()
    {
        return Some(usize::from(columns));
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse().ok())
        .filter(|&c: &usize| c > 0)
}

/// Writes events one at a time in the chosen format.
pub struct EventWriter<W: Write> {
    out: W,
    format: Format,
    fields: Vec<FieldPath>,
    /// The columns of `Format::Table`.
    layout: Layout,
    written: u64,
}

impl<W: Write> EventWriter<W> {
    /// `fields` empty: whole events (for CSV, [`DEFAULT_CSV_FIELDS`]).
    pub fn new(out: W, format: Format, mut fields: Vec<FieldPath>) -> Self {
        if format == Format::Csv && fields.is_empty() {
            fields = DEFAULT_CSV_FIELDS
                .iter()
                .filter_map(|f| FieldPath::parse(f).ok())
                .collect();
        }
        Self {
            out,
            format,
            fields,
            layout: Layout::new(None),
            written: 0,
        }
    }

    /// Fits `Format::Table` to lines of `width` characters (`None`: no
    /// limit, the default).
    pub fn with_width(mut self, width: Option<usize>) -> Self {
        self.layout = Layout::new(width);
        self
    }

    /// What comes before the first event: the CSV or table header.
    pub fn begin(&mut self) -> io::Result<()> {
        match self.format {
            Format::Csv => write_csv_row(
                &mut self.out,
                self.fields
                    .iter()
                    .map(|f| formula_safe(f.text()).into_owned()),
            ),
            Format::Table => writeln!(self.out, "{}", self.layout.header()),
            Format::Json | Format::Jsonl => Ok(()),
        }
    }

    pub fn event(&mut self, event: &Value) -> io::Result<()> {
        let picked;
        let shown = if self.fields.is_empty() || matches!(self.format, Format::Csv | Format::Table)
        {
            event
        } else {
            picked = pick(event, &self.fields);
            &picked
        };
        match self.format {
            Format::Jsonl => {
                serde_json::to_writer(&mut self.out, shown)?;
                self.out.write_all(b"\n")?;
            }
            Format::Json => {
                let text = serde_json::to_string_pretty(shown)?;
                self.out
                    .write_all(if self.written == 0 { b"[\n" } else { b",\n" })?;
                // Indent the event one level inside the array. Line breaks
                // only occur between tokens: JSON strings escape them.
                self.out.write_all(b"  ")?;
                self.out.write_all(text.replace('\n', "\n  ").as_bytes())?;
            }
            Format::Csv => {
                write_csv_row(
                    &mut self.out,
                    self.fields.iter().map(|f| cell(f.get(event))),
                )?;
            }
            Format::Table => writeln!(self.out, "{}", self.layout.row(event))?,
        }
        self.written += 1;
        Ok(())
    }

    /// What comes after the last event: the end of the JSON array.
    pub fn finish(&mut self) -> io::Result<()> {
        if self.format == Format::Json {
            self.out
                .write_all(if self.written == 0 { b"[]\n" } else { b"\n]\n" })?;
        }
        self.out.flush()
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }
}

/// Writes `text` and a line break to stdout.
pub fn print_line(text: &str) -> Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|e| Failure::write("stdout", &e))
}

/// Writes `bytes` to stdout as they are.
pub fn print_bytes(bytes: &[u8]) -> Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| Failure::write("stdout", &e))
}

/// Writes one value as indented (or compact) JSON and a line break.
pub fn print_json<T: serde::Serialize>(value: &T, compact: bool) -> Result<()> {
    let mut out = io::stdout().lock();
    let written = if compact {
        serde_json::to_writer(&mut out, value)
    } else {
        serde_json::to_writer_pretty(&mut out, value)
    };
    written
        .map_err(io::Error::from)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
        .map_err(|e| Failure::write("stdout", &e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event() -> Value {
        json!({
            "event_id": "1.a",
            "timestamp": 1,
            "url": "https://shop.example/a,b",
            "identification": {"visitor_id": "v1", "visitor_found": true,
                               "confidence": {"score": 0.95}},
            "tags": {"note": "said \"hi\"\nbye"}
        })
    }

    fn fields(list: &[&str]) -> Vec<FieldPath> {
        list.iter()
            .map(|f| FieldPath::parse(f).unwrap_or_else(|e| panic!("{e}")))
            .collect()
    }

    fn render(format: Format, list: &[&str], events: usize) -> String {
        let mut writer = EventWriter::new(Vec::new(), format, fields(list));
        let one = event();
        let run = (|| {
            writer.begin()?;
            for _ in 0..events {
                writer.event(&one)?;
            }
            writer.finish()
        })();
        assert!(run.is_ok());
        String::from_utf8(writer.out).unwrap_or_default()
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        assert_eq!(csv_quote("plain"), "plain");
        assert_eq!(csv_quote("a,b"), "\"a,b\"");
        assert_eq!(csv_quote("say \"x\""), "\"say \"\"x\"\"\"");
        assert_eq!(csv_quote("two\nlines"), "\"two\nlines\"");
    }

    #[test]
    fn text_a_spreadsheet_would_run_is_made_plain_text() {
        let csv = |value: Value| csv_quote(&cell(Some(&value))).into_owned();
        assert_eq!(csv(json!("=1+2")), "\"'=1+2\"");
        assert_eq!(csv(json!("+1")), "\"'+1\"");
        assert_eq!(
            csv(json!("-2+3+cmd|' /C calc'!A0")),
            "\"'-2+3+cmd|' /C calc'!A0\""
        );
        assert_eq!(csv(json!("@SUM(A1:A9)")), "\"'@SUM(A1:A9)\"");
        assert_eq!(csv(json!("\t=1")), "\"'\t=1\"");
        assert_eq!(csv(json!("\r=1")), "\"'\r=1\"");
        assert_eq!(
            csv(json!("=HYPERLINK(\"http://x\",\"y\")")),
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""
        );
        // Harmless text and numbers are left alone, negative ones too.
        assert_eq!(csv(json!("a=b")), "a=b");
        assert_eq!(csv(json!("'quoted")), "\"'quoted\"");
        assert_eq!(csv(json!(-1.5)), "-1.5");
        assert_eq!(csv(json!(-3)), "-3");
        assert_eq!(csv(json!({"k": "=1"})), "\"{\"\"k\"\":\"\"=1\"\"}\"");
    }

    #[test]
    fn csv_with_nested_fields() {
        let text = render(
            Format::Csv,
            &[
                "event_id",
                "identification.confidence.score",
                "url",
                "tags.note",
                "missing.x",
                "identification",
            ],
            2,
        );
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some("event_id,identification.confidence.score,url,tags.note,missing.x,identification")
        );
        assert!(text.starts_with("event_id,"));
        assert!(
            text.contains("1.a,0.95,\"https://shop.example/a,b\",\"said \"\"hi\"\"\nbye\",,\"{"),
            "{text}"
        );
    }

    #[test]
    fn json_array_is_valid_and_streamed() {
        for n in [0, 1, 3] {
            let text = render(Format::Json, &[], n);
            let parsed: Value = serde_json::from_str(&text).unwrap_or_default();
            assert_eq!(parsed.as_array().map(Vec::len), Some(n), "{text}");
        }
    }

    #[test]
    fn picked_fields_keep_their_nesting() {
        let text = render(Format::Jsonl, &["event_id", "identification.visitor_id"], 1);
        assert_eq!(
            text,
            "{\"event_id\":\"1.a\",\"identification\":{\"visitor_id\":\"v1\"}}\n"
        );
    }

    #[test]
    fn whole_events_are_written_as_given() {
        let mut one = event();
        one["not_in_the_sdk"] = json!({"deep": [1, 2.5, null]});
        for format in [Format::Jsonl, Format::Json] {
            let mut writer = EventWriter::new(Vec::new(), format, Vec::new());
            let run = (|| {
                writer.begin()?;
                writer.event(&one)?;
                writer.finish()
            })();
            assert!(run.is_ok());
            let text = String::from_utf8(writer.out).unwrap_or_default();
            let back: Value = serde_json::from_str(&text).unwrap_or_default();
            let back = if format == Format::Json {
                back[0].clone()
            } else {
                back
            };
            assert_eq!(back, one, "{format:?}: {text}");
        }
    }

    #[test]
    fn bad_paths_are_refused() {
        for bad in ["", "a..b", ".a", "a."] {
            assert!(FieldPath::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn paths_index_arrays() {
        let value = json!({"a": [{"b": 1}, {"b": 2}]});
        assert_eq!(fields(&["a.1.b"])[0].get(&value), Some(&json!(2)));
        assert_eq!(fields(&["a.x"])[0].get(&value), None);
    }
}
