//! `idaudit doctor`: check the connection to the configured org and print
//! the fix of each problem found.

use std::io::Write;

use anyhow::Result;
use idaudit_collect::doctor::{Check, CheckStatus, run_checks};
use serde_json::{Value, json};

use crate::args::{DoctorArgs, Format};
use crate::commands::sync::sync_config;
use crate::exit::ExitStatus;
use crate::output::print_table;
use crate::settings::Settings;

pub async fn run(settings: &Settings, args: &DoctorArgs) -> Result<ExitStatus> {
    let config = sync_config(settings)?;
    let checks = run_checks(&config).await;

    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            for check in &checks {
                writeln!(out, "{}", check_json(check))?;
            }
        }
        Format::Table => print_checks(&mut out, &checks)?,
    }

    let problems = checks
        .iter()
        .filter(|check| check.status == CheckStatus::Problem)
        .count();
    if problems > 0 {
        eprintln!("{problems} problems found with `{}`", config.org_key());
        return Ok(ExitStatus::Failure);
    }
    Ok(ExitStatus::Success)
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

fn check_json(check: &Check) -> Value {
    let mut value = json!({"type": "check"});
    if let (Some(object), Ok(Value::Object(fields))) =
        (value.as_object_mut(), serde_json::to_value(check))
    {
        object.extend(fields);
    }
    value
}
