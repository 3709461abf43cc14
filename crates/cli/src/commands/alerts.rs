//! `idaudit alerts list|show|ack|close`.

use anyhow::{Result, bail};
use idaudit_store::AlertStatus;

use crate::args::{AlertIdArgs, AlertStatusArg, AlertsListArgs, Format};
use crate::commands::sync::open_existing_store;
use crate::exit::ExitStatus;
use crate::output::{alert_json, print_alerts};
use crate::settings::Settings;

pub fn list(settings: &Settings, args: &AlertsListArgs) -> Result<ExitStatus> {
    let store = open_existing_store(settings)?;
    let status = args.status.map(|status| match status {
        AlertStatusArg::Open => AlertStatus::Open,
        AlertStatusArg::Acknowledged => AlertStatus::Acknowledged,
        AlertStatusArg::Closed => AlertStatus::Closed,
    });
    let alerts = store.alerts(status)?;
    print_alerts(&mut std::io::stdout().lock(), &alerts, args.format)?;
    Ok(ExitStatus::Success)
}

pub fn show(settings: &Settings, args: &AlertIdArgs) -> Result<ExitStatus> {
    let store = open_existing_store(settings)?;
    let Some(alert) = store.alert(&args.id)? else {
        bail!(
            "No alert with id `{}`, or the prefix matches several: run `idaudit alerts list`",
            args.id
        );
    };
    match args.format {
        Format::Json => println!("{}", alert_json(&alert)),
        Format::Table => {
            println!("id          {}", alert.id);
            println!("rule        {}", alert.rule);
            println!("severity    {}", alert.severity);
            println!("status      {}", alert.status.as_str());
            println!("title       {}", alert.title);
            println!("user        {}", alert.user.as_deref().unwrap_or("-"));
            println!("ip          {}", alert.ip.as_deref().unwrap_or("-"));
            println!("first seen  {}", alert.first_seen);
            println!("last seen   {}", alert.last_seen);
            println!("count       {}", alert.count);
            println!(
                "details     {}",
                serde_json::to_string_pretty(&alert.details)?
            );
            println!("evidence    {}", alert.evidence.join("\n            "));
        }
    }
    Ok(ExitStatus::Success)
}

pub fn set_status(
    settings: &Settings,
    args: &AlertIdArgs,
    status: AlertStatus,
) -> Result<ExitStatus> {
    let store = open_existing_store(settings)?;
    let Some(alert) = store.alert(&args.id)? else {
        bail!(
            "No alert with id `{}`, or the prefix matches several: run `idaudit alerts list`",
            args.id
        );
    };
    store.set_alert_status(&alert.id, status)?;
    eprintln!("Alert `{}` is now {}", alert.id, status.as_str());
    Ok(ExitStatus::Success)
}
