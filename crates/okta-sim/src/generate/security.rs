//! Factors, group rules, group owners and group admin roles of the generated org.
//!
//! Active users have one to three factors drawn from Okta Verify push, TOTP, SMS, e-mail
//! and WebAuthn; users who never finished activation have none. Every department group
//! gets an active rule `user.department=="<name>"`, matching how its members were
//! chosen. Department groups are owned by the department head where one exists, the
//! IT department group has a standard `HELP_DESK_ADMIN` role, and the leadership group
//! a custom role over a resource set.

use chrono::Duration;
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use super::Org;
use super::catalog::DEPARTMENTS;
use crate::access::{Factor, GroupRole, GroupRule};
use crate::ids::{derived_object_id, object_id};
use crate::model::{GroupType, User, UserStatus};

/// Factor kinds: `factorType`, `provider`, `vendorName` and id prefix.
const FACTOR_KINDS: &[(&str, &str, &str, &str)] = &[
    ("push", "OKTA", "OKTA", "opf"),
    ("token:software:totp", "GOOGLE", "GOOGLE", "uft"),
    ("sms", "OKTA", "OKTA", "mbl"),
    ("email", "OKTA", "OKTA", "emf"),
    ("webauthn", "FIDO", "FIDO", "fwf"),
];

/// Adds factors, group rules, owners and group roles to a generated org.
pub(crate) fn add(org: &mut Org, rng: &mut ChaCha8Rng) {
    for user in &org.users {
        let factors = user_factors(user, rng);
        if !factors.is_empty() {
            org.factors.insert(user.id.clone(), factors);
        }
    }
    add_rules_and_owners(org);
    add_group_roles(org, rng);
}

fn user_factors(user: &User, rng: &mut ChaCha8Rng) -> Vec<Factor> {
    if matches!(user.status, UserStatus::Staged | UserStatus::Provisioned) {
        return Vec::new();
    }
    let count = rng.gen_range(1..=3);
    let mut kinds: Vec<usize> = (1..FACTOR_KINDS.len()).collect();
    kinds.shuffle(rng);
    // Most workforce orgs enrol everyone in Okta Verify, so push always comes first.
    let chosen = std::iter::once(0).chain(kinds).take(count);
    let enrolled = user.activated.unwrap_or(user.created);
    chosen
        .map(|kind| {
            let (factor_type, provider, vendor, prefix) = FACTOR_KINDS[kind];
            Factor {
                id: derived_object_id(prefix, &format!("{}/{factor_type}", user.id)),
                factor_type: factor_type.to_string(),
                provider: provider.to_string(),
                vendor_name: vendor.to_string(),
                status: "ACTIVE".to_string(),
                created: enrolled + Duration::minutes(rng.gen_range(1..600)),
                profile: factor_profile(factor_type, user, rng),
            }
        })
        .collect()
}

fn factor_profile(factor_type: &str, user: &User, rng: &mut ChaCha8Rng) -> serde_json::Value {
    match factor_type {
        "push" => {
            let (name, platform) = *[("iPhone", "IOS"), ("Pixel 8", "ANDROID")]
                .choose(rng)
                .unwrap_or(&("iPhone", "IOS"));
            json!({"credentialId": user.profile.login, "deviceType": "SmartPhone", "name": name, "platform": platform, "version": "17.4"})
        }
        "sms" => json!({"phoneNumber": format!("+1 415-555-{:04}", rng.gen_range(0..10_000))}),
        "email" => json!({"email": user.profile.email}),
        "webauthn" => {
            json!({"credentialId": derived_object_id("cred", &user.id), "authenticatorName": "YubiKey 5 NFC"})
        }
        _ => json!({"credentialId": user.profile.login}),
    }
}

fn add_rules_and_owners(org: &mut Org) {
    for (index, department) in DEPARTMENTS.iter().enumerate() {
        let Some(group) = org.groups.iter().find(|group| {
            group.group_type == GroupType::OktaGroup && group.name == department.name
        }) else {
            continue;
        };
        org.group_rules.push(GroupRule {
            id: derived_object_id("0pr", &group.id),
            name: format!("{} department", department.name),
            status: if index % 7 == 6 { "INACTIVE" } else { "ACTIVE" }.to_string(),
            expression: format!("user.department==\"{}\"", department.name),
            group_ids: vec![group.id.clone()],
            excluded_user_ids: Vec::new(),
            created: group.created,
            last_updated: group.created,
        });
        let head = org
            .users
            .iter()
            .find(|user| user.profile.title == department.head_title);
        if let Some(head) = head {
            org.group_owners
                .insert(group.id.clone(), vec![head.id.clone()]);
        }
    }
}

fn add_group_roles(org: &mut Org, rng: &mut ChaCha8Rng) {
    let find = |name: &str| {
        org.groups
            .iter()
            .find(|group| group.name == name)
            .map(|group| (group.id.clone(), group.created))
    };
    if let Some((group_id, created)) = find("IT") {
        let role = GroupRole {
            id: object_id(rng, "irb"),
            role_type: "HELP_DESK_ADMIN".to_string(),
            label: "Help Desk Administrator".to_string(),
            custom_role_id: None,
            resource_set_id: None,
            created,
        };
        org.group_roles.insert(group_id, vec![role]);
    }
    if let Some((group_id, created)) = find("Leadership") {
        let role = GroupRole {
            id: object_id(rng, "irb"),
            role_type: "CUSTOM".to_string(),
            label: "Access Reviewer".to_string(),
            custom_role_id: Some(object_id(rng, "cr0")),
            resource_set_id: Some(object_id(rng, "iam")),
            created,
        };
        org.group_roles.insert(group_id, vec![role]);
    }
}
