//! `--format table`: events as aligned columns for people at a terminal,
//! fitted to a width.
//!
//! The layout depends only on the width, never on the events, so rows
//! printed page by page (or one at a time by `events tail`) line up under
//! one header. Values are cut with `…` when they do not fit, and control
//! characters in them (an escape sequence in a tag, say) are shown as `�`
//! so that an event cannot drive the terminal.

use chrono::DateTime;
use console::{Alignment, pad_str, truncate_str};
use serde_json::Value;

/// Between two columns.
const GAP: &str = "  ";

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Column {
    Id,
    Time,
    Visitor,
    Client,
    Ip,
    Bot,
    Score,
    Flags,
}

struct Spec {
    column: Column,
    title: &'static str,
    /// The width it gets when there is room.
    ideal: usize,
}

/// In display order. FLAGS, the last, takes the rest of the line.
const SPECS: &[Spec] = &[
    Spec {
        column: Column::Id,
        title: "EVENT ID",
        ideal: 22,
    },
    Spec {
        column: Column::Time,
        title: "UTC TIME",
        ideal: 19,
    },
    Spec {
        column: Column::Visitor,
        title: "VISITOR",
        ideal: 20,
    },
    Spec {
        column: Column::Client,
        title: "BROWSER / OS",
        ideal: 22,
    },
    Spec {
        column: Column::Ip,
        title: "IP / COUNTRY",
        ideal: 19,
    },
    Spec {
        column: Column::Bot,
        title: "BOT",
        ideal: 4,
    },
    Spec {
        column: Column::Score,
        title: "SCORE",
        ideal: 5,
    },
    Spec {
        column: Column::Flags,
        title: "FLAGS",
        ideal: 30,
    },
];

/// How a line that is too long is made to fit, step by step until it
/// does: the flags give some room, the browser goes, the time loses its
/// date, the flags give the rest of their room, IP and country go, and so
/// on. The event id stays, as wide as it can.
const FIT: &[Step] = &[
    Step::Shrink(Column::Flags, 16),
    Step::Drop(Column::Client),
    Step::Shrink(Column::Time, TIME_ONLY),
    Step::Shrink(Column::Flags, 5),
    Step::Drop(Column::Ip),
    Step::Drop(Column::Score),
    Step::Drop(Column::Bot),
    Step::Drop(Column::Flags),
    Step::Drop(Column::Visitor),
    Step::Drop(Column::Time),
    Step::Shrink(Column::Id, 10),
];

#[derive(Copy, Clone, Debug)]
enum Step {
    /// Narrow the column to this width.
    Shrink(Column, usize),
    Drop(Column),
}

/// The width of `HH:MM:SS`, the time without its date.
const TIME_ONLY: usize = 8;

/// The signals shown in FLAGS when true: (path in the event, label).
const FLAGS: &[(&[&str], &str)] = &[
    (&["suspect"], "suspect"),
    (&["vpn"], "vpn"),
    (&["proxy"], "proxy"),
    (&["ip_blocklist", "tor_node"], "tor"),
    (&["incognito"], "incognito"),
    (&["tampering"], "tampering"),
    (&["tampering_details", "anti_detect_browser"], "anti-detect"),
    (&["virtual_machine"], "vm"),
    (&["developer_tools"], "devtools"),
    (&["privacy_settings"], "privacy"),
    (&["location_spoofing"], "spoofing"),
    (&["mitm_attack"], "mitm"),
    (&["emulator"], "emulator"),
    (&["simulator"], "simulator"),
    (&["jailbroken"], "jailbroken"),
    (&["frida"], "frida"),
    (&["cloned_app"], "cloned"),
    (&["root_apps"], "root"),
    (&["active_call"], "call"),
    (&["rare_device"], "rare"),
    (&["high_activity_device"], "high-activity"),
    (&["replayed"], "replayed"),
];

/// The columns chosen for a width, and how wide each is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// (column, width); the last column's width is `None` when the line
    /// has no limit.
    columns: Vec<(Column, Option<usize>)>,
}

impl Layout {
    /// The layout for lines of at most `width` characters; `None`: no
    /// limit (output that is not a terminal).
    pub fn new(width: Option<usize>) -> Self {
        let Some(width) = width else {
            let mut columns: Vec<(Column, Option<usize>)> =
                SPECS.iter().map(|s| (s.column, Some(s.ideal))).collect();
            if let Some(last) = columns.last_mut() {
                last.1 = None;
            }
            return Self { columns };
        };
        let mut widths: Vec<(Column, usize)> = SPECS.iter().map(|s| (s.column, s.ideal)).collect();
        let total = |widths: &[(Column, usize)]| {
            widths.iter().map(|(_, w)| w).sum::<usize>()
                + GAP.len() * widths.len().saturating_sub(1)
        };
        for step in FIT {
            if total(&widths) <= width {
                break;
            }
            match *step {
                Step::Shrink(column, to) => {
                    if let Some(entry) = widths.iter_mut().find(|(c, _)| *c == column) {
                        entry.1 = entry.1.min(to);
                    }
                }
                Step::Drop(column) => widths.retain(|(c, _)| *c != column),
            }
        }
        // Room left over: the date back first, the rest to the last column.
        let mut spare = width.saturating_sub(total(&widths));
        let full_time = spec(Column::Time).ideal;
        if let Some(time) = widths.iter_mut().find(|(c, _)| *c == Column::Time)
            && time.1 < full_time
            && spare >= full_time - time.1
        {
            spare -= full_time - time.1;
            time.1 = full_time;
        }
        if let Some(last) = widths.last_mut() {
            last.1 += spare;
        }
        Self {
            columns: widths.into_iter().map(|(c, w)| (c, Some(w))).collect(),
        }
    }

    pub fn header(&self) -> String {
        self.line(|column, _| spec(column).title.to_owned())
    }

    pub fn row(&self, event: &Value) -> String {
        self.line(|column, width| cell(event, column, width))
    }

    fn line(&self, text: impl Fn(Column, Option<usize>) -> String) -> String {
        let mut line = String::new();
        let last = self.columns.len().saturating_sub(1);
        for (i, (column, width)) in self.columns.iter().enumerate() {
            if i > 0 {
                line.push_str(GAP);
            }
            let value = printable(&text(*column, *width));
            match width {
                Some(width) if i < last => {
                    let cut = truncate_str(&value, *width, "…");
                    line.push_str(&pad_str(&cut, *width, Alignment::Left, None));
                }
                Some(width) => line.push_str(&truncate_str(&value, *width, "…")),
                None => line.push_str(&value),
            }
        }
        line.truncate(line.trim_end().len());
        line
    }
}

/// The header and one row per event, for lines of at most `width`
/// characters (`None`: no limit): what the writer prints, page after page.
#[cfg(test)]
pub fn render(events: &[Value], width: Option<usize>) -> Vec<String> {
    let layout = Layout::new(width);
    std::iter::once(layout.header())
        .chain(events.iter().map(|e| layout.row(e)))
        .collect()
}

fn spec(column: Column) -> &'static Spec {
    SPECS
        .iter()
        .find(|s| s.column == column)
        .unwrap_or(&SPECS[0])
}

/// Control characters (escape sequences, line breaks) as `�`.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}

fn at<'v>(event: &'v Value, path: &[&str]) -> Option<&'v Value> {
    path.iter().try_fold(event, |v, key| v.get(key))
}

fn text<'v>(event: &'v Value, path: &[&str]) -> Option<&'v str> {
    at(event, path)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

const MISSING: &str = "-";

/// The text of `column` for `event`, in a column `width` wide.
fn cell(event: &Value, column: Column, width: Option<usize>) -> String {
    match column {
        Column::Id => text(event, &["event_id"]).unwrap_or(MISSING).to_owned(),
        Column::Time => {
            let format = match width {
                Some(w) if w < spec(Column::Time).ideal => "%H:%M:%S",
                _ => "%Y-%m-%d %H:%M:%S",
            };
            at(event, &["timestamp"])
                .and_then(Value::as_i64)
                .and_then(DateTime::from_timestamp_millis)
                .map_or_else(|| MISSING.to_owned(), |t| t.format(format).to_string())
        }
        Column::Visitor => text(event, &["identification", "visitor_id"])
            .unwrap_or(MISSING)
            .to_owned(),
        Column::Client => client(event),
        Column::Ip => {
            let ip = text(event, &["ip_address"]);
            let country = ["v4", "v6"]
                .iter()
                .find_map(|v| text(event, &["ip_info", v, "geolocation", "country_code"]));
            match (ip, country) {
                (Some(ip), Some(country)) => format!("{ip} {country}"),
                (Some(ip), None) => ip.to_owned(),
                (None, Some(country)) => country.to_owned(),
                (None, None) => MISSING.to_owned(),
            }
        }
        Column::Bot => match text(event, &["bot"]) {
            None | Some("not_detected") => MISSING.to_owned(),
            Some(kind) => kind.to_owned(),
        },
        Column::Score => match at(event, &["suspect_score"]) {
            Some(Value::Number(n)) => n.to_string(),
            _ => MISSING.to_owned(),
        },
        Column::Flags => {
            let set: Vec<&str> = FLAGS
                .iter()
                .filter(|(path, _)| at(event, path).and_then(Value::as_bool) == Some(true))
                .map(|(_, label)| *label)
                .collect();
            if set.is_empty() {
                MISSING.to_owned()
            } else {
                set.join(",")
            }
        }
    }
}

/// `Chrome 131 / Windows`; for mobile events, the OS and its version.
fn client(event: &Value) -> String {
    let details = |key: &str| text(event, &["browser_details", key]);
    let browser = details("browser_name").map(|name| match details("browser_major_version") {
        Some(version) => format!("{name} {version}"),
        None => name.to_owned(),
    });
    let os = details("os").or_else(|| text(event, &["os"]));
    match (browser, os) {
        (Some(browser), Some(os)) => format!("{browser} / {os}"),
        (Some(browser), None) => browser,
        (None, Some(os)) => match text(event, &["os_version"]) {
            Some(version) => format!("{os} {version}"),
            None => os.to_owned(),
        },
        (None, None) => MISSING.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use console::measure_text_width as width_of;
    use serde_json::json;

    fn browser_event() -> Value {
        json!({
            "event_id": "1717243200000.abcdef",
            "timestamp": 1_717_243_200_000_i64,
            "identification": {"visitor_id": "Ibk1527CUFmcnjLwIs4A"},
            "browser_details": {"browser_name": "Chrome", "browser_major_version": "131", "os": "Windows"},
            "ip_address": "192.0.2.7",
            "ip_info": {"v4": {"geolocation": {"country_code": "DE"}}},
            "bot": "bad",
            "suspect_score": 12,
            "vpn": true,
            "incognito": true,
            "proxy": false,
            "ip_blocklist": {"tor_node": true},
            "tampering_details": {"anti_detect_browser": true}
        })
    }

    fn mobile_event() -> Value {
        json!({
            "event_id": "1717243201000.mobile",
            "timestamp": 1_717_243_201_000_i64,
            "os": "iOS",
            "os_version": "17.4",
            "bot": "not_detected",
            "jailbroken": true
        })
    }

    impl Layout {
        /// Where each column starts.
        fn starts(&self) -> Vec<usize> {
            let mut at = 0;
            self.columns
                .iter()
                .map(|(_, width)| {
                    let start = at;
                    at += width.unwrap_or(0) + GAP.len();
                    start
                })
                .collect()
        }

        fn titles(&self) -> Vec<&'static str> {
            self.columns.iter().map(|(c, _)| spec(*c).title).collect()
        }
    }

    #[test]
    fn a_wide_terminal_shows_every_column() {
        let lines = render(&[browser_event(), mobile_event()], Some(200));
        assert_eq!(
            lines[0],
            "EVENT ID                UTC TIME             VISITOR               BROWSER / OS            IP / COUNTRY         BOT   SCORE  FLAGS"
        );
        assert_eq!(
            lines[1],
            "1717243200000.abcdef    2024-06-01 12:00:00  Ibk1527CUFmcnjLwIs4A  Chrome 131 / Windows    192.0.2.7 DE         bad   12     vpn,tor,incognito,anti-detect"
        );
        assert_eq!(
            lines[2],
            "1717243201000.mobile    2024-06-01 12:00:01  -                     iOS 17.4                -                    -     -      jailbroken"
        );
    }

    #[test]
    fn every_line_fits_and_columns_line_up() {
        let events = [browser_event(), mobile_event()];
        for width in [200, 150, 140, 120, 100, 80, 60, 40, 30, 20] {
            let layout = Layout::new(Some(width));
            let lines = render(&events, Some(width));
            for line in &lines {
                assert!(width_of(line) <= width, "{width}: {line:?}");
            }
            // Every title and value starts at its column, after a gap.
            let starts = layout.starts();
            for (n, line) in lines.iter().enumerate() {
                let chars: Vec<char> = line.chars().collect();
                for (i, &start) in starts.iter().enumerate().skip(1) {
                    assert_eq!(chars.get(start - 1), Some(&' '), "{width}: {line:?}");
                    assert_ne!(chars.get(start), Some(&' '), "{width}: {line:?} at {start}");
                    if n == 0 {
                        let here: String = chars[start..].iter().collect();
                        assert!(here.starts_with(layout.titles()[i]), "{width}: {line:?}");
                    }
                }
            }
            assert_eq!(layout.titles()[0], "EVENT ID");
        }
    }

    #[test]
    fn narrow_terminals_keep_what_matters_most() {
        let titles = |width| Layout::new(Some(width)).titles();
        assert_eq!(
            titles(150),
            [
                "EVENT ID",
                "UTC TIME",
                "VISITOR",
                "BROWSER / OS",
                "IP / COUNTRY",
                "BOT",
                "SCORE",
                "FLAGS"
            ]
        );
        assert_eq!(
            titles(120),
            [
                "EVENT ID",
                "UTC TIME",
                "VISITOR",
                "IP / COUNTRY",
                "BOT",
                "SCORE",
                "FLAGS"
            ]
        );
        assert_eq!(
            titles(80),
            ["EVENT ID", "UTC TIME", "VISITOR", "BOT", "SCORE", "FLAGS"]
        );
        assert_eq!(titles(40), ["EVENT ID", "UTC TIME"]);
        assert_eq!(titles(20), ["EVENT ID"]);
        // 80 columns: the time of day only; 120: the date too.
        let row = Layout::new(Some(80)).row(&browser_event());
        assert!(
            row.contains("  12:00:00  ") && !row.contains("2024"),
            "{row}"
        );
        let row = Layout::new(Some(120)).row(&browser_event());
        assert!(row.contains("  2024-06-01 12:00:00  "), "{row}");
        // Too narrow even for the id: as much of it as fits.
        assert_eq!(Layout::new(Some(12)).row(&browser_event()), "17172432000…");
    }

    #[test]
    fn without_a_limit_values_are_cut_to_their_column_but_flags_are_whole() {
        let mut event = browser_event();
        for flag in ["tampering", "virtual_machine", "developer_tools", "frida"] {
            event[flag] = json!(true);
        }
        event["identification"]["visitor_id"] = json!("a-visitor-id-longer-than-twenty");
        let row = Layout::new(None).row(&event);
        assert!(row.contains("a-visitor-id-longer…  "), "{row}");
        assert!(
            row.ends_with("vpn,tor,incognito,tampering,anti-detect,vm,devtools,frida"),
            "{row}"
        );
    }

    #[test]
    fn control_characters_cannot_reach_the_terminal() {
        let mut event = browser_event();
        event["identification"]["visitor_id"] = json!("evil\u{1b}[2J\nx");
        let row = Layout::new(Some(200)).row(&event);
        assert!(!row.contains('\u{1b}') && !row.contains('\n'), "{row:?}");
        assert!(row.contains("evil�[2J�x"), "{row:?}");
    }

    #[test]
    fn layouts_depend_only_on_the_width() {
        assert_eq!(Layout::new(Some(100)), Layout::new(Some(100)));
        let one = render(&[browser_event()], Some(100));
        let two = render(&[mobile_event(), browser_event()], Some(100));
        assert_eq!(one[0], two[0]);
        assert_eq!(one[1], two[2]);
    }
}
