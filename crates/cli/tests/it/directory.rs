//! The directory commands (`sync`, `access`, `changes`, `doctor`) run as the
//! `idaudit` binary against simulators on loopback, with a config file that
//! names one org or several.

use std::path::PathBuf;
use std::process::{Command, Output};

use chrono::Utc;
use idaudit_okta_sim::{Faults, Org, OrgSpec, RateLimits, RunningSim, SimOptions, UserStatus};
use idaudit_store::Store;
use serde_json::Value;

/// A folder with a store and the files a config refers to.
struct Workspace {
    folder: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Workspace {
        Workspace {
            folder: tempfile::tempdir().unwrap(),
        }
    }

    fn store_path(&self) -> PathBuf {
        self.folder.path().join("idaudit.db")
    }

    fn config_path(&self) -> PathBuf {
        self.folder.path().join("idaudit.toml")
    }

    /// Writes the private key of `sim` and returns the config keys that
    /// reach it, for an `[okta]` section or an `[[orgs]]` table.
    fn org_keys(&self, key_name: &str, sim: &RunningSim) -> String {
        std::fs::write(self.folder.path().join(key_name), &sim.private_key_pem).unwrap();
        format!(
            "org_url = \"{}\"\nclient_id = \"{}\"\nprivate_key_file = \"{key_name}\"\nkey_id = \"{}\"\n",
            sim.base_url, sim.client_id, sim.key_id
        )
    }

    fn write_config(&self, text: &str) {
        std::fs::write(self.config_path(), text).unwrap();
    }

    /// Runs `idaudit` with this workspace's config and store.
    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_idaudit"))
            .arg("--config")
            .arg(self.config_path())
            .arg("--store")
            .arg(self.store_path())
            .args(args)
            .env_remove("IDAUDIT_STORE")
            .env_remove("IDAUDIT_OKTA_ORG_URL")
            .env_remove("IDAUDIT_OKTA_CLIENT_ID")
            .env_remove("IDAUDIT_OKTA_PRIVATE_KEY")
            .env_remove("IDAUDIT_OKTA_API_TOKEN")
            .env_remove("IDAUDIT_OKTA_SCOPES")
            .env_remove("OKTA_CLIENT_ORGURL")
            .env_remove("OKTA_CLIENT_TOKEN")
            .env("HOME", self.folder.path())
            .current_dir(self.folder.path())
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    }

    fn store(&self) -> Store {
        Store::open(self.store_path()).unwrap()
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_success(output: &Output) {
    assert_eq!(
        output.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        stdout(output),
        stderr(output)
    );
}

fn json_lines(output: &Output) -> Vec<Value> {
    stdout(output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Serves a small generated org without rate limits.
async fn start_sim(seed: u64, options: SimOptions) -> (Org, RunningSim) {
    let spec = OrgSpec {
        seed,
        users: 120,
        groups: 12,
        apps: 6,
        log_days: 2,
        ..OrgSpec::default()
    };
    let org = idaudit_okta_sim::generate(&spec);
    let sim = idaudit_okta_sim::serve(org.clone(), options).await.unwrap();
    (org, sim)
}

fn unlimited() -> SimOptions {
    SimOptions {
        rate_limits: RateLimits::Off,
        ..SimOptions::default()
    }
}

fn store_key(sim: &RunningSim) -> String {
    sim.base_url.trim_start_matches("http://").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_orgs_sync_into_one_store() {
    let (first_org, first) = start_sim(21, unlimited()).await;
    let (second_org, second) = start_sim(22, unlimited()).await;
    let workspace = Workspace::new();
    workspace.write_config(&format!(
        "[okta]\n{}\n[[orgs]]\nname = \"subsidiary\"\n{}",
        workspace.org_keys("first.pem", &first),
        workspace.org_keys("second.pem", &second)
    ));

    let sync = workspace.run(&["sync"]);
    assert_success(&sync);
    let messages = stderr(&sync);
    assert!(
        messages.contains(&format!("Synced `{}` (full sync", store_key(&first))),
        "{messages}"
    );
    assert!(
        messages.contains("Synced `subsidiary` (full sync"),
        "{messages}"
    );
    assert!(messages.contains("Synced 2 of 2 orgs: "), "{messages}");
    assert!(messages.contains(" rate-limited, "), "{messages}");

    let store = workspace.store();
    let mut orgs = store.orgs().unwrap();
    orgs.sort();
    let mut expected = vec![store_key(&first), store_key(&second)];
    expected.sort();
    assert_eq!(orgs, expected);
    let first_counts = store.directory_counts(&store_key(&first)).unwrap();
    assert_eq!(first_counts.users as usize, first_org.users.len());
    let second_counts = store.directory_counts(&store_key(&second)).unwrap();
    assert_eq!(second_counts.users as usize, second_org.users.len());
    assert_eq!(second_counts.groups as usize, second_org.groups.len());
    drop(store);

    // `--org` picks one org by name; the second run of that org is incremental.
    let only_second = workspace.run(&["sync", "--org", "subsidiary"]);
    assert_success(&only_second);
    let messages = stderr(&only_second);
    assert!(
        messages.contains("Synced `subsidiary` (incremental sync"),
        "{messages}"
    );
    assert!(!messages.contains(&store_key(&first)), "{messages}");

    let unknown = workspace.run(&["sync", "--org", "elsewhere"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains("Org `elsewhere` is not configured"),
        "{}",
        stderr(&unknown)
    );

    // A user of the second org is found there without `--org`.
    let login = &second_org.users[0].profile.login;
    let access = workspace.run(&["access", login, "--format", "json"]);
    assert_success(&access);
    let lines = json_lines(&access);
    assert_eq!(lines[0]["type"], "user");
    assert_eq!(lines[0]["org"], store_key(&second));

    // `doctor` checks each org, or the one named.
    let doctor = workspace.run(&["doctor", "--format", "json"]);
    assert_success(&doctor);
    let checked: std::collections::BTreeSet<String> = json_lines(&doctor)
        .iter()
        .map(|line| line["org"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(checked.len(), 2, "{checked:?}");
    assert!(checked.contains("subsidiary"));
    let doctor_one = workspace.run(&["doctor", "--org", "subsidiary"]);
    assert_success(&doctor_one);
    assert!(
        stdout(&doctor_one).starts_with("CHECK"),
        "{}",
        stdout(&doctor_one)
    );

    // An org that cannot be reached is reported, and the others still sync.
    workspace.write_config(&format!(
        "[[orgs]]\nname = \"subsidiary\"\n{}\n[[orgs]]\nname = \"unreachable\"\norg_url = \"http://127.0.0.1:9\"\napi_token_file = \"second.pem\"\n",
        workspace.org_keys("second.pem", &second)
    ));
    let partial = workspace.run(&["sync"]);
    let messages = stderr(&partial);
    assert_eq!(partial.status.code(), Some(1), "{messages}");
    assert!(
        messages.contains("Sync of `unreachable` failed"),
        "{messages}"
    );
    assert!(messages.contains("Synced `subsidiary`"), "{messages}");
    assert!(messages.contains("Synced 1 of 2 orgs: "), "{messages}");

    first.shutdown().await;
    second.shutdown().await;
}

/// Picks an active user and a group of the generated org that the user is
/// not a member of.
fn pick_joiner(org: &Org) -> (String, String, String) {
    for user in org
        .users
        .iter()
        .filter(|user| user.status == UserStatus::Active)
    {
        let group = org.groups.iter().find(|group| {
            group.source_app_id.is_none()
                && org
                    .memberships
                    .get(&group.id)
                    .is_some_and(|members| !members.contains(&user.id))
        });
        if let Some(group) = group {
            return (
                user.id.clone(),
                user.profile.login.clone(),
                group.id.clone(),
            );
        }
    }
    panic!("no active user outside some group");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_and_changes_after_a_join() {
    let (org, sim) = start_sim(23, unlimited()).await;
    let workspace = Workspace::new();
    workspace.write_config(&format!("[okta]\n{}", workspace.org_keys("key.pem", &sim)));
    assert_success(&workspace.run(&["sync"]));

    let (user_id, login, group_id) = pick_joiner(&org);
    {
        let live = sim.org();
        let mut live = live.write().unwrap();
        live.memberships
            .get_mut(&group_id)
            .unwrap()
            .push(user_id.clone());
        let group = live
            .groups
            .iter_mut()
            .find(|group| group.id == group_id)
            .unwrap();
        group.last_membership_updated = Utc::now();
    }
    let incremental = workspace.run(&["sync"]);
    assert_success(&incremental);
    assert!(
        stderr(&incremental).contains("(incremental sync"),
        "{}",
        stderr(&incremental)
    );
    let group_name = org
        .groups
        .iter()
        .find(|group| group.id == group_id)
        .unwrap()
        .name
        .clone();

    // The table lists the new group with the time the history recorded.
    let table = workspace.run(&["access", &login]);
    assert_success(&table);
    let text = stdout(&table);
    assert!(text.starts_with(&format!("{login} (")), "{text}");
    assert!(text.contains("TYPE"), "{text}");
    assert!(text.contains("GRANT"), "{text}");
    assert!(text.contains("SINCE"), "{text}");
    let group_line = text
        .lines()
        .find(|line| line.contains(&group_id))
        .unwrap_or_else(|| panic!("no line for `{group_id}` in\n{text}"));
    assert!(group_line.starts_with("group"), "{group_line}");
    assert!(group_line.contains(&group_name), "{group_line}");
    assert!(
        group_line.contains(&Utc::now().format("%Y-%m-%d").to_string()),
        "{group_line}"
    );

    let json = workspace.run(&["access", &user_id, "--format", "json"]);
    assert_success(&json);
    let lines = json_lines(&json);
    assert_eq!(lines[0]["type"], "user");
    assert_eq!(lines[0]["login"], login.as_str());
    let joined = lines
        .iter()
        .find(|line| line["type"] == "group" && line["id"] == group_id.as_str())
        .unwrap();
    assert_eq!(joined["since_source"], "history");
    assert!(joined["since"].is_string());
    assert!(joined["grant"].as_str().unwrap().starts_with("member"));
    // Groups held at the first sync have no recorded start, so they date from that sync.
    let held_before = lines
        .iter()
        .filter(|line| line["type"] == "group" && line["id"] != group_id.as_str())
        .collect::<Vec<_>>();
    for line in &held_before {
        assert_eq!(line["since_source"], "first-sync", "{line}");
        assert!(line["since"].is_string(), "{line}");
    }
    assert!(!held_before.is_empty(), "{lines:?}");
    {
        let id = held_before[0]["id"].as_str().unwrap();
        let row = text.lines().find(|row| row.contains(id)).unwrap();
        assert!(row.contains("before "), "{row}");
    }
    for line in &lines[1..] {
        assert!(
            ["group", "app", "role", "factor"].contains(&line["type"].as_str().unwrap()),
            "{line}"
        );
    }
    // Apps reached through a group say which group.
    let through_group = lines
        .iter()
        .filter(|line| line["type"] == "app")
        .all(|line| {
            let grant = line["grant"].as_str().unwrap();
            grant == "direct" || grant.starts_with("through group") || grant.starts_with("scope")
        });
    assert!(through_group, "{lines:?}");

    let changes = workspace.run(&["changes", "--since", "7d"]);
    assert_success(&changes);
    let text = stdout(&changes);
    assert!(
        text.starts_with("TIME"),
        "one org shows no ORG column: {text}"
    );
    let row = text
        .lines()
        .find(|line| line.contains("membership") && line.contains(&login))
        .unwrap_or_else(|| panic!("no membership change of `{login}` in\n{text}"));
    assert!(row.contains("added"), "{row}");
    assert!(row.contains(&group_name), "{row}");

    let changes_json = workspace.run(&["changes", "--since", "7d", "--format", "json"]);
    assert_success(&changes_json);
    let lines = json_lines(&changes_json);
    let change = lines
        .iter()
        .find(|line| line["kind"] == "membership" && line["subject_id"] == user_id.as_str())
        .unwrap();
    assert_eq!(change["type"], "change");
    assert_eq!(change["action"], "added");
    assert_eq!(change["object_id"], group_id.as_str());
    assert_eq!(change["subject_name"], login.as_str());
    assert_eq!(change["object_name"], group_name.as_str());
    assert_eq!(change["org"], store_key(&sim));

    let user_filter = workspace.run(&["changes", "--since", "7d", "--user", &login]);
    assert_success(&user_filter);
    assert!(stdout(&user_filter).contains(&group_name));

    let old = workspace.run(&["changes", "--since", "30d", "--until", "20d"]);
    assert_success(&old);
    assert!(
        stderr(&old).contains("No changes recorded in this range"),
        "{}",
        stderr(&old)
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_healthy_org_passes() {
    let (_, sim) = start_sim(24, unlimited()).await;
    let workspace = Workspace::new();
    workspace.write_config(&format!("[okta]\n{}", workspace.org_keys("key.pem", &sim)));

    let doctor = workspace.run(&["doctor", "--format", "json"]);
    assert_success(&doctor);
    let lines = json_lines(&doctor);
    let names: Vec<&str> = lines
        .iter()
        .map(|line| line["name"].as_str().unwrap())
        .collect();
    for expected in [
        "connectivity",
        "clock",
        "token",
        "scope okta.users.read",
        "scope okta.roles.read",
        "scope okta.logs.read",
        "admin role",
        "rate limit",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    for line in &lines {
        assert_eq!(line["type"], "check");
        assert_eq!(line["status"], "ok", "{line}");
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_reports_missing_scope_and_skew() {
    let scopes = idaudit_okta_sim::DEFAULT_SCOPES
        .iter()
        .filter(|scope| **scope != "okta.roles.read")
        .map(|scope| scope.to_string())
        .collect();
    let options = SimOptions {
        scopes,
        faults: Faults {
            clock_skew_seconds: 600,
            ..Faults::default()
        },
        ..unlimited()
    };
    let (_, sim) = start_sim(25, options).await;
    let workspace = Workspace::new();
    workspace.write_config(&format!("[okta]\n{}", workspace.org_keys("key.pem", &sim)));

    let doctor = workspace.run(&["doctor"]);
    assert_eq!(doctor.status.code(), Some(2), "{}", stderr(&doctor));
    assert!(
        stderr(&doctor).contains("2 problems found"),
        "{}",
        stderr(&doctor)
    );
    let text = stdout(&doctor);
    let line_of = |name: &str| -> String {
        text.lines()
            .find(|line| line.starts_with(name))
            .unwrap_or_else(|| panic!("no `{name}` check in\n{text}"))
            .to_string()
    };
    let scope = line_of("scope okta.roles.read");
    assert!(scope.contains("problem"), "{scope}");
    assert!(scope.contains("fix: grant `okta.roles.read`"), "{scope}");
    let clock = line_of("clock");
    assert!(clock.contains("problem"), "{clock}");
    // The skew is measured in whole seconds of `Date`, so it may read one off.
    assert!(
        ["-599 s", "-600 s", "-601 s"]
            .iter()
            .any(|skew| clock.contains(skew)),
        "{clock}"
    );
    assert!(clock.contains("fix: synchronise"), "{clock}");
    assert!(line_of("scope okta.users.read").contains(" ok "));
    assert!(line_of("token").contains(" ok "));

    let json = workspace.run(&["doctor", "--format", "json"]);
    let lines = json_lines(&json);
    let problems: Vec<&str> = lines
        .iter()
        .filter(|line| line["status"] == "problem")
        .map(|line| line["name"].as_str().unwrap())
        .collect();
    assert_eq!(problems, ["clock", "scope okta.roles.read"]);
    for line in lines.iter().filter(|line| line["status"] == "problem") {
        assert!(line["fix"].is_string(), "{line}");
    }

    // The sync still runs without the roles scope, and says what it skipped.
    let sync = workspace.run(&["sync"]);
    assert_success(&sync);
    assert!(
        stderr(&sync).contains("Skipped admin role assignments"),
        "{}",
        stderr(&sync)
    );
    sim.shutdown().await;
}
