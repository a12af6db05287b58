//! [`Mailbox`]: what is waiting to be written to one connection, bounded
//! whatever the reader does.
//!
//! - Availability is **coalesced**: one slot per watched lot holds the newest
//!   state, so a reader that falls behind gets the latest counts, never a
//!   backlog. Its size is bounded by the subscription cap.
//! - Reservation events and alerts cannot be merged: they wait in a small
//!   queue. When it is full the mailbox is marked overflowed and the session
//!   closes the connection with `SLOW_CONSUMER`; nothing more is queued.
//!
//! Producers (the hub) only take a short `std` mutex and never wait for the
//! socket; the session task drains the mailbox when woken.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use parking_core::model::LotId;
use tokio::sync::Notify;

use super::frames::{Frame, LotFrames};

/// The outgoing side of one connection.
#[derive(Debug)]
pub struct Mailbox {
    pending: Mutex<Pending>,
    wake: Notify,
    queue_capacity: usize,
}

#[derive(Debug, Default)]
struct Pending {
    lots: HashMap<LotId, Slot>,
    /// Lots whose slot has a state to send, in the order they first changed.
    dirty: VecDeque<LotId>,
    queue: VecDeque<Frame>,
    overflowed: bool,
}

#[derive(Debug)]
struct Slot {
    /// The newest state not yet written.
    frames: Option<Arc<LotFrames>>,
    /// Nothing of this lot was written yet: the next state goes as a snapshot.
    fresh: bool,
    /// The session is replaying missed events of this lot: keep the newest
    /// state but do not send it until the replay is written.
    held: bool,
}

/// What [`Mailbox::take`] found.
#[derive(Debug, Default, PartialEq)]
pub struct Taken {
    /// Frames to write, in order.
    pub frames: Vec<Frame>,
    /// The queue overflowed: close the connection as a slow consumer.
    pub overflowed: bool,
}

impl Mailbox {
    /// An empty mailbox whose queue holds up to `queue_capacity` frames.
    pub fn new(queue_capacity: usize) -> Mailbox {
        Mailbox {
            pending: Mutex::new(Pending::default()),
            wake: Notify::new(),
            queue_capacity: queue_capacity.max(1),
        }
    }

    fn pending(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts watching `lot` with `frames` as its first state, sent as a
    /// snapshot. With `held`, nothing of the lot is sent until
    /// [`release`](Self::release) (the session replays missed events first).
    pub fn watch(&self, lot: LotId, frames: Arc<LotFrames>, held: bool) {
        let mut pending = self.pending();
        let slot = Slot {
            frames: (!held).then_some(frames),
            fresh: !held,
            held,
        };
        pending.lots.insert(lot, slot);
        if !held {
            pending.dirty.push_back(lot);
            drop(pending);
            self.wake.notify_one();
        }
    }

    /// Stops watching `lot`; a state not yet written is dropped.
    pub fn unwatch(&self, lot: LotId) {
        let mut pending = self.pending();
        pending.lots.remove(&lot);
        pending.dirty.retain(|l| *l != lot);
    }

    /// The newest state of a watched lot; replaces one not yet written.
    /// Ignored for lots not watched.
    pub fn offer(&self, lot: LotId, frames: &Arc<LotFrames>) {
        let mut pending = self.pending();
        let Some(slot) = pending.lots.get_mut(&lot) else {
            return;
        };
        let was_waiting = slot.frames.is_some();
        slot.frames = Some(Arc::clone(frames));
        if slot.held || was_waiting {
            return;
        }
        pending.dirty.push_back(lot);
        drop(pending);
        self.wake.notify_one();
    }

    /// Ends a replay of `lot`: the newest state arrived meanwhile is sent, or
    /// `now` if none did. With `as_snapshot` (the replay failed), it goes as a
    /// snapshot.
    pub fn release(&self, lot: LotId, now: Arc<LotFrames>, as_snapshot: bool) {
        let mut pending = self.pending();
        let Some(slot) = pending.lots.get_mut(&lot) else {
            return;
        };
        if !slot.held {
            return;
        }
        slot.held = false;
        slot.fresh = as_snapshot;
        // The hub's state is never older than `now`, which was read under the
        // same lock it publishes under.
        if slot.frames.is_none() {
            slot.frames = Some(now);
        }
        pending.dirty.push_back(lot);
        drop(pending);
        self.wake.notify_one();
    }

    /// Queues a frame that cannot be coalesced. Returns false (and marks the
    /// mailbox overflowed) when the queue is full.
    pub fn push(&self, frame: Frame) -> bool {
        let mut pending = self.pending();
        if pending.overflowed {
            return false;
        }
        if pending.queue.len() >= self.queue_capacity {
            pending.overflowed = true;
            pending.queue.clear();
            drop(pending);
            self.wake.notify_one();
            return false;
        }
        pending.queue.push_back(frame);
        drop(pending);
        self.wake.notify_one();
        true
    }

    /// Takes everything waiting: queued frames first, then each changed lot's
    /// newest state.
    pub fn take(&self) -> Taken {
        let mut pending = self.pending();
        if pending.overflowed {
            return Taken {
                frames: Vec::new(),
                overflowed: true,
            };
        }
        let mut frames: Vec<Frame> = pending.queue.drain(..).collect();
        let dirty = std::mem::take(&mut pending.dirty);
        for lot in dirty {
            let Some(slot) = pending.lots.get_mut(&lot) else {
                continue;
            };
            if slot.held {
                continue;
            }
            if let Some(state) = slot.frames.take() {
                frames.push(if slot.fresh {
                    state.snapshot.clone()
                } else {
                    state.update.clone()
                });
                slot.fresh = false;
            }
        }
        Taken {
            frames,
            overflowed: false,
        }
    }

    /// Waits until something may be waiting (spurious wake-ups are possible:
    /// [`take`](Self::take) may then find nothing).
    pub async fn wait(&self) {
        self.wake.notified().await;
    }

    /// Marks the connection as too slow and wakes its session.
    pub fn overflow(&self) {
        self.pending().overflowed = true;
        self.wake.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use parking_core::model::{KindCounts, SpotKind};

    use super::*;
    use crate::realtime::frames::seqs;

    fn state(lot: LotId, seq: u64, free: u32) -> Arc<LotFrames> {
        let mut available = KindCounts::default();
        available.set(SpotKind::Regular, free);
        Arc::new(LotFrames::new(lot, seq, available, available, Utc::now()))
    }

    #[test]
    fn a_slow_reader_gets_the_snapshot_then_only_the_newest_state() {
        let lot = LotId::new();
        let mailbox = Mailbox::new(4);
        mailbox.watch(lot, state(lot, 1, 5), false);
        let first = mailbox.take();
        assert_eq!(seqs(&first.frames), vec![("snapshot".to_owned(), 1)]);
        for seq in 2..=50 {
            mailbox.offer(lot, &state(lot, seq, 5));
        }
        assert_eq!(
            seqs(&mailbox.take().frames),
            vec![("availability_update".to_owned(), 50)],
            "49 changes coalesce into the newest"
        );
        assert_eq!(mailbox.take(), Taken::default());
    }

    #[test]
    fn an_update_before_the_snapshot_is_written_is_sent_as_the_snapshot() {
        let lot = LotId::new();
        let mailbox = Mailbox::new(4);
        mailbox.watch(lot, state(lot, 1, 5), false);
        mailbox.offer(lot, &state(lot, 2, 4));
        assert_eq!(
            seqs(&mailbox.take().frames),
            vec![("snapshot".to_owned(), 2)]
        );
    }

    #[test]
    fn a_held_lot_sends_nothing_until_released_then_the_newest_state() {
        let lot = LotId::new();
        let mailbox = Mailbox::new(4);
        mailbox.watch(lot, state(lot, 3, 5), true);
        mailbox.offer(lot, &state(lot, 4, 4));
        assert!(mailbox.take().frames.is_empty(), "held while replaying");
        mailbox.release(lot, state(lot, 3, 5), false);
        assert_eq!(
            seqs(&mailbox.take().frames),
            vec![("availability_update".to_owned(), 4)]
        );
        let other = LotId::new();
        mailbox.watch(other, state(other, 7, 1), true);
        mailbox.release(other, state(other, 7, 1), false);
        assert_eq!(
            seqs(&mailbox.take().frames),
            vec![("availability_update".to_owned(), 7)],
            "nothing arrived meanwhile: the state at the replay's end"
        );
    }

    #[test]
    fn a_full_queue_marks_the_mailbox_overflowed_and_frees_it() {
        let mailbox = Mailbox::new(2);
        assert!(mailbox.push(Frame::from_static("a")));
        assert!(mailbox.push(Frame::from_static("b")));
        assert!(!mailbox.push(Frame::from_static("c")));
        assert!(!mailbox.push(Frame::from_static("d")), "stays overflowed");
        let taken = mailbox.take();
        assert!(taken.overflowed);
        assert!(taken.frames.is_empty());
    }

    #[test]
    fn queued_frames_go_before_lot_states_and_unwatched_lots_are_dropped() {
        let (a, b) = (LotId::new(), LotId::new());
        let mailbox = Mailbox::new(8);
        mailbox.watch(a, state(a, 1, 1), false);
        mailbox.watch(b, state(b, 1, 1), false);
        mailbox.unwatch(b);
        mailbox.offer(b, &state(b, 2, 1));
        assert!(mailbox.push(Frame::from_static(r#"{"type":"x","seq":0}"#)));
        assert_eq!(
            seqs(&mailbox.take().frames),
            vec![("x".to_owned(), 0), ("snapshot".to_owned(), 1)]
        );
    }
}
