//! The outbox dispatcher (DESIGN.md invariant 4): every domain event is written
//! to the `events` table in the same transaction as its change; this module
//! reads that table after the persisted cursor, in `seq` order, hands each
//! event to the in-process [`EventBus`], and only then advances the cursor.
//!
//! Guarantees:
//! - **In order per lot** (and overall): one dispatcher reads in `seq` order.
//!   SQLite has one writer, so a smaller `seq` always commits before a larger
//!   one and the dispatcher never skips a row that commits later. PostgreSQL
//!   has many writers; it numbers events after they commit so the same holds
//!   (see `store/postgres/events.rs`), and each instance's dispatcher
//!   publishes every instance's events, starting after its start-up snapshot.
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
    // Several instances on one database: each publishes every event to its
    // own subscribers and engine, starting after what its start-up snapshot
    // holds; the shared persisted cursor only records progress.
    let clustered = store.cluster().is_some();
    let mut cursor: Option<u64> = store.cluster().map(|c| c.snapshot_seq());
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
                if !clustered {
                    cursor = None;
                }
                tokio::time::sleep(RETRY_DELAY).await;
            }
        }
    }
}

/// Starts the dispatcher over the state's store and bus.
pub fn spawn_dispatcher(state: &AppState) -> JoinHandle<()> {
    tokio::spawn(run(Arc::clone(&state.store), state.events.clone()))
}

/// Starts the publishers to the outside that `state`'s config asks for (Kafka
/// with `kafka_brokers`). Each reads the outbox after its own cursor, so none
/// of them can hold back the in-process bus or another.
pub fn spawn_publishers(state: &AppState) -> Vec<JoinHandle<()>> {
    #[cfg(feature = "kafka")]
    let kafka = crate::kafka::spawn(state);
    // Without the feature, `app::build` refuses a config that names brokers.
    #[cfg(not(feature = "kafka"))]
    let kafka: Option<JoinHandle<()>> = {
        let _ = state;
        None
    };
    kafka.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use parking_core::events::DomainEvent;
    use parking_core::model::{TenantId, UserId};

    use super::*;
    use crate::store::sqlite::store::SqliteStore;
    use crate::store::sqlite::{SqliteDb, SqliteOptions};

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = SqliteDb::open(&dir.path().join("o.db"), SqliteOptions::default()).expect("open");
        (dir, SqliteStore::new(db))
    }

    async fn register(store: &SqliteStore, n: usize) {
        let id = UserId::new();
        let user = crate::store::interface::UserRecord {
            id,
            email: format!("u{n}@example.com"),
            password_hash: "h".into(),
            first_name: "U".into(),
            last_name: "Ser".into(),
            phone_enc: None,
            roles: vec![crate::auth::Role::Driver],
            tenant_id: None::<TenantId>,
            created_at: chrono::Utc::now(),
        };
        store
            .create_user(
                user,
                DomainEvent::UserRegistered {
                    user_id: id,
                    tenant_id: None,
                },
            )
            .await
            .expect("user");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_is_published_in_order_then_the_cursor_moves() {
        let (_dir, store) = store();
        let bus = EventBus::new(16);
        let mut rx = bus.subscribe();
        assert_eq!(
            dispatch_batch(&store, &bus, 0).await.expect("empty"),
            (0, 0)
        );
        for n in 0..3 {
            register(&store, n).await;
        }
        assert_eq!(
            dispatch_batch(&store, &bus, 0).await.expect("three"),
            (3, 3)
        );
        for seq in 1..=3 {
            assert_eq!(rx.recv().await.expect("event").seq, seq);
        }
        assert_eq!(store.published_cursor().await.expect("cursor"), 3);
        assert_eq!(
            dispatch_batch(&store, &bus, 3).await.expect("nothing new"),
            (3, 0)
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_with_events_wakes_the_dispatcher_before_the_poll() {
        let (_dir, store) = store();
        let written = store.events_written();
        let wait = tokio::spawn(async move { written.notified().await });
        register(&store, 0).await;
        tokio::time::timeout(POLL_INTERVAL / 2, wait)
            .await
            .expect("woken well before the poll interval")
            .expect("task");
    }

    #[test]
    fn publishing_without_subscribers_drops_the_event_and_the_bus_carries_on() {
        let event = |seq| StoredEvent {
            seq,
            lot_id: None,
            lot_seq: None,
            event_type: "user_registered".into(),
            payload: DomainEvent::UserRegistered {
                user_id: UserId::new(),
                tenant_id: None,
            },
            occurred_at: chrono::Utc::now(),
        };
        let bus = EventBus::default();
        bus.publish(event(1));
        let mut rx = bus.subscribe();
        bus.publish(event(2));
        assert_eq!(rx.try_recv().expect("the later event").seq, 2);
        assert!(rx.try_recv().is_err(), "the event nobody heard is not kept");
    }
}
