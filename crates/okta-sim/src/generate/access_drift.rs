//! Labelled joiner, mover and leaver cases, for an access audit rather than detection, so
//! none has an expected alert.
//!
//! - `joiner_missing_birthright_groups`: a user hired and activated during the window who
//!   is not a member of the department group of their department.
//! - `mover_keeps_old_access`: an admin changes a user's department during the window; the
//!   user joins the new department group but stays in the old one.
//! - `leaver_deactivated_late`: a user stops signing in during the window and is
//!   deactivated by an admin four to eight days later, losing direct app assignments.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeSet;

use super::catalog::DEPARTMENTS;
use super::directory::{Directory, between};
use super::events::{Actor, Draft, EventLog, group_target, user_target};
use super::lifecycle::origin_of;
use super::scenarios::{Label, PlanContext, Written};
use super::{Scenario, ScenarioKind, Window};
use crate::model::{GroupType, UserStatus};

/// Shortest and longest delay between a leaver's last working day and the deactivation.
const LATE_DAYS: std::ops::RangeInclusive<i64> = 4..=8;

/// A hire left out of a department group, chosen before the hire's events are written.
pub(crate) struct Joiner {
    user: usize,
    group: usize,
}

/// The joiner, mover and leaver cases chosen for an org; a kind not selected is `None`.
#[derive(Default)]
pub(crate) struct Plan {
    joiner: Option<Joiner>,
    mover: Option<Mover>,
    leaver: Option<LateLeaver>,
}

struct Mover {
    user: usize,
    admin: usize,
    from_group: usize,
    to_group: usize,
    at: DateTime<Utc>,
}

struct LateLeaver {
    user: usize,
    admin: usize,
    last_day: DateTime<Utc>,
    deactivated: DateTime<Utc>,
}

/// Returns the index of the department group of a department, if the org has it.
fn department_group(directory: &Directory, department: usize) -> Option<usize> {
    directory.groups.iter().position(|group| {
        group.group_type == GroupType::OktaGroup && group.name == DEPARTMENTS[department].name
    })
}

/// Chooses a hire of the window who is in their department group and, if the kind is
/// selected, takes the hire out of it.
pub(crate) fn prepare(
    window: &Window,
    directory: &mut Directory,
    kinds: &BTreeSet<ScenarioKind>,
    rng: &mut ChaCha8Rng,
) -> Option<Joiner> {
    if window.is_empty() {
        return None;
    }
    let candidates: Vec<(usize, usize)> = (0..directory.users.len())
        .filter(|&user| {
            let account = &directory.users[user];
            account.status == UserStatus::Active
                && window.contains(account.created)
                && !directory.personas[user].is_manager
        })
        .filter_map(|user| {
            let group = department_group(directory, directory.personas[user].department?)?;
            directory.members[group]
                .contains(&user)
                .then_some((user, group))
        })
        .collect();
    let &(user, group) = candidates.choose(rng)?;
    if !kinds.contains(&ScenarioKind::JoinerMissingBirthrightGroups) {
        return None;
    }
    directory.members[group].retain(|&member| member != user);
    Some(Joiner { user, group })
}

/// Plans the mover and the late leaver and applies the selected ones to the directory.
pub(crate) fn plan(
    context: &mut PlanContext<'_>,
    directory: &mut Directory,
    joiner: Option<Joiner>,
) -> Plan {
    let mover = plan_mover(context, directory);
    let leaver = plan_late_leaver(context, directory);
    Plan {
        joiner,
        mover: mover.filter(|_| context.selects(ScenarioKind::MoverKeepsOldAccess)),
        leaver: leaver.filter(|_| context.selects(ScenarioKind::LeaverDeactivatedLate)),
    }
}

fn plan_mover(context: &mut PlanContext<'_>, directory: &mut Directory) -> Option<Mover> {
    let user = context.take_user(directory)?;
    let admin = *directory.admins.choose(context.rng)?;
    let from = directory.personas[user].department?;
    let others: Vec<usize> = (0..DEPARTMENTS.len())
        .filter(|&department| department != from)
        .collect();
    let to = *others.choose(context.rng)?;
    let title = *DEPARTMENTS[to].titles.choose(context.rng)?;
    let cost_center = format!(
        "{}-{}",
        DEPARTMENTS[to].code,
        context.rng.gen_range(100..=140)
    );
    let at = context.mid_window();
    let from_group = department_group(directory, from)?;
    let to_group = department_group(directory, to)?;
    if !context.selects(ScenarioKind::MoverKeepsOldAccess) {
        return None;
    }

    let head = (0..directory.users.len())
        .find(|&index| directory.users[index].profile.title == DEPARTMENTS[to].head_title);
    let manager = head.map(|head| {
        let head = &directory.users[head];
        (head.id.clone(), head.profile.display_name.clone())
    });
    let account = &mut directory.users[user];
    account.profile.department = DEPARTMENTS[to].name.to_string();
    account.profile.title = title.to_string();
    account.profile.cost_center = cost_center;
    if let Some((id, name)) = manager {
        account.profile.manager_id = Some(id);
        account.profile.manager = Some(name);
    }
    account.last_updated = account.last_updated.max(at);
    directory.personas[user].department = Some(to);
    let members = &mut directory.members[to_group];
    members.push(user);
    members.sort_unstable();
    Some(Mover {
        user,
        admin,
        from_group,
        to_group,
        at,
    })
}

fn plan_late_leaver(
    context: &mut PlanContext<'_>,
    directory: &mut Directory,
) -> Option<LateLeaver> {
    let user = context.take_user(directory)?;
    let admin = *directory.admins.choose(context.rng)?;
    let late_days = context.rng.gen_range(LATE_DAYS);
    let window = context.window;
    let earliest = window.start + Duration::days(2);
    let latest = window.end - Duration::days(late_days + 1);
    if latest <= earliest {
        return None;
    }
    let last_day = between(context.rng, earliest, latest);
    let deactivated = last_day
        + Duration::days(late_days)
        + Duration::milliseconds(context.rng.gen_range(0..8 * 3_600_000));
    if !context.selects(ScenarioKind::LeaverDeactivatedLate) {
        return None;
    }

    let account = &mut directory.users[user];
    account.status = UserStatus::Deprovisioned;
    account.status_changed = Some(deactivated);
    account.last_updated = account.last_updated.max(deactivated);
    let persona = &mut directory.personas[user];
    persona.activity = persona
        .activity
        .and_then(|(from, _)| (from < last_day).then_some((from, last_day)));
    // Deactivation removes direct app assignments.
    for users in &mut directory.app_direct {
        users.retain(|&assigned| assigned != user);
    }
    Some(LateLeaver {
        user,
        admin,
        last_day,
        deactivated,
    })
}

/// Writes the events of the planned cases and returns their ground truth.
pub(crate) fn record(
    plan: &Plan,
    directory: &Directory,
    hires: &HashMap<usize, Vec<(String, DateTime<Utc>)>>,
    log: &mut EventLog,
) -> Vec<Scenario> {
    let mut scenarios = Vec::new();
    if let Some(joiner) = &plan.joiner {
        scenarios.push(record_joiner(joiner, directory, hires));
    }
    if let Some(mover) = &plan.mover {
        scenarios.push(record_mover(mover, directory, log));
    }
    if let Some(leaver) = &plan.leaver {
        scenarios.push(record_late_leaver(leaver, directory, log));
    }
    scenarios
}

/// Labels the hire's own events; the finding is a membership that is missing.
fn record_joiner(
    joiner: &Joiner,
    directory: &Directory,
    hires: &HashMap<usize, Vec<(String, DateTime<Utc>)>>,
) -> Scenario {
    let user = &directory.users[joiner.user];
    let group = &directory.groups[joiner.group];
    let mut written = Written::default();
    for (uuid, at) in hires.get(&joiner.user).into_iter().flatten() {
        written.note(uuid.clone(), *at);
    }
    let description = format!(
        "`{}` joined {} on {} but is not a member of the department group `{}`",
        user.profile.login,
        user.profile.department,
        user.created.format("%Y-%m-%d"),
        group.name,
    );
    let mut label = Label::new(
        ScenarioKind::JoinerMissingBirthrightGroups,
        description,
        vec![joiner.user],
    );
    let activated = user.activated.unwrap_or(user.created);
    label.fallback_span = Some((user.created, activated.max(user.created)));
    label.into_scenario(directory, written)
}

fn record_mover(mover: &Mover, directory: &Directory, log: &mut EventLog) -> Scenario {
    let user = &directory.users[mover.user];
    let admin = &directory.users[mover.admin];
    let origin = origin_of(directory, mover.admin);
    let mut written = Written::default();
    written.push(
        log,
        Draft {
            legacy_event_type: Some("core.user.config.profile_update.success"),
            origin: Some(origin),
            targets: vec![user_target(user)],
            request_url: Some(format!("/api/v1/users/{}", user.id)),
            ..Draft::new(
                mover.at,
                "user.account.update_profile",
                "Update user profile for Okta",
                Actor::user(admin),
            )
        },
    );
    let to_group = &directory.groups[mover.to_group];
    written.push(
        log,
        Draft {
            legacy_event_type: Some("core.user_group_member.user_add"),
            origin: Some(origin),
            targets: vec![user_target(user), group_target(to_group)],
            request_url: Some(format!("/api/v1/groups/{}/users/{}", to_group.id, user.id)),
            ..Draft::new(
                mover.at + Duration::milliseconds(17_000),
                "group.user_membership.add",
                "Add user to group membership",
                Actor::user(admin),
            )
        },
    );
    let from_group = &directory.groups[mover.from_group];
    let description = format!(
        "`{}` moved from {} to {} but is still a member of the group `{}`",
        user.profile.login, from_group.name, to_group.name, from_group.name,
    );
    let mut label = Label::new(
        ScenarioKind::MoverKeepsOldAccess,
        description,
        vec![mover.user, mover.admin],
    );
    label.ips = vec![origin.ip.to_string()];
    label.into_scenario(directory, written)
}

fn record_late_leaver(leaver: &LateLeaver, directory: &Directory, log: &mut EventLog) -> Scenario {
    let user = &directory.users[leaver.user];
    let admin = &directory.users[leaver.admin];
    let origin = origin_of(directory, leaver.admin);
    let mut written = Written::default();
    written.push(
        log,
        Draft {
            legacy_event_type: Some("core.user.config.user_deactivated"),
            origin: Some(origin),
            targets: vec![user_target(user)],
            request_url: Some(format!("/api/v1/users/{}/lifecycle/deactivate", user.id)),
            ..Draft::new(
                leaver.deactivated,
                "user.lifecycle.deactivate",
                "Deactivate Okta user",
                Actor::user(admin),
            )
        },
    );
    let last_sign_in = user
        .last_login
        .filter(|last| *last <= leaver.last_day)
        .unwrap_or(leaver.last_day);
    written.widen(last_sign_in);
    let description = format!(
        "`{}` last signed in on {} and was deactivated by `{}` {} days later",
        user.profile.login,
        last_sign_in.format("%Y-%m-%d"),
        admin.profile.login,
        (leaver.deactivated - last_sign_in).num_days(),
    );
    let mut label = Label::new(
        ScenarioKind::LeaverDeactivatedLate,
        description,
        vec![leaver.user, leaver.admin],
    );
    label.ips = vec![origin.ip.to_string()];
    label.into_scenario(directory, written)
}
