//! `idaudit review start` and `idaudit review export`.

use anyhow::{Result, bail};
use idaudit_review::{export_campaign, start_campaign};

use crate::args::{ReviewExportArgs, ReviewStartArgs};
use crate::commands::sync::open_store;
use crate::exit::ExitStatus;
use crate::settings::Settings;

pub fn start(settings: &Settings, args: &ReviewStartArgs) -> Result<ExitStatus> {
    let mut store = open_store(settings)?;
    let org = match &args.org {
        Some(org) => org.clone(),
        None if settings.has_org() => settings.org_config()?.org_key(),
        None => only_synced_org(&store)?,
    };
    let started = start_campaign(&mut store, &org, &args.name, &args.apps)?;
    println!("{}", started.id);
    eprintln!(
        "Started campaign {} `{}`: {} items for {} reviewers, {} flagged; export with `idaudit review export --campaign {}`",
        started.id, args.name, started.items, started.reviewers, started.flagged, started.id
    );
    Ok(ExitStatus::Success)
}

pub fn export(settings: &Settings, args: &ReviewExportArgs) -> Result<ExitStatus> {
    let store = open_store(settings)?;
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
