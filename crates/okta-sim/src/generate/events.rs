//! The shape of every System Log event the generator writes.
//!
//! A [`Draft`] names what differs between events (type, actor, origin, outcome, targets,
//! debug data) and [`EventLog::push`] fills in the rest the way Okta does: `client`,
//! `securityContext` and `request.ipChain` from the origin, `authenticationContext` with the
//! session ids, `transaction` and `debugData.requestId` from one request id, a version 4
//! `uuid` and `version` `"0"`. Events without an origin are written as Okta writes its
//! background jobs, with null client fields and a `JOB` transaction.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rand::RngCore;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde_json::{Value, json};

use super::catalog::{Browser, Network, Place};
pub(crate) use crate::event_table::Credential;
use crate::event_table::{
    EventRecord, EventTables, OriginJson, Person, Shape, TargetRef, event_uuid, split_key,
};
use crate::ids::{derived_object_id, session_id_from_key};
use crate::model::{App, Group, LogEvent, User};

/// The actor of an event.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Actor {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    alternate_id: String,
    display_name: String,
    detail_entry: Option<()>,
}

impl Actor {
    /// Returns the actor of an API call made by an OAuth client, as Okta writes it.
    pub fn client_app(client_id: &str) -> Actor {
        Actor {
            id: client_id.to_string(),
            kind: "PublicClientApp",
            alternate_id: client_id.to_string(),
            display_name: "idaudit".to_string(),
            detail_entry: None,
        }
    }

    /// Returns the actor Okta writes when it cannot tell who made a request.
    pub fn unknown() -> Actor {
        Actor {
            id: "unknown".to_string(),
            kind: "User",
            alternate_id: "unknown".to_string(),
            display_name: "unknown".to_string(),
            detail_entry: None,
        }
    }

    pub fn user(user: &User) -> Actor {
        Actor {
            id: user.id.clone(),
            kind: "User",
            alternate_id: user.profile.login.clone(),
            display_name: user.display_name().to_string(),
            detail_entry: None,
        }
    }
}

/// Origin of a request: address, location, network and browser.
#[derive(Clone, Copy)]
pub(crate) struct Origin<'a> {
    pub ip: &'a str,
    pub place: &'a Place,
    pub network: &'a Network,
    pub browser: &'a Browser,
}

/// The parts of an event that differ from one event to the next.
pub(crate) struct Draft<'a> {
    pub published: DateTime<Utc>,
    pub event_type: &'static str,
    pub display_message: &'static str,
    pub legacy_event_type: Option<&'static str>,
    pub severity: &'static str,
    pub actor: Actor,
    pub origin: Option<Origin<'a>>,
    /// `authenticationContext.externalSessionId`; a new one is drawn when `None`.
    pub session_id: Option<String>,
    pub credential: Credential,
    pub result: &'static str,
    pub reason: Option<&'static str>,
    pub targets: Vec<Target>,
    /// Path and query of the request that caused the event.
    pub request_url: Option<String>,
    /// Extra `debugContext.debugData` entries.
    pub debug: Vec<(&'static str, Value)>,
    /// `debugData.threatSuspected` of a request with an origin, which ThreatInsight sets.
    pub threat_suspected: bool,
}

impl<'a> Draft<'a> {
    /// Creates a draft of a successful INFO event with no origin, targets or debug data.
    pub fn new(
        published: DateTime<Utc>,
        event_type: &'static str,
        display_message: &'static str,
        actor: Actor,
    ) -> Draft<'a> {
        Draft {
            published,
            event_type,
            display_message,
            legacy_event_type: None,
            severity: "INFO",
            actor,
            origin: None,
            session_id: None,
            credential: Credential::None,
            result: "SUCCESS",
            reason: None,
            targets: Vec::new(),
            request_url: None,
            debug: Vec::new(),
            threat_suspected: false,
        }
    }
}

/// Events written so far, and the random stream their ids come from.
pub(crate) struct EventLog {
    rng: ChaCha8Rng,
    records: Vec<EventRecord>,
    tables: TableBuilder,
}

impl EventLog {
    pub fn new(rng: ChaCha8Rng) -> EventLog {
        EventLog {
            rng,
            records: Vec::new(),
            tables: TableBuilder::default(),
        }
    }

    /// Draws a session id for events that share one sign-in.
    pub fn new_session_id(&mut self) -> String {
        session_id_from_key(self.rng.next_u64())
    }

    /// Writes an event and returns its `uuid`.
    pub fn push(&mut self, draft: Draft<'_>) -> String {
        let key = self.rng.next_u64();
        let session = match draft.session_id.as_deref() {
            Some(session) => self.tables.session_key(session),
            None => self.rng.next_u64(),
        };
        let record = EventRecord {
            published: draft.published,
            key: split_key(key),
            session: split_key(session),
            shape: self.tables.shape(&draft),
            actor: self.tables.actor(&draft.actor),
            origin: self.tables.origin(draft.origin.as_ref()),
            targets: self.tables.targets(&draft.targets),
            sequence: u32::try_from(self.records.len()).unwrap_or(u32::MAX),
        };
        self.records.push(record);
        event_uuid(key)
    }

    /// Returns the events ascending by `published`; events with the same timestamp keep
    /// the order they were written in.
    pub fn into_sorted(self) -> Vec<LogEvent> {
        let mut records = self.records;
        records.sort_unstable_by_key(|record| (record.published, record.sequence));
        let tables = std::sync::Arc::new(self.tables.tables);

        // The events are built from the back while the records shrink, so that a large
        // log is not held twice at once.
        let mut events = Vec::with_capacity(records.len());
        let mut since_shrink = 0usize;
        while let Some(record) = records.pop() {
            events.push(LogEvent::from_record(tables.clone(), record));
            since_shrink += 1;
            if since_shrink == SHRINK_EVERY {
                records.shrink_to_fit();
                since_shrink = 0;
            }
        }
        events.reverse();
        events
    }
}

/// Number of events converted between two releases of the records' memory.
const SHRINK_EVERY: usize = 1 << 20;

/// [`EventTables`] under construction, with the maps that find a fragment already stored.
///
/// Actors are told apart by id, origins by address and browser, and single targets by id
/// and type, because the generator writes the same JSON for each of those.
#[derive(Default)]
struct TableBuilder {
    tables: EventTables,
    shapes: HashMap<String, u32>,
    actors: HashMap<String, u32>,
    origins: HashMap<(String, &'static str), u32>,
    targets: HashMap<(String, &'static str), u32>,
    people: HashMap<String, u32>,
    app_ids: HashMap<String, u32>,
    /// Sessions whose id was not made by [`EventLog::new_session_id`], with a key each.
    other_sessions: HashMap<String, u64>,
}

/// Returns the position of the next element of a table, as stored in a record.
fn next_index<T>(table: &[T]) -> u32 {
    u32::try_from(table.len()).unwrap_or(u32::MAX)
}

impl TableBuilder {
    fn session_key(&mut self, session: &str) -> u64 {
        if let Some(key) = crate::ids::session_key(session) {
            return key;
        }
        // NOTE: a session id from elsewhere keeps its key but not its text, so the event
        // shows the id derived from the key. The generator makes every session id with
        // `EventLog::new_session_id`, so this is not reached today.
        let next = self.other_sessions.len() as u64;
        *self
            .other_sessions
            .entry(session.to_string())
            .or_insert(next.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    fn shape(&mut self, draft: &Draft<'_>) -> u32 {
        let transaction_type = if draft.origin.is_some() { "WEB" } else { "JOB" };
        let head = format!(
            ",\"displayMessage\":{},\"eventType\":{},\"outcome\":{{\"result\":{},\"reason\":{}}},\"published\":\"",
            quote(draft.display_message),
            quote(draft.event_type),
            quote(draft.result),
            quote_optional(draft.reason)
        );
        let severity = format!(
            ",\"severity\":{},\"debugContext\":{{\"debugData\":{{\"requestId\":\"",
            quote(draft.severity)
        );
        let debug_tail = format!(
            "\"{}}},\"legacyEventType\":{},\"transaction\":{{\"type\":\"{transaction_type}\",\"id\":\"",
            debug_data_rest(draft),
            quote_optional(draft.legacy_event_type)
        );
        let credential = match draft.credential {
            Credential::None => '0',
            Credential::Password => '1',
            Credential::OneTimePassword => '2',
        };
        let key = format!("{credential}{head}{severity}{debug_tail}");
        if let Some(&index) = self.shapes.get(&key) {
            return index;
        }
        let index = next_index(&self.tables.shapes);
        self.tables.shapes.push(Shape {
            event_type: draft.event_type.into(),
            credential: draft.credential,
            head: head.into(),
            severity: severity.into(),
            debug_tail: debug_tail.into(),
        });
        self.shapes.insert(key, index);
        index
    }

    fn actor(&mut self, actor: &Actor) -> u32 {
        if let Some(&index) = self.actors.get(&actor.id) {
            return index;
        }
        let index = next_index(&self.tables.actors);
        self.tables.actors.push(to_json(actor).into());
        self.actors.insert(actor.id.clone(), index);
        index
    }

    fn origin(&mut self, origin: Option<&Origin<'_>>) -> u32 {
        let key = origin.map_or((String::new(), ""), |origin| {
            (origin.ip.to_string(), origin.browser.raw)
        });
        if let Some(&index) = self.origins.get(&key) {
            return index;
        }
        let index = next_index(&self.tables.origins);
        self.tables.origins.push(origin_json(origin));
        self.origins.insert(key, index);
        index
    }

    fn targets(&mut self, targets: &[Target]) -> [TargetRef; 2] {
        let refs: Vec<TargetRef> = targets.iter().map(|target| self.target(target)).collect();
        match refs.as_slice() {
            [] => [TargetRef::NONE; 2],
            [one] => [*one, TargetRef::NONE],
            [one, two] => [*one, *two],
            _ => {
                let index = next_index(&self.tables.target_lists);
                self.tables.target_lists.push(refs.into_boxed_slice());
                [TargetRef::list(index), TargetRef::NONE]
            }
        }
    }

    fn target(&mut self, target: &Target) -> TargetRef {
        if let Some(account) = &target.app_user {
            let person = self.person(&account.user_id, target);
            let app = self.app_id(&account.app_id);
            return TargetRef::app_user(person, app);
        }
        let key = (target.id.clone(), target.kind);
        if let Some(&index) = self.targets.get(&key) {
            return TargetRef::fixed(index);
        }
        let index = next_index(&self.tables.targets);
        self.tables.targets.push(to_json(target).into());
        self.targets.insert(key, index);
        TargetRef::fixed(index)
    }

    fn person(&mut self, user_id: &str, target: &Target) -> u32 {
        if let Some(&index) = self.people.get(user_id) {
            return index;
        }
        let index = next_index(&self.tables.people);
        self.tables.people.push(Person {
            id: user_id.into(),
            login_json: to_json(&target.alternate_id).into(),
            display_name_json: to_json(&target.display_name).into(),
        });
        self.people.insert(user_id.to_string(), index);
        index
    }

    fn app_id(&mut self, app_id: &str) -> u32 {
        if let Some(&index) = self.app_ids.get(app_id) {
            return index;
        }
        let index = next_index(&self.tables.app_ids);
        self.tables.app_ids.push(app_id.into());
        self.app_ids.insert(app_id.to_string(), index);
        index
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Client<'a> {
    user_agent: Option<UserAgent<'a>>,
    zone: Option<&'static str>,
    device: Option<&'a str>,
    id: Option<()>,
    ip_address: Option<&'a str>,
    geographical_context: Option<Geography<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UserAgent<'a> {
    raw_user_agent: &'a str,
    os: &'a str,
    browser: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Geography<'a> {
    city: &'a str,
    state: &'a str,
    country: &'a str,
    postal_code: &'a str,
    geolocation: Geolocation,
}

#[derive(Serialize)]
struct Geolocation {
    lat: f64,
    lon: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SecurityContext<'a> {
    as_number: Option<u32>,
    as_org: Option<&'a str>,
    isp: Option<&'a str>,
    domain: Option<&'a str>,
    is_proxy: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IpChainEntry<'a> {
    ip: &'a str,
    geographical_context: Geography<'a>,
    version: &'static str,
    source: Option<()>,
}

/// One element of `target`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Target {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    alternate_id: String,
    display_name: String,
    detail_entry: Option<Value>,
    /// User and app of an `AppUser` target, whose JSON the log renders from them.
    #[serde(skip)]
    app_user: Option<AppAccount>,
}

/// The user and app an `AppUser` target stands for.
#[derive(Clone, Debug)]
struct AppAccount {
    user_id: String,
    app_id: String,
}

fn geography(place: &Place) -> Geography<'_> {
    Geography {
        city: place.city,
        state: place.state,
        country: place.country,
        postal_code: place.postal_code,
        geolocation: Geolocation {
            lat: place.lat,
            lon: place.lon,
        },
    }
}

/// Serializes a fragment whose map keys are strings and whose numbers are finite, which
/// cannot fail.
fn to_json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Writes text as a JSON string without escaping.
///
/// Only for text the generator builds from ids, timestamps and catalog strings. None of
/// those contains a quote, backslash or control character, and skipping the escape scan
/// keeps debug builds fast. A test parses every generated event to hold this to account.
fn quote(text: &str) -> String {
    format!("\"{text}\"")
}

fn quote_optional(text: Option<&str>) -> String {
    text.map_or_else(|| "null".to_string(), quote)
}

/// Renders the client, security context and IP chain of an origin.
fn origin_json(origin: Option<&Origin<'_>>) -> OriginJson {
    let ip_chain: Vec<IpChainEntry<'_>> = origin
        .map(|origin| IpChainEntry {
            ip: origin.ip,
            geographical_context: geography(origin.place),
            version: "V4",
            source: None,
        })
        .into_iter()
        .collect();
    OriginJson {
        client: to_json(&client(origin)).into(),
        security_context: to_json(&security(origin)).into(),
        ip_chain: to_json(&ip_chain).into(),
    }
}

fn client<'a>(origin: Option<&Origin<'a>>) -> Client<'a> {
    Client {
        user_agent: origin.map(|origin| UserAgent {
            raw_user_agent: origin.browser.raw,
            os: origin.browser.os,
            browser: origin.browser.browser,
        }),
        zone: origin.map(|_| "null"),
        device: origin.map(|origin| origin.browser.device),
        id: None,
        ip_address: origin.map(|origin| origin.ip),
        geographical_context: origin.map(|origin| geography(origin.place)),
    }
}

fn security<'a>(origin: Option<&Origin<'a>>) -> SecurityContext<'a> {
    SecurityContext {
        as_number: origin.map(|origin| origin.network.as_number),
        as_org: origin.map(|origin| origin.network.as_org),
        isp: origin.map(|origin| origin.network.isp),
        domain: origin.map(|origin| origin.network.domain),
        is_proxy: origin.map(|origin| origin.network.is_proxy),
    }
}

impl Target {
    /// Creates a target of any type, with no `detailEntry`.
    pub fn new(id: &str, kind: &'static str, alternate_id: &str, display_name: &str) -> Target {
        Target {
            id: id.to_string(),
            kind,
            alternate_id: alternate_id.to_string(),
            display_name: display_name.to_string(),
            detail_entry: None,
            app_user: None,
        }
    }
}

impl Target {
    /// Returns the target with a `detailEntry`.
    pub fn with_detail(self, detail: Value) -> Target {
        Target {
            detail_entry: Some(detail),
            ..self
        }
    }
}

/// Writes the rest of `debugData` after the request id: the request path and URL when
/// known, whether ThreatInsight suspected the request (for user requests), then the
/// draft's extras, and the closing brace.
fn debug_data_rest(draft: &Draft<'_>) -> String {
    let mut out = String::new();
    if let Some(url) = &draft.request_url {
        let path = url.split('?').next().unwrap_or(url);
        let full = if url.contains('?') {
            url.clone()
        } else {
            format!("{url}?")
        };
        out.push_str(&format!(
            ",\"requestUri\":{},\"url\":{}",
            quote(path),
            quote(&full)
        ));
    }
    if draft.origin.is_some() {
        out.push_str(if draft.threat_suspected {
            ",\"threatSuspected\":\"true\""
        } else {
            ",\"threatSuspected\":\"false\""
        });
    }
    for (key, value) in &draft.debug {
        out.push_str(&format!(",{}:{}", quote(key), to_json(value)));
    }
    out.push('}');
    out
}

/// Builds a `User` target.
pub(crate) fn user_target(user: &User) -> Target {
    Target::new(&user.id, "User", &user.profile.login, user.display_name())
}

/// Builds an `AppInstance` target.
pub(crate) fn app_target(app: &App) -> Target {
    app_instance_target(&app.id, &app.label, &app.sign_on_mode)
}

/// Builds an `AppInstance` target for an app that may not be in the app list, such as
/// the built-in Okta Dashboard.
pub(crate) fn app_instance_target(id: &str, label: &str, sign_on_mode: &str) -> Target {
    Target {
        detail_entry: Some(json!({"signOnModeType": sign_on_mode})),
        ..Target::new(id, "AppInstance", label, label)
    }
}

/// Builds the `AppUser` target for a user's account in an app. Its id is stable per pair.
pub(crate) fn app_user_target(user: &User, app: &App) -> Target {
    let id = derived_object_id("0ua", &format!("{}/{}", user.id, app.id));
    Target {
        app_user: Some(AppAccount {
            user_id: user.id.clone(),
            app_id: app.id.clone(),
        }),
        ..Target::new(&id, "AppUser", &user.profile.login, user.display_name())
    }
}

/// Builds a `UserGroup` target.
pub(crate) fn group_target(group: &Group) -> Target {
    Target::new(&group.id, "UserGroup", "unknown", &group.name)
}

/// Builds the `AuthenticatorEnrollment` target of a user's password or Okta Verify enrollment.
pub(crate) fn authenticator_target(user: &User, authenticator: &str) -> Target {
    let prefix = if authenticator == "Password" {
        "lae"
    } else {
        "pfd"
    };
    let id = derived_object_id(prefix, &format!("{}/{authenticator}", user.id));
    Target::new(&id, "AuthenticatorEnrollment", "unknown", authenticator)
}

/// Writes a `user.session.start` that failed on a wrong password.
pub(crate) fn failed_sign_in(
    log: &mut EventLog,
    user: &User,
    origin: Origin<'_>,
    published: DateTime<Utc>,
) -> String {
    log.push(Draft {
        legacy_event_type: Some("core.user_auth.login_failed"),
        severity: "WARN",
        origin: Some(origin),
        credential: Credential::Password,
        result: "FAILURE",
        reason: Some("INVALID_CREDENTIALS"),
        targets: vec![authenticator_target(user, "Password")],
        request_url: Some("/idp/idx/identify".to_string()),
        ..Draft::new(
            published,
            "user.session.start",
            "User login to Okta",
            Actor::user(user),
        )
    })
}

/// Writes a successful `user.session.start` into the Okta Dashboard, as benign sign-ins
/// end, with extra `debugData` such as Okta's behaviour detection.
pub(crate) fn successful_sign_in(
    log: &mut EventLog,
    (user, dashboard_app_id): (&User, &str),
    origin: Origin<'_>,
    (published, session): (DateTime<Utc>, String),
    debug: Vec<(&'static str, Value)>,
) -> String {
    let dashboard = app_instance_target(dashboard_app_id, "Okta Dashboard", "OPENID_CONNECT");
    log.push(Draft {
        legacy_event_type: Some("core.user_auth.login_success"),
        origin: Some(origin),
        session_id: Some(session),
        credential: Credential::Password,
        targets: vec![authenticator_target(user, "Password"), dashboard],
        request_url: Some("/idp/idx/identify".to_string()),
        debug,
        ..Draft::new(
            published,
            "user.session.start",
            "User login to Okta",
            Actor::user(user),
        )
    })
}

/// Writes a `user.authentication.auth_via_mfa` for an Okta Verify push, successful or
/// rejected; Identity Engine logs a rejected push with reason `INVALID_CREDENTIALS`.
pub(crate) fn push_verification(
    log: &mut EventLog,
    user: &User,
    origin: Origin<'_>,
    (published, session): (DateTime<Utc>, String),
    accepted: bool,
) -> String {
    let (result, reason, legacy, severity) = if accepted {
        ("SUCCESS", None, "core.user.factor.attempt_success", "INFO")
    } else {
        (
            "FAILURE",
            Some("INVALID_CREDENTIALS"),
            "core.user.factor.attempt_fail",
            "WARN",
        )
    };
    log.push(Draft {
        legacy_event_type: Some(legacy),
        severity,
        origin: Some(origin),
        session_id: Some(session),
        credential: Credential::OneTimePassword,
        result,
        reason,
        targets: vec![authenticator_target(user, "Okta Verify")],
        request_url: Some("/idp/idx/challenge/answer".to_string()),
        debug: vec![
            ("factor", json!("OKTA_VERIFY_PUSH")),
            ("factorIntent", json!("AUTHENTICATION")),
        ],
        ..Draft::new(
            published,
            "user.authentication.auth_via_mfa",
            "Authentication of user via MFA",
            Actor::user(user),
        )
    })
}
