//! `idaudit alerts list`.

use anyhow::Result;
use idaudit_store::AlertStatus;

use crate::args::{AlertStatusArg, AlertsListArgs};
use crate::commands::sync::open_store;
use crate::exit::ExitStatus;
use crate::output::print_alerts;
use crate::settings::Settings;

pub fn list(settings: &Settings, args: &AlertsListArgs) -> Result<ExitStatus> {
    let store = open_store(settings)?;
    let status = args.status.map(|status| match status {
        AlertStatusArg::Open => AlertStatus::Open,
        AlertStatusArg::Acknowledged => AlertStatus::Acknowledged,
        AlertStatusArg::Closed => AlertStatus::Closed,
    });
    let alerts = store.alerts(status)?;
    print_alerts(&mut std::io::stdout().lock(), &alerts, args.format)?;
    Ok(ExitStatus::Success)
}
