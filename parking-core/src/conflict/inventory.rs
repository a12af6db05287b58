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
//! The answer comes from each spot's summary (first start, last end) and the gap
//! index (see `gaps`), not from a binary search per spot: one pass over a small
//! contiguous array plus one bucket of gaps.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use thiserror::Error;

use super::calendar::{Fit, Micros, NEVER, SpotCalendar};
use super::gaps::{Gap, GapIndex};
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

/// What allocation reads for every spot of a kind, kept apart from the calendars
/// in one dense array so that the per-spot pass stays in cache.
#[derive(Clone, Copy, Debug)]
struct Summary {
    kind: SpotKind,
    in_service: bool,
    /// Holds on the calendar (live or expired, not yet swept); such a spot is
    /// answered from its calendar, since holds are not in the gap index.
    holds: u32,
    /// Start of the first and end of the last confirmed booking.
    bounds: Option<(Micros, Micros)>,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    slot: u32,
    span: (Micros, Micros),
    expires: Micros,
}

/// "Available now" counts of one lot, remembered for the rest of the second they
/// were computed in; emptied by every change to the inventory.
#[derive(Debug, Default)]
struct NowCache(Mutex<Option<(i64, KindCounts)>>);

impl Clone for NowCache {
    fn clone(&self) -> Self {
        NowCache::default()
    }
}

impl NowCache {
    fn get_or(&self, second: i64, compute: impl FnOnce() -> KindCounts) -> KindCounts {
        let mut cached = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match *cached {
            Some((at, counts)) if at == second => counts,
            _ => {
                let counts = compute();
                *cached = Some((second, counts));
                counts
            }
        }
    }

    fn clear(&mut self) {
        *self.0.get_mut().unwrap_or_else(|p| p.into_inner()) = None;
    }
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
    summaries: Vec<Summary>,
    /// In-service spots per kind, kept up to date (search reads it per lot).
    capacity: KindCounts,
    gaps: [GapIndex; 5],
    slot_of: HashMap<SpotId, u32>,
    by_kind: [Vec<u32>; 5],
    entries: HashMap<ReservationId, Entry>,
    /// Live holds by expiry, for sweeping.
    holds: BTreeSet<(Micros, ReservationId)>,
    now_cache: NowCache,
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
            summaries: Vec::new(),
            capacity: KindCounts::default(),
            gaps: Default::default(),
            slot_of: HashMap::new(),
            by_kind: Default::default(),
            entries: HashMap::new(),
            holds: BTreeSet::new(),
            now_cache: NowCache::default(),
        }
    }

    /// The lot this inventory belongs to.
    pub fn lot_id(&self) -> LotId {
        self.lot_id
    }

    /// Takes new rules and hours from an updated lot. Existing bookings stay; a
    /// larger turnover buffer applies to bookings made from now on.
    pub fn update_lot(&mut self, lot: &Lot) {
        self.now_cache.clear();
        self.time_zone = lot.time_zone;
        self.hours = lot.hours.clone();
        self.rules = lot.rules;
        self.buffer = micros_of(lot.rules.buffer());
    }

    /// Adds a spot.
    pub fn add_spot(&mut self, spot: Spot) -> Result<(), SpotError> {
        self.now_cache.clear();
        if spot.lot_id != self.lot_id {
            return Err(SpotError::WrongLot(spot.lot_id));
        }
        if self.slot_of.contains_key(&spot.id) {
            return Err(SpotError::Duplicate(spot.id));
        }
        let slot = u32::try_from(self.slots.len()).map_err(|_| SpotError::Duplicate(spot.id))?;
        self.slot_of.insert(spot.id, slot);
        self.by_kind[spot.kind.index()].push(slot);
        if spot.in_service {
            self.capacity.increment(spot.kind);
        }
        self.summaries.push(Summary {
            kind: spot.kind,
            in_service: spot.in_service,
            holds: 0,
            bounds: None,
        });
        self.slots.push(SpotSlot {
            spot,
            calendar: SpotCalendar::default(),
        });
        Ok(())
    }

    /// Puts a spot in or out of service. Out of service, it is never allocated;
    /// its existing bookings stay (the operator decides what to do with them).
    pub fn set_in_service(&mut self, spot: SpotId, in_service: bool) -> Result<(), SpotError> {
        self.now_cache.clear();
        let slot = self.slot(spot).ok_or(SpotError::Unknown(spot))?;
        let kind = self.slots[slot].spot.kind;
        match (self.slots[slot].spot.in_service, in_service) {
            (false, true) => self.capacity.increment(kind),
            (true, false) => self.capacity.decrement(kind),
            _ => {}
        }
        self.slots[slot].spot.in_service = in_service;
        self.summaries[slot].in_service = in_service;
        Ok(())
    }

    /// Removes a spot that holds no bookings.
    pub fn remove_spot(&mut self, spot: SpotId) -> Result<Spot, SpotError> {
        self.now_cache.clear();
        let slot = self.slot(spot).ok_or(SpotError::Unknown(spot))?;
        let bookings = self.slots[slot].calendar.len();
        if bookings > 0 {
            return Err(SpotError::HasBookings { spot, bookings });
        }
        // Shift, not swap: the spots keep the order they were added in, which is
        // allocation's final tie-break. Removing a spot is rare; re-index in O(n).
        let removed = self.slots.remove(slot);
        self.summaries.remove(slot);
        if removed.spot.in_service {
            self.capacity.decrement(removed.spot.kind);
        }
        self.slot_of.remove(&spot);
        let gone = slot as u32;
        for index in &mut self.gaps {
            index.renumber_after_removal(gone);
        }
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
        let mut best: Option<(Fit, u32)> = None;
        self.for_each_fit(kind, (start, end), self.buffer, now, |slot, fit| {
            if best.is_none_or(|b| (fit, slot) < b) {
                best = Some((fit, slot));
            }
        });
        best.map(|(_, slot)| slot as usize)
    }

    /// Calls `f(slot, fit)` once for every in-service spot of `kind` that is free
    /// for `span` with `buffer` on both sides, in no particular order.
    fn for_each_fit(
        &self,
        kind: SpotKind,
        (start, end): (Micros, Micros),
        buffer: Micros,
        now: Micros,
        mut f: impl FnMut(u32, Fit),
    ) {
        let (lo, hi) = (start.saturating_sub(buffer), end.saturating_add(buffer));
        // Spots whose free stretch around the request is unbounded on a side, or
        // that hold holds, are answered here; the rest need a bounded gap.
        for &slot in &self.by_kind[kind.index()] {
            let summary = &self.summaries[slot as usize];
            if !summary.in_service {
                continue;
            }
            if summary.holds > 0 {
                let calendar = &self.slots[slot as usize].calendar;
                if let Some(fit) = calendar.fit(start, end, buffer, now) {
                    f(slot, fit);
                }
                continue;
            }
            match summary.bounds {
                None => f(
                    slot,
                    Fit {
                        open_sides: 2,
                        slack: 0,
                    },
                ),
                Some((first, _)) if hi <= first => f(
                    slot,
                    Fit {
                        open_sides: 1,
                        slack: first - end,
                    },
                ),
                Some((_, last)) if last <= lo => f(
                    slot,
                    Fit {
                        open_sides: 1,
                        slack: start - last,
                    },
                ),
                Some(_) => {}
            }
        }
        for gap in self.gaps[kind.index()].near(lo) {
            if gap.start <= lo && hi <= gap.end {
                let summary = &self.summaries[gap.slot as usize];
                if summary.in_service && summary.holds == 0 {
                    let slack = (start - gap.start) + (gap.end - end);
                    f(
                        gap.slot,
                        Fit {
                            open_sides: 0,
                            slack,
                        },
                    );
                }
            }
        }
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
        let expires = request.hold_until.map_or(NEVER, |t| t.timestamp_micros());
        self.place_on(slot, request, span, expires, now_us)
    }

    fn place_on(
        &mut self,
        slot: usize,
        request: BookingRequest,
        span: (Micros, Micros),
        expires: Micros,
        now_us: Micros,
    ) -> Result<Booked, BookingError> {
        self.now_cache.clear();
        let spot_id = self.slots[slot].spot.id;
        let purged = self.slots[slot]
            .calendar
            .insert(request.id, span, expires, self.buffer, now_us)
            .map_err(|_| BookingError::SpotTaken(spot_id))?;
        for id in &purged {
            // Only expired holds are ever purged.
            self.entries
                .remove(id)
                .map(|e| self.holds.remove(&(e.expires, *id)));
            self.summaries[slot].holds = self.summaries[slot].holds.saturating_sub(1);
        }
        self.entries.insert(
            request.id,
            Entry {
                slot: slot as u32,
                span,
                expires,
            },
        );
        if expires == NEVER {
            self.index_added(slot, span);
        } else {
            self.holds.insert((expires, request.id));
            self.summaries[slot].holds += 1;
        }
        Ok(Booked {
            spot_id,
            expired_holds: purged,
        })
    }

    /// Updates the gap index and summary after a confirmed span was put on a
    /// spot's calendar: the gap it landed in splits in two.
    fn index_added(&mut self, slot: usize, (start, end): (Micros, Micros)) {
        let (prev, next) = self.slots[slot].calendar.confirmed_neighbours(start);
        let index = &mut self.gaps[self.slots[slot].spot.kind.index()];
        let slot32 = slot as u32;
        if let (Some(p), Some(n)) = (prev, next) {
            index.remove(Gap {
                start: p,
                end: n,
                slot: slot32,
            });
        }
        if let Some(p) = prev {
            index.add(Gap {
                start: p,
                end: start,
                slot: slot32,
            });
        }
        if let Some(n) = next {
            index.add(Gap {
                start: end,
                end: n,
                slot: slot32,
            });
        }
        self.summaries[slot].bounds = self.slots[slot].calendar.confirmed_bounds();
    }

    /// Updates the gap index and summary after a confirmed span left a spot's
    /// calendar: the gaps on either side merge.
    fn index_removed(&mut self, slot: usize, (start, end): (Micros, Micros)) {
        let (prev, next) = self.slots[slot].calendar.confirmed_neighbours(start);
        let index = &mut self.gaps[self.slots[slot].spot.kind.index()];
        let slot32 = slot as u32;
        if let Some(p) = prev {
            index.remove(Gap {
                start: p,
                end: start,
                slot: slot32,
            });
        }
        if let Some(n) = next {
            index.remove(Gap {
                start: end,
                end: n,
                slot: slot32,
            });
        }
        if let (Some(p), Some(n)) = (prev, next) {
            index.add(Gap {
                start: p,
                end: n,
                slot: slot32,
            });
        }
        self.summaries[slot].bounds = self.slots[slot].calendar.confirmed_bounds();
    }

    /// Takes a reservation off its calendar and out of every index.
    fn unplace(&mut self, id: ReservationId) -> Option<Entry> {
        self.now_cache.clear();
        let e = self.entries.remove(&id)?;
        let slot = e.slot as usize;
        self.slots[slot].calendar.remove(id, e.span.0);
        if e.expires == NEVER {
            self.index_removed(slot, e.span);
        } else {
            self.holds.remove(&(e.expires, id));
            self.summaries[slot].holds = self.summaries[slot].holds.saturating_sub(1);
        }
        Some(e)
    }

    /// Gives a reservation's spot back (cancelled, completed, no-show, expired).
    pub fn release(&mut self, id: ReservationId) -> Result<SpotId, BookingError> {
        let e = self
            .unplace(id)
            .ok_or(BookingError::UnknownReservation(id))?;
        Ok(self.slots[e.slot as usize].spot.id)
    }

    /// Makes a hold permanent (the booking was confirmed).
    pub fn confirm(&mut self, id: ReservationId) -> Result<(), BookingError> {
        self.now_cache.clear();
        let e = self
            .entries
            .get_mut(&id)
            .ok_or(BookingError::UnknownReservation(id))?;
        if e.expires == NEVER {
            return Ok(());
        }
        self.holds.remove(&(e.expires, id));
        e.expires = NEVER;
        let (slot, span) = (e.slot as usize, e.span);
        self.slots[slot].calendar.set_expiry(id, span.0, NEVER);
        self.summaries[slot].holds = self.summaries[slot].holds.saturating_sub(1);
        self.index_added(slot, span);
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
        let slot = e.slot as usize;
        let spot = self.slots[slot].spot.id;
        if !self.summaries[slot].in_service {
            return Err(BookingError::OutOfService(spot));
        }
        if self.slots[slot]
            .calendar
            .conflict_excluding(new_span.0, new_span.1, self.buffer, now_us, Some(id))
            .is_some()
        {
            return Err(BookingError::SpotTaken(spot));
        }
        self.unplace(id);
        let request = BookingRequest {
            id,
            choice: SpotChoice::Spot(spot),
            interval,
            hold_until: None,
        };
        // Cannot collide: checked just above with the old span ignored. Re-placing
        // goes through the one insertion path, which keeps every index in step.
        let placed = self.place_on(slot, request, new_span, e.expires, now_us);
        placed.map(|_| ())
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
            self.unplace(id);
            expired.push(id);
        }
        expired
    }

    /// Drops reservations that ended at or before `t` (history the conflict rules
    /// no longer need) and returns their ids.
    pub fn prune_ended(&mut self, t: DateTime<Utc>) -> Vec<ReservationId> {
        let t_us = t.timestamp_micros();
        let ended: Vec<ReservationId> = self
            .entries
            .iter()
            .filter(|(_, e)| e.span.1 <= t_us)
            .map(|(id, _)| *id)
            .collect();
        // Oldest first, so each removal only touches the spot's first gap.
        let mut ended: Vec<(Micros, ReservationId)> = ended
            .into_iter()
            .filter_map(|id| self.entries.get(&id).map(|e| (e.span.0, id)))
            .collect();
        ended.sort_unstable();
        ended
            .into_iter()
            .filter_map(|(_, id)| self.unplace(id).map(|_| id))
            .collect()
    }

    /// True if the in-service `spot` is free for `window`.
    pub fn is_free(&self, spot: SpotId, window: &Interval, now: DateTime<Utc>) -> bool {
        self.check(spot, window, now).is_ok()
    }

    /// In-service spots per kind that are free for the whole `window` (the turnover
    /// buffer included, as a booking of that window would need).
    pub fn availability(&self, window: &Interval, now: DateTime<Utc>) -> KindCounts {
        match span_of(window) {
            Ok(span) => self.count_free(span, self.buffer, now.timestamp_micros()),
            Err(_) => KindCounts::default(),
        }
    }

    /// In-service spots per kind with no blocking booking at `now` (the buffer is
    /// not applied: a spot is free now if nobody holds it now).
    pub fn availability_now(&self, now: DateTime<Utc>) -> KindCounts {
        let now_us = now.timestamp_micros();
        self.count_free((now_us, now_us.saturating_add(1)), 0, now_us)
    }

    /// [`availability_now`](Self::availability_now), computed at most once per
    /// whole second of `now` between changes to the inventory: every booking,
    /// release or spot change is seen at once, but a booking starting or ending
    /// within the current second may show only from the next one. For listings
    /// polled many times a second (search); use `availability_now` where exactness
    /// to the microsecond matters.
    pub fn availability_now_cached(&self, now: DateTime<Utc>) -> KindCounts {
        self.now_cache
            .get_or(now.timestamp(), || self.availability_now(now))
    }

    /// One pass over the dense summaries (plus one gap bucket per kind) rather
    /// than a search per spot: the search endpoint asks this for every lot it lists.
    fn count_free(
        &self,
        (start, end): (Micros, Micros),
        buffer: Micros,
        now: Micros,
    ) -> KindCounts {
        let (lo, hi) = (start.saturating_sub(buffer), end.saturating_add(buffer));
        let mut free = [0u32; 5];
        for (slot, s) in self.summaries.iter().enumerate() {
            if !s.in_service {
                continue;
            }
            let is_free = if s.holds > 0 {
                self.slots[slot]
                    .calendar
                    .conflict(start, end, buffer, now)
                    .is_none()
            } else {
                // Bounded gaps are counted from the gap index below.
                s.bounds
                    .is_none_or(|(first, last)| hi <= first || last <= lo)
            };
            free[s.kind.index()] += u32::from(is_free);
        }
        for kind in SpotKind::ALL {
            for gap in self.gaps[kind.index()].near(lo) {
                let s = &self.summaries[gap.slot as usize];
                if gap.start <= lo && hi <= gap.end && s.in_service && s.holds == 0 {
                    free[kind.index()] += 1;
                }
            }
        }
        let mut counts = KindCounts::default();
        for kind in SpotKind::ALL {
            counts.set(kind, free[kind.index()]);
        }
        counts
    }

    /// In-service spots per kind (the capacity the availability counts are out of).
    pub fn capacity(&self) -> KindCounts {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Closure, Currency, GeoPoint, Money, ReservationStatus, TenantId, UserId};
    use chrono::{NaiveDate, TimeZone};

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, h, m, 0)
            .single()
            .expect("valid")
    }

    fn iv(a: DateTime<Utc>, b: DateTime<Utc>) -> Interval {
        Interval::new(a, b).expect("valid")
    }

    fn lot(rules: BookingRules, hours: OperatingHours) -> Lot {
        Lot {
            id: LotId::from_u128(7),
            tenant_id: TenantId::from_u128(1),
            name: "Test".into(),
            address: "Street 1".into(),
            location: GeoPoint::new(0.0, 0.0).expect("valid"),
            time_zone: chrono_tz::UTC,
            hours,
            amenities: Default::default(),
            rules,
        }
    }

    fn inventory(rules: BookingRules, kinds: &[SpotKind]) -> LotInventory {
        let lot = lot(rules, OperatingHours::always_open());
        let mut inv = LotInventory::new(&lot);
        for (i, kind) in kinds.iter().enumerate() {
            inv.add_spot(Spot {
                id: SpotId::from_u128(i as u128),
                lot_id: lot.id,
                label: format!("A{i}"),
                kind: *kind,
                zone: None,
                in_service: true,
            })
            .expect("fresh");
        }
        inv
    }

    fn book(
        inv: &mut LotInventory,
        n: u128,
        choice: SpotChoice,
        i: Interval,
    ) -> Result<Booked, BookingError> {
        let req = BookingRequest {
            id: ReservationId::from_u128(n),
            choice,
            interval: i,
            hold_until: None,
        };
        inv.book(req, at(0, 0))
    }

    const S0: SpotChoice = SpotChoice::Spot(SpotId::from_u128(0));
    const S1: SpotChoice = SpotChoice::Spot(SpotId::from_u128(1));
    const S2: SpotChoice = SpotChoice::Spot(SpotId::from_u128(2));
    const ANY: SpotChoice = SpotChoice::Kind(SpotKind::Regular);

    #[test]
    fn best_fit_prefers_the_tightest_gap_and_keeps_empty_spots_empty() {
        let mut inv = inventory(BookingRules::default(), &[SpotKind::Regular; 3]);
        // Spot 0: busy 08-10 and 14-16 (a 4 h gap). Spot 1: busy 08-10 and 12-16
        // (a 2 h gap). Spot 2: empty.
        book(&mut inv, 1, S0, iv(at(8, 0), at(10, 0))).expect("free");
        book(&mut inv, 2, S0, iv(at(14, 0), at(16, 0))).expect("free");
        book(&mut inv, 3, S1, iv(at(8, 0), at(10, 0))).expect("free");
        book(&mut inv, 4, S1, iv(at(12, 0), at(16, 0))).expect("free");
        // 10:00-12:00 fills spot 1's gap exactly.
        let b = book(&mut inv, 5, ANY, iv(at(10, 0), at(12, 0))).expect("free");
        assert_eq!(b.spot_id, SpotId::from_u128(1));
        // 10:00-11:00 now only fits spot 0's gap or the empty spot: the gap wins.
        let b = book(&mut inv, 6, ANY, iv(at(10, 0), at(11, 0))).expect("free");
        assert_eq!(b.spot_id, SpotId::from_u128(0));
        // After 16:00 every spot has one open side; the least slack wins, then the
        // first-added spot: spots 0 and 1 both end at 16:00, spot 0 came first.
        let b = book(&mut inv, 7, ANY, iv(at(16, 0), at(17, 0))).expect("free");
        assert_eq!(b.spot_id, SpotId::from_u128(0));
        // 09:00-09:30 collides on 0 and 1: only the empty spot is left.
        let b = book(&mut inv, 8, ANY, iv(at(9, 0), at(9, 30))).expect("free");
        assert_eq!(b.spot_id, SpotId::from_u128(2));
        assert_eq!(
            inv.allocate(SpotKind::Ev, &iv(at(9, 0), at(10, 0)), at(0, 0)),
            Err(BookingError::NoneAvailable(SpotKind::Ev))
        );
    }

    #[test]
    fn the_turnover_buffer_is_kept_free_between_bookings() {
        let rules = BookingRules {
            turnover_buffer_minutes: 15,
            ..BookingRules::default()
        };
        let mut inv = inventory(rules, &[SpotKind::Regular]);
        book(&mut inv, 1, S0, iv(at(8, 0), at(10, 0))).expect("free");
        assert_eq!(
            book(&mut inv, 2, S0, iv(at(10, 10), at(11, 0))),
            Err(BookingError::SpotTaken(SpotId::from_u128(0)))
        );
        book(&mut inv, 3, S0, iv(at(10, 15), at(11, 0))).expect("buffer respected");
        assert_eq!(
            book(&mut inv, 4, S0, iv(at(7, 0), at(7, 50))),
            Err(BookingError::SpotTaken(SpotId::from_u128(0)))
        );
    }

    #[test]
    fn window_rules_and_closures_are_checked_before_spots() {
        let rules = BookingRules {
            min_lead_minutes: 60,
            max_duration_minutes: Some(180),
            ..BookingRules::default()
        };
        let hours = OperatingHours::new(
            None,
            vec![Closure {
                from: NaiveDate::from_ymd_opt(2026, 6, 2).expect("valid"),
                to: NaiveDate::from_ymd_opt(2026, 6, 2).expect("valid"),
                reason: "Resurfacing".into(),
            }],
        )
        .expect("valid");
        let lot = lot(rules, hours);
        let mut inv = LotInventory::new(&lot);
        let now = at(8, 0);
        let req = |i| BookingRequest {
            id: ReservationId::from_u128(1),
            choice: ANY,
            interval: i,
            hold_until: None,
        };
        assert_eq!(
            inv.book(req(iv(at(7, 0), at(9, 0))), now),
            Err(WindowError::InPast.into())
        );
        assert_eq!(
            inv.book(req(iv(at(8, 30), at(9, 0))), now),
            Err(WindowError::TooSoon {
                min_lead_minutes: 60
            }
            .into())
        );
        assert_eq!(
            inv.book(req(iv(at(9, 0), at(12, 1))), now),
            Err(WindowError::TooLong {
                max_duration_minutes: 180
            }
            .into())
        );
        let overnight = iv(at(22, 0), at(23, 0) + Duration::hours(2));
        let err = inv
            .book(req(overnight), now)
            .expect_err("closed on the 2nd");
        assert_eq!(
            err.to_string(),
            "the lot is closed on 2026-06-02: Resurfacing"
        );
        // All rules pass, but the lot has no spots.
        assert_eq!(
            inv.book(req(iv(at(9, 0), at(10, 0))), now),
            Err(BookingError::NoneAvailable(SpotKind::Regular))
        );
    }

    #[test]
    fn out_of_service_spots_are_never_allocated() {
        let mut inv = inventory(
            BookingRules::default(),
            &[SpotKind::Regular, SpotKind::Regular],
        );
        inv.set_in_service(SpotId::from_u128(0), false)
            .expect("known");
        let window = iv(at(9, 0), at(10, 0));
        assert_eq!(inv.capacity().get(SpotKind::Regular), 1);
        assert_eq!(
            inv.check(SpotId::from_u128(0), &window, at(0, 0)),
            Err(BookingError::OutOfService(SpotId::from_u128(0)))
        );
        let b = book(&mut inv, 1, ANY, window).expect("spot 1 free");
        assert_eq!(b.spot_id, SpotId::from_u128(1));
        assert_eq!(
            book(&mut inv, 2, ANY, window),
            Err(BookingError::NoneAvailable(SpotKind::Regular))
        );
    }

    #[test]
    fn reschedule_rechecks_and_leaves_nothing_changed_on_conflict() {
        let mut inv = inventory(BookingRules::default(), &[SpotKind::Regular]);
        book(&mut inv, 1, S0, iv(at(8, 0), at(10, 0))).expect("free");
        book(&mut inv, 2, S0, iv(at(11, 0), at(12, 0))).expect("free");
        let one = ReservationId::from_u128(1);
        // Extending into the next booking is refused and the old times stay.
        assert_eq!(
            inv.reschedule(one, iv(at(8, 0), at(11, 30)), at(0, 0)),
            Err(BookingError::SpotTaken(SpotId::from_u128(0)))
        );
        assert!(
            inv.check(SpotId::from_u128(0), &iv(at(9, 0), at(9, 30)), at(0, 0))
                .is_err()
        );
        assert!(
            inv.check(SpotId::from_u128(0), &iv(at(10, 0), at(11, 0)), at(0, 0))
                .is_ok()
        );
        // Extending up to it is fine; shortening frees the tail again.
        inv.reschedule(one, iv(at(8, 0), at(11, 0)), at(0, 0))
            .expect("fits");
        assert!(
            inv.check(SpotId::from_u128(0), &iv(at(10, 0), at(11, 0)), at(0, 0))
                .is_err()
        );
        inv.reschedule(one, iv(at(8, 0), at(9, 0)), at(0, 0))
            .expect("shorter");
        assert!(
            inv.check(SpotId::from_u128(0), &iv(at(9, 0), at(11, 0)), at(0, 0))
                .is_ok()
        );
        // A booking under way can be extended, but not moved to start in the past.
        assert_eq!(
            inv.reschedule(one, iv(at(8, 0), at(9, 30)), at(8, 30)),
            Ok(())
        );
        assert_eq!(
            inv.reschedule(one, iv(at(8, 15), at(9, 30)), at(8, 30)),
            Err(WindowError::InPast.into())
        );
    }

    #[test]
    fn holds_block_until_they_expire_and_are_swept() {
        let mut inv = inventory(BookingRules::default(), &[SpotKind::Regular]);
        let window = iv(at(9, 0), at(10, 0));
        let hold = BookingRequest {
            id: ReservationId::from_u128(1),
            choice: ANY,
            interval: window,
            hold_until: Some(at(0, 10)),
        };
        inv.book(hold, at(0, 0)).expect("free");
        assert_eq!(
            inv.availability(&window, at(0, 5)).get(SpotKind::Regular),
            0
        );
        assert_eq!(
            inv.availability(&window, at(0, 10)).get(SpotKind::Regular),
            1
        );
        assert_eq!(inv.expire_holds(at(0, 9)), vec![]);
        assert_eq!(
            inv.expire_holds(at(0, 10)),
            vec![ReservationId::from_u128(1)]
        );
        assert_eq!(inv.reservation_count(), 0);
        // A confirmed hold never expires.
        let hold2 = BookingRequest {
            id: ReservationId::from_u128(2),
            ..hold
        };
        inv.book(hold2, at(0, 0)).expect("free again");
        inv.confirm(ReservationId::from_u128(2)).expect("held");
        assert_eq!(inv.expire_holds(at(23, 0)), vec![]);
        assert_eq!(
            inv.availability(&window, at(23, 0)).get(SpotKind::Regular),
            0
        );
    }

    #[test]
    fn restore_loads_blocking_reservations_and_skips_the_rest() {
        let mut inv = inventory(
            BookingRules {
                min_lead_minutes: 600,
                ..BookingRules::default()
            },
            &[SpotKind::Regular],
        );
        let mut r = Reservation {
            id: ReservationId::from_u128(1),
            lot_id: LotId::from_u128(7),
            spot_id: SpotId::from_u128(0),
            user_id: UserId::from_u128(1),
            interval: iv(at(8, 0), at(10, 0)),
            status: ReservationStatus::CheckedIn,
            hold_expires_at: None,
            total: Money::new(100, Currency::EUR),
            created_at: at(0, 0),
        };
        // Under way and inside the lead time: restored all the same.
        assert!(inv.restore(&r, at(9, 0)).expect("fits").is_some());
        assert_eq!(
            inv.restore(&r, at(9, 0)),
            Err(BookingError::DuplicateReservation(r.id))
        );
        r.id = ReservationId::from_u128(2);
        r.status = ReservationStatus::Cancelled;
        assert_eq!(inv.restore(&r, at(9, 0)), Ok(None));
        r.status = ReservationStatus::Confirmed;
        assert_eq!(
            inv.restore(&r, at(9, 0)),
            Err(BookingError::SpotTaken(SpotId::from_u128(0)))
        );
        r.lot_id = LotId::from_u128(8);
        assert_eq!(
            inv.restore(&r, at(9, 0)),
            Err(BookingError::WrongLot(LotId::from_u128(8)))
        );
    }

    #[test]
    fn spots_with_bookings_cannot_be_removed_and_order_survives_removal() {
        let mut inv = inventory(BookingRules::default(), &[SpotKind::Regular; 3]);
        book(&mut inv, 1, S1, iv(at(8, 0), at(9, 0))).expect("free");
        assert_eq!(
            inv.remove_spot(SpotId::from_u128(1)),
            Err(SpotError::HasBookings {
                spot: SpotId::from_u128(1),
                bookings: 1
            })
        );
        inv.remove_spot(SpotId::from_u128(0)).expect("empty");
        let order: Vec<SpotId> = inv.spots().map(|s| s.id).collect();
        assert_eq!(order, vec![SpotId::from_u128(1), SpotId::from_u128(2)]);
        // Bookings on the shifted spots are still found and released.
        assert_eq!(
            inv.release(ReservationId::from_u128(1)),
            Ok(SpotId::from_u128(1))
        );
        book(&mut inv, 2, S2, iv(at(8, 0), at(9, 0))).expect("free");
        assert_eq!(
            inv.reservation_spot(ReservationId::from_u128(2)),
            Some(SpotId::from_u128(2))
        );
        assert_eq!(
            book(&mut inv, 3, S0, iv(at(8, 0), at(9, 0))),
            Err(BookingError::UnknownSpot(SpotId::from_u128(0)))
        );
    }

    #[test]
    fn sub_microsecond_ends_round_outward_so_no_overlap_hides() {
        let mut inv = inventory(BookingRules::default(), &[SpotKind::Regular]);
        let end = at(10, 0) + Duration::nanoseconds(500);
        book(&mut inv, 1, S0, iv(at(9, 0), end)).expect("free");
        // Starts 400 ns after 10:00 — inside the first booking.
        let start = at(10, 0) + Duration::nanoseconds(400);
        assert!(
            inv.check(SpotId::from_u128(0), &iv(start, at(11, 0)), at(0, 0))
                .is_err()
        );
    }

    #[test]
    fn cached_now_counts_see_every_change_at_once_and_time_within_a_second() {
        let mut inv = inventory(BookingRules::default(), &[SpotKind::Regular]);
        let end = at(10, 0) + Duration::milliseconds(500);
        book(&mut inv, 1, S0, iv(at(9, 0), end)).expect("free");
        let before_end = at(10, 0) + Duration::milliseconds(200);
        let after_end = at(10, 0) + Duration::milliseconds(700);
        assert_eq!(
            inv.availability_now_cached(before_end)
                .get(SpotKind::Regular),
            0
        );
        // Same second: the booking's end within it shows from the next second.
        assert_eq!(inv.availability_now(after_end).get(SpotKind::Regular), 1);
        assert_eq!(
            inv.availability_now_cached(after_end)
                .get(SpotKind::Regular),
            0
        );
        assert_eq!(
            inv.availability_now_cached(at(10, 0) + Duration::seconds(1))
                .get(SpotKind::Regular),
            1
        );
        // A change to the inventory is seen at once, whatever the second.
        let noon = at(12, 0);
        assert_eq!(inv.availability_now_cached(noon).get(SpotKind::Regular), 1);
        book(&mut inv, 2, S0, iv(at(11, 0), at(13, 0))).expect("free");
        assert_eq!(inv.availability_now_cached(noon).get(SpotKind::Regular), 0);
        inv.release(ReservationId::from_u128(2)).expect("booked");
        assert_eq!(inv.availability_now_cached(noon).get(SpotKind::Regular), 1);
        inv.set_in_service(SpotId::from_u128(0), false)
            .expect("known");
        assert_eq!(inv.availability_now_cached(noon).get(SpotKind::Regular), 0);
    }

    #[test]
    fn availability_now_counts_spots_nobody_holds_now() {
        let mut inv = inventory(
            BookingRules {
                turnover_buffer_minutes: 30,
                ..BookingRules::default()
            },
            &[SpotKind::Regular, SpotKind::Ev],
        );
        book(&mut inv, 1, S0, iv(at(8, 0), at(10, 0))).expect("free");
        assert_eq!(inv.availability_now(at(9, 0)).get(SpotKind::Regular), 0);
        assert_eq!(
            inv.availability_now(at(10, 0)).get(SpotKind::Regular),
            1,
            "free again at its end"
        );
        assert_eq!(inv.availability_now(at(9, 0)).get(SpotKind::Ev), 1);
        assert_eq!(
            inv.prune_ended(at(10, 0)),
            vec![ReservationId::from_u128(1)]
        );
        assert_eq!(inv.reservation_count(), 0);
    }
}
