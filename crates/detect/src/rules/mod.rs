//! Native rules, for what Sigma cannot express: state kept per user across
//! events (a baseline, the last location), the absence of a later event,
//! and the exact behaviour of the two original rules.

mod failed_sign_ins;
mod first_seen;
mod impossible_travel;
mod mfa_reset;
mod privilege_grant;

pub use failed_sign_ins::FailedSignIns;
pub use first_seen::{Attribute, FirstSeen};
pub use impossible_travel::{ImpossibleTravel, haversine_km};
pub use mfa_reset::MfaReset;
pub use privilege_grant::PrivilegeGrant;

use idaudit_store::Alert;

use crate::event::Event;

/// A detection rule, called with events in `published` order.
///
/// A rule reports an alert when it first matches and again, with the same
/// id, each time it grows, so that feeding events one at a time gives the
/// same alerts as a batch.
pub trait Rule {
    /// Returns the stable rule id, such as `admin-privilege-grant`.
    fn id(&self) -> &str;
    /// Tells whether the rule is about what people do, so that Okta's system
    /// actor and service accounts are skipped.
    fn is_about_people(&self) -> bool {
        false
    }
    /// Returns the dotted paths of the event fields the rule reads besides
    /// those that [`Event`]'s accessors with fixed paths read
    /// ([`Event::ACCESSOR_FIELDS`]), or `None` when it may read any field.
    /// A detector parses only the fields its rules name.
    fn fields(&self) -> Option<Vec<String>> {
        None
    }
    /// Returns the event types on which [`Rule::fields_for`] may name more
    /// fields than on other types.
    fn event_types_read(&self) -> Vec<String> {
        Vec::new()
    }
    /// Returns the dotted paths of the fields the rule reads on an event of
    /// `event_type`, one of [`Rule::event_types_read`], or on an event of
    /// any other type when `None`; `None` in return means any field. Unlike
    /// [`Rule::fields`], the list includes fields read through [`Event`]'s
    /// accessors, except those of [`Event::CORE_FIELDS`], which are always
    /// parsed. The default is [`Rule::fields`] and every accessor field, on
    /// every type.
    fn fields_for(&self, event_type: Option<&str>) -> Option<Vec<String>> {
        let _ = event_type;
        let mut fields = self.fields()?;
        fields.extend(Event::ACCESSOR_FIELDS.iter().map(|field| field.to_string()));
        Some(fields)
    }
    /// Tells whether the rule applies allow-lists and suppression itself.
    fn applies_settings(&self) -> bool {
        false
    }
    /// Looks at one event and appends the alerts it raises or updates.
    fn observe(&mut self, event: &Event, alerts: &mut Vec<Alert>);
    /// Appends alerts still held once every event has been seen.
    fn finish(&mut self, alerts: &mut Vec<Alert>);
}

/// Returns `name` in ASCII lower case, copying it only when it has upper-case letters.
fn lower(name: &str) -> std::borrow::Cow<'_, str> {
    if name.bytes().any(|byte| byte.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(name.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(name)
    }
}

/// Returns the 64-bit SipHash digest of a text. Rules that keep state for
/// every user key it by the digest of the user's name rather than the name:
/// two different names share a digest with a probability of about 2^-64.
fn digest(text: &str) -> u64 {
    use std::hash::{DefaultHasher, Hash, Hasher};

    let mut hasher = DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish()
}

/// Tells whether a sweep of expired state is due: at most once per
/// `interval` of event time, tracked in `last`.
fn sweep_due(
    last: &mut Option<chrono::DateTime<chrono::Utc>>,
    now: chrono::DateTime<chrono::Utc>,
    interval: chrono::Duration,
) -> bool {
    if last.is_some_and(|last| now - last < interval) {
        return false;
    }
    *last = Some(now);
    true
}

/// Returns `fields` on the event types in `types` and nothing on others,
/// for [`Rule::fields_for`].
fn fields_on(event_type: Option<&str>, types: &[&str], fields: &[&str]) -> Option<Vec<String>> {
    let read = event_type.is_some_and(|event_type| types.contains(&event_type));
    Some(if read {
        fields.iter().map(|field| field.to_string()).collect()
    } else {
        Vec::new()
    })
}

/// Returns `types` as owned strings, for [`Rule::event_types_read`].
fn owned(types: &[&str]) -> Vec<String> {
    types
        .iter()
        .map(|event_type| event_type.to_string())
        .collect()
}

/// Target fields that [`Event::target_of_type`] and [`entity_name`] read.
///
/// [`entity_name`]: crate::entity_name
const TARGET_FIELDS: &[&str] = &[
    "target.type",
    "target.alternateId",
    "target.displayName",
    "target.id",
];

/// Returns the native rules with their default thresholds.
pub fn native() -> Vec<Box<dyn Rule>> {
    let [country, asn, device] = FirstSeen::sharing_baselines();
    vec![
        Box::new(FailedSignIns::default()),
        Box::new(PrivilegeGrant::default()),
        Box::new(ImpossibleTravel::default()),
        Box::new(country),
        Box::new(asn),
        Box::new(device),
        Box::new(MfaReset::default()),
    ]
}

/// Returns the whole built-in pack: the native rules and the embedded Sigma
/// rules, with default settings.
pub fn builtin() -> Vec<Box<dyn Rule>> {
    match crate::RuleSet::builtin().and_then(|rules| rules.rules(&crate::Settings::default())) {
        Ok(rules) => rules,
        Err(error) => {
            tracing::error!(%error, "Built-in Sigma rules failed to load; running the native rules only");
            native()
        }
    }
}
