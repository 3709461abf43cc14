//! `idaudit rules list` and `idaudit rules test`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use idaudit_detect::RuleSet;

use crate::args::{Format, RulesListArgs, RulesTestArgs};
use crate::exit::ExitStatus;
use crate::output::{print_alerts, print_table};
use crate::settings::Settings;

/// Loads the built-in pack and the rules of each folder in `dirs`.
pub fn load_rules(dirs: &[PathBuf]) -> Result<RuleSet> {
    let mut set = RuleSet::builtin().context("Failed to load the built-in rules")?;
    for dir in dirs {
        let extra = RuleSet::load_dir(dir)
            .with_context(|| format!("Failed to load rules from `{}`", dir.display()))?;
        for skipped in &extra.skipped {
            eprintln!(
                "warning: skipped `{}`: its rules are not for Okta System Log events",
                skipped.display()
            );
        }
        set.extend(extra);
    }
    Ok(set)
}

pub fn list(_settings: &Settings, args: &RulesListArgs) -> Result<ExitStatus> {
    let set = load_rules(&args.rule_dirs)?;
    let rules = set.list();
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            use std::io::Write;
            for rule in &rules {
                let mut value = serde_json::json!({"type": "rule"});
                if let (Some(object), Ok(serde_json::Value::Object(fields))) =
                    (value.as_object_mut(), serde_json::to_value(rule))
                {
                    object.extend(fields);
                }
                writeln!(out, "{value}")?;
            }
        }
        Format::Table => {
            let rows: Vec<Vec<String>> = rules
                .iter()
                .map(|rule| {
                    vec![
                        rule.id.clone(),
                        rule.severity.clone(),
                        rule.kind.clone(),
                        rule.techniques.join(","),
                        rule.source.clone(),
                        rule.title.clone(),
                    ]
                })
                .collect();
            print_table(
                &mut out,
                &["ID", "SEVERITY", "KIND", "ATT&CK", "SOURCE", "TITLE"],
                &rows,
            )?;
        }
    }
    Ok(ExitStatus::Success)
}

pub fn test(args: &RulesTestArgs) -> Result<ExitStatus> {
    let outcome = idaudit_detect::test_rule(&args.rule, &args.events)?;
    print_alerts(&mut std::io::stdout().lock(), &outcome.alerts, args.format)?;
    eprintln!(
        "The rules in `{}` raised {} alerts over {} events",
        args.rule.display(),
        outcome.alerts.len(),
        outcome.events
    );
    if outcome.unrecognised > 0 {
        eprintln!(
            "warning: {} records are not Okta LogEvents (no `eventType` key) and were not evaluated",
            outcome.unrecognised
        );
    }
    Ok(ExitStatus::Success)
}
