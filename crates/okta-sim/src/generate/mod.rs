//! Deterministic generation of a simulated Okta org.
//!
//! [`generate()`] turns an [`OrgSpec`] into an [`Org`]. The org contains the directory (users
//! with a manager hierarchy, groups, apps, assignments, admin roles) and a System Log of
//! benign traffic over `log_days` days ending at `end`. Labelled attack scenarios mix their
//! events into that log and are described in the [`GroundTruth`]. The same spec always
//! yields the same org, byte for byte, because every random draw comes from ChaCha8
//! streams seeded by `spec.seed`.
//!
//! The work is split by concept: `directory` builds the users and `access` the groups,
//! apps, assignments and roles, `security` the factors, group rules, owners and group
//! roles; `lifecycle` writes admin events, `scenarios` plans and
//! records the attacks, `traffic` writes sign-ins, and `events` shapes every LogEvent.

mod access;
mod access_drift;
mod admin_activity;
mod catalog;
mod directory;
pub(crate) mod events;
mod lifecycle;
mod scenario_kind;
mod scenarios;
mod security;
mod sign_in_attacks;
mod traffic;

pub use scenario_kind::ScenarioKind;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, DurationRound, Utc};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::access::{Factor, GroupRole, GroupRule};
use crate::model::{App, Group, LogEvent, RoleAssignment, User, UserStatus};

/// Size and time frame of the org to generate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgSpec {
    pub seed: u64,
    pub users: usize,
    pub groups: usize,
    pub apps: usize,
    /// Days of System Log history before `end`.
    pub log_days: u32,
    /// Time of the newest possible event; nothing is generated at or after it.
    pub end: DateTime<Utc>,
    /// Kinds of labelled scenario to plant; every kind by default. A kind left out writes
    /// no events and no ground truth, and leaves the directory as if it had never been
    /// planned.
    #[serde(default = "ScenarioKind::all")]
    pub scenarios: BTreeSet<ScenarioKind>,
    /// Target number of group memberships, counted per (group, user) pair. `None` draws
    /// 4 to 20 members per team group and 5 to 30 per project group; a target resizes
    /// those groups so that the total comes close to it. The other groups (`Everyone`,
    /// departments, offices and the like) take about three memberships per user whatever
    /// the target, and the scenarios change a few memberships afterwards.
    #[serde(default)]
    pub memberships: Option<usize>,
}

impl Default for OrgSpec {
    /// Seed 42, 2000 users, 150 groups, 40 apps and 30 days of logs ending now (whole
    /// seconds), with every scenario and team groups of their usual sizes.
    fn default() -> Self {
        let now = Utc::now();
        OrgSpec {
            seed: 42,
            users: 2000,
            groups: 150,
            apps: 40,
            log_days: 30,
            end: now.duration_trunc(Duration::seconds(1)).unwrap_or(now),
            scenarios: ScenarioKind::all(),
            memberships: None,
        }
    }
}

/// A labelled attack or anomaly planted in the generated org.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    /// Unique within the org, e.g. `brute-force-1`.
    pub id: String,
    /// One of [`ScenarioKind::as_str`], e.g. `brute_force`.
    pub kind: String,
    pub description: String,
    pub user_ids: Vec<String>,
    pub user_logins: Vec<String>,
    /// Client addresses the scenario's events come from.
    pub ips: Vec<String>,
    pub app_ids: Vec<String>,
    /// `published` of the first scenario event.
    pub start: DateTime<Utc>,
    /// `published` of the last scenario event.
    pub end: DateTime<Utc>,
    /// Id of the detection rule that should raise an alert, if any.
    pub expected_alert: Option<String>,
    /// `uuid`s of the System Log events the scenario wrote.
    #[serde(default)]
    pub event_uuids: Vec<String>,
}

/// Record of the scenarios planted in an org, for scoring detections.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroundTruth {
    pub seed: u64,
    pub end: DateTime<Utc>,
    pub scenarios: Vec<Scenario>,
}

/// Number of objects in an org.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgCounts {
    pub users: usize,
    pub groups: usize,
    pub apps: usize,
    /// Group memberships, counted per (group, user) pair.
    pub memberships: usize,
    pub events: usize,
}

/// Path by which a user is assigned to an app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AssignmentScope {
    /// Assigned directly (Okta scope `USER`).
    User,
    /// Assigned through the group with this id (Okta scope `GROUP`).
    Group(String),
}

/// A simulated Okta org: plain data that tests may read and change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Org {
    /// Org id (`00o…`), used in app ORNs.
    pub org_id: String,
    /// Company name in user profiles.
    pub company: String,
    /// Domain of every login and e-mail address.
    pub domain: String,
    pub users: Vec<User>,
    pub groups: Vec<Group>,
    /// Group id to the ids of its members.
    pub memberships: BTreeMap<String, Vec<String>>,
    pub apps: Vec<App>,
    /// App id to the ids of users assigned directly (scope `USER`).
    pub app_user_assignments: BTreeMap<String, Vec<String>>,
    /// App id to the ids of assigned groups, highest priority first; members get scope `GROUP`.
    pub app_group_assignments: BTreeMap<String, Vec<String>>,
    /// User id to the admin roles assigned to that user.
    pub admin_roles: BTreeMap<String, Vec<RoleAssignment>>,
    /// User id to the user's enrolled factors.
    #[serde(default)]
    pub factors: BTreeMap<String, Vec<Factor>>,
    #[serde(default)]
    pub group_rules: Vec<GroupRule>,
    /// Group id to the ids of the users who own the group.
    #[serde(default)]
    pub group_owners: BTreeMap<String, Vec<String>>,
    /// Group id to the admin roles assigned to the group.
    #[serde(default)]
    pub group_roles: BTreeMap<String, Vec<GroupRole>>,
    /// System Log, ascending by `published` as generated. Events appended later count as
    /// stored later, which is the order polling requests return them in.
    pub events: Vec<LogEvent>,
    pub ground_truth: GroundTruth,
}

impl Org {
    /// Counts the objects in the org.
    pub fn counts(&self) -> OrgCounts {
        OrgCounts {
            users: self.users.len(),
            groups: self.groups.len(),
            apps: self.apps.len(),
            memberships: self.memberships.values().map(Vec::len).sum(),
            events: self.events.len(),
        }
    }

    /// Finds a user by id.
    pub fn user(&self, id: &str) -> Option<&User> {
        self.users.iter().find(|user| user.id == id)
    }

    /// Finds a group by id.
    pub fn group(&self, id: &str) -> Option<&Group> {
        self.groups.iter().find(|group| group.id == id)
    }

    /// Finds an app by id.
    pub fn app(&self, id: &str) -> Option<&App> {
        self.apps.iter().find(|app| app.id == id)
    }

    /// Finds a scenario of the ground truth by kind.
    pub fn scenario(&self, kind: &str) -> Option<&Scenario> {
        self.ground_truth
            .scenarios
            .iter()
            .find(|scenario| scenario.kind == kind)
    }

    /// Lists the users of an app with how each is assigned, ordered by user id.
    ///
    /// Direct assignments are listed whatever the user's status. Members of assigned
    /// groups are listed unless DEPROVISIONED, because deactivating a user removes the
    /// user from every app reached through groups.
    pub fn app_users(&self, app_id: &str) -> Vec<(&User, AssignmentScope)> {
        let direct: BTreeSet<&str> = self
            .app_user_assignments
            .get(app_id)
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        let mut scopes: BTreeMap<&str, AssignmentScope> = direct
            .iter()
            .map(|user_id| (*user_id, AssignmentScope::User))
            .collect();
        for group_id in self.app_group_assignments.get(app_id).into_iter().flatten() {
            for user_id in self.memberships.get(group_id).into_iter().flatten() {
                scopes
                    .entry(user_id.as_str())
                    .or_insert_with(|| AssignmentScope::Group(group_id.clone()));
            }
        }
        let users: BTreeMap<&str, &User> = self
            .users
            .iter()
            .map(|user| (user.id.as_str(), user))
            .collect();
        scopes
            .into_iter()
            .filter_map(|(user_id, scope)| {
                let user = users.get(user_id)?;
                let listed =
                    scope == AssignmentScope::User || user.status != UserStatus::Deprovisioned;
                listed.then_some((*user, scope))
            })
            .collect()
    }
}

/// Generates the org described by `spec`; the same spec always gives an identical org.
pub fn generate(spec: &OrgSpec) -> Org {
    let window = Window::new(spec);
    let mut directory =
        directory::build(spec, &window, &mut phase_rng(spec.seed, Phase::Directory));
    let mut log = events::EventLog::new(phase_rng(spec.seed, Phase::EventIds));
    let mut more_scenarios = phase_rng(spec.seed, Phase::MoreScenarios);

    // The joiner leaves a department group before the hire's memberships are logged.
    // Benign admin events describe the directory as built, so they come before the other
    // scenarios change it. The scenarios come before traffic because leavers stop
    // signing in once deactivated.
    let joiner = scenarios::prepare(
        &window,
        &mut directory,
        &spec.scenarios,
        &mut more_scenarios,
    );
    let hires = lifecycle::record(
        &window,
        &mut directory,
        &mut log,
        &mut phase_rng(spec.seed, Phase::Lifecycle),
    );
    let plan = scenarios::plan(
        &window,
        &mut directory,
        &spec.scenarios,
        (&mut phase_rng(spec.seed, Phase::Plan), &mut more_scenarios),
        joiner,
    );
    traffic::record(
        &window,
        &mut directory,
        &mut log,
        &mut phase_rng(spec.seed, Phase::Traffic),
    );
    let scenarios = scenarios::record(&plan, &directory, &hires, &mut log);

    let mut org = directory.into_org(
        log.into_sorted(),
        GroundTruth {
            seed: spec.seed,
            end: spec.end,
            scenarios,
        },
    );
    security::add(&mut org, &mut phase_rng(spec.seed, Phase::Security));
    scenarios::finish(&plan, &mut org);
    org
}

/// Independent random streams, one per generation step, so that a change in one step
/// leaves the draws of the others as they were.
#[derive(Clone, Copy)]
enum Phase {
    Directory = 1,
    Plan = 2,
    EventIds = 3,
    Lifecycle = 4,
    Traffic = 5,
    Security = 6,
    /// The scenario kinds added after the first four.
    MoreScenarios = 7,
}

fn phase_rng(seed: u64, phase: Phase) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(phase as u64);
    rng
}

/// The time span covered by the System Log.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Window {
    fn new(spec: &OrgSpec) -> Window {
        Window {
            start: spec.end - Duration::days(i64::from(spec.log_days)),
            end: spec.end,
        }
    }

    /// Returns whether the window is long enough to hold scenarios and traffic.
    pub fn is_empty(&self) -> bool {
        self.end - self.start < Duration::hours(2)
    }

    pub fn contains(&self, timestamp: DateTime<Utc>) -> bool {
        self.start <= timestamp && timestamp < self.end
    }
}
