//! A whole access review against the simulator, through the `idaudit`
//! binary: sync, start, export, decisions written into the workbook,
//! decide, remediate (dry run, then applied), sync, close and verify.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output};

use calamine::{Data, Reader, Xlsx, open_workbook};
use idaudit_okta_sim::{GroupType, Org, OrgSpec, RateLimits, RunningSim, SimOptions};

/// The org state a revocation changes: (group, user) memberships and
/// (app, user) direct assignments.
type AccessState = (BTreeSet<(String, String)>, BTreeSet<(String, String)>);

fn access_state(org: &Org) -> AccessState {
    let memberships = org
        .memberships
        .iter()
        .flat_map(|(group, users)| users.iter().map(|user| (group.clone(), user.clone())))
        .collect();
    let direct = org
        .app_user_assignments
        .iter()
        .flat_map(|(app, users)| users.iter().map(|user| (app.clone(), user.clone())))
        .collect();
    (memberships, direct)
}

fn sim_state(sim: &RunningSim) -> AccessState {
    let org = sim.org();
    let org = org.read().unwrap();
    access_state(&org)
}

/// Runs `idaudit` with the store in `folder` and the simulator as the org.
fn idaudit(folder: &Path, sim: &RunningSim, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_idaudit"))
        .current_dir(folder)
        .arg("--store")
        .arg(folder.join("idaudit.db"))
        .args(args)
        .env_remove("IDAUDIT_CONFIG")
        .env_remove("IDAUDIT_STORE")
        .env_remove("IDAUDIT_OKTA_SCOPES")
        .env_remove("IDAUDIT_OKTA_API_TOKEN")
        .env_remove("IDAUDIT_OKTA_CLIENT_SECRET")
        .env("HOME", folder)
        .env("IDAUDIT_OKTA_ORG_URL", &sim.base_url)
        .env("IDAUDIT_OKTA_CLIENT_ID", &sim.client_id)
        .env("IDAUDIT_OKTA_PRIVATE_KEY", &sim.private_key_pem)
        .env("IDAUDIT_OKTA_KEY_ID", &sim.key_id)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn assert_success(output: &Output, what: &str) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{what} failed: {stderr}");
    String::from_utf8(output.stdout.clone()).unwrap()
}

async fn start_sim() -> RunningSim {
    let spec = OrgSpec {
        seed: 11,
        users: 150,
        groups: 24,
        apps: 8,
        log_days: 2,
        ..OrgSpec::default()
    };
    let mut scopes: Vec<String> = idaudit_okta_sim::DEFAULT_SCOPES
        .iter()
        .map(|scope| scope.to_string())
        .collect();
    scopes.extend([
        "okta.groups.manage".to_string(),
        "okta.apps.manage".to_string(),
    ]);
    let options = SimOptions {
        rate_limits: RateLimits::Off,
        scopes,
        ..SimOptions::default()
    };
    idaudit_okta_sim::serve(idaudit_okta_sim::generate(&spec), options)
        .await
        .unwrap()
}

/// A workbook row chosen for a decision: its sheet, row, item, user and app.
#[derive(Clone, Debug)]
struct Chosen {
    sheet: String,
    row: usize,
    user_id: String,
    app_id: String,
    group_id: Option<String>,
}

/// Picks a direct assignment and an assignment through one group to revoke,
/// both of active users, whose revocation touches nothing else that the
/// test cannot predict: the direct user has no group path to the app, and
/// the group is an Okta group that no rule fills.
fn choose_revocations(org: &Org, sheets: &BTreeMap<String, Vec<Vec<Data>>>) -> Vec<Chosen> {
    let login_to_id: BTreeMap<String, String> = org
        .users
        .iter()
        .filter(|user| user.status == idaudit_okta_sim::UserStatus::Active)
        .map(|user| (user.profile.login.clone(), user.id.clone()))
        .collect();
    let app_by_label: BTreeMap<&str, &str> = org
        .apps
        .iter()
        .map(|app| (app.label.as_str(), app.id.as_str()))
        .collect();
    let ruled: BTreeSet<&str> = org
        .group_rules
        .iter()
        .flat_map(|rule| rule.group_ids.iter().map(String::as_str))
        .collect();
    let mut direct = None;
    let mut through_group = None;
    for (sheet, rows) in sheets {
        for (index, row) in rows.iter().enumerate().skip(1) {
            let text = |column: usize| row[column].to_string();
            let Some(user_id) = login_to_id.get(&text(1)) else {
                continue;
            };
            let app_id = app_by_label[text(4).as_str()].to_string();
            let groups_of_app = org.app_group_assignments.get(&app_id);
            let user_groups: Vec<&String> = groups_of_app
                .into_iter()
                .flatten()
                .filter(|group| {
                    org.memberships
                        .get(*group)
                        .is_some_and(|members| members.contains(user_id))
                })
                .collect();
            let directly = org
                .app_user_assignments
                .get(&app_id)
                .is_some_and(|users| users.contains(user_id));
            let chosen = Chosen {
                sheet: sheet.clone(),
                row: index,
                user_id: user_id.clone(),
                app_id: app_id.clone(),
                group_id: None,
            };
            if direct.is_none() && text(5) == "direct" && directly && user_groups.is_empty() {
                direct = Some(chosen);
            } else if through_group.is_none()
                && text(5) == "group"
                && !directly
                && user_groups.len() == 1
                && org.group(user_groups[0]).unwrap().group_type == GroupType::OktaGroup
                && !ruled.contains(user_groups[0].as_str())
                && direct
                    .as_ref()
                    .is_none_or(|other| other.user_id != *user_id)
            {
                through_group = Some(Chosen {
                    group_id: Some(user_groups[0].clone()),
                    ..chosen
                });
            }
        }
    }
    vec![
        direct.expect("no direct assignment to revoke"),
        through_group.expect("no group assignment to revoke"),
    ]
}

fn read_sheets(path: &Path) -> BTreeMap<String, Vec<Vec<Data>>> {
    let mut workbook: Xlsx<_> = open_workbook(path).unwrap();
    let mut sheets = BTreeMap::new();
    for name in workbook.sheet_names() {
        let range = workbook.worksheet_range(&name).unwrap();
        sheets.insert(name, range.rows().map(|row| row.to_vec()).collect());
    }
    sheets
}

/// Writes a new workbook with the same sheets, in the same order, and the
/// given decisions in the last column, as a reviewer's spreadsheet would.
fn write_decisions(source: &Path, target: &Path, decisions: &BTreeMap<(String, usize), &str>) {
    let mut reader: Xlsx<_> = open_workbook(source).unwrap();
    let mut workbook = rust_xlsxwriter::Workbook::new();
    for name in reader.sheet_names() {
        let range = reader.worksheet_range(&name).unwrap();
        let sheet = workbook.add_worksheet();
        sheet.set_name(&name).unwrap();
        for (row_index, row) in range.rows().enumerate() {
            for (column, cell) in row.iter().enumerate() {
                let (row_number, column) = (row_index as u32, column as u16);
                match cell {
                    Data::Float(number) => sheet.write_number(row_number, column, *number),
                    Data::Empty => continue,
                    other => sheet.write_string(row_number, column, other.to_string()),
                }
                .unwrap();
            }
            if let Some(decision) = decisions.get(&(name.clone(), row_index)) {
                let column = idaudit_review::SHEET_HEADER.len() as u16 - 1;
                sheet
                    .write_string(row_index as u32, column, *decision)
                    .unwrap();
            }
        }
    }
    workbook.save(target).unwrap();
}

fn flip_byte(path: &Path, offset: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    let index = offset.min(bytes.len() - 1);
    bytes[index] ^= 0x01;
    std::fs::write(path, bytes).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaign_end_to_end_on_simulator() {
    let folder = tempfile::tempdir().unwrap();
    let folder = folder.path();
    let sim = start_sim().await;
    let before = sim_state(&sim);

    let sim_ref = &sim;
    let run = move |args: &[&str]| idaudit(folder, sim_ref, args);
    assert_success(&run(&["sync"]), "sync");
    let campaign = assert_success(&run(&["review", "start", "--name", "Q4"]), "start");
    assert_eq!(campaign.trim(), "1");
    assert_success(&run(&["review", "export", "--out", "packages"]), "export");

    // The test plays the reviewers: two revocations and one keep.
    let workbook = folder.join("packages/campaign-1.xlsx");
    let sheets = read_sheets(&workbook);
    let chosen = {
        let org = sim.org();
        let org = org.read().unwrap();
        choose_revocations(&org, &sheets)
    };
    let mut decisions: BTreeMap<(String, usize), &str> = chosen
        .iter()
        .map(|chosen| ((chosen.sheet.clone(), chosen.row), "revoke"))
        .collect();
    let (keep_sheet, _) = sheets.iter().find(|(name, _)| *name != "Overview").unwrap();
    decisions.entry((keep_sheet.clone(), 1)).or_insert("keep");
    let edited = folder.join("decisions.xlsx");
    write_decisions(&workbook, &edited, &decisions);
    let decide = run(&["review", "decide", "--file", edited.to_str().unwrap()]);
    assert_success(&decide, "decide");

    // A dry run plans both steps and changes nothing.
    let plan = assert_success(&run(&["review", "remediate", "--format", "json"]), "plan");
    let steps: Vec<serde_json::Value> = plan
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(steps.len(), 2, "{plan}");
    assert!(
        steps.iter().all(|step| step["status"] == "planned"),
        "{plan}"
    );
    assert_eq!(sim_state(&sim), before, "the dry run changed the org");

    let applied = run(&["review", "remediate", "--apply", "--format", "json"]);
    let applied = assert_success(&applied, "remediate --apply");
    assert_eq!(
        applied.matches("\"status\":\"verified\"").count(),
        2,
        "{applied}"
    );

    // The simulator lost exactly the decided access.
    let (mut memberships, mut direct) = before.clone();
    for revoked in &chosen {
        match &revoked.group_id {
            Some(group) => assert!(memberships.remove(&(group.clone(), revoked.user_id.clone()))),
            None => assert!(direct.remove(&(revoked.app_id.clone(), revoked.user_id.clone()))),
        }
    }
    assert_eq!(sim_state(&sim), (memberships, direct));

    assert_success(&run(&["sync"]), "sync after remediation");
    let root = assert_success(&run(&["review", "close", "--out", "audit"]), "close");
    let root = root.trim().to_string();
    assert_eq!(root.len(), 64, "{root}");

    let package = folder.join("audit/campaign-1-audit");
    let zip = folder.join("audit/campaign-1-audit.zip");
    let mut items = csv::Reader::from_path(package.join("items.csv")).unwrap();
    let decision_column = items
        .headers()
        .unwrap()
        .iter()
        .position(|name| name == "decision");
    let decided: Vec<String> = items
        .records()
        .map(|record| record.unwrap()[decision_column.unwrap()].to_string())
        .filter(|decision| !decision.is_empty())
        .collect();
    assert_eq!(
        decided
            .iter()
            .filter(|decision| *decision == "revoke")
            .count(),
        2
    );
    assert_eq!(decided.len(), decisions.len(), "{decided:?}");
    let completion = std::fs::read_to_string(package.join("completion-snapshot.csv")).unwrap();
    assert_eq!(
        completion.matches(",removed,revoke").count(),
        2,
        "{completion}"
    );
    let proof = std::fs::read_to_string(package.join("remediation.json")).unwrap();
    assert_eq!(proof.matches("\"request_id\"").count(), 2, "{proof}");

    for path in [&package, &zip] {
        let verified = run(&["review", "verify", path.to_str().unwrap()]);
        assert_eq!(assert_success(&verified, "verify").trim(), root);
    }

    // One changed byte anywhere in the package fails verification.
    let tampered_zip = folder.join("audit/tampered.zip");
    std::fs::copy(&zip, &tampered_zip).unwrap();
    flip_byte(&tampered_zip, 200);
    let output = run(&["review", "verify", tampered_zip.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "a changed zip passed");

    flip_byte(&package.join("items.csv"), 40);
    let output = run(&["review", "verify", package.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("`items.csv` was changed"), "{stderr}");

    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_owner_reviewer_from_config() {
    let folder = tempfile::tempdir().unwrap();
    let folder = folder.path();
    let sim = start_sim().await;
    let sim_ref = &sim;
    let run = move |args: &[&str]| idaudit(folder, sim_ref, args);
    assert_success(&run(&["sync"]), "sync");

    // Without `[review.app_owners]` the rule has no reviewer to route items to.
    let start = [
        "review",
        "start",
        "--name",
        "Apps",
        "--reviewer",
        "app-owner",
    ];
    let output = run(&start);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_ne!(output.status.code(), Some(0), "started without owners");
    assert!(stderr.contains("[review.app_owners]"), "{stderr}");

    // One app named by its label in another case, one by its id.
    let (by_label, by_id) = {
        let org = sim.org();
        let org = org.read().unwrap();
        let mut assigned = org
            .apps
            .iter()
            .filter(|app| {
                org.app_user_assignments
                    .get(&app.id)
                    .is_some_and(|users| !users.is_empty())
            })
            .map(|app| (app.id.clone(), app.label.clone()));
        (assigned.next().unwrap(), assigned.next().unwrap())
    };
    let config = format!(
        "[review.app_owners]\n{:?} = \"label-owner@example.com\"\n{:?} = \"id-owner@example.com\"\n",
        by_label.1.to_uppercase(),
        by_id.0
    );
    std::fs::write(folder.join("idaudit.toml"), config).unwrap();
    assert_success(&run(&start), "start --reviewer app-owner");
    assert_success(&run(&["review", "export", "--out", "packages"]), "export");

    let json = std::fs::read_to_string(folder.join("packages/campaign.json")).unwrap();
    let campaign: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(campaign["campaign"]["scope"]["reviewer"], "app-owner");
    let items = campaign["items"].as_array().unwrap();
    let mut reviewers = BTreeSet::new();
    for item in items {
        let expected = if item["app_id"] == by_label.0.as_str() {
            "label-owner@example.com"
        } else if item["app_id"] == by_id.0.as_str() {
            "id-owner@example.com"
        } else {
            idaudit_review::FALLBACK_REVIEWER
        };
        assert_eq!(item["reviewer_login"], expected, "{item}");
        reviewers.insert(expected);
    }
    assert!(
        reviewers.contains("label-owner@example.com"),
        "{reviewers:?}"
    );
    assert!(reviewers.contains("id-owner@example.com"), "{reviewers:?}");
    for reviewer in &reviewers {
        assert!(
            folder.join(format!("packages/{reviewer}.html")).exists(),
            "no package for {reviewer}"
        );
    }

    sim.shutdown().await;
}
