//! Users of the generated org: names, departments, a manager hierarchy, statuses and the
//! lifecycle timestamps that go with each status.
//!
//! Besides the [`User`] objects the builder keeps a [`Persona`] per user with facts that
//! Okta does not store but the log needs: home city, ISP address and browser, and the
//! interval in which the user signs in. `access` adds groups, apps and roles on top.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use rand::distributions::{Distribution, WeightedIndex};
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::access;
use super::catalog::{BROWSERS, DEPARTMENTS, EXECUTIVE, FIRST_NAMES, HOME_CITIES, LAST_NAMES};
use super::{GroundTruth, Org, OrgSpec, Window};
use crate::ids::object_id;
use crate::model::{App, Group, LogEvent, RoleAssignment, User, UserProfile, UserStatus};

pub(crate) const COMPANY: &str = "Example Corp";
pub(crate) const DOMAIN: &str = "example.com";

/// A manager has at most this many direct reports before a layer of leads is added.
const MAX_DIRECT_REPORTS: usize = 12;
/// Size of the teams that leads are given when a layer is added.
const TEAM_SIZE: usize = 11;
/// Share of ordinary employees hired during the log window, per mille.
const NEW_HIRE_PER_MILLE: u32 = 15;

/// Statuses of employees without direct reports, with their share per mille.
const STATUS_SHARES: &[(UserStatus, u32)] = &[
    (UserStatus::Active, 860),
    (UserStatus::Deprovisioned, 60),
    (UserStatus::Staged, 25),
    (UserStatus::Provisioned, 20),
    (UserStatus::Suspended, 15),
    (UserStatus::PasswordExpired, 15),
    (UserStatus::LockedOut, 5),
];

/// Facts about a user that the log needs and Okta does not store.
#[derive(Clone, Debug)]
pub(crate) struct Persona {
    /// Index into [`HOME_CITIES`].
    pub city: usize,
    /// Index into [`BROWSERS`].
    pub browser: usize,
    /// Home address every benign request of the user comes from.
    pub ip: String,
    /// Index into [`DEPARTMENTS`]; `None` for the CEO.
    pub department: Option<usize>,
    pub is_manager: bool,
    /// Interval in which the user signs in; `None` when the user does not sign in during
    /// the window.
    pub activity: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

/// The org under construction, with indices in place of ids.
pub(crate) struct Directory {
    pub org_id: String,
    pub users: Vec<User>,
    pub personas: Vec<Persona>,
    pub apps: Vec<App>,
    pub groups: Vec<Group>,
    /// Per group, the indices of its members.
    pub members: Vec<Vec<usize>>,
    /// Indices of team and project groups, whose membership changes day to day.
    pub team_groups: Vec<usize>,
    /// Per app, the indices of the groups assigned to it, highest priority first.
    pub app_groups: Vec<Vec<usize>>,
    /// Per app, the indices of the users assigned directly.
    pub app_direct: Vec<Vec<usize>>,
    /// User index to the roles of that user.
    pub roles: BTreeMap<usize, Vec<RoleAssignment>>,
    /// Users who act as administrators in the log, most privileged first.
    pub admins: Vec<usize>,
    /// Id of the built-in Okta Dashboard app that sign-in events name as their target.
    pub dashboard_app_id: String,
}

/// Builds the directory: users first, then apps, groups, assignments and roles.
pub(crate) fn build(spec: &OrgSpec, window: &Window, rng: &mut ChaCha8Rng) -> Directory {
    let people = draw_people(rng, spec.users);
    let managers = link_managers(&people);
    let (users, personas) = make_users(rng, window, &people, &managers);
    let mut directory = Directory {
        org_id: object_id(rng, "00o"),
        dashboard_app_id: object_id(rng, "0oa"),
        users,
        personas,
        apps: Vec::new(),
        groups: Vec::new(),
        members: Vec::new(),
        team_groups: Vec::new(),
        app_groups: Vec::new(),
        app_direct: Vec::new(),
        roles: BTreeMap::new(),
        admins: Vec::new(),
    };
    access::build(&mut directory, spec, window, rng);
    directory
}

impl Directory {
    /// Converts indices to ids and assembles the public [`Org`].
    pub fn into_org(self, events: Vec<LogEvent>, ground_truth: GroundTruth) -> Org {
        let memberships = self
            .groups
            .iter()
            .zip(&self.members)
            .map(|(group, members)| (group.id.clone(), self.user_ids(members)))
            .collect();
        let app_user_assignments = self
            .apps
            .iter()
            .zip(&self.app_direct)
            .filter(|(_, users)| !users.is_empty())
            .map(|(app, users)| (app.id.clone(), self.user_ids(users)))
            .collect();
        let app_group_assignments = self.app_group_ids();
        let admin_roles = self
            .roles
            .iter()
            .map(|(&index, roles)| (self.users[index].id.clone(), roles.clone()))
            .collect();
        Org {
            org_id: self.org_id,
            company: COMPANY.to_string(),
            domain: DOMAIN.to_string(),
            users: self.users,
            groups: self.groups,
            memberships,
            apps: self.apps,
            app_user_assignments,
            app_group_assignments,
            admin_roles,
            factors: BTreeMap::new(),
            group_rules: Vec::new(),
            group_owners: BTreeMap::new(),
            group_roles: BTreeMap::new(),
            events,
            ground_truth,
        }
    }

    /// Returns the sorted ids of the users at `indices`.
    fn user_ids(&self, indices: &[usize]) -> Vec<String> {
        let mut ids: Vec<String> = indices
            .iter()
            .map(|&index| self.users[index].id.clone())
            .collect();
        ids.sort();
        ids
    }

    /// Returns, per app with assigned groups, the group ids in priority order.
    fn app_group_ids(&self) -> BTreeMap<String, Vec<String>> {
        self.apps
            .iter()
            .zip(&self.app_groups)
            .filter(|(_, groups)| !groups.is_empty())
            .map(|(app, groups)| {
                let ids = groups
                    .iter()
                    .map(|&index| self.groups[index].id.clone())
                    .collect();
                (app.id.clone(), ids)
            })
            .collect()
    }

    /// Returns, per user, the active apps the user can sign in to.
    ///
    /// Apps assigned to a group that contains every user are kept once for all users
    /// rather than in each user's list, because with thousands of apps assigned to
    /// `Everyone` a list per user would take gigabytes.
    pub fn apps_by_user(&self) -> AppReach {
        let everyone = self.users.len();
        let mut common = Vec::new();
        let mut extra: Vec<Vec<u32>> = vec![Vec::new(); everyone];
        for (app_index, app) in self.apps.iter().enumerate() {
            if app.status != crate::model::AppStatus::Active || app.name == "active_directory" {
                continue;
            }
            let groups = &self.app_groups[app_index];
            if groups
                .iter()
                .any(|&group| self.members[group].len() == everyone)
            {
                common.push(app_index);
                continue;
            }
            let users = groups
                .iter()
                .flat_map(|&group| self.members[group].iter())
                .chain(&self.app_direct[app_index]);
            let app_key = app_index as u32;
            for &user in users {
                if extra[user].last() != Some(&app_key) {
                    extra[user].push(app_key);
                }
            }
        }
        AppReach { common, extra }
    }
}

/// The apps each user can sign in to, as [`Directory::apps_by_user`] computes them.
pub(crate) struct AppReach {
    /// Apps every user can sign in to, ascending.
    common: Vec<usize>,
    /// Per user, the other apps, ascending.
    extra: Vec<Vec<u32>>,
}

impl AppReach {
    /// Returns the apps of one user.
    pub fn of(&self, user: usize) -> UserApps<'_> {
        UserApps {
            common: &self.common,
            extra: &self.extra[user],
        }
    }
}

/// The apps of one user: the merge of two disjoint ascending lists.
#[derive(Clone, Copy)]
pub(crate) struct UserApps<'a> {
    common: &'a [usize],
    extra: &'a [u32],
}

impl UserApps<'_> {
    pub fn len(&self) -> usize {
        self.common.len() + self.extra.len()
    }

    /// Returns the app at `position` of the merged ascending list.
    pub fn get(&self, position: usize) -> usize {
        for (index, &app) in self.extra.iter().enumerate() {
            let app = app as usize;
            let merged = index + self.common.partition_point(|&common| common < app);
            match merged.cmp(&position) {
                std::cmp::Ordering::Equal => return app,
                std::cmp::Ordering::Greater => return self.common[position - index],
                std::cmp::Ordering::Less => {}
            }
        }
        self.common[position - self.extra.len()]
    }

    /// Picks one app at random, drawing from `rng` exactly as `SliceRandom::choose` does
    /// on the merged list, so that generated orgs stay the same for a seed.
    pub fn choose(&self, rng: &mut ChaCha8Rng) -> Option<usize> {
        let len = self.len();
        if len == 0 {
            return None;
        }
        let position = match u32::try_from(len) {
            Ok(len) => rng.gen_range(0..len) as usize,
            Err(_) => rng.gen_range(0..len),
        };
        Some(self.get(position))
    }
}

/// A person before ids and statuses are assigned.
struct Person {
    first_name: &'static str,
    last_name: &'static str,
    login_name: String,
    department: Option<usize>,
    city: usize,
    browser: usize,
    ip: String,
}

fn draw_people(rng: &mut ChaCha8Rng, count: usize) -> Vec<Person> {
    let department_weights = weights(DEPARTMENTS.iter().map(|department| department.weight));
    let city_weights = weights(HOME_CITIES.iter().map(|city| city.weight));
    let browser_weights = weights(BROWSERS.iter().map(|browser| browser.weight));
    let mut taken = HashSet::new();
    (0..count)
        .map(|index| {
            let first_name = *FIRST_NAMES.choose(rng).unwrap_or(&"Alex");
            let last_name = *LAST_NAMES.choose(rng).unwrap_or(&"Smith");
            let city = city_weights.sample(rng);
            let prefix = HOME_CITIES[city].network.prefix;
            Person {
                first_name,
                last_name,
                login_name: unique_login_name(&mut taken, first_name, last_name),
                department: (index > 0).then(|| department_weights.sample(rng)),
                city,
                browser: browser_weights.sample(rng),
                ip: format!(
                    "{}.{}.{}.{}",
                    prefix[0],
                    prefix[1],
                    rng.gen_range(0..=255),
                    rng.gen_range(1..=254)
                ),
            }
        })
        .collect()
}

/// Builds a weighted distribution from catalog weights that are all positive.
pub(crate) fn weights(values: impl Iterator<Item = u32>) -> WeightedIndex<u32> {
    let values: Vec<u32> = values.collect();
    // Catalog weights are non-empty and positive, so construction cannot fail; fall back
    // to equal weights if a catalog edit ever breaks that.
    WeightedIndex::new(&values).unwrap_or_else(|_| {
        WeightedIndex::new(vec![1; values.len().max(1)]).unwrap_or_else(|_| unreachable!())
    })
}

fn unique_login_name(taken: &mut HashSet<String>, first_name: &str, last_name: &str) -> String {
    let base: String = format!("{first_name}.{last_name}")
        .to_lowercase()
        .chars()
        .filter(|character| character.is_ascii_alphanumeric() || *character == '.')
        .collect();
    let mut candidate = base.clone();
    let mut suffix = 2;
    while !taken.insert(candidate.clone()) {
        candidate = format!("{base}{suffix}");
        suffix += 1;
    }
    candidate
}

/// Returns each person's manager. Person 0 is the CEO, each department head reports to
/// the CEO, and larger departments get layers of leads so that most teams have about
/// [`TEAM_SIZE`] people and no manager has more than [`MAX_DIRECT_REPORTS`].
fn link_managers(people: &[Person]) -> Vec<Option<usize>> {
    let mut managers = vec![None; people.len()];
    for department in 0..DEPARTMENTS.len() {
        let members: Vec<usize> = (0..people.len())
            .filter(|&index| people[index].department == Some(department))
            .collect();
        if let Some((&head, rest)) = members.split_first() {
            managers[head] = Some(0);
            attach_reports(head, rest, &mut managers);
        }
    }
    managers
}

fn attach_reports(manager: usize, reports: &[usize], managers: &mut [Option<usize>]) {
    if reports.len() <= MAX_DIRECT_REPORTS {
        for &report in reports {
            managers[report] = Some(manager);
        }
        return;
    }
    let lead_count = reports
        .len()
        .div_ceil(TEAM_SIZE + 1)
        .min(MAX_DIRECT_REPORTS);
    let (leads, rest) = reports.split_at(lead_count);
    let team_size = rest.len().div_ceil(lead_count);
    for (lead, team) in leads.iter().zip(rest.chunks(team_size)) {
        managers[*lead] = Some(manager);
        attach_reports(*lead, team, managers);
    }
    for lead in leads.iter().skip(rest.chunks(team_size).count()) {
        managers[*lead] = Some(manager);
    }
}

fn make_users(
    rng: &mut ChaCha8Rng,
    window: &Window,
    people: &[Person],
    managers: &[Option<usize>],
) -> (Vec<User>, Vec<Persona>) {
    let mut report_counts = vec![0usize; people.len()];
    for manager in managers.iter().flatten() {
        report_counts[*manager] += 1;
    }
    let mut manages_managers = vec![false; people.len()];
    for (report, manager) in managers.iter().enumerate() {
        if let Some(manager) = manager
            && report_counts[report] > 0
        {
            manages_managers[*manager] = true;
        }
    }
    let ids: Vec<String> = people.iter().map(|_| object_id(rng, "00u")).collect();
    let type_id = object_id(rng, "oty");
    let mut users = Vec::with_capacity(people.len());
    let mut personas = Vec::with_capacity(people.len());
    for (index, person) in people.iter().enumerate() {
        let is_manager = report_counts[index] > 0;
        let title = job_title(
            rng,
            (index, person),
            managers,
            &report_counts,
            manages_managers[index],
        );
        let lifecycle = draw_lifecycle(rng, window, is_manager || index == 0);
        let manager = managers[index];
        let profile = make_profile(
            rng,
            index,
            person,
            title,
            manager.map(|m| (&ids[m], &people[m])),
        );
        personas.push(Persona {
            city: person.city,
            browser: person.browser,
            ip: person.ip.clone(),
            department: person.department,
            is_manager,
            activity: lifecycle.activity(window),
        });
        users.push(lifecycle.into_user(ids[index].clone(), type_id.clone(), profile));
    }
    (users, personas)
}

fn job_title(
    rng: &mut ChaCha8Rng,
    (index, person): (usize, &Person),
    managers: &[Option<usize>],
    report_counts: &[usize],
    manages_managers: bool,
) -> String {
    let Some(department) = person.department.map(|department| &DEPARTMENTS[department]) else {
        return "Chief Executive Officer".to_string();
    };
    if managers[index] == Some(0) {
        return department.head_title.to_string();
    }
    if report_counts[index] == 0 {
        return department
            .titles
            .choose(rng)
            .unwrap_or(&"Specialist")
            .to_string();
    }
    if manages_managers {
        format!("Director of {}", department.name)
    } else {
        department.manager_title.to_string()
    }
}

fn make_profile(
    rng: &mut ChaCha8Rng,
    index: usize,
    person: &Person,
    title: String,
    manager: Option<(&String, &Person)>,
) -> UserProfile {
    let place = &HOME_CITIES[person.city].place;
    let email = format!("{}@{DOMAIN}", person.login_name);
    let (department, cost_center) = match person.department {
        Some(department) => {
            let department = &DEPARTMENTS[department];
            (
                department.name,
                format!("{}-{}", department.code, rng.gen_range(100..=140)),
            )
        }
        None => (EXECUTIVE, "EXE-100".to_string()),
    };
    UserProfile {
        first_name: person.first_name.to_string(),
        last_name: person.last_name.to_string(),
        display_name: format!("{} {}", person.first_name, person.last_name),
        login: email.clone(),
        email,
        second_email: None,
        mobile_phone: (place.country_code == "US")
            .then(|| format!("+1 555 01{:02}", rng.gen_range(0..100))),
        title,
        department: department.to_string(),
        organization: COMPANY.to_string(),
        cost_center,
        employee_number: format!("{}", 100_001 + index),
        user_type: "Employee".to_string(),
        city: place.city.to_string(),
        state: place.state.to_string(),
        country_code: place.country_code.to_string(),
        timezone: place.timezone.to_string(),
        manager_id: manager.map(|(id, _)| id.clone()),
        manager: manager
            .map(|(_, manager)| format!("{} {}", manager.first_name, manager.last_name)),
    }
}

/// Status and lifecycle timestamps of one user.
struct Lifecycle {
    status: UserStatus,
    created: DateTime<Utc>,
    activated: Option<DateTime<Utc>>,
    status_changed: Option<DateTime<Utc>>,
    password_changed: Option<DateTime<Utc>>,
    last_login: Option<DateTime<Utc>>,
}

fn draw_lifecycle(rng: &mut ChaCha8Rng, window: &Window, always_active: bool) -> Lifecycle {
    let status = if always_active {
        UserStatus::Active
    } else {
        let shares = weights(STATUS_SHARES.iter().map(|(_, share)| *share));
        STATUS_SHARES[shares.sample(rng)].0
    };
    let hired_in_window = !always_active
        && status == UserStatus::Active
        && !window.is_empty()
        && rng.gen_range(0..1000) < NEW_HIRE_PER_MILLE;
    let created = draw_created(rng, window, status, hired_in_window);
    let activated = match status {
        UserStatus::Staged => None,
        _ => Some(
            (created + Duration::minutes(rng.gen_range(10..4320)))
                .min(window.end - Duration::seconds(1)),
        ),
    };
    let status_changed = draw_status_changed(rng, window, status, activated);
    let password_changed = match status {
        UserStatus::Staged | UserStatus::Provisioned => None,
        _ => activated.map(|activated| {
            let limit = status_changed
                .unwrap_or(window.start)
                .min(window.start)
                .max(activated);
            between(rng, activated.max(limit - Duration::days(180)), limit)
        }),
    };
    let last_login = match (status, activated) {
        (UserStatus::Staged | UserStatus::Provisioned, _) | (_, None) => None,
        (_, Some(activated)) => {
            let limit = status_changed.unwrap_or(window.start).min(window.start);
            (limit > activated)
                .then(|| between(rng, activated.max(limit - Duration::days(60)), limit))
        }
    };
    Lifecycle {
        status,
        created,
        activated,
        status_changed,
        password_changed,
        last_login,
    }
}

fn draw_created(
    rng: &mut ChaCha8Rng,
    window: &Window,
    status: UserStatus,
    hired_in_window: bool,
) -> DateTime<Utc> {
    let recent_from = |days: i64| window.end - Duration::days(days);
    let (from, to) = match status {
        _ if hired_in_window => (window.start, window.end - Duration::hours(1)),
        UserStatus::Staged => (recent_from(45), window.end - Duration::hours(1)),
        UserStatus::Provisioned => (recent_from(30), window.end - Duration::hours(1)),
        _ => (recent_from(5 * 365), window.start - Duration::days(7)),
    };
    between(rng, from, to)
}

fn draw_status_changed(
    rng: &mut ChaCha8Rng,
    window: &Window,
    status: UserStatus,
    activated: Option<DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    let activated = activated?;
    let in_window_share = match status {
        UserStatus::Deprovisioned => 30,
        UserStatus::Suspended => 40,
        UserStatus::LockedOut | UserStatus::PasswordExpired => 0,
        _ => return Some(activated),
    };
    if !window.is_empty() && rng.gen_range(0..100) < in_window_share {
        let from = window.start.max(activated);
        return Some(between(rng, from, window.end - Duration::hours(1)));
    }
    let from = (activated + Duration::days(30)).min(window.start - Duration::days(1));
    Some(between(rng, from.max(activated), window.start))
}

impl Lifecycle {
    /// Returns the interval in which the user signs in during the window.
    fn activity(&self, window: &Window) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let activated = self.activated?;
        let (from, until) = match self.status {
            UserStatus::Active => (activated.max(window.start), window.end),
            UserStatus::Deprovisioned | UserStatus::Suspended => {
                let changed = self.status_changed?;
                (activated.max(window.start), changed)
            }
            _ => return None,
        };
        (from < until).then_some((from, until))
    }

    fn into_user(self, id: String, type_id: String, profile: UserProfile) -> User {
        let last_updated = [
            Some(self.created),
            self.activated,
            self.status_changed,
            self.password_changed,
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(self.created);
        User {
            id,
            status: self.status,
            created: self.created,
            activated: self.activated,
            status_changed: self.status_changed,
            last_login: self.last_login,
            last_updated,
            password_changed: self.password_changed,
            type_id,
            profile,
        }
    }
}

/// Draws a whole-second time in `[from, to)`; returns `from` when the range is empty.
pub(crate) fn between(
    rng: &mut ChaCha8Rng,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> DateTime<Utc> {
    let seconds = (to - from).num_seconds();
    if seconds <= 0 {
        return from;
    }
    from + Duration::seconds(rng.gen_range(0..seconds))
}

/// Returns the index of the user who is the CEO.
pub(crate) const CEO: usize = 0;

#[cfg(test)]
mod tests {
    use super::*;

    fn people_in_departments(departments: &[Option<usize>]) -> Vec<Person> {
        departments
            .iter()
            .map(|department| Person {
                first_name: "A",
                last_name: "B",
                login_name: String::new(),
                department: *department,
                city: 0,
                browser: 0,
                ip: String::new(),
            })
            .collect()
    }

    #[test]
    fn managers_have_bounded_spans() {
        let mut departments = vec![None];
        departments.extend(std::iter::repeat_n(Some(0), 600));
        departments.extend(std::iter::repeat_n(Some(1), 7));
        let managers = link_managers(&people_in_departments(&departments));

        assert_eq!(managers[0], None);
        assert!(managers[1..].iter().all(Option::is_some));
        let mut counts = vec![0usize; managers.len()];
        for manager in managers.iter().flatten() {
            counts[*manager] += 1;
        }
        assert!(counts.iter().all(|&count| count <= MAX_DIRECT_REPORTS));
        let team_sizes: Vec<usize> = counts.iter().copied().filter(|&count| count > 0).collect();
        let average = team_sizes.iter().sum::<usize>() as f64 / team_sizes.len() as f64;
        assert!((5.0..=12.0).contains(&average), "average span {average}");
    }

    #[test]
    fn every_chain_reaches_the_ceo() {
        let mut departments = vec![None];
        departments.extend((0..2000).map(|index| Some(index % DEPARTMENTS.len())));
        let managers = link_managers(&people_in_departments(&departments));
        for start in 0..managers.len() {
            let mut current = start;
            let mut steps = 0;
            while let Some(manager) = managers[current] {
                current = manager;
                steps += 1;
                assert!(steps < 20, "cycle above user {start}");
            }
            assert_eq!(current, CEO);
        }
    }

    #[test]
    fn user_apps_index_the_merged_list() {
        let common = vec![1, 4, 6, 9];
        let extra = vec![0u32, 5, 7, 12];
        let apps = UserApps {
            common: &common,
            extra: &extra,
        };
        let merged: Vec<usize> = (0..apps.len()).map(|position| apps.get(position)).collect();
        assert_eq!(merged, vec![0, 1, 4, 5, 6, 7, 9, 12]);

        let only_common = UserApps {
            common: &common,
            extra: &[],
        };
        assert_eq!(only_common.get(2), 6);
    }

    #[test]
    fn login_names_are_unique() {
        let mut taken = HashSet::new();
        assert_eq!(
            unique_login_name(&mut taken, "Sean", "O'Brien"),
            "sean.obrien"
        );
        assert_eq!(
            unique_login_name(&mut taken, "Sean", "O'Brien"),
            "sean.obrien2"
        );
    }
}
