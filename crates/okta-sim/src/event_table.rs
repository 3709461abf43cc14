//! Compact storage of generated System Log events, rendered to Okta's JSON on demand.
//!
//! A generated event is about 2 KB of JSON, most of it repeated from other events: the
//! actor, the client and network of the origin, the targets, and the fixed parts of each
//! event type. [`EventTables`] keeps each repeated fragment once, and an [`EventRecord`]
//! of about 60 bytes names the fragments of one event. Its random-looking ids (`uuid`,
//! `transaction.id` and `debugData.requestId`) are derived from a 64-bit key by bit
//! mixing, and its session ids from a second key, so they take no room either.
//! [`EventTables::write`] writes the same JSON text, in the same key order, that the
//! generator wrote when it kept every event as text.

use chrono::{DateTime, Utc};

use crate::ids::{
    push_derived_object_id, push_request_id_from_key, push_session_id, push_uuid_from_key,
};
use crate::time::push_okta_time;

/// Credential the actor authenticated with, as `authenticationContext` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Credential {
    None,
    Password,
    OneTimePassword,
}

impl Credential {
    /// Returns the start of `authenticationContext`, up to the session ids.
    fn authentication_prefix(self) -> &'static str {
        match self {
            Credential::None => {
                "{\"authenticationProvider\":null,\"credentialProvider\":null,\"credentialType\":null,\
                 \"issuer\":null,\"interface\":null,\"authenticationStep\":0,\"rootSessionId\":\""
            }
            Credential::Password => {
                "{\"authenticationProvider\":\"OKTA_AUTHENTICATION_PROVIDER\",\
                 \"credentialProvider\":\"OKTA_CREDENTIAL_PROVIDER\",\"credentialType\":\"PASSWORD\",\
                 \"issuer\":null,\"interface\":null,\"authenticationStep\":0,\"rootSessionId\":\""
            }
            Credential::OneTimePassword => {
                "{\"authenticationProvider\":\"FACTOR_PROVIDER\",\
                 \"credentialProvider\":\"OKTA_CREDENTIAL_PROVIDER\",\"credentialType\":\"OTP\",\
                 \"issuer\":null,\"interface\":null,\"authenticationStep\":0,\"rootSessionId\":\""
            }
        }
    }
}

/// The parts of an event that many events share: everything but the origin, actor,
/// targets, ids and time.
#[derive(Debug)]
pub(crate) struct Shape {
    pub event_type: Box<str>,
    pub credential: Credential,
    /// From `,"displayMessage":` to the opening quote of `published`.
    pub head: Box<str>,
    /// From `,"severity":` to the opening quote of `debugData.requestId`.
    pub severity: Box<str>,
    /// From the closing quote of `requestId` to the opening quote of `transaction.id`.
    pub debug_tail: Box<str>,
}

/// JSON of the parts of an event that depend only on where it came from.
#[derive(Debug)]
pub(crate) struct OriginJson {
    pub client: Box<str>,
    pub security_context: Box<str>,
    pub ip_chain: Box<str>,
}

/// A user as an `AppUser` target names it.
#[derive(Debug)]
pub(crate) struct Person {
    pub id: Box<str>,
    /// `alternateId` as JSON text.
    pub login_json: Box<str>,
    /// `displayName` as JSON text.
    pub display_name_json: Box<str>,
}

/// One element of `target`, packed into two words: the top two bits of the first word
/// tell the kind, the rest are indices into the tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TargetRef([u32; 2]);

const TAG_SHIFT: u32 = 30;
const INDEX_MASK: u32 = (1 << TAG_SHIFT) - 1;

impl TargetRef {
    pub const NONE: TargetRef = TargetRef([0, 0]);

    /// Creates a reference to a target whose JSON is stored whole, at `index` of
    /// [`EventTables::targets`].
    pub fn fixed(index: u32) -> TargetRef {
        TargetRef([(1 << TAG_SHIFT) | (index & INDEX_MASK), 0])
    }

    /// Creates a reference to the `AppUser` target of a person's account in an app,
    /// which is rendered from both.
    pub fn app_user(person: u32, app: u32) -> TargetRef {
        TargetRef([(2 << TAG_SHIFT) | (person & INDEX_MASK), app])
    }

    /// Creates a reference to a list of more than two targets, at `index` of
    /// [`EventTables::target_lists`].
    pub fn list(index: u32) -> TargetRef {
        TargetRef([(3 << TAG_SHIFT) | (index & INDEX_MASK), 0])
    }

    fn tag(self) -> u32 {
        self.0[0] >> TAG_SHIFT
    }

    fn index(self) -> usize {
        (self.0[0] & INDEX_MASK) as usize
    }
}

/// One generated event: indices into [`EventTables`] and the keys of its ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct EventRecord {
    pub published: DateTime<Utc>,
    /// Key of `uuid` and the request id, as two words to keep the record 4-aligned.
    pub key: [u32; 2],
    /// Key of the session ids.
    pub session: [u32; 2],
    pub shape: u32,
    pub actor: u32,
    pub origin: u32,
    /// Up to two targets, or one [`TargetRef::list`].
    pub targets: [TargetRef; 2],
    /// Position in the order the events were written, which breaks ties of `published`.
    pub sequence: u32,
}

/// Joins two words into a key.
pub(crate) fn join_key(words: [u32; 2]) -> u64 {
    (u64::from(words[0]) << 32) | u64::from(words[1])
}

/// Splits a key into two words.
pub(crate) fn split_key(key: u64) -> [u32; 2] {
    [(key >> 32) as u32, key as u32]
}

/// Derives the `uuid` of an event from its key.
pub(crate) fn event_uuid(key: u64) -> String {
    let mut uuid = String::with_capacity(36);
    push_uuid_from_key(&mut uuid, key);
    uuid
}

/// Fragments shared by the events of one generated log.
#[derive(Debug, Default)]
pub(crate) struct EventTables {
    pub shapes: Vec<Shape>,
    /// Actor objects as JSON text.
    pub actors: Vec<Box<str>>,
    pub origins: Vec<OriginJson>,
    /// Target objects as JSON text.
    pub targets: Vec<Box<str>>,
    pub people: Vec<Person>,
    pub app_ids: Vec<Box<str>>,
    pub target_lists: Vec<Box<[TargetRef]>>,
}

impl EventTables {
    /// Returns the `eventType` of a record.
    pub fn event_type(&self, record: &EventRecord) -> &str {
        &self.shapes[record.shape as usize].event_type
    }

    /// Appends the JSON text of a record to `out`.
    pub fn write(&self, record: &EventRecord, out: &mut String) {
        let shape = &self.shapes[record.shape as usize];
        let origin = &self.origins[record.origin as usize];
        let key = join_key(record.key);
        let session = join_key(record.session);

        out.push_str("{\"actor\":");
        out.push_str(&self.actors[record.actor as usize]);
        out.push_str(",\"client\":");
        out.push_str(&origin.client);
        out.push_str(",\"device\":null,\"authenticationContext\":");
        out.push_str(shape.credential.authentication_prefix());
        push_session_id(out, session);
        out.push_str("\",\"externalSessionId\":\"");
        push_session_id(out, session);
        out.push_str("\"}");
        out.push_str(&shape.head);
        push_okta_time(out, record.published);
        out.push_str("\",\"securityContext\":");
        out.push_str(&origin.security_context);
        out.push_str(&shape.severity);
        push_request_id_from_key(out, key);
        out.push_str(&shape.debug_tail);
        push_request_id_from_key(out, key);
        out.push_str("\",\"detail\":{}},\"uuid\":\"");
        push_uuid_from_key(out, key);
        out.push_str("\",\"version\":\"0\",\"request\":{\"ipChain\":");
        out.push_str(&origin.ip_chain);
        out.push_str("},\"target\":[");
        self.write_targets(&record.targets, out, &mut true);
        out.push_str("]}");
    }

    fn write_targets(&self, targets: &[TargetRef], out: &mut String, first: &mut bool) {
        for &target in targets {
            if target.tag() == 3 {
                self.write_targets(&self.target_lists[target.index()], out, first);
                continue;
            }
            if target == TargetRef::NONE {
                continue;
            }
            if !*first {
                out.push(',');
            }
            *first = false;
            match target.tag() {
                1 => out.push_str(&self.targets[target.index()]),
                _ => self.write_app_user(target, out),
            }
        }
    }

    /// Writes an `AppUser` target; its id is derived from the user and app ids, as
    /// `generate::events::app_user_target` derives it.
    fn write_app_user(&self, target: TargetRef, out: &mut String) {
        let person = &self.people[target.index()];
        let app_id = &self.app_ids[target.0[1] as usize];
        out.push_str("{\"id\":\"");
        push_derived_object_id(out, "0ua", &[&person.id, "/", app_id]);
        out.push_str("\",\"type\":\"AppUser\",\"alternateId\":");
        out.push_str(&person.login_json);
        out.push_str(",\"displayName\":");
        out.push_str(&person.display_name_json);
        out.push_str(",\"detailEntry\":null}");
    }
}
