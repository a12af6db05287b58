//! What several parkd instances on one database need from it.
//!
//! - **Hearing the others.** Each instance keeps one dedicated connection that
//!   `LISTEN`s on two channels. `parkd_events` says "I committed events" (the
//!   payload is the sender's instance id): the listener wakes this instance's
//!   outbox dispatcher, which reads every instance's events and hands them to
//!   the engine and the WebSocket subscribers. It is sent *after* commit on a
//!   pooled connection and coalesced ([`spawn_notifier`]): a NOTIFY inside
//!   the booking's transaction would make PostgreSQL serialise every booking's
//!   commit on its notification queue lock. `parkd_lots` carries lot, spot and
//!   rate changes (which have no domain event), and `parkd_revoked` logouts
//!   (every instance must refuse the token), sent inside their transaction
//!   so it arrives exactly when they are visible; the other instances reload
//!   the lot from the database on it. When the listening
//!   connection is lost, notifications may have been missed: on reconnecting
//!   the listener announces [`ClusterChange::Resync`].
//! - **Running jobs once.** [`Leader`] holds a session advisory lock on its own
//!   connection; the instance holding it runs the sweeps. When that instance
//!   or its connection dies, PostgreSQL releases the lock and another instance
//!   takes it at its next tick. Two instances briefly both believing they lead
//!   (a half-open connection) is harmless: every sweep update expects the
//!   status it read, so one of them changes nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use deadpool_postgres::Pool;
use futures::StreamExt;
use parking_core::model::LotId;
use tokio::sync::{Mutex, Notify, broadcast, mpsc};
use tokio_postgres::{AsyncMessage, Client, Config as PgConfig, NoTls};
use uuid::Uuid;

use super::map_err;
use crate::store::{ClusterChange, StoreError};

/// Channel of "events were committed" (payload: the instance id).
pub const EVENTS_CHANNEL: &str = "parkd_events";
/// Channel of lot changes (payload: `INSTANCE LOT`).
pub const LOTS_CHANNEL: &str = "parkd_lots";
/// Channel of revoked access tokens (payload: `INSTANCE JTI EXPIRES_RFC3339`).
pub const REVOKED_CHANNEL: &str = "parkd_revoked";
/// The advisory lock the job leader holds (session-scoped).
pub const JOB_LOCK: i64 = 0x7061_726b_0002;
/// Wait before reconnecting a lost listening connection.
const RECONNECT_DELAY: Duration = Duration::from_millis(500);

/// Opens a connection whose notifications arrive on the returned channel; the
/// channel closes when the connection does.
async fn connect_listening(
    config: &PgConfig,
) -> Result<
    (
        Client,
        mpsc::UnboundedReceiver<tokio_postgres::Notification>,
    ),
    StoreError,
> {
    let (client, mut connection) = config.connect(NoTls).await.map_err(|e| map_err(&e))?;
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(n)) => {
                    if tx.send(n).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "postgres listening connection lost");
                    break;
                }
            }
        }
    });
    client
        .batch_execute(&format!(
            "LISTEN {EVENTS_CHANNEL}; LISTEN {LOTS_CHANNEL}; LISTEN {REVOKED_CHANNEL};"
        ))
        .await
        .map_err(|e| map_err(&e))?;
    Ok((client, rx))
}

/// Listens for the other instances until the store closes (see the module
/// docs).
pub fn spawn_listener(
    config: PgConfig,
    instance: Uuid,
    events_written: Arc<Notify>,
    changes: broadcast::Sender<ClusterChange>,
    closed: Arc<AtomicBool>,
    stop: Arc<Notify>,
) {
    let own = instance.to_string();
    tokio::spawn(async move {
        let mut first = true;
        while !closed.load(Ordering::Acquire) {
            let (client, mut notifications) = match connect_listening(&config).await {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::debug!(error = %e, "cannot listen to postgres yet; will retry");
                    tokio::select! {
                        () = tokio::time::sleep(RECONNECT_DELAY) => {}
                        () = stop.notified() => {}
                    }
                    continue;
                }
            };
            if !first {
                tracing::info!("listening to postgres again; reloading what may have been missed");
                let _ = changes.send(ClusterChange::Resync);
                events_written.notify_one();
            }
            first = false;
            loop {
                let notification = tokio::select! {
                    n = notifications.recv() => n,
                    () = stop.notified() => None,
                };
                let Some(n) = notification else { break };
                match n.channel() {
                    EVENTS_CHANNEL if n.payload() != own => events_written.notify_one(),
                    LOTS_CHANNEL => {
                        let mut parts = n.payload().split(' ');
                        let (Some(from), Some(lot)) = (parts.next(), parts.next()) else {
                            continue;
                        };
                        // This instance's own lot changes are already in its
                        // engine (the lot use cases update it after commit).
                        if from != own
                            && let Ok(lot) = lot.parse::<LotId>()
                        {
                            let _ = changes.send(ClusterChange::Lot(lot));
                        }
                    }
                    REVOKED_CHANNEL => {
                        let mut parts = n.payload().split(' ');
                        if let (Some(from), Some(jti), Some(expires)) =
                            (parts.next(), parts.next(), parts.next())
                            && from != own
                            && let (Ok(jti), Ok(expires_at)) = (
                                jti.parse::<Uuid>(),
                                chrono::DateTime::parse_from_rfc3339(expires),
                            )
                        {
                            let _ = changes.send(ClusterChange::AccessRevoked {
                                jti,
                                expires_at: expires_at.with_timezone(&chrono::Utc),
                            });
                        }
                    }
                    _ => {}
                }
            }
            drop(client);
        }
    });
}

/// Tells the other instances that this one committed events: one NOTIFY per
/// wake-up, however many commits poked it meanwhile.
pub fn spawn_notifier(
    pool: Pool,
    instance: Uuid,
    poke: Arc<Notify>,
    closed: Arc<AtomicBool>,
    stop: Arc<Notify>,
) {
    let payload = instance.to_string();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = poke.notified() => {}
                () = stop.notified() => {}
            }
            if closed.load(Ordering::Acquire) {
                break;
            }
            let sent = async {
                let client = pool.get().await.ok()?;
                client
                    .execute("SELECT pg_notify($1, $2)", &[&EVENTS_CHANNEL, &payload])
                    .await
                    .ok()
            }
            .await;
            if sent.is_none() {
                // The others still poll their outbox; nothing is lost.
                tracing::debug!("could not notify the other instances");
            }
        }
    });
}

/// The job lock: held by at most one instance's dedicated connection.
#[derive(Debug)]
pub struct Leader {
    config: PgConfig,
    /// The connection, and whether it holds the lock.
    connection: Mutex<Option<(Client, bool)>>,
}

impl Leader {
    /// Not connected, not leading.
    pub fn new(config: PgConfig) -> Self {
        Leader {
            config,
            connection: Mutex::new(None),
        }
    }

    /// Whether this instance holds the job lock now, taking it if it is free.
    pub async fn try_lead(&self) -> Result<bool, StoreError> {
        let mut guard = self.connection.lock().await;
        if let Some((client, held)) = guard.as_ref()
            && !client.is_closed()
            && *held
        {
            return Ok(true);
        }
        if guard.as_ref().is_none_or(|(client, _)| client.is_closed()) {
            let (client, connection) = self.config.connect(NoTls).await.map_err(|e| map_err(&e))?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            *guard = Some((client, false));
        }
        let Some((client, held)) = guard.as_mut() else {
            return Ok(false);
        };
        let got: bool = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&JOB_LOCK])
            .await
            .map_err(|e| map_err(&e))?
            .try_get(0)
            .map_err(|e| map_err(&e))?;
        *held = got;
        if got {
            tracing::info!("this instance now runs the background jobs");
        }
        Ok(got)
    }

    /// Gives the lock up (closes its connection).
    pub async fn release(&self) {
        self.connection.lock().await.take();
    }
}
