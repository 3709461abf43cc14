//! The event-hook sender: delivers System Log events stored after the server started
//! to a configured hook target, the way Okta's event hooks do.
//!
//! Before the first delivery, the target is verified once. It must respond to a `GET`
//! with the header `X-Okta-Verification-Challenge` with `{"verification": "<the
//! challenge>"}`, and a target that fails verification gets no deliveries. Deliveries are
//! `POST`s of Okta's envelope (`eventType` `com.okta.event_hook`, `cloudEventsVersion`
//! `0.1`, the events in `data.events`) with the configured authorization header. A
//! delivery that times out after 3 seconds or gets a 5xx is sent once more.
//!
//! New events are looked for every [`POLL_INTERVAL`]; one delivery carries the events
//! of one look. With [`EventHook::duplicate_and_reorder`], a look with two or more
//! events is split in two deliveries sent second half first, and the first half is
//! sent twice.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};

use super::AppState;
use crate::ids::{object_id, uuid_v4};
use crate::time::format_okta;

/// Time between two looks for new events.
const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// Okta waits this long for the target's response.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(3);

/// An event hook registered in the simulated org.
#[derive(Clone, Debug, PartialEq)]
pub struct EventHook {
    /// URL of the hook target; the simulator sends to it from loopback.
    pub url: String,
    /// Header sent with every request, e.g. `("Authorization", "secret")`.
    pub authorization: Option<(String, String)>,
    /// Event types to deliver; every type when empty.
    pub event_types: Vec<String>,
    /// Deliver events twice and out of order, as Okta's at-least-once delivery allows.
    pub duplicate_and_reorder: bool,
}

/// Starts the sender for `hook`; it stops when the server's state is dropped.
pub(crate) fn spawn(state: &Arc<AppState>, hook: EventHook) {
    let weak = Arc::downgrade(state);
    let delivered = state.read_org().events.len();
    tokio::spawn(async move {
        let client = match reqwest::Client::builder().timeout(DELIVERY_TIMEOUT).build() {
            Ok(client) => client,
            Err(error) => {
                tracing::error!(%error, "Failed to build the event hook client");
                return;
            }
        };
        let sender = Sender {
            client,
            hook,
            hook_id: object_id(&mut rand::thread_rng(), "who"),
        };
        if !sender.verify().await {
            return;
        }
        sender.deliver_new_events(weak, delivered).await;
    });
}

struct Sender {
    client: reqwest::Client,
    hook: EventHook,
    hook_id: String,
}

impl Sender {
    fn request(&self, method: reqwest::Method) -> reqwest::RequestBuilder {
        let mut request = self.client.request(method, &self.hook.url);
        if let Some((name, value)) = &self.hook.authorization {
            request = request.header(name, value);
        }
        request
    }

    /// Sends the one-time verification request and checks the echoed challenge.
    async fn verify(&self) -> bool {
        let challenge = uuid_v4(&mut rand::thread_rng());
        let response = self
            .request(reqwest::Method::GET)
            .header("X-Okta-Verification-Challenge", &challenge)
            .send()
            .await;
        let echoed = match response {
            Ok(response) => response.json::<Value>().await.ok(),
            Err(error) => {
                tracing::warn!(url = self.hook.url, %error, "Event hook verification failed");
                return false;
            }
        };
        let verified = echoed
            .as_ref()
            .and_then(|body| body.get("verification"))
            .and_then(Value::as_str)
            == Some(challenge.as_str());
        if !verified {
            tracing::warn!(
                url = self.hook.url,
                "Event hook target did not echo the verification challenge"
            );
        }
        verified
    }

    async fn deliver_new_events(&self, state: std::sync::Weak<AppState>, mut delivered: usize) {
        loop {
            tokio::time::sleep(POLL_INTERVAL).await;
            let Some(state) = state.upgrade() else {
                return;
            };
            let events: Vec<Value> = {
                let org = state.read_org();
                let new = org.events.get(delivered..).unwrap_or_default();
                delivered = org.events.len();
                new.iter()
                    .filter(|event| self.selects(event.event_type()))
                    .map(crate::model::LogEvent::to_value)
                    .collect()
            };
            drop(state);
            if events.is_empty() {
                continue;
            }
            for batch in self.batches(events) {
                self.deliver(batch).await;
            }
        }
    }

    fn selects(&self, event_type: &str) -> bool {
        self.hook.event_types.is_empty()
            || self
                .hook
                .event_types
                .iter()
                .any(|wanted| wanted == event_type)
    }

    /// Splits the events of one look into deliveries, duplicated and reordered if asked.
    fn batches(&self, mut events: Vec<Value>) -> Vec<Vec<Value>> {
        if !self.hook.duplicate_and_reorder || events.len() < 2 {
            return vec![events];
        }
        let second = events.split_off(events.len() / 2);
        vec![second, events.clone(), events]
    }

    /// Posts one envelope, and once more after a timeout or a 5xx.
    async fn deliver(&self, events: Vec<Value>) {
        let envelope = json!({
            "eventType": "com.okta.event_hook",
            "eventTypeVersion": "1.0",
            "cloudEventsVersion": "0.1",
            "source": format!("https://simulator/api/v1/eventHooks/{}", self.hook_id),
            "eventId": uuid_v4(&mut rand::thread_rng()),
            "data": {"events": events},
            "eventTime": format_okta(Utc::now()),
            "contentType": "application/json",
        });
        for attempt in 1..=2 {
            let result = self
                .request(reqwest::Method::POST)
                .json(&envelope)
                .send()
                .await;
            let retry = match &result {
                Ok(response) => response.status().is_server_error(),
                Err(error) => error.is_timeout(),
            };
            if !retry {
                return;
            }
            tracing::warn!(url = self.hook.url, attempt, "Event hook delivery failed");
        }
    }
}
