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

/// A store with two joiners of Engineering activated a day ago: `ana` is
/// in the Engineering group, `ben` is not and has a formula as first name.
fn joiner_store(folder: &std::path::Path) -> std::path::PathBuf {
    use idaudit_store::{DirectorySnapshot, GroupRow, Membership, UserRow};

    let path = folder.join("idaudit.db");
    let mut store = Store::open(&path).unwrap();
    let activated = idaudit_store::format_time(chrono::Utc::now() - chrono::Duration::days(1));
    let user = |id: &str, first_name: &str| UserRow {
        id: id.to_string(),
        status: "ACTIVE".to_string(),
        login: format!("{id}@example.com"),
        first_name: Some(first_name.to_string()),
        department: Some("Engineering".to_string()),
        created: Some(activated.clone()),
        raw: serde_json::json!({
            "activated": activated,
            "profile": {"department": "Engineering", "firstName": first_name},
        })
        .to_string(),
        ..UserRow::default()
    };
    let snapshot = DirectorySnapshot {
        users: vec![user("ana", "Ana"), user("ben", "=HYPERLINK(\"x\")")],
        groups: vec![GroupRow {
            id: "00geng".to_string(),
            group_type: "OKTA_GROUP".to_string(),
            name: "Engineering".to_string(),
            raw: "{}".to_string(),
            ..GroupRow::default()
        }],
        memberships: vec![Membership {
            group_id: "00geng".to_string(),
            user_id: "ana".to_string(),
        }],
        ..DirectorySnapshot::default()
    };
    store.replace_directory("org", &snapshot).unwrap();
    path
}

fn idaudit(store: &std::path::Path) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_idaudit"));
    command
        .arg("--store")
        .arg(store)
        .env_remove("IDAUDIT_CONFIG")
        .env_remove("IDAUDIT_STORE")
        .env_remove("IDAUDIT_OKTA_ORG_URL")
        .env("NO_COLOR", "1");
    command
}

#[test]
fn audit_joiners_command_formats() {
    let folder = tempfile::tempdir().unwrap();
    let store = joiner_store(folder.path());
    let policy = folder.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[[birthright]]\nname = \"Engineering\"\nwhen = 'user.department == \"Engineering\"'\ngroups = [\"Engineering\"]\n",
    )
    .unwrap();
    let run = |format: &str| {
        let output = idaudit(&store)
            .args([
                "audit", "joiners", "--since", "7d", "--format", format, "--policy",
            ])
            .arg(&policy)
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    };

    let json: serde_json::Value = serde_json::from_slice(&run("json")).unwrap();
    assert_eq!(json["audit"], "joiners");
    let people = json["people"].as_array().unwrap();
    assert_eq!(people.len(), 2, "{json}");
    let ben = people
        .iter()
        .find(|person| person["user"]["id"] == "ben")
        .unwrap();
    assert_eq!(ben["violations"][0]["violation"], "missing-birthright");
    let ana = people
        .iter()
        .find(|person| person["user"]["id"] == "ana")
        .unwrap();
    assert!(ana["violations"].as_array().unwrap().is_empty(), "{ana}");

    let csv = String::from_utf8(run("csv")).unwrap();
    assert!(csv.contains("'=HYPERLINK"), "{csv}");
    assert!(!csv.contains(",=HYPERLINK"), "{csv}");
    let html = String::from_utf8(run("html")).unwrap();
    assert!(html.contains("missing-birthright"));
    assert!(run("xlsx").starts_with(b"PK"), "not a zip container");
    let table = String::from_utf8(run("table")).unwrap();
    assert!(table.contains("Joiners since"), "{table}");

    let out = folder.path().join("out");
    let output = idaudit(&store)
        .args(["audit", "joiners", "--policy"])
        .arg(&policy)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    for name in [
        "joiners.html",
        "joiners.xlsx",
        "joiners.csv",
        "joiners.json",
    ] {
        assert!(out.join(name).is_file(), "{name} missing");
    }
}

#[test]
fn audit_policy_errors_reported() {
    let folder = tempfile::tempdir().unwrap();
    let store = joiner_store(folder.path());
    let policy = folder.path().join("bad.toml");
    std::fs::write(
        &policy,
        "[[birthright]]\nname = \"Contractors\"\nwhen = 'String.matches(user.email, \"x\")'\ngroups = [\"Engineering\"]\n",
    )
    .unwrap();
    let output = idaudit(&store)
        .args(["audit", "movers", "--policy"])
        .arg(&policy)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("`Contractors`"), "{stderr}");
    assert!(stderr.contains("`String.matches`"), "{stderr}");

    let missing = idaudit(&store).args(["audit", "joiners"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert_ne!(missing.status.code(), Some(0));
    assert!(stderr.contains("--policy"), "{stderr}");
}

#[test]
fn audit_posture_html_and_xlsx() {
    let folder = tempfile::tempdir().unwrap();
    let store = joiner_store(folder.path());
    for (format, starts) in [
        ("html", b"<!DOCTYPE".as_slice()),
        ("xlsx", b"PK".as_slice()),
    ] {
        let output = idaudit(&store)
            .args(["audit", "posture", "--format", format])
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(output.stdout.starts_with(starts), "{format}");
    }
}
