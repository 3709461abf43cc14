//! Times given on the command line: RFC 3339, or a duration back from now.

use anyhow::{Result, bail};
use chrono::{DateTime, Duration, Utc};

/// Parses `2026-11-01T00:00:00Z` or a relative duration such as `7d`,
/// `12h`, `30m` or `90s`, counted back from `now`.
pub fn parse_time(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    let Some(unit) = text.chars().last() else {
        bail!(
            "Empty time: use RFC 3339 such as `2026-11-01T00:00:00Z`, or a duration such as `7d`"
        );
    };
    let amount: i64 = text[..text.len() - unit.len_utf8()].parse().map_err(|_| {
        anyhow::anyhow!(
            "Invalid time `{text}`: use RFC 3339 such as `2026-11-01T00:00:00Z`, or a duration such as `7d`, `12h`, `30m`"
        )
    })?;
    let duration = match unit {
        'd' => Duration::days(amount),
        'h' => Duration::hours(amount),
        'm' => Duration::minutes(amount),
        's' => Duration::seconds(amount),
        _ => bail!("Invalid time unit in `{text}`: use `d`, `h`, `m` or `s`"),
    };
    Ok(now - duration)
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::parse_time;

    #[test]
    fn relative_and_absolute() {
        let now = Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap();
        assert_eq!(
            parse_time("7d", now).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap()
        );
        assert_eq!(
            parse_time("12h", now).unwrap(),
            Utc.with_ymd_and_hms(2026, 12, 4, 0, 0, 0).unwrap()
        );
        assert_eq!(
            parse_time("2026-11-01T00:00:00Z", now).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
        );
    }

    #[test]
    fn invalid_rejected() {
        let now = Utc::now();
        assert!(parse_time("7w", now).is_err());
        assert!(parse_time("yesterday", now).is_err());
        assert!(parse_time("", now).is_err());
    }
}
