//! The outbox dispatcher (DESIGN.md invariant 4): every domain event is written
//! to the `events` table in the same transaction as its change; this module
//! reads that table after the persisted cursor, in `seq` order, hands each
//! event to the in-process [`EventBus`], and only then advances the cursor.
//!
//! Guarantees:
//! - **In order per lot** (and overall): one dispatcher reads in `seq` order.
//!   SQLite has one writer, so a smaller `seq` always commits before a larger
//!   one and the dispatcher never skips a row that commits later.
//! - **At least once**: the cursor moves after publishing; a crash in between
//!   publishes that batch again after the restart.
//! - **Nothing lost across a restart**: the cursor is in the database, and the
//!   dispatcher resumes after it.
//!
//! It wakes when a write with events commits (the store's
//! [`Store::events_written`](crate::store::interface::Store::events_written)
//! `Notify`), and polls every [`POLL_INTERVAL`] as a safety net.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::state::AppState;
use crate::store::StoreError;
use crate::store::interface::{Store, StoredEvent};

/// Most events read from the outbox in one go.
pub const BATCH: u32 = 500;
/// How often the dispatcher looks at the outbox without being woken.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How long the dispatcher waits after a storage error before retrying.
const RETRY_DELAY: Duration = Duration::from_millis(500);
/// Events buffered per subscriber; a subscriber that falls further behind
/// misses events (`RecvError::Lagged`) and can replay them with
/// `GET /api/v1/events`.
pub const BUS_CAPACITY: usize = 4096;

/// The in-process channel published events go to; WebSocket sessions and other
/// consumers [`subscribe`](EventBus::subscribe).
#[derive(Clone, Debug)]
pub struct EventBus {
    sender: broadcast::Sender<Arc<StoredEvent>>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus::new(BUS_CAPACITY)
    }
}

impl EventBus {
    /// A bus keeping up to `capacity` events per subscriber.
    pub fn new(capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity.max(1));
        EventBus { sender }
    }

    /// Receives every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<StoredEvent>> {
        self.sender.subscribe()
    }

    /// Hands `event` to every current subscriber; with none it is simply
    /// dropped (the outbox keeps it for replay).
    pub fn publish(&self, event: StoredEvent) {
        // `send` fails only when nobody is subscribed, which is not an error here.
        let _ = self.sender.send(Arc::new(event));
    }
}

/// Publishes the events after `cursor` (at most [`BATCH`]) and persists the new
/// cursor; returns it and how many events were published.
pub async fn dispatch_batch(
    store: &dyn Store,
    bus: &EventBus,
    cursor: u64,
) -> Result<(u64, usize), StoreError> {
    let events = store.events_after(cursor, None, None, BATCH).await?;
    let Some(last) = events.last().map(|e| e.seq) else {
        return Ok((cursor, 0));
    };
    let count = events.len();
    for event in events {
        bus.publish(event);
    }
    store.set_published_cursor(last).await?;
    Ok((last, count))
}

/// The dispatcher loop; runs until aborted.
pub async fn run(store: Arc<dyn Store>, bus: EventBus) {
    let written = store.events_written();
    let mut cursor: Option<u64> = None;
    loop {
        let current = match cursor {
            Some(c) => c,
            None => match store.published_cursor().await {
                Ok(c) => {
                    tracing::info!(cursor = c, "event dispatcher resumes");
                    c
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reading the event cursor failed; will retry");
                    tokio::time::sleep(RETRY_DELAY).await;
                    continue;
                }
            },
        };
        match dispatch_batch(store.as_ref(), &bus, current).await {
            // A full batch: there may be more right away.
            Ok((next, n)) if n >= BATCH as usize => cursor = Some(next),
            Ok((next, _)) => {
                cursor = Some(next);
                tokio::select! {
                    () = written.notified() => {}
                    () = tokio::time::sleep(POLL_INTERVAL) => {}
                }
            }
            Err(e) => {
                // The cursor may or may not have moved: read it again, which at
                // worst publishes the batch twice (at least once).
                tracing::warn!(error = %e, "publishing events failed; will retry");
                cursor = None;
                tokio::time::sleep(RETRY_DELAY).await;
            }
        }
    }
}

/// Starts the dispatcher over the state's store and bus.
pub fn spawn_dispatcher(state: &AppState) -> JoinHandle<()> {
    tokio::spawn(run(Arc::clone(&state.store), state.events.clone()))
}
