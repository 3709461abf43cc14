//! Access certification: campaigns over app entitlements and the review
//! packages sent to each reviewer.

mod campaign;
mod export;
mod xlsx;

use std::path::PathBuf;

pub use campaign::{
    FALLBACK_REVIEWER, FLAG_DEACTIVATED, FLAG_INACTIVE, FLAG_SUSPENDED, FLAG_UNKNOWN_USER,
    StartedCampaign, start_campaign,
};
pub use export::{ReviewerPackage, export_campaign, inert_cell};

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("no synced apps for org `{org}`: run `idaudit sync` first")]
    EmptyDirectory { org: String },
    #[error("no app with id or label `{name}` in the synced directory")]
    UnknownApp { name: String },
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
    #[error("failed to write JSON")]
    Json(#[source] serde_json::Error),
    #[error("failed to write `{path}`")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
