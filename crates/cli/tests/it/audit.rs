//! The audits on a store filled by the demo from the simulator: the
//! labelled leaver keeps its direct app assignments as violations, and the
//! posture report covers every active user.

use std::time::Duration;

use idaudit::commands::demo::{DEMO_ORG, DemoOptions, run};
use idaudit_collect::NoProgress;
use idaudit_okta_sim::GroundTruth;
use idaudit_review::audit::{LeaverOptions, PostureOptions, leavers, posture};
use idaudit_store::Store;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audits_on_simulator_store() {
    let folder = tempfile::tempdir().unwrap();
    let options = DemoOptions {
        out: folder.path().join("demo"),
        seed: 11,
        users: 150,
        rate_window: Duration::from_secs(1),
    };
    let report = run(&options, &NoProgress).await.unwrap();
    let truth: GroundTruth =
        serde_json::from_slice(&std::fs::read(&report.ground_truth_file).unwrap()).unwrap();
    let leaver = truth
        .scenarios
        .iter()
        .find(|scenario| scenario.kind == "leaver_with_assignments")
        .unwrap();
    let store = Store::open(&report.store).unwrap();

    let now = chrono::Utc::now();
    let audit = leavers(
        &store,
        DEMO_ORG,
        &LeaverOptions {
            since: now - chrono::Duration::days(400),
            deadline_hours: 24,
            now,
        },
    )
    .unwrap();
    let found = audit
        .leavers
        .iter()
        .find(|candidate| candidate.user.id == leaver.user_ids[0])
        .unwrap_or_else(|| panic!("labelled leaver missing: {:#?}", audit.leavers));
    assert_eq!(found.how, "deactivated");
    for app_id in &leaver.app_ids {
        assert!(
            found.violations.iter().any(|violation| {
                violation.violation == "still-held" && &violation.access.id == app_id
            }),
            "no violation for app `{app_id}`: {:#?}",
            found.violations
        );
    }
    let users = store.users(DEMO_ORG).unwrap();
    for candidate in &audit.leavers {
        let status = &users
            .iter()
            .find(|user| user.id == candidate.user.id)
            .unwrap()
            .status;
        assert_ne!(
            status, "ACTIVE",
            "active user `{}` listed",
            candidate.user.login
        );
    }

    let posture = posture(&store, DEMO_ORG, &PostureOptions::default()).unwrap();
    let active = users
        .iter()
        .filter(|user| {
            ["ACTIVE", "RECOVERY", "PASSWORD_EXPIRED", "LOCKED_OUT"].contains(&user.status.as_str())
        })
        .count();
    assert_eq!(posture.mfa.active_users, active);
    assert_eq!(
        posture.mfa.with_factor + posture.mfa.without_factor.len(),
        active
    );
    assert!(
        posture
            .mfa
            .without_factor
            .iter()
            .all(|user| user.id != leaver.user_ids[0]),
        "a deactivated user counted in MFA coverage"
    );
    assert!(posture.sso_events_read > 0);
}
