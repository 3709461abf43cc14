//! `idaudit serve`: the HTTP server with the Okta event-hook endpoint, and
//! optionally the System Log poller of `idaudit logs follow` in the same
//! process. Also the parts both commands share: stopping on a signal, and
//! detection on events as they are stored.
//!
//! Events reach detection and the workflows once each, whichever source
//! stored them first, because only events new to the store are handed on.
//! Detection runs on its own thread with its own store connection, so that
//! it does not hold up hook acknowledgements. Alerts go to the outbox, and the delivery worker
//! sends them to the sinks.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use idaudit_collect::follow::{FollowOptions, OnCommit, Poller, follow};
use idaudit_detect::{DeliveryWorker, RetryPolicy, build_sinks, latest_by_id};
use idaudit_okta::Client;
use idaudit_server::{EventWriter, HookSettings};
use idaudit_store::{EventRecord, Store};
use tokio::sync::watch;

use crate::args::{ServeArgs, StreamArgs};
use crate::commands::sync::open_store;
use crate::commands::workflows::{NewEvents, StreamWorkflows};
use crate::exit::ExitStatus;
use crate::settings::{Settings, parse_interval};

const DEFAULT_BIND: &str = "127.0.0.1:8080";
/// Environment variable that may hold the event-hook secret.
const HOOK_SECRET_VARIABLE: &str = "IDAUDIT_HOOK_SECRET";
/// Time between two rounds of alert delivery to the sinks.
const DELIVERY_POLL: Duration = Duration::from_secs(5);
/// Page cache of the poller's store connection, in KiB: room for a page of
/// 1,000 events (about 2.5 MB) and the index pages that its duplicate checks
/// read, where the store's default would keep 64 MiB of old events in memory
/// for good. Against 8 MiB it lowered the peak RSS of `logs follow` by about
/// 4 MB at the same CPU time per event.
const POLLER_CACHE_KIB: u32 = 4 * 1024;
/// Page cache, in KiB, of the connections that detection, the delivery
/// worker and the workflow worker write alerts through; SQLite's default.
pub(crate) const SIDE_CACHE_KIB: u32 = 2 * 1024;

pub async fn run(settings: &Settings, args: &ServeArgs) -> Result<ExitStatus> {
    let bind = args
        .bind
        .clone()
        .or_else(|| settings.server.bind.clone())
        .unwrap_or_else(|| DEFAULT_BIND.to_string());
    let address: SocketAddr = bind.parse().with_context(|| {
        format!("Invalid bind address `{bind}`: use IP:PORT, such as `127.0.0.1:8080`")
    })?;
    if args.follow {
        // Checked before binding, so a bad window fails fast.
        follow_options(settings, &args.stream)?;
    }
    crate::memory::return_large_blocks();
    let shutdown = Shutdown::on_signals();
    let workflows = StreamWorkflows::build(settings)?;
    let detection = StreamDetection::start(settings, &args.stream, workflows.detects())?;
    let new_events = NewEvents {
        detection: detection.submitter(),
        detect_all: !args.stream.no_detect,
        workflows: workflows.dispatcher.clone(),
    };
    // The poller and workflow refreshes share one client, so one rate budget.
    let client = if args.follow {
        Some(Client::new(&settings.org_config()?)?)
    } else {
        // Hooks need no org; without one, workflow refreshes are off.
        match settings.org_config().map(|config| Client::new(&config)) {
            Ok(Ok(client)) => Some(client),
            Ok(Err(error)) => {
                tracing::warn!(%error, "Workflow refreshes are off: the Okta client could not be built");
                None
            }
            Err(_) => None,
        }
    };
    let hooks = start_hooks(settings, &new_events)?;
    let hooks_enabled = hooks.is_some();
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("Failed to listen on `{address}`"))?;
    if !address.ip().is_loopback() {
        tracing::warn!(%address, "Listening on a non-loopback address over plain HTTP: terminate TLS in a reverse proxy in front of it");
    }
    tracing::info!(%address, hooks = hooks_enabled, follow = args.follow, "Server listening");
    eprintln!("Listening on http://{address}");

    let app = idaudit_server::app(hooks);
    let server_shutdown = shutdown.clone();
    let server = async {
        let wait = server_shutdown.clone();
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move { wait.wait().await })
            .await
            .context("Server failed");
        server_shutdown.trigger();
        served
    };
    // A failure of any part stops the others.
    let poller = async {
        if !args.follow {
            return Ok(());
        }
        let Some(client) = client.clone() else {
            return Ok(());
        };
        let followed = follow_logs(
            settings,
            &args.stream,
            &new_events,
            client,
            shutdown.clone(),
        )
        .await;
        shutdown.trigger();
        followed
    };
    let delivery = async {
        let delivered = deliver_alerts(settings, shutdown.clone()).await;
        shutdown.trigger();
        delivered
    };
    let org = org_key_for_hooks(settings);
    let acting = async {
        let acted = workflows
            .run(settings, client.clone(), &org, shutdown.clone())
            .await;
        shutdown.trigger();
        acted
    };
    let (served, followed, delivered, acted) = tokio::join!(server, poller, delivery, acting);
    // Detection stops once every handle that submits to it is gone.
    drop(new_events);
    detection.stop();
    served?;
    followed?;
    delivered?;
    acted?;
    eprintln!("Stopped");
    Ok(ExitStatus::Success)
}

/// Starts the event writer when a hook secret is configured; new events go
/// to detection and the workflows.
fn start_hooks(
    settings: &Settings,
    new_events: &NewEvents,
) -> Result<Option<(HookSettings, EventWriter)>> {
    let Some(hook_settings) = hook_settings(settings)? else {
        tracing::warn!(
            "Event hook endpoint off: set `hook_secret_file` in `[server]` or {HOOK_SECRET_VARIABLE}"
        );
        return Ok(None);
    };
    let new_events = new_events.clone();
    // The writer thread ends by itself once the server drops its handle.
    let (writer, _thread) = EventWriter::start(
        open_store(settings)?,
        org_key_for_hooks(settings),
        Box::new(move |events| new_events.handle(events)),
    )
    .context("Failed to start the event writer thread")?;
    Ok(Some((hook_settings, writer)))
}

/// Runs the System Log poller with `client` until `shutdown`, handing new
/// events to detection and the workflows.
pub(crate) async fn follow_logs(
    settings: &Settings,
    args: &StreamArgs,
    new_events: &NewEvents,
    client: Client,
    shutdown: Shutdown,
) -> Result<()> {
    let options = follow_options(settings, args)?;
    let org = settings.org_config()?.org_key();
    let mut store = open_store(settings)?;
    store.set_cache_size_kib(POLLER_CACHE_KIB)?;
    let mut poller = Poller::resume(client, &store, &org, &options)?;
    let mut handler = Submit(new_events.clone());
    let result = follow(
        &mut poller,
        &mut store,
        &options,
        &mut handler,
        shutdown.wait(),
    )
    .await;
    result.with_context(|| format!("Following the System Log of `{org}` failed"))?;
    let stats = poller.stats();
    eprintln!(
        "Followed the System Log of `{org}`: {} requests, {} events, {} new, {} already stored",
        stats.requests, stats.events, stats.inserted, stats.duplicates
    );
    Ok(())
}

/// Builds the poller's options from the flags, then `[logs]`, then defaults.
pub(crate) fn follow_options(settings: &Settings, args: &StreamArgs) -> Result<FollowOptions> {
    let defaults = FollowOptions::default();
    let logs = &settings.logs;
    let poll_interval = match args.poll_interval.as_ref().or(logs.poll_interval.as_ref()) {
        Some(text) => parse_interval(text)?,
        None => defaults.poll_interval,
    };
    let backfill = match args.backfill.as_ref().or(logs.backfill.as_ref()) {
        Some(text) => chrono::Duration::from_std(parse_interval(text)?)
            .with_context(|| format!("Backfill window `{text}` is too long"))?,
        None => defaults.backfill,
    };
    let report_interval = match &logs.report_interval {
        Some(text) => parse_interval(text)?,
        None => defaults.report_interval,
    };
    idaudit_collect::follow::check_backfill(backfill)?;
    Ok(FollowOptions {
        poll_interval,
        backfill,
        report_interval,
    })
}

/// Reads the hook secret from `IDAUDIT_HOOK_SECRET` or `hook_secret_file`.
fn hook_settings(settings: &Settings) -> Result<Option<HookSettings>> {
    let server = &settings.server;
    let secret = match std::env::var(HOOK_SECRET_VARIABLE) {
        Ok(value) if !value.trim().is_empty() => value.trim().to_string(),
        _ => match &server.hook_secret_file {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| {
                    format!("Failed to read the hook secret file `{}`", path.display())
                })?
                .trim()
                .to_string(),
            None => return Ok(None),
        },
    };
    if secret.is_empty() {
        bail!(
            "The event hook secret is empty: write the value Okta sends in the hook's authorization header"
        );
    }
    let mut hook = HookSettings::new(idaudit_okta::Secret::new(secret));
    if let Some(name) = &server.hook_header {
        hook.header = name.parse().with_context(|| {
            format!("Invalid `hook_header` `{name}`: use a header name such as `Authorization`")
        })?;
    }
    if let Some(limit) = server.hook_max_body_bytes {
        hook.max_body_bytes = limit;
    }
    Ok(Some(hook))
}

/// Returns the org key events from hooks are stored under: the configured
/// org's, or `hook` when no org is configured.
fn org_key_for_hooks(settings: &Settings) -> String {
    settings
        .org_config()
        .map(|config| config.org_key())
        .unwrap_or_else(|_| "hook".to_string())
}

/// Sends due alerts to the sinks every few seconds until `shutdown`; with
/// no sinks configured, only waits for it.
pub(crate) async fn deliver_alerts(settings: &Settings, shutdown: Shutdown) -> Result<()> {
    if settings.sinks.is_empty() {
        shutdown.wait().await;
        return Ok(());
    }
    let sinks = build_sinks(&settings.sinks).context("Invalid `[[sinks]]` configuration")?;
    let worker = DeliveryWorker::new(sinks, RetryPolicy::default());
    let store = open_store(settings)?;
    store.set_cache_size_kib(SIDE_CACHE_KIB)?;
    worker
        .run(&store, DELIVERY_POLL, shutdown.wait())
        .await
        .context("Failed to read the alert outbox")
}

/// A stop signal that several tasks can wait on: Ctrl-C, SIGTERM, or a
/// failure of one of them.
#[derive(Clone)]
pub(crate) struct Shutdown {
    sender: std::sync::Arc<watch::Sender<bool>>,
    receiver: watch::Receiver<bool>,
}

impl Shutdown {
    /// Returns a signal that fires on SIGINT or SIGTERM.
    pub fn on_signals() -> Shutdown {
        let (sender, receiver) = watch::channel(false);
        let shutdown = Shutdown {
            sender: std::sync::Arc::new(sender),
            receiver,
        };
        let trigger = shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("Stop requested; finishing the current work");
            trigger.trigger();
        });
        shutdown
    }

    pub fn trigger(&self) {
        self.sender.send_replace(true);
    }

    /// Completes once the signal has fired.
    pub async fn wait(&self) {
        let mut receiver = self.receiver.clone();
        // An error means the sender is gone, which only happens at exit.
        let _ = receiver.wait_for(|stopped| *stopped).await;
    }
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut terminate) = signal(SignalKind::terminate()) else {
        tracing::warn!("Failed to listen for SIGTERM; only Ctrl-C stops idaudit");
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

/// Events handed to detection and not yet checked, above which the System
/// Log poller waits before reading the next page: one page of 1,000. The
/// poller then reads a page while detection checks the one before, and at
/// most two pages of records wait for detection.
const DETECTION_BACKLOG_EVENTS: usize = 1_000;

/// Detection on events as they are stored, on a thread of its own.
pub(crate) struct StreamDetection {
    sender: Option<mpsc::Sender<Vec<EventRecord>>>,
    backlog: Arc<Backlog>,
    thread: Option<JoinHandle<()>>,
}

/// The events waiting for the detection thread, so that the poller can wait
/// for it instead of queueing pages in memory without bound.
#[derive(Default)]
struct Backlog {
    events: AtomicUsize,
    /// Set when the detection thread has ended, so that no writer waits for it.
    stopped: AtomicBool,
    drained: tokio::sync::Notify,
}

impl Backlog {
    /// Counts `events` as checked, and wakes a writer waiting for room.
    fn checked(&self, events: usize) {
        self.events.fetch_sub(events, Ordering::AcqRel);
        self.drained.notify_waiters();
    }
}

/// Marks the backlog stopped when the detection thread ends, also by a panic.
struct StopOnDrop(Arc<Backlog>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stopped.store(true, Ordering::Release);
        self.0.drained.notify_waiters();
    }
}

/// Hands new events to a [`StreamDetection`]; cheap to clone.
#[derive(Clone)]
pub(crate) struct Submitter {
    sender: Option<mpsc::Sender<Vec<EventRecord>>>,
    backlog: Arc<Backlog>,
}

impl Submitter {
    pub fn submit(&self, events: Vec<EventRecord>) {
        let Some(sender) = &self.sender else {
            return;
        };
        let count = events.len();
        self.backlog.events.fetch_add(count, Ordering::AcqRel);
        if sender.send(events).is_err() {
            self.backlog.events.fetch_sub(count, Ordering::AcqRel);
            tracing::error!(
                "Detection has stopped; new events are stored but not checked until `idaudit detect` runs"
            );
        }
    }

    /// Waits until detection has at most [`DETECTION_BACKLOG_EVENTS`] events
    /// left to check, or has stopped. The hook endpoint does not wait, since
    /// Okta gives a delivery 3 s, and its deliveries are small.
    pub async fn wait_for_room(&self) {
        if self.sender.is_none() {
            return;
        }
        loop {
            let drained = self.backlog.drained.notified();
            tokio::pin!(drained);
            // Registered before the check, so a wake-up in between is kept.
            drained.as_mut().enable();
            if self.backlog.stopped.load(Ordering::Acquire)
                || self.backlog.events.load(Ordering::Acquire) <= DETECTION_BACKLOG_EVENTS
            {
                return;
            }
            drained.await;
        }
    }
}

impl StreamDetection {
    /// Loads the rules and starts the detection thread, unless `--no-detect`
    /// is given and no workflow sends events to detection.
    pub fn start(
        settings: &Settings,
        args: &StreamArgs,
        workflows_detect: bool,
    ) -> Result<StreamDetection> {
        if args.no_detect && !workflows_detect {
            return Ok(StreamDetection {
                sender: None,
                backlog: Arc::default(),
                thread: None,
            });
        }
        let sinks = build_sinks(&settings.sinks).context("Invalid `[[sinks]]` configuration")?;
        let sink_names = DeliveryWorker::new(sinks, RetryPolicy::default()).sink_names();
        let store = open_store(settings)?;
        store.set_cache_size_kib(SIDE_CACHE_KIB)?;

        let rule_dirs = args.rule_dirs.clone();
        let detect_settings = settings.detect.clone();
        // The channel itself is unbounded: the poller waits for room through
        // the backlog, and the hook endpoint's deliveries are small.
        let (sender, receiver) = mpsc::channel();
        let backlog = Arc::new(Backlog::default());
        let thread_backlog = Arc::clone(&backlog);
        let (ready, started) = mpsc::sync_channel::<Result<()>>(1);
        // Rules are not `Send`, so the detector is built on its thread.
        let thread = std::thread::Builder::new()
            .name("detection".to_string())
            .spawn(move || {
                let _stop = StopOnDrop(Arc::clone(&thread_backlog));
                let detector = crate::commands::rules::load_rules(&rule_dirs).and_then(|set| {
                    set.detector(detect_settings)
                        .context("Invalid `[detect]` settings")
                });
                match detector {
                    Ok(detector) => {
                        let _ = ready.send(Ok(()));
                        detect_stream(store, detector, &sink_names, &receiver, &thread_backlog);
                    }
                    Err(error) => {
                        let _ = ready.send(Err(error));
                    }
                }
            })
            .context("Failed to start the detection thread")?;
        started
            .recv()
            .context("The detection thread stopped while loading rules")??;
        Ok(StreamDetection {
            sender: Some(sender),
            backlog,
            thread: Some(thread),
        })
    }

    pub fn submitter(&self) -> Submitter {
        Submitter {
            sender: self.sender.clone(),
            backlog: Arc::clone(&self.backlog),
        }
    }

    /// Lets the thread finish the events already handed to it, then joins it.
    pub fn stop(mut self) {
        self.sender = None;
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("The detection thread panicked");
        }
    }
}

/// Runs until every sender is dropped. Each batch is checked in `published`
/// order and its alerts stored, with their deliveries queued for the sinks.
///
/// NOTE: detection state (correlation windows, baselines) lives in memory,
/// so after a restart a correlation that spans the restart starts over, and
/// events stored but not yet checked when the process died are not checked.
/// `idaudit detect` over the same window covers both.
fn detect_stream(
    store: Store,
    mut detector: idaudit_detect::Detector,
    sinks: &[String],
    receiver: &mpsc::Receiver<Vec<EventRecord>>,
    backlog: &Backlog,
) {
    // One event parsed into again and again, which saves most allocations.
    let mut parsed = idaudit_detect::Event::default();
    while let Ok(mut events) = receiver.recv() {
        // Drain what else is waiting, so a burst is one pass.
        while let Ok(more) = receiver.try_recv() {
            events.extend(more);
        }
        events.sort_by(|left, right| left.published.cmp(&right.published));
        let mut alerts = Vec::new();
        for event in &events {
            if detector.parse_into(&event.raw, &mut parsed).is_ok() {
                alerts.extend(detector.observe(&parsed));
            }
        }
        let mut new_alerts = 0;
        for alert in latest_by_id(alerts) {
            let stored = if sinks.is_empty() {
                store.upsert_alert(&alert)
            } else {
                store
                    .upsert_alert_and_queue(&alert, sinks)
                    .map(|queued| queued.upserted)
            };
            match stored {
                Ok(idaudit_store::Upserted::New) => {
                    new_alerts += 1;
                    tracing::info!(alert = %alert.id, rule = %alert.rule, "Raised an alert");
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::error!(alert = %alert.id, %error, "Failed to store an alert");
                }
            }
        }
        backlog.checked(events.len());
        tracing::debug!(events = events.len(), new_alerts, "Checked new events");
    }
}

/// An [`OnCommit`] that hands each page's new events to detection and the workflows.
struct Submit(NewEvents);

impl OnCommit for Submit {
    async fn committed(&mut self, _store: &Store, new_events: Vec<EventRecord>) {
        self.0.handle(new_events);
        self.0.detection.wait_for_room().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(uuid: usize) -> EventRecord {
        EventRecord {
            uuid: format!("event-{uuid}"),
            published: "2026-01-01T00:00:00.000Z".to_string(),
            event_type: "user.session.start".to_string(),
            actor_id: None,
            actor_alternate_id: None,
            outcome_result: None,
            client_ip: None,
            raw: "{}".to_string(),
        }
    }

    fn submitter() -> (Submitter, mpsc::Receiver<Vec<EventRecord>>, Arc<Backlog>) {
        let (sender, receiver) = mpsc::channel();
        let backlog = Arc::new(Backlog::default());
        let submitter = Submitter {
            sender: Some(sender),
            backlog: Arc::clone(&backlog),
        };
        (submitter, receiver, backlog)
    }

    #[tokio::test]
    async fn poller_waits_for_detection_backlog() {
        let (submitter, receiver, backlog) = submitter();
        submitter.submit((0..DETECTION_BACKLOG_EVENTS).map(event).collect());
        submitter.submit(vec![event(DETECTION_BACKLOG_EVENTS)]);
        let waiting = tokio::spawn(async move { submitter.wait_for_room().await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!waiting.is_finished(), "one event over the limit waits");

        let first = receiver.recv().unwrap();
        backlog.checked(first.len());
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("room after the first batch is checked")
            .unwrap();
        assert_eq!(backlog.events.load(Ordering::Acquire), 1);
    }

    #[tokio::test]
    async fn stopped_detection_releases_poller() {
        let (submitter, _receiver, backlog) = submitter();
        submitter.submit((0..=DETECTION_BACKLOG_EVENTS).map(event).collect());
        let waiting = tokio::spawn(async move { submitter.wait_for_room().await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!waiting.is_finished());

        drop(StopOnDrop(backlog));
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("room once detection has stopped")
            .unwrap();
    }
}
