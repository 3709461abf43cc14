//! Cursor paging as Okta does it: a `limit` clamped to the endpoint's maximum, an opaque
//! `after` cursor, and `link` headers with absolute URLs, one header line per relation.
//! `rel="self"` is always sent; `rel="next"` only while more data remains, except for
//! System Log polling, which always has one.

use std::collections::HashMap;

use axum::http::{HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use url::Url;

use super::error::ApiError;

/// Query parameters of a request; a repeated parameter keeps its last value.
pub(crate) type Params = HashMap<String, String>;

/// Reads `limit`, using `default` when it is absent and capping it at `max`.
pub(crate) fn limit(params: &Params, default: usize, max: usize) -> Result<usize, ApiError> {
    let Some(text) = params.get("limit") else {
        return Ok(default);
    };
    let value: i64 = text.trim().parse().map_err(|_| {
        ApiError::validation(
            "limit",
            vec![format!("limit: The value `{text}` is not a number")],
        )
    })?;
    if value < 0 {
        return Err(ApiError::validation(
            "limit",
            vec![format!("limit: The value `{text}` is negative")],
        ));
    }
    Ok(usize::try_from(value).unwrap_or(usize::MAX).min(max))
}

/// A page of results and the cursor of the page after it, if any.
pub(crate) struct Page {
    pub items: Vec<Value>,
    pub next_after: Option<String>,
}

/// Pages a list sorted by key: items whose key is greater than `after`, up to `limit`.
pub(crate) fn page_by_key<T>(
    sorted: Vec<T>,
    key: impl Fn(&T) -> &str,
    after: Option<&str>,
    limit: usize,
    render: impl Fn(&T) -> Value,
) -> Page {
    let remaining: Vec<T> = sorted
        .into_iter()
        .filter(|item| after.is_none_or(|after| key(item) > after))
        .collect();
    let items: Vec<Value> = remaining.iter().take(limit).map(&render).collect();
    let next_after = (remaining.len() > limit && limit > 0)
        .then(|| remaining.get(limit - 1).map(|item| key(item).to_string()))
        .flatten();
    Page { items, next_after }
}

/// Builds the absolute `self` URL of a request and the `next` URL for a cursor.
pub(crate) struct Links<'a> {
    pub base_url: &'a str,
    pub uri: &'a Uri,
}

impl Links<'_> {
    pub fn self_url(&self) -> String {
        let path_and_query = self
            .uri
            .path_and_query()
            .map_or("/", |value| value.as_str());
        format!("{}{path_and_query}", self.base_url)
    }

    /// Returns the request URL with `after` set to `cursor` and the parameters in `drop` removed.
    pub fn next_url(&self, cursor: &str, drop: &[&str]) -> String {
        let Ok(mut url) = Url::parse(&self.self_url()) else {
            return self.self_url();
        };
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(key, _)| key != "after" && !drop.contains(&key.as_ref()))
            .map(|(key, value)| (key.into_owned(), value.into_owned()))
            .collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(pairs)
            .append_pair("after", cursor);
        url.to_string()
    }
}

/// Responds with a JSON array and `link` headers for `self` and, if given, `next`.
pub(crate) fn paged_response(
    items: Vec<Value>,
    self_url: &str,
    next_url: Option<&str>,
) -> Response {
    let body = Value::Array(items).to_string();
    paged_json_response(body, self_url, next_url)
}

/// Responds with JSON array text that is already serialized, and the `link` headers.
pub(crate) fn paged_json_response(
    body: String,
    self_url: &str,
    next_url: Option<&str>,
) -> Response {
    let mut response = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response();
    let headers = response.headers_mut();
    let links = std::iter::once((self_url, "self")).chain(next_url.map(|url| (url, "next")));
    for (url, relation) in links {
        if let Ok(value) = HeaderValue::from_str(&format!("<{url}>; rel=\"{relation}\"")) {
            headers.append(header::LINK, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn limit_defaults_and_caps() {
        assert_eq!(limit(&params(&[]), 20, 200).unwrap(), 20);
        assert_eq!(limit(&params(&[("limit", "500")]), 20, 200).unwrap(), 200);
        assert_eq!(limit(&params(&[("limit", "0")]), 20, 200).unwrap(), 0);
        assert!(limit(&params(&[("limit", "ten")]), 20, 200).is_err());
        assert!(limit(&params(&[("limit", "-1")]), 20, 200).is_err());
    }

    #[test]
    fn page_by_key_sets_cursor_only_while_more_remain() {
        let ids = vec!["a", "b", "c"];
        let first = page_by_key(ids.clone(), |id| id, None, 2, |id| json!(id));
        assert_eq!(first.items, vec![json!("a"), json!("b")]);
        assert_eq!(first.next_after.as_deref(), Some("b"));
        let last = page_by_key(ids, |id| id, Some("b"), 2, |id| json!(id));
        assert_eq!(last.items, vec![json!("c")]);
        assert_eq!(last.next_after, None);
    }

    #[test]
    fn next_url_replaces_cursor_and_keeps_other_parameters() {
        let uri: Uri = "/api/v1/users?limit=2&after=old&filter=status%20eq%20%22ACTIVE%22"
            .parse()
            .unwrap();
        let links = Links {
            base_url: "http://127.0.0.1:1",
            uri: &uri,
        };
        let next = Url::parse(&links.next_url("00u2", &[])).unwrap();
        let pairs: Vec<(String, String)> = next.query_pairs().into_owned().collect();
        assert_eq!(
            pairs,
            vec![
                ("limit".to_string(), "2".to_string()),
                ("filter".to_string(), "status eq \"ACTIVE\"".to_string()),
                ("after".to_string(), "00u2".to_string()),
            ]
        );
    }
}
