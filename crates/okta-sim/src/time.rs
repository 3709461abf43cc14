//! Timestamp formats used on the wire.
//!
//! Okta writes every timestamp as ISO 8601 in UTC with exactly three fractional digits
//! (`2025-07-21T14:48:24.597Z`). Query parameters such as `since` and `lastUpdated gt "…"`
//! accept any RFC 3339 value, and a value without an offset is read as UTC.

use chrono::{DateTime, Datelike, NaiveDateTime, SecondsFormat, Timelike, Utc};

/// Formats `timestamp` the way Okta writes it: millisecond precision and a `Z` suffix.
pub fn format_okta(timestamp: DateTime<Utc>) -> String {
    let mut out = String::with_capacity(24);
    push_okta_time(&mut out, timestamp);
    out
}

/// Appends `timestamp` as [`format_okta`] formats it.
///
/// Writes the digits directly, without chrono's formatter. Years outside 0 to 9999 and
/// leap seconds, which need a sign or a 60th second, go through chrono.
pub fn push_okta_time(out: &mut String, timestamp: DateTime<Utc>) {
    let naive = timestamp.naive_utc();
    let nanos = naive.nanosecond();
    let Ok(year) = u32::try_from(naive.year()) else {
        out.push_str(&timestamp.to_rfc3339_opts(SecondsFormat::Millis, true));
        return;
    };
    if year > 9999 || nanos >= 1_000_000_000 {
        out.push_str(&timestamp.to_rfc3339_opts(SecondsFormat::Millis, true));
        return;
    }
    let mut text = *b"0000-00-00T00:00:00.000Z";
    write_digits(&mut text[0..4], year);
    write_digits(&mut text[5..7], naive.month());
    write_digits(&mut text[8..10], naive.day());
    write_digits(&mut text[11..13], naive.hour());
    write_digits(&mut text[14..16], naive.minute());
    write_digits(&mut text[17..19], naive.second());
    write_digits(&mut text[20..23], nanos / 1_000_000);
    for byte in text {
        out.push(char::from(byte));
    }
}

/// Writes the last `field.len()` decimal digits of `value` into `field`.
fn write_digits(field: &mut [u8], mut value: u32) {
    for digit in field.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
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
    fn okta_format_matches_chrono() {
        let chrono_text =
            |timestamp: DateTime<Utc>| timestamp.to_rfc3339_opts(SecondsFormat::Millis, true);
        let mut timestamps = vec![
            Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2024, 2, 29, 23, 59, 59).unwrap()
                + chrono::Duration::milliseconds(999),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-1, 6, 1, 12, 0, 0).unwrap(),
        ];
        let leap_second = chrono::NaiveDate::from_ymd_opt(2016, 12, 31)
            .and_then(|date| date.and_hms_milli_opt(23, 59, 59, 1_500))
            .unwrap()
            .and_utc();
        timestamps.push(leap_second);
        let start = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
        for step in 0..2_000i64 {
            timestamps
                .push(start + chrono::Duration::milliseconds(step * 86_399_997 + step % 1000));
        }
        for timestamp in timestamps {
            assert_eq!(format_okta(timestamp), chrono_text(timestamp));
        }
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
