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
    /// Tells whether the rule applies allow-lists and suppression itself.
    fn applies_settings(&self) -> bool {
        false
    }
    /// Looks at one event and appends the alerts it raises or updates.
    fn observe(&mut self, event: &Event, alerts: &mut Vec<Alert>);
    /// Appends alerts still held once every event has been seen.
    fn finish(&mut self, alerts: &mut Vec<Alert>);
}

/// Returns the native rules with their default thresholds.
pub fn native() -> Vec<Box<dyn Rule>> {
    vec![
        Box::new(FailedSignIns::default()),
        Box::new(PrivilegeGrant::default()),
        Box::new(ImpossibleTravel::default()),
        Box::new(FirstSeen::new(Attribute::Country)),
        Box::new(FirstSeen::new(Attribute::Asn)),
        Box::new(FirstSeen::new(Attribute::Device)),
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
