//! The posture report: MFA coverage, inactive users, admins and how they
//! got their role, users without a manager, and apps with no assignment or
//! no recent SSO sign-in.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use idaudit_store::{Store, UserRow};
use minijinja::{Environment, context};

use crate::chart::{self, Bar};
use serde::Serialize;

use crate::ReviewError;
use crate::export::{inert_cell, write_file};

const POSTURE_TEMPLATE: &str = include_str!("../templates/posture.html");

/// The default number of days without a sign-in after which a user is inactive.
pub const DEFAULT_POSTURE_INACTIVE_DAYS: i64 = 90;

/// The default number of days an app may go without an SSO sign-in.
pub const DEFAULT_APP_SIGN_IN_DAYS: i64 = 90;

/// Okta user statuses of an account that can sign in. `STAGED`,
/// `PROVISIONED`, `SUSPENDED` and `DEPROVISIONED` accounts cannot.
const ACTIVE_STATUSES: &[&str] = &["ACTIVE", "RECOVERY", "PASSWORD_EXPIRED", "LOCKED_OUT"];

/// Settings of a posture report.
#[derive(Clone, Debug)]
pub struct PostureOptions {
    /// Days without a sign-in after which an active user counts as inactive.
    pub inactive_days: i64,
    /// Days an active app may go without an SSO sign-in.
    pub app_sign_in_days: i64,
    /// The time the report is taken at.
    pub now: DateTime<Utc>,
}

impl Default for PostureOptions {
    fn default() -> Self {
        PostureOptions {
            inactive_days: DEFAULT_POSTURE_INACTIVE_DAYS,
            app_sign_in_days: DEFAULT_APP_SIGN_IN_DAYS,
            now: Utc::now(),
        }
    }
}

/// A user as a posture report lists it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct PostureUser {
    pub id: String,
    pub login: String,
    pub name: String,
    pub status: String,
    pub last_login: Option<String>,
}

/// An app as a posture report lists it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct PostureApp {
    pub id: String,
    pub label: String,
    pub status: String,
}

/// One way a user got an admin role.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct AdminGrant {
    pub user: PostureUser,
    /// The role type, or its label for a custom role.
    pub role: String,
    /// `direct`, or `group` when the role is assigned to one of the user's groups.
    pub via: String,
    /// The name of the granting group, for `via` = `group`.
    pub group: Option<String>,
}

/// MFA coverage of the active users.
#[derive(Clone, Debug, Serialize)]
pub struct MfaCoverage {
    pub active_users: usize,
    pub with_factor: usize,
    /// Percentage of active users with an active factor, 100 when there are none.
    pub percent: f64,
    pub without_factor: Vec<PostureUser>,
}

/// The identity posture of one org.
#[derive(Clone, Debug, Serialize)]
pub struct Posture {
    pub org: String,
    pub generated_at: String,
    pub inactive_days: i64,
    pub app_sign_in_days: i64,
    pub mfa: MfaCoverage,
    /// Active users with no sign-in within `inactive_days`, including users
    /// created before then who never signed in.
    pub inactive_users: Vec<PostureUser>,
    pub admins: Vec<AdminGrant>,
    /// Active users whose profile has neither `managerId` nor `manager`.
    pub users_without_manager: Vec<PostureUser>,
    /// Active apps with no user and no group assigned.
    pub apps_without_assignments: Vec<PostureApp>,
    /// Active apps with no successful SSO sign-in within `app_sign_in_days`.
    pub apps_without_sign_ins: Vec<PostureApp>,
    /// The number of `user.authentication.sso` events the app check read.
    /// Zero means the System Log was not pulled for that window.
    pub sso_events_read: usize,
}

/// The files written by [`write_posture`].
#[derive(Clone, Debug)]
pub struct PostureFiles {
    pub html: PathBuf,
    pub csv: PathBuf,
    pub json: PathBuf,
}

/// Builds the posture report of `org` from the synced store.
pub fn posture(store: &Store, org: &str, options: &PostureOptions) -> Result<Posture, ReviewError> {
    let users = store.users(org)?;
    if users.is_empty() {
        return Err(ReviewError::EmptyDirectory {
            org: org.to_string(),
        });
    }
    let active: Vec<&UserRow> = users.iter().filter(|user| is_active(user)).collect();

    let with_factor: HashSet<String> = store
        .factors(org)?
        .into_iter()
        .filter(|factor| factor.status.as_deref() == Some("ACTIVE"))
        .map(|factor| factor.user_id)
        .collect();
    let without_factor: Vec<PostureUser> = active
        .iter()
        .filter(|user| !with_factor.contains(&user.id))
        .map(|user| posture_user(user))
        .collect();
    let covered = active.len() - without_factor.len();
    let percent = if active.is_empty() {
        100.0
    } else {
        (covered as f64 * 1000.0 / active.len() as f64).round() / 10.0
    };

    let cutoff = options.now - Duration::days(options.inactive_days);
    let inactive_users = active
        .iter()
        .filter(|user| is_inactive(user, cutoff))
        .map(|user| posture_user(user))
        .collect();
    let users_without_manager = active
        .iter()
        .filter(|user| !has_manager(user))
        .map(|user| posture_user(user))
        .collect();

    let (apps_without_assignments, apps_without_sign_ins, sso_events_read) =
        app_findings(store, org, options)?;

    Ok(Posture {
        org: org.to_string(),
        generated_at: idaudit_store::format_time(options.now),
        inactive_days: options.inactive_days,
        app_sign_in_days: options.app_sign_in_days,
        mfa: MfaCoverage {
            active_users: active.len(),
            with_factor: covered,
            percent,
            without_factor,
        },
        inactive_users,
        admins: admin_grants(store, org, &users)?,
        users_without_manager,
        apps_without_assignments,
        apps_without_sign_ins,
        sso_events_read,
    })
}

fn is_active(user: &UserRow) -> bool {
    ACTIVE_STATUSES.contains(&user.status.as_str())
}

pub(super) fn posture_user(user: &UserRow) -> PostureUser {
    PostureUser {
        id: user.id.clone(),
        login: user.login.clone(),
        name: user.full_name(),
        status: user.status.clone(),
        last_login: user.last_login.clone(),
    }
}

/// Returns whether the user's last sign-in is before `cutoff`. A user who
/// never signed in counts once the account is older than `cutoff`, or when
/// its creation time is unknown.
fn is_inactive(user: &UserRow, cutoff: DateTime<Utc>) -> bool {
    match user.last_login.as_deref().and_then(parse_time) {
        Some(last_login) => last_login < cutoff,
        None => user
            .created
            .as_deref()
            .and_then(parse_time)
            .is_none_or(|created| created < cutoff),
    }
}

/// Returns whether the profile names a manager, as `managerId` or `manager`.
fn has_manager(user: &UserRow) -> bool {
    let filled = |value: Option<&str>| value.is_some_and(|value| !value.trim().is_empty());
    if filled(user.manager_id.as_deref()) {
        return true;
    }
    let raw: serde_json::Value = serde_json::from_str(&user.raw).unwrap_or_default();
    filled(
        raw.pointer("/profile/manager")
            .and_then(|value| value.as_str()),
    )
}

pub(super) fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|time| time.with_timezone(&Utc))
}

/// Lists every active admin role grant: to the user directly, or through
/// each of the user's groups that the role is assigned to.
fn admin_grants(
    store: &Store,
    org: &str,
    users: &[UserRow],
) -> Result<Vec<AdminGrant>, ReviewError> {
    let users_by_id: HashMap<&str, &UserRow> =
        users.iter().map(|user| (user.id.as_str(), user)).collect();
    let group_names: HashMap<String, String> = store
        .groups(org)?
        .into_iter()
        .map(|group| (group.id, group.name))
        .collect();
    let mut members: HashMap<String, Vec<String>> = HashMap::new();
    for membership in store.memberships(org)? {
        members
            .entry(membership.group_id)
            .or_default()
            .push(membership.user_id);
    }

    let mut grants = Vec::new();
    for role in store.role_assignments(org)? {
        if role
            .status
            .as_deref()
            .is_some_and(|status| status != "ACTIVE")
        {
            continue;
        }
        let role_name = match (&role.label, role.role_type.as_str()) {
            (Some(label), "CUSTOM") if !label.is_empty() => label.clone(),
            _ => role.role_type.clone(),
        };
        let (via, group, user_ids) = if role.assignee_type == "GROUP" {
            let name = group_names
                .get(&role.assignee_id)
                .cloned()
                .unwrap_or_else(|| role.assignee_id.clone());
            let ids = members.get(&role.assignee_id).cloned().unwrap_or_default();
            ("group", Some(name), ids)
        } else {
            ("direct", None, vec![role.assignee_id.clone()])
        };
        for user_id in user_ids {
            let Some(user) = users_by_id.get(user_id.as_str()) else {
                continue;
            };
            grants.push(AdminGrant {
                user: posture_user(user),
                role: role_name.clone(),
                via: via.to_string(),
                group: group.clone(),
            });
        }
    }
    grants.sort_by(|left, right| {
        (&left.user.login, &left.role, &left.via).cmp(&(&right.user.login, &right.role, &right.via))
    });
    Ok(grants)
}

/// Returns the active apps with no assignment, those with no SSO sign-in in
/// the window, and the number of SSO events read.
fn app_findings(
    store: &Store,
    org: &str,
    options: &PostureOptions,
) -> Result<(Vec<PostureApp>, Vec<PostureApp>, usize), ReviewError> {
    let apps: Vec<_> = store
        .apps(org)?
        .into_iter()
        .filter(|app| app.status == "ACTIVE")
        .collect();
    let assigned_to_users: HashSet<String> = store
        .all_app_users(org)?
        .into_iter()
        .map(|row| row.app_id)
        .collect();

    let since = idaudit_store::format_time(options.now - Duration::days(options.app_sign_in_days));
    let events = store.events_of_types(org, &since, &["user.authentication.sso"])?;
    let mut signed_into = HashSet::new();
    for event in &events {
        let raw: serde_json::Value = serde_json::from_str(&event.raw).unwrap_or_default();
        if raw
            .pointer("/outcome/result")
            .and_then(|value| value.as_str())
            != Some("SUCCESS")
        {
            continue;
        }
        let targets = raw.get("target").and_then(|value| value.as_array());
        for target in targets.into_iter().flatten() {
            if let Some(id) = target.get("id").and_then(|value| value.as_str()) {
                signed_into.insert(id.to_string());
            }
        }
    }

    let mut without_assignments = Vec::new();
    let mut without_sign_ins = Vec::new();
    for app in &apps {
        let listed = PostureApp {
            id: app.id.clone(),
            label: app.label.clone(),
            status: app.status.clone(),
        };
        if !assigned_to_users.contains(&app.id) && store.app_groups(org, &app.id)?.is_empty() {
            without_assignments.push(listed.clone());
        }
        if !signed_into.contains(&app.id) {
            without_sign_ins.push(listed);
        }
    }
    Ok((without_assignments, without_sign_ins, events.len()))
}

/// The CSV columns of a posture report: one row per finding.
pub const POSTURE_CSV_HEADER: &[&str] = &["finding", "id", "login_or_label", "name", "detail"];

/// Returns one row per finding, in the order of [`POSTURE_CSV_HEADER`].
pub fn posture_rows(posture: &Posture) -> Vec<[String; 5]> {
    let mut rows: Vec<[String; 5]> = Vec::new();
    let user_row = |finding: &str, user: &PostureUser, detail: String| {
        [
            finding.to_string(),
            user.id.clone(),
            user.login.clone(),
            user.name.clone(),
            detail,
        ]
    };
    for user in &posture.mfa.without_factor {
        rows.push(user_row("no-mfa-factor", user, String::new()));
    }
    for user in &posture.inactive_users {
        let detail = user
            .last_login
            .clone()
            .unwrap_or_else(|| "never".to_string());
        rows.push(user_row("inactive", user, detail));
    }
    for grant in &posture.admins {
        let detail = match &grant.group {
            Some(group) => format!("{} through group {group}", grant.role),
            None => format!("{} assigned directly", grant.role),
        };
        rows.push(user_row("admin", &grant.user, detail));
    }
    for user in &posture.users_without_manager {
        rows.push(user_row("no-manager", user, String::new()));
    }
    let app_row = |finding: &str, app: &PostureApp| {
        [
            finding.to_string(),
            app.id.clone(),
            app.label.clone(),
            String::new(),
            String::new(),
        ]
    };
    for app in &posture.apps_without_assignments {
        rows.push(app_row("app-without-assignments", app));
    }
    for app in &posture.apps_without_sign_ins {
        rows.push(app_row("app-without-sign-ins", app));
    }

    rows
}

/// Returns the report as CSV, one row per finding, with every cell made
/// inert for spreadsheets.
pub fn posture_csv(posture: &Posture) -> Result<Vec<u8>, ReviewError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record(POSTURE_CSV_HEADER)
        .map_err(ReviewError::Csv)?;
    for row in posture_rows(posture) {
        writer
            .write_record(row.iter().map(|cell| inert_cell(cell)))
            .map_err(ReviewError::Csv)?;
    }
    writer
        .into_inner()
        .map_err(|error| ReviewError::Csv(error.into_error().into()))
}

/// Renders the report as one self-contained HTML page; the template
/// escapes every value.
pub fn posture_html(posture: &Posture) -> Result<String, ReviewError> {
    let mut environment = Environment::new();
    environment
        .add_template("posture.html", POSTURE_TEMPLATE)
        .map_err(ReviewError::Template)?;
    let mut admins_by_user: BTreeMap<&str, usize> = BTreeMap::new();
    for grant in &posture.admins {
        *admins_by_user.entry(&grant.user.id).or_default() += 1;
    }
    let (findings_chart, admins_chart) = posture_charts(posture);
    environment
        .get_template("posture.html")
        .and_then(|template| {
            template.render(context! {
                posture => posture,
                admin_users => admins_by_user.len(),
                findings_chart => findings_chart,
                admins_chart => admins_chart,
            })
        })
        .map_err(ReviewError::Template)
}

/// Draws the number of findings of each check, and the admin grants per role and
/// path (direct or through a group), as inline SVG.
fn posture_charts(posture: &Posture) -> (String, String) {
    let findings = [
        ("Active users without MFA", posture.mfa.without_factor.len()),
        (
            &*format!("Inactive {} days or more", posture.inactive_days),
            posture.inactive_users.len(),
        ),
        (
            "Users without a manager",
            posture.users_without_manager.len(),
        ),
        (
            "Apps without assignments",
            posture.apps_without_assignments.len(),
        ),
        (
            &*format!("Apps without sign-in in {} days", posture.app_sign_in_days),
            posture.apps_without_sign_ins.len(),
        ),
    ]
    .map(|(label, count)| Bar::new(label, count as f64));
    let mut per_role: BTreeMap<String, usize> = BTreeMap::new();
    for grant in &posture.admins {
        *per_role
            .entry(format!("{} ({})", grant.role, grant.via))
            .or_default() += 1;
    }
    let roles: Vec<Bar> = per_role
        .into_iter()
        .map(|(label, count)| Bar::new(label, count as f64))
        .collect();
    (
        chart::horizontal_bars("Findings per check", &findings),
        chart::horizontal_bars("Admin grants per role", &roles),
    )
}

/// Writes `posture.html`, `posture.csv` and `posture.json` into `out_dir`.
pub fn write_posture(posture: &Posture, out_dir: &Path) -> Result<PostureFiles, ReviewError> {
    std::fs::create_dir_all(out_dir).map_err(|source| ReviewError::Write {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let files = PostureFiles {
        html: out_dir.join("posture.html"),
        csv: out_dir.join("posture.csv"),
        json: out_dir.join("posture.json"),
    };
    write_file(&files.html, posture_html(posture)?.as_bytes())?;
    write_file(&files.csv, &posture_csv(posture)?)?;
    let json = serde_json::to_vec_pretty(posture).map_err(ReviewError::Json)?;
    write_file(&files.json, &json)?;
    Ok(files)
}
