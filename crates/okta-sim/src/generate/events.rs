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
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde_json::{Value, json};

use super::catalog::{Browser, Network, Place};
use crate::ids::{derived_object_id, request_id, session_id, uuid_v4};
use crate::model::{App, Group, LogEvent, User};
use crate::time::format_okta;

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

/// Credential the actor authenticated with, as `authenticationContext` reports it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Credential {
    None,
    Password,
    OneTimePassword,
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

struct Pending {
    published: DateTime<Utc>,
    event_type: &'static str,
    uuid: String,
    json: String,
}

/// Events written so far, and the random stream their ids come from.
pub(crate) struct EventLog {
    rng: ChaCha8Rng,
    pending: Vec<Pending>,
    cache: FragmentCache,
}

impl EventLog {
    pub fn new(rng: ChaCha8Rng) -> EventLog {
        EventLog {
            rng,
            pending: Vec::new(),
            cache: FragmentCache::default(),
        }
    }

    /// Draws a session id for events that share one sign-in.
    pub fn new_session_id(&mut self) -> String {
        session_id(&mut self.rng)
    }

    /// Writes an event and returns its `uuid`.
    pub fn push(&mut self, draft: Draft<'_>) -> String {
        let uuid = uuid_v4(&mut self.rng);
        let request = request_id(&mut self.rng);
        let session = draft
            .session_id
            .clone()
            .unwrap_or_else(|| session_id(&mut self.rng));
        let json = render(&mut self.cache, &draft, (&uuid, &request, &session));
        self.pending.push(Pending {
            published: draft.published,
            event_type: draft.event_type,
            uuid: uuid.clone(),
            json,
        });
        uuid
    }

    /// Returns the events ascending by `published`; events with the same timestamp keep
    /// the order they were written in.
    pub fn into_sorted(mut self) -> Vec<LogEvent> {
        self.pending.sort_by_key(|pending| pending.published);
        self.pending
            .into_iter()
            .map(|pending| {
                LogEvent::from_parts(
                    pending.json,
                    pending.published,
                    pending.event_type,
                    pending.uuid,
                )
            })
            .collect()
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

/// JSON of the parts of an event that depend only on where it came from.
struct OriginJson {
    client: String,
    security_context: String,
    ip_chain: String,
}

impl OriginJson {
    fn new(origin: Option<&Origin<'_>>) -> OriginJson {
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
            client: to_json(&client(origin)),
            security_context: to_json(&security(origin)),
            ip_chain: to_json(&ip_chain),
        }
    }
}

/// Caches of JSON fragments that many events share.
///
/// Debug builds serialize slowly because every small write goes through unoptimized
/// generic code, and an event has hundreds of them. Actors, origins and targets repeat
/// across a user's events, so they are serialized once each.
#[derive(Default)]
struct FragmentCache {
    actors: HashMap<String, String>,
    origins: HashMap<(String, &'static str), OriginJson>,
    targets: HashMap<(String, &'static str), String>,
}

impl FragmentCache {
    fn actor(&mut self, actor: &Actor) -> &str {
        self.actors
            .entry(actor.id.clone())
            .or_insert_with(|| to_json(actor))
    }

    fn origin(&mut self, origin: Option<&Origin<'_>>) -> &OriginJson {
        let key = origin.map_or((String::new(), ""), |origin| {
            (origin.ip.to_string(), origin.browser.raw)
        });
        self.origins
            .entry(key)
            .or_insert_with(|| OriginJson::new(origin))
    }

    fn targets(&mut self, targets: &[Target]) -> String {
        let mut out = String::from("[");
        for (index, target) in targets.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            let json = self
                .targets
                .entry((target.id.clone(), target.kind))
                .or_insert_with(|| to_json(target));
            out.push_str(json);
        }
        out.push(']');
        out
    }
}

/// Writes the event as JSON, in the key order Okta uses.
fn render(cache: &mut FragmentCache, draft: &Draft<'_>, ids: (&str, &str, &str)) -> String {
    let (uuid, request, session) = (ids.0, ids.1, ids.2);
    let origin = draft.origin.as_ref();
    let transaction_type = if origin.is_some() { "WEB" } else { "JOB" };
    let targets = cache.targets(&draft.targets);
    let actor = cache.actor(&draft.actor).to_string();
    let origin_json = cache.origin(origin);

    let mut out = String::with_capacity(2400);
    out.push_str("{\"actor\":");
    out.push_str(&actor);
    out.push_str(",\"client\":");
    out.push_str(&origin_json.client);
    out.push_str(",\"device\":null,\"authenticationContext\":");
    out.push_str(&authentication_json(draft.credential, session));
    out.push_str(",\"displayMessage\":");
    out.push_str(&quote(draft.display_message));
    out.push_str(",\"eventType\":");
    out.push_str(&quote(draft.event_type));
    out.push_str(",\"outcome\":");
    out.push_str(&format!(
        "{{\"result\":{},\"reason\":{}}}",
        quote(draft.result),
        quote_optional(draft.reason)
    ));
    out.push_str(",\"published\":\"");
    out.push_str(&format_okta(draft.published));
    out.push_str("\",\"securityContext\":");
    out.push_str(&origin_json.security_context);
    out.push_str(",\"severity\":");
    out.push_str(&quote(draft.severity));
    out.push_str(",\"debugContext\":{\"debugData\":");
    out.push_str(&debug_data_json(draft, request));
    out.push_str("},\"legacyEventType\":");
    out.push_str(&quote_optional(draft.legacy_event_type));
    out.push_str(",\"transaction\":");
    out.push_str(&format!(
        "{{\"type\":\"{transaction_type}\",\"id\":{},\"detail\":{{}}}}",
        quote(request)
    ));
    out.push_str(",\"uuid\":");
    out.push_str(&quote(uuid));
    out.push_str(",\"version\":\"0\",\"request\":{\"ipChain\":");
    out.push_str(&origin_json.ip_chain);
    out.push_str("},\"target\":");
    out.push_str(&targets);
    out.push('}');
    out
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

/// Writes `authenticationContext`; both session ids are the sign-in's session.
fn authentication_json(credential: Credential, session: &str) -> String {
    let (provider, credential_provider, credential_type) = match credential {
        Credential::None => ("null", "null", "null"),
        Credential::Password => (
            "\"OKTA_AUTHENTICATION_PROVIDER\"",
            "\"OKTA_CREDENTIAL_PROVIDER\"",
            "\"PASSWORD\"",
        ),
        Credential::OneTimePassword => (
            "\"FACTOR_PROVIDER\"",
            "\"OKTA_CREDENTIAL_PROVIDER\"",
            "\"OTP\"",
        ),
    };
    let session = quote(session);
    format!(
        "{{\"authenticationProvider\":{provider},\"credentialProvider\":{credential_provider},\
         \"credentialType\":{credential_type},\"issuer\":null,\"interface\":null,\
         \"authenticationStep\":0,\"rootSessionId\":{session},\"externalSessionId\":{session}}}"
    )
}

/// Writes `debugData`: the request id, the request path and URL when known, whether
/// ThreatInsight suspected the request (for user requests), then the draft's extras.
fn debug_data_json(draft: &Draft<'_>, request: &str) -> String {
    let mut out = format!("{{\"requestId\":{}", quote(request));
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
    Target::new(&id, "AppUser", &user.profile.login, user.display_name())
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
