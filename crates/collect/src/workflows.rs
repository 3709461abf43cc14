//! Workflows: System Log event types that trigger actions as events are
//! stored, by `idaudit logs follow` or by the event-hook endpoint of
//! `idaudit serve`.
//!
//! A workflow names the event types it runs `on`, an optional [`filter`] on
//! the event's fields, and its actions:
//!
//! - `refresh` reads the directory again so the store shows what the event
//!   changed, such as a deactivated user's status and lost access. Refreshes
//!   are batched: the [`worker`] runs at most one per refresh interval, which
//!   covers every event that asked for one since the last, and it sends its
//!   requests through the same rate-limited client as the poller.
//! - `detect` hands the event to detection. Streaming detection already
//!   checks every new event unless it was turned off (`--no-detect`), in
//!   which case only the events of workflows with this action are checked.
//! - `notify` stores a workflow alert and queues it in the outbox for every
//!   sink. `notify:NAME` queues it for the sink with that name, or for the
//!   sinks of that kind (`slack`, `webhook`, `jsonl`, `stdout`). The delivery
//!   worker then sends it with retries, so a sink that is down loses nothing.
//!
//! [`DEFAULT_WORKFLOWS`] run unless turned off. Matching an event costs a
//! comparison of its type, and the filter parses the event's JSON only for
//! events of a matching type, so workflows add little to ingestion.

pub mod filter;
pub mod worker;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use idaudit_store::EventRecord;
use serde::Deserialize;
use serde_json::Value;

pub use filter::{Filter, FilterConfig, FilterError};
pub use worker::{Worker, WorkerOptions};

/// One `[[workflows.custom]]` entry of the configuration.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowConfig {
    /// Name in logs and alerts; defaults to the first event type.
    pub name: Option<String>,
    /// Event types that trigger the workflow; a trailing `*` matches a
    /// prefix, as in `user.lifecycle.*`.
    pub on: Vec<String>,
    /// Condition the event must meet as well (see [`filter`]).
    pub filter: Option<FilterConfig>,
    /// `refresh`, `detect`, `notify` or `notify:SINK`.
    pub actions: Vec<String>,
    /// Severity of the alert `notify` raises: `informational`, `low`,
    /// `medium` (default), `high` or `critical`.
    pub severity: Option<String>,
}

/// A built-in workflow.
pub struct DefaultWorkflow {
    pub name: &'static str,
    pub on: &'static [&'static str],
    pub actions: &'static [&'static str],
    pub severity: &'static str,
}

/// The workflows that run unless `[workflows] defaults = false`.
///
/// The OAuth token grants are the System Log event types for an access
/// token issued by a custom authorization server
/// (`app.oauth2.as.token.grant.access_token`) and by the org authorization
/// server (`app.oauth2.token.grant.access_token`), as listed in Okta's
/// event-type catalogue (release 2026.08.1). Neither is eligible for event
/// hooks, so only `logs follow` receives them. They are frequent, so the
/// default only sends them to detection.
pub const DEFAULT_WORKFLOWS: &[DefaultWorkflow] = &[
    DefaultWorkflow {
        name: "user-deactivated",
        on: &["user.lifecycle.deactivate"],
        actions: &["refresh", "detect"],
        severity: "medium",
    },
    DefaultWorkflow {
        name: "privilege-granted",
        on: &["user.account.privilege.grant"],
        actions: &["refresh", "detect", "notify"],
        severity: "high",
    },
    DefaultWorkflow {
        name: "oauth-token-granted",
        on: &[
            "app.oauth2.as.token.grant.access_token",
            "app.oauth2.token.grant.access_token",
        ],
        actions: &["detect"],
        severity: "low",
    },
    DefaultWorkflow {
        name: "user-risk-changed",
        on: &["user.risk.change"],
        actions: &["detect", "notify"],
        severity: "high",
    },
];

/// A sink that `notify` can name: its name in the outbox and its kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SinkRef {
    pub name: String,
    pub kind: String,
}

/// A workflow configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    #[error(
        "Workflow `{workflow}` has no event types: list them in `on`, such as `on = [\"user.lifecycle.deactivate\"]`"
    )]
    NoTrigger { workflow: String },
    #[error(
        "Workflow `{workflow}` has no actions: use `refresh`, `detect`, `notify` or `notify:SINK`"
    )]
    NoAction { workflow: String },
    #[error(
        "Unknown action `{action}` in workflow `{workflow}`: use `refresh`, `detect`, `notify` or `notify:SINK`"
    )]
    UnknownAction { workflow: String, action: String },
    #[error(
        "Workflow `{workflow}` notifies `{sink}`, which is no configured sink name or kind: add a `[[sinks]]` entry or fix the name"
    )]
    UnknownSink { workflow: String, sink: String },
    #[error(
        "Invalid severity `{severity}` in workflow `{workflow}`: use `informational`, `low`, `medium`, `high` or `critical`"
    )]
    InvalidSeverity { workflow: String, severity: String },
    #[error("Invalid filter of workflow `{workflow}`: {source}")]
    Filter {
        workflow: String,
        source: FilterError,
    },
    #[error("Two workflows are named `{0}`: give each `[[workflows.custom]]` entry its own `name`")]
    DuplicateName(String),
}

/// A compiled workflow.
#[derive(Clone, Debug)]
pub struct Workflow {
    pub name: String,
    triggers: Vec<Trigger>,
    filter: Option<Filter>,
    pub refresh: bool,
    pub detect: bool,
    /// Sink names a matching event's alert is queued for.
    pub notify: Vec<String>,
    pub severity: String,
}

#[derive(Clone, Debug)]
enum Trigger {
    Exact(String),
    Prefix(String),
}

impl Trigger {
    fn parse(text: &str) -> Trigger {
        match text.strip_suffix('*') {
            Some(prefix) => Trigger::Prefix(prefix.to_string()),
            None => Trigger::Exact(text.to_string()),
        }
    }

    fn matches(&self, event_type: &str) -> bool {
        match self {
            Trigger::Exact(exact) => exact == event_type,
            Trigger::Prefix(prefix) => event_type.starts_with(prefix.as_str()),
        }
    }
}

impl Workflow {
    fn build(config: &WorkflowConfig, sinks: &[SinkRef]) -> Result<Workflow, WorkflowError> {
        let name = config
            .name
            .clone()
            .or_else(|| config.on.first().cloned())
            .unwrap_or_else(|| "workflow".to_string());
        if config
            .on
            .iter()
            .all(|event_type| event_type.trim().is_empty())
        {
            return Err(WorkflowError::NoTrigger { workflow: name });
        }
        if config.actions.is_empty() {
            return Err(WorkflowError::NoAction { workflow: name });
        }
        let severity = config
            .severity
            .clone()
            .unwrap_or_else(|| "medium".to_string());
        if !matches!(
            severity.as_str(),
            "informational" | "low" | "medium" | "high" | "critical"
        ) {
            return Err(WorkflowError::InvalidSeverity {
                workflow: name,
                severity,
            });
        }
        let filter = match &config.filter {
            Some(filter) => {
                Some(
                    Filter::compile(filter).map_err(|source| WorkflowError::Filter {
                        workflow: name.clone(),
                        source,
                    })?,
                )
            }
            None => None,
        };
        let mut workflow = Workflow {
            triggers: config
                .on
                .iter()
                .map(|event_type| event_type.trim())
                .filter(|event_type| !event_type.is_empty())
                .map(Trigger::parse)
                .collect(),
            filter,
            refresh: false,
            detect: false,
            notify: Vec::new(),
            severity,
            name,
        };
        for action in &config.actions {
            workflow.add_action(action.trim(), sinks)?;
        }
        Ok(workflow)
    }

    fn add_action(&mut self, action: &str, sinks: &[SinkRef]) -> Result<(), WorkflowError> {
        let (verb, argument) = match action.split_once(':') {
            Some((verb, argument)) => (verb, Some(argument.trim())),
            None => (action, None),
        };
        match (verb, argument) {
            ("refresh", None) => self.refresh = true,
            ("detect", None) => self.detect = true,
            ("notify", None) => self.notify = sinks.iter().map(|sink| sink.name.clone()).collect(),
            ("notify", Some(wanted)) => {
                let by_name: Vec<&SinkRef> =
                    sinks.iter().filter(|sink| sink.name == wanted).collect();
                let chosen = if by_name.is_empty() {
                    sinks.iter().filter(|sink| sink.kind == wanted).collect()
                } else {
                    by_name
                };
                if chosen.is_empty() {
                    return Err(WorkflowError::UnknownSink {
                        workflow: self.name.clone(),
                        sink: wanted.to_string(),
                    });
                }
                for sink in chosen {
                    if !self.notify.contains(&sink.name) {
                        self.notify.push(sink.name.clone());
                    }
                }
            }
            _ => {
                return Err(WorkflowError::UnknownAction {
                    workflow: self.name.clone(),
                    action: action.to_string(),
                });
            }
        }
        Ok(())
    }

    /// Returns whether an event of `event_type` can trigger this workflow.
    fn triggered_by(&self, event_type: &str) -> bool {
        self.triggers
            .iter()
            .any(|trigger| trigger.matches(event_type))
    }
}

/// The workflows in force.
#[derive(Clone, Debug, Default)]
pub struct Workflows {
    workflows: Vec<Workflow>,
}

/// The actions that workflows request for one batch of new events.
#[derive(Debug, Default)]
pub struct Plan {
    /// Events a workflow sends to detection, in batch order.
    pub detect: Vec<EventRecord>,
    /// Users and groups that events of `refresh` workflows name.
    pub refresh: RefreshTargets,
    pub notifications: Vec<Notification>,
}

/// The objects a refresh is asked for, and how many events asked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RefreshTargets {
    pub users: BTreeSet<String>,
    pub groups: BTreeSet<String>,
    pub events: u64,
}

impl RefreshTargets {
    pub fn is_empty(&self) -> bool {
        self.events == 0
    }

    pub(crate) fn extend(&mut self, other: RefreshTargets) {
        self.users.extend(other.users);
        self.groups.extend(other.groups);
        self.events += other.events;
    }
}

/// An alert to queue for sinks because an event triggered a `notify` workflow.
#[derive(Clone, Debug)]
pub struct Notification {
    pub workflow: String,
    pub severity: String,
    pub sinks: Vec<String>,
    pub event: EventRecord,
}

impl Workflows {
    /// Builds the default workflows when `defaults` is set, then `custom`.
    /// `sinks` are the configured sinks that `notify` may name.
    pub fn build(
        defaults: bool,
        custom: &[WorkflowConfig],
        sinks: &[SinkRef],
    ) -> Result<Workflows, WorkflowError> {
        let mut workflows = Vec::new();
        if defaults {
            for default in DEFAULT_WORKFLOWS {
                workflows.push(Workflow::build(&default.config(), sinks)?);
            }
        }
        let mut names: BTreeSet<String> = BTreeSet::new();
        for config in custom {
            let workflow = Workflow::build(config, sinks)?;
            if !names.insert(workflow.name.clone()) {
                return Err(WorkflowError::DuplicateName(workflow.name));
            }
            // A custom workflow of a default's name takes its place.
            workflows.retain(|existing| existing.name != workflow.name);
            workflows.push(workflow);
        }
        Ok(Workflows { workflows })
    }

    pub fn is_empty(&self) -> bool {
        self.workflows.is_empty()
    }

    pub fn workflows(&self) -> &[Workflow] {
        &self.workflows
    }

    /// Returns whether any workflow refreshes the directory.
    pub fn refreshes(&self) -> bool {
        self.workflows.iter().any(|workflow| workflow.refresh)
    }

    /// Returns whether any workflow sends events to detection.
    pub fn detects(&self) -> bool {
        self.workflows.iter().any(|workflow| workflow.detect)
    }

    /// Matches `events` against the workflows and returns the actions they ask for.
    pub fn plan(&self, events: &[EventRecord]) -> Plan {
        let mut plan = Plan::default();
        for event in events {
            let mut parsed: Option<Option<Value>> = None;
            let mut detect = false;
            let mut refresh = false;
            for workflow in &self.workflows {
                if !workflow.triggered_by(&event.event_type) {
                    continue;
                }
                if let Some(filter) = &workflow.filter {
                    let value = parsed.get_or_insert_with(|| serde_json::from_str(&event.raw).ok());
                    if !value.as_ref().is_some_and(|value| filter.matches(value)) {
                        continue;
                    }
                }
                detect |= workflow.detect;
                refresh |= workflow.refresh;
                if !workflow.notify.is_empty() {
                    plan.notifications.push(Notification {
                        workflow: workflow.name.clone(),
                        severity: workflow.severity.clone(),
                        sinks: workflow.notify.clone(),
                        event: event.clone(),
                    });
                }
            }
            if detect {
                plan.detect.push(event.clone());
            }
            if refresh {
                let value = parsed.get_or_insert_with(|| serde_json::from_str(&event.raw).ok());
                plan.refresh.extend(named_objects(value.as_ref()));
            }
        }
        plan
    }
}

impl DefaultWorkflow {
    fn config(&self) -> WorkflowConfig {
        WorkflowConfig {
            name: Some(self.name.to_string()),
            on: self.on.iter().map(|text| text.to_string()).collect(),
            filter: None,
            actions: self.actions.iter().map(|text| text.to_string()).collect(),
            severity: Some(self.severity.to_string()),
        }
    }
}

/// Returns the users and groups among an event's targets.
fn named_objects(event: Option<&Value>) -> RefreshTargets {
    let mut targets = RefreshTargets {
        events: 1,
        ..RefreshTargets::default()
    };
    let items = event
        .and_then(|event| event.get("target"))
        .and_then(Value::as_array);
    for target in items.into_iter().flatten() {
        let id = target.get("id").and_then(Value::as_str);
        match (target.get("type").and_then(Value::as_str), id) {
            (Some("User"), Some(id)) => {
                targets.users.insert(id.to_string());
            }
            (Some("UserGroup"), Some(id)) => {
                targets.groups.insert(id.to_string());
            }
            _ => {}
        }
    }
    targets
}

/// Work handed from the ingestion paths to the [`Worker`].
#[derive(Default)]
pub(crate) struct Pending {
    pub refresh: RefreshTargets,
    pub notifications: Vec<Notification>,
    pub stopped: bool,
}

/// Hands matched events' actions to the [`Worker`]. Cheap to clone, and
/// usable from any thread, such as the event writer's.
#[derive(Clone)]
pub struct Dispatcher {
    workflows: Arc<Workflows>,
    pending: Arc<Mutex<Pending>>,
    wake: Arc<tokio::sync::Notify>,
}

impl Dispatcher {
    /// Matches `events` and queues their refresh and notify actions for the
    /// worker without waiting for them. Returns the events that workflows
    /// send to detection.
    pub fn dispatch(&self, events: &[EventRecord]) -> Vec<EventRecord> {
        if self.workflows.is_empty() {
            return Vec::new();
        }
        let plan = self.workflows.plan(events);
        if plan.refresh.is_empty() && plan.notifications.is_empty() {
            return plan.detect;
        }
        match self.pending.lock() {
            Ok(mut pending) if !pending.stopped => {
                pending.refresh.extend(plan.refresh);
                pending.notifications.extend(plan.notifications);
            }
            _ => {
                tracing::warn!(
                    events = events.len(),
                    "The workflow worker has stopped, so workflow actions of new events were not run"
                );
                return plan.detect;
            }
        }
        self.wake.notify_one();
        plan.detect
    }

    /// Returns the workflows in force.
    pub fn workflows(&self) -> &Workflows {
        &self.workflows
    }
}

/// Returns the [`Dispatcher`] for the ingestion paths and the [`Worker`] that runs their actions.
pub fn start(workflows: Workflows, options: WorkerOptions) -> (Dispatcher, Worker) {
    let pending = Arc::new(Mutex::new(Pending::default()));
    let wake = Arc::new(tokio::sync::Notify::new());
    let dispatcher = Dispatcher {
        workflows: Arc::new(workflows),
        pending: Arc::clone(&pending),
        wake: Arc::clone(&wake),
    };
    (dispatcher, Worker::new(pending, wake, options))
}

#[cfg(test)]
mod tests {
    use idaudit_store::EventRecord;
    use serde_json::json;

    use super::{SinkRef, WorkflowConfig, WorkflowError, Workflows};

    fn record(event_type: &str, result: &str) -> EventRecord {
        let raw = json!({
            "uuid": "0a1b2c3d-0000-4000-8000-000000000001",
            "published": "2026-12-04T10:00:00.000Z",
            "eventType": event_type,
            "outcome": {"result": result},
            "target": [{"id": "00u1", "type": "User"}, {"id": "00g1", "type": "UserGroup"}]
        });
        EventRecord {
            uuid: "0a1b2c3d-0000-4000-8000-000000000001".to_string(),
            published: "2026-12-04T10:00:00.000Z".to_string(),
            event_type: event_type.to_string(),
            actor_id: None,
            actor_alternate_id: None,
            outcome_result: Some(result.to_string()),
            client_ip: None,
            raw: raw.to_string(),
        }
    }

    fn sinks() -> Vec<SinkRef> {
        vec![
            SinkRef {
                name: "team".to_string(),
                kind: "slack".to_string(),
            },
            SinkRef {
                name: "siem".to_string(),
                kind: "webhook".to_string(),
            },
        ]
    }

    fn custom(on: &str, filter: Option<&str>, actions: &[&str]) -> WorkflowConfig {
        WorkflowConfig {
            name: None,
            on: vec![on.to_string()],
            filter: filter.map(|text| super::FilterConfig::Expression(text.to_string())),
            actions: actions.iter().map(|action| action.to_string()).collect(),
            severity: None,
        }
    }

    #[test]
    fn defaults_cover_the_documented_event_types() {
        let workflows = Workflows::build(true, &[], &sinks()).unwrap();
        for event_type in [
            "user.lifecycle.deactivate",
            "user.account.privilege.grant",
            "app.oauth2.as.token.grant.access_token",
            "app.oauth2.token.grant.access_token",
            "user.risk.change",
        ] {
            let plan = workflows.plan(&[record(event_type, "SUCCESS")]);
            assert_eq!(plan.detect.len(), 1, "{event_type}");
        }
        let plan = workflows.plan(&[record("user.session.start", "SUCCESS")]);
        assert!(plan.detect.is_empty());
        assert!(Workflows::build(false, &[], &sinks()).unwrap().is_empty());
    }

    #[test]
    fn plan_collects_targets_and_notifications() {
        let workflows = Workflows::build(
            false,
            &[custom(
                "user.lifecycle.*",
                Some(r#"outcome.result == "SUCCESS""#),
                &["refresh", "notify:slack"],
            )],
            &sinks(),
        )
        .unwrap();
        let plan = workflows.plan(&[
            record("user.lifecycle.deactivate", "SUCCESS"),
            record("user.lifecycle.suspend", "FAILURE"),
        ]);
        assert!(plan.detect.is_empty());
        assert_eq!(plan.refresh.events, 1);
        assert!(plan.refresh.users.contains("00u1"));
        assert!(plan.refresh.groups.contains("00g1"));
        assert_eq!(plan.notifications.len(), 1);
        assert_eq!(plan.notifications[0].sinks, vec!["team".to_string()]);
        assert_eq!(plan.notifications[0].workflow, "user.lifecycle.*");
    }

    #[test]
    fn invalid_workflows_rejected() {
        let unknown_sink = custom("user.risk.change", None, &["notify:pager"]);
        assert!(matches!(
            Workflows::build(false, &[unknown_sink], &sinks()),
            Err(WorkflowError::UnknownSink { .. })
        ));
        let unknown_action = custom("user.risk.change", None, &["revoke"]);
        assert!(matches!(
            Workflows::build(false, &[unknown_action], &sinks()),
            Err(WorkflowError::UnknownAction { .. })
        ));
        let bad_filter = custom("user.risk.change", Some("outcome.result ="), &["detect"]);
        assert!(matches!(
            Workflows::build(false, &[bad_filter], &sinks()),
            Err(WorkflowError::Filter { .. })
        ));
        let twice = custom("user.risk.change", None, &["detect"]);
        assert!(matches!(
            Workflows::build(false, &[twice.clone(), twice], &sinks()),
            Err(WorkflowError::DuplicateName(_))
        ));
    }

    #[test]
    fn custom_workflow_replaces_default_of_same_name() {
        let mut quiet = custom("user.account.privilege.grant", None, &["refresh"]);
        quiet.name = Some("privilege-granted".to_string());
        let workflows = Workflows::build(true, &[quiet], &sinks()).unwrap();
        let plan = workflows.plan(&[record("user.account.privilege.grant", "SUCCESS")]);
        assert!(plan.notifications.is_empty());
        assert!(plan.detect.is_empty());
        assert_eq!(plan.refresh.events, 1);
    }
}
