//! `idaudit sim`: a simulated Okta org on loopback, until interrupted.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::{Context, Result};
use idaudit_okta_sim::{OrgSpec, RateLimits, SimOptions};

use crate::args::{SimArgs, SimRateLimits};
use crate::exit::ExitStatus;

pub async fn run(args: &SimArgs) -> Result<ExitStatus> {
    let spec = OrgSpec {
        seed: args.seed,
        users: args.users,
        groups: args.groups,
        apps: args.apps,
        log_days: args.days,
        ..OrgSpec::default()
    };
    eprintln!(
        "Generating an org of {} users (seed {})",
        spec.users, spec.seed
    );
    let org = idaudit_okta_sim::generate(&spec);

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("Failed to create `{}`", args.out.display()))?;
    let ground_truth = args.out.join("ground-truth.json");
    std::fs::write(&ground_truth, serde_json::to_vec_pretty(&org.ground_truth)?)
        .with_context(|| format!("Failed to write `{}`", ground_truth.display()))?;

    let options = SimOptions {
        bind: SocketAddr::from((Ipv4Addr::LOCALHOST, args.port)),
        rate_limits: match args.rate_limits {
            SimRateLimits::Okta => RateLimits::Workforce {
                window: Duration::from_secs(60),
            },
            SimRateLimits::Fast => RateLimits::Workforce {
                window: Duration::from_secs(1),
            },
            SimRateLimits::Off => RateLimits::Off,
        },
        ..SimOptions::default()
    };
    let sim = idaudit_okta_sim::serve(org, options)
        .await
        .with_context(|| format!("Failed to start the simulator on port {}", args.port))?;

    let key_file = args.out.join("client-key.pem");
    write_private(&key_file, sim.private_key_pem.as_bytes())?;
    println!("Simulated Okta org listening on {}", sim.base_url);
    println!("  client id     {}", sim.client_id);
    println!("  key id        {}", sim.key_id);
    println!("  private key   {}", key_file.display());
    println!("  ground truth  {}", ground_truth.display());
    println!();
    println!("idaudit.toml for it:");
    println!("  [okta]");
    println!("  org_url = \"{}\"", sim.base_url);
    println!("  client_id = \"{}\"", sim.client_id);
    println!("  key_id = \"{}\"", sim.key_id);
    println!("  private_key_file = \"{}\"", key_file.display());
    println!();
    println!("Press Ctrl-C to stop");

    tokio::signal::ctrl_c()
        .await
        .context("Failed to wait for Ctrl-C")?;
    sim.shutdown().await;
    Ok(ExitStatus::Success)
}

/// Writes a file readable by its owner only.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("Failed to write `{}`", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("Failed to write `{}`", path.display()))?;
    Ok(())
}
