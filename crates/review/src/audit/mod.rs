//! Audits of the synced store that need no campaign: the identity posture
//! of an org, and the access that leavers kept after their deactivation.
//!
//! Unlike a campaign, an audit stores nothing. It reads the directory
//! tables, the change history and the stored System Log events, and returns
//! a value that the CLI prints or writes as HTML, CSV and JSON.

mod leavers;
mod posture;

pub use leavers::{
    DEFAULT_DEADLINE_HOURS, HeldAccess, LEAVERS_CSV_HEADER, Leaver, LeaverFiles, LeaverOptions,
    LeaverReport, TimelineEntry, Violation, leaver_rows, leavers, leavers_csv, write_leavers,
};
pub use posture::{
    AdminGrant, DEFAULT_APP_SIGN_IN_DAYS, DEFAULT_POSTURE_INACTIVE_DAYS, MfaCoverage,
    POSTURE_CSV_HEADER, Posture, PostureApp, PostureFiles, PostureOptions, PostureUser, posture,
    posture_csv, posture_html, posture_rows, write_posture,
};
