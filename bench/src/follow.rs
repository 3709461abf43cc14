//! Running `idaudit logs follow` against the simulator: the config it reads,
//! the child process, its resident memory and the count of stored events.
//! `follow_rss` and `follow_backfill` share these.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use idaudit_okta_sim::{LogEvent, Org, RateLimits, RunningSim, SharedOrg, SimOptions};

/// `USER_HZ` of Linux, the unit of CPU times in `/proc/PID/stat`. It is 100
/// on x86-64 and arm64, as `getconf CLK_TCK` shows.
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// Name of the store inside the run's folder.
pub const STORE_FILE: &str = "idaudit.db";

/// Serves `org` on loopback with Okta's Workforce limits over one-second
/// windows, as both follow benchmarks do.
pub async fn serve_with_workforce_limits(org: Org) -> Result<RunningSim> {
    let options = SimOptions {
        rate_limits: RateLimits::Workforce {
            window: Duration::from_secs(1),
        },
        ..SimOptions::default()
    };
    idaudit_okta_sim::serve(org, options).await
}

/// Writes `idaudit.toml` and the client key into `folder` for the simulator
/// `sim`, with a one-second poll interval and, if given, a `backfill` window
/// such as `90d`.
pub fn write_config(folder: &Path, sim: &RunningSim, backfill: Option<&str>) -> Result<()> {
    std::fs::write(folder.join("client-key.pem"), &sim.private_key_pem)?;
    let mut config = format!(
        "[okta]\norg_url = \"{}\"\nclient_id = \"{}\"\nkey_id = \"{}\"\nprivate_key_file = \"client-key.pem\"\n[logs]\npoll_interval = \"1s\"\n",
        sim.base_url, sim.client_id, sim.key_id
    );
    if let Some(backfill) = backfill {
        config.push_str(&format!("backfill = \"{backfill}\"\n"));
    }
    std::fs::write(folder.join("idaudit.toml"), config)?;
    Ok(())
}

/// Appends `per_second` successful sign-ins a second to the simulator's
/// System Log, in ten rounds, until `stop`. They come from 500 users and 250
/// addresses, and their uuids start with `7e570000`.
pub fn produce(
    org: Arc<SharedOrg>,
    stop: Arc<AtomicBool>,
    per_second: u64,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut number = 0u64;
        while !stop.load(Ordering::Relaxed) {
            if let Ok(mut org) = org.write() {
                for _ in 0..per_second / 10 {
                    let published = idaudit_store::format_time(chrono::Utc::now());
                    let text = format!(
                        r#"{{"uuid":"7e570000-0000-4000-8000-{number:012}","published":"{published}","eventType":"user.session.start","version":"0","severity":"INFO","actor":{{"id":"00u{:017}","type":"User","alternateId":"user{}@example.com"}},"client":{{"ipAddress":"198.51.100.{}"}},"outcome":{{"result":"SUCCESS"}}}}"#,
                        number % 500,
                        number % 500,
                        number % 250
                    );
                    if let Ok(event) = LogEvent::from_json(&text) {
                        org.events.push(event);
                    }
                    number += 1;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

/// Counts the events of the simulator's System Log.
pub fn simulator_events(org: &SharedOrg) -> Result<u64> {
    let org = org
        .read()
        .map_err(|_| anyhow::anyhow!("The simulator's org lock is poisoned"))?;
    Ok(org.events.len() as u64)
}

/// A running `idaudit logs follow`, killed on drop unless [`Follow::stop`]
/// stopped it.
pub struct Follow {
    child: Child,
}

impl Follow {
    /// Starts `idaudit logs follow`, from the folder of this binary, in
    /// `folder`, which contains `idaudit.toml`. The store is [`STORE_FILE`] there. Its stderr goes to
    /// this process's stderr.
    pub fn start(folder: &Path, detect: bool) -> Result<Follow> {
        let mut command = Command::new(idaudit_binary()?);
        command
            .current_dir(folder)
            .args(["--store", STORE_FILE, "logs", "follow"]);
        if !detect {
            command.arg("--no-detect");
        }
        let child = command
            .env_remove("IDAUDIT_OKTA_ORG_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("Failed to start `idaudit logs follow`")?;
        Ok(Follow { child })
    }

    /// Fails if the process has exited.
    pub fn check_running(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("`idaudit logs follow` exited early with {status}");
        }
        Ok(())
    }

    /// Reads the process's `VmRSS` (resident set size) in MiB.
    pub fn resident_megabytes(&self) -> Result<f64> {
        self.memory_megabytes("VmRSS")
    }

    /// Reads the process's `VmHWM` (peak resident set size) in MiB.
    pub fn peak_resident_megabytes(&self) -> Result<f64> {
        self.memory_megabytes("VmHWM")
    }

    /// Reads a field such as `VmRSS` from `/proc/PID/status`, in MiB.
    fn memory_megabytes(&self, field: &str) -> Result<f64> {
        let pid = self.child.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let line = status
            .lines()
            .find(|line| line.split(':').next() == Some(field))
            .with_context(|| format!("No `{field}` line in /proc/{pid}/status"))?;
        let kilobytes: f64 = line
            .split_whitespace()
            .nth(1)
            .with_context(|| format!("Invalid line `{line}` in /proc/{pid}/status"))?
            .parse()?;
        Ok(kilobytes / 1024.0)
    }

    /// Reads the process's user plus system CPU time from `/proc/PID/stat`,
    /// in seconds, assuming the usual 100 clock ticks a second.
    pub fn cpu_seconds(&self) -> Result<f64> {
        let pid = self.child.id();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
        // The command name in brackets may contain spaces, so fields are
        // counted after its closing bracket: `utime` and `stime` are the
        // 12th and 13th from there.
        let after_name = stat
            .rsplit_once(')')
            .with_context(|| format!("Invalid /proc/{pid}/stat"))?
            .1;
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        let ticks = |index: usize| -> Result<f64> {
            let field = fields
                .get(index)
                .with_context(|| format!("Invalid /proc/{pid}/stat"))?;
            Ok(field.parse::<f64>()?)
        };
        Ok((ticks(11)? + ticks(12)?) / CLOCK_TICKS_PER_SECOND)
    }

    /// Sends SIGTERM and fails unless the process exits with success.
    pub fn stop(mut self) -> Result<()> {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        let status = self.child.wait()?;
        if !status.success() {
            bail!("`idaudit logs follow` exited with {status}");
        }
        Ok(())
    }
}

impl Drop for Follow {
    fn drop(&mut self) {
        // After `stop`, `try_wait` returns the saved exit status and nothing is killed.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Finds `idaudit` in the folder of this benchmark binary.
pub fn idaudit_binary() -> Result<PathBuf> {
    let own = std::env::current_exe()?;
    let folder = own.parent().context("The benchmark binary has no folder")?;
    let binary = folder.join("idaudit");
    if !binary.exists() {
        bail!(
            "`{}` not found: build it first with `cargo build --release -p idaudit`",
            binary.display()
        );
    }
    Ok(binary)
}

/// Counts the events in the store at `path`, or 0 if it cannot be read yet.
pub fn count_stored(path: &Path) -> u64 {
    idaudit_store::Store::open(path)
        .and_then(|store| store.count_events())
        .unwrap_or(0)
}
