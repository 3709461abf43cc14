//! `idaudit review`: start a campaign, export its packages, import
//! decisions, remediate, close it into an auditor package, and verify one.

use anyhow::{Context, Result, bail};
use idaudit_review::{
    Expected, RemediationPlan, STATUS_FAILED, STATUS_VERIFIED, apply_remediation, close_campaign,
    export_campaign, import_decisions, plan_remediation, record_plan, verify_package,
};

use crate::args::{
    Format, ReviewCloseArgs, ReviewCompareArgs, ReviewDecideArgs, ReviewExportArgs,
    ReviewRemediateArgs, ReviewStartArgs, ReviewVerifyArgs,
};
use crate::commands::sync::{open_existing_store, open_store};
use crate::exit::ExitStatus;
use crate::settings::Settings;

pub fn start(settings: &Settings, args: &ReviewStartArgs) -> Result<ExitStatus> {
    let mut store = open_existing_store(settings)?;
    let org = match &args.org {
        Some(org) => org.clone(),
        None if settings.has_org() => settings.org_config()?.org_key(),
        None => only_synced_org(&store)?,
    };
    let options = start_options(settings, args)?;
    let started = idaudit_review::start_campaign_with(&mut store, &org, &args.name, &options)?;
    println!("{}", started.id);
    eprintln!(
        "Started campaign {} `{}`: {} items for {} reviewers, {} flagged; export with `idaudit review export --campaign {}`",
        started.id, args.name, started.items, started.reviewers, started.flagged, started.id
    );
    Ok(ExitStatus::Success)
}

/// Validates the options of `review start`.
fn start_options(
    settings: &Settings,
    args: &ReviewStartArgs,
) -> Result<idaudit_review::StartOptions> {
    let reviewer = match args.reviewer.as_str() {
        "manager" => idaudit_review::ReviewerRule::Manager,
        "group-owner" => idaudit_review::ReviewerRule::GroupOwner,
        "app-owner" => idaudit_review::ReviewerRule::AppOwner(app_owners(settings)?),
        other => match other.strip_prefix("user:") {
            Some(login) if !login.trim().is_empty() => {
                idaudit_review::ReviewerRule::User(login.trim().to_string())
            }
            _ => {
                bail!(
                    "Invalid `--reviewer {other}`: use `manager`, `group-owner`, `app-owner` or `user:LOGIN`"
                )
            }
        },
    };
    if let Some(due) = &args.due {
        chrono::NaiveDate::parse_from_str(due, "%Y-%m-%d")
            .with_context(|| format!("Invalid `--due {due}`: use a date such as 2026-12-31"))?;
    }
    if args.inactive_days < 1 {
        bail!(
            "Invalid `--inactive-days {}`: use a positive number of days",
            args.inactive_days
        );
    }
    let mut sod_conflicts = Vec::new();
    for pair in &args.sod_conflicts {
        let Some((left, right)) = pair.split_once('=') else {
            bail!("Invalid `--sod-conflict {pair}`: use two app labels as `App A=App B`");
        };
        sod_conflicts.push((left.trim().to_string(), right.trim().to_string()));
    }
    Ok(idaudit_review::StartOptions {
        apps: args.apps.clone(),
        groups: args.groups.clone(),
        reviewer,
        due: args.due.clone(),
        inactive_days: args.inactive_days,
        sod_conflicts,
    })
}

/// Returns the `[review.app_owners]` table of the config, checked to name
/// at least one owner and no empty login. Okta's API records no app owners,
/// so they come from configuration.
fn app_owners(settings: &Settings) -> Result<std::collections::BTreeMap<String, String>> {
    let owners = &settings.review.app_owners;
    if owners.is_empty() {
        bail!(
            "Invalid `--reviewer app-owner`: no app owners configured; add a `[review.app_owners]` table to the config that maps app labels or ids to reviewer logins, such as `\"Salesforce\" = \"owner@example.com\"`"
        );
    }
    let mut checked = std::collections::BTreeMap::new();
    for (app, login) in owners {
        let login = login.trim();
        if login.is_empty() {
            bail!(
                "Invalid `[review.app_owners]` entry `{app}`: the reviewer login is empty; set it to the owner's login"
            );
        }
        checked.insert(app.trim().to_string(), login.to_string());
    }
    Ok(checked)
}

pub fn export(settings: &Settings, args: &ReviewExportArgs) -> Result<ExitStatus> {
    let store = open_existing_store(settings)?;
    let (campaign, packages) = export_campaign(&store, args.campaign, &args.out)?;
    for package in &packages {
        println!(
            "{}\t{}\t{}",
            package.reviewer_login,
            package.csv.display(),
            package.html.display()
        );
    }
    eprintln!(
        "Wrote {} reviewer packages of campaign {} `{}` to `{}`",
        packages.len(),
        campaign.id,
        campaign.name,
        args.out.display()
    );
    Ok(ExitStatus::Success)
}

pub fn decide(settings: &Settings, args: &ReviewDecideArgs) -> Result<ExitStatus> {
    let mut store = open_existing_store(settings)?;
    let imported = import_decisions(
        &mut store,
        args.campaign,
        &args.file,
        args.reviewer.as_deref(),
    )?;
    eprintln!(
        "Stored decisions of campaign {} from `{}`: {} keep, {} revoke, {} rows undecided",
        imported.campaign_id,
        args.file.display(),
        imported.keep,
        imported.revoke,
        imported.undecided
    );
    Ok(ExitStatus::Success)
}

pub async fn remediate(settings: &Settings, args: &ReviewRemediateArgs) -> Result<ExitStatus> {
    let store = open_existing_store(settings)?;
    let mut plan = plan_remediation(&store, args.campaign)?;
    if args.apply {
        let client = idaudit_okta::Client::new(&remediation_config(settings)?)?;
        let (verified, failed) = apply_remediation(&store, &client, &mut plan)
            .await
            .context("Remediation stopped")?;
        print_plan(&plan, args.format)?;
        eprintln!(
            "Campaign {}: {verified} steps made and verified, {failed} failed",
            plan.campaign.id
        );
        return Ok(if failed > 0 {
            ExitStatus::Partial
        } else {
            ExitStatus::Success
        });
    }
    record_plan(&store, &plan)?;
    print_plan(&plan, args.format)?;
    let counts = plan.counts();
    eprintln!(
        "Dry run of campaign {}: {}; run again with `--apply` to make the planned steps",
        plan.campaign.id,
        describe_counts(&counts)
    );
    Ok(ExitStatus::Success)
}

/// Builds the client config for remediation: the configured scopes, or the
/// default read scopes plus the manage scopes the steps need.
fn remediation_config(settings: &Settings) -> Result<idaudit_okta::OrgConfig> {
    let mut config = settings.org_config()?;
    let configured = !settings.okta.scopes.is_empty() || settings.okta.sdk.scopes.is_some();
    if !configured {
        for scope in idaudit_review::MANAGE_SCOPES {
            if !config.scopes.iter().any(|granted| granted == scope) {
                config.scopes.push(scope.to_string());
            }
        }
    }
    Ok(config)
}

fn describe_counts(counts: &std::collections::BTreeMap<String, usize>) -> String {
    if counts.is_empty() {
        return "no revocation decided".to_string();
    }
    counts
        .iter()
        .map(|(status, count)| format!("{count} {status}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_plan(plan: &RemediationPlan, format: Format) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let name = |id: &str, names: &std::collections::HashMap<String, String>| {
        names.get(id).cloned().unwrap_or_else(|| id.to_string())
    };
    if format == Format::Json {
        use std::io::Write;
        for step in &plan.steps {
            let mut value = serde_json::to_value(step)?;
            value["type"] = "remediation".into();
            value["user_login"] = name(&step.user_id, &plan.user_logins).into();
            value["target_name"] = name(&step.target_id, &plan.target_names).into();
            writeln!(out, "{value}")?;
        }
        return Ok(());
    }
    let rows: Vec<Vec<String>> = plan
        .steps
        .iter()
        .map(|step| {
            vec![
                step.status.clone(),
                step.action.clone(),
                name(&step.user_id, &plan.user_logins),
                name(&step.target_id, &plan.target_names),
                step.item_nos
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
                step.detail.clone(),
            ]
        })
        .collect();
    crate::output::print_table(
        &mut out,
        &["STATUS", "ACTION", "USER", "TARGET", "ITEMS", "DETAIL"],
        &rows,
    )?;
    Ok(())
}

pub fn close(settings: &Settings, args: &ReviewCloseArgs) -> Result<ExitStatus> {
    let store = open_existing_store(settings)?;
    let campaign = store
        .campaign(args.campaign)?
        .ok_or(idaudit_review::ReviewError::NoCampaign { id: args.campaign })?;
    warn_if_sync_older(&store, &campaign)?;
    let closed = close_campaign(&store, Some(campaign.id), &args.out)?;
    println!("{}", closed.root);
    let pending = closed
        .summary
        .remediation
        .iter()
        .filter(|(status, _)| status.as_str() != STATUS_VERIFIED)
        .map(|(status, count)| format!("{count} {status}"))
        .collect::<Vec<_>>();
    eprintln!(
        "Closed campaign {}: {} items, {} kept, {} revoked, {} undecided; auditor package in `{}` and `{}`; record the root hash printed on stdout",
        closed.campaign_id,
        closed.summary.items,
        closed.summary.keep,
        closed.summary.revoke,
        closed.summary.undecided,
        closed.folder.display(),
        closed.zip.display()
    );
    if !pending.is_empty() {
        tracing::warn!(
            "Remediation steps not verified at closing: {}",
            pending.join(", ")
        );
    }
    Ok(ExitStatus::Success)
}

/// Warns when remediation happened after the last sync, because the
/// completion snapshot would not show it.
fn warn_if_sync_older(
    store: &idaudit_store::Store,
    campaign: &idaudit_store::Campaign,
) -> Result<()> {
    let last_sync = store.last_sync_finished(&campaign.org)?;
    let last_change = store
        .campaign_remediations(campaign.id)?
        .into_iter()
        .filter(|step| step.status == STATUS_VERIFIED || step.status == STATUS_FAILED)
        .map(|step| step.updated_at)
        .max();
    if let Some(last_change) = last_change
        && last_sync
            .as_ref()
            .is_none_or(|synced| *synced < last_change)
    {
        tracing::warn!(
            last_change,
            "The last sync is older than the last remediation: run `idaudit sync` first for a current completion snapshot"
        );
    }
    Ok(())
}

pub fn verify(settings: &Settings, args: &ReviewVerifyArgs) -> Result<ExitStatus> {
    let mut expected = Expected {
        root: args.root.clone(),
        zip_sha256: None,
    };
    let first = verify_package(&args.package, &expected)?;
    if let Some(campaign_id) = first.campaign_id
        && settings.store.exists()
    {
        let store = open_store(settings)?;
        if let Some(campaign) = store.campaign(Some(campaign_id))? {
            expected.root = expected.root.or(campaign.package_root);
            expected.zip_sha256 = campaign.package_zip_sha256;
        }
    }
    let report = verify_package(&args.package, &expected)?;
    if report.is_intact() {
        println!("{}", report.root.unwrap_or_default());
        let anchored = if expected.root.is_some() {
            "and matches the recorded root"
        } else {
            "but no recorded root was found: compare the printed root with the one recorded at closing"
        };
        eprintln!(
            "Package `{}` is intact: {} files {anchored}",
            args.package.display(),
            report.files
        );
        return Ok(ExitStatus::Success);
    }
    for problem in &report.problems {
        eprintln!("{problem}");
    }
    eprintln!(
        "Package `{}` fails verification with {} problem(s)",
        args.package.display(),
        report.problems.len()
    );
    Ok(ExitStatus::Partial)
}

pub fn compare(settings: &Settings, args: &ReviewCompareArgs) -> Result<ExitStatus> {
    let store = open_existing_store(settings)?;
    let org = match &args.org {
        Some(org) => org.clone(),
        None if settings.has_org() => settings.org_config()?.org_key(),
        None => only_synced_org(&store)?,
    };
    let comparison = idaudit_review::compare_report(&store, &org, &args.report)?;
    let mut out = std::io::stdout().lock();
    if args.format == Format::Json {
        use std::io::Write;
        for difference in &comparison.differences {
            let mut value = serde_json::to_value(difference)?;
            value["type"] = "difference".into();
            writeln!(out, "{value}")?;
        }
    } else {
        let rows: Vec<Vec<String>> = comparison
            .differences
            .iter()
            .map(|difference| {
                vec![
                    difference.kind.clone(),
                    difference.user_login.clone(),
                    difference.app.clone(),
                    difference.okta.clone().unwrap_or_default(),
                    difference.report.clone().unwrap_or_default(),
                    difference
                        .line
                        .map(|line| line.to_string())
                        .unwrap_or_default(),
                ]
            })
            .collect();
        crate::output::print_table(
            &mut out,
            &["DIFFERENCE", "USER", "APP", "OKTA", "REPORT", "LINE"],
            &rows,
        )?;
    }
    eprintln!(
        "Compared {} report rows with {} synced assignments of `{org}`: {} differences",
        comparison.report_rows,
        comparison.okta_assignments,
        comparison.differences.len()
    );
    Ok(if comparison.differences.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Partial
    })
}

fn only_synced_org(store: &idaudit_store::Store) -> Result<String> {
    let orgs = store.orgs()?;
    match orgs.as_slice() {
        [org] => Ok(org.clone()),
        [] => bail!("No synced org in the store: run `idaudit sync` first"),
        _ => bail!(
            "Several orgs in the store ({}): choose one with `--org`",
            orgs.join(", ")
        ),
    }
}
