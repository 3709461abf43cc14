//! Simulator scale benchmark: generation time and peak memory of a large org, and the
//! page requests per second the simulator serves with rate limits off.
//!
//! Run: `cargo run --release -p idaudit-bench --bin sim_scale -- run [OPTIONS]`
//!
//! `run` starts `sim_scale serve` as a child process, which generates the org, reports
//! its counts, generation time and resident memory, and serves it on loopback. The
//! parent process then sends the load: a warm-up crawl collects page URLs (users pages
//! with `after` cursors, groups, group members, app users, System Log pages), then
//! `--connections` keep-alive connections request those URLs in a fixed mix for
//! `--seconds`. The child reports its peak resident memory (`VmHWM`) when it stops.
//!
//! Options (defaults in brackets): `--users` [100000], `--groups` [10000], `--apps`
//! [2000], `--memberships` [1000000], `--days` [80], `--seed` [42], `--seconds` [30],
//! `--connections` [32], `--page-sizes` [bench]. `serve` and `load` can also be run by
//! hand in two shells; see `--help`.
//!
//! `--page-sizes bench` requests 200 objects per directory page and 1000 events per
//! System Log page. `--page-sizes sync` requests the page sizes that `idaudit sync`
//! requests, which are larger for group members (1000) and app users (500).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use idaudit_okta_sim::{OrgSpec, RateLimits, SimOptions};

const USAGE: &str = "usage: sim_scale run|serve|load [--users N] [--groups N] [--apps N] \
[--memberships N] [--days N] [--seed N] [--seconds N] [--connections N] \
[--page-sizes bench|sync] \
[--url URL --token-file FILE (load only)]";

/// Line the server prints once it listens: `READY <base url> <token file>`.
const READY: &str = "READY";

/// Share of each kind of page in the request mix, out of 100.
const MIX: [(Kind, u32); 5] = [
    (Kind::Users, 30),
    (Kind::Groups, 15),
    (Kind::GroupMembers, 25),
    (Kind::AppUsers, 20),
    (Kind::Logs, 10),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Users,
    Groups,
    GroupMembers,
    AppUsers,
    Logs,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Users => "users",
            Kind::Groups => "groups",
            Kind::GroupMembers => "group members",
            Kind::AppUsers => "app users",
            Kind::Logs => "logs",
        }
    }

    /// Returns the `limit` of the pages of this kind.
    fn limit(self, sizes: PageSizes) -> u32 {
        match (self, sizes) {
            (Kind::GroupMembers, PageSizes::Sync) => 1000,
            (Kind::AppUsers, PageSizes::Sync) => 500,
            (Kind::Logs, _) => 1000,
            _ => 200,
        }
    }

    fn label(self, sizes: PageSizes) -> String {
        format!("{} limit={}", self.name(), self.limit(sizes))
    }
}

/// The page sizes requested.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PageSizes {
    /// 200 objects per directory page, 1000 events per System Log page.
    Bench,
    /// The page sizes of `idaudit sync`: group members 1000 and app users 500 per page.
    Sync,
}

impl PageSizes {
    fn parse(text: &str) -> Result<PageSizes> {
        match text {
            "bench" => Ok(PageSizes::Bench),
            "sync" => Ok(PageSizes::Sync),
            _ => bail!("Invalid page sizes `{text}`: use `bench` or `sync`\n{USAGE}"),
        }
    }
}

struct Options {
    users: usize,
    groups: usize,
    apps: usize,
    memberships: usize,
    days: u32,
    seed: u64,
    seconds: u64,
    connections: usize,
    page_sizes: PageSizes,
    url: Option<String>,
    token_file: Option<String>,
}

impl Options {
    fn parse(arguments: &[String]) -> Result<Options> {
        let mut options = Options {
            users: 100_000,
            groups: 10_000,
            apps: 2_000,
            memberships: 1_000_000,
            days: 80,
            seed: 42,
            seconds: 30,
            connections: 32,
            page_sizes: PageSizes::Bench,
            url: None,
            token_file: None,
        };
        let mut iter = arguments.iter();
        while let Some(name) = iter.next() {
            let value = iter
                .next()
                .with_context(|| format!("Missing value after `{name}`\n{USAGE}"))?;
            match name.as_str() {
                "--users" => options.users = value.parse()?,
                "--groups" => options.groups = value.parse()?,
                "--apps" => options.apps = value.parse()?,
                "--memberships" => options.memberships = value.parse()?,
                "--days" => options.days = value.parse()?,
                "--seed" => options.seed = value.parse()?,
                "--seconds" => options.seconds = value.parse()?,
                "--connections" => options.connections = value.parse()?,
                "--page-sizes" => options.page_sizes = PageSizes::parse(value)?,
                "--url" => options.url = Some(value.clone()),
                "--token-file" => options.token_file = Some(value.clone()),
                _ => bail!("Unknown option `{name}`\n{USAGE}"),
            }
        }
        Ok(options)
    }

    fn spec(&self) -> OrgSpec {
        OrgSpec {
            seed: self.seed,
            users: self.users,
            groups: self.groups,
            apps: self.apps,
            memberships: Some(self.memberships),
            log_days: self.days,
            ..OrgSpec::default()
        }
    }
}

fn main() -> Result<()> {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let Some((mode, rest)) = arguments.split_first() else {
        bail!("{USAGE}");
    };
    let options = Options::parse(rest)?;
    let runtime = tokio::runtime::Runtime::new()?;
    match mode.as_str() {
        "serve" => runtime.block_on(serve(&options)),
        "load" => runtime.block_on(load_from_options(&options)),
        "run" => run(rest, &options, &runtime),
        "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        _ => bail!("Unknown mode `{mode}`\n{USAGE}"),
    }
}

/// Reads a field such as `VmHWM` from `/proc/self/status`, in MiB.
fn memory_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn print_memory(when: &str) {
    println!(
        "memory {when}: VmRSS {:.0} MiB, VmHWM {:.0} MiB",
        memory_mib("VmRSS:").unwrap_or(f64::NAN),
        memory_mib("VmHWM:").unwrap_or(f64::NAN)
    );
}

/// Generates the org, serves it for `--seconds` plus the warm-up allowance, and reports memory.
async fn serve(options: &Options) -> Result<()> {
    let spec = options.spec();
    let started = Instant::now();
    let org = idaudit_okta_sim::generate(&spec);
    let generation = started.elapsed();
    let counts = org.counts();
    println!(
        "generated {} users, {} groups, {} apps, {} memberships, {} events in {:.1} s",
        counts.users,
        counts.groups,
        counts.apps,
        counts.memberships,
        counts.events,
        generation.as_secs_f64()
    );
    print_memory("after generation");

    let sim_options = SimOptions {
        rate_limits: RateLimits::Off,
        ..SimOptions::default()
    };
    let sim = idaudit_okta_sim::serve(org, sim_options).await?;
    let token_file = std::env::temp_dir().join(format!("sim-scale-{}.token", std::process::id()));
    std::fs::write(&token_file, &sim.api_token)?;
    println!("{READY} {} {}", sim.base_url, token_file.display());
    std::io::stdout().flush()?;

    // The warm-up crawl takes a while on a large org, so the server stays up for
    // twice the measured time plus a minute, or until the parent closes stdin.
    let limit = Duration::from_secs(options.seconds * 2 + 60);
    let stdin_closed = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    });
    let _ = tokio::time::timeout(limit, stdin_closed).await;
    print_memory("at the end of serving");
    let _ = std::fs::remove_file(&token_file);
    sim.shutdown().await;
    Ok(())
}

/// Starts the server as a child process and sends the load from this process.
fn run(arguments: &[String], options: &Options, runtime: &tokio::runtime::Runtime) -> Result<()> {
    let mut child = Command::new(std::env::current_exe()?)
        .arg("serve")
        .args(arguments)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("Failed to start the simulator process")?;
    let stdout = child
        .stdout
        .take()
        .context("No stdout from the simulator")?;
    let mut lines = BufReader::new(stdout).lines();
    let mut ready = None;
    for line in lines.by_ref() {
        let line = line?;
        println!("[sim] {line}");
        if let Some(rest) = line.strip_prefix(READY) {
            let parts: Vec<&str> = rest.split_whitespace().collect();
            if let [url, token_file] = parts.as_slice() {
                ready = Some((url.to_string(), token_file.to_string()));
            }
            break;
        }
    }
    let Some((url, token_file)) = ready else {
        bail!("The simulator process stopped before listening");
    };
    let token = std::fs::read_to_string(&token_file)?;
    let outcome = runtime.block_on(load(&url, token.trim(), options, Some(child.id())));
    drop(child.stdin.take());
    for line in lines {
        println!("[sim] {}", line?);
    }
    child.wait()?;
    outcome
}

async fn load_from_options(options: &Options) -> Result<()> {
    let (Some(url), Some(token_file)) = (&options.url, &options.token_file) else {
        bail!("`load` needs --url and --token-file\n{USAGE}");
    };
    let token = std::fs::read_to_string(token_file)?;
    load(url, token.trim(), options, None).await
}

/// A client that sends the SSWS token of the simulator on every request.
#[derive(Clone)]
struct Api {
    http: reqwest::Client,
    base_url: String,
    authorization: String,
}

impl Api {
    /// Fetches a page and returns its body and its `next` link.
    async fn page(&self, url: &str) -> Result<(serde_json::Value, Option<String>)> {
        let response = self
            .http
            .get(url)
            .header("Authorization", &self.authorization)
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("GET {url} failed with status {}", response.status());
        }
        let next = next_link(response.headers());
        Ok((response.json().await?, next))
    }

    /// Follows `next` links from `first` for up to `pages` pages and returns their URLs.
    async fn crawl(&self, first: String, pages: usize) -> Result<Vec<String>> {
        let mut urls = Vec::new();
        let mut url = Some(first);
        while let Some(current) = url.take() {
            if urls.len() == pages {
                break;
            }
            let (_, next) = self.page(&current).await?;
            urls.push(current);
            url = next;
        }
        Ok(urls)
    }
}

fn next_link(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get_all("link")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.contains("rel=\"next\""))
        .and_then(|value| {
            let start = value.find('<')? + 1;
            let end = value.find('>')?;
            Some(value[start..end].to_string())
        })
}

/// Collects the page URLs of each kind by crawling the org.
async fn warm_up(api: &Api, options: &Options) -> Result<BTreeMap<Kind, Vec<String>>> {
    let base = &api.base_url;
    let limit = |kind: Kind| kind.limit(options.page_sizes);
    let mut urls = BTreeMap::new();
    let users = api
        .crawl(
            format!("{base}/api/v1/users?limit={}", limit(Kind::Users)),
            200,
        )
        .await?;
    urls.insert(Kind::Users, users);

    let group_pages = api
        .crawl(
            format!("{base}/api/v1/groups?limit={}", limit(Kind::Groups)),
            1000,
        )
        .await?;
    let mut group_ids = Vec::new();
    for page in &group_pages {
        let (body, _) = api.page(page).await?;
        for group in body.as_array().into_iter().flatten() {
            group_ids.extend(group["id"].as_str().map(String::from));
        }
    }
    urls.insert(Kind::Groups, group_pages);

    let mut members = Vec::new();
    for id in group_ids.iter().step_by((group_ids.len() / 100).max(1)) {
        let first = format!(
            "{base}/api/v1/groups/{id}/users?limit={}",
            limit(Kind::GroupMembers)
        );
        members.extend(api.crawl(first, 5).await?);
    }
    urls.insert(Kind::GroupMembers, members);

    let (apps, _) = api.page(&format!("{base}/api/v1/apps?limit=200")).await?;
    let mut app_users = Vec::new();
    for app in apps.as_array().into_iter().flatten().take(40) {
        if let Some(id) = app["id"].as_str() {
            let first = format!(
                "{base}/api/v1/apps/{id}/users?limit={}",
                limit(Kind::AppUsers)
            );
            app_users.extend(api.crawl(first, 5).await?);
        }
    }
    urls.insert(Kind::AppUsers, app_users);

    let since: DateTime<Utc> = Utc::now() - chrono::Duration::days(i64::from(options.days));
    let first = format!(
        "{base}/api/v1/logs?since={}&limit={}",
        since.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
        limit(Kind::Logs)
    );
    urls.insert(Kind::Logs, api.crawl(first, 100).await?);
    Ok(urls)
}

/// Counters shared by the load tasks.
#[derive(Default)]
struct Counters {
    requests: [AtomicU64; 5],
    bytes: AtomicU64,
    failures: AtomicU64,
}

/// Reads the CPU time (user and system) a process has used, in seconds.
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name, which is in parentheses and may contain spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    // NOTE: assumes 100 clock ticks per second (USER_HZ), the value of common Linux builds.
    Some((user + system) / 100.0)
}

/// CPU seconds of this process and of the server, if its pid is known.
fn cpu_pair(server: Option<u32>) -> (f64, f64) {
    let own = cpu_seconds("self").unwrap_or(f64::NAN);
    let server = server
        .and_then(|pid| cpu_seconds(&pid.to_string()))
        .unwrap_or(f64::NAN);
    (own, server)
}

async fn load(base_url: &str, token: &str, options: &Options, server: Option<u32>) -> Result<()> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(options.connections)
        .timeout(Duration::from_secs(30))
        .build()?;
    let api = Api {
        http,
        base_url: base_url.to_string(),
        authorization: format!("SSWS {token}"),
    };
    let started = Instant::now();
    let urls = warm_up(&api, options).await?;
    println!(
        "warm-up crawl in {:.1} s: {}",
        started.elapsed().as_secs_f64(),
        urls.iter()
            .map(|(kind, list)| format!("{} {} URLs", kind.label(options.page_sizes), list.len()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if urls.values().any(Vec::is_empty) {
        bail!("The warm-up crawl found no URL of some kind");
    }

    // A fixed schedule of 100 slots gives each kind its share of the mix.
    let schedule: Vec<Kind> = MIX
        .iter()
        .flat_map(|(kind, share)| std::iter::repeat_n(*kind, *share as usize))
        .collect();
    let urls = Arc::new(urls);
    let counters = Arc::new(Counters::default());
    let deadline = Instant::now() + Duration::from_secs(options.seconds);
    let measured_from = Instant::now();
    let cpu_before = cpu_pair(server);
    let mut tasks = Vec::new();
    for task in 0..options.connections {
        let (api, urls, counters, schedule) = (
            api.clone(),
            urls.clone(),
            counters.clone(),
            schedule.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut step = task * 37;
            while Instant::now() < deadline {
                let kind = schedule[step % schedule.len()];
                let list = &urls[&kind];
                let url = &list[(step / schedule.len() + task * 7) % list.len()];
                step += 1;
                let response = api
                    .http
                    .get(url)
                    .header("Authorization", &api.authorization)
                    .send()
                    .await;
                let read = match response {
                    Ok(response) if response.status().is_success() => read_body(response).await,
                    _ => None,
                };
                match read {
                    Some(length) => {
                        counters.requests[kind as usize].fetch_add(1, Ordering::Relaxed);
                        counters.bytes.fetch_add(length, Ordering::Relaxed);
                    }
                    None => {
                        counters.failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    let elapsed = measured_from.elapsed();
    let cpu_after = cpu_pair(server);
    report(&counters, elapsed, options);
    let pages: u64 = counters
        .requests
        .iter()
        .map(|count| count.load(Ordering::Relaxed))
        .sum();
    let server_cpu = cpu_after.1 - cpu_before.1;
    println!(
        "cpu while loading: load generator {:.1} s, simulator {server_cpu:.1} s ({:.0} pages per simulator CPU second)",
        cpu_after.0 - cpu_before.0,
        pages as f64 / server_cpu
    );
    Ok(())
}

/// Reads a response body to the end and returns its length, or `None` if reading failed.
///
/// The chunks are counted as they arrive and dropped, instead of being joined into one
/// buffer as `Response::bytes` does, which would add a copy of every page to the load
/// generator's CPU time.
async fn read_body(mut response: reqwest::Response) -> Option<u64> {
    let mut length = 0;
    while let Some(chunk) = response.chunk().await.ok()? {
        length += chunk.len() as u64;
    }
    Some(length)
}

fn report(counters: &Counters, elapsed: Duration, options: &Options) {
    let seconds = elapsed.as_secs_f64();
    let total: u64 = counters
        .requests
        .iter()
        .map(|count| count.load(Ordering::Relaxed))
        .sum();
    println!(
        "load: {} connections for {seconds:.1} s: {total} pages, {:.0} pages/s, {:.0} MiB/s, {} failures",
        options.connections,
        total as f64 / seconds,
        counters.bytes.load(Ordering::Relaxed) as f64 / seconds / 1_048_576.0,
        counters.failures.load(Ordering::Relaxed)
    );
    for (kind, _) in MIX {
        let count = counters.requests[kind as usize].load(Ordering::Relaxed);
        println!(
            "  {:<24} {count:>8} pages, {:>7.0} pages/s",
            kind.label(options.page_sizes),
            count as f64 / seconds
        );
    }
}
