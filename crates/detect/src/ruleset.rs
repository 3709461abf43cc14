//! Rule sets: the embedded built-in pack, the embedded SigmaHQ Okta rules
//! and user folders, and the [`Detector`] that runs them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use idaudit_store::Alert;
use serde::Serialize;

use crate::event::{Event, Unrecognised};
use crate::projection::Projections;
use crate::rules::{self, Rule};
use crate::settings::Settings;
use crate::sigma::{RuleBody, SigmaEngine, SigmaRule, parse_documents};
use crate::suppress::Suppressor;

/// The built-in Sigma pack, written for idaudit.
const BUILTIN: &[(&str, &str)] = &[
    (
        "brute_force.yml",
        include_str!("../rules/builtin/brute_force.yml"),
    ),
    (
        "password_spray.yml",
        include_str!("../rules/builtin/password_spray.yml"),
    ),
    (
        "credential_stuffing.yml",
        include_str!("../rules/builtin/credential_stuffing.yml"),
    ),
    (
        "failures_then_success.yml",
        include_str!("../rules/builtin/failures_then_success.yml"),
    ),
    (
        "mfa_push_fatigue.yml",
        include_str!("../rules/builtin/mfa_push_fatigue.yml"),
    ),
    (
        "admin_console_risky_sign_in.yml",
        include_str!("../rules/builtin/admin_console_risky_sign_in.yml"),
    ),
    (
        "api_token_created.yml",
        include_str!("../rules/builtin/api_token_created.yml"),
    ),
    (
        "mfa_factor_reset.yml",
        include_str!("../rules/builtin/mfa_factor_reset.yml"),
    ),
    (
        "policy_change_by_person.yml",
        include_str!("../rules/builtin/policy_change_by_person.yml"),
    ),
    (
        "network_zone_removed.yml",
        include_str!("../rules/builtin/network_zone_removed.yml"),
    ),
    (
        "threatinsight_detection.yml",
        include_str!("../rules/builtin/threatinsight_detection.yml"),
    ),
    (
        "user_reported_suspicious_activity.yml",
        include_str!("../rules/builtin/user_reported_suspicious_activity.yml"),
    ),
    (
        "account_lockout.yml",
        include_str!("../rules/builtin/account_lockout.yml"),
    ),
    (
        "session_from_two_networks.yml",
        include_str!("../rules/builtin/session_from_two_networks.yml"),
    ),
    (
        "identity_provider_changed.yml",
        include_str!("../rules/builtin/identity_provider_changed.yml"),
    ),
    (
        "rate_limit_violation.yml",
        include_str!("../rules/builtin/rate_limit_violation.yml"),
    ),
];

/// Copies of the SigmaHQ Okta rules, under the Detection Rule License 1.1.
const SIGMAHQ: &[(&str, &str)] = &[
    (
        "okta_admin_activity_from_proxy_query.yml",
        include_str!("../rules/sigmahq/okta_admin_activity_from_proxy_query.yml"),
    ),
    (
        "okta_admin_role_assigned_to_user_or_group.yml",
        include_str!("../rules/sigmahq/okta_admin_role_assigned_to_user_or_group.yml"),
    ),
    (
        "okta_admin_role_assignment_created.yml",
        include_str!("../rules/sigmahq/okta_admin_role_assignment_created.yml"),
    ),
    (
        "okta_api_token_created.yml",
        include_str!("../rules/sigmahq/okta_api_token_created.yml"),
    ),
    (
        "okta_api_token_revoked.yml",
        include_str!("../rules/sigmahq/okta_api_token_revoked.yml"),
    ),
    (
        "okta_application_modified_or_deleted.yml",
        include_str!("../rules/sigmahq/okta_application_modified_or_deleted.yml"),
    ),
    (
        "okta_application_sign_on_policy_modified_or_deleted.yml",
        include_str!("../rules/sigmahq/okta_application_sign_on_policy_modified_or_deleted.yml"),
    ),
    (
        "okta_fastpass_phishing_detection.yml",
        include_str!("../rules/sigmahq/okta_fastpass_phishing_detection.yml"),
    ),
    (
        "okta_identity_provider_created.yml",
        include_str!("../rules/sigmahq/okta_identity_provider_created.yml"),
    ),
    (
        "okta_mfa_reset_or_deactivated.yml",
        include_str!("../rules/sigmahq/okta_mfa_reset_or_deactivated.yml"),
    ),
    (
        "okta_mfa_fatigue.yml",
        include_str!("../rules/sigmahq/okta_mfa_fatigue.yml"),
    ),
    (
        "okta_network_zone_deactivated_or_deleted.yml",
        include_str!("../rules/sigmahq/okta_network_zone_deactivated_or_deleted.yml"),
    ),
    (
        "okta_new_behaviours_admin_console.yml",
        include_str!("../rules/sigmahq/okta_new_behaviours_admin_console.yml"),
    ),
    (
        "okta_password_in_alternateid_field.yml",
        include_str!("../rules/sigmahq/okta_password_in_alternateid_field.yml"),
    ),
    (
        "okta_policy_modified_or_deleted.yml",
        include_str!("../rules/sigmahq/okta_policy_modified_or_deleted.yml"),
    ),
    (
        "okta_policy_rule_modified_or_deleted.yml",
        include_str!("../rules/sigmahq/okta_policy_rule_modified_or_deleted.yml"),
    ),
    (
        "okta_security_threat_detected.yml",
        include_str!("../rules/sigmahq/okta_security_threat_detected.yml"),
    ),
    (
        "okta_suspicious_activity_enduser_report.yml",
        include_str!("../rules/sigmahq/okta_suspicious_activity_enduser_report.yml"),
    ),
    (
        "okta_unauthorized_access_to_app.yml",
        include_str!("../rules/sigmahq/okta_unauthorized_access_to_app.yml"),
    ),
    (
        "okta_user_account_locked_out.yml",
        include_str!("../rules/sigmahq/okta_user_account_locked_out.yml"),
    ),
    (
        "okta_user_created.yml",
        include_str!("../rules/sigmahq/okta_user_created.yml"),
    ),
    (
        "okta_user_session_start_via_anonymised_proxy.yml",
        include_str!("../rules/sigmahq/okta_user_session_start_via_anonymised_proxy.yml"),
    ),
];

/// A rule that could not be loaded, with the file and line.
#[derive(Debug, thiserror::Error)]
#[error("{location}: {message}")]
pub struct LoadError {
    /// `path:line`, or the path alone when no line applies.
    pub location: String,
    pub message: String,
}

impl LoadError {
    pub fn new(file: &str, line: Option<usize>, message: String) -> LoadError {
        let location = match line {
            Some(line) => format!("{file}:{line}"),
            None => file.to_string(),
        };
        LoadError { location, message }
    }

    pub fn at(location: &str, message: String) -> LoadError {
        LoadError {
            location: location.to_string(),
            message,
        }
    }
}

/// One line of `rules list`.
#[derive(Clone, Debug, Serialize)]
pub struct RuleInfo {
    pub id: String,
    pub title: String,
    pub severity: String,
    pub techniques: Vec<String>,
    /// `builtin`, `sigmahq`, `native` or the file the rule came from.
    pub source: String,
    /// `detection`, `correlation` or `native`.
    pub kind: String,
    /// The file and line where the rule starts.
    pub location: String,
}

/// Sigma rules and whether the native rules are included.
#[derive(Clone, Debug, Default)]
pub struct RuleSet {
    sigma: Vec<SigmaRule>,
    native: bool,
    /// Files that held rules for other log sources, which are not run.
    pub skipped: Vec<PathBuf>,
}

impl RuleSet {
    /// Returns the built-in pack: the embedded Sigma rules and the native rules.
    pub fn builtin() -> Result<RuleSet, LoadError> {
        let mut set = embedded(BUILTIN, "builtin")?;
        set.native = true;
        Ok(set)
    }

    /// Returns the embedded copies of the SigmaHQ Okta rules, without native rules.
    pub fn sigmahq() -> Result<RuleSet, LoadError> {
        embedded(SIGMAHQ, "sigmahq")
    }

    /// Loads every `.yml` and `.yaml` file under `folder`, in path order.
    pub fn load_dir(folder: &Path) -> Result<RuleSet, LoadError> {
        let mut files = Vec::new();
        collect_files(folder, &mut files)?;
        files.sort();
        let mut set = RuleSet::default();
        for file in files {
            set.extend(RuleSet::load_file(&file)?);
        }
        Ok(set)
    }

    /// Loads one rule file.
    pub fn load_file(file: &Path) -> Result<RuleSet, LoadError> {
        let name = file.display().to_string();
        let text = std::fs::read_to_string(file).map_err(|error| {
            LoadError::new(
                &name,
                None,
                format!("Failed to read the rule file: {error}"),
            )
        })?;
        let rules = parse_documents(&text, &name, &name)?;
        let mut set = RuleSet::default();
        if !rules.is_empty() && rules.iter().all(|rule| !rule.meta.is_for_okta()) {
            set.skipped.push(file.to_path_buf());
        }
        set.sigma = rules;
        Ok(set)
    }

    /// Adds the rules of `other`; a later rule with the same id replaces an earlier one.
    pub fn extend(&mut self, other: RuleSet) {
        for rule in other.sigma {
            self.sigma
                .retain(|existing| existing.meta.id != rule.meta.id);
            self.sigma.push(rule);
        }
        self.native |= other.native;
        self.skipped.extend(other.skipped);
    }

    /// Returns the rules for `rules list`, native rules last.
    pub fn list(&self) -> Vec<RuleInfo> {
        let mut list: Vec<RuleInfo> = self
            .sigma
            .iter()
            .map(|rule| RuleInfo {
                id: rule.meta.id.clone(),
                title: rule.meta.title.clone(),
                severity: rule.meta.level.clone(),
                techniques: rule.meta.techniques(),
                source: rule.meta.source.clone(),
                kind: match rule.body {
                    RuleBody::Detection(_) => "detection",
                    RuleBody::Correlation(_) => "correlation",
                }
                .to_string(),
                location: rule.meta.location.clone(),
            })
            .collect();
        if self.native {
            list.extend(
                NATIVE_INFO
                    .iter()
                    .map(|(id, title, severity, technique)| RuleInfo {
                        id: id.to_string(),
                        title: title.to_string(),
                        severity: severity.to_string(),
                        techniques: vec![technique.to_string()],
                        source: "native".to_string(),
                        kind: "native".to_string(),
                        location: "crates/detect/src/rules".to_string(),
                    }),
            );
        }
        list
    }

    /// Compiles the set into rules ready to observe events.
    pub fn rules(&self, settings: &Settings) -> Result<Vec<Box<dyn Rule>>, LoadError> {
        let settings = Arc::new(settings.clone());
        let mut compiled: Vec<Box<dyn Rule>> = Vec::new();
        if self.native {
            compiled.extend(
                rules::native()
                    .into_iter()
                    .filter(|rule| !settings.is_disabled(rule.id())),
            );
        }
        compiled.push(Box::new(SigmaEngine::new(self.sigma.clone(), settings)?));
        Ok(compiled)
    }

    /// Builds a detector over this set.
    pub fn detector(&self, settings: Settings) -> Result<Detector, LoadError> {
        let rules = self.rules(&settings)?;
        Ok(Detector {
            projection: Projections::for_rules(&rules),
            rules,
            settings,
            suppressor: Suppressor::default(),
        })
    }
}

/// Id, title, severity and ATT&CK technique of each native rule.
const NATIVE_INFO: &[(&str, &str, &str, &str)] = &[
    (
        "failed-sign-ins-per-user",
        "Failed sign-ins for one account",
        "medium",
        "T1110.001",
    ),
    (
        "admin-privilege-grant",
        "Admin privilege granted",
        "high",
        "T1098.003",
    ),
    (
        "impossible-travel",
        "Impossible travel between sign-ins",
        "high",
        "T1078.004",
    ),
    (
        "new-country-for-user",
        "First sign-in from a country",
        "medium",
        "T1078.004",
    ),
    (
        "new-asn-for-user",
        "First sign-in from a network (ASN)",
        "medium",
        "T1078.004",
    ),
    (
        "new-device-for-user",
        "First sign-in from a device",
        "medium",
        "T1078.004",
    ),
    (
        "mfa-reset-not-reenrolled",
        "MFA reset and not enrolled again",
        "medium",
        "T1556.006",
    ),
];

fn embedded(files: &[(&str, &str)], source: &str) -> Result<RuleSet, LoadError> {
    let mut set = RuleSet::default();
    for (name, text) in files {
        set.sigma.extend(parse_documents(text, name, source)?);
    }
    Ok(set)
}

fn collect_files(folder: &Path, files: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let name = folder.display().to_string();
    let entries = std::fs::read_dir(folder).map_err(|error| {
        LoadError::new(
            &name,
            None,
            format!("Failed to read the rule folder: {error}"),
        )
    })?;
    for entry in entries {
        let path = entry
            .map_err(|error| {
                LoadError::new(
                    &name,
                    None,
                    format!("Failed to read the rule folder: {error}"),
                )
            })?
            .path();
        if path.is_dir() {
            collect_files(&path, files)?;
        } else if path
            .extension()
            .is_some_and(|extension| extension == "yml" || extension == "yaml")
        {
            files.push(path);
        }
    }
    Ok(())
}

/// Runs rules over events in `published` order, with allow-lists and suppression.
pub struct Detector {
    rules: Vec<Box<dyn Rule>>,
    settings: Settings,
    suppressor: Suppressor,
    projection: Projections,
}

impl Detector {
    /// Parses a stored LogEvent for this detector, several times faster
    /// than [`Event::parse`]: the event's `value` keeps only the fields that
    /// the detector's rules read, so its alerts are those of a full parse.
    pub fn parse(&self, raw: &str) -> Result<Event, Unrecognised> {
        self.projection.parse(raw)
    }

    /// Parses a stored LogEvent like [`Detector::parse`], into `event`.
    /// The strings, maps and arrays of the event parsed into it before are
    /// reused, so a loop that parses every event into one [`Event`] spends
    /// little on allocation. On error `event` must not be read.
    pub fn parse_into(&self, raw: &str, event: &mut Event) -> Result<(), Unrecognised> {
        self.projection.parse_into(raw, event)
    }

    /// Evaluates one event and returns the alerts to store: new ones and
    /// new versions of earlier ones, under the same id.
    pub fn observe(&mut self, event: &Event) -> Vec<Alert> {
        let mut alerts = Vec::new();
        self.runner().observe(event, &mut alerts);
        alerts
    }

    /// Evaluates the next batch of a stream, as `logs follow` and the
    /// event-hook endpoint deliver events, and returns the latest version
    /// of each alert the batch raised or updated. State carries over to the
    /// next batch, so a stream cut into batches anywhere raises the same
    /// alerts as one [`Detector::run`] over all of it.
    pub fn observe_batch(&mut self, events: &[Event]) -> Vec<Alert> {
        let mut alerts = Vec::new();
        let mut runner = self.runner();
        for event in events {
            runner.observe(event, &mut alerts);
        }
        crate::latest_by_id(alerts)
    }

    /// Returns alerts still held once every event has been seen.
    pub fn finish(&mut self) -> Vec<Alert> {
        let mut alerts = Vec::new();
        self.runner().finish(&mut alerts);
        alerts
    }

    /// Evaluates a batch and returns the final version of each alert.
    pub fn run(&mut self, events: &[Event]) -> Vec<Alert> {
        let mut alerts = Vec::new();
        let mut runner = self.runner();
        for event in events {
            runner.observe(event, &mut alerts);
        }
        runner.finish(&mut alerts);
        crate::latest_by_id(alerts)
    }

    pub(crate) fn runner(&mut self) -> Runner<'_> {
        Runner {
            rules: &mut self.rules,
            settings: &self.settings,
            suppressor: &mut self.suppressor,
            projection: &self.projection,
        }
    }
}

/// Rules with the settings and suppression state they run under.
pub(crate) struct Runner<'a> {
    pub rules: &'a mut [Box<dyn Rule>],
    pub settings: &'a Settings,
    pub suppressor: &'a mut Suppressor,
    pub projection: &'a Projections,
}

impl Runner<'_> {
    pub fn parse_into(&self, raw: &str, event: &mut Event) -> Result<(), Unrecognised> {
        self.projection.parse_into(raw, event)
    }

    pub fn observe(&mut self, event: &Event, alerts: &mut Vec<Alert>) {
        if let Some(time) = event.published {
            self.suppressor.prune(time);
        }
        if self.settings.allow.allows(event) {
            return;
        }
        let mut raised = Vec::new();
        for rule in self.rules.iter_mut() {
            if rule.applies_settings() {
                rule.observe(event, alerts);
                continue;
            }
            if self
                .settings
                .skips(rule.id(), rule.is_about_people(), event)
            {
                continue;
            }
            rule.observe(event, &mut raised);
            fold(
                self.settings,
                self.suppressor,
                rule.id(),
                &mut raised,
                alerts,
            );
        }
    }

    pub fn finish(&mut self, alerts: &mut Vec<Alert>) {
        let mut raised = Vec::new();
        for rule in self.rules.iter_mut() {
            if rule.applies_settings() {
                rule.finish(alerts);
                continue;
            }
            rule.finish(&mut raised);
            fold(
                self.settings,
                self.suppressor,
                rule.id(),
                &mut raised,
                alerts,
            );
        }
    }
}

fn fold(
    settings: &Settings,
    suppressor: &mut Suppressor,
    rule: &str,
    raised: &mut Vec<Alert>,
    alerts: &mut Vec<Alert>,
) {
    // Most rules raise nothing on most events, and looking the window up
    // hashes the rule id.
    if raised.is_empty() {
        return;
    }
    let window = settings.suppression(rule, None);
    for alert in raised.drain(..) {
        alerts.push(suppressor.fold(alert, window));
    }
}

/// Result of `rules test`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TestOutcome {
    pub events: u64,
    /// Records without Okta's `eventType` key, or not JSON objects.
    pub unrecognised: u64,
    pub alerts: Vec<Alert>,
}

/// Failure of `rules test`.
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("Failed to read the events file `{path}`: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("Invalid JSON in `{path}` at line {line}: {message}")]
    Json {
        path: String,
        line: usize,
        message: String,
    },
}

/// Runs the rules of one file (or folder) over a file of events: a JSON
/// array of LogEvents or one LogEvent per line. Events are sorted by
/// `published` first, as the System Log API returns them.
pub fn test_rule(rule_path: &Path, events_path: &Path) -> Result<TestOutcome, TestError> {
    let set = if rule_path.is_dir() {
        RuleSet::load_dir(rule_path)?
    } else {
        RuleSet::load_file(rule_path)?
    };
    let (mut events, unrecognised) = read_events(events_path)?;
    events.sort_by_key(|event| event.published);
    let mut detector = set.detector(Settings::default())?;
    Ok(TestOutcome {
        events: events.len() as u64,
        unrecognised,
        alerts: detector.run(&events),
    })
}

/// Reads a JSON array or JSON Lines file of events.
pub fn read_events(path: &Path) -> Result<(Vec<Event>, u64), TestError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| TestError::Read {
        path: name.clone(),
        source,
    })?;
    let values: Vec<serde_json::Value> = if text.trim_start().starts_with('[') {
        serde_json::from_str(&text).map_err(|error| TestError::Json {
            path: name.clone(),
            line: error.line(),
            message: error.to_string(),
        })?
    } else {
        let mut values = Vec::new();
        for (index, line) in text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
        {
            values.push(serde_json::from_str(line).map_err(|error| TestError::Json {
                path: name.clone(),
                line: index + 1,
                message: error.to_string(),
            })?);
        }
        values
    };
    let mut events = Vec::new();
    let mut unrecognised = 0;
    for value in values {
        match Event::from_value(value) {
            Ok(event) => events.push(event),
            Err(Unrecognised::NotJson | Unrecognised::NotLogEvent) => unrecognised += 1,
        }
    }
    Ok((events, unrecognised))
}
