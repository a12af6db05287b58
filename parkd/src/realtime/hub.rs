//! The hub: one task between the outbox's event bus and the connections.
//!
//! Per event of a lot it counts the lot's availability once (under the
//! engine's read lock, never across an `.await`) and offers the rendered
//! state to the lot's watchers; `seq` is the event's `lot_seq`. It also
//! routes reservation events to their driver and alerts to staff.
//!
//! Availability also changes without an event (a booking's start arriving,
//! a hold lapsing in memory before the sweep writes it), and after an event
//! that frees a spot the store commits before memory is updated. So the hub
//! re-counts a lot shortly after each of its events ([`SETTLE`]) and every
//! watched lot periodically, publishing only when the counts changed.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use parking_core::events::DomainEvent;
use parking_core::model::{LotId, ReservationId};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use crate::state::AppState;
use crate::store::interface::StoredEvent;

/// How long after a lot's event it is counted again: a release is committed
/// before the engine frees the spot, so the count at the event may be a
/// moment early.
pub const SETTLE: Duration = Duration::from_millis(50);

/// Most events taken from the bus in one round.
const MAX_BATCH: usize = 256;

/// Starts the hub. Call before the outbox dispatcher starts, so the hub sees
/// every event it publishes.
pub fn spawn(state: &AppState) -> JoinHandle<()> {
    let events = state.events.subscribe();
    tokio::spawn(run(state.clone(), events))
}

async fn run(state: AppState, mut events: broadcast::Receiver<Arc<StoredEvent>>) {
    let limits = state.realtime.limits.clone();
    let mut recount = tokio::time::interval(Duration::from_millis(limits.recount_interval_ms));
    recount.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let hold_lead = chrono::Duration::seconds(i64::try_from(limits.hold_warning_secs).unwrap_or(0));
    let mut settling: HashSet<LotId> = HashSet::new();
    let mut settle_at = Instant::now();
    // Hold expiries looked up off the hub's path come back here.
    let (found_tx, mut found_rx) = mpsc::channel::<(ReservationId, chrono::DateTime<Utc>)>(1024);
    loop {
        tokio::select! {
            received = events.recv() => match received {
                Ok(first) => {
                    // Whatever else is already waiting goes in the same round:
                    // a hub that fell behind catches up by publishing each lot
                    // once, at its newest event.
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match events.try_recv() {
                            Ok(event) => batch.push(event),
                            Err(_) => break,
                        }
                    }
                    if settling.is_empty() {
                        settle_at = Instant::now() + SETTLE;
                    }
                    settling.extend(handle(&state, &batch, &found_tx));
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    // The counts are re-read from the engine, so watchers get the
                    // right state; `seq` catches up with the lot's next event.
                    tracing::warn!(missed, "the WebSocket hub fell behind the event bus; re-counting every watched lot");
                    state.realtime.registry.recount(&state.engine, None, Utc::now());
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            () = tokio::time::sleep_until(settle_at), if !settling.is_empty() => {
                state.realtime.registry.recount(&state.engine, Some(&settling), Utc::now());
                settling.clear();
            }
            _ = recount.tick() => {
                let now = Utc::now();
                state.realtime.registry.recount(&state.engine, None, now);
                state.realtime.registry.warn_holds(now, hold_lead);
            }
            Some((id, at)) = found_rx.recv() => state.realtime.registry.hold_expires(id, at),
        }
    }
}

/// Publishes a batch of events: reservation events and alerts one by one,
/// each lot's availability once at its newest `seq`. Returns the lots, to be
/// re-counted shortly.
fn handle(
    state: &AppState,
    batch: &[Arc<StoredEvent>],
    found: &mpsc::Sender<(ReservationId, chrono::DateTime<Utc>)>,
) -> Vec<LotId> {
    let registry = &state.realtime.registry;
    let mut newest: Vec<(LotId, u64)> = Vec::new();
    for event in batch {
        let Some(lot) = event.lot_id else {
            continue;
        };
        let seq = event.lot_seq.unwrap_or_default();
        match newest.iter_mut().find(|(l, _)| *l == lot) {
            Some((_, s)) => *s = (*s).max(seq),
            None => newest.push((lot, seq)),
        }
        match &event.payload {
            DomainEvent::AlertRaised { .. } | DomainEvent::AlertAcknowledged { .. } => {
                registry.alert(&state.engine, &event.payload);
            }
            payload => {
                if let Some(held) = registry.reservation_event(payload, event.lot_seq) {
                    look_up_hold(state, held, found.clone());
                }
            }
        }
    }
    let now = Utc::now();
    for (lot, seq) in &newest {
        registry.publish_lot(&state.engine, *lot, *seq, now);
    }
    newest.into_iter().map(|(lot, _)| lot).collect()
}

/// Finds when a hold lapses (the booking event does not say) without making
/// the hub wait for storage.
fn look_up_hold(
    state: &AppState,
    id: ReservationId,
    found: mpsc::Sender<(ReservationId, chrono::DateTime<Utc>)>,
) {
    let store = Arc::clone(&state.store);
    tokio::spawn(async move {
        match store.reservation(id).await {
            Ok(Some(record)) => {
                if let Some(at) = record.reservation.hold_expires_at {
                    // Full means the hub is far behind; the warning is only a courtesy.
                    let _ = found.try_send((id, at));
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(reservation = %id, error = %e, "looking up a hold's expiry failed")
            }
        }
    });
}
