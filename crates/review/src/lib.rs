//! Access certification: campaigns over app entitlements, the review
//! packages sent to each reviewer, their decisions, the remediation of the
//! revoked access, and the auditor package that closes a campaign.

pub mod audit;
mod campaign;
pub mod chart;
mod compare;
mod decide;
mod export;
mod package;
mod remediate;
mod xlsx;

use std::path::PathBuf;

pub use campaign::{
    DEFAULT_INACTIVE_DAYS, FALLBACK_REVIEWER, FLAG_DEACTIVATED, FLAG_INACTIVE, FLAG_NO_MFA,
    FLAG_PRIVILEGED, FLAG_SOD, FLAG_SUSPENDED, FLAG_UNKNOWN_USER, ReviewerRule, StartOptions,
    StartedCampaign, start_campaign, start_campaign_with,
};
pub use compare::{Comparison, Difference, compare_report};
pub use decide::{ImportedDecisions, import_decisions};
pub use export::{ReviewerPackage, export_campaign, inert_cell};
pub use package::{
    ClosedCampaign, Expected, Manifest, Summary, Verification, close_campaign, sha256_hex,
    verify_package,
};
pub use remediate::{
    MANAGE_SCOPES, RemediationPlan, STATUS_BLOCKED, STATUS_FAILED, STATUS_MANUAL, STATUS_PLANNED,
    STATUS_VERIFIED, apply_remediation, plan_remediation, record_plan,
};
pub use xlsx::{OVERVIEW_SHEET, SHEET_HEADER};

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("no synced apps for org `{org}`: run `idaudit sync` first")]
    EmptyDirectory { org: String },
    #[error("no app with id or label `{name}` in the synced directory")]
    UnknownApp { name: String },
    #[error("no group with id or name `{name}` in the synced directory")]
    UnknownGroup { name: String },
    #[error("{}", match id { Some(id) => format!("no campaign with id `{id}`"), None => "no campaign yet: run `idaudit review start` first".to_string() })]
    NoCampaign { id: Option<i64> },
    #[error(transparent)]
    Store(#[from] idaudit_store::Error),
    #[error("failed to render a package")]
    Template(#[source] minijinja::Error),
    #[error("failed to write CSV")]
    Csv(#[source] csv::Error),
    #[error("failed to write the workbook `{path}`")]
    Xlsx {
        path: PathBuf,
        #[source]
        source: rust_xlsxwriter::XlsxError,
    },
    #[error("a package writing thread stopped before every reviewer was written")]
    WriterStopped,
    #[error("failed to write JSON")]
    Json(#[source] serde_json::Error),
    #[error("failed to write `{path}`")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to read `{path}`")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("campaign {id} was closed at {closed_at} and takes no more changes")]
    Closed { id: i64, closed_at: String },
    #[error(
        "rejected `{}` with {} problem(s); no decision was stored:\n  {}",
        path.display(),
        problems.len(),
        problems.join("\n  ")
    )]
    DecisionsRejected {
        path: PathBuf,
        problems: Vec<String>,
    },
    #[error("invalid policy `{}`: {problem}", path.display())]
    InvalidPolicy { path: PathBuf, problem: String },
    #[error(
        "birthright rule `{rule}` names the {kind} `{name}`, which is not in the synced directory: use its id or exact name"
    )]
    PolicyName {
        rule: String,
        kind: String,
        name: String,
    },
    #[error("birthright rule `{rule}` failed to evaluate: {problem}")]
    PolicyEvaluation { rule: String, problem: String },
    #[error("invalid report `{}`: {problem}", path.display())]
    InvalidReport { path: PathBuf, problem: String },
    #[error("failed to write the zip")]
    Zip(#[source] zip::result::ZipError),
}
