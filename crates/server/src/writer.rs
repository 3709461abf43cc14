//! Group commit of event-hook deliveries.
//!
//! One thread owns a store connection. Handlers send their events over a
//! channel and wait for the reply. The thread takes every delivery waiting at
//! that moment, commits them in one transaction, then replies to each. Under
//! load this turns many small commits into a few larger ones, and SQLite
//! allows one writer at a time anyway.

use std::thread::JoinHandle;

use idaudit_store::{EventRecord, Store};
use tokio::sync::{mpsc, oneshot};

/// Deliveries waiting in the channel before handlers wait for room.
const QUEUE_LENGTH: usize = 4096;
/// Maximum events committed in one transaction.
const MAX_GROUP_EVENTS: usize = 20_000;

/// Called on the writer thread after each commit with the events that were
/// new, for example to hand them to detection.
pub type OnNewEvents = Box<dyn FnMut(Vec<EventRecord>) + Send>;

/// The reason a write was not committed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("the event writer has stopped")]
    Stopped,
    #[error("failed to store events")]
    Store,
}

/// Counts of one delivery's events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Written {
    pub inserted: u64,
    pub duplicates: u64,
}

struct WriteRequest {
    events: Vec<EventRecord>,
    reply: oneshot::Sender<Result<Written, WriteError>>,
}

/// A handle that sends events to the writer thread. Cheap to clone.
#[derive(Clone)]
pub struct EventWriter {
    sender: mpsc::Sender<WriteRequest>,
}

impl EventWriter {
    /// Starts the writer thread on `store`, storing events for `org` with
    /// source `hook`. The thread ends once every handle is dropped.
    pub fn start(
        store: Store,
        org: String,
        on_new: OnNewEvents,
    ) -> std::io::Result<(EventWriter, JoinHandle<()>)> {
        let (sender, receiver) = mpsc::channel(QUEUE_LENGTH);
        let thread = std::thread::Builder::new()
            .name("event-writer".to_string())
            .spawn(move || run(store, &org, receiver, on_new))?;
        Ok((EventWriter { sender }, thread))
    }

    /// Commits `events` and returns how many were new.
    pub async fn write(&self, events: Vec<EventRecord>) -> Result<Written, WriteError> {
        let (reply, replied) = oneshot::channel();
        self.sender
            .send(WriteRequest { events, reply })
            .await
            .map_err(|_| WriteError::Stopped)?;
        replied.await.map_err(|_| WriteError::Stopped)?
    }
}

fn run(
    mut store: Store,
    org: &str,
    mut receiver: mpsc::Receiver<WriteRequest>,
    mut on_new: OnNewEvents,
) {
    while let Some(first) = receiver.blocking_recv() {
        let mut group = vec![first];
        let mut events = group[0].events.len();
        while events < MAX_GROUP_EVENTS {
            match receiver.try_recv() {
                Ok(request) => {
                    events += request.events.len();
                    group.push(request);
                }
                Err(_) => break,
            }
        }
        let new = commit(&mut store, org, &mut group);
        if !new.is_empty() {
            on_new(new);
        }
    }
    tracing::debug!("Event writer stopped");
}

/// Commits one group, replies to each request and returns the new events.
fn commit(store: &mut Store, org: &str, group: &mut Vec<WriteRequest>) -> Vec<EventRecord> {
    let mut all = Vec::new();
    let mut bounds = Vec::with_capacity(group.len());
    for request in group.iter_mut() {
        let start = all.len();
        all.append(&mut request.events);
        bounds.push(start..all.len());
    }
    let positions = match store.insert_new_events(org, "hook", &all, None) {
        Ok(positions) => positions,
        Err(error) => {
            tracing::error!(%error, deliveries = group.len(), events = all.len(), "Failed to store event hook deliveries");
            for request in group.drain(..) {
                let _ = request.reply.send(Err(WriteError::Store));
            }
            return Vec::new();
        }
    };

    for (request, range) in group.drain(..).zip(bounds) {
        // Positions are ascending, so the new events of one request are a run.
        let inserted = (positions.partition_point(|position| *position < range.end)
            - positions.partition_point(|position| *position < range.start))
            as u64;
        let written = Written {
            inserted,
            duplicates: range.len() as u64 - inserted,
        };
        // A handler whose client went away no longer waits for the reply.
        let _ = request.reply.send(Ok(written));
    }
    let mut new = Vec::with_capacity(positions.len());
    let mut all: Vec<Option<EventRecord>> = all.into_iter().map(Some).collect();
    for position in positions {
        if let Some(event) = all[position].take() {
            new.push(event);
        }
    }
    new
}
