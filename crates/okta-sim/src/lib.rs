//! A local Okta org simulator for tests and demos.
//!
//! [`generate()`] builds a deterministic org from an [`OrgSpec`]: users with a manager
//! hierarchy, groups, apps and assignments, and a System Log of benign traffic with
//! labelled attack scenarios described in its [`GroundTruth`]. [`serve`] exposes an org
//! over Okta's management API on a loopback port, with the OAuth service-app flow,
//! paging by `link` headers, per-bucket rate limits and Okta's error bodies.

pub mod access;
mod event_table;
mod filter;
pub mod generate;
mod ids;
pub mod model;
pub mod server;
mod time;

pub use access::{Factor, GroupRole, GroupRule};
pub use generate::{
    AssignmentScope, GroundTruth, Org, OrgCounts, OrgSpec, Scenario, ScenarioKind, generate,
};
pub use model::{
    App, AppStatus, Group, GroupType, LogEvent, LogEventError, RoleAssignment, User, UserProfile,
    UserStatus,
};
pub use server::{
    ClientKey, DEFAULT_SCOPES, EcClientKey, EcCurve, EventHook, Faults, LatencyRange,
    OrgWriteGuard, RateLimits, RunningSim, SharedOrg, SimOptions, serve,
};
