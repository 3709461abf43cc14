use std::process::Command;
use std::time::Duration;

use idaudit_okta_sim::{OrgSpec, RateLimits, RunningSim, SimOptions};

/// Serves a small generated org with Okta's limits over one-second windows.
async fn start_sim(users: usize, dpop: bool) -> RunningSim {
    let spec = OrgSpec {
        users,
        groups: 8,
        apps: 4,
        log_days: 2,
        ..OrgSpec::default()
    };
    let options = SimOptions {
        dpop,
        rate_limits: RateLimits::Workforce {
            window: Duration::from_secs(1),
        },
        ..SimOptions::default()
    };
    idaudit_okta_sim::serve(idaudit_okta_sim::generate(&spec), options)
        .await
        .unwrap()
}

/// Runs `idaudit -vv` through sync and a log pull against the simulator and
/// checks that no credential reaches the output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verbose_run_prints_no_secret() {
    let sim = start_sim(120, false).await;
    let folder = tempfile::tempdir().unwrap();
    let key_file = folder.path().join("key.pem");
    std::fs::write(&key_file, &sim.private_key_pem).unwrap();
    let config = format!(
        "[okta]\norg_url = \"{}\"\nclient_id = \"{}\"\nkey_id = \"{}\"\nprivate_key_file = \"{}\"\n",
        sim.base_url,
        sim.client_id,
        sim.key_id,
        key_file.display()
    );
    std::fs::write(folder.path().join("idaudit.toml"), config).unwrap();

    let mut output = String::new();
    for arguments in [
        vec!["-vv", "sync"],
        vec!["-vv", "logs", "pull", "--since", "3d"],
    ] {
        let run = tokio::task::spawn_blocking({
            let folder = folder.path().to_path_buf();
            move || {
                Command::new(env!("CARGO_BIN_EXE_idaudit"))
                    .current_dir(folder)
                    .args(arguments)
                    .env("NO_COLOR", "1")
                    .env_remove("RUST_LOG")
                    .output()
                    .unwrap()
            }
        })
        .await
        .unwrap();
        assert_eq!(
            run.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        output.push_str(&String::from_utf8_lossy(&run.stdout));
        output.push_str(&String::from_utf8_lossy(&run.stderr));
    }
    let private_key = sim.private_key_pem.clone();
    sim.shutdown().await;

    assert!(
        output.contains("DEBUG"),
        "the run logged nothing at debug level"
    );
    // Access tokens, client assertions and DPoP proofs are all JWTs.
    assert!(!output.contains("eyJ"), "a JWT reached the output");
    assert!(
        !output.contains("Bearer "),
        "an Authorization header reached the output"
    );
    for line in private_key
        .lines()
        .filter(|line| line.len() > 20 && !line.starts_with("-----"))
    {
        assert!(
            !output.contains(line),
            "a line of the private key reached the output"
        );
    }
}

/// Configures idaudit only through the Okta SDK variables, against a
/// simulated org that requires DPoP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_sdk_variables_and_dpop() {
    let sim = start_sim(80, true).await;
    let folder = tempfile::tempdir().unwrap();
    let run = tokio::task::spawn_blocking({
        let folder = folder.path().to_path_buf();
        let (url, client_id, key, key_id) = (
            sim.base_url.clone(),
            sim.client_id.clone(),
            sim.private_key_pem.clone(),
            sim.key_id.clone(),
        );
        move || {
            Command::new(env!("CARGO_BIN_EXE_idaudit"))
                .current_dir(&folder)
                .arg("sync")
                .env("HOME", &folder)
                .env("OKTA_CLIENT_ORGURL", url)
                .env("OKTA_CLIENT_AUTHORIZATIONMODE", "PrivateKey")
                .env("OKTA_CLIENT_CLIENTID", client_id)
                .env("OKTA_CLIENT_PRIVATEKEY", key)
                .env("OKTA_CLIENT_PRIVATEKEYID", key_id)
                .env(
                    "OKTA_CLIENT_SCOPES",
                    "okta.users.read,okta.groups.read,okta.apps.read",
                )
                .env("NO_COLOR", "1")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    sim.shutdown().await;

    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("80 users"), "{stderr}");
}
