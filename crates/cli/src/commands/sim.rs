//! `idaudit sim`: a simulated Okta org on loopback, until interrupted.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::{Context, Result};
use idaudit_okta_sim::{
    EventHook, Faults, LatencyRange, OrgSpec, RateLimits, ScenarioKind, SimOptions,
};

use crate::args::{SimArgs, SimFaultArgs, SimRateLimits};
use crate::exit::ExitStatus;

pub async fn run(args: &SimArgs) -> Result<ExitStatus> {
    let spec = OrgSpec {
        seed: args.seed,
        users: args.users,
        groups: args.groups,
        apps: args.apps,
        log_days: args.days,
        scenarios: scenarios(args),
        memberships: args.memberships,
        ..OrgSpec::default()
    };
    eprintln!(
        "Generating an org of {} users, {} groups and {} apps with {} of {} scenarios (seed {})",
        spec.users,
        spec.groups,
        spec.apps,
        spec.scenarios.len(),
        ScenarioKind::ALL.len(),
        spec.seed
    );
    let started = std::time::Instant::now();
    let org = idaudit_okta_sim::generate(&spec);
    let counts = org.counts();
    eprintln!(
        "Generated {} memberships and {} System Log events in {:.1} s",
        counts.memberships,
        counts.events,
        started.elapsed().as_secs_f64()
    );

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
        dpop: args.dpop,
        faults: faults(&args.faults, args.seed),
        event_hook: event_hook(args)?,
        ..SimOptions::default()
    };
    let sim = idaudit_okta_sim::serve(org, options)
        .await
        .with_context(|| format!("Failed to start the simulator on port {}", args.port))?;

    let key_file = args.out.join("client-key.pem");
    write_private(&key_file, sim.private_key_pem.as_bytes())?;
    let secret_file = args.out.join("client-secret.txt");
    write_private(&secret_file, sim.client_secret.as_bytes())?;
    let token_file = args.out.join("api-token.txt");
    write_private(&token_file, sim.api_token.as_bytes())?;
    for key in &sim.ec_keys {
        let name = format!("client-key-{:?}.pem", key.curve).to_lowercase();
        write_private(&args.out.join(name), key.private_key_pem.as_bytes())?;
    }
    println!("Simulated Okta org listening on {}", sim.base_url);
    println!(
        "  service app (private_key_jwt{})",
        if args.dpop { ", DPoP required" } else { "" }
    );
    println!("    client id       {}", sim.client_id);
    println!("    key id          {}", sim.key_id);
    println!(
        "    private key     {} (EC keys beside it)",
        key_file.display()
    );
    println!("  API service integration (client_secret_basic)");
    println!("    client id       {}", sim.secret_client_id);
    println!("    client secret   {}", secret_file.display());
    println!("  SSWS API token    {}", token_file.display());
    println!("  ground truth      {}", ground_truth.display());
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
    eprintln!("Stopping the simulator");
    sim.shutdown().await;
    Ok(ExitStatus::Success)
}

/// Returns the scenario kinds chosen by `--scenarios` or `--no-scenarios`; all by default.
fn scenarios(args: &SimArgs) -> BTreeSet<ScenarioKind> {
    if args.no_scenarios {
        return BTreeSet::new();
    }
    if args.scenarios.is_empty() {
        return ScenarioKind::all();
    }
    // clap accepts only the names of `ScenarioKind::ALL`, so every name is found.
    ScenarioKind::ALL
        .into_iter()
        .filter(|kind| args.scenarios.iter().any(|name| name == kind.as_str()))
        .collect()
}

fn faults(args: &SimFaultArgs, seed: u64) -> Faults {
    Faults {
        rate_limit_burst: args.rate_limit_burst,
        concurrency_limit: args.concurrency_limit,
        server_error_rate: args.error_rate.clamp(0.0, 1.0),
        latency: args.latency_ms.map(|max| LatencyRange {
            min: Duration::ZERO,
            max: Duration::from_millis(max),
        }),
        drop_body_every: args.drop_body_every,
        duplicate_log_events: args.duplicate_events,
        late_log_events_every: args.late_events_every,
        odd_values: args.odd_values,
        groups_next_after_last_page: args.groups_next_after_last_page,
        clock_skew_seconds: args.clock_skew,
        seed,
    }
}

fn event_hook(args: &SimArgs) -> Result<Option<EventHook>> {
    let Some(url) = &args.hook_url else {
        return Ok(None);
    };
    idaudit_okta::parse_org_url(url).with_context(|| format!("Invalid hook URL `{url}`"))?;
    let authorization = match &args.hook_secret_env {
        Some(name) => {
            let value = std::env::var(name).with_context(|| {
                format!("Missing environment variable `{name}` for the hook secret")
            })?;
            Some(("Authorization".to_string(), value))
        }
        None => None,
    };
    Ok(Some(EventHook {
        url: url.clone(),
        authorization,
        event_types: Vec::new(),
        duplicate_and_reorder: args.faults.duplicate_events,
    }))
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
