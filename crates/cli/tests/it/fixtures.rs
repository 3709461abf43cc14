use idaudit_collect::import::{ImportSummary, import_path};
use idaudit_store::{Alert, Store};

use crate::{fixtures_dir, temp_store};

fn import(store: &mut Store, relative: &str) -> ImportSummary {
    import_path(store, "fixtures", &fixtures_dir().join(relative)).unwrap()
}

fn detect(store: &Store) -> Vec<Alert> {
    let mut rules = idaudit_detect::rules::builtin();
    idaudit_detect::detect(store, &mut rules, None, None)
        .unwrap()
        .alerts
}

#[test]
fn cribl_capture_imports_all_events() {
    let (_folder, mut store) = temp_store();
    let summary = import(&mut store, "cribl-okta-rest/I4942I.json");
    assert_eq!(summary.records, 100);
    assert_eq!(summary.stored.inserted, 100);
    assert!(summary.rejected.is_empty(), "{:?}", summary.rejected);
    assert_eq!(store.count_events().unwrap(), 100);
}

#[test]
fn cribl_super_admin_grant_alerted() {
    let (_folder, mut store) = temp_store();
    import(&mut store, "cribl-okta-rest/I4942I.json");
    let alerts = detect(&store);

    let grants: Vec<&Alert> = alerts
        .iter()
        .filter(|alert| alert.rule == "admin-privilege-grant")
        .collect();
    assert_eq!(grants.len(), 1, "{alerts:#?}");
    assert_eq!(grants[0].user.as_deref(), Some("jdoe@acme.com"));
    assert_eq!(grants[0].details["privilege"], "Super administrator");
    assert_eq!(grants[0].severity, "critical");
    assert_eq!(
        grants[0].evidence,
        vec!["c2d6cda1-6641-11f0-b8ab-e7cc1dd1a43e"]
    );
}

#[test]
fn panther_storyline_raises_both_alerts() {
    let (_folder, mut store) = temp_store();
    for file in [
        "legit_login",
        "brute_force_logins",
        "admin_privs_assigned",
        "new-user",
    ] {
        let summary = import(
            &mut store,
            &format!("panther-analysis/test_scenarios/okta-add-administrator/{file}.jsonl"),
        );
        assert!(
            summary.rejected.is_empty(),
            "{file}: {:?}",
            summary.rejected
        );
    }
    let alerts = detect(&store);

    let failures: Vec<&Alert> = alerts
        .iter()
        .filter(|alert| alert.rule == "failed-sign-ins-per-user")
        .collect();
    assert_eq!(failures.len(), 1, "{alerts:#?}");
    assert_eq!(
        failures[0].user.as_deref(),
        Some("jack.naglieri@runpanther.io")
    );
    assert_eq!(failures[0].count, 9);
    assert_eq!(failures[0].ip.as_deref(), Some("194.88.246.242"));

    let grants: Vec<&Alert> = alerts
        .iter()
        .filter(|alert| alert.rule == "admin-privilege-grant")
        .collect();
    assert_eq!(grants.len(), 1, "{alerts:#?}");
    assert_eq!(
        grants[0].details["privilege"],
        "Organization administrator, Application administrator (all)"
    );
    assert_eq!(grants[0].user.as_deref(), Some("thomas12223391@gmail.com"));
    assert_eq!(grants[0].details["actor"], "jack.naglieri@runpanther.io");
}

#[test]
fn panther_shared_uuids_stored_once() {
    let (_folder, mut store) = temp_store();
    let summary = import(
        &mut store,
        "panther-analysis/test_scenarios/okta-add-administrator/legit_login.jsonl",
    );
    assert_eq!(summary.records, 5);
    assert_eq!(summary.stored.inserted, 1);
    assert_eq!(summary.stored.duplicates, 4);
}

#[test]
fn panther_rule_events_rejected_with_reasons() {
    let (_folder, mut store) = temp_store();
    let mut records = 0;
    let mut rejected = Vec::new();
    for folder in ["okta_rules", "standard_rules"] {
        let mut files: Vec<_> =
            std::fs::read_dir(fixtures_dir().join("panther-analysis/rules").join(folder))
                .unwrap()
                .map(|entry| entry.unwrap().path())
                .collect();
        files.sort();
        for path in files {
            let summary = import_path(&mut store, "fixtures", &path).unwrap();
            records += summary.records;
            rejected.extend(summary.rejected);
        }
    }

    assert_eq!(records, 86);
    let lower_cased = rejected
        .iter()
        .filter(|rejection| rejection.reason.contains("instead of Okta's"))
        .count();
    assert_eq!(lower_cased, 45, "{rejected:#?}");
    assert!(
        rejected
            .iter()
            .any(|rejection| rejection.reason.contains("`published`"))
    );
    assert!(
        rejected
            .iter()
            .all(|rejection| rejection.source.ends_with(".jsonl"))
    );
    // Every record is either stored (new or duplicate) or rejected.
    let stored = store.count_events().unwrap();
    assert!(stored > 0);
    assert!(stored + rejected.len() as u64 <= records);
}
