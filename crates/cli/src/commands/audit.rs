//! `idaudit audit`: the identity posture of one org, and its joiners,
//! movers and leavers checked against an audit policy, from the synced
//! store. Each prints a table, JSON, CSV, HTML or XLSX, and optionally
//! writes every format into a folder.

use std::io::{IsTerminal, StdoutLock, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};
use idaudit_review::ReviewError;
use idaudit_review::audit::{
    ACCESS_CSV_HEADER, AccessAudit, AccessAuditOptions, LEAVERS_CSV_HEADER, LeaverOptions,
    LeaverReport, POSTURE_CSV_HEADER, Policy, Posture, PostureOptions, access_csv, access_html,
    access_rows, access_xlsx, leaver_rows, leavers_csv, leavers_html, leavers_xlsx, posture_csv,
    posture_html, posture_rows, posture_xlsx, write_access_audit, write_leaver_audit,
    write_posture,
};
use serde::Serialize;

use crate::args::{AuditAccessArgs, AuditFormat, AuditLeaversArgs, AuditPostureArgs};
use crate::commands::access::resolve_org;
use crate::commands::sync::open_existing_store;
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
    let store = open_existing_store(settings)?;
    let org = resolve_org(settings, &store, args.org.as_deref())?;
    let options = PostureOptions {
        inactive_days: args.inactive_days,
        ..PostureOptions::default()
    };
    let report = idaudit_review::audit::posture(&store, &org, &options)?;

    let renderers = Renderers {
        table: print_posture_table,
        csv: posture_csv,
        html: posture_html,
        xlsx: posture_xlsx,
    };
    print_report(args.format, &report, &renderers)?;
    if let Some(folder) = &args.out {
        let files = write_posture(&report, folder)?;
        print_written(&[&files.html, &files.csv, &files.json]);
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

/// The functions that render one kind of audit report in each format.
struct Renderers<R> {
    table: fn(&mut StdoutLock<'static>, &R) -> std::io::Result<()>,
    csv: fn(&R) -> Result<Vec<u8>, ReviewError>,
    html: fn(&R) -> Result<String, ReviewError>,
    xlsx: fn(&R) -> Result<Vec<u8>, ReviewError>,
}

/// Prints a report on stdout in `format`.
fn print_report<R: Serialize>(
    format: AuditFormat,
    report: &R,
    renderers: &Renderers<R>,
) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match format {
        AuditFormat::Table => (renderers.table)(&mut out, report)?,
        AuditFormat::Json => {
            serde_json::to_writer(&mut out, report)?;
            writeln!(out)?;
        }
        AuditFormat::Csv => out.write_all(&(renderers.csv)(report)?)?,
        AuditFormat::Html => out.write_all((renderers.html)(report)?.as_bytes())?,
        AuditFormat::Xlsx => write_workbook(&mut out, &(renderers.xlsx)(report)?)?,
    }
    Ok(())
}

/// Prints on stderr the files that `--out` wrote.
fn print_written(paths: &[&Path]) {
    let names: Vec<String> = paths
        .iter()
        .map(|path| format!("`{}`", path.display()))
        .collect();
    match names.split_last() {
        Some((last, [])) => eprintln!("Wrote {last}"),
        Some((last, rest)) => eprintln!("Wrote {} and {last}", rest.join(", ")),
        None => {}
    }
}

/// Writes workbook bytes to stdout, which must not be a terminal.
fn write_workbook(out: &mut impl Write, bytes: &[u8]) -> Result<()> {
    if std::io::stdout().is_terminal() {
        bail!(
            "An XLSX workbook cannot be shown on a terminal: redirect stdout to a file (`> report.xlsx`) or use `--out DIR`"
        );
    }
    out.write_all(bytes)?;
    Ok(())
}

fn load_policy(path: &Path) -> Result<Policy> {
    Policy::load(path).with_context(|| {
        format!(
            "Failed to load the audit policy `{}`; docs/examples/policy.toml shows the format",
            path.display()
        )
    })
}

pub fn leavers(settings: &Settings, args: &AuditLeaversArgs) -> Result<ExitStatus> {
    let policy = match &args.policy {
        Some(path) => load_policy(path)?,
        None => Policy::default(),
    };
    let deadline_hours = args.deadline_hours.unwrap_or(policy.leaver_deadline_hours);
    if deadline_hours < 0 {
        bail!(
            "Invalid `--deadline-hours {deadline_hours}`: use zero or a positive number of hours"
        );
    }
    let now = chrono::Utc::now();
    let since = crate::time::parse_time(&args.since, now)?;
    let store = open_existing_store(settings)?;
    let org = resolve_org(settings, &store, args.org.as_deref())?;
    let options = LeaverOptions {
        since,
        deadline_hours,
        now,
    };
    let report =
        idaudit_review::audit::leavers_with_rules(&store, &org, &options, &policy.leavers)?;

    let renderers = Renderers {
        table: print_leavers_table,
        csv: leavers_csv,
        html: leavers_html,
        xlsx: leavers_xlsx,
    };
    print_report(args.format, &report, &renderers)?;
    if let Some(folder) = &args.out {
        let files = write_leaver_audit(&report, folder)?;
        print_written(&[&files.html, &files.xlsx, &files.csv, &files.json]);
    }
    Ok(ExitStatus::Success)
}

pub fn joiners(settings: &Settings, args: &AuditAccessArgs) -> Result<ExitStatus> {
    access_audit(settings, args, idaudit_review::audit::joiners)
}

pub fn movers(settings: &Settings, args: &AuditAccessArgs) -> Result<ExitStatus> {
    access_audit(settings, args, idaudit_review::audit::movers)
}

type AccessAuditFn = fn(
    &idaudit_store::Store,
    &str,
    &AccessAuditOptions,
    &Policy,
) -> Result<AccessAudit, idaudit_review::ReviewError>;

/// Runs the joiner or mover audit and prints or writes it.
fn access_audit(
    settings: &Settings,
    args: &AuditAccessArgs,
    run: AccessAuditFn,
) -> Result<ExitStatus> {
    let policy = load_policy(&args.policy)?;
    let now = chrono::Utc::now();
    let since = crate::time::parse_time(&args.since, now)?;
    let store = open_existing_store(settings)?;
    let org = resolve_org(settings, &store, args.org.as_deref())?;
    let report = run(&store, &org, &AccessAuditOptions { since, now }, &policy)?;

    let renderers = Renderers {
        table: print_access_table,
        csv: access_csv,
        html: access_html,
        xlsx: access_xlsx,
    };
    print_report(args.format, &report, &renderers)?;
    if let Some(folder) = &args.out {
        let files = write_access_audit(&report, folder)?;
        print_written(&[&files.html, &files.xlsx, &files.csv, &files.json]);
    }
    for rule in &report.group_rules.skipped {
        if !rule.reason.starts_with("status") {
            eprintln!(
                "warning: group rule `{}` was not evaluated: {}",
                rule.name, rule.reason
            );
        }
    }
    Ok(ExitStatus::Success)
}

fn print_access_table(out: &mut impl Write, report: &AccessAudit) -> std::io::Result<()> {
    let noun = if report.audit == "joiners" {
        "Joiners"
    } else {
        "Movers"
    };
    writeln!(
        out,
        "{noun} since {}: {}, with {} violations; {} group rules evaluated, {} findings",
        report.since,
        report.people.len(),
        report.violation_count(),
        report.group_rules.evaluated.len(),
        report.group_rules.findings.len()
    )?;
    for person in &report.people {
        writeln!(out)?;
        let minutes = person
            .minutes_to_access
            .map(|minutes| format!(", full access after {minutes} min"))
            .unwrap_or_default();
        writeln!(
            out,
            "{} ({}) {} at {}, status {}, {} {}{minutes}",
            person.user.login,
            person.user.name,
            if report.audit == "joiners" {
                "joined"
            } else {
                "moved"
            },
            person.started_at,
            person.user.status,
            person.department,
            person.title
        )?;
        for item in &person.expected {
            let state = if item.held { "held" } else { "MISSING" };
            writeln!(
                out,
                "  expects {} {}: {state}",
                item.access.kind, item.access.name
            )?;
        }
        for entry in &person.timeline {
            writeln!(
                out,
                "  {}  {}  {}  {}",
                entry.time, entry.source, entry.action, entry.object
            )?;
        }
    }
    let rows = access_rows(report);
    if !rows.is_empty() {
        writeln!(out)?;
        print_table(out, ACCESS_CSV_HEADER, &rows)?;
    }
    Ok(())
}

fn print_leavers_table(out: &mut impl Write, report: &LeaverReport) -> std::io::Result<()> {
    let violations: usize = report
        .leavers
        .iter()
        .map(|leaver| leaver.violations.len())
        .sum();
    writeln!(
        out,
        "Leavers since {}: {}, with {} violations (access must be gone {} hours after leaving)",
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
