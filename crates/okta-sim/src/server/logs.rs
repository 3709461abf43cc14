//! `GET /api/v1/logs`, the System Log, with Okta's two query modes.
//!
//! A polling request (no `until`, ascending order) returns events in the order they were
//! stored and compares `since` with the storage time; its `next` link is always present,
//! even on an empty page, so a client can re-request it later and get events stored
//! since. A bounded request (with `until`, or in descending order) returns events with
//! `since <= published < until` ordered by `published`, and its last page has no `next`.
//!
//! Storage order is the order of `Org::events`; an event's storage time is its
//! `published` or, if later, the storage time of the event before it, so an event
//! appended with an old `published` counts as stored late, as Okta's delayed events do.
//!
//! Events published more than 90 days ago are left out without an error; a `since` more
//! than 180 days ago is rejected with `E0000053`. `filter` takes the SCIM expressions of
//! [`crate::filter`] against the LogEvent JSON, and `q` matches events whose JSON text
//! contains every keyword, ignoring case. The `after` cursor reads `<epoch ms>_<position>`
//! and is opaque to clients.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::AppState;
use super::directory::query_params;
use super::error::ApiError;
use super::index::LogIndex;
use super::paging::{self, Links, Params};
use crate::filter::{Expr, MatchOptions};
use crate::model::LogEvent;
use crate::time::parse_iso;

const LOGS_READ: &str = "okta.logs.read";
const RETENTION_DAYS: i64 = 90;
const MAX_SINCE_DAYS: i64 = 180;
const DEFAULT_SPAN_DAYS: i64 = 7;
const MAX_KEYWORD_LENGTH: usize = 40;

/// A parsed System Log request.
struct LogQuery {
    now: DateTime<Utc>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    after: Option<Cursor>,
    limit: usize,
    descending: bool,
    filter: Option<Expr>,
    keywords: Vec<String>,
}

/// Position in the log: a timestamp in epoch milliseconds and an index into the events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Cursor {
    millis: i64,
    index: usize,
}

impl Cursor {
    fn parse(text: &str) -> Option<Cursor> {
        let (millis, index) = text.split_once('_')?;
        Some(Cursor {
            millis: millis.parse().ok()?,
            index: index.parse().ok()?,
        })
    }

    fn encode(self) -> String {
        format!("{}_{}", self.millis, self.index)
    }
}

fn invalid_date(name: &str) -> ApiError {
    let unrecognized = "The date format in your query is not recognized. Please enter dates using ISO8601 string format.";
    ApiError::validation(
        &format!("'{name}': {unrecognized} '{name}': must be a valid date-time or empty."),
        vec![
            format!("{name}: {unrecognized}"),
            format!("{name}: must be a valid date-time or empty"),
        ],
    )
}

fn parse_date(params: &Params, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    match params.get(name).map(String::as_str) {
        None | Some("") => Ok(None),
        Some(text) => parse_iso(text).map(Some).ok_or_else(|| invalid_date(name)),
    }
}

impl LogQuery {
    fn parse(params: &Params, now: DateTime<Utc>) -> Result<LogQuery, ApiError> {
        let since = parse_date(params, "since")?;
        let until = parse_date(params, "until")?;
        if since.is_some_and(|since| now - since > Duration::days(MAX_SINCE_DAYS)) {
            return Err(ApiError::invalid_log_parameter(
                "Invalid parameter: The since parameter is over 180 days prior to the current day.",
            ));
        }
        Ok(LogQuery {
            now,
            since,
            until,
            after: parse_cursor(params)?,
            limit: paging::limit(params, 100, 1000)?,
            descending: parse_descending(params)?,
            filter: parse_filter(params)?,
            keywords: parse_keywords(params)?,
        })
    }

    fn is_polling(&self) -> bool {
        self.until.is_none() && !self.descending
    }

    /// Returns whether an event is retained and matches `filter` and `q`.
    fn selects(&self, event: &LogEvent) -> bool {
        if event.published() < self.now - Duration::days(RETENTION_DAYS) {
            return false;
        }
        if let Some(filter) = &self.filter
            && !filter.matches(&filter_document(filter, event), MatchOptions::default())
        {
            return false;
        }
        if self.keywords.is_empty() {
            return true;
        }
        let text = event.to_json_string().to_lowercase();
        self.keywords.iter().all(|keyword| text.contains(keyword))
    }
}

fn parse_descending(params: &Params) -> Result<bool, ApiError> {
    match params
        .get("sortOrder")
        .map(|order| order.to_ascii_uppercase())
    {
        None => Ok(false),
        Some(order) if order == "ASCENDING" => Ok(false),
        Some(order) if order == "DESCENDING" => Ok(true),
        Some(_) => Err(ApiError::validation(
            "sortOrder",
            vec!["sortOrder: must be ASCENDING or DESCENDING".to_string()],
        )),
    }
}

fn parse_cursor(params: &Params) -> Result<Option<Cursor>, ApiError> {
    let Some(text) = params.get("after") else {
        return Ok(None);
    };
    let cursor = Cursor::parse(text).ok_or_else(|| {
        ApiError::validation(
            "after",
            vec![format!("after: The cursor `{text}` is not valid")],
        )
    })?;
    Ok(Some(cursor))
}

fn parse_filter(params: &Params) -> Result<Option<Expr>, ApiError> {
    let Some(text) = params.get("filter") else {
        return Ok(None);
    };
    let expr = Expr::parse(text).map_err(|error| {
        ApiError::invalid_log_parameter(format!("Invalid filter '{text}': {error}"))
    })?;
    Ok(Some(expr))
}

fn parse_keywords(params: &Params) -> Result<Vec<String>, ApiError> {
    let keywords: Vec<String> = params
        .get("q")
        .map(|q| q.split_whitespace().map(str::to_lowercase).collect())
        .unwrap_or_default();
    if keywords
        .iter()
        .any(|keyword| keyword.chars().count() > MAX_KEYWORD_LENGTH)
    {
        return Err(ApiError::validation(
            "'q': Freeform search cannot contain items longer than 40 characters.",
            vec!["q: Freeform search cannot contain items longer than 40 characters.".to_string()],
        ));
    }
    Ok(keywords)
}

/// Returns the JSON a filter is evaluated on: only the indexed fields when the filter
/// needs no others, which spares parsing each event.
fn filter_document(filter: &Expr, event: &LogEvent) -> Value {
    let indexed = filter
        .comparisons()
        .iter()
        .all(|(path, _)| matches!(*path, "eventType" | "uuid"));
    if indexed {
        json!({"eventType": event.event_type(), "uuid": event.uuid()})
    } else {
        event.to_value()
    }
}

/// A page of events, as indices into the log, and the cursor of the next page.
struct LogPage {
    events: Vec<usize>,
    next: Option<Cursor>,
}

impl LogPage {
    /// Writes the page as a JSON array from the stored event text, without parsing it.
    fn to_json(&self, events: &[LogEvent]) -> String {
        // Generated events take about 2 KB each; reserving once spares copies while growing.
        let mut body = String::with_capacity(self.events.len() * 2200 + 2);
        body.push('[');
        for (position, &index) in self.events.iter().enumerate() {
            if position > 0 {
                body.push(',');
            }
            events[index].write_json(&mut body);
        }
        body.push(']');
        body
    }
}

/// Polling: events in storage order from the cursor, or from the first stored at or after `since`.
fn poll(events: &[LogEvent], index: &LogIndex, query: &LogQuery) -> LogPage {
    let since = query
        .since
        .unwrap_or(query.now - Duration::days(DEFAULT_SPAN_DAYS))
        .timestamp_millis();
    let start = match query.after {
        Some(cursor) => cursor.index.min(events.len()),
        None => index.first_stored_from(events, since),
    };
    let mut page = Vec::new();
    let mut next_index = events.len();
    for (position, event) in events.iter().enumerate().skip(start) {
        if page.len() == query.limit {
            next_index = position;
            break;
        }
        if query.selects(event) {
            page.push(position);
        }
    }
    let millis = next_index
        .checked_sub(1)
        .map(|position| index.stored_at(events, position))
        .unwrap_or_else(|| query.now.timestamp_millis());
    LogPage {
        events: page,
        next: Some(Cursor {
            millis,
            index: next_index,
        }),
    }
}

/// Moves the `next` cursor of a full polling page back by one event, so that the next
/// page starts with this page's last event again.
fn repeat_last_event(page: &mut LogPage, limit: usize) {
    if page.events.len() < limit {
        return;
    }
    if let (Some(next), Some(&last)) = (page.next.as_mut(), page.events.last())
        && next.index > last
    {
        next.index = last;
    }
}

/// Bounded: events with `since <= published < until` ordered by `published`, then position.
fn bounded(events: &[LogEvent], index: &LogIndex, query: &LogQuery) -> LogPage {
    let until = query.until.unwrap_or(query.now);
    let since = query
        .since
        .unwrap_or(until - Duration::days(DEFAULT_SPAN_DAYS));
    let cursor_at = |rank: usize| {
        let position = index.by_published(rank);
        Cursor {
            millis: events[position].published().timestamp_millis(),
            index: position,
        }
    };
    let first_rank = |wanted: &dyn Fn(usize) -> bool| {
        let (mut low, mut high) = (0, index.len());
        while low < high {
            let middle = low + (high - low) / 2;
            if wanted(middle) {
                high = middle;
            } else {
                low = middle + 1;
            }
        }
        low
    };
    let published = |rank: usize| events[index.by_published(rank)].published();
    let mut low = first_rank(&|rank| published(rank) >= since);
    let mut high = first_rank(&|rank| published(rank) >= until).max(low);
    if let Some(after) = query.after {
        if query.descending {
            high = high
                .min(first_rank(&|rank| cursor_at(rank) >= after))
                .max(low);
        } else {
            low = low
                .max(first_rank(&|rank| cursor_at(rank) > after))
                .min(high);
        }
    }
    let ranks: Box<dyn Iterator<Item = usize>> = if query.descending {
        Box::new((low..high).rev())
    } else {
        Box::new(low..high)
    };
    take_page(events, query, ranks.map(cursor_at))
}

/// Takes up to `limit` selected events in order; the cursor of the last one becomes the
/// `next` cursor if a further selected event exists.
fn take_page(
    events: &[LogEvent],
    query: &LogQuery,
    ordered: impl Iterator<Item = Cursor>,
) -> LogPage {
    let mut page = Vec::new();
    let mut last = None;
    let mut more = false;
    for cursor in ordered {
        if !query.selects(&events[cursor.index]) {
            continue;
        }
        if page.len() == query.limit {
            more = true;
            break;
        }
        page.push(cursor.index);
        last = Some(cursor);
    }
    LogPage {
        events: page,
        next: if more { last } else { None },
    }
}

/// `GET /api/v1/logs`.
pub(crate) async fn list_logs(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    state.authority.authorize(&headers, LOGS_READ, uri.path())?;
    let params = query_params(&uri);
    let query = LogQuery::parse(&params, Utc::now())?;
    let org = state.read_org();
    let index = state.index.log(&org);
    let page = if query.is_polling() {
        let mut page = poll(&org.events, &index, &query);
        if state.faults.faults.duplicate_log_events {
            repeat_last_event(&mut page, query.limit);
        }
        page
    } else {
        bounded(&org.events, &index, &query)
    };
    let body = page.to_json(&org.events);
    drop(org);

    let links = Links {
        base_url: &state.base_url,
        uri: &uri,
    };
    let dropped: &[&str] = if query.is_polling() { &["since"] } else { &[] };
    let next = page
        .next
        .map(|cursor| links.next_url(&cursor.encode(), dropped));
    Ok(paging::paged_json_response(
        body,
        &links.self_url(),
        next.as_deref(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(published: &str, index: usize) -> LogEvent {
        LogEvent::from_value(&json!({
            "uuid": format!("u{index}"),
            "published": published,
            "eventType": if index.is_multiple_of(2) { "user.session.start" } else { "user.authentication.sso" },
        }))
        .unwrap()
    }

    fn query(params: &[(&str, &str)], now: DateTime<Utc>) -> LogQuery {
        let params: Params = params
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        LogQuery::parse(&params, now).unwrap()
    }

    #[test]
    fn storage_time_never_goes_back() {
        let events = vec![
            event("2025-01-01T00:00:10.000Z", 0),
            event("2025-01-01T00:00:05.000Z", 1),
            event("2025-01-01T00:00:20.000Z", 2),
        ];
        let index = LogIndex::build(&events);
        let times: Vec<i64> = (0..3)
            .map(|position| index.stored_at(&events, position))
            .collect();
        assert_eq!(times[1], times[0]);
        assert!(times[2] > times[1]);
    }

    #[test]
    fn polling_returns_late_events_after_the_cursor() {
        let now = parse_iso("2025-01-02T00:00:00Z").unwrap();
        let mut events = vec![
            event("2025-01-01T00:00:10.000Z", 0),
            event("2025-01-01T00:00:20.000Z", 1),
        ];
        let first = poll(
            &events,
            &LogIndex::build(&events),
            &query(&[("since", "2025-01-01T00:00:00Z")], now),
        );
        assert_eq!(first.events.len(), 2);
        let cursor = first.next.unwrap();

        let empty = poll(
            &events,
            &LogIndex::build(&events),
            &LogQuery {
                after: Some(cursor),
                ..query(&[], now)
            },
        );
        assert!(empty.events.is_empty());
        assert_eq!(empty.next, Some(cursor));

        events.push(event("2025-01-01T00:00:01.000Z", 2));
        let late = poll(
            &events,
            &LogIndex::build(&events),
            &LogQuery {
                after: Some(cursor),
                ..query(&[], now)
            },
        );
        assert_eq!(late.events.len(), 1);
        assert_eq!(late.events, vec![2], "the appended event");
    }

    #[test]
    fn bounded_pages_in_published_order_and_ends() {
        let now = parse_iso("2025-01-02T00:00:00Z").unwrap();
        let events = vec![
            event("2025-01-01T00:00:30.000Z", 0),
            event("2025-01-01T00:00:10.000Z", 1),
            event("2025-01-01T00:00:20.000Z", 2),
        ];
        let params = [
            ("since", "2025-01-01T00:00:00Z"),
            ("until", "2025-01-01T01:00:00Z"),
            ("limit", "2"),
        ];
        let first = bounded(&events, &LogIndex::build(&events), &query(&params, now));
        assert_eq!(
            first.events,
            vec![1, 2],
            "ordered by published, not by position"
        );
        let second = bounded(
            &events,
            &LogIndex::build(&events),
            &LogQuery {
                after: first.next,
                ..query(&params, now)
            },
        );
        assert_eq!(second.events, vec![0]);
        assert_eq!(second.next, None);
    }

    #[test]
    fn filter_and_retention_apply() {
        let now = parse_iso("2025-06-01T00:00:00Z").unwrap();
        let events = vec![
            event("2025-01-01T00:00:00.000Z", 0),
            event("2025-05-31T00:00:00.000Z", 2),
            event("2025-05-31T00:00:01.000Z", 3),
        ];
        let params = [
            ("since", "2025-01-01T00:00:00Z"),
            ("until", "2025-06-01T00:00:00Z"),
            ("filter", "eventType eq \"user.session.start\""),
        ];
        let page = bounded(&events, &LogIndex::build(&events), &query(&params, now));
        assert_eq!(
            page.events.len(),
            1,
            "the January event is older than 90 days"
        );
        assert_eq!(page.events, vec![1], "the recent session start");
    }
}
