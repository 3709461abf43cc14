//! The generator: determinism, the shape of events, the ground truth of each scenario and
//! the absence of attack patterns from benign data.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, TimeZone, Utc};
use idaudit_okta_sim::{Org, OrgSpec, ScenarioKind, UserStatus, generate};
use serde_json::Value;

fn fixed_spec(seed: u64) -> OrgSpec {
    OrgSpec {
        seed,
        users: 400,
        groups: 60,
        apps: 25,
        log_days: 14,
        end: Utc.with_ymd_and_hms(2025, 7, 21, 14, 0, 0).unwrap(),
        scenarios: ScenarioKind::all(),
        memberships: None,
    }
}

fn values(org: &Org) -> Vec<Value> {
    org.events.iter().map(|event| event.to_value()).collect()
}

/// Failed `user.session.start` times per actor id, optionally only from one address.
fn failures_by_user(events: &[Value], ip: Option<&str>) -> HashMap<String, Vec<DateTime<Utc>>> {
    let mut failures: HashMap<String, Vec<DateTime<Utc>>> = HashMap::new();
    for event in events {
        let failed =
            event["eventType"] == "user.session.start" && event["outcome"]["result"] == "FAILURE";
        let from_ip = ip.is_none_or(|ip| event["client"]["ipAddress"] == ip);
        if failed && from_ip {
            let published = DateTime::parse_from_rfc3339(event["published"].as_str().unwrap())
                .unwrap()
                .with_timezone(&Utc);
            failures
                .entry(event["actor"]["id"].as_str().unwrap().to_string())
                .or_default()
                .push(published);
        }
    }
    failures
}

/// Largest number of timestamps within any ten-minute span.
fn max_in_ten_minutes(times: &[DateTime<Utc>]) -> usize {
    let mut sorted = times.to_vec();
    sorted.sort();
    let mut best = 0;
    let mut start = 0;
    for end in 0..sorted.len() {
        while sorted[end] - sorted[start] > Duration::minutes(10) {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}

#[test]
fn same_seed_gives_identical_org() {
    let first = serde_json::to_string(&generate(&fixed_spec(11))).unwrap();
    let second = serde_json::to_string(&generate(&fixed_spec(11))).unwrap();
    assert!(first == second, "two orgs from one spec differ");
}

#[test]
fn other_seed_gives_other_org() {
    let first = generate(&fixed_spec(11));
    let second = generate(&fixed_spec(12));
    assert_ne!(first.users[5].id, second.users[5].id);
    assert_ne!(
        serde_json::to_string(&first).unwrap(),
        serde_json::to_string(&second).unwrap()
    );
}

#[test]
fn org_round_trips_through_json() {
    let org = generate(&fixed_spec(3));
    let text = serde_json::to_string(&org).unwrap();
    let back: Org = serde_json::from_str(&text).unwrap();
    assert!(
        back == org,
        "the org read back differs from the one written"
    );
}

#[test]
fn events_have_okta_log_event_shape() {
    let org = generate(&fixed_spec(5));
    let spec = fixed_spec(5);
    let events = values(&org);
    assert!(!events.is_empty());
    let mut uuids = HashSet::new();
    for event in &events {
        let uuid = uuid::Uuid::parse_str(event["uuid"].as_str().unwrap()).unwrap();
        assert_eq!(uuid.get_version_num(), 4);
        assert!(uuids.insert(uuid), "uuid repeated");
        let published = event["published"].as_str().unwrap();
        assert_eq!(published.len(), 24, "{published}");
        assert!(
            published.ends_with('Z') && published.as_bytes()[19] == b'.',
            "{published}"
        );
        let published = DateTime::parse_from_rfc3339(published).unwrap();
        assert!(published < spec.end, "{published}");
        assert!(published >= spec.end - Duration::days(14), "{published}");
        assert_eq!(event["version"], "0");
        for field in ["eventType", "severity", "displayMessage"] {
            assert!(event[field].is_string(), "{field}");
        }
        for field in ["id", "type", "alternateId", "displayName"] {
            assert!(event["actor"][field].is_string(), "actor.{field}");
        }
        assert!(event["outcome"]["result"].is_string());
        assert!(event["target"].is_array());
        assert!(event["transaction"]["id"].is_string());
        assert_eq!(
            event["debugContext"]["debugData"]["requestId"],
            event["transaction"]["id"]
        );
        assert!(event["authenticationContext"]["externalSessionId"].is_string());
        assert!(event.get("legacyEventType").is_some());
        let client = &event["client"];
        assert_eq!(client["zone"], "null");
        for field in ["rawUserAgent", "os", "browser"] {
            assert!(
                client["userAgent"][field].is_string(),
                "client.userAgent.{field}"
            );
        }
        assert!(client["ipAddress"].is_string());
        assert!(client["geographicalContext"]["geolocation"]["lat"].is_f64());
        assert!(event["securityContext"]["isp"].is_string());
    }
    let published: Vec<&str> = events
        .iter()
        .map(|event| event["published"].as_str().unwrap())
        .collect();
    assert!(
        published.windows(2).all(|pair| pair[0] <= pair[1]),
        "ascending by published"
    );
}

#[test]
fn brute_force_truth_matches_events() {
    let org = generate(&fixed_spec(21));
    let scenario = org
        .scenario("brute_force")
        .expect("brute force planted")
        .clone();
    assert_eq!(
        scenario.expected_alert.as_deref(),
        Some("failed-sign-ins-per-user")
    );
    assert_eq!(scenario.user_ids.len(), 1);
    assert_eq!(scenario.ips.len(), 1);
    let victim = org.user(&scenario.user_ids[0]).unwrap();
    assert_eq!(victim.status, UserStatus::Active);
    assert_eq!(scenario.user_logins, vec![victim.profile.login.clone()]);

    let events = values(&org);
    let from_attacker = failures_by_user(&events, Some(&scenario.ips[0]));
    let times = &from_attacker[&victim.id];
    assert!((15..=30).contains(&times.len()), "{} failures", times.len());
    assert_eq!(times.len(), scenario.event_uuids.len());
    assert!(
        times
            .iter()
            .all(|time| scenario.start <= *time && *time <= scenario.end)
    );
    assert!(scenario.end - scenario.start <= Duration::minutes(10));
    assert_eq!(max_in_ten_minutes(times), times.len());

    let attack_events: Vec<&Value> = events
        .iter()
        .filter(|event| event["client"]["ipAddress"] == scenario.ips[0].as_str())
        .collect();
    assert!(
        attack_events
            .iter()
            .all(|event| event["outcome"]["reason"] == "INVALID_CREDENTIALS")
    );
    assert!(
        attack_events
            .iter()
            .all(|event| event["actor"]["id"] == victim.id.as_str())
    );
    let home_country = &victim.profile.country_code;
    let attack_country = attack_events[0]["client"]["geographicalContext"]["country"]
        .as_str()
        .unwrap();
    assert_ne!(
        Some(attack_country),
        country_name(&org, home_country).as_deref(),
        "attack comes from abroad"
    );
}

/// Returns the country name that benign events show for users of a country code.
fn country_name(org: &Org, code: &str) -> Option<String> {
    let user = org
        .users
        .iter()
        .find(|user| user.profile.country_code == code)?;
    org.events
        .iter()
        .map(|event| event.to_value())
        .find(|event| {
            event["actor"]["id"] == user.id.as_str()
                && event["client"]["geographicalContext"].is_object()
        })
        .map(|event| {
            event["client"]["geographicalContext"]["country"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
}

#[test]
fn benign_data_has_no_attack_patterns() {
    let org = generate(&fixed_spec(21));
    let events = values(&org);
    let scenario_users: HashSet<&str> = org
        .ground_truth
        .scenarios
        .iter()
        .flat_map(|scenario| scenario.user_ids.iter().map(String::as_str))
        .collect();
    for (user, times) in failures_by_user(&events, None) {
        if !scenario_users.contains(user.as_str()) {
            assert!(
                max_in_ten_minutes(&times) < 5,
                "user {user} has a burst of failures"
            );
        }
    }
    let scenario_uuids: HashSet<&str> = org
        .ground_truth
        .scenarios
        .iter()
        .flat_map(|scenario| scenario.event_uuids.iter().map(String::as_str))
        .collect();
    let grants: Vec<&Value> = events
        .iter()
        .filter(|event| event["eventType"] == "user.account.privilege.grant")
        .collect();
    let grant_scenarios = org
        .ground_truth
        .scenarios
        .iter()
        .filter(|scenario| scenario.kind.starts_with("privilege_grant"))
        .count();
    assert_eq!(grants.len(), grant_scenarios);
    assert!(
        grants
            .iter()
            .all(|event| scenario_uuids.contains(event["uuid"].as_str().unwrap()))
    );
}

#[test]
fn privilege_grant_event_names_the_grantee() {
    let org = generate(&fixed_spec(21));
    let scenario = org.scenario("privilege_grant").unwrap().clone();
    assert_eq!(
        scenario.expected_alert.as_deref(),
        Some("admin-privilege-grant")
    );
    let event = org
        .events
        .iter()
        .find(|event| event.uuid() == scenario.event_uuids[0])
        .unwrap()
        .to_value();
    assert_eq!(event["eventType"], "user.account.privilege.grant");
    assert_eq!(event["outcome"]["result"], "SUCCESS");
    assert_eq!(
        event["debugContext"]["debugData"]["privilegeGranted"],
        "Super administrator"
    );
    assert_eq!(
        event["legacyEventType"],
        "core.user.admin_privilege.granted"
    );
    assert_eq!(event["target"][0]["type"], "User");
    assert_eq!(event["target"][0]["id"], scenario.user_ids[0].as_str());
    let actor = event["actor"]["id"].as_str().unwrap();
    assert!(
        org.admin_roles
            .get(actor)
            .is_some_and(|roles| roles.iter().any(|role| role.role_type == "SUPER_ADMIN"))
    );
    assert!(
        org.admin_roles[&scenario.user_ids[0]]
            .iter()
            .any(|role| role.role_type == "SUPER_ADMIN")
    );
}

#[test]
fn leaver_is_deprovisioned_and_still_assigned() {
    let org = generate(&fixed_spec(21));
    let scenario = org.scenario("leaver_with_assignments").unwrap().clone();
    assert_eq!(scenario.expected_alert, None);
    let leaver = org.user(&scenario.user_ids[0]).unwrap();
    assert_eq!(leaver.status, UserStatus::Deprovisioned);
    assert_eq!(leaver.status_changed, Some(scenario.start));
    assert!(scenario.app_ids.len() >= 2);
    for app_id in &scenario.app_ids {
        assert!(
            org.app_user_assignments[app_id].contains(&leaver.id),
            "direct assignment kept"
        );
        assert!(
            org.app_users(app_id)
                .iter()
                .any(|(user, _)| user.id == leaver.id),
            "listed as an app user"
        );
    }
    let deactivation = org
        .events
        .iter()
        .find(|event| event.uuid() == scenario.event_uuids[0])
        .unwrap()
        .to_value();
    assert_eq!(deactivation["eventType"], "user.lifecycle.deactivate");
    assert_eq!(deactivation["target"][0]["id"], leaver.id.as_str());
    let admin = deactivation["actor"]["id"].as_str().unwrap();
    assert!(
        org.admin_roles.contains_key(admin),
        "deactivated by an admin"
    );
    let signed_in_after = org.events.iter().any(|event| {
        event.event_type() == "user.session.start"
            && event.published() > scenario.start
            && event.as_json().contains(&leaver.id)
    });
    assert!(!signed_in_after, "no sign-in after deactivation");
}

#[test]
fn password_spray_stays_under_per_user_threshold() {
    let org = generate(&fixed_spec(21));
    let scenario = org.scenario("password_spray").unwrap().clone();
    let events = values(&org);
    let from_sprayer = failures_by_user(&events, Some(&scenario.ips[0]));
    assert_eq!(from_sprayer.len(), scenario.user_ids.len());
    assert!(from_sprayer.len() >= 10);
    assert!(from_sprayer.values().all(|times| times.len() <= 2));
}

#[test]
fn managers_form_a_hierarchy() {
    let org = generate(&fixed_spec(8));
    let by_id: HashMap<&str, &idaudit_okta_sim::User> = org
        .users
        .iter()
        .map(|user| (user.id.as_str(), user))
        .collect();
    let mut reports: HashMap<&str, usize> = HashMap::new();
    let roots: Vec<_> = org
        .users
        .iter()
        .filter(|user| user.profile.manager_id.is_none())
        .collect();
    assert_eq!(roots.len(), 1, "one CEO");
    assert_eq!(roots[0].profile.title, "Chief Executive Officer");
    for user in &org.users {
        let Some(manager_id) = &user.profile.manager_id else {
            continue;
        };
        let manager = by_id[manager_id.as_str()];
        assert_eq!(
            user.profile.manager.as_deref(),
            Some(manager.profile.display_name.as_str())
        );
        *reports.entry(manager_id.as_str()).or_default() += 1;
    }
    assert!(reports.values().all(|&count| count <= 12));
    let average = reports.values().sum::<usize>() as f64 / reports.len() as f64;
    assert!((6.0..=12.0).contains(&average), "average span {average}");
}

#[test]
fn small_spec_still_generates() {
    let spec = OrgSpec {
        seed: 1,
        users: 3,
        groups: 2,
        apps: 1,
        log_days: 0,
        end: Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap(),
        scenarios: ScenarioKind::all(),
        memberships: None,
    };
    let org = generate(&spec);
    assert_eq!(org.counts().users, 3);
    assert_eq!(org.counts().groups, 2);
    assert_eq!(org.counts().apps, 1);
    assert_eq!(org.counts().events, 0);
    assert!(org.ground_truth.scenarios.is_empty());
}

#[test]
fn empty_spec_generates_empty_org() {
    let spec = OrgSpec {
        seed: 1,
        users: 0,
        groups: 0,
        apps: 0,
        log_days: 30,
        end: Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap(),
        scenarios: ScenarioKind::all(),
        memberships: None,
    };
    let org = generate(&spec);
    assert_eq!(org.counts().users, 0);
    assert_eq!(org.counts().events, 0);
    assert!(org.ground_truth.scenarios.is_empty());
}

#[test]
fn default_spec_has_demo_sized_volume() {
    let spec = OrgSpec::default();
    assert_eq!(
        (spec.seed, spec.users, spec.groups, spec.apps, spec.log_days),
        (42, 2000, 150, 40, 30)
    );
    assert_eq!(spec.end.timestamp_subsec_nanos(), 0);
    let org = generate(&spec);
    let counts = org.counts();
    assert_eq!((counts.users, counts.groups, counts.apps), (2000, 150, 40));
    assert!(
        (40_000..=80_000).contains(&counts.events),
        "{} events",
        counts.events
    );

    let mut statuses: BTreeMap<UserStatus, usize> = BTreeMap::new();
    for user in &org.users {
        *statuses.entry(user.status).or_default() += 1;
    }
    assert!(statuses[&UserStatus::Active] > 1600);
    for status in [
        UserStatus::Deprovisioned,
        UserStatus::Suspended,
        UserStatus::LockedOut,
        UserStatus::PasswordExpired,
        UserStatus::Staged,
        UserStatus::Provisioned,
    ] {
        assert!(
            statuses.get(&status).copied().unwrap_or(0) > 0,
            "{status} present"
        );
    }
    let kinds: HashSet<&str> = org
        .ground_truth
        .scenarios
        .iter()
        .map(|scenario| scenario.kind.as_str())
        .collect();
    assert!(kinds.is_superset(&HashSet::from([
        "brute_force",
        "leaver_with_assignments",
        "privilege_grant",
        "password_spray"
    ])));
}

/// A spec past the catalog of groups, with a membership target.
fn large_directory_spec(seed: u64) -> OrgSpec {
    OrgSpec {
        users: 300,
        groups: 700,
        apps: 60,
        log_days: 3,
        memberships: Some(9_000),
        ..fixed_spec(seed)
    }
}

#[test]
fn same_seed_gives_identical_large_directory() {
    let first = serde_json::to_string(&generate(&large_directory_spec(8))).unwrap();
    let second = serde_json::to_string(&generate(&large_directory_spec(8))).unwrap();
    assert!(first == second, "two orgs from one spec differ");
}

#[test]
fn requested_group_count_is_honoured() {
    let org = generate(&large_directory_spec(8));
    assert_eq!(org.groups.len(), 700);
    let names: HashSet<&str> = org.groups.iter().map(|group| group.name.as_str()).collect();
    assert_eq!(names.len(), 700, "group names are unique");
    let ids: HashSet<&str> = org.groups.iter().map(|group| group.id.as_str()).collect();
    assert_eq!(ids.len(), 700, "group ids are unique");
}

#[test]
fn membership_target_is_reached() {
    let org = generate(&large_directory_spec(8));
    let memberships = org.counts().memberships;
    assert!(
        (8_900..=9_100).contains(&memberships),
        "{memberships} memberships for a target of 9000"
    );
    for (group, members) in &org.memberships {
        let unique: HashSet<&String> = members.iter().collect();
        assert_eq!(unique.len(), members.len(), "duplicate member in `{group}`");
        assert!(members.is_sorted(), "members of `{group}` are not sorted");
    }
}

#[test]
fn membership_target_leaves_default_groups_alone() {
    let plain = generate(&fixed_spec(4));
    let targeted = generate(&OrgSpec {
        memberships: Some(plain.counts().memberships * 2),
        ..fixed_spec(4)
    });
    let ids = |org: &Org| -> Vec<String> { org.users.iter().map(|user| user.id.clone()).collect() };
    assert_eq!(ids(&plain), ids(&targeted));
    assert_eq!(plain.groups.len(), targeted.groups.len());
    let everyone = &plain.groups[0].id;
    assert_eq!(plain.memberships[everyone], targeted.memberships[everyone]);
    assert!(targeted.counts().memberships > plain.counts().memberships);
}

#[test]
fn compact_events_render_consistently() {
    let org = generate(&fixed_spec(6));
    for event in org.events.iter().step_by(7) {
        let rendered = event.to_json_string();
        let value: Value = serde_json::from_str(&rendered).unwrap();
        assert_eq!(value["uuid"], event.uuid().as_str());
        assert_eq!(value["eventType"], event.event_type());
        assert_eq!(
            value["transaction"]["id"],
            value["debugContext"]["debugData"]["requestId"]
        );
        let session = &value["authenticationContext"]["externalSessionId"];
        assert_eq!(session, &value["authenticationContext"]["rootSessionId"]);
        assert_eq!(session.as_str().unwrap().len(), 25);
        assert_eq!(event.as_json(), rendered, "the kept text matches");
    }
}

#[test]
fn sign_in_events_share_their_session() {
    let org = generate(&fixed_spec(6));
    let events = values(&org);
    let mut sessions: HashMap<&str, HashSet<&str>> = HashMap::new();
    for event in &events {
        if event["actor"]["type"] == "User" && event["client"]["ipAddress"].is_string() {
            let session = event["authenticationContext"]["externalSessionId"]
                .as_str()
                .unwrap();
            sessions
                .entry(session)
                .or_default()
                .insert(event["eventType"].as_str().unwrap());
        }
    }
    assert!(
        sessions
            .values()
            .any(|types| types.contains("user.session.start")
                && types.contains("user.authentication.sso")),
        "a sign-in and its app sign-ons share a session id"
    );
}

#[test]
fn internal_tools_assigned_to_one_team() {
    let org = generate(&large_directory_spec(8));
    let everyone = org
        .groups
        .iter()
        .find(|group| group.name == "Everyone")
        .map(|group| group.id.clone())
        .unwrap();
    let tools: Vec<_> = org
        .apps
        .iter()
        .filter(|app| app.label.starts_with("Internal Tool"))
        .collect();
    assert!(!tools.is_empty(), "the spec has apps beyond the catalog");
    for app in tools {
        let groups = &org.app_group_assignments[&app.id];
        assert_eq!(groups.len(), 1, "`{}` is assigned to {groups:?}", app.label);
        assert_ne!(
            groups[0], everyone,
            "`{}` is assigned to Everyone",
            app.label
        );
        assert!(
            org.memberships[&groups[0]].len() < org.users.len() / 2,
            "`{}` reaches half the org",
            app.label
        );
    }
}
