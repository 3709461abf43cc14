//! Workflows in `logs follow` and `serve`: built from `[workflows]` and
//! `[[sinks]]`, fed by both ingestion paths through [`NewEvents`], and
//! run by the workflow worker beside the poller and the delivery worker.

use anyhow::{Context, Result};
use idaudit_collect::workflows::{self, Dispatcher, SinkRef, Worker, WorkerOptions, Workflows};
use idaudit_okta::Client;
use idaudit_store::EventRecord;

use crate::commands::serve::{Shutdown, Submitter};
use crate::commands::sync::open_store;
use crate::settings::{Settings, parse_interval};

/// The workflows in force and the worker that runs their actions.
pub(crate) struct StreamWorkflows {
    pub dispatcher: Dispatcher,
    worker: Worker,
}

impl StreamWorkflows {
    /// Builds the workflows of `settings`, checking filters and sink names.
    pub fn build(settings: &Settings) -> Result<StreamWorkflows> {
        let section = &settings.workflows;
        let sinks = sink_refs(settings)?;
        let built = Workflows::build(section.defaults.unwrap_or(true), &section.custom, &sinks)
            .context("Invalid `[workflows]` configuration")?;
        let mut options = WorkerOptions::default();
        if let Some(text) = &section.refresh_interval {
            options.refresh_interval =
                parse_interval(text).context("Invalid `refresh_interval` in `[workflows]`")?;
        }
        for workflow in built.workflows() {
            tracing::debug!(workflow = %workflow.name, refresh = workflow.refresh, detect = workflow.detect, sinks = workflow.notify.len(), "Workflow loaded");
        }
        let (dispatcher, worker) = workflows::start(built, options);
        Ok(StreamWorkflows { dispatcher, worker })
    }

    /// Returns whether any workflow sends events to detection.
    pub fn detects(&self) -> bool {
        self.dispatcher.workflows().detects()
    }

    /// Runs the worker until `shutdown`. Refreshes use `client`, which
    /// should be the poller's so that both share one rate budget.
    pub async fn run(
        mut self,
        settings: &Settings,
        client: Option<Client>,
        org: &str,
        shutdown: Shutdown,
    ) -> Result<()> {
        let workflows = self.dispatcher.workflows();
        if workflows.is_empty() {
            shutdown.wait().await;
            return Ok(());
        }
        if workflows.refreshes() && client.is_none() {
            tracing::warn!(
                "Workflow refreshes are off: configure an Okta org in `[okta]` for `refresh` to read the directory"
            );
        }
        let mut store = open_store(settings)?;
        store.set_cache_size_kib(crate::commands::serve::SIDE_CACHE_KIB)?;
        self.worker
            .run(&mut store, client.as_ref(), org, shutdown.wait())
            .await;
        let stats = self.worker.stats();
        tracing::info!(
            refreshes = stats.refreshes,
            failed_refreshes = stats.failed_refreshes,
            notifications = stats.notifications,
            "Workflow worker stopped"
        );
        Ok(())
    }
}

/// Returns the configured sinks by name and kind, as `notify:` names them.
fn sink_refs(settings: &Settings) -> Result<Vec<SinkRef>> {
    let sinks = idaudit_detect::build_sinks(&settings.sinks)
        .context("Invalid `[[sinks]]` configuration")?;
    Ok(sinks
        .iter()
        .zip(&settings.sinks)
        .map(|(sink, config)| SinkRef {
            name: sink.name().to_string(),
            kind: config.kind.as_str().to_string(),
        })
        .collect())
}

/// Hands the events each ingestion path stored for the first time to
/// detection and to the workflows. Cheap to clone.
#[derive(Clone)]
pub(crate) struct NewEvents {
    pub detection: Submitter,
    /// Whether every new event goes to detection, or only those of
    /// workflows with a `detect` action (`--no-detect`).
    pub detect_all: bool,
    pub workflows: Dispatcher,
}

impl NewEvents {
    pub fn handle(&self, events: Vec<EventRecord>) {
        let for_detection = self.workflows.dispatch(&events);
        if self.detect_all {
            self.detection.submit(events);
        } else if !for_detection.is_empty() {
            self.detection.submit(for_detection);
        }
    }
}
