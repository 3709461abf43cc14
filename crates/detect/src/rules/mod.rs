//! The built-in rules.

mod failed_sign_ins;
mod privilege_grant;

pub use failed_sign_ins::FailedSignIns;
pub use privilege_grant::PrivilegeGrant;

use idaudit_store::Alert;

use crate::event::Event;

/// A detection rule, called with events in `published` order.
pub trait Rule {
    /// Returns the stable rule id, such as `admin-privilege-grant`.
    fn id(&self) -> &'static str;
    /// Looks at one event; alerts may be kept until [`Rule::finish`].
    fn observe(&mut self, event: &Event, alerts: &mut Vec<Alert>);
    /// Returns alerts still held once every event has been seen.
    fn finish(&mut self, alerts: &mut Vec<Alert>);
}

/// Returns the default rule set.
pub fn builtin() -> Vec<Box<dyn Rule>> {
    vec![Box::new(FailedSignIns::default()), Box::new(PrivilegeGrant)]
}
