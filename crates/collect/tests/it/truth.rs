//! Comparison of a synced store with the simulator's org, table by table.

use std::collections::BTreeSet;

use idaudit_okta_sim::{AssignmentScope, Org};
use idaudit_store::Store;

type Pairs = BTreeSet<(String, String)>;
type Triples = BTreeSet<(String, String, String)>;

/// Asserts that the store's copy of `org_key` equals `org` exactly: every
/// user in every status, group, membership, app, assignment, role, factor,
/// rule and owner.
pub fn assert_store_matches(store: &Store, org_key: &str, org: &Org) {
    let users: Pairs = store
        .users(org_key)
        .unwrap()
        .into_iter()
        .map(|user| (user.id, user.status))
        .collect();
    let expected: Pairs = org
        .users
        .iter()
        .map(|user| (user.id.clone(), user.status.as_str().to_string()))
        .collect();
    assert_eq!(users, expected, "users");

    let groups: BTreeSet<String> = store
        .groups(org_key)
        .unwrap()
        .into_iter()
        .map(|group| group.id)
        .collect();
    let expected: BTreeSet<String> = org.groups.iter().map(|group| group.id.clone()).collect();
    assert_eq!(groups, expected, "groups");

    let memberships: Pairs = store
        .memberships(org_key)
        .unwrap()
        .into_iter()
        .map(|membership| (membership.group_id, membership.user_id))
        .collect();
    let expected: Pairs = org
        .memberships
        .iter()
        .flat_map(|(group, users)| users.iter().map(move |user| (group.clone(), user.clone())))
        .collect();
    assert_eq!(memberships, expected, "memberships");

    assert_apps_match(store, org_key, org);
    assert_roles_match(store, org_key, org);
    assert_factors_match(store, org_key, org);

    let rules: BTreeSet<String> = store
        .group_rules(org_key)
        .unwrap()
        .into_iter()
        .map(|rule| rule.id)
        .collect();
    let expected: BTreeSet<String> = org.group_rules.iter().map(|rule| rule.id.clone()).collect();
    assert_eq!(rules, expected, "group rules");

    let owners: Pairs = store
        .group_owners(org_key)
        .unwrap()
        .into_iter()
        .map(|owner| (owner.group_id, owner.owner_id))
        .collect();
    let expected: Pairs = org
        .group_owners
        .iter()
        .filter(|(group, _)| org.group(group).is_some())
        .flat_map(|(group, users)| {
            users
                .iter()
                .filter(|user| org.user(user).is_some())
                .map(move |user| (group.clone(), user.clone()))
        })
        .collect();
    assert_eq!(owners, expected, "group owners");
}

fn assert_apps_match(store: &Store, org_key: &str, org: &Org) {
    let apps: BTreeSet<String> = store
        .apps(org_key)
        .unwrap()
        .into_iter()
        .map(|app| app.id)
        .collect();
    let expected: BTreeSet<String> = org.apps.iter().map(|app| app.id.clone()).collect();
    assert_eq!(apps, expected, "apps");

    let app_users: Triples = store
        .all_app_users(org_key)
        .unwrap()
        .into_iter()
        .map(|row| {
            let scope = match row.granting_group_id {
                Some(group) => format!("{} {group}", row.scope),
                None => row.scope,
            };
            (row.app_id, row.user_id, scope)
        })
        .collect();
    let expected: Triples = org
        .apps
        .iter()
        .flat_map(|app| {
            org.app_users(&app.id)
                .into_iter()
                .map(|(user, scope)| {
                    let scope = match scope {
                        AssignmentScope::User => "USER".to_string(),
                        AssignmentScope::Group(group) => format!("GROUP {group}"),
                    };
                    (app.id.clone(), user.id.clone(), scope)
                })
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(app_users, expected, "app user assignments");

    let mut app_groups = Pairs::new();
    for app in &org.apps {
        for row in store.app_groups(org_key, &app.id).unwrap() {
            app_groups.insert((row.app_id, row.group_id));
        }
    }
    let expected: Pairs = org
        .app_group_assignments
        .iter()
        .flat_map(|(app, groups)| {
            groups
                .iter()
                .filter(|group| org.group(group).is_some())
                .map(move |group| (app.clone(), group.clone()))
        })
        .collect();
    assert_eq!(app_groups, expected, "app group assignments");
}

fn assert_roles_match(store: &Store, org_key: &str, org: &Org) {
    let roles: BTreeSet<(String, String, String, String)> = store
        .role_assignments(org_key)
        .unwrap()
        .into_iter()
        .map(|role| {
            (
                role.assignee_type,
                role.assignee_id,
                role.id,
                role.role_type,
            )
        })
        .collect();
    let user_roles = org.admin_roles.iter().flat_map(|(user, roles)| {
        roles.iter().map(move |role| {
            let key = ("USER".to_string(), user.clone());
            (key.0, key.1, role.id.clone(), role.role_type.clone())
        })
    });
    let group_roles = org
        .group_roles
        .iter()
        .filter(|(group, _)| org.group(group).is_some())
        .flat_map(|(group, roles)| {
            roles.iter().map(move |role| {
                let key = ("GROUP".to_string(), group.clone());
                (key.0, key.1, role.id.clone(), role.role_type.clone())
            })
        });
    let expected: BTreeSet<_> = user_roles.chain(group_roles).collect();
    assert_eq!(roles, expected, "role assignments");
    assert!(
        roles
            .iter()
            .any(|(_, _, _, role_type)| role_type == "CUSTOM"),
        "the org should have a custom role"
    );
}

fn assert_factors_match(store: &Store, org_key: &str, org: &Org) {
    let factors: Triples = store
        .factors(org_key)
        .unwrap()
        .into_iter()
        .map(|factor| {
            let status = factor.status.unwrap_or_default();
            (factor.user_id, factor.id, status)
        })
        .collect();
    let expected: Triples = org
        .users
        .iter()
        .filter(|user| {
            !matches!(
                user.status.as_str(),
                "STAGED" | "PROVISIONED" | "DEPROVISIONED"
            )
        })
        .flat_map(|user| {
            org.factors
                .get(&user.id)
                .into_iter()
                .flatten()
                .map(|factor| (user.id.clone(), factor.id.clone(), factor.status.clone()))
        })
        .collect();
    assert_eq!(factors, expected, "factors");
    assert!(!factors.is_empty(), "the org should have factors");
}
