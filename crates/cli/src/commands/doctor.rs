//! `idaudit doctor`: check the connection to each configured org and print
//! the fix of each problem found.

use std::io::Write;

use anyhow::Result;
use idaudit_collect::doctor::{Check, CheckStatus, run_checks};
use serde_json::{Value, json};

use crate::args::{DoctorArgs, Format};
use crate::commands::sync::{sync_config, sync_config_of};
use crate::exit::ExitStatus;
use crate::output::print_table;
use crate::settings::Settings;

pub async fn run(settings: &Settings, args: &DoctorArgs) -> Result<ExitStatus> {
    let orgs = settings.select_orgs(args.org.as_deref())?;
    if orgs.is_empty() {
        // Explains what to configure.
        sync_config(settings)?;
    }
    let several = orgs.len() > 1;
    let mut status = ExitStatus::Success;
    for (index, org) in orgs.iter().enumerate() {
        let label = org.label();
        let config = sync_config_of(org)?;
        let checks = run_checks(&config).await;

        let mut out = std::io::stdout().lock();
        match args.format {
            Format::Json => {
                for check in &checks {
                    writeln!(out, "{}", check_json(&label, check))?;
                }
            }
            Format::Table => {
                if several {
                    let gap = if index > 0 { "\n" } else { "" };
                    writeln!(out, "{gap}Org `{label}` ({})", config.org_url)?;
                }
                print_checks(&mut out, &checks)?;
            }
        }

        let problems = checks
            .iter()
            .filter(|check| check.status == CheckStatus::Problem)
            .count();
        if problems > 0 {
            eprintln!("{problems} problems found with `{label}`");
            status = ExitStatus::Failure;
        }
    }
    Ok(status)
}

fn print_checks(out: &mut impl Write, checks: &[Check]) -> std::io::Result<()> {
    let rows: Vec<Vec<String>> = checks
        .iter()
        .map(|check| {
            let status = match check.status {
                CheckStatus::Ok => "ok",
                CheckStatus::Warning => "warning",
                CheckStatus::Problem => "problem",
            };
            let mut detail = check.detail.clone();
            if let Some(fix) = &check.fix {
                detail.push_str(&format!("; fix: {fix}"));
            }
            vec![check.name.clone(), status.to_string(), detail]
        })
        .collect();
    print_table(out, &["CHECK", "STATUS", "DETAIL"], &rows)
}

fn check_json(org: &str, check: &Check) -> Value {
    let mut value = json!({"type": "check", "org": org});
    if let (Some(object), Ok(Value::Object(fields))) =
        (value.as_object_mut(), serde_json::to_value(check))
    {
        object.extend(fields);
    }
    value
}
