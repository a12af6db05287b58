//! A lot's inventory: its spots, their calendars, and the booking rules over them.
//!
//! Every operation takes `now` from the caller (the core has no clock), so holds
//! expire deterministically and tests can run time as they like.
//!
//! # Best-fit allocation
//!
//! A booking for a kind (no spot named) gets the in-service spot of that kind that
//! is free for the interval (turnover buffer included) and fits it most tightly:
//! 1. fewest *open sides* — a side of the request with no blocking booking at all
//!    on that spot is an unbounded free stretch; a spot that already has bookings
//!    next to the request beats an empty one, so empty spots stay empty for long
//!    stays;
//! 2. then the least *slack* — the free time left between the request and its
//!    neighbouring bookings on the bounded sides, so small gaps get filled and long
//!    gaps stay long;
//! 3. then the spot added to the inventory first (a stable, deterministic order).
//!
//! A spot with no open side and slack of exactly twice the buffer is a perfect fit
//! and ends the search early.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use thiserror::Error;

use super::calendar::{Micros, NEVER, SpotCalendar};
use crate::model::{
    BookingRules, Interval, KindCounts, Lot, LotId, OperatingHours, Reservation, ReservationId,
    Spot, SpotId, SpotKind, WindowError,
};

/// Why the inventory refused a request.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BookingError {
    /// The window breaks the lot's rules (past, lead time, length, opening hours).
    #[error(transparent)]
    Window(#[from] WindowError),
    /// No such spot in this lot.
    #[error("spot {0} is not in this lot")]
    UnknownSpot(SpotId),
    /// The spot is out of service.
    #[error("spot {0} is out of service")]
    OutOfService(SpotId),
    /// The named spot is taken for (part of) the window, turnover buffer included.
    #[error("the spot is not available for the requested time")]
    SpotTaken(SpotId),
    /// No spot of the kind is free for the whole window.
    #[error("no {0} spot is available for the requested time")]
    NoneAvailable(SpotKind),
    /// No such reservation in the inventory.
    #[error("reservation {0} is not held by this lot's inventory")]
    UnknownReservation(ReservationId),
    /// The reservation id is already in use.
    #[error("reservation {0} already exists")]
    DuplicateReservation(ReservationId),
    /// The reservation belongs to another lot.
    #[error("reservation is for lot {0}, not this one")]
    WrongLot(LotId),
    /// The instant is outside the range the calendars can represent.
    #[error("time {0} is out of range")]
    TimeOutOfRange(DateTime<Utc>),
}

/// Why a spot could not be added, changed or removed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SpotError {
    /// The spot id is already in the inventory.
    #[error("spot {0} already exists")]
    Duplicate(SpotId),
    /// The spot belongs to another lot.
    #[error("spot belongs to lot {0}, not this one")]
    WrongLot(LotId),
    /// No such spot.
    #[error("spot {0} is not in this lot")]
    Unknown(SpotId),
    /// The spot still has blocking bookings.
    #[error("spot {spot} still has {bookings} booking(s)")]
    HasBookings {
        /// The spot.
        spot: SpotId,
        /// How many blocking bookings it holds.
        bookings: usize,
    },
}

/// Which spot a booking wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpotChoice {
    /// This exact spot.
    Spot(SpotId),
    /// Any spot of this kind, chosen by best fit.
    Kind(SpotKind),
}

/// A new booking for the inventory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BookingRequest {
    /// The id the reservation will have.
    pub id: ReservationId,
    /// A named spot or a kind.
    pub choice: SpotChoice,
    /// The time wanted.
    pub interval: Interval,
    /// `Some(t)`: a hold that stops blocking at `t` unless confirmed.
    pub hold_until: Option<DateTime<Utc>>,
}

/// What the inventory did for a booking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Booked {
    /// The spot that was booked.
    pub spot_id: SpotId,
    /// Expired holds that were in the way and have been dropped; the caller marks
    /// them expired in its records.
    pub expired_holds: Vec<ReservationId>,
}

#[derive(Clone, Debug)]
struct SpotSlot {
    spot: Spot,
    calendar: SpotCalendar,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    slot: u32,
    span: (Micros, Micros),
    expires: Micros,
}

/// One lot's spots and their blocking reservations.
#[derive(Clone, Debug)]
pub struct LotInventory {
    lot_id: LotId,
    time_zone: Tz,
    hours: OperatingHours,
    rules: BookingRules,
    buffer: Micros,
    slots: Vec<SpotSlot>,
    slot_of: HashMap<SpotId, u32>,
    by_kind: [Vec<u32>; 5],
    entries: HashMap<ReservationId, Entry>,
    /// Live holds by expiry, for sweeping.
    holds: BTreeSet<(Micros, ReservationId)>,
}

fn micros_ceil(t: DateTime<Utc>) -> Result<Micros, BookingError> {
    let floor = t.timestamp_micros();
    if t.timestamp_subsec_nanos().is_multiple_of(1_000) {
        Ok(floor)
    } else {
        floor.checked_add(1).ok_or(BookingError::TimeOutOfRange(t))
    }
}

/// The calendar span of an interval, rounded outward to whole microseconds so that
/// rounding can only ever add a conflict, never hide one.
fn span_of(interval: &Interval) -> Result<(Micros, Micros), BookingError> {
    // `timestamp_micros` floors: chrono keeps sub-second nanos non-negative.
    Ok((
        interval.start().timestamp_micros(),
        micros_ceil(interval.end())?,
    ))
}

fn micros_of(d: Duration) -> Micros {
    d.num_microseconds().unwrap_or(Micros::MAX)
}

impl LotInventory {
    /// An empty inventory for a lot, using its rules and opening hours.
    pub fn new(lot: &Lot) -> Self {
        LotInventory {
            lot_id: lot.id,
            time_zone: lot.time_zone,
            hours: lot.hours.clone(),
            rules: lot.rules,
            buffer: micros_of(lot.rules.buffer()),
            slots: Vec::new(),
            slot_of: HashMap::new(),
            by_kind: Default::default(),
            entries: HashMap::new(),
            holds: BTreeSet::new(),
        }
    }

    /// The lot this inventory belongs to.
    pub fn lot_id(&self) -> LotId {
        self.lot_id
    }

    /// Takes new rules and hours from an updated lot. Existing bookings stay; a
    /// larger turnover buffer applies to bookings made from now on.
    pub fn update_lot(&mut self, lot: &Lot) {
        self.time_zone = lot.time_zone;
        self.hours = lot.hours.clone();
        self.rules = lot.rules;
        self.buffer = micros_of(lot.rules.buffer());
    }

    /// Adds a spot.
    pub fn add_spot(&mut self, spot: Spot) -> Result<(), SpotError> {
        if spot.lot_id != self.lot_id {
            return Err(SpotError::WrongLot(spot.lot_id));
        }
        if self.slot_of.contains_key(&spot.id) {
            return Err(SpotError::Duplicate(spot.id));
        }
        let slot = u32::try_from(self.slots.len()).map_err(|_| SpotError::Duplicate(spot.id))?;
        self.slot_of.insert(spot.id, slot);
        self.by_kind[spot.kind.index()].push(slot);
        self.slots.push(SpotSlot {
            spot,
            calendar: SpotCalendar::default(),
        });
        Ok(())
    }

    /// Puts a spot in or out of service. Out of service, it is never allocated;
    /// its existing bookings stay (the operator decides what to do with them).
    pub fn set_in_service(&mut self, spot: SpotId, in_service: bool) -> Result<(), SpotError> {
        let slot = self.slot(spot).ok_or(SpotError::Unknown(spot))?;
        self.slots[slot].spot.in_service = in_service;
        Ok(())
    }

    /// Removes a spot that holds no bookings.
    pub fn remove_spot(&mut self, spot: SpotId) -> Result<Spot, SpotError> {
        let slot = self.slot(spot).ok_or(SpotError::Unknown(spot))?;
        let bookings = self.slots[slot].calendar.len();
        if bookings > 0 {
            return Err(SpotError::HasBookings { spot, bookings });
        }
        // Shift, not swap: the spots keep the order they were added in, which is
        // allocation's final tie-break. Removing a spot is rare; re-index in O(n).
        let removed = self.slots.remove(slot);
        self.slot_of.remove(&spot);
        let gone = slot as u32;
        let shift = |s: &mut u32| {
            if *s > gone {
                *s -= 1;
            }
        };
        self.slot_of.values_mut().for_each(shift);
        self.by_kind[removed.spot.kind.index()].retain(|&s| s != gone);
        self.by_kind.iter_mut().flatten().for_each(shift);
        self.entries.values_mut().for_each(|e| shift(&mut e.slot));
        Ok(removed.spot)
    }

    /// The spots, in inventory order.
    pub fn spots(&self) -> impl Iterator<Item = &Spot> + '_ {
        self.slots.iter().map(|s| &s.spot)
    }

    /// One spot.
    pub fn spot(&self, id: SpotId) -> Option<&Spot> {
        self.slot(id).map(|s| &self.slots[s].spot)
    }

    /// Number of reservations held (blocking, or holds not yet swept).
    pub fn reservation_count(&self) -> usize {
        self.entries.len()
    }

    /// The spot and interval span a reservation occupies, if held here.
    pub fn reservation_spot(&self, id: ReservationId) -> Option<SpotId> {
        self.entries
            .get(&id)
            .map(|e| self.slots[e.slot as usize].spot.id)
    }

    fn slot(&self, spot: SpotId) -> Option<usize> {
        self.slot_of.get(&spot).map(|&s| s as usize)
    }

    /// Ok if `spot` is in service and free for `interval` at `now`, turnover
    /// buffer included. O(log n) in the spot's bookings.
    pub fn check(
        &self,
        spot: SpotId,
        interval: &Interval,
        now: DateTime<Utc>,
    ) -> Result<(), BookingError> {
        let slot = self.slot(spot).ok_or(BookingError::UnknownSpot(spot))?;
        let s = &self.slots[slot];
        if !s.spot.in_service {
            return Err(BookingError::OutOfService(spot));
        }
        let (start, end) = span_of(interval)?;
        match s
            .calendar
            .conflict(start, end, self.buffer, now.timestamp_micros())
        {
            Some(_) => Err(BookingError::SpotTaken(spot)),
            None => Ok(()),
        }
    }

    /// The best-fit spot of `kind` for `interval` (see the module docs), without
    /// booking it.
    pub fn allocate(
        &self,
        kind: SpotKind,
        interval: &Interval,
        now: DateTime<Utc>,
    ) -> Result<SpotId, BookingError> {
        let (start, end) = span_of(interval)?;
        self.best_fit(kind, start, end, now.timestamp_micros())
            .map(|slot| self.slots[slot].spot.id)
            .ok_or(BookingError::NoneAvailable(kind))
    }

    fn best_fit(&self, kind: SpotKind, start: Micros, end: Micros, now: Micros) -> Option<usize> {
        let perfect_slack = self.buffer.saturating_mul(2);
        let mut best: Option<(super::calendar::Fit, usize)> = None;
        for &slot in &self.by_kind[kind.index()] {
            let s = &self.slots[slot as usize];
            if !s.spot.in_service {
                continue;
            }
            let Some(fit) = s.calendar.fit(start, end, self.buffer, now) else {
                continue;
            };
            if best.is_none_or(|(b, _)| fit < b) {
                best = Some((fit, slot as usize));
                if fit.open_sides == 0 && fit.slack <= perfect_slack {
                    break;
                }
            }
        }
        best.map(|(_, slot)| slot)
    }

    /// Books a new reservation made at `now`: checks the lot's rules (not in the
    /// past, lead time, maximum duration, opening hours), picks or checks the spot,
    /// and records it. On any error nothing changes.
    pub fn book(
        &mut self,
        request: BookingRequest,
        now: DateTime<Utc>,
    ) -> Result<Booked, BookingError> {
        self.rules.check_new(&request.interval, now)?;
        self.hours
            .check(self.time_zone, &request.interval)
            .map_err(WindowError::from)?;
        self.place(request, now)
    }

    /// Loads an existing blocking reservation (e.g. from storage at start-up):
    /// only the no-overlap rule is checked, not lead time or hours, which applied
    /// when it was made. Non-blocking reservations are ignored (`Ok(None)`).
    pub fn restore(
        &mut self,
        reservation: &Reservation,
        now: DateTime<Utc>,
    ) -> Result<Option<Booked>, BookingError> {
        if reservation.lot_id != self.lot_id {
            return Err(BookingError::WrongLot(reservation.lot_id));
        }
        if !reservation.is_blocking(now) {
            return Ok(None);
        }
        let hold_until = match reservation.status {
            crate::model::ReservationStatus::Held => reservation.hold_expires_at,
            _ => None,
        };
        self.place(
            BookingRequest {
                id: reservation.id,
                choice: SpotChoice::Spot(reservation.spot_id),
                interval: reservation.interval,
                hold_until,
            },
            now,
        )
        .map(Some)
    }

    fn place(
        &mut self,
        request: BookingRequest,
        now: DateTime<Utc>,
    ) -> Result<Booked, BookingError> {
        if self.entries.contains_key(&request.id) {
            return Err(BookingError::DuplicateReservation(request.id));
        }
        let span = span_of(&request.interval)?;
        let now_us = now.timestamp_micros();
        let slot = match request.choice {
            SpotChoice::Spot(spot) => {
                self.check(spot, &request.interval, now)?;
                self.slot(spot).ok_or(BookingError::UnknownSpot(spot))?
            }
            SpotChoice::Kind(kind) => self
                .best_fit(kind, span.0, span.1, now_us)
                .ok_or(BookingError::NoneAvailable(kind))?,
        };
        let expires = match request.hold_until {
            Some(t) => t.timestamp_micros(),
            None => NEVER,
        };
        let spot_id = self.slots[slot].spot.id;
        let purged = self.slots[slot]
            .calendar
            .insert(request.id, span, expires, self.buffer, now_us)
            .map_err(|_| BookingError::SpotTaken(spot_id))?;
        for id in &purged {
            self.forget(*id);
        }
        self.entries.insert(
            request.id,
            Entry {
                slot: slot as u32,
                span,
                expires,
            },
        );
        if expires != NEVER {
            self.holds.insert((expires, request.id));
        }
        Ok(Booked {
            spot_id,
            expired_holds: purged,
        })
    }

    /// Drops the bookkeeping of a reservation already gone from its calendar.
    fn forget(&mut self, id: ReservationId) {
        if let Some(e) = self.entries.remove(&id) {
            self.holds.remove(&(e.expires, id));
        }
    }

    /// Gives a reservation's spot back (cancelled, completed, no-show, expired).
    pub fn release(&mut self, id: ReservationId) -> Result<SpotId, BookingError> {
        let e = self
            .entries
            .remove(&id)
            .ok_or(BookingError::UnknownReservation(id))?;
        self.holds.remove(&(e.expires, id));
        let slot = &mut self.slots[e.slot as usize];
        slot.calendar.remove(id, e.span.0);
        Ok(slot.spot.id)
    }

    /// Makes a hold permanent (the booking was confirmed).
    pub fn confirm(&mut self, id: ReservationId) -> Result<(), BookingError> {
        let e = self
            .entries
            .get_mut(&id)
            .ok_or(BookingError::UnknownReservation(id))?;
        self.holds.remove(&(e.expires, id));
        e.expires = NEVER;
        self.slots[e.slot as usize]
            .calendar
            .set_expiry(id, e.span.0, NEVER);
        Ok(())
    }

    /// Moves a reservation to new times on the same spot (extend, shorten, shift),
    /// re-checking the rules that apply to a change (duration, opening hours; a
    /// start that moves must not move into the past) and the no-overlap rule with
    /// the reservation's own old span ignored. On any error nothing changes.
    pub fn reschedule(
        &mut self,
        id: ReservationId,
        interval: Interval,
        now: DateTime<Utc>,
    ) -> Result<(), BookingError> {
        let e = *self
            .entries
            .get(&id)
            .ok_or(BookingError::UnknownReservation(id))?;
        let new_span = span_of(&interval)?;
        if new_span.0 != e.span.0 && interval.start() < now {
            return Err(WindowError::InPast.into());
        }
        self.rules.check_duration(&interval)?;
        self.hours
            .check(self.time_zone, &interval)
            .map_err(WindowError::from)?;
        let now_us = now.timestamp_micros();
        let slot = &mut self.slots[e.slot as usize];
        let spot = slot.spot.id;
        if !slot.spot.in_service {
            return Err(BookingError::OutOfService(spot));
        }
        if slot
            .calendar
            .conflict_excluding(new_span.0, new_span.1, self.buffer, now_us, Some(id))
            .is_some()
        {
            return Err(BookingError::SpotTaken(spot));
        }
        slot.calendar.remove(id, e.span.0);
        // Cannot collide: checked just above with the old span ignored.
        let purged = slot
            .calendar
            .insert(id, new_span, e.expires, self.buffer, now_us)
            .map_err(|_| BookingError::SpotTaken(spot))?;
        for p in purged {
            self.forget(p);
        }
        if let Some(entry) = self.entries.get_mut(&id) {
            entry.span = new_span;
        }
        Ok(())
    }

    /// Sweeps holds that expired at or before `now` out of the calendars and
    /// returns their ids, for the caller to mark expired.
    pub fn expire_holds(&mut self, now: DateTime<Utc>) -> Vec<ReservationId> {
        let now_us = now.timestamp_micros();
        let mut expired = Vec::new();
        while let Some(&(at, id)) = self.holds.first() {
            if at > now_us {
                break;
            }
            self.holds.pop_first();
            if let Some(e) = self.entries.remove(&id) {
                self.slots[e.slot as usize].calendar.remove(id, e.span.0);
            }
            expired.push(id);
        }
        expired
    }

    /// Drops reservations that ended at or before `t` (history the conflict rules
    /// no longer need) and returns their ids.
    pub fn prune_ended(&mut self, t: DateTime<Utc>) -> Vec<ReservationId> {
        let t_us = t.timestamp_micros();
        let mut pruned = Vec::new();
        for slot in &mut self.slots {
            pruned.extend(slot.calendar.prune_ended(t_us));
        }
        for id in &pruned {
            if let Some(e) = self.entries.remove(id) {
                self.holds.remove(&(e.expires, *id));
            }
        }
        pruned
    }

    /// True if the in-service `spot` is free for `window`.
    pub fn is_free(&self, spot: SpotId, window: &Interval, now: DateTime<Utc>) -> bool {
        self.check(spot, window, now).is_ok()
    }

    /// In-service spots per kind that are free for the whole `window` (the turnover
    /// buffer included, as a booking of that window would need).
    pub fn availability(&self, window: &Interval, now: DateTime<Utc>) -> KindCounts {
        let mut counts = KindCounts::default();
        let Ok((start, end)) = span_of(window) else {
            return counts;
        };
        let now_us = now.timestamp_micros();
        for s in &self.slots {
            if s.spot.in_service
                && s.calendar
                    .conflict(start, end, self.buffer, now_us)
                    .is_none()
            {
                counts.increment(s.spot.kind);
            }
        }
        counts
    }

    /// In-service spots per kind with no blocking booking at `now` (the buffer is
    /// not applied: a spot is free now if nobody holds it now).
    pub fn availability_now(&self, now: DateTime<Utc>) -> KindCounts {
        let now_us = now.timestamp_micros();
        let mut counts = KindCounts::default();
        for s in &self.slots {
            if s.spot.in_service && s.calendar.conflict(now_us, now_us + 1, 0, now_us).is_none() {
                counts.increment(s.spot.kind);
            }
        }
        counts
    }

    /// In-service spots per kind (the capacity the availability counts are out of).
    pub fn capacity(&self) -> KindCounts {
        let mut counts = KindCounts::default();
        for s in self.slots.iter().filter(|s| s.spot.in_service) {
            counts.increment(s.spot.kind);
        }
        counts
    }
}
