//! The labelled scenarios added after the first four: each ground-truth entry matches the
//! events it names, and switching a kind off removes it.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use chrono::{DateTime, Duration, TimeZone, Utc};
use idaudit_okta_sim::{Org, OrgSpec, Scenario, ScenarioKind, UserStatus, generate};
use serde_json::Value;

/// 400 users and 14 days of logs: enough for every threshold, small enough for debug builds.
fn spec() -> OrgSpec {
    OrgSpec {
        seed: 21,
        users: 400,
        groups: 60,
        apps: 25,
        log_days: 14,
        end: Utc.with_ymd_and_hms(2025, 7, 21, 14, 0, 0).unwrap(),
        scenarios: ScenarioKind::all(),
        memberships: None,
    }
}

/// Generates the org of [`spec`] once for the module and parses its events.
fn planted() -> &'static (Org, Vec<Value>) {
    static ORG: OnceLock<(Org, Vec<Value>)> = OnceLock::new();
    ORG.get_or_init(|| {
        let org = generate(&spec());
        let events = org.events.iter().map(|event| event.to_value()).collect();
        (org, events)
    })
}

fn scenario(kind: ScenarioKind) -> &'static Scenario {
    let (org, _) = planted();
    org.scenario(kind.as_str())
        .unwrap_or_else(|| panic!("no `{kind}` scenario"))
}

/// Returns the events a scenario names, in `published` order.
fn events_of(kind: ScenarioKind) -> Vec<&'static Value> {
    let (_, events) = planted();
    let uuids: HashSet<&str> = scenario(kind)
        .event_uuids
        .iter()
        .map(String::as_str)
        .collect();
    events
        .iter()
        .filter(|event| uuids.contains(event["uuid"].as_str().unwrap()))
        .collect()
}

fn published(event: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(event["published"].as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

fn text<'a>(event: &'a Value, path: &str) -> &'a str {
    path.split('.')
        .fold(event, |value, key| &value[key])
        .as_str()
        .unwrap_or_default()
}

fn distance_km(from: &Value, to: &Value) -> f64 {
    let point = |event: &Value| {
        let location = &event["client"]["geographicalContext"]["geolocation"];
        (
            location["lat"].as_f64().unwrap().to_radians(),
            location["lon"].as_f64().unwrap().to_radians(),
        )
    };
    let ((lat1, lon1), (lat2, lon2)) = (point(from), point(to));
    let half_chord = ((lat2 - lat1) / 2.0).sin().powi(2)
        + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * 6371.0 * half_chord.sqrt().asin()
}

const NEW_KINDS: [ScenarioKind; 17] = [
    ScenarioKind::PasswordSprayDistributed,
    ScenarioKind::BruteForceThenSuccess,
    ScenarioKind::CredentialStuffing,
    ScenarioKind::MfaPushFatigueClassic,
    ScenarioKind::MfaPushFatigueIdentityEngine,
    ScenarioKind::ImpossibleTravel,
    ScenarioKind::AdminConsoleNewCountry,
    ScenarioKind::PrivilegeGrantByNonAdmin,
    ScenarioKind::ApiTokenCreated,
    ScenarioKind::MfaResetNotReenrolled,
    ScenarioKind::PolicyChangeByPerson,
    ScenarioKind::ThreatinsightDetection,
    ScenarioKind::UserReportedSuspiciousActivity,
    ScenarioKind::SessionFromTwoNetworks,
    ScenarioKind::JoinerMissingBirthrightGroups,
    ScenarioKind::MoverKeepsOldAccess,
    ScenarioKind::LeaverDeactivatedLate,
];

#[test]
fn every_kind_planted_once() {
    let (org, _) = planted();
    let kinds: Vec<&str> = org
        .ground_truth
        .scenarios
        .iter()
        .map(|scenario| scenario.kind.as_str())
        .collect();
    for kind in ScenarioKind::ALL {
        let count = kinds
            .iter()
            .filter(|planted| **planted == kind.as_str())
            .count();
        assert_eq!(count, 1, "`{kind}` planted {count} times");
    }
    let ids: HashSet<&str> = org
        .ground_truth
        .scenarios
        .iter()
        .map(|scenario| scenario.id.as_str())
        .collect();
    assert_eq!(ids.len(), kinds.len(), "scenario ids are unique");
}

#[test]
fn uuids_present_and_inside_window() {
    let (_, events) = planted();
    let by_uuid: HashMap<&str, &Value> = events
        .iter()
        .map(|event| (event["uuid"].as_str().unwrap(), event))
        .collect();
    for kind in NEW_KINDS {
        let scenario = scenario(kind);
        assert!(!scenario.event_uuids.is_empty(), "`{kind}` has events");
        for uuid in &scenario.event_uuids {
            let event = by_uuid
                .get(uuid.as_str())
                .unwrap_or_else(|| panic!("`{kind}` event {uuid} missing"));
            let at = published(event);
            assert!(
                scenario.start <= at && at <= scenario.end,
                "`{kind}` event at {at} outside {}..{}",
                scenario.start,
                scenario.end
            );
        }
    }
}

#[test]
fn actors_and_ips_as_labelled() {
    for kind in NEW_KINDS {
        let scenario = scenario(kind);
        let users: HashSet<&str> = scenario.user_ids.iter().map(String::as_str).collect();
        for event in events_of(kind) {
            let actor = text(event, "actor.id");
            let target_user = event["target"]
                .as_array()
                .unwrap()
                .iter()
                .any(|target| target["type"] == "User" && users.contains(text(target, "id")));
            if !users.is_empty() {
                assert!(
                    users.contains(actor) || target_user,
                    "`{kind}` event {} names none of the users",
                    event["eventType"]
                );
            }
            if !scenario.ips.is_empty() {
                let ip = text(event, "client.ipAddress");
                assert!(
                    scenario.ips.iter().any(|listed| listed == ip),
                    "`{kind}` ip {ip}"
                );
            }
        }
    }
}

#[test]
fn expected_alerts_as_specified() {
    let expected = [
        (
            ScenarioKind::PasswordSprayDistributed,
            Some("password-spray-asn"),
        ),
        (
            ScenarioKind::BruteForceThenSuccess,
            Some("failures-then-success"),
        ),
        (
            ScenarioKind::CredentialStuffing,
            Some("credential-stuffing"),
        ),
        (
            ScenarioKind::MfaPushFatigueClassic,
            Some("mfa-push-fatigue"),
        ),
        (
            ScenarioKind::MfaPushFatigueIdentityEngine,
            Some("mfa-push-fatigue"),
        ),
        (ScenarioKind::ImpossibleTravel, Some("impossible-travel")),
        (
            ScenarioKind::AdminConsoleNewCountry,
            Some("admin-console-risky-sign-in"),
        ),
        (
            ScenarioKind::PrivilegeGrantByNonAdmin,
            Some("admin-privilege-grant"),
        ),
        (ScenarioKind::ApiTokenCreated, Some("api-token-created")),
        (
            ScenarioKind::MfaResetNotReenrolled,
            Some("mfa-reset-not-reenrolled"),
        ),
        (
            ScenarioKind::PolicyChangeByPerson,
            Some("policy-change-by-person"),
        ),
        (
            ScenarioKind::ThreatinsightDetection,
            Some("threatinsight-detection"),
        ),
        (
            ScenarioKind::UserReportedSuspiciousActivity,
            Some("user-reported-suspicious-activity"),
        ),
        (
            ScenarioKind::SessionFromTwoNetworks,
            Some("session-from-two-networks"),
        ),
        (ScenarioKind::JoinerMissingBirthrightGroups, None),
        (ScenarioKind::MoverKeepsOldAccess, None),
        (ScenarioKind::LeaverDeactivatedLate, None),
    ];
    for (kind, alert) in expected {
        assert_eq!(scenario(kind).expected_alert.as_deref(), alert, "`{kind}`");
    }
}

#[test]
fn distributed_spray_stays_under_per_ip_rule() {
    let events = events_of(ScenarioKind::PasswordSprayDistributed);
    let mut users_per_ip: HashMap<&str, HashSet<&str>> = HashMap::new();
    let mut networks = HashSet::new();
    for event in &events {
        assert_eq!(event["eventType"], "user.session.start");
        assert_eq!(event["outcome"]["result"], "FAILURE");
        networks.insert(event["securityContext"]["asNumber"].as_u64().unwrap());
        users_per_ip
            .entry(text(event, "client.ipAddress"))
            .or_default()
            .insert(text(event, "actor.alternateId"));
    }
    assert_eq!(networks.len(), 1, "one network");
    assert!(users_per_ip.len() >= 2, "several addresses");
    assert!(users_per_ip.values().all(|users| users.len() < 10));
    let users: HashSet<&str> = users_per_ip.values().flatten().copied().collect();
    assert!(users.len() >= 25, "{} users", users.len());
    let span = published(events[events.len() - 1]) - published(events[0]);
    assert!(span <= Duration::minutes(30));
}

#[test]
fn failures_precede_success() {
    let events = events_of(ScenarioKind::BruteForceThenSuccess);
    let (last, failures) = events.split_last().unwrap();
    assert!(failures.len() >= 3);
    assert!(
        failures
            .iter()
            .all(|event| event["outcome"]["result"] == "FAILURE")
    );
    assert_eq!(last["eventType"], "user.session.start");
    assert_eq!(last["outcome"]["result"], "SUCCESS");
    assert!(published(last) - published(failures[0]) <= Duration::minutes(30));
    let ips: HashSet<&str> = events
        .iter()
        .map(|event| text(event, "client.ipAddress"))
        .collect();
    assert_eq!(ips.len(), 1, "one source");
}

#[test]
fn stuffing_reaches_fifty_accounts_in_ten_minutes() {
    let events = events_of(ScenarioKind::CredentialStuffing);
    let users: HashSet<&str> = events
        .iter()
        .map(|event| text(event, "actor.alternateId"))
        .collect();
    let ips: HashSet<&str> = events
        .iter()
        .map(|event| text(event, "client.ipAddress"))
        .collect();
    assert!(users.len() >= 50, "{} accounts", users.len());
    assert!(ips.len() <= 4, "{} addresses", ips.len());
    let span = published(events[events.len() - 1]) - published(events[0]);
    assert!(span <= Duration::minutes(10));
}

#[test]
fn push_fatigue_rejections_then_success() {
    let classic = events_of(ScenarioKind::MfaPushFatigueClassic);
    let denials = classic
        .iter()
        .filter(|event| event["eventType"] == "user.mfa.okta_verify.deny_push")
        .count();
    assert!(denials >= 3, "{denials} Classic rejections");

    let identity = events_of(ScenarioKind::MfaPushFatigueIdentityEngine);
    let rejections: Vec<&&Value> = identity
        .iter()
        .filter(|event| {
            event["eventType"] == "user.authentication.auth_via_mfa"
                && event["outcome"]["result"] == "FAILURE"
        })
        .collect();
    assert!(rejections.len() >= 3);
    for event in &rejections {
        assert_eq!(event["outcome"]["reason"], "INVALID_CREDENTIALS");
        assert_eq!(
            event["debugContext"]["debugData"]["factor"],
            "OKTA_VERIFY_PUSH"
        );
    }
    for events in [&classic, &identity] {
        let last = events.last().unwrap();
        assert_eq!(last["eventType"], "user.session.start");
        assert_eq!(last["outcome"]["result"], "SUCCESS");
    }
}

#[test]
fn impossible_travel_covers_5000_km_within_an_hour() {
    let events = events_of(ScenarioKind::ImpossibleTravel);
    assert_eq!(events.len(), 2);
    assert!(
        events
            .iter()
            .all(|event| event["outcome"]["result"] == "SUCCESS")
    );
    assert!(distance_km(events[0], events[1]) > 5000.0);
    assert!(published(events[1]) - published(events[0]) < Duration::hours(1));
}

#[test]
fn admin_console_country_is_new() {
    let (org, all_events) = planted();
    let scenario = scenario(ScenarioKind::AdminConsoleNewCountry);
    let admin = &scenario.user_ids[0];
    assert!(org.admin_roles.contains_key(admin), "an admin");
    let events = events_of(ScenarioKind::AdminConsoleNewCountry);
    let console = events
        .iter()
        .find(|event| event["eventType"] == "user.session.access_admin_app")
        .expect("Admin Console opened");
    let country = text(console, "client.geographicalContext.country");
    let seen_before = all_events.iter().any(|event| {
        text(event, "actor.id") == admin
            && event["eventType"] == "user.session.start"
            && published(event) < scenario.start
            && text(event, "client.geographicalContext.country") == country
    });
    assert!(!seen_before, "admin signed in from {country} before");
    let behaviors = text(console, "debugContext.debugData.behaviors");
    assert!(
        behaviors.contains("New Geo-Location=POSITIVE"),
        "{behaviors}"
    );
}

#[test]
fn privilege_granted_by_user_without_admin_role() {
    let (org, _) = planted();
    let scenario = scenario(ScenarioKind::PrivilegeGrantByNonAdmin);
    let events = events_of(ScenarioKind::PrivilegeGrantByNonAdmin);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["eventType"], "user.account.privilege.grant");
    let actor = text(events[0], "actor.id");
    assert_eq!(actor, scenario.user_ids[1]);
    assert!(
        !org.admin_roles.contains_key(actor),
        "actor holds no admin role"
    );
    assert!(
        org.admin_roles.contains_key(&scenario.user_ids[0]),
        "grantee holds the role"
    );
}

#[test]
fn admin_changes_have_their_event_types() {
    let cases = [
        (ScenarioKind::ApiTokenCreated, "system.api_token.create"),
        (
            ScenarioKind::MfaResetNotReenrolled,
            "user.mfa.factor.reset_all",
        ),
        (ScenarioKind::PolicyChangeByPerson, "policy.rule.update"),
        (
            ScenarioKind::UserReportedSuspiciousActivity,
            "user.account.report_suspicious_activity_by_enduser",
        ),
    ];
    for (kind, event_type) in cases {
        let events = events_of(kind);
        assert_eq!(events.last().unwrap()["eventType"], event_type, "`{kind}`");
    }
    let policy = events_of(ScenarioKind::PolicyChangeByPerson);
    assert_eq!(policy[0]["actor"]["type"], "User");
    for event in events_of(ScenarioKind::ThreatinsightDetection) {
        assert_eq!(event["eventType"], "security.threat.detected");
        let result = text(event, "outcome.result");
        assert!(result == "ALLOW" || result == "DENY", "{result}");
    }
}

#[test]
fn reset_factors_stay_unenrolled() {
    let (org, all_events) = planted();
    let user = &scenario(ScenarioKind::MfaResetNotReenrolled).user_ids[0];
    assert!(!org.factors.contains_key(user), "no factors left");
    let enrolled = all_events.iter().any(|event| {
        event["eventType"] == "user.mfa.factor.activate"
            && (text(event, "actor.id") == user || event.to_string().contains(user.as_str()))
    });
    assert!(!enrolled);
}

#[test]
fn hijacked_session_seen_from_three_networks() {
    let events = events_of(ScenarioKind::SessionFromTwoNetworks);
    let sessions: HashSet<&str> = events
        .iter()
        .map(|event| text(event, "authenticationContext.externalSessionId"))
        .collect();
    assert_eq!(sessions.len(), 1, "one session");
    let ips: HashSet<&str> = events
        .iter()
        .map(|event| text(event, "client.ipAddress"))
        .collect();
    let networks: HashSet<u64> = events
        .iter()
        .map(|event| event["securityContext"]["asNumber"].as_u64().unwrap())
        .collect();
    assert!(ips.len() >= 3, "{} addresses", ips.len());
    assert!(networks.len() >= 3, "{} networks", networks.len());
    let span = published(events[events.len() - 1]) - published(events[0]);
    assert!(span <= Duration::hours(1));
}

/// Returns the ids of the members of the department group named `department`.
fn department_members<'a>(org: &'a Org, department: &str) -> &'a [String] {
    let group = org
        .groups
        .iter()
        .find(|group| group.name == department)
        .unwrap_or_else(|| panic!("no group {department}"));
    &org.memberships[&group.id]
}

#[test]
fn joiner_lacks_department_group() {
    let (org, _) = planted();
    let scenario = scenario(ScenarioKind::JoinerMissingBirthrightGroups);
    let joiner = org.user(&scenario.user_ids[0]).unwrap();
    assert_eq!(joiner.status, UserStatus::Active);
    let spec = spec();
    assert!(joiner.created >= spec.end - Duration::days(i64::from(spec.log_days)));
    assert!(!department_members(org, &joiner.profile.department).contains(&joiner.id));
}

#[test]
fn mover_keeps_old_department_group() {
    let (org, _) = planted();
    let scenario = scenario(ScenarioKind::MoverKeepsOldAccess);
    let mover = org.user(&scenario.user_ids[0]).unwrap();
    let events = events_of(ScenarioKind::MoverKeepsOldAccess);
    assert_eq!(events[0]["eventType"], "user.account.update_profile");
    assert!(department_members(org, &mover.profile.department).contains(&mover.id));
    let old_groups = org
        .groups
        .iter()
        .filter(|group| scenario.description.contains(&format!("`{}`", group.name)))
        .filter(|group| org.memberships[&group.id].contains(&mover.id))
        .count();
    assert_eq!(old_groups, 1, "still in the old department group");
}

#[test]
fn late_leaver_deactivated_days_after_last_sign_in() {
    let (org, all_events) = planted();
    let scenario = scenario(ScenarioKind::LeaverDeactivatedLate);
    let leaver = org.user(&scenario.user_ids[0]).unwrap();
    assert_eq!(leaver.status, UserStatus::Deprovisioned);
    let events = events_of(ScenarioKind::LeaverDeactivatedLate);
    assert_eq!(events[0]["eventType"], "user.lifecycle.deactivate");
    let deactivated = published(events[0]);
    let last_sign_in = all_events
        .iter()
        .filter(|event| {
            event["eventType"] == "user.session.start" && text(event, "actor.id") == leaver.id
        })
        .map(published)
        .max()
        .expect("signed in during the window");
    assert!(deactivated - last_sign_in >= Duration::days(4));
    assert_eq!(scenario.start, last_sign_in);
}

#[test]
fn switching_kind_off_removes_it() {
    let (full, _) = planted();
    for kind in [
        ScenarioKind::ApiTokenCreated,
        ScenarioKind::CredentialStuffing,
        ScenarioKind::PrivilegeGrant,
    ] {
        let mut spec = spec();
        spec.scenarios.remove(&kind);
        let org = generate(&spec);
        assert!(
            org.scenario(kind.as_str()).is_none(),
            "`{kind}` still planted"
        );
        let removed = full.scenario(kind.as_str()).unwrap().event_uuids.len();
        assert_eq!(org.events.len(), full.events.len() - removed, "`{kind}`");
        for other in &full.ground_truth.scenarios {
            if other.kind != kind.as_str() {
                let kept = org.scenario(&other.kind).expect("other kinds kept");
                assert_eq!(kept.user_ids, other.user_ids, "`{}` users", other.kind);
            }
        }
    }
    let none = OrgSpec {
        scenarios: Default::default(),
        ..spec()
    };
    let org = generate(&none);
    assert!(org.ground_truth.scenarios.is_empty());
    let types: HashSet<&str> = org.events.iter().map(|event| event.event_type()).collect();
    for planted_only in [
        "system.api_token.create",
        "user.account.privilege.grant",
        "security.threat.detected",
        "user.mfa.factor.reset_all",
    ] {
        assert!(
            !types.contains(planted_only),
            "{planted_only} without scenarios"
        );
    }
}

#[test]
fn switched_off_directory_change_undone() {
    let mut spec = spec();
    spec.scenarios.remove(&ScenarioKind::LeaverDeactivatedLate);
    let org = generate(&spec);
    let (full, _) = planted();
    let leaver = &full.scenario("leaver_deactivated_late").unwrap().user_ids[0];
    assert_eq!(org.user(leaver).unwrap().status, UserStatus::Active);
    assert_eq!(org.users.len(), full.users.len());
}
