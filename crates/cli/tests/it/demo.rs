use std::path::Path;
use std::time::Duration;

use idaudit::commands::demo::{DemoOptions, DemoReport, run};
use idaudit_collect::NoProgress;
use idaudit_okta_sim::GroundTruth;

fn scenario<'a>(truth: &'a GroundTruth, kind: &str) -> &'a idaudit_okta_sim::Scenario {
    truth
        .scenarios
        .iter()
        .find(|scenario| scenario.kind == kind)
        .unwrap_or_else(|| panic!("no `{kind}` scenario in {truth:#?}"))
}

async fn run_demo(out: &Path) -> DemoReport {
    let options = DemoOptions {
        out: out.to_path_buf(),
        seed: 7,
        users: 2000,
        rate_window: Duration::from_secs(1),
    };
    run(&options, &NoProgress).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_pipeline_on_simulator() {
    let folder = tempfile::tempdir().unwrap();
    let out = folder.path().join("demo");
    let report = run_demo(&out).await;
    let truth: GroundTruth =
        serde_json::from_slice(&std::fs::read(&report.ground_truth_file).unwrap()).unwrap();

    // The whole directory arrived, deprovisioned users included.
    assert_eq!(report.counts.users, 2000);
    assert_eq!(report.counts.groups, 150);
    assert_eq!(report.counts.apps, 40);
    assert!(report.counts.memberships > 0);
    assert!(report.counts.role_assignments > 0, "no admin roles synced");
    assert!(report.events > 10_000, "{} events", report.events);

    // The brute-force attack is reported with the attacked user and the source IP.
    let attack = scenario(&truth, "brute_force");
    let attacked = attack.user_logins[0].to_ascii_lowercase();
    let brute_force = report
        .alerts
        .iter()
        .find(|alert| {
            alert.rule == "failed-sign-ins-per-user"
                && alert.user.as_deref() == Some(attacked.as_str())
        })
        .unwrap_or_else(|| panic!("no alert for `{attacked}` in {:#?}", report.alerts));
    assert_eq!(brute_force.ip.as_deref(), Some(attack.ips[0].as_str()));

    // The leaver appears flagged in their reviewer's package.
    let leaver = &scenario(&truth, "leaver_with_assignments").user_logins[0];
    let mut flagged_rows = 0;
    for package in &report.packages {
        let mut reader = csv::Reader::from_path(&package.csv).unwrap();
        for record in reader.records() {
            let record = record.unwrap();
            if &record[2] == leaver {
                assert_eq!(&record[4], "DEPROVISIONED");
                assert!(
                    record[8].contains("deactivated-still-assigned"),
                    "{record:?}"
                );
                assert_eq!(&record[9], "revoke");
                let html = std::fs::read_to_string(&package.html).unwrap();
                assert!(html.contains(leaver.as_str()));
                flagged_rows += 1;
            }
        }
    }
    assert!(flagged_rows > 0, "leaver `{leaver}` is in no package");

    // The folder contains the store, the alerts and one CSV and HTML package per reviewer.
    assert!(report.store.exists());
    let alert_lines = std::fs::read_to_string(&report.alerts_file).unwrap();
    assert_eq!(alert_lines.lines().count(), report.alerts.len());
    let reviewers: std::collections::BTreeSet<_> = report
        .packages
        .iter()
        .map(|package| package.reviewer_login.clone())
        .collect();
    assert_eq!(reviewers.len(), report.packages.len());
    for package in &report.packages {
        assert!(package.csv.exists(), "{}", package.csv.display());
        assert!(package.html.exists(), "{}", package.html.display());
    }
    let written = std::fs::read_dir(&report.packages_dir).unwrap().count();
    // A CSV and an HTML file per reviewer, the campaign workbook and campaign.json.
    assert_eq!(written, 2 * report.packages.len() + 2);
}
