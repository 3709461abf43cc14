use std::process::Command;
use std::time::Duration;

use idaudit_okta_sim::{OrgSpec, RateLimits, SimOptions};

/// Runs `idaudit -vv` through sync and a log pull against the simulator and
/// checks that no credential reaches the output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verbose_run_prints_no_secret() {
    let spec = OrgSpec {
        users: 120,
        groups: 10,
        apps: 5,
        log_days: 2,
        ..OrgSpec::default()
    };
    let options = SimOptions {
        rate_limits: RateLimits::Workforce {
            window: Duration::from_secs(1),
        },
        ..SimOptions::default()
    };
    let sim = idaudit_okta_sim::serve(idaudit_okta_sim::generate(&spec), options)
        .await
        .unwrap();
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
