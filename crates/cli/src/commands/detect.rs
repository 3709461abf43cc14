//! `idaudit detect`: run the rules over stored events.

use anyhow::Result;
use chrono::Utc;
use idaudit_detect::{detect, rules};

use crate::args::DetectArgs;
use crate::commands::sync::open_store;
use crate::exit::ExitStatus;
use crate::output::print_alerts;
use crate::settings::Settings;
use crate::time::parse_time;

pub fn run(settings: &Settings, args: &DetectArgs) -> Result<ExitStatus> {
    let now = Utc::now();
    let since = args
        .since
        .as_deref()
        .map(|text| parse_time(text, now).map(idaudit_store::format_time))
        .transpose()?;
    let until = args
        .until
        .as_deref()
        .map(|text| parse_time(text, now).map(idaudit_store::format_time))
        .transpose()?;
    let store = open_store(settings)?;
    let mut rules = rules::builtin();
    let summary = detect(&store, &mut rules, since.as_deref(), until.as_deref())?;

    print_alerts(&mut std::io::stdout().lock(), &summary.alerts, args.format)?;
    eprintln!(
        "Ran {} rules over {} events: {} alerts, {} new",
        rules.len(),
        summary.events,
        summary.alerts.len(),
        summary.new_alerts
    );
    if summary.unreadable > 0 {
        eprintln!(
            "warning: {} stored events could not be parsed and were skipped",
            summary.unreadable
        );
    }
    Ok(ExitStatus::Success)
}
