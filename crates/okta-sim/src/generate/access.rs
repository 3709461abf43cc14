//! Apps, groups, group memberships, app assignments and admin roles of the generated org.
//!
//! Groups come in a fixed priority order (`Everyone`, one per department, leadership,
//! app admin groups, groups imported from Active Directory, office locations, managers,
//! then teams and projects) and an org with `n` groups gets the first `n`. Past the end
//! of that list, numbered copies of the team and project groups follow. Apps are
//! assigned to `Everyone` or to department groups as the catalog lists, plus a few users
//! directly.
//!
//! Team and project groups draw 4 to 20 and 5 to 30 members. When the spec sets a
//! membership target, they instead share what the other groups leave of the target.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::catalog::{
    APPS, Audience, CatalogApp, DEPARTMENTS, DIRECTORY_GROUPS, HELP_DESK_ADMIN, HOME_CITIES,
    ORG_ADMIN, PROJECTS, RoleKind, SUPER_ADMIN, TEAMS, USER_ADMIN,
};
use super::directory::{CEO, Directory, Persona, between};
use super::{OrgSpec, Window};
use crate::ids::{object_id, random_from};
use crate::model::{
    App, AppStatus, DirectoryGroupProfile, Group, GroupType, RoleAssignment, UserStatus,
};

const IT_DEPARTMENT: &str = "IT";

/// What a group stands for, which decides its members.
#[derive(Clone, Copy)]
enum GroupKind {
    Everyone,
    Department(usize),
    Leadership,
    AppAdmins(usize),
    Directory,
    Location(usize),
    Managers,
    Team(usize),
    Project,
}

struct GroupPlan {
    kind: GroupKind,
    name: String,
    description: String,
}

/// Adds apps, groups, assignments and roles to a directory that has its users.
pub(crate) fn build(
    directory: &mut Directory,
    spec: &OrgSpec,
    window: &Window,
    rng: &mut ChaCha8Rng,
) {
    directory.apps = make_apps(rng, window, spec.apps);
    let plans = plan_groups(&directory.apps, spec.groups);
    let pools = Pools::new(directory);
    let mut sizes = spec
        .memberships
        .map(|target| TeamSizes::new(target, &plans));
    for plan in &plans {
        let members = match (&mut sizes, plan.kind) {
            (Some(sizes), GroupKind::Team(_) | GroupKind::Project) => {
                let pool = pools.for_team(plan.kind);
                let wanted = sizes.next(rng);
                let mut members: Vec<usize> = pool
                    .choose_multiple(rng, wanted.min(pool.len()))
                    .copied()
                    .collect();
                members.sort_unstable();
                members
            }
            _ => pick_members(directory, &pools, plan.kind, rng),
        };
        if let Some(sizes) = &mut sizes {
            sizes.add(members.len());
        }
        let group = make_group(rng, window, directory, plan, &members);
        if matches!(plan.kind, GroupKind::Team(_) | GroupKind::Project) {
            directory.team_groups.push(directory.groups.len());
        }
        directory.groups.push(group);
        directory.members.push(members);
    }
    directory.app_groups = assign_groups(directory, &plans);
    directory.app_direct = assign_users_directly(directory, rng);
    assign_roles(directory, window, rng);
}

fn make_apps(rng: &mut ChaCha8Rng, window: &Window, count: usize) -> Vec<App> {
    (0..count)
        .map(|index| {
            let entry = APPS.get(index);
            let filler_label = format!("Internal Tool {}", index.saturating_sub(APPS.len()) + 1);
            let label = entry
                .map_or(filler_label.as_str(), |entry| entry.label)
                .to_string();
            let created = between(
                rng,
                window.end - Duration::days(5 * 365),
                window.end - Duration::days(90),
            );
            let last_updated = between(rng, created, window.end - Duration::days(7));
            App {
                id: object_id(rng, "0oa"),
                name: entry.map_or("oidc_client", |entry| entry.name).to_string(),
                label,
                status: if entry.is_none_or(|entry| entry.active) {
                    AppStatus::Active
                } else {
                    AppStatus::Inactive
                },
                sign_on_mode: entry
                    .map_or("OPENID_CONNECT", |entry| entry.sign_on_mode)
                    .to_string(),
                created,
                last_updated,
                features: if entry.is_some_and(|entry| entry.provisioning) {
                    [
                        "PUSH_NEW_USERS",
                        "PUSH_PROFILE_UPDATES",
                        "PUSH_USER_DEACTIVATION",
                    ]
                    .map(String::from)
                    .to_vec()
                } else {
                    Vec::new()
                },
            }
        })
        .collect()
}

fn catalog_entry(app: &App) -> Option<&'static CatalogApp> {
    APPS.iter().find(|entry| entry.label == app.label)
}

impl GroupPlan {
    fn new(kind: GroupKind, name: &str, description: &str) -> GroupPlan {
        GroupPlan {
            kind,
            name: name.to_string(),
            description: description.to_string(),
        }
    }

    fn clone_plan(&self) -> GroupPlan {
        GroupPlan::new(self.kind, &self.name, &self.description)
    }

    /// Returns a copy with a number after the name, e.g. `ENG-Platform 2`.
    fn numbered(&self, number: usize) -> GroupPlan {
        let name = format!("{} {number}", self.name);
        let description = format!("{} ({number})", self.description);
        GroupPlan::new(self.kind, &name, &description)
    }
}

/// Lists the groups of an org with `count` groups, in priority order.
fn plan_groups(apps: &[App], count: usize) -> Vec<GroupPlan> {
    let mut plans = vec![GroupPlan::new(
        GroupKind::Everyone,
        "Everyone",
        "All users in your organization",
    )];
    for (index, department) in DEPARTMENTS.iter().enumerate() {
        let description = format!("Everyone in {}", department.name);
        plans.push(GroupPlan::new(
            GroupKind::Department(index),
            department.name,
            &description,
        ));
    }
    plans.push(GroupPlan::new(
        GroupKind::Leadership,
        "Leadership",
        "CEO and department heads",
    ));
    plans.extend(access_plans(apps));
    for (index, city) in HOME_CITIES.iter().enumerate() {
        let name = format!("Office - {}", city.place.city);
        let description = format!("Staff based in {}", city.place.city);
        plans.push(GroupPlan::new(
            GroupKind::Location(index),
            &name,
            &description,
        ));
    }
    plans.push(GroupPlan::new(
        GroupKind::Managers,
        "People Managers",
        "Everyone with direct reports",
    ));
    let teams_and_projects = team_and_project_plans();
    plans.extend(teams_and_projects.iter().map(GroupPlan::clone_plan));
    let mut copy = 2;
    while plans.len() < count && !teams_and_projects.is_empty() {
        plans.extend(teams_and_projects.iter().map(|plan| plan.numbered(copy)));
        copy += 1;
    }
    plans.truncate(count);
    plans
}

/// Sizes of team and project groups that add up to a target number of memberships.
///
/// The groups before the first team group are drawn as usual and counted; each team or
/// project group then gets between half and one and a half times its even share of what
/// remains, and the last one gets the rest, within the size of its pool.
struct TeamSizes {
    target: usize,
    total: usize,
    groups_left: usize,
}

impl TeamSizes {
    fn new(target: usize, plans: &[GroupPlan]) -> TeamSizes {
        let groups_left = plans
            .iter()
            .filter(|plan| matches!(plan.kind, GroupKind::Team(_) | GroupKind::Project))
            .count();
        TeamSizes {
            target,
            total: 0,
            groups_left,
        }
    }

    /// Counts the members of a group just made.
    fn add(&mut self, members: usize) {
        self.total += members;
    }

    /// Draws the size of the next team or project group.
    fn next(&mut self, rng: &mut ChaCha8Rng) -> usize {
        let remaining = self.target.saturating_sub(self.total);
        let groups = self.groups_left.max(1);
        self.groups_left = self.groups_left.saturating_sub(1);
        if groups == 1 {
            return remaining;
        }
        let share = remaining / groups;
        rng.gen_range(share / 2..=share + share / 2)
    }
}

/// Users by department and in all, computed once because thousands of team and project
/// groups draw from them.
struct Pools {
    everyone: Vec<usize>,
    departments: Vec<Vec<usize>>,
}

impl Pools {
    fn new(directory: &Directory) -> Pools {
        let mut departments = vec![Vec::new(); DEPARTMENTS.len()];
        for (index, persona) in directory.personas.iter().enumerate() {
            if let Some(department) = persona.department {
                departments[department].push(index);
            }
        }
        Pools {
            everyone: (0..directory.personas.len()).collect(),
            departments,
        }
    }

    /// Returns the users a team or project group draws its members from.
    fn for_team(&self, kind: GroupKind) -> &[usize] {
        match kind {
            GroupKind::Team(department) => &self.departments[department],
            _ => &self.everyone,
        }
    }
}

/// Admin groups of the apps that have one, and the groups imported from Active Directory
/// when the org has that integration.
fn access_plans(apps: &[App]) -> Vec<GroupPlan> {
    let mut plans = Vec::new();
    for (index, app) in apps.iter().enumerate() {
        if catalog_entry(app).is_some_and(|entry| entry.admin_group) {
            let name = format!("{} Admins", app.label);
            let description = format!("Administrators of {}", app.label);
            plans.push(GroupPlan::new(
                GroupKind::AppAdmins(index),
                &name,
                &description,
            ));
        }
    }
    if apps.iter().any(|app| app.name == "active_directory") {
        for (name, description) in DIRECTORY_GROUPS {
            plans.push(GroupPlan::new(GroupKind::Directory, name, description));
        }
    }
    plans
}

/// Team groups for every department interleaved with project groups.
fn team_and_project_plans() -> Vec<GroupPlan> {
    let mut plans = Vec::new();
    for round in 0..TEAMS.len() {
        for (index, department) in DEPARTMENTS.iter().enumerate() {
            let team = TEAMS[(round + index * 3) % TEAMS.len()];
            let name = format!("{}-{team}", department.code);
            let description = format!("{} team {team}", department.name);
            plans.push(GroupPlan::new(GroupKind::Team(index), &name, &description));
        }
        plans.extend(PROJECTS.get(round).map(|project| project_plan(project)));
    }
    plans.extend(
        PROJECTS
            .iter()
            .skip(TEAMS.len())
            .map(|project| project_plan(project)),
    );
    plans
}

fn project_plan(project: &str) -> GroupPlan {
    let name = format!("Project {project}");
    let description = format!("Working group for project {project}");
    GroupPlan::new(GroupKind::Project, &name, &description)
}

/// Chooses the members of a group, as sorted user indices.
fn pick_members(
    directory: &Directory,
    pools: &Pools,
    kind: GroupKind,
    rng: &mut ChaCha8Rng,
) -> Vec<usize> {
    let personas = &directory.personas;
    let where_persona = |test: &dyn Fn(&Persona) -> bool| -> Vec<usize> {
        (0..personas.len())
            .filter(|&index| test(&personas[index]))
            .collect()
    };
    let ceo_id = directory.users.get(CEO).map(|ceo| ceo.id.as_str());
    let mut members = match kind {
        GroupKind::Everyone => where_persona(&|_| true),
        GroupKind::Department(department) => {
            where_persona(&|persona| persona.department == Some(department))
        }
        GroupKind::Leadership => (0..personas.len())
            .filter(|&index| {
                index == CEO || directory.users[index].profile.manager_id.as_deref() == ceo_id
            })
            .collect(),
        GroupKind::Managers => where_persona(&|persona| persona.is_manager),
        GroupKind::Location(city) => where_persona(&|persona| persona.city == city),
        GroupKind::AppAdmins(_) => {
            let pool = active_in(directory, &technical_staff(directory));
            sample(rng, &pool, 2..=5)
        }
        GroupKind::Directory => {
            let share = rng.gen_range(10..=60);
            (0..personas.len())
                .filter(|_| rng.gen_range(0..100) < share)
                .collect()
        }
        GroupKind::Team(_) => sample(rng, pools.for_team(kind), 4..=20),
        GroupKind::Project => sample(rng, pools.for_team(kind), 5..=30),
    };
    members.sort_unstable();
    members
}

/// Engineering and IT staff, the pool app administrators come from.
fn technical_staff(directory: &Directory) -> Vec<usize> {
    (0..directory.users.len())
        .filter(|&index| {
            matches!(
                directory.users[index].profile.department.as_str(),
                "Engineering" | IT_DEPARTMENT
            )
        })
        .collect()
}

fn active_in(directory: &Directory, candidates: &[usize]) -> Vec<usize> {
    candidates
        .iter()
        .copied()
        .filter(|&index| directory.users[index].status == UserStatus::Active)
        .collect()
}

fn sample(
    rng: &mut ChaCha8Rng,
    pool: &[usize],
    size: std::ops::RangeInclusive<usize>,
) -> Vec<usize> {
    let wanted = rng.gen_range(size).min(pool.len());
    pool.choose_multiple(rng, wanted).copied().collect()
}

fn make_group(
    rng: &mut ChaCha8Rng,
    window: &Window,
    directory: &Directory,
    plan: &GroupPlan,
    members: &[usize],
) -> Group {
    let org_start = window.end - Duration::days(5 * 365 + 1);
    let created = match plan.kind {
        GroupKind::Everyone => org_start,
        _ => between(rng, org_start, window.end - Duration::days(60)),
    };
    let last_updated = between(rng, created, window.end - Duration::days(30));
    let latest_member = members
        .iter()
        .map(|&index| directory.users[index].created)
        .max();
    let last_membership_updated = latest_member.unwrap_or(created).max(last_updated);
    let directory_app = directory
        .apps
        .iter()
        .find(|app| app.name == "active_directory");
    let (group_type, source_app_id, profile) = match plan.kind {
        GroupKind::Everyone => (GroupType::BuiltIn, None, None),
        GroupKind::Directory => (
            GroupType::AppGroup,
            directory_app.map(|app| app.id.clone()),
            Some(directory_profile(rng, &plan.name)),
        ),
        _ => (GroupType::OktaGroup, None, None),
    };
    Group {
        id: object_id(rng, "00g"),
        created,
        last_updated,
        last_membership_updated,
        group_type,
        name: plan.name.clone(),
        description: plan.description.clone(),
        source_app_id,
        directory: profile,
    }
}

fn directory_profile(rng: &mut ChaCha8Rng, name: &str) -> DirectoryGroupProfile {
    let account_name: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
    let guid: [u8; 16] = rng.r#gen();
    let domain_ids: [u32; 3] = rng.r#gen();
    DirectoryGroupProfile {
        dn: format!("CN={name},OU=Groups,DC=corp,DC=example,DC=com"),
        windows_domain_qualified_name: format!("CORP\\{account_name}"),
        sam_account_name: account_name,
        external_id: STANDARD.encode(guid),
        object_sid: format!(
            "S-1-5-21-{}-{}-{}-{}",
            domain_ids[0],
            domain_ids[1],
            domain_ids[2],
            rng.gen_range(1100..9000)
        ),
    }
}

/// Chooses the groups assigned to each app.
///
/// Catalog apps go to their audience. Apps beyond the catalog are internal tools, and each
/// goes to one team or project group, or to one department group when the org has none.
/// An org with many apps then gives each user a few dozen of them, not every one.
fn assign_groups(directory: &Directory, plans: &[GroupPlan]) -> Vec<Vec<usize>> {
    let find = |wanted: &dyn Fn(GroupKind) -> bool| plans.iter().position(|plan| wanted(plan.kind));
    let of_kind = |wanted: &dyn Fn(GroupKind) -> bool| -> Vec<usize> {
        (0..plans.len())
            .filter(|&index| wanted(plans[index].kind))
            .collect()
    };
    let teams = of_kind(&|kind| matches!(kind, GroupKind::Team(_) | GroupKind::Project));
    let departments = of_kind(&|kind| matches!(kind, GroupKind::Department(_)));
    let tool_groups = if teams.is_empty() { departments } else { teams };
    directory
        .apps
        .iter()
        .enumerate()
        .map(|(app_index, app)| {
            let Some(entry) = catalog_entry(app) else {
                return match tool_groups.len() {
                    0 => find(&|kind| matches!(kind, GroupKind::Everyone)).into_iter().collect(),
                    count => vec![tool_groups[app_index % count]],
                };
            };
            let mut groups: Vec<usize> = Vec::new();
            if entry.admin_group {
                groups.extend(find(&|kind| matches!(kind, GroupKind::AppAdmins(index) if index == app_index)));
            }
            match entry.audience {
                Audience::Everyone => groups.extend(find(&|kind| matches!(kind, GroupKind::Everyone))),
                Audience::Departments(names) => {
                    for name in names {
                        let department = DEPARTMENTS.iter().position(|department| department.name == *name);
                        groups.extend(find(&|kind| matches!(kind, GroupKind::Department(index) if Some(index) == department)));
                    }
                }
                Audience::DirectOnly => {}
            }
            groups
        })
        .collect()
}

/// Assigns a few users straight to each active app, as exceptions to group rules.
/// DEPROVISIONED users lose direct assignments when they are deactivated, and STAGED users
/// have not been set up yet, so neither is picked.
fn assign_users_directly(directory: &Directory, rng: &mut ChaCha8Rng) -> Vec<Vec<usize>> {
    let eligible: Vec<usize> = (0..directory.users.len())
        .filter(|&index| {
            !matches!(
                directory.users[index].status,
                UserStatus::Deprovisioned | UserStatus::Staged
            )
        })
        .collect();
    let most = (directory.users.len() / 300).max(1);
    directory
        .apps
        .iter()
        .map(|app| {
            if app.status != AppStatus::Active || app.name == "active_directory" {
                return Vec::new();
            }
            let mut users = sample(rng, &eligible, 0..=most);
            users.sort_unstable();
            users
        })
        .collect()
}

/// Gives admin roles to a few IT and People staff; the first admin is a super admin.
fn assign_roles(directory: &mut Directory, window: &Window, rng: &mut ChaCha8Rng) {
    if directory.users.is_empty() {
        return;
    }
    let in_department = |name: &str| -> Vec<usize> {
        let members: Vec<usize> = (0..directory.users.len())
            .filter(|&index| directory.users[index].profile.department == name)
            .collect();
        active_in(directory, &members)
    };
    let it_staff = in_department(IT_DEPARTMENT);
    let people_staff = in_department("People");
    let mut grants: Vec<(usize, &RoleKind)> = Vec::new();
    let super_admin = it_staff
        .first()
        .copied()
        .or_else(|| active_in(directory, &[CEO]).first().copied());
    grants.extend(super_admin.map(|index| (index, &SUPER_ADMIN)));
    grants.extend(it_staff.get(1).map(|&index| (index, &ORG_ADMIN)));
    grants.extend(it_staff.get(2).map(|&index| (index, &HELP_DESK_ADMIN)));
    grants.extend(people_staff.first().map(|&index| (index, &USER_ADMIN)));
    for (user, kind) in grants {
        let created = between(
            rng,
            window.start - Duration::days(3 * 365),
            window.start - Duration::days(1),
        );
        let role = new_role(rng, kind, created);
        directory.roles.entry(user).or_default().push(role);
        directory.admins.push(user);
    }
}

/// Creates a role assignment with an id in the style of Okta's older assignment ids.
pub(crate) fn new_role(
    rng: &mut ChaCha8Rng,
    kind: &RoleKind,
    created: DateTime<Utc>,
) -> RoleAssignment {
    RoleAssignment {
        id: random_from(rng, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 15),
        role_type: kind.role_type.to_string(),
        label: kind.label.to_string(),
        created,
    }
}
