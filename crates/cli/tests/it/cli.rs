use std::process::Command;

use crate::fixtures_dir;

fn idaudit(store: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_idaudit"));
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
fn import_with_rejections_exits_one() {
    let folder = tempfile::tempdir().unwrap();
    let store = folder.path().join("idaudit.db");
    let output = idaudit(&store)
        .args(["logs", "import"])
        .arg(
            fixtures_dir().join("panther-analysis/rules/okta_rules/okta_user_account_locked.jsonl"),
        )
        .arg(fixtures_dir().join("cribl-okta-rest/I4942I.json"))
        .output()
        .unwrap();

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("okta_user_account_locked.jsonl:1: "),
        "{stderr}"
    );
    assert!(stderr.contains("100 records, 100 new"), "{stderr}");
}

#[test]
fn clean_import_then_detect_json() {
    let folder = tempfile::tempdir().unwrap();
    let store = folder.path().join("idaudit.db");
    let import = idaudit(&store)
        .args(["logs", "import"])
        .arg(fixtures_dir().join("cribl-okta-rest/I4942I.json"))
        .output()
        .unwrap();
    assert_eq!(
        import.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );

    let detect = idaudit(&store)
        .args(["detect", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        detect.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&detect.stderr)
    );
    let stdout = String::from_utf8(detect.stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    assert_eq!(lines[0]["type"], "alert");
    assert_eq!(lines[0]["rule"], "admin-privilege-grant");
    assert_eq!(lines[0]["user"], "jdoe@acme.com");

    let list = idaudit(&store).args(["alerts", "list"]).output().unwrap();
    let table = String::from_utf8(list.stdout).unwrap();
    assert!(table.starts_with("ID"), "{table}");
    assert!(table.contains("jdoe@acme.com"), "{table}");
}

#[test]
fn missing_file_fails_with_message() {
    let folder = tempfile::tempdir().unwrap();
    let output = idaudit(&folder.path().join("idaudit.db"))
        .args(["logs", "import", "/nonexistent/events.json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("error: Failed to import `/nonexistent/events.json`"),
        "{stderr}"
    );
}

#[test]
fn sync_without_config_explains() {
    let folder = tempfile::tempdir().unwrap();
    let output = idaudit(&folder.path().join("idaudit.db"))
        .current_dir(folder.path())
        .arg("sync")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("No Okta org configured"), "{stderr}");
}

#[test]
fn pull_beyond_retention_rejected_before_requests() {
    let folder = tempfile::tempdir().unwrap();
    let output = idaudit(&folder.path().join("idaudit.db"))
        .current_dir(folder.path())
        .args(["logs", "pull", "--since", "100d"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("90-day System Log retention"), "{stderr}");
    assert!(stderr.contains("earliest accepted time"), "{stderr}");
}

#[test]
fn demo_binary_writes_outputs() {
    let folder = tempfile::tempdir().unwrap();
    let out = folder.path().join("demo-out");
    let output = Command::new(env!("CARGO_BIN_EXE_idaudit"))
        .current_dir(folder.path())
        .args(["demo", "--users", "300", "--seed", "3", "--out"])
        .arg(&out)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("300 users"), "{stdout}");
    assert!(out.join("idaudit.db").exists());
    assert!(out.join("alerts.jsonl").exists());
    assert!(out.join("ground-truth.json").exists());

    let packages: Vec<_> = std::fs::read_dir(out.join("packages"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    let csv = packages
        .iter()
        .filter(|path| path.extension().is_some_and(|ext| ext == "csv"))
        .count();
    let html = packages
        .iter()
        .filter(|path| path.extension().is_some_and(|ext| ext == "html"))
        .count();
    assert!(csv > 0);
    assert_eq!(csv, html);
}

#[test]
fn rules_list_and_test() {
    let folder = tempfile::tempdir().unwrap();
    let store = folder.path().join("idaudit.db");
    let list = idaudit(&store)
        .args(["rules", "list", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        list.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&list.stderr)
    );
    let rules: Vec<serde_json::Value> = String::from_utf8(list.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert!(
        rules
            .iter()
            .any(|rule| rule["id"] == "failed-sign-ins-per-user")
    );
    assert!(rules.iter().any(|rule| rule["id"] == "password-spray"));

    let rule = folder.path().join("grant.yml");
    std::fs::write(
        &rule,
        "title: Any admin grant\nid: 5d1a7a2e-0000-4000-8000-000000000001\nlogsource:\n  product: okta\n  service: okta\ndetection:\n  selection:\n    eventType: user.account.privilege.grant\n  condition: selection\nlevel: high\n",
    )
    .unwrap();
    let test = idaudit(&store)
        .args(["rules", "test", "--format", "json"])
        .arg(&rule)
        .arg(fixtures_dir().join(
            "panther-analysis/test_scenarios/okta-add-administrator/admin_privs_assigned.jsonl",
        ))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&test.stdout);
    assert_eq!(
        test.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&test.stderr)
    );
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
}

#[test]
fn alerts_acknowledged_and_closed() {
    let folder = tempfile::tempdir().unwrap();
    let store = folder.path().join("idaudit.db");
    idaudit(&store)
        .args(["logs", "import"])
        .arg(fixtures_dir().join("cribl-okta-rest/I4942I.json"))
        .output()
        .unwrap();
    let detect = idaudit(&store)
        .args(["detect", "--format", "json"])
        .output()
        .unwrap();
    let first: serde_json::Value = serde_json::from_str(
        String::from_utf8(detect.stdout)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    let id = first["id"].as_str().unwrap().to_string();

    let ack = idaudit(&store)
        .args(["alerts", "ack", &id[..6]])
        .output()
        .unwrap();
    assert_eq!(
        ack.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ack.stderr)
    );
    let open = idaudit(&store)
        .args(["alerts", "list", "--status", "open", "--format", "json"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&open.stdout).contains(&id));

    idaudit(&store)
        .args(["alerts", "close", &id])
        .output()
        .unwrap();
    let show = idaudit(&store)
        .args(["alerts", "show", &id, "--format", "json"])
        .output()
        .unwrap();
    let shown: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(shown["status"], "closed");

    let missing = idaudit(&store)
        .args(["alerts", "show", "zzzz"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn detect_sends_alerts_to_file_sink_once() {
    let folder = tempfile::tempdir().unwrap();
    let store = folder.path().join("idaudit.db");
    let sink_file = folder.path().join("sent.jsonl");
    std::fs::write(
        folder.path().join("idaudit.toml"),
        format!(
            "[[sinks]]\nkind = \"jsonl\"\npath = \"{}\"\n",
            sink_file.display()
        ),
    )
    .unwrap();
    let run = |arguments: &[&str]| {
        let output = idaudit(&store)
            .current_dir(folder.path())
            .args(arguments)
            .output()
            .unwrap();
        assert!(
            output.status.code().is_some_and(|code| code < 2),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    run(&[
        "logs",
        "import",
        fixtures_dir()
            .join("cribl-okta-rest/I4942I.json")
            .to_str()
            .unwrap(),
    ]);
    run(&["detect"]);
    run(&["detect"]);

    let sent = std::fs::read_to_string(&sink_file).unwrap();
    let lines: Vec<serde_json::Value> = sent
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{sent}");
    assert!(sent.contains("jdoe@acme.com"));
}

#[test]
fn sim_scenarios_flag_lists_and_checks_names() {
    let folder = tempfile::tempdir().unwrap();
    let store = folder.path().join("idaudit.db");

    let help = idaudit(&store).args(["sim", "--help"]).output().unwrap();
    let help_text = String::from_utf8_lossy(&help.stdout);
    assert_eq!(help.status.code(), Some(0), "{help_text}");
    assert!(help_text.contains("--scenarios"), "{help_text}");
    assert!(help_text.contains("password_spray"), "{help_text}");
    assert!(help_text.contains("--no-scenarios"), "{help_text}");

    let invalid = idaudit(&store)
        .args(["sim", "--scenarios", "brute_force,no_such_scenario"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&invalid.stderr);
    assert_eq!(invalid.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no_such_scenario"), "{stderr}");
    assert!(stderr.contains("brute_force"), "{stderr}");
    assert!(stderr.contains("leaver_deactivated_late"), "{stderr}");
}

#[test]
fn sim_plants_only_chosen_scenarios() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let folder = tempfile::tempdir().unwrap();
    let store = folder.path().join("idaudit.db");
    let out = folder.path().join("sim");
    let mut child = idaudit(&store)
        .args(["sim", "--port", "0", "--users", "120", "--groups", "20"])
        .args(["--apps", "8", "--days", "3"])
        .args(["--scenarios", "brute_force,password_spray", "--out"])
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut printed = String::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        printed.push_str(&line);
        printed.push('\n');
        if line.starts_with("Press Ctrl-C") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();

    assert!(printed.contains("http://127.0.0.1:"), "{printed}");
    assert!(printed.contains("client id"), "{printed}");
    assert!(printed.contains("client-key.pem"), "{printed}");
    assert!(printed.contains("ground-truth.json"), "{printed}");
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("ground-truth.json")).unwrap()).unwrap();
    let mut kinds: Vec<&str> = truth["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|scenario| scenario["kind"].as_str().unwrap())
        .collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["brute_force", "password_spray"]);
}

#[test]
fn missing_store_rejected_not_created() {
    let folder = tempfile::tempdir().unwrap();
    let store = folder.path().join("mistyped.db");
    for command in [
        &["alerts", "list"][..],
        &["changes", "--since", "7d"],
        &["audit", "posture"],
        &["review", "export", "--out", "packages"],
    ] {
        let output = idaudit(&store).args(command).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_ne!(output.status.code(), Some(0), "{command:?}: {stderr}");
        assert!(stderr.contains("no store at"), "{command:?}: {stderr}");
        assert!(stderr.contains("mistyped.db"), "{command:?}: {stderr}");
    }
    assert!(!store.exists());
}

#[test]
fn closed_stdout_ends_quietly() {
    let folder = tempfile::tempdir().unwrap();
    let store = folder.path().join("idaudit.db");
    let import = idaudit(&store)
        .args(["logs", "import"])
        .arg(fixtures_dir().join("cribl-okta-rest/I4942I.json"))
        .output()
        .unwrap();
    assert_eq!(import.status.code(), Some(0));

    let detect = idaudit(&store).arg("detect").output().unwrap();
    assert_eq!(detect.status.code(), Some(0));

    let list = idaudit(&store)
        .args(["alerts", "list", "--format", "json"])
        .output()
        .unwrap();
    let first: serde_json::Value = serde_json::from_str(
        String::from_utf8_lossy(&list.stdout)
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    let id = first["id"].as_str().unwrap().to_string();

    // `rules list` reports a failed write, and `alerts show` prints with `println!`.
    // The reader closes before either command writes.
    for command in [vec!["rules", "list"], vec!["alerts", "show", id.as_str()]] {
        let mut child = idaudit(&store)
            .args(&command)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{command:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{command:?}: {stderr}");
    }
}
