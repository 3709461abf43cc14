//! Starting a campaign: a snapshot of app entitlements, each routed to a
//! reviewer (the user's manager, the owner of the granting group, or one
//! named person). Each item records how and since when the access was
//! granted, the last sign-in and SSO, risk flags and a suggested decision.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use idaudit_store::{CampaignItem, ItemDetails, Store, UserRow};
use serde_json::json;

use crate::ReviewError;

/// The reviewer for users without a known manager.
pub const FALLBACK_REVIEWER: &str = "unassigned";

/// Users with no sign-in for this many days are flagged as inactive by default.
pub const DEFAULT_INACTIVE_DAYS: i64 = 90;

/// Flags, as written in packages.
pub const FLAG_DEACTIVATED: &str = "deactivated-still-assigned";
pub const FLAG_SUSPENDED: &str = "suspended-still-assigned";
/// The inactivity flag with the default threshold; another threshold gives
/// `inactive-N-days`.
pub const FLAG_INACTIVE: &str = "inactive-90-days";
pub const FLAG_UNKNOWN_USER: &str = "user-not-in-directory";
pub const FLAG_NO_MFA: &str = "no-mfa-factor";
pub const FLAG_PRIVILEGED: &str = "privileged-role";
pub const FLAG_SOD: &str = "separation-of-duties";

/// The rule that picks the reviewer of each item.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ReviewerRule {
    /// The user's manager.
    #[default]
    Manager,
    /// A user who owns the group that grants the app; the manager for
    /// direct assignments and groups without a user owner.
    GroupOwner,
    /// One person, by login, for every item.
    User(String),
    /// The owner that configuration names for the item's app: a map from app
    /// id or label (case-insensitive) to the owner's login. Items of apps
    /// without an owner go to [`FALLBACK_REVIEWER`].
    AppOwner(BTreeMap<String, String>),
}

impl ReviewerRule {
    fn name(&self) -> String {
        match self {
            ReviewerRule::Manager => "manager".to_string(),
            ReviewerRule::GroupOwner => "group-owner".to_string(),
            ReviewerRule::User(login) => format!("user:{login}"),
            ReviewerRule::AppOwner(_) => "app-owner".to_string(),
        }
    }
}

/// The scope of a new campaign and the routing of its items.
#[derive(Clone, Debug)]
pub struct StartOptions {
    /// App ids or labels (case-insensitive); every app when empty.
    pub apps: Vec<String>,
    /// Group ids or names (case-insensitive): only access granted through
    /// one of them; no limit when empty.
    pub groups: Vec<String>,
    pub reviewer: ReviewerRule,
    /// Date by which reviewers should decide, `YYYY-MM-DD`.
    pub due: Option<String>,
    /// Users with no sign-in for this many days are flagged as inactive.
    pub inactive_days: i64,
    /// Pairs of app labels that one user should not hold together.
    pub sod_conflicts: Vec<(String, String)>,
}

impl Default for StartOptions {
    fn default() -> Self {
        StartOptions {
            apps: Vec::new(),
            groups: Vec::new(),
            reviewer: ReviewerRule::Manager,
            due: None,
            inactive_days: DEFAULT_INACTIVE_DAYS,
            sod_conflicts: Vec::new(),
        }
    }
}

/// Counts of a new campaign.
#[derive(Clone, Debug)]
pub struct StartedCampaign {
    pub id: i64,
    pub items: u64,
    pub reviewers: u64,
    pub flagged: u64,
}

/// Starts a campaign over the user assignments of `apps` (ids or labels,
/// case-insensitive), or of every app when `apps` is empty, reviewed by managers.
pub fn start_campaign(
    store: &mut Store,
    org: &str,
    name: &str,
    apps: &[String],
) -> Result<StartedCampaign, ReviewError> {
    let options = StartOptions {
        apps: apps.to_vec(),
        ..StartOptions::default()
    };
    start_campaign_with(store, org, name, &options)
}

/// Starts a campaign as `options` describe.
pub fn start_campaign_with(
    store: &mut Store,
    org: &str,
    name: &str,
    options: &StartOptions,
) -> Result<StartedCampaign, ReviewError> {
    let now = Utc::now();
    let all_apps = store.apps(org)?;
    if all_apps.is_empty() {
        return Err(ReviewError::EmptyDirectory {
            org: org.to_string(),
        });
    }
    let selected = select_apps(&all_apps, &options.apps)?;
    let context = Context::load(store, org, &all_apps, options)?;
    let only_groups = select_groups(&context.group_names, &options.groups)?;
    let under_review = collect_entries(store, org, &selected, &context, &only_groups)?;

    let scope = json!({
        "apps": selected.iter().map(|app| json!({"id": app.id, "label": app.label})).collect::<Vec<_>>(),
        "groups": only_groups.iter().collect::<BTreeSet<_>>(),
        "reviewer": options.reviewer.name(),
        "due": options.due,
        "inactive_days": options.inactive_days,
    });
    // Items are built one at a time in item order and written as they are
    // built, so only the light entries are held for the whole campaign.
    let mut flagged = 0;
    let items = under_review
        .entries
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            let item = context.item_of_entry(entry, &under_review, now, index as i64 + 1);
            if !item.flags.is_empty() {
                flagged += 1;
            }
            item
        });
    let id = store.create_campaign_from(name, org, &scope, items)?;
    Ok(StartedCampaign {
        id,
        items: under_review.entries.len() as u64,
        reviewers: under_review.reviewers as u64,
        flagged,
    })
}

/// One assignment under review, before its item is built.
struct Entry {
    /// Ranks of the reviewer login, user login and app label among the
    /// campaign's distinct values; their order is the item order.
    rank: (u32, u32, u32),
    /// Index of the app in [`Entries::apps`].
    app: u32,
    /// Index of the assignment's scope in [`Entries::scopes`].
    scope: u32,
    /// Index of the user's id in [`Entries::user_ids`].
    user: u32,
    /// When the assignment was created, as Okta reports it.
    created: Option<String>,
}

/// The assignments under review, sorted in item order.
struct Entries {
    entries: Vec<Entry>,
    /// The selected apps with the ids of the groups assigned to each.
    apps: Vec<(idaudit_store::AppRow, Vec<String>)>,
    /// Distinct assignment scopes, such as `USER` and `GROUP`.
    scopes: Vec<String>,
    /// Distinct ids of the assigned users.
    user_ids: Vec<String>,
    /// Number of distinct reviewers.
    reviewers: usize,
}

/// Numbers distinct strings in the order they are first seen, and ranks them
/// by byte order once all are seen.
#[derive(Default)]
struct Ranking {
    numbers: HashMap<String, u32>,
}

impl Ranking {
    fn number(&mut self, value: &str) -> u32 {
        if let Some(number) = self.numbers.get(value) {
            return *number;
        }
        let number = self.numbers.len() as u32;
        self.numbers.insert(value.to_string(), number);
        number
    }

    /// Returns the rank of each number: equal strings share one rank.
    fn ranks(self) -> Vec<u32> {
        let mut sorted: Vec<(String, u32)> = self.numbers.into_iter().collect();
        sorted.sort_unstable();
        let mut ranks = vec![0; sorted.len()];
        for (rank, (_, number)) in sorted.into_iter().enumerate() {
            ranks[number as usize] = rank as u32;
        }
        ranks
    }
}

/// Lists the assignments of the selected apps that the group scope keeps,
/// sorted by reviewer login, then user login, then app label, with ties kept
/// in app and assignment order.
fn collect_entries(
    store: &Store,
    org: &str,
    selected: &[idaudit_store::AppRow],
    context: &Context,
    only_groups: &HashSet<String>,
) -> Result<Entries, ReviewError> {
    let (mut reviewers, mut user_logins, mut app_labels) =
        (Ranking::default(), Ranking::default(), Ranking::default());
    let mut scopes: Vec<String> = Vec::new();
    let mut entries = Vec::new();
    let mut apps = Vec::new();
    // User id to the user's index in `user_ids`, the number of the login
    // and, when the rule looks at the user alone, of the reviewer: one lookup
    // per assignment instead of one per map.
    let mut per_user: HashMap<String, (u32, u32, Option<u32>)> = HashMap::new();
    let mut user_ids = Vec::new();
    let by_user_alone = matches!(
        context.options.reviewer,
        ReviewerRule::Manager | ReviewerRule::User(_)
    );
    for (app_index, app) in selected.iter().enumerate() {
        let app_groups: Vec<String> = store
            .app_groups(org, &app.id)?
            .into_iter()
            .map(|row| row.group_id)
            .collect();
        let label = app_labels.number(&app.label);
        for assignment in store.app_users(org, &app.id)? {
            let group_ids = context.granting_group_ids(&assignment, &app_groups);
            if !only_groups.is_empty() && !group_ids.iter().any(|id| only_groups.contains(id)) {
                continue;
            }
            let (user, user_number, reviewer_number) = match per_user.get(&assignment.user_id) {
                Some(numbers) => *numbers,
                None => {
                    let user = context.users.get(&assignment.user_id);
                    let login = user.map_or(assignment.user_id.as_str(), |user| &user.login);
                    let reviewer = by_user_alone.then(|| {
                        let (_, reviewer_login) = context.reviewer(user, &app.id, &[]);
                        reviewers.number(reviewer_login)
                    });
                    let numbers = (user_ids.len() as u32, user_logins.number(login), reviewer);
                    user_ids.push(assignment.user_id.clone());
                    per_user.insert(assignment.user_id.clone(), numbers);
                    numbers
                }
            };
            let reviewer_number = reviewer_number.unwrap_or_else(|| {
                let user = context.users.get(&assignment.user_id);
                let (_, reviewer_login) = context.reviewer(user, &app.id, &group_ids);
                reviewers.number(reviewer_login)
            });
            let scope = match scopes.iter().position(|scope| *scope == assignment.scope) {
                Some(position) => position,
                None => {
                    scopes.push(assignment.scope.clone());
                    scopes.len() - 1
                }
            };
            entries.push(Entry {
                rank: (reviewer_number, user_number, label),
                app: app_index as u32,
                scope: scope as u32,
                user,
                created: assignment.created,
            });
        }
        apps.push((app.clone(), app_groups));
    }

    let reviewer_count = reviewers.numbers.len();
    let (reviewer_ranks, user_ranks, label_ranks) =
        (reviewers.ranks(), user_logins.ranks(), app_labels.ranks());
    for entry in &mut entries {
        let (reviewer, user, label) = entry.rank;
        entry.rank = (
            reviewer_ranks[reviewer as usize],
            user_ranks[user as usize],
            label_ranks[label as usize],
        );
    }
    // A stable sort, so entries with equal logins and labels keep their order.
    entries.sort_by_key(|entry| entry.rank);
    Ok(Entries {
        entries,
        apps,
        scopes,
        user_ids,
        reviewers: reviewer_count,
    })
}

/// The directory and history that items are built from, read once.
struct Context {
    users: HashMap<String, UserRow>,
    users_by_login: HashMap<String, String>,
    group_names: HashMap<String, String>,
    groups_of_user: HashMap<String, HashSet<String>>,
    rules_of_group: HashMap<String, Vec<String>>,
    /// Group id to the ids of its user owners, sorted.
    owners_of_group: HashMap<String, Vec<String>>,
    /// App id to the login of its configured owner, for `AppOwner`.
    owner_of_app: HashMap<String, String>,
    /// User ids with an admin role, directly or through a group.
    privileged: HashSet<String>,
    /// User ids with an active MFA factor; `None` when no factor was synced.
    with_factor: Option<HashSet<String>>,
    /// User id to the labels of all the user's apps, for separation of duties.
    app_labels_of_user: HashMap<String, HashSet<String>>,
    since: HashMap<(String, String), String>,
    last_sso: HashMap<(String, String), String>,
    options: StartOptions,
}

impl Context {
    fn load(
        store: &Store,
        org: &str,
        all_apps: &[idaudit_store::AppRow],
        options: &StartOptions,
    ) -> Result<Context, ReviewError> {
        let users: HashMap<String, UserRow> = store
            .users(org)?
            .into_iter()
            .map(|user| (user.id.clone(), user))
            .collect();
        let users_by_login = users
            .values()
            .map(|user| (user.login.to_lowercase(), user.id.clone()))
            .collect();
        let mut groups_of_user: HashMap<String, HashSet<String>> = HashMap::new();
        for membership in store.memberships(org)? {
            groups_of_user
                .entry(membership.user_id)
                .or_default()
                .insert(membership.group_id);
        }
        let mut rules_of_group: HashMap<String, Vec<String>> = HashMap::new();
        for rule in store.group_rules(org)? {
            if rule.status == "ACTIVE" {
                for group_id in &rule.group_ids {
                    rules_of_group
                        .entry(group_id.clone())
                        .or_default()
                        .push(rule.name.clone());
                }
            }
        }
        let mut owners_of_group: HashMap<String, Vec<String>> = HashMap::new();
        for owner in store.group_owners(org)? {
            if owner.owner_type == "USER" {
                owners_of_group
                    .entry(owner.group_id)
                    .or_default()
                    .push(owner.owner_id);
            }
        }
        for owners in owners_of_group.values_mut() {
            owners.sort();
        }
        let privileged = privileged_users(store, org, &groups_of_user)?;
        let factors = store.factors(org)?;
        let with_factor = (!factors.is_empty()).then(|| {
            factors
                .into_iter()
                .filter(|factor| factor.status.as_deref() == Some("ACTIVE"))
                .map(|factor| factor.user_id)
                .collect()
        });
        let labels: HashMap<&str, &str> = all_apps
            .iter()
            .map(|app| (app.id.as_str(), app.label.as_str()))
            .collect();
        let mut app_labels_of_user: HashMap<String, HashSet<String>> = HashMap::new();
        if !options.sod_conflicts.is_empty() {
            for row in store.all_app_users(org)? {
                if let Some(label) = labels.get(row.app_id.as_str()) {
                    app_labels_of_user
                        .entry(row.user_id)
                        .or_default()
                        .insert(label.to_lowercase());
                }
            }
        }
        Ok(Context {
            owner_of_app: app_owners(all_apps, &options.reviewer),
            users,
            users_by_login,
            group_names: store
                .groups(org)?
                .into_iter()
                .map(|group| (group.id, group.name))
                .collect(),
            groups_of_user,
            rules_of_group,
            owners_of_group,
            privileged,
            with_factor,
            app_labels_of_user,
            since: store.app_assignment_since(org)?,
            last_sso: store.last_sso_by_user_and_app(org)?,
            options: options.clone(),
        })
    }

    /// Returns the groups that grant `assignment`, looking up the user's
    /// groups only for an assignment through a group.
    fn granting_group_ids(
        &self,
        assignment: &idaudit_store::AppUserRow,
        app_groups: &[String],
    ) -> Vec<String> {
        if assignment.scope != "GROUP" {
            return Vec::new();
        }
        granting_group_ids(
            &assignment.scope,
            self.groups_of_user.get(&assignment.user_id),
            app_groups,
        )
    }

    /// Builds the item of `entry`, numbered `item_no`.
    fn item_of_entry(
        &self,
        entry: &Entry,
        entries: &Entries,
        now: DateTime<Utc>,
        item_no: i64,
    ) -> CampaignItem {
        let (app, app_groups) = &entries.apps[entry.app as usize];
        let user_id = &entries.user_ids[entry.user as usize];
        let grant_type = entries
            .scopes
            .get(entry.scope as usize)
            .cloned()
            .unwrap_or_default();
        let group_ids = if grant_type == "GROUP" {
            granting_group_ids(&grant_type, self.groups_of_user.get(user_id), app_groups)
        } else {
            Vec::new()
        };

        let mut item = self.build_item(user_id, app, &group_ids, now);
        item.item_no = item_no;
        item.app_id = app.id.clone();
        item.app_label = app.label.clone();
        item.grant_type = grant_type;
        item.granting_groups = group_ids
            .iter()
            .map(|id| {
                self.group_names
                    .get(id)
                    .cloned()
                    .unwrap_or_else(|| id.clone())
            })
            .collect();

        // Both maps are keyed by an owned pair, so the key is built only
        // when there is something to find.
        if !self.since.is_empty() || !self.last_sso.is_empty() {
            let key = (user_id.clone(), app.id.clone());
            item.details.since = self.since.get(&key).cloned();
            item.details.last_sso = self.last_sso.get(&key).cloned();
        }
        if item.details.since.is_none() {
            item.details.since = entry.created.clone();
        }

        item.details.group_rules = group_ids
            .iter()
            .flat_map(|id| self.rules_of_group.get(id).into_iter().flatten().cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        item.details.granting_group_ids = group_ids;
        item
    }

    /// Returns the reviewer of an item: the user, when in the directory, and
    /// the login.
    fn reviewer<'a>(
        &'a self,
        user: Option<&'a UserRow>,
        app_id: &str,
        group_ids: &[String],
    ) -> (Option<&'a UserRow>, &'a str) {
        match &self.options.reviewer {
            ReviewerRule::User(login) => (self.user_by_login(login), login.as_str()),
            ReviewerRule::AppOwner(_) => match self.owner_of_app.get(app_id) {
                Some(login) => (self.user_by_login(login), login.as_str()),
                None => (None, FALLBACK_REVIEWER),
            },
            ReviewerRule::GroupOwner => {
                let owner = group_ids
                    .iter()
                    .filter_map(|group| self.owners_of_group.get(group))
                    .flatten()
                    .find_map(|owner| self.users.get(owner));
                match owner {
                    Some(owner) => (Some(owner), owner.login.as_str()),
                    None => self.manager(user),
                }
            }
            ReviewerRule::Manager => self.manager(user),
        }
    }

    fn user_by_login(&self, login: &str) -> Option<&UserRow> {
        self.users_by_login
            .get(&login.to_lowercase())
            .and_then(|id| self.users.get(id))
    }

    fn manager<'a>(&'a self, user: Option<&'a UserRow>) -> (Option<&'a UserRow>, &'a str) {
        let manager = user
            .and_then(|user| user.manager_id.as_deref())
            .and_then(|manager_id| self.users.get(manager_id));
        let login = manager.map_or(FALLBACK_REVIEWER, |manager| manager.login.as_str());
        (manager, login)
    }

    /// Returns the reviewer name shown for items of [`FALLBACK_REVIEWER`].
    fn fallback_name(&self) -> &'static str {
        match self.options.reviewer {
            ReviewerRule::AppOwner(_) => "No app owner configured",
            _ => "No manager on record",
        }
    }

    /// Builds the user and reviewer half of an item, with flags and a suggestion.
    fn build_item(
        &self,
        user_id: &str,
        app: &idaudit_store::AppRow,
        group_ids: &[String],
        now: DateTime<Utc>,
    ) -> CampaignItem {
        let user = self.users.get(user_id);
        let (reviewer, reviewer_login) = self.reviewer(user, &app.id, group_ids);
        let reviewer_login = reviewer_login.to_string();
        let mut flags = risk_flags(user, now, self.options.inactive_days);
        if let Some(user) = user {
            self.add_access_flags(user, &app.label, &mut flags);
        }
        let revoke = flags.keys().any(|flag| {
            [FLAG_DEACTIVATED, FLAG_SUSPENDED, FLAG_UNKNOWN_USER].contains(&flag.as_str())
        });
        let reason = if flags.is_empty() {
            "Active user with a current assignment".to_string()
        } else {
            flags.values().cloned().collect::<Vec<_>>().join("; ")
        };
        CampaignItem {
            item_no: 0,
            reviewer_id: reviewer.map(|reviewer| reviewer.id.clone()),
            reviewer_name: match reviewer {
                Some(reviewer) => reviewer.full_name(),
                None if reviewer_login == FALLBACK_REVIEWER => self.fallback_name().to_string(),
                None => reviewer_login.clone(),
            },
            reviewer_login,
            user_id: user_id.to_string(),
            user_login: user.map_or_else(|| user_id.to_string(), |user| user.login.clone()),
            user_name: user.map(UserRow::full_name).unwrap_or_default(),
            user_status: user.map_or_else(|| "UNKNOWN".to_string(), |user| user.status.clone()),
            app_id: String::new(),
            app_label: String::new(),
            grant_type: String::new(),
            granting_groups: Vec::new(),
            flags: flags.into_keys().collect(),
            suggestion: if revoke { "revoke" } else { "keep" }.to_string(),
            reason,
            details: ItemDetails {
                last_sign_in: user.and_then(|user| user.last_login.clone()),
                ..ItemDetails::default()
            },
        }
    }

    /// Adds the flags that depend on the user's other access: no MFA factor,
    /// an admin role, and apps that conflict with this one.
    fn add_access_flags(
        &self,
        user: &UserRow,
        app_label: &str,
        flags: &mut BTreeMap<String, String>,
    ) {
        if let Some(with_factor) = &self.with_factor
            && user.status != "DEPROVISIONED"
            && !with_factor.contains(&user.id)
        {
            flags.insert(
                FLAG_NO_MFA.to_string(),
                "User has no active MFA factor".to_string(),
            );
        }
        if self.privileged.contains(&user.id) {
            flags.insert(
                FLAG_PRIVILEGED.to_string(),
                "User holds an admin role".to_string(),
            );
        }
        let Some(held) = self.app_labels_of_user.get(&user.id) else {
            return;
        };
        let this = app_label.to_lowercase();
        let conflicting: BTreeSet<&str> = self
            .options
            .sod_conflicts
            .iter()
            .filter_map(|(left, right)| {
                let (left_lower, right_lower) = (left.to_lowercase(), right.to_lowercase());
                if this == left_lower && held.contains(&right_lower) {
                    Some(right.as_str())
                } else if this == right_lower && held.contains(&left_lower) {
                    Some(left.as_str())
                } else {
                    None
                }
            })
            .collect();
        if !conflicting.is_empty() {
            flags.insert(
                FLAG_SOD.to_string(),
                format!(
                    "Separation of duties: user also has `{}`",
                    conflicting.into_iter().collect::<Vec<_>>().join("`, `")
                ),
            );
        }
    }
}

/// Returns, for `ReviewerRule::AppOwner`, each app's id with the login of
/// its owner: the entry for the app's id, else the entry for its label
/// compared case-insensitively. Logs entries that name no synced app.
fn app_owners(all_apps: &[idaudit_store::AppRow], rule: &ReviewerRule) -> HashMap<String, String> {
    let ReviewerRule::AppOwner(owners) = rule else {
        return HashMap::new();
    };
    let by_label: HashMap<String, (&String, &String)> = owners
        .iter()
        .map(|(key, login)| (key.to_lowercase(), (key, login)))
        .collect();
    let mut owner_of_app = HashMap::new();
    let mut used = HashSet::new();
    for app in all_apps {
        let found = owners
            .get_key_value(&app.id)
            .or_else(|| by_label.get(&app.label.to_lowercase()).copied());
        if let Some((key, login)) = found {
            used.insert(key.as_str());
            owner_of_app.insert(app.id.clone(), login.clone());
        }
    }
    for key in owners.keys().filter(|key| !used.contains(key.as_str())) {
        tracing::warn!(
            app = %key,
            "App owner entry matches no synced app id or label, so its owner reviews nothing"
        );
    }
    owner_of_app
}

/// Returns the ids of users with an admin role, assigned to them or to one of their groups.
fn privileged_users(
    store: &Store,
    org: &str,
    groups_of_user: &HashMap<String, HashSet<String>>,
) -> Result<HashSet<String>, ReviewError> {
    let mut users = HashSet::new();
    let mut groups = HashSet::new();
    for role in store.role_assignments(org)? {
        if role
            .status
            .as_deref()
            .is_some_and(|status| status != "ACTIVE")
        {
            continue;
        }
        if role.assignee_type == "GROUP" {
            groups.insert(role.assignee_id);
        } else {
            users.insert(role.assignee_id);
        }
    }
    if !groups.is_empty() {
        for (user, user_groups) in groups_of_user {
            if !user_groups.is_disjoint(&groups) {
                users.insert(user.clone());
            }
        }
    }
    Ok(users)
}

fn select_apps(
    all_apps: &[idaudit_store::AppRow],
    requested: &[String],
) -> Result<Vec<idaudit_store::AppRow>, ReviewError> {
    if requested.is_empty() {
        return Ok(all_apps.to_vec());
    }
    let mut selected = Vec::new();
    for name in requested {
        let found = all_apps
            .iter()
            .find(|app| app.id == *name || app.label.eq_ignore_ascii_case(name))
            .ok_or_else(|| ReviewError::UnknownApp { name: name.clone() })?;
        selected.push(found.clone());
    }
    Ok(selected)
}

/// Returns the ids of the requested groups, given by id or name.
fn select_groups(
    group_names: &HashMap<String, String>,
    requested: &[String],
) -> Result<HashSet<String>, ReviewError> {
    let mut selected = HashSet::new();
    for name in requested {
        let found = group_names
            .iter()
            .find(|(id, group_name)| *id == name || group_name.eq_ignore_ascii_case(name))
            .ok_or_else(|| ReviewError::UnknownGroup { name: name.clone() })?;
        selected.insert(found.0.clone());
    }
    Ok(selected)
}

/// Returns the user's groups that are assigned to the app, sorted, when the
/// assignment comes through a group.
fn granting_group_ids(
    scope: &str,
    user_groups: Option<&HashSet<String>>,
    app_groups: &[String],
) -> Vec<String> {
    if scope != "GROUP" {
        return Vec::new();
    }
    let Some(user_groups) = user_groups else {
        return Vec::new();
    };
    let mut ids: Vec<String> = app_groups
        .iter()
        .filter(|group_id| user_groups.contains(*group_id))
        .cloned()
        .collect();
    ids.sort();
    ids
}

/// Returns the flags that depend on the user alone, each with its reason.
fn risk_flags(
    user: Option<&UserRow>,
    now: DateTime<Utc>,
    inactive_days: i64,
) -> BTreeMap<String, String> {
    let mut flags = BTreeMap::new();
    let Some(user) = user else {
        flags.insert(
            FLAG_UNKNOWN_USER.to_string(),
            "The assigned user is not in the synced directory".to_string(),
        );
        return flags;
    };
    match user.status.as_str() {
        "DEPROVISIONED" => {
            flags.insert(
                FLAG_DEACTIVATED.to_string(),
                "User is deactivated but still assigned".to_string(),
            );
        }
        "SUSPENDED" => {
            flags.insert(
                FLAG_SUSPENDED.to_string(),
                "User is suspended but still assigned".to_string(),
            );
        }
        _ => {}
    }
    let last_login = user
        .last_login
        .as_deref()
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok());
    if user.status != "DEPROVISIONED"
        && last_login
            .is_none_or(|time| now - time.with_timezone(&Utc) > Duration::days(inactive_days))
    {
        flags.insert(
            format!("inactive-{inactive_days}-days"),
            format!("No sign-in in the last {inactive_days} days"),
        );
    }
    flags
}
