//! `idaudit audit`: the identity posture of one org, and the leavers who
//! kept access past the deadline, from the synced store. Each prints a
//! table, JSON or CSV, and optionally writes files into a folder.

use std::io::Write;

use anyhow::{Result, bail};
use idaudit_review::audit::{
    LEAVERS_CSV_HEADER, LeaverOptions, LeaverReport, POSTURE_CSV_HEADER, Posture, PostureOptions,
    leaver_rows, leavers_csv, posture_csv, posture_rows, write_leavers, write_posture,
};

use crate::args::{AuditFormat, AuditLeaversArgs, AuditPostureArgs};
use crate::commands::access::resolve_org;
use crate::commands::sync::open_store;
use crate::exit::ExitStatus;
use crate::output::print_table;
use crate::settings::Settings;

pub fn posture(settings: &Settings, args: &AuditPostureArgs) -> Result<ExitStatus> {
    if args.inactive_days < 1 {
        bail!(
            "Invalid `--inactive-days {}`: use a positive number of days",
            args.inactive_days
        );
    }
    let store = open_store(settings)?;
    let org = resolve_org(settings, &store, args.org.as_deref())?;
    let options = PostureOptions {
        inactive_days: args.inactive_days,
        ..PostureOptions::default()
    };
    let report = idaudit_review::audit::posture(&store, &org, &options)?;

    let mut out = std::io::stdout().lock();
    match args.format {
        AuditFormat::Table => print_posture_table(&mut out, &report)?,
        AuditFormat::Json => {
            serde_json::to_writer(&mut out, &report)?;
            writeln!(out)?;
        }
        AuditFormat::Csv => out.write_all(&posture_csv(&report)?)?,
    }
    if let Some(folder) = &args.out {
        let files = write_posture(&report, folder)?;
        eprintln!(
            "Wrote `{}`, `{}` and `{}`",
            files.html.display(),
            files.csv.display(),
            files.json.display()
        );
    }
    if report.sso_events_read == 0 {
        eprintln!(
            "warning: no `user.authentication.sso` events in the last {} days, so every app is listed without sign-ins: run `idaudit logs pull` first",
            report.app_sign_in_days
        );
    }
    Ok(ExitStatus::Success)
}

fn print_posture_table(out: &mut impl Write, report: &Posture) -> std::io::Result<()> {
    let admin_users: std::collections::HashSet<&str> = report
        .admins
        .iter()
        .map(|grant| grant.user.id.as_str())
        .collect();
    let summary = [
        (
            "Active users with an MFA factor".to_string(),
            format!(
                "{} of {} ({}%)",
                report.mfa.with_factor, report.mfa.active_users, report.mfa.percent
            ),
        ),
        (
            format!("Inactive for {} days", report.inactive_days),
            report.inactive_users.len().to_string(),
        ),
        ("Admins".to_string(), admin_users.len().to_string()),
        (
            "Users without a manager".to_string(),
            report.users_without_manager.len().to_string(),
        ),
        (
            "Apps without assignments".to_string(),
            report.apps_without_assignments.len().to_string(),
        ),
        (
            format!("Apps without a sign-in in {} days", report.app_sign_in_days),
            report.apps_without_sign_ins.len().to_string(),
        ),
    ];
    for (label, value) in summary {
        writeln!(out, "{label}: {value}")?;
    }
    writeln!(out)?;

    let rows: Vec<Vec<String>> = posture_rows(report)
        .into_iter()
        .map(|row| row.to_vec())
        .collect();
    print_table(out, POSTURE_CSV_HEADER, &rows)
}

pub fn leavers(settings: &Settings, args: &AuditLeaversArgs) -> Result<ExitStatus> {
    if args.deadline_hours < 0 {
        bail!(
            "Invalid `--deadline-hours {}`: use zero or a positive number of hours",
            args.deadline_hours
        );
    }
    let now = chrono::Utc::now();
    let since = crate::time::parse_time(&args.since, now)?;
    let store = open_store(settings)?;
    let org = resolve_org(settings, &store, args.org.as_deref())?;
    let options = LeaverOptions {
        since,
        deadline_hours: args.deadline_hours,
        now,
    };
    let report = idaudit_review::audit::leavers(&store, &org, &options)?;

    let mut out = std::io::stdout().lock();
    match args.format {
        AuditFormat::Table => print_leavers_table(&mut out, &report)?,
        AuditFormat::Json => {
            serde_json::to_writer(&mut out, &report)?;
            writeln!(out)?;
        }
        AuditFormat::Csv => out.write_all(&leavers_csv(&report)?)?,
    }
    if let Some(folder) = &args.out {
        let files = write_leavers(&report, folder)?;
        eprintln!(
            "Wrote `{}` and `{}`",
            files.csv.display(),
            files.json.display()
        );
    }
    Ok(ExitStatus::Success)
}

fn print_leavers_table(out: &mut impl Write, report: &LeaverReport) -> std::io::Result<()> {
    let violations: usize = report
        .leavers
        .iter()
        .map(|leaver| leaver.violations.len())
        .sum();
    writeln!(
        out,
        "Leavers since {}: {}, with {} violations of the {}-hour deadline",
        report.since,
        report.leavers.len(),
        violations,
        report.deadline_hours
    )?;
    for leaver in &report.leavers {
        writeln!(out)?;
        writeln!(
            out,
            "{} ({}) {} at {}, status now {}",
            leaver.user.login, leaver.user.name, leaver.how, leaver.left_at, leaver.current_status
        )?;
        for entry in &leaver.timeline {
            writeln!(
                out,
                "  {}  {}  {}  {}",
                entry.time, entry.source, entry.action, entry.object
            )?;
        }
    }
    if violations > 0 {
        writeln!(out)?;
        let rows: Vec<Vec<String>> = leaver_rows(report)
            .into_iter()
            .map(|row| row.to_vec())
            .collect();
        print_table(out, LEAVERS_CSV_HEADER, &rows)?;
    }
    Ok(())
}
