//! [`Registry`]: who watches what. Lots → their subscribers' mailboxes and
//! last published state; users → their connections, with the live
//! reservations whose events they get; staff connections for alerts.
//!
//! One `std` mutex guards it all: every operation is a few map lookups plus
//! non-blocking pushes into mailboxes, never an `.await`. The lot's state is
//! counted from the engine *inside* the lock (order: registry, then engine;
//! nothing takes them the other way round), so a subscription and a publish
//! are ordered: a new subscriber's snapshot is never newer than an update it
//! then receives.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Duration, Utc};
use parking_api::alerts::Alert;
use parking_api::ws::{ReservationEventKind, ServerMessage};
use parking_core::events::{DomainEvent, ReleaseReason};
use parking_core::model::{
    Interval, KindCounts, LotId, Reservation, ReservationId, ReservationStatus, TenantId, UserId,
};

use super::frames::{LotFrames, render};
use super::mailbox::Mailbox;
use crate::engine::Engine;

/// A connection's id, unique for the life of the process.
pub type ConnId = u64;

/// Who an authenticated connection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The user.
    pub user: UserId,
    /// Admins get every lot's alerts.
    pub admin: bool,
    /// An operator gets the alerts of this tenant's lots.
    pub operator_of: Option<TenantId>,
}

/// A lot a subscription asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wanted {
    /// The lot.
    pub lot: LotId,
    /// Its latest `lot_seq` in the store when asked.
    pub stored_seq: u64,
    /// The last `seq` the client saw, when resuming.
    pub since: Option<u64>,
}

/// Missed events the session must replay before the lot's live updates flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Replay {
    /// The lot.
    pub lot: LotId,
    /// Replay events after this `lot_seq`…
    pub after: u64,
    /// …up to and including this one (later ones arrive live).
    pub upto: u64,
}

/// What a subscription added.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subscribed {
    /// Lots now watched, in the order asked.
    pub added: Vec<LotId>,
    /// Of those, the ones to replay.
    pub replays: Vec<Replay>,
}

/// A subscription would pass the cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("watching {watching} lots, {asked} more would pass the limit of {max}")]
pub struct TooManySubscriptions {
    /// Lots watched now.
    pub watching: usize,
    /// New lots asked for.
    pub asked: usize,
    /// The cap.
    pub max: usize,
}

/// Who watches what.
#[derive(Debug, Default)]
pub struct Registry {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    topics: HashMap<LotId, Topic>,
    conns: HashMap<ConnId, Conn>,
    users: HashMap<UserId, Vec<ConnId>>,
    /// Live reservations of users with a connection (bounded by them).
    owned: HashMap<ReservationId, Owned>,
    /// Holds of those reservations by expiry, not yet warned about.
    holds: BTreeSet<(DateTime<Utc>, ReservationId)>,
}

#[derive(Debug, Default)]
struct Topic {
    /// The lot's latest event sequence seen (store or bus); never moves back.
    seq: u64,
    /// The last state published to its subscribers.
    current: Option<Arc<LotFrames>>,
    subscribers: HashMap<ConnId, Arc<Mailbox>>,
}

#[derive(Debug)]
struct Conn {
    mailbox: Arc<Mailbox>,
    lots: HashSet<LotId>,
    identity: Option<Identity>,
}

#[derive(Clone, Copy, Debug)]
struct Owned {
    user: UserId,
    lot: LotId,
    status: ReservationStatus,
    /// Its booked time, to tell a change of times from a repeat.
    interval: Interval,
}

/// Spots in service and free now, per kind; `None` if the lot is gone.
fn counts(engine: &Engine, lot: LotId, now: DateTime<Utc>) -> Option<(KindCounts, KindCounts)> {
    let city = engine.read();
    let state = city.lot(lot).ok()?;
    Some((
        state.inventory.capacity(),
        state.inventory.availability_now(now),
    ))
}

impl Inner {
    fn send_to_user(&self, user: UserId, message: &ServerMessage) {
        let Some(ids) = self.users.get(&user) else {
            return;
        };
        let frame = render(message);
        for id in ids {
            if let Some(conn) = self.conns.get(id) {
                // A full queue marks the mailbox overflowed: its session closes.
                conn.mailbox.push(frame.clone());
            }
        }
    }

    /// Re-counts `lot` and publishes the state if it changed (same `seq`).
    fn recount_lot(&mut self, engine: &Engine, lot: LotId, now: DateTime<Utc>) {
        let Some(topic) = self.topics.get_mut(&lot) else {
            return;
        };
        if topic.subscribers.is_empty() {
            return;
        }
        let Some((capacity, available)) = counts(engine, lot, now) else {
            return;
        };
        if topic
            .current
            .as_ref()
            .is_some_and(|c| c.shows(&capacity, &available))
        {
            return;
        }
        let frames = Arc::new(LotFrames::new(lot, topic.seq, capacity, available, now));
        for mailbox in topic.subscribers.values() {
            mailbox.offer(lot, &frames);
        }
        topic.current = Some(frames);
    }
}

impl Registry {
    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Connections registered now.
    pub fn connections(&self) -> usize {
        self.inner().conns.len()
    }

    /// Registers a new connection.
    pub fn connect(&self, id: ConnId, mailbox: Arc<Mailbox>) {
        self.inner().conns.insert(
            id,
            Conn {
                mailbox,
                lots: HashSet::new(),
                identity: None,
            },
        );
    }

    /// Forgets a connection and everything kept only for it.
    pub fn disconnect(&self, id: ConnId) {
        let mut inner = self.inner();
        let Some(conn) = inner.conns.remove(&id) else {
            return;
        };
        for lot in &conn.lots {
            if let Some(topic) = inner.topics.get_mut(lot) {
                topic.subscribers.remove(&id);
            }
        }
        if let Some(identity) = conn.identity {
            inner.forget_user_conn(identity.user, id);
        }
    }

    /// Of `lots`, those the connection does not watch yet, and how many it watches.
    pub fn unwatched(&self, id: ConnId, lots: &[LotId]) -> (Vec<LotId>, usize) {
        let inner = self.inner();
        match inner.conns.get(&id) {
            Some(conn) => (
                lots.iter()
                    .copied()
                    .filter(|l| !conn.lots.contains(l))
                    .collect(),
                conn.lots.len(),
            ),
            None => (Vec::new(), 0),
        }
    }

    /// Starts watching lots: each gets a snapshot, or is held for a replay when
    /// the client resumes from a `seq` at most `max_replay` events back.
    pub fn subscribe(
        &self,
        engine: &Engine,
        id: ConnId,
        wanted: &[Wanted],
        max_subscriptions: usize,
        max_replay: u64,
        now: DateTime<Utc>,
    ) -> Result<Subscribed, TooManySubscriptions> {
        let mut guard = self.inner();
        let Inner { topics, conns, .. } = &mut *guard;
        let Some(conn) = conns.get_mut(&id) else {
            return Ok(Subscribed::default());
        };
        let new: Vec<&Wanted> = wanted
            .iter()
            .filter(|w| !conn.lots.contains(&w.lot))
            .collect();
        if conn.lots.len() + new.len() > max_subscriptions {
            return Err(TooManySubscriptions {
                watching: conn.lots.len(),
                asked: new.len(),
                max: max_subscriptions,
            });
        }
        let mut outcome = Subscribed::default();
        for w in new {
            let Some((capacity, available)) = counts(engine, w.lot, now) else {
                continue; // deleted meanwhile
            };
            let topic = topics.entry(w.lot).or_default();
            topic.seq = topic.seq.max(w.stored_seq);
            let frames = match &topic.current {
                Some(c) if c.seq == topic.seq && c.shows(&capacity, &available) => Arc::clone(c),
                _ => Arc::new(LotFrames::new(w.lot, topic.seq, capacity, available, now)),
            };
            if topic.current.is_none() {
                topic.current = Some(Arc::clone(&frames));
            }
            let replay = w
                .since
                .filter(|&since| since <= topic.seq && topic.seq - since <= max_replay);
            conn.mailbox.watch(w.lot, frames, replay.is_some());
            topic.subscribers.insert(id, Arc::clone(&conn.mailbox));
            conn.lots.insert(w.lot);
            outcome.added.push(w.lot);
            if let Some(after) = replay {
                outcome.replays.push(Replay {
                    lot: w.lot,
                    after,
                    upto: topic.seq,
                });
            }
        }
        Ok(outcome)
    }

    /// Ends a replay: the lot's newest state follows (as a snapshot when the
    /// replay failed).
    pub fn finish_replay(
        &self,
        engine: &Engine,
        id: ConnId,
        lot: LotId,
        failed: bool,
        now: DateTime<Utc>,
    ) {
        let inner = self.inner();
        let (Some(conn), Some(topic)) = (inner.conns.get(&id), inner.topics.get(&lot)) else {
            return;
        };
        // The replay went up to `topic.seq`; a published state older than
        // that (the store was ahead of the bus) must not follow it.
        let frames = match &topic.current {
            Some(c) if c.seq >= topic.seq => Arc::clone(c),
            _ => match counts(engine, lot, now) {
                Some((capacity, available)) => {
                    Arc::new(LotFrames::new(lot, topic.seq, capacity, available, now))
                }
                None => return,
            },
        };
        conn.mailbox.release(lot, frames, failed);
    }

    /// Stops watching `lots`; returns those that were watched.
    pub fn unsubscribe(&self, id: ConnId, lots: &[LotId]) -> Vec<LotId> {
        let mut guard = self.inner();
        let Inner { topics, conns, .. } = &mut *guard;
        let Some(conn) = conns.get_mut(&id) else {
            return Vec::new();
        };
        let mut removed = Vec::new();
        for lot in lots {
            if conn.lots.remove(lot) {
                conn.mailbox.unwatch(*lot);
                if let Some(topic) = topics.get_mut(lot) {
                    topic.subscribers.remove(&id);
                }
                removed.push(*lot);
            }
        }
        removed
    }

    /// Marks the connection as `identity`'s (replacing an earlier identity).
    pub fn authenticate(&self, id: ConnId, identity: Identity) {
        let mut inner = self.inner();
        let Some(conn) = inner.conns.get_mut(&id) else {
            return;
        };
        let previous = conn.identity.replace(identity);
        if let Some(previous) = previous {
            inner.forget_user_conn(previous.user, id);
        }
        let ids = inner.users.entry(identity.user).or_default();
        if !ids.contains(&id) {
            ids.push(id);
        }
    }

    /// Remembers `user`'s live reservations (loaded when they authenticated),
    /// so their later events reach the user.
    pub fn track(&self, user: UserId, reservations: impl IntoIterator<Item = Reservation>) {
        let mut inner = self.inner();
        if !inner.users.contains_key(&user) {
            return;
        }
        for r in reservations {
            let live = matches!(
                r.status,
                ReservationStatus::Held
                    | ReservationStatus::Confirmed
                    | ReservationStatus::CheckedIn
            );
            if r.user_id != user || !live {
                continue;
            }
            inner.owned.insert(
                r.id,
                Owned {
                    user,
                    lot: r.lot_id,
                    status: r.status,
                    interval: r.interval,
                },
            );
            if let (ReservationStatus::Held, Some(at)) = (r.status, r.hold_expires_at) {
                inner.holds.insert((at, r.id));
            }
        }
    }

    /// Publishes a lot's state after one of its events (`lot_seq`).
    pub fn publish_lot(&self, engine: &Engine, lot: LotId, lot_seq: u64, now: DateTime<Utc>) {
        let mut inner = self.inner();
        let topic = inner.topics.entry(lot).or_default();
        topic.seq = topic.seq.max(lot_seq);
        if topic.subscribers.is_empty() {
            topic.current = None;
            return;
        }
        let Some((capacity, available)) = counts(engine, lot, now) else {
            return;
        };
        let frames = Arc::new(LotFrames::new(lot, topic.seq, capacity, available, now));
        for mailbox in topic.subscribers.values() {
            mailbox.offer(lot, &frames);
        }
        topic.current = Some(frames);
    }

    /// Re-counts watched lots (`only` these, or all) and publishes those whose
    /// counts changed without an event (a booking's start arriving).
    pub fn recount(&self, engine: &Engine, only: Option<&HashSet<LotId>>, now: DateTime<Utc>) {
        let mut inner = self.inner();
        let lots: Vec<LotId> = match only {
            Some(lots) => lots.iter().copied().collect(),
            None => inner
                .topics
                .iter()
                .filter(|(_, t)| !t.subscribers.is_empty())
                .map(|(lot, _)| *lot)
                .collect(),
        };
        for lot in lots {
            inner.recount_lot(engine, lot, now);
        }
    }

    /// Tells the owner of a reservation what an event did to it. Returns a
    /// held reservation whose hold expiry the hub should look up (the event
    /// does not carry it).
    pub fn reservation_event(
        &self,
        event: &DomainEvent,
        seq: Option<u64>,
    ) -> Option<ReservationId> {
        let mut inner = self.inner();
        let (reservation_id, lot_id, kind, status, owner, lookup) = match event {
            DomainEvent::ParkingSpotBooked {
                reservation_id,
                lot_id,
                user_id,
                status,
                interval,
                ..
            } => {
                if !inner.users.contains_key(user_id) {
                    return None;
                }
                let previous = inner
                    .owned
                    .get(reservation_id)
                    .map(|o| (o.status, o.interval));
                let kind = match (previous, status) {
                    (None, ReservationStatus::Held) => ReservationEventKind::Held,
                    (None | Some((ReservationStatus::Held, _)), ReservationStatus::Confirmed) => {
                        ReservationEventKind::Confirmed
                    }
                    // Loaded from the store when the driver authenticated, just
                    // before its own event arrived: nothing changed, so the event
                    // says what the booking is (a redelivery repeats it: at least once).
                    (Some((was, times)), now) if was == *now && times == *interval => match now {
                        ReservationStatus::Held => ReservationEventKind::Held,
                        ReservationStatus::Confirmed => ReservationEventKind::Confirmed,
                        _ => ReservationEventKind::Changed,
                    },
                    _ => ReservationEventKind::Changed,
                };
                inner.owned.insert(
                    *reservation_id,
                    Owned {
                        user: *user_id,
                        lot: *lot_id,
                        status: *status,
                        interval: *interval,
                    },
                );
                let held = *status == ReservationStatus::Held;
                if !held {
                    inner.holds.retain(|(_, id)| id != reservation_id);
                }
                let needs_expiry = held && previous.is_none();
                (
                    *reservation_id,
                    *lot_id,
                    kind,
                    *status,
                    *user_id,
                    needs_expiry,
                )
            }
            DomainEvent::ReservationCheckedIn {
                reservation_id,
                lot_id,
                user_id,
                ..
            } => {
                if !inner.users.contains_key(user_id) {
                    return None;
                }
                if let Some(owned) = inner.owned.get_mut(reservation_id) {
                    owned.status = ReservationStatus::CheckedIn;
                }
                (
                    *reservation_id,
                    *lot_id,
                    ReservationEventKind::CheckedIn,
                    ReservationStatus::CheckedIn,
                    *user_id,
                    false,
                )
            }
            DomainEvent::ReservationCancelled {
                reservation_id,
                lot_id,
                ..
            } => {
                let owned = inner.forget_reservation(*reservation_id)?;
                (
                    *reservation_id,
                    *lot_id,
                    ReservationEventKind::Cancelled,
                    ReservationStatus::Cancelled,
                    owned.user,
                    false,
                )
            }
            DomainEvent::ParkingSpotReleased {
                reservation_id,
                lot_id,
                reason,
                ..
            } => {
                let (kind, status) = match reason {
                    // Its `reservation_cancelled` event told the owner already.
                    ReleaseReason::Cancelled => return None,
                    ReleaseReason::Completed => (
                        ReservationEventKind::Completed,
                        ReservationStatus::Completed,
                    ),
                    ReleaseReason::Expired => {
                        (ReservationEventKind::Expired, ReservationStatus::Expired)
                    }
                    ReleaseReason::NoShow => {
                        (ReservationEventKind::NoShow, ReservationStatus::NoShow)
                    }
                };
                let owned = inner.forget_reservation(*reservation_id)?;
                (*reservation_id, *lot_id, kind, status, owned.user, false)
            }
            _ => return None,
        };
        inner.send_to_user(
            owner,
            &ServerMessage::Reservation {
                event: kind,
                reservation_id: reservation_id.as_uuid(),
                lot_id: lot_id.as_uuid(),
                status: status.into(),
                seq,
                expires_at: None,
            },
        );
        lookup.then_some(reservation_id)
    }

    /// Records when a tracked hold lapses.
    pub fn hold_expires(&self, id: ReservationId, at: DateTime<Utc>) {
        let mut inner = self.inner();
        if inner
            .owned
            .get(&id)
            .is_some_and(|o| o.status == ReservationStatus::Held)
        {
            inner.holds.insert((at, id));
        }
    }

    /// Warns owners of holds lapsing within `lead` of `now` (once per hold).
    pub fn warn_holds(&self, now: DateTime<Utc>, lead: Duration) {
        let mut inner = self.inner();
        while let Some(&(at, id)) = inner.holds.first() {
            if at - lead > now {
                break;
            }
            inner.holds.pop_first();
            let Some(owned) = inner.owned.get(&id).copied() else {
                continue;
            };
            // Already lapsed: its `expired` event is on its way instead.
            if owned.status != ReservationStatus::Held || at <= now {
                continue;
            }
            inner.send_to_user(
                owned.user,
                &ServerMessage::Reservation {
                    event: ReservationEventKind::HoldExpiring,
                    reservation_id: id.as_uuid(),
                    lot_id: owned.lot.as_uuid(),
                    status: ReservationStatus::Held.into(),
                    seq: None,
                    expires_at: Some(at),
                },
            );
        }
    }

    /// Sends an alert event to the lot's tenant's operators and to admins.
    pub fn alert(&self, engine: &Engine, event: &DomainEvent) {
        let (DomainEvent::AlertRaised {
            alert_id,
            kind,
            lot_id,
            spot_id,
            spot_label,
            reservation_id,
            raised_at,
            detail,
        }
        | DomainEvent::AlertAcknowledged {
            alert_id,
            kind,
            lot_id,
            spot_id,
            spot_label,
            reservation_id,
            raised_at,
            detail,
            ..
        }) = event
        else {
            return;
        };
        let acknowledged = match event {
            DomainEvent::AlertAcknowledged { by, at, .. } => Some((*at, by.as_uuid())),
            _ => None,
        };
        let alert = Alert {
            id: alert_id.as_uuid(),
            kind: (*kind).into(),
            lot_id: lot_id.as_uuid(),
            spot_id: spot_id.as_uuid(),
            spot_label: spot_label.clone(),
            reservation_id: reservation_id.map(|r| r.as_uuid()),
            raised_at: *raised_at,
            detail: detail.clone(),
            acknowledged_at: acknowledged.map(|(at, _)| at),
            acknowledged_by: acknowledged.map(|(_, by)| by),
        };
        let inner = self.inner();
        let tenant = engine
            .read()
            .lot(LotId::from_uuid(alert.lot_id))
            .ok()
            .map(|s| s.lot.tenant_id);
        let frame = render(&ServerMessage::Alert { alert });
        for conn in inner.conns.values() {
            let Some(identity) = conn.identity else {
                continue;
            };
            if identity.admin || (tenant.is_some() && identity.operator_of == tenant) {
                conn.mailbox.push(frame.clone());
            }
        }
    }
}

impl Inner {
    fn forget_user_conn(&mut self, user: UserId, id: ConnId) {
        let Some(ids) = self.users.get_mut(&user) else {
            return;
        };
        ids.retain(|c| *c != id);
        if ids.is_empty() {
            self.users.remove(&user);
            // Nobody left to tell: stop tracking the user's reservations.
            self.owned.retain(|_, o| o.user != user);
            let owned = &self.owned;
            self.holds.retain(|(_, r)| owned.contains_key(r));
        }
    }

    fn forget_reservation(&mut self, id: ReservationId) -> Option<Owned> {
        let owned = self.owned.remove(&id)?;
        self.holds.retain(|(_, r)| *r != id);
        Some(owned)
    }
}

#[cfg(test)]
mod tests {
    use parking_core::model::{
        BookingRules, GeoPoint, Lot, OperatingHours, Spot, SpotId, SpotKind,
    };

    use super::*;
    use crate::realtime::frames::seqs;

    fn engine_with_lot() -> (Engine, LotId) {
        let engine = Engine::default();
        let lot = Lot {
            id: LotId::new(),
            tenant_id: TenantId::new(),
            name: "L".into(),
            address: "A".into(),
            location: GeoPoint::new(51.05, 13.74).expect("valid"),
            time_zone: chrono_tz::Europe::Berlin,
            hours: OperatingHours::always_open(),
            amenities: Default::default(),
            rules: BookingRules::default(),
        };
        let id = lot.id;
        let mut city = engine.write();
        city.add_lot(lot, None).expect("lot");
        city.add_spot(Spot {
            id: SpotId::new(),
            lot_id: id,
            label: "S1".into(),
            kind: SpotKind::Regular,
            zone: None,
            in_service: true,
        })
        .expect("spot");
        drop(city);
        (engine, id)
    }

    #[test]
    fn a_resume_ends_at_the_replayed_seq_even_when_the_bus_is_behind_the_store() {
        let (engine, lot) = engine_with_lot();
        let registry = Registry::default();
        let now = Utc::now();
        let (watcher, resumer) = (Arc::new(Mailbox::new(8)), Arc::new(Mailbox::new(8)));
        registry.connect(1, Arc::clone(&watcher));
        registry.connect(2, Arc::clone(&resumer));
        let wanted = |stored_seq, since| Wanted {
            lot,
            stored_seq,
            since,
        };
        registry
            .subscribe(&engine, 1, &[wanted(0, None)], 10, 10, now)
            .expect("subscribed");
        registry.publish_lot(&engine, lot, 5, now);
        assert_eq!(
            seqs(&watcher.take().frames),
            vec![("snapshot".to_owned(), 5)]
        );
        // Event 6 is committed (the store says 6) but not yet on the bus.
        let outcome = registry
            .subscribe(&engine, 2, &[wanted(6, Some(3))], 10, 10, now)
            .expect("subscribed");
        assert_eq!(
            outcome.replays,
            vec![Replay {
                lot,
                after: 3,
                upto: 6
            }]
        );
        assert!(
            seqs(&resumer.take().frames).is_empty(),
            "held during the replay"
        );
        registry.finish_replay(&engine, 2, lot, false, now);
        assert_eq!(
            seqs(&resumer.take().frames),
            vec![("availability_update".to_owned(), 6)]
        );
        registry.publish_lot(&engine, lot, 6, now);
        assert_eq!(
            seqs(&resumer.take().frames),
            vec![("availability_update".to_owned(), 6)]
        );
    }

    fn events(mailbox: &Mailbox) -> Vec<String> {
        mailbox
            .take()
            .frames
            .iter()
            .map(|f| {
                let v: serde_json::Value = serde_json::from_str(f.as_str()).expect("json");
                v["event"].as_str().unwrap_or_default().to_owned()
            })
            .collect()
    }

    #[test]
    fn a_booking_loaded_at_auth_before_its_event_is_still_announced_as_confirmed() {
        let registry = Registry::default();
        let mailbox = Arc::new(Mailbox::new(8));
        registry.connect(1, Arc::clone(&mailbox));
        let user = UserId::new();
        registry.authenticate(
            1,
            Identity {
                user,
                admin: false,
                operator_of: None,
            },
        );
        let start = Utc::now() + chrono::Duration::days(1);
        let interval = Interval::new(start, start + chrono::Duration::hours(2)).expect("interval");
        let r = Reservation {
            id: ReservationId::new(),
            lot_id: LotId::new(),
            spot_id: SpotId::new(),
            user_id: user,
            interval,
            status: ReservationStatus::Confirmed,
            hold_expires_at: None,
            total: parking_core::model::Money::new(
                500,
                parking_core::model::Currency::new("EUR").expect("EUR"),
            ),
            created_at: Utc::now(),
        };
        // The store read made at authentication already saw the booking…
        registry.track(user, [r.clone()]);
        let booked = |interval| DomainEvent::ParkingSpotBooked {
            reservation_id: r.id,
            lot_id: r.lot_id,
            spot_id: r.spot_id,
            user_id: user,
            interval,
            status: ReservationStatus::Confirmed,
            total: r.total,
        };
        // …when its own event arrives: it is news to the driver, not a change.
        registry.reservation_event(&booked(interval), Some(1));
        assert_eq!(events(&mailbox), vec!["confirmed".to_owned()]);
        let later = Interval::new(start, start + chrono::Duration::hours(3)).expect("interval");
        registry.reservation_event(&booked(later), Some(2));
        assert_eq!(events(&mailbox), vec!["changed".to_owned()]);
    }

    #[test]
    fn the_subscription_cap_counts_lots_already_watched() {
        let (engine, lot) = engine_with_lot();
        let (_, other) = engine_with_lot();
        let registry = Registry::default();
        registry.connect(1, Arc::new(Mailbox::new(8)));
        let one = |lot| Wanted {
            lot,
            stored_seq: 0,
            since: None,
        };
        registry
            .subscribe(&engine, 1, &[one(lot)], 1, 10, Utc::now())
            .expect("first lot");
        assert_eq!(
            registry.subscribe(&engine, 1, &[one(lot)], 1, 10, Utc::now()),
            Ok(Subscribed::default()),
            "already watched: nothing new, no error"
        );
        let refused = registry
            .subscribe(&engine, 1, &[one(other)], 1, 10, Utc::now())
            .expect_err("over the cap");
        assert_eq!((refused.watching, refused.asked, refused.max), (1, 1, 1));
    }
}
