//! Times for the search's window (and any time parameter): RFC 3339, Unix
//! milliseconds, a date, or a span back from now (`7d`, `12h`, `30m`).

use chrono::{DateTime, NaiveDate, Utc};

/// Earliest value read as Unix milliseconds; smaller numbers are almost
/// certainly Unix seconds (1973-03-03 in milliseconds).
const MIN_PLAUSIBLE_MS: i64 = 100_000_000_000;

/// Checks the syntax (for clap) and keeps the text: relative times are
/// resolved once, when the command runs.
pub fn check(text: &str) -> Result<String, String> {
    resolve(text, Utc::now().timestamp_millis()).map(|_| text.trim().to_owned())
}

/// The time `text` names, in Unix milliseconds, `now_ms` being now.
pub fn resolve(text: &str, now_ms: i64) -> Result<i64, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty time".to_owned());
    }
    if text == "now" {
        return Ok(now_ms);
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        let ms: i64 = text
            .parse()
            .map_err(|_| format!("{text} is too large for a time"))?;
        if ms < MIN_PLAUSIBLE_MS {
            return Err(format!(
                "{text} looks like Unix seconds; times are Unix milliseconds ({text}000)"
            ));
        }
        return Ok(ms);
    }
    if let Some(ago) = relative_ms(text) {
        return ago
            .and_then(|ago| now_ms.checked_sub(ago))
            .ok_or_else(|| format!("{text} is too far back"));
    }
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.timestamp_millis());
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        && let Some(midnight) = date.and_hms_opt(0, 0, 0)
    {
        return Ok(midnight.and_utc().timestamp_millis());
    }
    Err(format!(
        "{text:?} is not a time: use RFC 3339 (2024-05-01T12:00:00Z), a date (2024-05-01), \
         Unix milliseconds, or a span back from now (7d, 12h, 30m, 45s, 2w)"
    ))
}

/// `Some(Some(ms))` for a span like `7d`, `Some(None)` when it overflows,
/// `None` when `text` is not a span.
fn relative_ms(text: &str) -> Option<Option<i64>> {
    let unit = text.chars().last()?;
    let per_unit: i64 = match unit {
        's' => 1_000,
        'm' => 60_000,
        'h' => 3_600_000,
        'd' => 86_400_000,
        'w' => 7 * 86_400_000,
        _ => return None,
    };
    let number = &text[..text.len() - unit.len_utf8()];
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        number
            .parse::<i64>()
            .ok()
            .and_then(|n| n.checked_mul(per_unit)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_717_243_200_000; // 2024-06-01T12:00:00Z

    #[test]
    fn absolute_times() {
        assert_eq!(resolve("1717243200000", NOW), Ok(NOW));
        assert_eq!(resolve("2024-06-01T12:00:00Z", NOW), Ok(NOW));
        assert_eq!(resolve("2024-06-01T14:00:00+02:00", NOW), Ok(NOW));
        assert_eq!(resolve("2024-06-01", NOW), Ok(NOW - 12 * 3_600_000));
        assert_eq!(resolve(" now ", NOW), Ok(NOW));
    }

    #[test]
    fn relative_times() {
        assert_eq!(resolve("7d", NOW), Ok(NOW - 7 * 86_400_000));
        assert_eq!(resolve("12h", NOW), Ok(NOW - 12 * 3_600_000));
        assert_eq!(resolve("30m", NOW), Ok(NOW - 30 * 60_000));
        assert_eq!(resolve("45s", NOW), Ok(NOW - 45_000));
        assert_eq!(resolve("2w", NOW), Ok(NOW - 14 * 86_400_000));
        assert_eq!(resolve("0m", NOW), Ok(NOW));
    }

    #[test]
    fn refused() {
        for bad in [
            "",
            "d",
            "7x",
            "-7d",
            "yesterday",
            "2024-13-01",
            "1.5h",
            "99999999999999999999d",
        ] {
            assert!(resolve(bad, NOW).is_err(), "{bad:?} accepted");
        }
        let seconds = resolve("1717243200", NOW).unwrap_err();
        assert!(seconds.contains("Unix seconds"), "{seconds}");
    }
}
