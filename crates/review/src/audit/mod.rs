//! Audits of the synced store that need no campaign: the identity posture
//! of an org, and the joiners, movers and leavers of a window checked
//! against a birthright policy.
//!
//! Unlike a campaign, an audit stores nothing. It reads the directory
//! tables, the change history and the stored System Log events, and returns
//! a value that the CLI prints or writes as HTML, XLSX, CSV and JSON.

mod birthright;
pub mod expression;
mod joiners;
mod leavers;
mod movers;
mod policy;
mod posture;
mod report;

pub use birthright::{
    AccessViolation, ExpectedAccess, GroupRuleCheck, PersonAudit, RuleFinding, SkippedRule,
};
pub use joiners::{AccessAudit, AccessAuditOptions, joiners};
pub use leavers::{
    DEFAULT_DEADLINE_HOURS, HeldAccess, LEAVERS_CSV_HEADER, Leaver, LeaverFiles, LeaverOptions,
    LeaverReport, LeaverRules, TimelineEntry, Violation, leaver_rows, leavers, leavers_csv,
    leavers_with_rules, write_leavers,
};
pub use movers::movers;
pub use policy::{BirthrightRule, EXAMPLE_POLICY, Policy, ResolvedRule};
pub use posture::{
    AdminGrant, DEFAULT_APP_SIGN_IN_DAYS, DEFAULT_POSTURE_INACTIVE_DAYS, MfaCoverage,
    POSTURE_CSV_HEADER, Posture, PostureApp, PostureFiles, PostureOptions, PostureUser, posture,
    posture_csv, posture_html, posture_rows, write_posture,
};
pub use report::{
    ACCESS_CSV_HEADER, AuditFiles, access_csv, access_html, access_rows, access_xlsx, leavers_html,
    leavers_xlsx, posture_xlsx, write_access_audit, write_leaver_audit,
};
