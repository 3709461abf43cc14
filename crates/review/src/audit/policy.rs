//! The audit policy: birthright rules that map a profile condition to the
//! groups and apps a user should have, and the rules of the leaver audit.
//!
//! A policy is a TOML file:
//!
//! ```toml
//! leaver_deadline_hours = 24
//! leaver_memberships_count = false
//!
//! [[birthright]]
//! name = "Engineering"
//! when = 'user.department == "Engineering"'
//! groups = ["Engineering"]
//! apps = ["GitHub Enterprise Cloud"]
//! ```
//!
//! `when` is an expression in the subset of Okta Expression Language that
//! [`super::expression`] documents. Groups and apps are named by id or by
//! name (label for apps) and resolved against the synced directory by
//! [`Policy::resolve`].

use std::collections::HashMap;
use std::path::Path;

use idaudit_store::Store;
use serde::Deserialize;

use super::expression::Expression;
use super::leavers::{DEFAULT_DEADLINE_HOURS, LeaverRules};
use crate::ReviewError;

/// The policy file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    leaver_deadline_hours: Option<i64>,
    leaver_memberships_count: Option<bool>,
    leaver_suspended_count: Option<bool>,
    deactivation_deadline_hours: Option<i64>,
    check_group_rules: Option<bool>,
    #[serde(default)]
    birthright: Vec<RuleFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    name: Option<String>,
    when: String,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    apps: Vec<String>,
}

/// A birthright rule: every user that `when` selects should have `groups`
/// and `apps`.
#[derive(Clone, Debug)]
pub struct BirthrightRule {
    /// The rule's `name`, or `rule N` when the file gives none.
    pub name: String,
    pub when: Expression,
    /// Group ids or names as written.
    pub groups: Vec<String>,
    /// App ids or labels as written.
    pub apps: Vec<String>,
}

/// A loaded policy.
#[derive(Clone, Debug)]
pub struct Policy {
    pub birthright: Vec<BirthrightRule>,
    /// Hours after leaving by which access must be gone.
    pub leaver_deadline_hours: i64,
    pub leavers: LeaverRules,
    /// Whether memberships that disagree with an active Okta group rule are
    /// reported; true unless the file sets `check_group_rules = false`.
    pub check_group_rules: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            birthright: Vec::new(),
            leaver_deadline_hours: DEFAULT_DEADLINE_HOURS,
            leavers: LeaverRules::default(),
            check_group_rules: true,
        }
    }
}

/// A birthright rule with its groups and apps resolved to ids.
#[derive(Clone, Debug)]
pub struct ResolvedRule {
    pub name: String,
    pub when: Expression,
    pub group_ids: Vec<String>,
    pub app_ids: Vec<String>,
}

impl Policy {
    /// Reads and parses the policy file at `path`.
    pub fn load(path: &Path) -> Result<Policy, ReviewError> {
        let text = std::fs::read_to_string(path).map_err(|source| ReviewError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Policy::parse(&text, path)
    }

    /// Parses policy `text`; `path` names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Policy, ReviewError> {
        let invalid = |problem: String| ReviewError::InvalidPolicy {
            path: path.to_path_buf(),
            problem,
        };
        let file: PolicyFile = toml::from_str(text).map_err(|error| {
            let place = error
                .span()
                .map(|span| format!("line {}: ", line_of(text, span.start)))
                .unwrap_or_default();
            invalid(format!("{place}{}", error.message()))
        })?;

        let rule_lines = table_lines(text, "[[birthright]]");
        let mut birthright = Vec::new();
        for (index, rule) in file.birthright.into_iter().enumerate() {
            let name = rule
                .name
                .filter(|name| !name.trim().is_empty())
                .unwrap_or_else(|| format!("rule {}", index + 1));
            let place = match rule_lines.get(index) {
                Some(line) => format!("birthright rule `{name}` (line {line})"),
                None => format!("birthright rule `{name}`"),
            };
            let when = Expression::parse(&rule.when)
                .map_err(|error| invalid(format!("{place}: {error}")))?;
            if rule.groups.is_empty() && rule.apps.is_empty() {
                return Err(invalid(format!(
                    "{place} names no `groups` and no `apps`: add at least one"
                )));
            }
            birthright.push(BirthrightRule {
                name,
                when,
                groups: rule.groups,
                apps: rule.apps,
            });
        }

        let leaver_deadline_hours = file.leaver_deadline_hours.unwrap_or(DEFAULT_DEADLINE_HOURS);
        let leavers = LeaverRules {
            memberships_count: file.leaver_memberships_count.unwrap_or(false),
            suspended_count: file.leaver_suspended_count.unwrap_or(false),
            deactivation_deadline_hours: file.deactivation_deadline_hours,
        };
        for (key, value) in [
            ("leaver_deadline_hours", Some(leaver_deadline_hours)),
            (
                "deactivation_deadline_hours",
                leavers.deactivation_deadline_hours,
            ),
        ] {
            if value.is_some_and(|hours| hours < 0) {
                return Err(invalid(format!(
                    "`{key}` is negative: use zero or a positive number of hours"
                )));
            }
        }

        Ok(Policy {
            birthright,
            leaver_deadline_hours,
            leavers,
            check_group_rules: file.check_group_rules.unwrap_or(true),
        })
    }

    /// Resolves every rule's group and app names against the synced
    /// directory of `org`; a name that matches nothing is an error naming
    /// the rule.
    pub fn resolve(&self, store: &Store, org: &str) -> Result<Vec<ResolvedRule>, ReviewError> {
        let groups = Names::new(
            store
                .groups(org)?
                .into_iter()
                .map(|group| (group.id, group.name)),
        );
        let apps = Names::new(store.apps(org)?.into_iter().map(|app| (app.id, app.label)));
        let mut resolved = Vec::new();
        for rule in &self.birthright {
            let unknown = |kind: &str, name: &str| ReviewError::PolicyName {
                rule: rule.name.clone(),
                kind: kind.to_string(),
                name: name.to_string(),
            };
            let group_ids = rule
                .groups
                .iter()
                .map(|name| groups.find(name).ok_or_else(|| unknown("group", name)))
                .collect::<Result<Vec<_>, _>>()?;
            let app_ids = rule
                .apps
                .iter()
                .map(|name| apps.find(name).ok_or_else(|| unknown("app", name)))
                .collect::<Result<Vec<_>, _>>()?;
            resolved.push(ResolvedRule {
                name: rule.name.clone(),
                when: rule.when.clone(),
                group_ids,
                app_ids,
            });
        }
        Ok(resolved)
    }
}

/// Ids and names of one kind of object, for lookups by either.
struct Names {
    ids: HashMap<String, String>,
    by_name: HashMap<String, Vec<String>>,
    by_lowercase: HashMap<String, Vec<String>>,
}

impl Names {
    fn new(pairs: impl Iterator<Item = (String, String)>) -> Names {
        let mut names = Names {
            ids: HashMap::new(),
            by_name: HashMap::new(),
            by_lowercase: HashMap::new(),
        };
        for (id, name) in pairs {
            names
                .by_name
                .entry(name.clone())
                .or_default()
                .push(id.clone());
            names
                .by_lowercase
                .entry(name.to_lowercase())
                .or_default()
                .push(id.clone());
            names.ids.insert(id, name);
        }
        names
    }

    /// Finds an id, then an exact name, then a name that differs only in
    /// case; a name shared by several objects matches none of them.
    fn find(&self, wanted: &str) -> Option<String> {
        if self.ids.contains_key(wanted) {
            return Some(wanted.to_string());
        }
        let only = |ids: Option<&Vec<String>>| match ids.map(Vec::as_slice) {
            Some([id]) => Some(id.clone()),
            _ => None,
        };
        only(self.by_name.get(wanted))
            .or_else(|| only(self.by_lowercase.get(&wanted.to_lowercase())))
    }
}

/// Returns the 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Returns the 1-based line of each line that starts with `header`.
fn table_lines(text: &str, header: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| line.trim_start().starts_with(header))
        .map(|(index, _)| index + 1)
        .collect()
}

/// The path of the example policy for the simulated org, relative to the
/// repository root.
pub const EXAMPLE_POLICY: &str = "docs/examples/policy.toml";

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Policy, ReviewError> {
        Policy::parse(text, Path::new("policy.toml"))
    }

    #[test]
    fn full_policy_parsed() {
        let policy = parse(
            r#"
leaver_deadline_hours = 8
leaver_memberships_count = true
deactivation_deadline_hours = 96
check_group_rules = false

[[birthright]]
name = "Engineering"
when = 'user.department == "Engineering"'
groups = ["Engineering"]
apps = ["GitHub"]

[[birthright]]
when = 'String.startsWith(user.title, "VP")'
groups = ["Leadership"]
"#,
        )
        .unwrap();
        assert_eq!(policy.leaver_deadline_hours, 8);
        assert!(policy.leavers.memberships_count);
        assert!(!policy.leavers.suspended_count);
        assert_eq!(policy.leavers.deactivation_deadline_hours, Some(96));
        assert!(!policy.check_group_rules);
        assert_eq!(policy.birthright.len(), 2);
        assert_eq!(policy.birthright[0].apps, ["GitHub"]);
        assert_eq!(policy.birthright[1].name, "rule 2");
    }

    #[test]
    fn defaults_without_keys() {
        let policy = parse("").unwrap();
        assert_eq!(policy.leaver_deadline_hours, DEFAULT_DEADLINE_HOURS);
        assert!(!policy.leavers.memberships_count);
        assert!(policy.check_group_rules);
        assert!(policy.birthright.is_empty());
    }

    #[test]
    fn bad_expression_names_rule_and_line() {
        let error = parse(
            r#"
[[birthright]]
name = "Sales"
when = 'user.department == "Sales"'
groups = ["Sales"]

[[birthright]]
name = "Contractors"
when = 'String.substringAfter(user.email, "@") == "contractor.example"'
groups = ["Contractors"]
"#,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("`Contractors`"), "{error}");
        assert!(error.contains("line 7"), "{error}");
        assert!(error.contains("`String.substringAfter`"), "{error}");
    }

    #[test]
    fn toml_errors_have_a_line() {
        let error = parse("leaver_deadline_hours = \"soon\"\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("line 1"), "{error}");
        let error = parse("\n\n[[birthright]]\nwhen = 'true'\ngroup = [\"x\"]\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("line 5"), "{error}");
        assert!(error.contains("group"), "{error}");
    }

    #[test]
    fn rule_without_access_rejected() {
        let error = parse("[[birthright]]\nname = \"Empty\"\nwhen = 'true'\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("`Empty`"), "{error}");
        assert!(error.contains("no `groups`"), "{error}");
        let error = parse("leaver_deadline_hours = -1\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("negative"), "{error}");
    }

    #[test]
    fn names_found_by_id_name_or_case() {
        let names = Names::new(
            [
                ("00g1", "Sales"),
                ("00g2", "IT"),
                ("00g3", "Twin"),
                ("00g4", "Twin"),
            ]
            .into_iter()
            .map(|(id, name)| (id.to_string(), name.to_string())),
        );
        assert_eq!(names.find("00g2").as_deref(), Some("00g2"));
        assert_eq!(names.find("Sales").as_deref(), Some("00g1"));
        assert_eq!(names.find("sales").as_deref(), Some("00g1"));
        assert_eq!(names.find("Twin"), None);
        assert_eq!(names.find("Nothing"), None);
    }
}
