//! Timestamp formats used on the wire.
//!
//! Okta writes every timestamp as ISO 8601 in UTC with exactly three fractional digits
//! (`2025-07-21T14:48:24.597Z`). Query parameters such as `since` and `lastUpdated gt "…"`
//! accept any RFC 3339 value, and a value without an offset is read as UTC.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};

/// Formats `timestamp` the way Okta writes it: millisecond precision and a `Z` suffix.
pub fn format_okta(timestamp: DateTime<Utc>) -> String {
    timestamp.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses an ISO 8601 timestamp from a query parameter or filter value.
///
/// Returns `None` when the text is neither RFC 3339 nor a date-time without offset.
pub fn parse_iso(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(parsed) = DateTime::parse_from_rfc3339(text) {
        return Some(parsed.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .map(|naive| naive.and_utc())
}

/// Formats `timestamp` as an HTTP `Date` header value (RFC 7231 IMF-fixdate).
pub fn format_http_date(timestamp: DateTime<Utc>) -> String {
    timestamp.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn okta_format_has_millis_and_z() {
        let timestamp = Utc.with_ymd_and_hms(2025, 7, 21, 14, 48, 24).unwrap();
        assert_eq!(format_okta(timestamp), "2025-07-21T14:48:24.000Z");
    }

    #[test]
    fn parse_accepts_offsets_and_naive() {
        let expected = Utc.with_ymd_and_hms(2025, 7, 21, 14, 48, 24).unwrap();
        assert_eq!(parse_iso("2025-07-21T14:48:24Z"), Some(expected));
        assert_eq!(parse_iso("2025-07-21T16:48:24+02:00"), Some(expected));
        assert_eq!(parse_iso("2025-07-21T14:48:24"), Some(expected));
        assert_eq!(parse_iso("yesterday"), None);
    }

    #[test]
    fn http_date_is_imf_fixdate() {
        let timestamp = Utc.with_ymd_and_hms(2025, 7, 1, 4, 5, 6).unwrap();
        assert_eq!(format_http_date(timestamp), "Tue, 01 Jul 2025 04:05:06 GMT");
    }
}
