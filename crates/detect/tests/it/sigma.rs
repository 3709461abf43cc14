//! The Sigma engine: loading, field matching, conditions and correlations.

use std::path::Path;

use idaudit_detect::{Event, RuleSet, Settings};
use serde_json::{Value, json};

use crate::{base_time, sign_in};

fn load(yaml: &str) -> RuleSet {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("rule.yml");
    std::fs::write(&path, yaml).unwrap();
    RuleSet::load_file(&path).unwrap()
}

fn load_error(yaml: &str) -> String {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("rule.yml");
    std::fs::write(&path, yaml).unwrap();
    RuleSet::load_file(&path).unwrap_err().to_string()
}

fn run(rules: &RuleSet, events: &[Value]) -> Vec<idaudit_store::Alert> {
    let events: Vec<Event> = events
        .iter()
        .map(|value| Event::from_value(value.clone()).unwrap())
        .collect();
    rules.detector(Settings::default()).unwrap().run(&events)
}

fn detection(selection: &str, condition: &str) -> String {
    format!(
        "title: Test rule\nname: test-rule\nlogsource:\n    product: okta\ndetection:\n{selection}\n    condition: {condition}\nlevel: high\n"
    )
}

/// Loads a rule whose condition is one selection of `fields`, lines of
/// field conditions indented by eight spaces.
fn load_selection(fields: &str) -> RuleSet {
    load(&detection(
        &format!("    selection:\n{fields}"),
        "selection",
    ))
}

fn grant_event() -> Value {
    json!({
        "uuid": "g1",
        "published": "2026-11-30T09:00:00.000Z",
        "eventType": "user.account.privilege.grant",
        "actor": {"id": "00uadmin", "type": "User", "alternateId": "admin@example.com"},
        "client": {"ipAddress": "203.0.113.5"},
        "outcome": {"result": "SUCCESS"},
        "securityContext": {"isProxy": true, "asNumber": 64500},
        "target": [
            {"id": "ROLE", "type": "ROLE_ASSIGNED"},
            {"id": "00unew", "type": "User", "alternateId": "new.admin@example.com"}
        ],
        "debugContext": {"debugData": {"privilegeGranted": "Super administrator", "behaviors": "{New Device=POSITIVE, New IP=NEGATIVE}"}}
    })
}

#[test]
fn modifiers_match_nested_camel_case() {
    let cases = [
        ("        eventType: user.account.privilege.grant", true),
        ("        eventtype: USER.ACCOUNT.PRIVILEGE.GRANT", true),
        (
            "        eventType|cased: USER.ACCOUNT.PRIVILEGE.GRANT",
            false,
        ),
        (
            "        debugContext.debugData.privilegeGranted|contains: super",
            true,
        ),
        (
            "        debugcontext.debugdata.privilegegranted|startswith: Super",
            true,
        ),
        (
            "        debugContext.debugData.privilegeGranted|endswith: admin",
            false,
        ),
        (
            "        debugContext.debugData.privilegeGranted: 'Super*'",
            true,
        ),
        (
            "        debugContext.debugData.behaviors|contains|all:\n            - New Device=POSITIVE\n            - New IP=POSITIVE",
            false,
        ),
        ("        target.type: User", true),
        ("        target[].alternateId|re: '^new\\.'", true),
        ("        client.ipAddress|cidr: 203.0.113.0/24", true),
        ("        client.ipAddress|cidr: 198.51.100.0/24", false),
        ("        securityContext.isProxy: 'true'", true),
        ("        securityContext.asNumber|gte: 64500", true),
        ("        client.zone: null", true),
        ("        client.zone|exists: true", false),
    ];
    for (selection, expected) in cases {
        let rules = load_selection(selection);
        let alerts = run(&rules, &[grant_event()]);
        assert_eq!(alerts.len(), usize::from(expected), "{selection}");
    }
}

#[test]
fn conditions_combine_selections() {
    let selections = "    sel_grant:\n        eventType: user.account.privilege.grant\n    sel_proxy:\n        securityContext.isProxy: 'true'\n    filter_admin:\n        actor.alternateId: admin@example.com";
    let cases = [
        ("sel_grant and not filter_admin", false),
        ("all of sel_*", true),
        ("1 of sel_* and not filter_admin", false),
        ("(sel_grant or filter_admin) and sel_proxy", true),
        ("not sel_grant or filter_admin", true),
        ("all of them", true),
    ];
    for (condition, expected) in cases {
        let rules = load(&detection(selections, condition));
        let alerts = run(&rules, &[grant_event()]);
        assert_eq!(alerts.len(), usize::from(expected), "{condition}");
    }
}

#[test]
fn load_error_names_file_and_line() {
    let message = load_error(&detection(
        "    selection:\n        eventType|base64offset: grant",
        "selection",
    ));
    assert!(message.contains("rule.yml:6"), "{message}");
    assert!(message.contains("`base64offset`"), "{message}");

    let message = load_error(&detection(
        "    selection:\n        eventType: a",
        "selection and other",
    ));
    assert!(message.contains("rule.yml:8"), "{message}");
    assert!(message.contains("`other`"), "{message}");

    let message = load_error("title: [unclosed\n");
    assert!(message.contains("rule.yml:2: Invalid YAML"), "{message}");
}

#[test]
fn lower_cased_keys_never_match() {
    let rules = load_selection("        eventtype: user.account.privilege.grant");
    let panther = json!({
        "uuid": "p1",
        "published": "2026-11-30T09:00:00.000Z",
        "eventtype": "user.account.privilege.grant",
        "outcome": {"result": "SUCCESS"}
    });
    assert!(Event::from_value(panther).is_err());
    let no_type = json!({"uuid": "p2", "published": "2026-11-30T09:00:00.000Z"});
    assert!(Event::from_value(no_type).is_err());
    assert_eq!(run(&rules, &[grant_event()]).len(), 1);
}

const FAILED: &str = "---\ntitle: Failed sign-in\nname: failed\nlogsource:\n    product: okta\ndetection:\n    selection:\n        eventType: user.session.start\n        outcome.result: FAILURE\n    condition: selection\n";

#[test]
fn event_count_raises_one_alert_per_burst() {
    let yaml = format!(
        "title: Many failures\nname: many\ncorrelation:\n    type: event_count\n    rules: [failed]\n    group-by: [actor.alternateId]\n    timespan: 10m\n    condition:\n        gte: 3\nlevel: high\n{FAILED}"
    );
    let rules = load(&yaml);
    let events: Vec<Value> = (0..6)
        .map(|index| {
            sign_in(
                &format!("f{index}"),
                "jdoe@example.com",
                "203.0.113.9",
                index,
                "FAILURE",
            )
        })
        .collect();
    let alerts = run(&rules, &events);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].rule, "many");
    assert_eq!(alerts[0].user.as_deref(), Some("jdoe@example.com"));
    assert_eq!(alerts[0].count, 6);
    assert_eq!(alerts[0].evidence.len(), 6);
}

#[test]
fn value_count_counts_distinct_users() {
    let yaml = format!(
        "title: Spray\nname: spray\ncorrelation:\n    type: value_count\n    rules: [failed]\n    group-by: [client.ipAddress]\n    timespan: 30m\n    condition:\n        field: actor.alternateId\n        gte: 4\nlevel: high\n{FAILED}"
    );
    let rules = load(&yaml);
    let same_user: Vec<Value> = (0..8)
        .map(|index| {
            sign_in(
                &format!("s{index}"),
                "jdoe@example.com",
                "203.0.113.9",
                index,
                "FAILURE",
            )
        })
        .collect();
    assert!(run(&rules, &same_user).is_empty());

    let many_users: Vec<Value> = (0..4)
        .map(|index| {
            sign_in(
                &format!("m{index}"),
                &format!("user{index}@example.com"),
                "203.0.113.9",
                index,
                "FAILURE",
            )
        })
        .collect();
    let alerts = run(&rules, &many_users);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].ip.as_deref(), Some("203.0.113.9"));
    assert_eq!(alerts[0].user, None);
}

#[test]
fn temporal_ordered_needs_order() {
    let yaml = format!(
        "title: Then success\nname: then-success\ncorrelation:\n    type: temporal_ordered\n    rules: [failed, succeeded]\n    group-by: [actor.alternateId]\n    timespan: 10m\nlevel: high\n{FAILED}---\ntitle: Success\nname: succeeded\nlogsource:\n    product: okta\ndetection:\n    selection:\n        eventType: user.session.start\n        outcome.result: SUCCESS\n    condition: selection\n"
    );
    let rules = load(&yaml);
    let success_first = [
        sign_in("a", "jdoe@example.com", "203.0.113.9", 0, "SUCCESS"),
        sign_in("b", "jdoe@example.com", "203.0.113.9", 1, "FAILURE"),
    ];
    assert!(run(&rules, &success_first).is_empty());
    let failure_first = [
        sign_in("a", "jdoe@example.com", "203.0.113.9", 0, "FAILURE"),
        sign_in("b", "jdoe@example.com", "203.0.113.9", 1, "SUCCESS"),
    ];
    assert_eq!(run(&rules, &failure_first).len(), 1);
    let too_late = [
        sign_in("a", "jdoe@example.com", "203.0.113.9", 0, "FAILURE"),
        sign_in("b", "jdoe@example.com", "203.0.113.9", 30, "SUCCESS"),
    ];
    assert!(run(&rules, &too_late).is_empty());
}

#[test]
fn allow_list_and_system_actor_skipped() {
    let rules = RuleSet::builtin().unwrap();
    let events: Vec<Value> = (0..12)
        .map(|index| {
            sign_in(
                &format!("f{index}"),
                &format!("user{index}@example.com"),
                "203.0.113.9",
                index,
                "FAILURE",
            )
        })
        .collect();
    let alerts = run(&rules, &events);
    assert!(
        alerts.iter().any(|alert| alert.rule == "password-spray"),
        "{alerts:#?}"
    );

    let settings: Settings =
        toml_settings("[rules.password-spray.allow]\nips = [\"203.0.113.0/24\"]\n");
    let parsed: Vec<Event> = events
        .iter()
        .map(|value| Event::from_value(value.clone()).unwrap())
        .collect();
    let allowed = rules.detector(settings).unwrap().run(&parsed);
    assert!(
        allowed.iter().all(|alert| alert.rule != "password-spray"),
        "{allowed:#?}"
    );

    let system: Vec<Value> = (0..12)
        .map(|index| {
            let mut event = sign_in(
                &format!("y{index}"),
                "system@okta.com",
                "203.0.113.9",
                index,
                "FAILURE",
            );
            event["actor"]["type"] = json!("SystemPrincipal");
            event
        })
        .collect();
    assert!(run(&rules, &system).is_empty());
}

fn toml_settings(text: &str) -> Settings {
    let value: Value = toml_to_json(text);
    serde_json::from_value(value).unwrap()
}

/// Converts the small TOML subset the tests use through the `toml` crate's
/// JSON-compatible data model.
fn toml_to_json(text: &str) -> Value {
    let table: toml::Table = text.parse().unwrap();
    serde_json::to_value(table).unwrap()
}

#[test]
fn builtin_and_sigmahq_rules_load() {
    let builtin = RuleSet::builtin().unwrap().list();
    for id in [
        "password-spray",
        "failures-then-success",
        "mfa-push-fatigue",
        "impossible-travel",
        "admin-privilege-grant",
    ] {
        assert!(builtin.iter().any(|rule| rule.id == id), "{id} missing");
    }
    let _ = base_time();
}

/// Every file of the SigmaHQ folder loads unmodified, as a file and as
/// part of the embedded set, and yields a rule named after the file.
#[test]
fn every_sigmahq_file_loads() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/sigmahq");
    let mut files: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "yml"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 22);

    let embedded = RuleSet::sigmahq().unwrap().list();
    for file in &files {
        let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
        let loaded = RuleSet::load_file(file).unwrap_or_else(|error| panic!("{error}"));
        assert!(loaded.skipped.is_empty(), "{stem} skipped");
        let rules = loaded.list();
        assert!(
            rules.iter().any(|rule| rule.id == stem),
            "{stem}: {rules:?}"
        );
        assert!(
            embedded.iter().any(|rule| rule.id == stem),
            "{stem} not embedded"
        );
    }
    let whole_folder = RuleSet::load_dir(&folder).unwrap().list();
    assert_eq!(whole_folder.len(), embedded.len());
}

fn push(uuid: &str, login: &str, minutes: i64) -> Value {
    let published = base_time() + chrono::Duration::minutes(minutes);
    json!({
        "uuid": uuid,
        "published": idaudit_store::format_time(published),
        "eventType": "system.push.send_factor_verify_push",
        "actor": {"id": "00u1", "type": "User", "alternateId": login},
        "client": {"ipAddress": "198.51.100.4"},
        "outcome": {"result": "SUCCESS"}
    })
}

/// `okta_mfa_fatigue.yml` says `count(actor.alternateid) by eventtype > 20`
/// within 10 minutes: more than twenty distinct users sent pushes.
#[test]
fn sigma_1_aggregation_counts_distinct_values() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/sigmahq/okta_mfa_fatigue.yml");
    let rules = RuleSet::load_file(&file).unwrap();
    let kinds: Vec<(String, String)> = rules
        .list()
        .into_iter()
        .map(|rule| (rule.id, rule.kind))
        .collect();
    assert!(kinds.contains(&("okta_mfa_fatigue".to_string(), "correlation".to_string())));

    let twenty: Vec<Value> = (0..20)
        .map(|index| push(&format!("a{index}"), &format!("user{index}@example.com"), 0))
        .collect();
    assert!(run(&rules, &twenty).is_empty());

    let one_user_many_pushes: Vec<Value> = (0..40)
        .map(|index| push(&format!("b{index}"), "jdoe@example.com", 0))
        .collect();
    assert!(run(&rules, &one_user_many_pushes).is_empty());

    let mut spread_out = twenty.clone();
    spread_out.push(push("late", "user20@example.com", 11));
    assert!(run(&rules, &spread_out).is_empty());

    let mut twenty_one = twenty;
    twenty_one.push(push("a20", "user20@example.com", 9));
    let alerts = run(&rules, &twenty_one);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].rule, "okta_mfa_fatigue");
    assert_eq!(alerts[0].severity, "low");
    assert_eq!(alerts[0].count, 21);
}

#[test]
fn aggregation_without_timeframe_rejected() {
    let yaml = detection(
        "    selection:\n        eventType: system.push.send_factor_verify_push",
        "selection | count() by actor.alternateId > 5",
    );
    let message = load_error(&yaml);
    assert!(message.contains("timeframe"), "{message}");

    let yaml = detection(
        "    selection:\n        eventType: system.push.send_factor_verify_push\n    timeframe: 5m",
        "selection | avg(bytes) by actor.alternateId > 5",
    );
    let message = load_error(&yaml);
    assert!(message.contains("`avg`"), "{message}");
}

/// Returns how many alerts each rule id raised.
fn alerts_per_rule(alerts: &[idaudit_store::Alert]) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for alert in alerts {
        *counts.entry(alert.rule.clone()).or_insert(0) += 1;
    }
    counts
}

/// Two rules with the same selection, and a third that reaches it through
/// `not`, so it is evaluated outside the `eventType` index. The engine
/// evaluates the shared conditions once per event.
const SHARED: &str = "title: First\nname: first\ndetection:\n    selection:\n        eventType: user.session.start\n        outcome.result: FAILURE\n    condition: selection\n---\ntitle: Second\nname: second\ndetection:\n    failed:\n        outcome.result: FAILURE\n        eventType: user.session.start\n    condition: failed\n---\ntitle: Not failed\nname: not-failed\ndetection:\n    failed:\n        eventType: user.session.start\n        outcome.result: FAILURE\n    condition: not failed\n";

#[test]
fn shared_selection_matches_every_rule() {
    let rules = load(SHARED);
    let failure = sign_in("a", "jdoe@example.com", "203.0.113.9", 0, "FAILURE");
    let alerts = run(&rules, &[failure]);
    let counts = alerts_per_rule(&alerts);
    assert_eq!(counts.get("first"), Some(&1), "{alerts:#?}");
    assert_eq!(counts.get("second"), Some(&1), "{alerts:#?}");
    assert_eq!(counts.get("not-failed"), None, "{alerts:#?}");
}

#[test]
fn shared_selection_fails_every_rule() {
    let rules = load(SHARED);
    let success = sign_in("a", "jdoe@example.com", "203.0.113.9", 0, "SUCCESS");
    let alerts = run(&rules, &[success]);
    let counts = alerts_per_rule(&alerts);
    assert_eq!(counts.get("first"), None, "{alerts:#?}");
    assert_eq!(counts.get("second"), None, "{alerts:#?}");
    assert_eq!(counts.get("not-failed"), Some(&1), "{alerts:#?}");
}

/// A result stored for one event must not be read for the next one: the
/// shared condition flips from true to false and back between events.
#[test]
fn shared_selection_result_per_event() {
    let rules = load(SHARED);
    let events = [
        sign_in("a", "ann@example.com", "203.0.113.1", 0, "FAILURE"),
        sign_in("b", "bob@example.com", "203.0.113.2", 1, "SUCCESS"),
        sign_in("c", "cat@example.com", "203.0.113.3", 2, "FAILURE"),
        grant_event(),
    ];
    let alerts = run(&rules, &events);
    let raised: Vec<(String, String)> = alerts
        .iter()
        .map(|alert| (alert.rule.clone(), alert.evidence.join(",")))
        .collect();
    let expected: Vec<(String, String)> = [
        ("first", "a"),
        ("second", "a"),
        ("not-failed", "b"),
        ("first", "c"),
        ("second", "c"),
        ("not-failed", "g1"),
    ]
    .iter()
    .map(|(rule, uuid)| (rule.to_string(), uuid.to_string()))
    .collect();
    let mut raised_sorted = raised.clone();
    raised_sorted.sort();
    let mut expected_sorted = expected.clone();
    expected_sorted.sort();
    assert_eq!(raised_sorted, expected_sorted, "{raised:?}");
}

#[test]
fn event_type_path_any_case() {
    for field in ["eventType", "eventtype", "EventType", "EVENTTYPE"] {
        let rules = load_selection(&format!("        {field}: user.account.privilege.grant"));
        let alerts = run(
            &rules,
            &[
                grant_event(),
                sign_in("s", "ann@example.com", "203.0.113.1", 1, "SUCCESS"),
            ],
        );
        assert_eq!(alerts.len(), 1, "{field}");
        assert_eq!(alerts[0].evidence, ["g1"], "{field}");
    }
}

/// An `eventType` condition reads the top-level `eventType` key that the
/// event is recognised by, even when another key differs from it only in
/// case.
#[test]
fn event_type_reads_okta_key() {
    let mut event = grant_event();
    event["eventtype"] = json!("user.session.start");
    event["EventType"] = json!("user.session.start");
    for field in ["eventType", "eventtype", "EventType"] {
        let rules = load_selection(&format!("        {field}: user.account.privilege.grant"));
        assert_eq!(run(&rules, &[event.clone()]).len(), 1, "{field}");
        let rules = load_selection(&format!("        {field}|contains: session"));
        assert_eq!(run(&rules, &[event.clone()]).len(), 0, "{field}|contains");
    }
}

#[test]
fn event_type_modifiers_match() {
    const GRANT: &[&str] = &["g1"];
    const SESSIONS: &[&str] = &["s1", "s2"];
    const ALL: &[&str] = &["s1", "g1", "s2"];
    const NONE: &[&str] = &[];
    let cases = [
        ("eventType|contains: privilege", GRANT),
        ("eventType|contains: PRIVILEGE", GRANT),
        ("eventType|contains: session", SESSIONS),
        ("eventType|contains: revoke", NONE),
        ("eventType|startswith: user.account", GRANT),
        ("eventType|startswith: user.", ALL),
        ("eventType|endswith: .grant", GRANT),
        ("eventType|endswith: .revoke", NONE),
        ("eventType: 'user.account.*'", GRANT),
        ("eventType: 'user.session.*'", SESSIONS),
        (
            "eventType|re: '^user\\.account\\.privilege\\.(grant|revoke)$'",
            GRANT,
        ),
        ("eventType|re: '^USER\\.'", NONE),
        ("eventType|re|i: '^USER\\.'", ALL),
        ("eventType|cased: user.account.privilege.grant", GRANT),
        ("eventType|cased: USER.ACCOUNT.PRIVILEGE.GRANT", NONE),
        ("eventType|contains|cased: Privilege", NONE),
        (
            "eventType|contains|all:\n            - account\n            - grant",
            GRANT,
        ),
        (
            "eventType|contains|all:\n            - account\n            - revoke",
            NONE,
        ),
        (
            "eventType|contains|all:\n            - user\n            - s",
            ALL,
        ),
        (
            "eventType:\n            - user.session.start\n            - user.account.privilege.grant",
            ALL,
        ),
        ("eventType|exists: true", ALL),
        ("eventType|exists: false", NONE),
        ("eventType: null", NONE),
        ("eventType|gt: 1", NONE),
        ("eventType|cidr: 10.0.0.0/8", NONE),
    ];
    for (selection, expected) in cases {
        let rules = load_selection(&format!("        {selection}"));
        let events = [
            sign_in("s1", "ann@example.com", "203.0.113.1", -2, "SUCCESS"),
            grant_event(),
            sign_in("s2", "bob@example.com", "203.0.113.2", 2, "FAILURE"),
        ];
        let alerts = run(&rules, &events);
        let raised: Vec<&str> = alerts
            .iter()
            .flat_map(|alert| alert.evidence.iter().map(String::as_str))
            .collect();
        assert_eq!(raised, expected, "{selection}");
    }
}
