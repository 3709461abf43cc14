//! Event-hook load benchmark: deliveries per second that `idaudit serve`
//! acknowledges, and the acknowledgement latency, with the load sent from
//! this process to the server in another.
//!
//! Run: `cargo build --release -p idaudit -p idaudit-bench` then
//! `target/release/hook_load [SECONDS] [CONNECTIONS] [EVENTS_PER_DELIVERY]`
//! (defaults 10, 32 and 10). The server is `target/release/idaudit serve`
//! beside this binary, with a fresh store in a temporary folder and
//! detection on, as it runs by default. Each delivery is Okta's envelope
//! with new events of about 1 KB each, so every event is stored, and the
//! server sends 200 only after the commit. At the end the store is checked to hold
//! exactly the acknowledged events.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

const SECRET: &str = "Basic bG9hZDpiZW5jaG1hcms=";

#[tokio::main]
async fn main() -> Result<()> {
    let arguments: Vec<String> = std::env::args().collect();
    let argument = |index: usize, default: u64| -> Result<u64> {
        Ok(arguments
            .get(index)
            .map(|text| text.parse())
            .transpose()?
            .unwrap_or(default))
    };
    let seconds = argument(1, 10)?;
    let connections = argument(2, 32)?;
    let events_per_delivery = argument(3, 10)?;

    let folder = tempfile::tempdir()?;
    std::fs::write(folder.path().join("hook-secret.txt"), SECRET)?;
    std::fs::write(
        folder.path().join("idaudit.toml"),
        "[server]\nhook_secret_file = \"hook-secret.txt\"\n",
    )?;
    let port = free_port()?;
    let bind = format!("127.0.0.1:{port}");
    let mut server = start_server(folder.path(), &bind)?;
    wait_until_listening(&bind).await?;
    let url = format!("http://{bind}/hooks/okta");

    let deadline = Instant::now() + Duration::from_secs(seconds);
    let counter = Arc::new(AtomicU64::new(0));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections as usize)
        .build()?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let client = client.clone();
        let url = url.clone();
        let counter = Arc::clone(&counter);
        tasks.push(tokio::spawn(async move {
            send_until(client, url, counter, deadline, events_per_delivery).await
        }));
    }
    let mut latencies = Vec::new();
    let mut failures = 0u64;
    for task in tasks {
        let (task_latencies, task_failures) = task.await?;
        latencies.extend(task_latencies);
        failures += task_failures;
    }
    let elapsed = started.elapsed().as_secs_f64();
    stop_server(&mut server)?;

    latencies.sort();
    let acknowledged = latencies.len() as u64;
    let store = idaudit_store::Store::open(folder.path().join("idaudit.db"))?;
    let stored = store.count_events()?;
    let percentile = |share: f64| {
        let index = ((latencies.len() as f64 * share).ceil() as usize).saturating_sub(1);
        latencies
            .get(index)
            .map_or(0.0, |latency: &Duration| latency.as_secs_f64() * 1000.0)
    };
    println!(
        "{connections} connections, {events_per_delivery} events per delivery, {elapsed:.1} s"
    );
    println!(
        "acknowledged {acknowledged} deliveries ({:.0} per second, {:.0} events per second), {failures} failed",
        acknowledged as f64 / elapsed,
        (acknowledged * events_per_delivery) as f64 / elapsed
    );
    println!(
        "latency ms: p50 {:.1}, p90 {:.1}, p99 {:.1}, max {:.1}",
        percentile(0.50),
        percentile(0.90),
        percentile(0.99),
        percentile(1.0)
    );
    println!(
        "stored {stored} events; expected {}",
        acknowledged * events_per_delivery
    );
    if stored != acknowledged * events_per_delivery {
        bail!("the store does not hold exactly the acknowledged events");
    }
    Ok(())
}

/// Posts deliveries back to back until `deadline`; returns each
/// acknowledgement's latency and the number of failed deliveries.
async fn send_until(
    client: reqwest::Client,
    url: String,
    counter: Arc<AtomicU64>,
    deadline: Instant,
    events_per_delivery: u64,
) -> (Vec<Duration>, u64) {
    let mut latencies = Vec::new();
    let mut failures = 0;
    while Instant::now() < deadline {
        let first = counter.fetch_add(events_per_delivery, Ordering::Relaxed);
        let body = envelope(first, events_per_delivery);
        let sent = Instant::now();
        let response = client
            .post(&url)
            .header("Authorization", SECRET)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await;
        match response {
            Ok(response) if response.status().is_success() => {
                let _ = response.bytes().await;
                latencies.push(sent.elapsed());
            }
            _ => failures += 1,
        }
    }
    (latencies, failures)
}

/// Builds Okta's envelope around `count` events numbered from `first`.
fn envelope(first: u64, count: u64) -> String {
    let published = idaudit_store::format_time(chrono::Utc::now());
    let events: Vec<String> = (first..first + count)
        .map(|number| {
            format!(
                r#"{{"uuid":"b0ad0000-0000-4000-8000-{number:012}","published":"{published}","eventType":"user.session.start","version":"0","severity":"INFO","legacyEventType":"core.user_auth.login_success","displayMessage":"User login to Okta","actor":{{"id":"00u{number:017}","type":"User","alternateId":"user{number}@example.com","displayName":"User {number}"}},"client":{{"userAgent":{{"rawUserAgent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36","os":"Mac OS X","browser":"CHROME"}},"zone":"null","device":"Computer","ipAddress":"198.51.100.{}","geographicalContext":{{"city":"Lyon","state":"Auvergne-Rhone-Alpes","country":"France","postalCode":"69001","geolocation":{{"lat":45.76,"lon":4.83}}}}}},"authenticationContext":{{"authenticationStep":0,"externalSessionId":"102abcdefghijk{number}"}},"outcome":{{"result":"SUCCESS"}},"target":[],"transaction":{{"type":"WEB","id":"Xabc{number}"}},"debugContext":{{"debugData":{{"requestUri":"/idp/idx/identify","threatSuspected":"false"}}}}}}"#,
                number % 250
            )
        })
        .collect();
    format!(
        r#"{{"eventType":"com.okta.event_hook","eventTypeVersion":"1.0","cloudEventsVersion":"0.1","source":"https://example.okta.com/api/v1/eventHooks/who1","eventId":"load-{first}","eventTime":"{published}","contentType":"application/json","data":{{"events":[{}]}}}}"#,
        events.join(",")
    )
}

fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

fn start_server(folder: &std::path::Path, bind: &str) -> Result<Child> {
    Command::new(idaudit_bench::follow::idaudit_binary()?)
        .current_dir(folder)
        .args(["--store", "idaudit.db", "serve", "--bind", bind])
        .env_remove("IDAUDIT_HOOK_SECRET")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("Failed to start `idaudit serve`")
}

async fn wait_until_listening(bind: &str) -> Result<()> {
    let started = Instant::now();
    while std::net::TcpStream::connect(bind).is_err() {
        if started.elapsed() > Duration::from_secs(30) {
            bail!("`idaudit serve` did not listen on {bind} within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Stops the server with SIGTERM and waits for it.
fn stop_server(server: &mut Child) -> Result<()> {
    Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()?;
    let status = server.wait()?;
    if !status.success() {
        bail!("`idaudit serve` exited with {status}");
    }
    Ok(())
}
