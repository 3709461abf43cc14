//! Labelled scenarios planted in the generated org.
//!
//! [`prepare`] runs before the benign admin events and [`plan`] before the benign traffic,
//! because some scenarios change the directory that those depend on. The joiner leaves a
//! department group before the hire's memberships are logged, and leavers stop signing
//! in when deactivated. [`record`] writes the scenario events afterwards and returns the
//! ground truth, and [`finish`] makes the last changes to the assembled org.
//!
//! Every kind is planned whether or not [`OrgSpec::scenarios`](super::OrgSpec) selects
//! it, so that switching one kind off leaves the users and times of the others as they
//! were; only a selected kind changes the directory and writes events.
//!
//! The first four kinds, planned from their own random stream:
//!
//! - `brute_force`: 15 to 30 failed sign-ins for one active user from one hosting-network
//!   address abroad, all within ten minutes. Expected alert `failed-sign-ins-per-user`.
//! - `password_spray`: one hosting-network address tries 20 to 40 users once or twice
//!   each within about half an hour; no user reaches the brute-force threshold. Expected
//!   alert `password-spray` when ten or more users fall within thirty minutes.
//! - `leaver_with_assignments`: a user deactivated by an admin during the window who
//!   keeps direct app assignments.
//! - `privilege_grant`: an admin grants the super administrator role to an ordinary
//!   user. Expected alert `admin-privilege-grant`.
//!
//! The sign-in attacks are in `sign_in_attacks`, the admin activity in `admin_activity`
//! and the joiner, mover and late leaver in `access_drift`.

use std::collections::{BTreeSet, HashSet};

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use super::access::new_role;
use super::catalog::{
    Browser, DATACENTERS, Datacenter, HOME_CITIES, Network, Place, SCRIPT_BROWSER, SPRAY_BROWSER,
    SUPER_ADMIN,
};
use super::directory::{CEO, Directory, between};
use super::events::{Actor, Draft, EventLog, Origin, Target, failed_sign_in, user_target};
use super::lifecycle::{HireEvents, origin_of};
use super::{Org, Scenario, ScenarioKind, Window, access_drift, admin_activity, sign_in_attacks};
use crate::model::{AppStatus, UserStatus};

/// Minimum failed sign-ins of the brute-force attack; at least five fall in ten minutes.
const BRUTE_FORCE_MIN_ATTEMPTS: usize = 15;
const BRUTE_FORCE_MAX_ATTEMPTS: usize = 30;
/// Most failed attempts on one user during the password spray.
const SPRAY_MAX_ATTEMPTS_PER_USER: usize = 2;
/// Distinct users failing from one address within thirty minutes that the `password-spray`
/// rule alerts on.
const SPRAY_RULE_USERS: usize = 10;

/// The scenarios chosen for an org, with the users, times and addresses involved.
#[derive(Default)]
pub(crate) struct Plan {
    kinds: BTreeSet<ScenarioKind>,
    leaver: Option<Leaver>,
    brute_force: Option<Attack>,
    spray: Option<Attack>,
    grant: Option<Grant>,
    sign_in_attacks: sign_in_attacks::Plan,
    admin_activity: admin_activity::Plan,
    access_drift: access_drift::Plan,
}

impl Plan {
    fn selects(&self, kind: ScenarioKind) -> bool {
        self.kinds.contains(&kind)
    }
}

struct Leaver {
    user: usize,
    admin: usize,
    at: DateTime<Utc>,
    apps: Vec<usize>,
}

/// Failed sign-ins from one address: each attempt names the user tried.
struct Attack {
    datacenter: usize,
    ip: String,
    attempts: Vec<(usize, DateTime<Utc>)>,
}

struct Grant {
    admin: usize,
    user: usize,
    at: DateTime<Utc>,
}

/// Plans the scenarios that must change the directory before the benign admin events
/// are written; their kinds are planned from `more_rng`.
pub(crate) fn prepare(
    window: &Window,
    directory: &mut Directory,
    kinds: &BTreeSet<ScenarioKind>,
    more_rng: &mut ChaCha8Rng,
) -> Option<access_drift::Joiner> {
    access_drift::prepare(window, directory, kinds, more_rng)
}

/// Chooses the scenarios and applies the changes of the selected ones to the directory.
///
/// The first four kinds draw from `rng` as they always have; the others from `more_rng`.
pub(crate) fn plan(
    window: &Window,
    directory: &mut Directory,
    kinds: &BTreeSet<ScenarioKind>,
    rngs: (&mut ChaCha8Rng, &mut ChaCha8Rng),
    joiner: Option<access_drift::Joiner>,
) -> Plan {
    let (rng, more_rng) = rngs;
    if window.is_empty() {
        return Plan::default();
    }
    let mut used: HashSet<usize> = directory.admins.iter().copied().collect();
    used.insert(CEO);
    let selected = |kind| kinds.contains(&kind);
    let leaver = plan_leaver(
        window,
        directory,
        rng,
        &mut used,
        selected(ScenarioKind::LeaverWithAssignments),
    );
    let brute_force = plan_brute_force(window, directory, rng, &mut used);
    let spray = plan_spray(window, directory, rng, &mut used);
    let grant = plan_grant(
        window,
        directory,
        rng,
        &mut used,
        selected(ScenarioKind::PrivilegeGrant),
    );
    let mut context = PlanContext {
        window,
        kinds,
        rng: more_rng,
        used: &mut used,
    };
    let sign_in_attacks = sign_in_attacks::plan(&mut context, directory);
    let admin_activity = admin_activity::plan(&mut context, directory);
    let access_drift = access_drift::plan(&mut context, directory, joiner);
    Plan {
        kinds: kinds.clone(),
        leaver,
        brute_force,
        spray,
        grant,
        sign_in_attacks,
        admin_activity,
        access_drift,
    }
}

/// Planning state shared by the newer kinds: the window, the selected kinds, their
/// random stream and the users already taken by a scenario.
pub(super) struct PlanContext<'a> {
    pub window: &'a Window,
    pub kinds: &'a BTreeSet<ScenarioKind>,
    pub rng: &'a mut ChaCha8Rng,
    pub used: &'a mut HashSet<usize>,
}

impl PlanContext<'_> {
    pub fn selects(&self, kind: ScenarioKind) -> bool {
        self.kinds.contains(&kind)
    }

    /// Picks an ordinary user no other scenario has taken, and takes it.
    pub fn take_user(&mut self, directory: &Directory) -> Option<usize> {
        let user = *ordinary_users(self.window, directory, self.used).choose(self.rng)?;
        self.used.insert(user);
        Some(user)
    }

    /// Picks up to `count` ordinary users no other scenario has taken, and takes them.
    pub fn take_users(&mut self, directory: &Directory, count: usize) -> Vec<usize> {
        let pool = ordinary_users(self.window, directory, self.used);
        let users: Vec<usize> = pool
            .choose_multiple(self.rng, count.min(pool.len()))
            .copied()
            .collect();
        self.used.extend(users.iter().copied());
        users
    }

    /// Draws a time in the middle three fifths of the window.
    pub fn mid_window(&mut self) -> DateTime<Utc> {
        mid_window(self.rng, self.window)
    }
}

/// Active individual contributors who were hired before the window and sign in during it.
pub(super) fn ordinary_users(
    window: &Window,
    directory: &Directory,
    used: &HashSet<usize>,
) -> Vec<usize> {
    (0..directory.users.len())
        .filter(|index| !used.contains(index))
        .filter(|&index| {
            let user = &directory.users[index];
            let persona = &directory.personas[index];
            user.status == UserStatus::Active
                && !persona.is_manager
                && persona.activity.is_some()
                && user.created < window.start
        })
        .collect()
}

/// Draws a time in the middle three fifths of the window.
pub(super) fn mid_window(rng: &mut ChaCha8Rng, window: &Window) -> DateTime<Utc> {
    let fifth = (window.end - window.start) / 5;
    between(rng, window.start + fifth, window.end - fifth)
        + Duration::milliseconds(rng.gen_range(0..1000))
}

fn plan_leaver(
    window: &Window,
    directory: &mut Directory,
    rng: &mut ChaCha8Rng,
    used: &mut HashSet<usize>,
    selected: bool,
) -> Option<Leaver> {
    let user = *ordinary_users(window, directory, used).choose(rng)?;
    let admin = *directory.admins.first()?;
    let open_apps: Vec<usize> = (0..directory.apps.len())
        .filter(|&app| {
            directory.apps[app].status == AppStatus::Active
                && directory.apps[app].name != "active_directory"
        })
        .filter(|&app| !directory.app_direct[app].contains(&user))
        .collect();
    let wanted = rng.gen_range(2..=3).min(open_apps.len());
    if wanted == 0 {
        return None;
    }
    let mut apps: Vec<usize> = open_apps.choose_multiple(rng, wanted).copied().collect();
    apps.sort_unstable();
    let at = mid_window(rng, window);
    used.insert(user);
    if !selected {
        return None;
    }

    for &app in &apps {
        directory.app_direct[app].push(user);
        directory.app_direct[app].sort_unstable();
    }
    let account = &mut directory.users[user];
    account.status = UserStatus::Deprovisioned;
    account.status_changed = Some(at);
    account.last_updated = account.last_updated.max(at);
    let persona = &mut directory.personas[user];
    persona.activity = persona
        .activity
        .and_then(|(from, _)| (from < at).then_some((from, at)));
    Some(Leaver {
        user,
        admin,
        at,
        apps,
    })
}

/// Picks a hosting network in a country other than `country_code` and an address in it.
pub(super) fn foreign_datacenter(rng: &mut ChaCha8Rng, country_code: &str) -> (usize, String) {
    let choices: Vec<usize> = (0..DATACENTERS.len())
        .filter(|&index| DATACENTERS[index].place.country_code != country_code)
        .collect();
    let datacenter = *choices.choose(rng).unwrap_or(&0);
    let prefix = DATACENTERS[datacenter].network.prefix;
    let ip = format!(
        "{}.{}.{}.{}",
        prefix[0],
        prefix[1],
        rng.gen_range(0..=255),
        rng.gen_range(1..=254)
    );
    (datacenter, ip)
}

fn plan_brute_force(
    window: &Window,
    directory: &Directory,
    rng: &mut ChaCha8Rng,
    used: &mut HashSet<usize>,
) -> Option<Attack> {
    let user = *ordinary_users(window, directory, used).choose(rng)?;
    let country = HOME_CITIES[directory.personas[user].city]
        .place
        .country_code;
    let (datacenter, ip) = foreign_datacenter(rng, country);
    let count = rng.gen_range(BRUTE_FORCE_MIN_ATTEMPTS..=BRUTE_FORCE_MAX_ATTEMPTS);
    let start = mid_window(rng, window);
    let span_ms = rng.gen_range(360_000..570_000);
    let mut offsets: Vec<i64> = (0..count).map(|_| rng.gen_range(0..=span_ms)).collect();
    offsets.sort_unstable();
    used.insert(user);
    Some(Attack {
        datacenter,
        ip,
        attempts: offsets
            .into_iter()
            .map(|offset| (user, start + Duration::milliseconds(offset)))
            .collect(),
    })
}

fn plan_spray(
    window: &Window,
    directory: &Directory,
    rng: &mut ChaCha8Rng,
    used: &mut HashSet<usize>,
) -> Option<Attack> {
    let pool = ordinary_users(window, directory, used);
    if pool.len() < 10 {
        return None;
    }
    let count = rng.gen_range(20..=40).min(pool.len() / 2);
    let targets: Vec<usize> = pool.choose_multiple(rng, count).copied().collect();
    let (datacenter, ip) = foreign_datacenter(rng, "US");
    let start = mid_window(rng, window);
    let span_ms = rng.gen_range(20 * 60_000..40 * 60_000);
    let mut attempts = Vec::new();
    for &user in &targets {
        for _ in 0..rng.gen_range(1..=SPRAY_MAX_ATTEMPTS_PER_USER) {
            attempts.push((
                user,
                start + Duration::milliseconds(rng.gen_range(0..=span_ms)),
            ));
        }
    }
    attempts.sort_by_key(|(_, at)| *at);
    used.extend(targets);
    Some(Attack {
        datacenter,
        ip,
        attempts,
    })
}

fn plan_grant(
    window: &Window,
    directory: &mut Directory,
    rng: &mut ChaCha8Rng,
    used: &mut HashSet<usize>,
    selected: bool,
) -> Option<Grant> {
    let user = *ordinary_users(window, directory, used).choose(rng)?;
    let admin = *directory.admins.first()?;
    let at = mid_window(rng, window);
    let role = new_role(rng, &SUPER_ADMIN, at);
    used.insert(user);
    if !selected {
        return None;
    }
    directory.roles.entry(user).or_default().push(role);
    Some(Grant { admin, user, at })
}

/// Writes the events of the selected scenarios and returns their ground truth.
///
/// `hires` contains the events that record each hire of the window.
pub(crate) fn record(
    plan: &Plan,
    directory: &Directory,
    hires: &HireEvents,
    log: &mut EventLog,
) -> Vec<Scenario> {
    let mut scenarios = Vec::new();
    if plan.selects(ScenarioKind::BruteForce) {
        scenarios.extend(
            plan.brute_force
                .as_ref()
                .map(|attack| record_brute_force(attack, directory, log)),
        );
    }
    if plan.selects(ScenarioKind::PasswordSpray) {
        scenarios.extend(
            plan.spray
                .as_ref()
                .map(|attack| record_spray(attack, directory, log)),
        );
    }
    scenarios.extend(
        plan.leaver
            .as_ref()
            .map(|leaver| record_leaver(leaver, directory, log)),
    );
    scenarios.extend(
        plan.grant
            .as_ref()
            .map(|grant| record_grant(grant, directory, log)),
    );
    scenarios.extend(sign_in_attacks::record(
        &plan.sign_in_attacks,
        directory,
        log,
    ));
    scenarios.extend(admin_activity::record(&plan.admin_activity, directory, log));
    scenarios.extend(access_drift::record(
        &plan.access_drift,
        directory,
        hires,
        log,
    ));
    scenarios
}

/// Makes the changes of the selected scenarios that concern parts of the org built after
/// the directory, such as factors.
pub(crate) fn finish(plan: &Plan, org: &mut Org) {
    admin_activity::finish(&plan.admin_activity, org);
}

/// Writes one failed sign-in per attempt and returns their uuids.
fn record_attempts(
    attack: &Attack,
    directory: &Directory,
    log: &mut EventLog,
    browser: &'static super::catalog::Browser,
) -> Vec<String> {
    let datacenter: &Datacenter = &DATACENTERS[attack.datacenter];
    let origin = Origin {
        ip: &attack.ip,
        place: &datacenter.place,
        network: &datacenter.network,
        browser,
    };
    attack
        .attempts
        .iter()
        .map(|&(user, at)| failed_sign_in(log, &directory.users[user], origin, at))
        .collect()
}

fn attack_span(attack: &Attack) -> (DateTime<Utc>, DateTime<Utc>) {
    let first = attack.attempts.first().map(|(_, at)| *at);
    let last = attack.attempts.last().map(|(_, at)| *at);
    let start = first.unwrap_or(DateTime::<Utc>::MIN_UTC);
    (start, last.unwrap_or(start))
}

fn record_brute_force(attack: &Attack, directory: &Directory, log: &mut EventLog) -> Scenario {
    let event_uuids = record_attempts(attack, directory, log, &SCRIPT_BROWSER);
    let (start, end) = attack_span(attack);
    let user = &directory.users[attack.attempts[0].0];
    let place = &DATACENTERS[attack.datacenter].place;
    Scenario {
        id: "brute-force-1".to_string(),
        kind: "brute_force".to_string(),
        description: format!(
            "{} failed sign-ins with wrong passwords for `{}` from `{}` ({}, {}) within {} minutes",
            attack.attempts.len(),
            user.profile.login,
            attack.ip,
            place.city,
            place.country,
            (end - start).num_minutes() + 1,
        ),
        user_ids: vec![user.id.clone()],
        user_logins: vec![user.profile.login.clone()],
        ips: vec![attack.ip.clone()],
        app_ids: Vec::new(),
        start,
        end,
        expected_alert: Some("failed-sign-ins-per-user".to_string()),
        event_uuids,
    }
}

fn record_spray(attack: &Attack, directory: &Directory, log: &mut EventLog) -> Scenario {
    let event_uuids = record_attempts(attack, directory, log, &SPRAY_BROWSER);
    let (start, end) = attack_span(attack);
    let mut users: Vec<usize> = attack.attempts.iter().map(|(user, _)| *user).collect();
    users.sort_unstable();
    users.dedup();
    Scenario {
        id: "password-spray-1".to_string(),
        kind: "password_spray".to_string(),
        description: format!(
            "{} failed sign-ins across {} users from `{}` within {} minutes, at most {} per user",
            attack.attempts.len(),
            users.len(),
            attack.ip,
            (end - start).num_minutes() + 1,
            SPRAY_MAX_ATTEMPTS_PER_USER,
        ),
        user_ids: users
            .iter()
            .map(|&user| directory.users[user].id.clone())
            .collect(),
        user_logins: users
            .iter()
            .map(|&user| directory.users[user].profile.login.clone())
            .collect(),
        ips: vec![attack.ip.clone()],
        app_ids: Vec::new(),
        start,
        end,
        expected_alert: (max_distinct_within(&attack.attempts, Duration::minutes(30))
            >= SPRAY_RULE_USERS)
            .then(|| "password-spray".to_string()),
        event_uuids,
    }
}

fn record_leaver(leaver: &Leaver, directory: &Directory, log: &mut EventLog) -> Scenario {
    let user = &directory.users[leaver.user];
    let admin = &directory.users[leaver.admin];
    let origin = origin_of(directory, leaver.admin);
    let uuid = log.push(Draft {
        legacy_event_type: Some("core.user.config.user_deactivated"),
        origin: Some(origin),
        targets: vec![user_target(user)],
        request_url: Some(format!("/api/v1/users/{}/lifecycle/deactivate", user.id)),
        ..Draft::new(
            leaver.at,
            "user.lifecycle.deactivate",
            "Deactivate Okta user",
            Actor::user(admin),
        )
    });
    let labels: Vec<&str> = leaver
        .apps
        .iter()
        .map(|&app| directory.apps[app].label.as_str())
        .collect();
    Scenario {
        id: "leaver-1".to_string(),
        kind: "leaver_with_assignments".to_string(),
        description: format!(
            "`{}` was deactivated by `{}` but is still assigned directly to {}",
            user.profile.login,
            admin.profile.login,
            labels.join(", "),
        ),
        user_ids: vec![user.id.clone()],
        user_logins: vec![user.profile.login.clone()],
        ips: vec![origin.ip.to_string()],
        app_ids: leaver
            .apps
            .iter()
            .map(|&app| directory.apps[app].id.clone())
            .collect(),
        start: leaver.at,
        end: leaver.at,
        expected_alert: None,
        event_uuids: vec![uuid],
    }
}

fn record_grant(grant: &Grant, directory: &Directory, log: &mut EventLog) -> Scenario {
    let user = &directory.users[grant.user];
    let admin = &directory.users[grant.admin];
    let origin = origin_of(directory, grant.admin);
    let uuid = log.push(Draft {
        legacy_event_type: Some("core.user.admin_privilege.granted"),
        origin: Some(origin),
        targets: vec![
            user_target(user),
            Target::new("ROLE_ASSIGNED", "ROLE_ASSIGNED", "unknown", "Role Assigned"),
            Target::new(
                "SuperOrgAdmin",
                "ROLE",
                "unknown",
                "Super Organization Administrator",
            ),
        ],
        request_url: Some(format!("/api/v1/users/{}/roles", user.id)),
        debug: vec![("privilegeGranted", json!(SUPER_ADMIN.granted_text))],
        ..Draft::new(
            grant.at,
            "user.account.privilege.grant",
            "Grant user privilege",
            Actor::user(admin),
        )
    });
    Scenario {
        id: "privilege-grant-1".to_string(),
        kind: "privilege_grant".to_string(),
        description: format!(
            "`{}` granted the super administrator role to `{}` ({}), who held no admin role before",
            admin.profile.login, user.profile.login, user.profile.title,
        ),
        user_ids: vec![user.id.clone()],
        user_logins: vec![user.profile.login.clone()],
        ips: vec![origin.ip.to_string()],
        app_ids: Vec::new(),
        start: grant.at,
        end: grant.at,
        expected_alert: Some("admin-privilege-grant".to_string()),
        event_uuids: vec![uuid],
    }
}

/// Returns the largest number of distinct users among attempts that lie within `span` of
/// each other, `span` included, as a sliding-window rule counts them.
pub(super) fn max_distinct_within(attempts: &[(usize, DateTime<Utc>)], span: Duration) -> usize {
    let mut sorted = attempts.to_vec();
    sorted.sort_by_key(|(_, at)| *at);
    let mut best = 0;
    for (index, &(_, start)) in sorted.iter().enumerate() {
        let users: HashSet<usize> = sorted[index..]
            .iter()
            .take_while(|(_, at)| *at - start <= span)
            .map(|(user, _)| *user)
            .collect();
        best = best.max(users.len());
    }
    best
}

/// Origin of scenario requests, owned so that a plan can keep it.
#[derive(Clone)]
pub(super) struct Source {
    pub ip: String,
    pub place: &'static Place,
    pub network: &'static Network,
    pub browser: &'static Browser,
}

impl Source {
    /// Draws a random address of a hosting network.
    pub fn datacenter(
        rng: &mut ChaCha8Rng,
        datacenter: usize,
        browser: &'static Browser,
    ) -> Source {
        let datacenter: &'static Datacenter = &DATACENTERS[datacenter];
        Source {
            ip: address_in(rng, datacenter.network.prefix),
            place: &datacenter.place,
            network: &datacenter.network,
            browser,
        }
    }

    /// Draws a random address of the home ISP of a city, as a traveller or a residential
    /// proxy would use.
    pub fn city(rng: &mut ChaCha8Rng, city: usize, browser: &'static Browser) -> Source {
        let city = &HOME_CITIES[city];
        Source {
            ip: address_in(rng, city.network.prefix),
            place: &city.place,
            network: &city.network,
            browser,
        }
    }

    pub fn origin(&self) -> Origin<'_> {
        Origin {
            ip: &self.ip,
            place: self.place,
            network: self.network,
            browser: self.browser,
        }
    }
}

/// Draws a host address in the /16 network `prefix`.
pub(super) fn address_in(rng: &mut ChaCha8Rng, prefix: [u8; 2]) -> String {
    format!(
        "{}.{}.{}.{}",
        prefix[0],
        prefix[1],
        rng.gen_range(0..=255),
        rng.gen_range(1..=254)
    )
}

/// The events written for one scenario: their uuids and the span of their `published`.
#[derive(Default)]
pub(super) struct Written {
    pub uuids: Vec<String>,
    span: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

impl Written {
    /// Writes an event and returns its uuid.
    pub fn push(&mut self, log: &mut EventLog, draft: Draft<'_>) -> String {
        let at = draft.published;
        let uuid = log.push(draft);
        self.uuids.push(uuid.clone());
        self.span = Some(match self.span {
            Some((start, end)) => (start.min(at), end.max(at)),
            None => (at, at),
        });
        uuid
    }

    /// Widens the span to include `at`, a time the scenario covers without an event.
    pub fn widen(&mut self, at: DateTime<Utc>) {
        self.span = self.span.map(|(start, end)| (start.min(at), end.max(at)));
    }

    /// Notes an event that another step wrote.
    pub fn note(&mut self, uuid: String, at: DateTime<Utc>) {
        self.uuids.push(uuid);
        self.span = Some(match self.span {
            Some((start, end)) => (start.min(at), end.max(at)),
            None => (at, at),
        });
    }
}

/// Ground-truth facts about a scenario besides its events.
pub(super) struct Label {
    pub kind: ScenarioKind,
    pub description: String,
    /// User indices; the first is the user the scenario is about.
    pub users: Vec<usize>,
    pub ips: Vec<String>,
    pub apps: Vec<usize>,
    pub expected_alert: Option<&'static str>,
    /// Span to report when the scenario wrote no events.
    pub fallback_span: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

impl Label {
    pub fn new(kind: ScenarioKind, description: String, users: Vec<usize>) -> Label {
        Label {
            kind,
            description,
            users,
            ips: Vec::new(),
            apps: Vec::new(),
            expected_alert: None,
            fallback_span: None,
        }
    }

    /// Builds the ground-truth entry of a scenario from its label and events.
    pub fn into_scenario(self, directory: &Directory, written: Written) -> Scenario {
        let (start, end) = written
            .span
            .or(self.fallback_span)
            .unwrap_or((DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MIN_UTC));
        Scenario {
            id: self.kind.scenario_id(),
            kind: self.kind.as_str().to_string(),
            description: self.description,
            user_ids: self
                .users
                .iter()
                .map(|&user| directory.users[user].id.clone())
                .collect(),
            user_logins: self
                .users
                .iter()
                .map(|&user| directory.users[user].profile.login.clone())
                .collect(),
            ips: self.ips,
            app_ids: self
                .apps
                .iter()
                .map(|&app| directory.apps[app].id.clone())
                .collect(),
            start,
            end,
            expected_alert: self.expected_alert.map(str::to_string),
            event_uuids: written.uuids,
        }
    }
}
