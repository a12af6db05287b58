//! One spot's calendar: its blocking reservations as a sorted array of spans.
//!
//! The calendar holds `[start, end)` spans in microseconds since the Unix epoch,
//! sorted by start and never overlapping each other. Because they never overlap,
//! they are sorted by end as well, so one binary search finds the only span that can
//! collide with a request: the last one starting before the request (plus buffer)
//! ends. That makes a conflict check O(log n) with no scan.
//!
//! Holds carry an expiry. An expired hold stops blocking at once but stays in the
//! array until something needs its place (an insert purges expired holds in its way)
//! or the inventory sweeps it out; every read skips spans that are expired at `now`.
//!
//! Spans live in one `Vec` (binary search over contiguous memory, a few cache lines
//! per lookup) and their metadata in a parallel `Vec`, so the search touches only
//! the 16-byte spans. Insertion shifts the tail of one spot's array: a spot holds
//! its future bookings, a few hundred at most, so that is a short `memmove`.

use crate::model::ReservationId;

/// An instant in whole microseconds since the Unix epoch.
pub(crate) type Micros = i64;

/// A span that never expires.
pub(crate) const NEVER: Micros = Micros::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Meta {
    id: ReservationId,
    /// When a hold stops blocking; [`NEVER`] for confirmed bookings.
    expires: Micros,
}

/// How tightly a request fits into a free gap of a calendar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Fit {
    /// Sides of the gap with no blocking span at all (0, 1 or 2): an empty side is
    /// an unbounded free stretch, the thing best fit keeps intact.
    pub open_sides: u8,
    /// Free time left around the request on the bounded sides, in microseconds.
    pub slack: Micros,
}

/// The blocking spans of one spot.
#[derive(Clone, Debug, Default)]
pub(crate) struct SpotCalendar {
    spans: Vec<(Micros, Micros)>,
    meta: Vec<Meta>,
}

impl SpotCalendar {
    /// Number of spans held (expired holds not yet purged included).
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Index of the first span whose start is at or after `t`.
    fn first_starting_at_or_after(&self, t: Micros) -> usize {
        self.spans.partition_point(|&(start, _)| start < t)
    }

    fn blocking(&self, i: usize, now: Micros) -> bool {
        self.meta[i].expires > now
    }

    /// The first blocking span that collides with `[start, end)` widened by `buffer`
    /// on both sides, if any.
    pub fn conflict(
        &self,
        start: Micros,
        end: Micros,
        buffer: Micros,
        now: Micros,
    ) -> Option<ReservationId> {
        self.conflict_excluding(start, end, buffer, now, None)
    }

    /// As [`conflict`](Self::conflict), ignoring the span of `exclude` (a booking
    /// being moved does not collide with its own old times).
    pub fn conflict_excluding(
        &self,
        start: Micros,
        end: Micros,
        buffer: Micros,
        now: Micros,
        exclude: Option<ReservationId>,
    ) -> Option<ReservationId> {
        let mut i = self.first_starting_at_or_after(end.saturating_add(buffer));
        // Spans before `i` start early enough to collide; walking back, ends only
        // decrease, so stop at the first that ends before the widened request.
        while i > 0 {
            i -= 1;
            if self.spans[i].1.saturating_add(buffer) <= start {
                return None;
            }
            if self.blocking(i, now) && Some(self.meta[i].id) != exclude {
                return Some(self.meta[i].id);
            }
        }
        None
    }

    /// How a free request fits (see [`Fit`]); `None` if it collides.
    pub fn fit(&self, start: Micros, end: Micros, buffer: Micros, now: Micros) -> Option<Fit> {
        let split = self.first_starting_at_or_after(end.saturating_add(buffer));
        let mut open_sides = 0;
        let mut slack: Micros = 0;
        // Before: the nearest blocking span that starts before the widened end.
        match (0..split).rev().find(|&i| self.blocking(i, now)) {
            Some(i) if self.spans[i].1.saturating_add(buffer) > start => return None,
            Some(i) => slack = slack.saturating_add(start - self.spans[i].1),
            None => open_sides += 1,
        }
        // After: the nearest blocking span starting at or after the widened end.
        match (split..self.spans.len()).find(|&i| self.blocking(i, now)) {
            Some(i) => slack = slack.saturating_add(self.spans[i].0 - end),
            None => open_sides += 1,
        }
        Some(Fit { open_sides, slack })
    }

    /// Inserts a span after checking it; expired holds in its way are purged and
    /// their ids returned. On a conflict nothing changes.
    pub fn insert(
        &mut self,
        id: ReservationId,
        (start, end): (Micros, Micros),
        expires: Micros,
        buffer: Micros,
        now: Micros,
    ) -> Result<Vec<ReservationId>, ReservationId> {
        if let Some(holder) = self.conflict(start, end, buffer, now) {
            return Err(holder);
        }
        // Everything colliding is an expired hold: drop it so spans never overlap.
        let hi = self.first_starting_at_or_after(end.saturating_add(buffer));
        let mut lo = hi;
        while lo > 0 && self.spans[lo - 1].1.saturating_add(buffer) > start {
            lo -= 1;
        }
        let purged: Vec<ReservationId> = self.meta.drain(lo..hi).map(|m| m.id).collect();
        self.spans.drain(lo..hi);
        let at = self.first_starting_at_or_after(start);
        self.spans.insert(at, (start, end));
        self.meta.insert(at, Meta { id, expires });
        Ok(purged)
    }

    fn position(&self, id: ReservationId, start: Micros) -> Option<usize> {
        let i = self.first_starting_at_or_after(start);
        (i < self.spans.len() && self.spans[i].0 == start && self.meta[i].id == id).then_some(i)
    }

    /// Removes the span of `id` that starts at `start`; false if there is none.
    pub fn remove(&mut self, id: ReservationId, start: Micros) -> bool {
        match self.position(id, start) {
            Some(i) => {
                self.spans.remove(i);
                self.meta.remove(i);
                true
            }
            None => false,
        }
    }

    /// Sets the expiry of the span of `id` starting at `start`.
    pub fn set_expiry(&mut self, id: ReservationId, start: Micros, expires: Micros) -> bool {
        match self.position(id, start) {
            Some(i) => {
                self.meta[i].expires = expires;
                true
            }
            None => false,
        }
    }

    /// Removes spans that ended at or before `t`, returning their ids.
    pub fn prune_ended(&mut self, t: Micros) -> Vec<ReservationId> {
        // Sorted by end too: the ended ones are a prefix.
        let n = self.spans.partition_point(|&(_, end)| end <= t);
        self.spans.drain(..n);
        self.meta.drain(..n).map(|m| m.id).collect()
    }

    /// The ids in start order.
    #[cfg(test)]
    fn ids(&self) -> Vec<ReservationId> {
        self.meta.iter().map(|m| m.id).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> ReservationId {
        ReservationId::from_u128(n)
    }

    fn cal(spans: &[(Micros, Micros)]) -> SpotCalendar {
        let mut c = SpotCalendar::default();
        for (n, &span) in spans.iter().enumerate() {
            c.insert(id(n as u128), span, NEVER, 0, 0)
                .expect("no overlap");
        }
        c
    }

    #[test]
    fn conflicts_respect_half_open_bounds_and_the_buffer() {
        let c = cal(&[(10, 20), (30, 40)]);
        assert_eq!(c.conflict(20, 30, 0, 0), None, "fits exactly between");
        assert_eq!(c.conflict(19, 21, 0, 0), Some(id(0)));
        assert_eq!(c.conflict(39, 50, 0, 0), Some(id(1)));
        assert_eq!(c.conflict(0, 10, 0, 0), None);
        assert_eq!(c.conflict(22, 28, 2, 0), None, "buffer of 2 still fits");
        assert_eq!(c.conflict(21, 28, 2, 0), Some(id(0)));
        assert_eq!(c.conflict(22, 29, 2, 0), Some(id(1)));
        assert_eq!(c.conflict(0, 100, 0, 0), Some(id(1)), "spanning both");
    }

    #[test]
    fn expired_holds_do_not_block_and_are_purged_on_insert() {
        let mut c = SpotCalendar::default();
        c.insert(id(1), (10, 20), 5, 0, 0).expect("free");
        assert_eq!(c.conflict(15, 25, 0, 4), Some(id(1)), "hold live at 4");
        assert_eq!(c.conflict(15, 25, 0, 5), None, "expired at 5");
        assert_eq!(c.insert(id(2), (15, 25), NEVER, 0, 5), Ok(vec![id(1)]));
        assert_eq!(c.len(), 1);
        assert_eq!(c.conflict(0, 16, 0, 5), Some(id(2)));
    }

    #[test]
    fn fit_measures_the_gap_around_a_request() {
        let c = cal(&[(10, 20), (30, 40)]);
        assert_eq!(
            c.fit(22, 28, 0, 0),
            Some(Fit {
                open_sides: 0,
                slack: 4
            })
        );
        assert_eq!(
            c.fit(50, 60, 0, 0),
            Some(Fit {
                open_sides: 1,
                slack: 10
            })
        );
        assert_eq!(
            SpotCalendar::default().fit(1, 2, 0, 0),
            Some(Fit {
                open_sides: 2,
                slack: 0
            })
        );
        assert_eq!(c.fit(15, 25, 0, 0), None);
    }

    #[test]
    fn remove_and_prune() {
        let mut c = cal(&[(10, 20), (30, 40), (50, 60)]);
        assert!(!c.remove(id(1), 31), "wrong start");
        assert!(!c.remove(id(0), 30), "wrong id");
        assert!(c.remove(id(1), 30));
        assert_eq!(c.prune_ended(20), vec![id(0)]);
        assert_eq!(c.ids(), vec![id(2)]);
    }
}
