//! Benign administrative events that match the directory. Hires created during the window
//! get their creation, activation and memberships; users deactivated or suspended during
//! the window get that event. Some users change their password, and admins now and then
//! add existing staff to team groups.
//!
//! Privilege grants are deliberately absent: in the generated log every
//! `user.account.privilege.grant` belongs to a labelled scenario.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::Window;
use super::catalog::{BROWSERS, HOME_CITIES};
use super::directory::{Directory, between};
use super::events::{
    Actor, Credential, Draft, EventLog, Origin, Target, app_target, app_user_target, group_target,
    user_target,
};
use crate::model::{GroupType, UserStatus};

/// Chance that an active user changes the password during the window, per mille.
const PASSWORD_CHANGE_PER_MILLE: u32 = 20;

/// The events that record each hire of the window, by user index: uuid and `published`.
pub(crate) type HireEvents = HashMap<usize, Vec<(String, DateTime<Utc>)>>;

/// Writes the administrative events of the window and returns the events of each hire.
pub(crate) fn record(
    window: &Window,
    directory: &mut Directory,
    log: &mut EventLog,
    rng: &mut ChaCha8Rng,
) -> HireEvents {
    let mut hires = HireEvents::new();
    if window.is_empty() || directory.admins.is_empty() {
        return hires;
    }
    for user in 0..directory.users.len() {
        let admin = *directory.admins.choose(rng).unwrap_or(&directory.admins[0]);
        if window.contains(directory.users[user].created) {
            let events = record_hire(window, directory, log, rng, (admin, user));
            hires.insert(user, events);
        }
        record_status_change(window, directory, log, admin, user);
        maybe_change_password(window, directory, log, rng, user);
    }
    record_team_changes(window, directory, log, rng);
    hires
}

/// Returns where requests of a user come from.
pub(crate) fn origin_of(directory: &Directory, user: usize) -> Origin<'_> {
    let persona = &directory.personas[user];
    let city = &HOME_CITIES[persona.city];
    Origin {
        ip: &persona.ip,
        place: &city.place,
        network: &city.network,
        browser: &BROWSERS[persona.browser],
    }
}

/// Returns `timestamp` with a random millisecond part, as API-driven events have.
fn with_millis(rng: &mut ChaCha8Rng, timestamp: DateTime<Utc>) -> DateTime<Utc> {
    timestamp + Duration::milliseconds(rng.gen_range(0..1000))
}

/// Writes the creation and activation of a hire and the memberships it brought; returns
/// the events written.
fn record_hire(
    window: &Window,
    directory: &Directory,
    log: &mut EventLog,
    rng: &mut ChaCha8Rng,
    (admin, user): (usize, usize),
) -> Vec<(String, DateTime<Utc>)> {
    let mut written = Vec::new();
    let Some(activated) = record_creation(directory, log, rng, (admin, user), &mut written) else {
        return written;
    };
    let origin = origin_of(directory, admin);
    let mut at = activated;
    for assignment in hire_assignments(directory, user) {
        at += Duration::seconds(rng.gen_range(1..30));
        if at >= window.end {
            return written;
        }
        let published = with_millis(rng, at);
        let uuid = log.push(Draft {
            legacy_event_type: Some(assignment.legacy_event_type),
            origin: Some(origin),
            targets: assignment.targets,
            request_url: Some(assignment.request_url),
            ..Draft::new(
                published,
                assignment.event_type,
                assignment.display_message,
                Actor::user(&directory.users[admin]),
            )
        });
        written.push((uuid, published));
    }
    written
}

/// Writes `user.lifecycle.create` and, if the hire is activated, `user.lifecycle.activate`
/// into `log` and `written`; returns the activation time.
fn record_creation(
    directory: &Directory,
    log: &mut EventLog,
    rng: &mut ChaCha8Rng,
    (admin, user): (usize, usize),
    written: &mut Vec<(String, DateTime<Utc>)>,
) -> Option<DateTime<Utc>> {
    let hired = &directory.users[user];
    let origin = origin_of(directory, admin);
    let actor = || Actor::user(&directory.users[admin]);
    let created = with_millis(rng, hired.created);
    let uuid = log.push(Draft {
        legacy_event_type: Some("core.user.config.user_creation.success"),
        origin: Some(origin),
        targets: vec![user_target(hired)],
        request_url: Some("/api/v1/users?activate=false".to_string()),
        ..Draft::new(
            created,
            "user.lifecycle.create",
            "Create okta user",
            actor(),
        )
    });
    written.push((uuid, created));
    let activated = hired
        .activated
        .filter(|activated| *activated > hired.created)?;
    let published = with_millis(rng, activated);
    let uuid = log.push(Draft {
        legacy_event_type: Some("core.user.config.user_activated"),
        origin: Some(origin),
        targets: vec![user_target(hired)],
        request_url: Some(format!("/api/v1/users/{}/lifecycle/activate", hired.id)),
        ..Draft::new(
            published,
            "user.lifecycle.activate",
            "Activate Okta user",
            actor(),
        )
    });
    written.push((uuid, published));
    Some(activated)
}

/// A group or app membership written for a hire.
struct Assignment {
    event_type: &'static str,
    display_message: &'static str,
    legacy_event_type: &'static str,
    targets: Vec<Target>,
    request_url: String,
}

/// Lists a hire's group memberships (except the built-in `Everyone`) and direct app
/// assignments, in that order.
fn hire_assignments(directory: &Directory, user: usize) -> Vec<Assignment> {
    let hired = &directory.users[user];
    let groups = directory
        .groups
        .iter()
        .zip(&directory.members)
        .filter(|(group, members)| {
            group.group_type != GroupType::BuiltIn && members.contains(&user)
        })
        .map(|(group, _)| Assignment {
            event_type: "group.user_membership.add",
            display_message: "Add user to group membership",
            legacy_event_type: "core.user_group_member.user_add",
            targets: vec![user_target(hired), group_target(group)],
            request_url: format!("/api/v1/groups/{}/users/{}", group.id, hired.id),
        });
    let apps = directory
        .apps
        .iter()
        .zip(&directory.app_direct)
        .filter(|(_, users)| users.contains(&user))
        .map(|(app, _)| Assignment {
            event_type: "application.user_membership.add",
            display_message: "Add user to application membership",
            legacy_event_type: "app.generic.provision.assign_user_to_app",
            targets: vec![
                app_user_target(hired, app),
                app_target(app),
                user_target(hired),
            ],
            request_url: format!("/api/v1/apps/{}/users", app.id),
        });
    groups.chain(apps).collect()
}

fn record_status_change(
    window: &Window,
    directory: &Directory,
    log: &mut EventLog,
    admin: usize,
    user: usize,
) {
    let changed = &directory.users[user];
    let Some(at) = changed.status_changed.filter(|at| window.contains(*at)) else {
        return;
    };
    let (event_type, display_message, legacy, action) = match changed.status {
        UserStatus::Deprovisioned => (
            "user.lifecycle.deactivate",
            "Deactivate Okta user",
            Some("core.user.config.user_deactivated"),
            "deactivate",
        ),
        UserStatus::Suspended => (
            "user.lifecycle.suspend",
            "Suspend Okta user",
            None,
            "suspend",
        ),
        _ => return,
    };
    log.push(Draft {
        legacy_event_type: legacy,
        origin: Some(origin_of(directory, admin)),
        targets: vec![user_target(changed)],
        request_url: Some(format!("/api/v1/users/{}/lifecycle/{action}", changed.id)),
        ..Draft::new(
            at,
            event_type,
            display_message,
            Actor::user(&directory.users[admin]),
        )
    });
}

fn maybe_change_password(
    window: &Window,
    directory: &mut Directory,
    log: &mut EventLog,
    rng: &mut ChaCha8Rng,
    user: usize,
) {
    let Some((from, until)) = directory.personas[user].activity else {
        return;
    };
    if rng.gen_range(0..1000) >= PASSWORD_CHANGE_PER_MILLE || until - from < Duration::hours(1) {
        return;
    }
    let second = between(rng, from, until.min(window.end));
    let at = with_millis(rng, second);
    let account = &directory.users[user];
    log.push(Draft {
        legacy_event_type: Some("core.user.config.password_update.success"),
        origin: Some(origin_of(directory, user)),
        credential: Credential::Password,
        targets: vec![user_target(account)],
        request_url: Some("/idp/myaccount/password".to_string()),
        ..Draft::new(
            at,
            "user.account.update_password",
            "User update password for Okta",
            Actor::user(account),
        )
    });
    let account = &mut directory.users[user];
    account.password_changed = Some(at);
    account.last_updated = account.last_updated.max(at);
}

/// Adds about one existing employee a day to one of their team or project groups.
fn record_team_changes(
    window: &Window,
    directory: &mut Directory,
    log: &mut EventLog,
    rng: &mut ChaCha8Rng,
) {
    let candidates: Vec<(usize, usize)> = directory
        .team_groups
        .iter()
        .flat_map(|&group| {
            directory.members[group]
                .iter()
                .map(move |&user| (group, user))
        })
        .filter(|&(_, user)| {
            directory.users[user].status == UserStatus::Active
                && !window.contains(directory.users[user].created)
        })
        .collect();
    let days = (window.end - window.start).num_days().max(1) as usize;
    for &(group_index, user) in candidates.choose_multiple(rng, days.min(candidates.len())) {
        let admin = *directory.admins.choose(rng).unwrap_or(&directory.admins[0]);
        let second = between(rng, window.start, window.end - Duration::minutes(1));
        let at = with_millis(rng, second);
        let group = &directory.groups[group_index];
        log.push(Draft {
            legacy_event_type: Some("core.user_group_member.user_add"),
            origin: Some(origin_of(directory, admin)),
            targets: vec![user_target(&directory.users[user]), group_target(group)],
            request_url: Some(format!(
                "/api/v1/groups/{}/users/{}",
                group.id, directory.users[user].id
            )),
            ..Draft::new(
                at,
                "group.user_membership.add",
                "Add user to group membership",
                Actor::user(&directory.users[admin]),
            )
        });
        let group = &mut directory.groups[group_index];
        group.last_membership_updated = group.last_membership_updated.max(at);
    }
}
