//! Parsing of HTTP `Link` headers.
//!
//! Okta sends one `link` header line per relation, but proxies and HTTP
//! libraries may join them into one comma-separated value, so both forms are
//! read. Only the URL and the `rel` parameter matter; the URL is kept exactly
//! as sent, because Okta's cursors are opaque.

use reqwest::header::{HeaderMap, LINK};

/// Returns the URL of the first link with relation `rel`, from any `Link` header line.
pub fn find_link(headers: &HeaderMap, rel: &str) -> Option<String> {
    headers
        .get_all(LINK)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(split_links)
        .find(|(_, relations)| relations.split_whitespace().any(|name| name == rel))
        .map(|(url, _)| url)
}

/// Splits one header value into `(url, rel)` pairs.
fn split_links(value: &str) -> Vec<(String, String)> {
    let mut links = Vec::new();
    let mut rest = value;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>') else {
            break;
        };
        let url = rest[open + 1..open + close].trim().to_string();
        let after = &rest[open + close + 1..];
        // Parameters run to the next link, which starts at the next `<`.
        let params_end = after.find('<').unwrap_or(after.len());
        let relations = read_rel(&after[..params_end]).unwrap_or_default();
        links.push((url, relations));
        rest = &after[params_end..];
    }
    links
}

/// Reads the value of `rel=` from link parameters such as `; rel="next",`.
fn read_rel(params: &str) -> Option<String> {
    params.split(';').find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("rel") {
            return None;
        }
        let value = value.trim().trim_end_matches(',').trim();
        Some(value.trim_matches('"').to_string())
    })
}

#[cfg(test)]
mod tests {
    use reqwest::header::{HeaderMap, HeaderValue, LINK};

    use super::find_link;

    fn headers(lines: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for line in lines {
            map.append(LINK, HeaderValue::from_str(line).unwrap());
        }
        map
    }

    #[test]
    fn separate_lines() {
        let map = headers(&[
            r#"<https://example.okta.com/api/v1/users?limit=2>; rel="self""#,
            r#"<https://example.okta.com/api/v1/users?after=00u2&limit=2>; rel="next""#,
        ]);
        assert_eq!(
            find_link(&map, "next").as_deref(),
            Some("https://example.okta.com/api/v1/users?after=00u2&limit=2")
        );
        assert_eq!(
            find_link(&map, "self").as_deref(),
            Some("https://example.okta.com/api/v1/users?limit=2")
        );
    }

    #[test]
    fn comma_joined_any_spacing() {
        let map = headers(&[
            r#"<https://e.okta.com/a?x=1>;rel=self ,  < https://e.okta.com/a?after=b,c&x=1 > ;  rel = "next""#,
        ]);
        assert_eq!(
            find_link(&map, "next").as_deref(),
            Some("https://e.okta.com/a?after=b,c&x=1")
        );
        assert_eq!(
            find_link(&map, "self").as_deref(),
            Some("https://e.okta.com/a?x=1")
        );
    }

    #[test]
    fn missing_next() {
        let map = headers(&[r#"<https://e.okta.com/a>; rel="self""#]);
        assert_eq!(find_link(&map, "next"), None);
        assert_eq!(find_link(&HeaderMap::new(), "next"), None);
    }
}
