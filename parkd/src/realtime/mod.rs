//! Real-time delivery for `GET /api/v1/ws` (protocol: `parking_api::ws`).
//!
//! - [`hub`] — one task reading the outbox's [`EventBus`](crate::outbox::EventBus):
//!   per lot event it counts the lot's availability once and hands the
//!   rendered state to the lot's watchers; it routes reservation events to
//!   their driver and alerts to staff, re-counts watched lots for changes no
//!   event announces, and warns of lapsing holds.
//! - [`registry`] — who watches what (lots, users, staff), behind one short lock.
//! - [`mailbox`] — per connection, bounded: newest state per lot (coalesced)
//!   plus a small queue for reservation events and alerts.
//! - [`session`] — one connection's protocol: auth, subscribe (snapshot or
//!   replay of missed events), heartbeats, idle timeout, close codes.
//! - [`frames`] — messages rendered once, shared by every recipient.
//!
//! A slow reader never slows the hub or other readers: the hub only pushes
//! into mailboxes, and only the connection's own task waits for its socket.

pub mod frames;
pub mod hub;
pub mod mailbox;
pub mod registry;
pub mod session;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use crate::config::WebSocketLimits;
use registry::{ConnId, Registry};

/// The real-time side of parkd's state.
#[derive(Debug)]
pub struct Realtime {
    /// Who watches what.
    pub registry: Registry,
    /// The configured limits.
    pub limits: WebSocketLimits,
    slots: Arc<Semaphore>,
    next_id: AtomicU64,
    shutdown: watch::Sender<bool>,
}

/// A connection admitted under the connection cap; the slot is free again
/// when this is dropped.
#[derive(Debug)]
pub struct Admission {
    /// The connection's id.
    pub id: ConnId,
    _slot: OwnedSemaphorePermit,
}

impl Realtime {
    /// Nothing connected yet.
    pub fn new(limits: WebSocketLimits) -> Realtime {
        Realtime {
            registry: Registry::default(),
            slots: Arc::new(Semaphore::new(limits.max_connections)),
            limits,
            next_id: AtomicU64::new(1),
            shutdown: watch::channel(false).0,
        }
    }

    /// A slot for a new connection; `None` at the connection cap.
    pub fn admit(&self) -> Option<Admission> {
        let slot = Arc::clone(&self.slots).try_acquire_owned().ok()?;
        Some(Admission {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            _slot: slot,
        })
    }

    /// Open connections.
    pub fn open_connections(&self) -> usize {
        self.limits
            .max_connections
            .saturating_sub(self.slots.available_permits())
    }

    /// Becomes `true` when sessions must close (graceful shutdown).
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Asks every session to close with `GOING_AWAY`.
    pub fn shut_down(&self) {
        self.shutdown.send_replace(true);
    }

    /// Waits until every session has closed, at most `limit`.
    pub async fn closed(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while self.open_connections() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
