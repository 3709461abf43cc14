//! The built-in pack covers each attack it is meant to catch: one case per
//! attack, with the rule that must alert on it and the events that show it.
//! Every covering rule also states a severity and an ATT&CK technique.

use chrono::Duration;
use idaudit_detect::{Event, RuleSet, Settings};
use idaudit_store::Alert;
use serde_json::{Value, json};

use crate::{base_time, sign_in};

/// Builds an event of `event_type` by `login` from `ip`, `minutes` after
/// the base time, with `extra` merged into the top level.
fn event(uuid: &str, event_type: &str, login: &str, ip: &str, minutes: i64, extra: Value) -> Value {
    let published = base_time() + Duration::minutes(minutes);
    let mut event = json!({
        "uuid": uuid,
        "published": idaudit_store::format_time(published),
        "eventType": event_type,
        "actor": {"id": "00u1", "type": "User", "alternateId": login, "displayName": login},
        "client": {"ipAddress": ip},
        "outcome": {"result": "SUCCESS"}
    });
    if let (Some(target), Value::Object(extra)) = (event.as_object_mut(), extra) {
        target.extend(extra);
    }
    event
}

fn failure(uuid: &str, login: &str, ip: &str, minutes: i64, asn: u64) -> Value {
    let mut event = sign_in(uuid, login, ip, minutes, "FAILURE");
    event["securityContext"] = json!({"asNumber": asn});
    event
}

fn located(uuid: &str, minutes: i64, country: &str, location: (f64, f64)) -> Value {
    let mut event = sign_in(uuid, "jdoe@example.com", "203.0.113.9", minutes, "SUCCESS");
    event["client"]["geographicalContext"] = json!({
        "country": country,
        "geolocation": {"lat": location.0, "lon": location.1}
    });
    event
}

fn brute_force() -> Vec<Value> {
    (0..5)
        .map(|index| {
            failure(
                &format!("bf{index}"),
                "jdoe@example.com",
                "198.51.100.7",
                index,
                64500,
            )
        })
        .collect()
}

fn spray_from_ip() -> Vec<Value> {
    (0..10)
        .map(|index| {
            let login = format!("user{index}@example.com");
            failure(&format!("sp{index}"), &login, "198.51.100.8", index, 64501)
        })
        .collect()
}

fn spray_from_asn() -> Vec<Value> {
    (0..25)
        .map(|index| {
            let login = format!("user{index}@example.com");
            let ip = format!("198.51.100.{}", 100 + index);
            failure(&format!("sa{index}"), &login, &ip, index, 64502)
        })
        .collect()
}

fn credential_stuffing() -> Vec<Value> {
    (0..50)
        .map(|index| {
            let login = format!("user{index}@example.com");
            let ip = format!("203.0.{}.{}", index, 10 + index);
            failure(
                &format!("cs{index}"),
                &login,
                &ip,
                index / 6,
                65000 + index as u64,
            )
        })
        .collect()
}

fn failures_then_success() -> Vec<Value> {
    let mut events: Vec<Value> = (0..3)
        .map(|index| {
            failure(
                &format!("fs{index}"),
                "jdoe@example.com",
                "198.51.100.9",
                index,
                64500,
            )
        })
        .collect();
    events.push(sign_in(
        "fs-ok",
        "jdoe@example.com",
        "198.51.100.9",
        4,
        "SUCCESS",
    ));
    events
}

fn push_fatigue_classic() -> Vec<Value> {
    (0..3)
        .map(|index| {
            let mut event = event(
                &format!("pc{index}"),
                "user.mfa.okta_verify.deny_push",
                "jdoe@example.com",
                "198.51.100.10",
                index,
                json!({}),
            );
            event["outcome"] =
                json!({"result": "FAILURE", "reason": "User rejected Okta push verify"});
            event
        })
        .collect()
}

fn push_fatigue_identity_engine() -> Vec<Value> {
    (0..3)
        .map(|index| {
            let mut event = event(
                &format!("pi{index}"),
                "user.authentication.auth_via_mfa",
                "jdoe@example.com",
                "198.51.100.11",
                index,
                json!({}),
            );
            event["outcome"] = json!({"result": "FAILURE", "reason": "INVALID_CREDENTIALS"});
            event
        })
        .collect()
}

fn impossible_travel() -> Vec<Value> {
    vec![
        located("it1", 0, "France", (48.8566, 2.3522)),
        located("it2", 60, "Japan", (35.6762, 139.6503)),
    ]
}

/// Ten sign-ins over fifteen days from one country, then one from another.
fn new_country() -> Vec<Value> {
    let mut events: Vec<Value> = (0..10)
        .map(|index| {
            located(
                &format!("nc{index}"),
                index * 36 * 60,
                "France",
                (48.8566, 2.3522),
            )
        })
        .collect();
    events.push(located("nc-new", 15 * 24 * 60, "Germany", (52.52, 13.405)));
    events
}

fn admin_console_high_risk() -> Vec<Value> {
    vec![event(
        "ac1",
        "user.session.access_admin_app",
        "admin@example.com",
        "198.51.100.12",
        0,
        json!({"debugContext": {"debugData": {"risk": "{level=HIGH, reasons=Anomalous Device}"}}}),
    )]
}

fn admin_console_new_device() -> Vec<Value> {
    vec![event(
        "ad1",
        "user.session.access_admin_app",
        "admin@example.com",
        "198.51.100.13",
        0,
        json!({"debugContext": {"debugData": {"behaviors": "{New Device=POSITIVE, New IP=NEGATIVE}"}}}),
    )]
}

fn super_admin_grant() -> Vec<Value> {
    vec![event(
        "pg1",
        "user.account.privilege.grant",
        "admin@example.com",
        "198.51.100.14",
        0,
        json!({
            "target": [{"id": "00unew", "type": "User", "alternateId": "new.admin@example.com"}],
            "debugContext": {"debugData": {"privilegeGranted": "Super administrator"}}
        }),
    )]
}

fn single(uuid: &str, event_type: &str, extra: Value) -> Vec<Value> {
    vec![event(
        uuid,
        event_type,
        "admin@example.com",
        "198.51.100.20",
        0,
        extra,
    )]
}

/// A reset, then unrelated activity more than a day later.
fn mfa_reset_not_reenrolled() -> Vec<Value> {
    vec![
        event(
            "mr1",
            "user.mfa.factor.reset_all",
            "helpdesk@example.com",
            "198.51.100.15",
            0,
            json!({"target": [{"id": "00u9", "type": "User", "alternateId": "victim@example.com"}]}),
        ),
        sign_in(
            "mr2",
            "someone@example.com",
            "198.51.100.16",
            25 * 60,
            "SUCCESS",
        ),
    ]
}

fn session_from_three_networks() -> Vec<Value> {
    (0..3)
        .map(|index| {
            event(
                &format!("sn{index}"),
                "user.authentication.sso",
                "jdoe@example.com",
                &format!("198.51.100.{}", 30 + index),
                index * 10,
                json!({"authenticationContext": {"externalSessionId": "102abcdefSESSION"}}),
            )
        })
        .collect()
}

struct Case {
    attack: &'static str,
    rule: &'static str,
    events: Vec<Value>,
    /// The user or IP the alert must name.
    names: &'static str,
}

fn cases() -> Vec<Case> {
    let case = |attack, rule, events, names| Case {
        attack,
        rule,
        events,
        names,
    };
    vec![
        case(
            "brute force on one account",
            "failed-sign-ins-per-user",
            brute_force(),
            "jdoe@example.com",
        ),
        case(
            "password spray from one IP",
            "password-spray",
            spray_from_ip(),
            "198.51.100.8",
        ),
        case(
            "password spray from one ASN",
            "password-spray-asn",
            spray_from_asn(),
            "198.51.100.100",
        ),
        case(
            "credential stuffing",
            "credential-stuffing",
            credential_stuffing(),
            "203.0.0.10",
        ),
        case(
            "failures then success",
            "failures-then-success",
            failures_then_success(),
            "198.51.100.9",
        ),
        case(
            "MFA push fatigue, Classic",
            "mfa-push-fatigue",
            push_fatigue_classic(),
            "jdoe@example.com",
        ),
        case(
            "MFA push fatigue, Identity Engine",
            "mfa-push-fatigue",
            push_fatigue_identity_engine(),
            "jdoe@example.com",
        ),
        case(
            "impossible travel",
            "impossible-travel",
            impossible_travel(),
            "jdoe@example.com",
        ),
        case(
            "new country for a user",
            "new-country-for-user",
            new_country(),
            "jdoe@example.com",
        ),
        case(
            "admin console, high risk",
            "admin-console-risky-sign-in",
            admin_console_high_risk(),
            "admin@example.com",
        ),
        case(
            "admin console, new device",
            "admin-console-risky-sign-in",
            admin_console_new_device(),
            "admin@example.com",
        ),
        case(
            "admin privilege grant",
            "admin-privilege-grant",
            super_admin_grant(),
            "new.admin@example.com",
        ),
        case(
            "API token created",
            "api-token-created",
            single("at1", "system.api_token.create", json!({})),
            "admin@example.com",
        ),
        case(
            "MFA reset and not enrolled again",
            "mfa-reset-not-reenrolled",
            mfa_reset_not_reenrolled(),
            "victim@example.com",
        ),
        case(
            "policy rule change by a person",
            "policy-change-by-person",
            single("pr1", "policy.rule.update", json!({})),
            "admin@example.com",
        ),
        case(
            "policy change by a person",
            "policy-change-by-person",
            single("pl1", "policy.lifecycle.deactivate", json!({})),
            "admin@example.com",
        ),
        case(
            "network zone deactivated",
            "network-zone-removed",
            single("nz1", "zone.deactivate", json!({})),
            "admin@example.com",
        ),
        case(
            "network zone deleted",
            "network-zone-removed",
            single("nz2", "zone.delete", json!({})),
            "admin@example.com",
        ),
        case(
            "ThreatInsight detection",
            "threatinsight-detection",
            single(
                "ti1",
                "security.threat.detected",
                json!({"outcome": {"result": "DENY"}}),
            ),
            "198.51.100.20",
        ),
        case(
            "user-reported suspicious activity",
            "user-reported-suspicious-activity",
            single(
                "ur1",
                "user.account.report_suspicious_activity_by_enduser",
                json!({}),
            ),
            "admin@example.com",
        ),
        case(
            "account lockout",
            "account-lockout",
            single("al1", "user.account.lock", json!({})),
            "admin@example.com",
        ),
        case(
            "session used from several networks",
            "session-from-two-networks",
            session_from_three_networks(),
            "jdoe@example.com",
        ),
        case(
            "session roaming detected by Okta",
            "session-roaming-detected",
            single("sr1", "security.session.detect_client_roaming", json!({})),
            "admin@example.com",
        ),
        case(
            "identity provider created",
            "identity-provider-changed",
            single("ip1", "system.idp.lifecycle.create", json!({})),
            "admin@example.com",
        ),
        case(
            "identity provider changed",
            "identity-provider-changed",
            single("ip2", "system.idp.lifecycle.update", json!({})),
            "admin@example.com",
        ),
        case(
            "rate-limit violation",
            "rate-limit-violation",
            single("rl1", "system.org.rate_limit.violation", json!({})),
            "198.51.100.20",
        ),
    ]
}

fn run(events: &[Value]) -> Vec<Alert> {
    let mut events: Vec<Event> = events
        .iter()
        .map(|value| Event::from_value(value.clone()).unwrap())
        .collect();
    events.sort_by_key(|event| event.published);
    RuleSet::builtin()
        .unwrap()
        .detector(Settings::default())
        .unwrap()
        .run(&events)
}

#[test]
fn every_attack_raises_its_alert() {
    for case in cases() {
        let alerts = run(&case.events);
        let raised: Vec<&Alert> = alerts
            .iter()
            .filter(|alert| alert.rule == case.rule)
            .collect();
        assert!(
            !raised.is_empty(),
            "{}: no `{}` alert in {:#?}",
            case.attack,
            case.rule,
            alerts
        );
        let named = raised.iter().any(|alert| {
            alert.user.as_deref() == Some(case.names) || alert.ip.as_deref() == Some(case.names)
        });
        assert!(
            named,
            "{}: `{}` does not name {}: {raised:#?}",
            case.attack, case.rule, case.names
        );
    }
}

#[test]
fn covering_rules_state_severity_and_technique() {
    let list = RuleSet::builtin().unwrap().list();
    for case in cases() {
        let rule = list
            .iter()
            .find(|rule| rule.id == case.rule)
            .unwrap_or_else(|| panic!("{} not in the built-in pack", case.rule));
        assert!(
            ["low", "medium", "high", "critical"].contains(&rule.severity.as_str()),
            "{}: severity `{}`",
            rule.id,
            rule.severity
        );
        assert!(
            rule.techniques
                .iter()
                .any(|technique| technique.starts_with('T')),
            "{}: no ATT&CK technique",
            rule.id
        );
    }
}

/// The grant is critical for a super administrator role, for an actor never
/// seen making an admin change, and for an actor whose account failed to
/// sign in just before; otherwise it is high.
#[test]
fn privilege_grant_severity_rises_with_risk() {
    let grant = |uuid: &str, minutes: i64, role: &str| {
        event(
            uuid,
            "user.account.privilege.grant",
            "admin@example.com",
            "198.51.100.14",
            minutes,
            json!({
                "target": [{"id": "00unew", "type": "User", "alternateId": format!("{uuid}@example.com")}],
                "debugContext": {"debugData": {"privilegeGranted": role}}
            }),
        )
    };
    let admin_change = event(
        "ac",
        "group.user_membership.add",
        "admin@example.com",
        "198.51.100.14",
        0,
        json!({}),
    );
    let severity = |events: &[Value], grantee: &str| {
        run(events)
            .into_iter()
            .find(|alert| {
                alert.rule == "admin-privilege-grant" && alert.user.as_deref() == Some(grantee)
            })
            .map(|alert| alert.severity)
    };

    let known_admin = [
        admin_change.clone(),
        grant("g1", 5, "Help desk administrator"),
    ];
    assert_eq!(
        severity(&known_admin, "g1@example.com").as_deref(),
        Some("high")
    );

    let super_admin = [admin_change.clone(), grant("g2", 5, "Super administrator")];
    assert_eq!(
        severity(&super_admin, "g2@example.com").as_deref(),
        Some("critical")
    );

    let first_time = [grant("g3", 5, "Help desk administrator")];
    assert_eq!(
        severity(&first_time, "g3@example.com").as_deref(),
        Some("critical")
    );

    let mut under_attack = vec![admin_change];
    for index in 0..3 {
        under_attack.push(failure(
            &format!("f{index}"),
            "admin@example.com",
            "203.0.113.50",
            10 + index,
            64500,
        ));
    }
    under_attack.push(grant("g4", 20, "Help desk administrator"));
    assert_eq!(
        severity(&under_attack, "g4@example.com").as_deref(),
        Some("critical")
    );
}
