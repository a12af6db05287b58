//! A time-bucketed index of the free gaps between confirmed bookings, per spot kind.
//!
//! Best-fit allocation needs, for every spot of a kind, the free gap around the
//! request. Asking each spot's calendar costs a binary search per spot — a few
//! cache misses each, which for a 2,000-spot lot is most of the time spent. This
//! index answers the same question from one contiguous list: every *bounded* gap
//! (between two confirmed bookings of one spot) is registered in each fixed-length
//! time bucket it overlaps, so the gaps that can contain a request are exactly the
//! gaps registered in the bucket of the request's (buffered) start. Unbounded gaps
//! (before a spot's first booking, after its last) need no index: they follow from
//! each spot's first start and last end, kept in the inventory's per-spot summary.
//!
//! Holds are left out: they come and go within minutes, and a spot holding one is
//! answered from its calendar instead (see `LotInventory::for_each_fit`).

use std::collections::HashMap;

use super::calendar::Micros;

/// Bucket length: six hours. Shorter buckets hold fewer gaps each but register long
/// gaps in more buckets.
const BUCKET: Micros = 6 * 3600 * 1_000_000;

/// A free stretch `[start, end)` of one spot between two confirmed bookings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Gap {
    /// End of the booking before.
    pub start: Micros,
    /// Start of the booking after.
    pub end: Micros,
    /// The spot's slot in the inventory.
    pub slot: u32,
}

/// Bounded gaps by time bucket.
#[derive(Clone, Debug, Default)]
pub(crate) struct GapIndex {
    buckets: HashMap<i64, Vec<Gap>>,
}

fn buckets_of(gap: &Gap) -> std::ops::RangeInclusive<i64> {
    gap.start.div_euclid(BUCKET)..=(gap.end - 1).div_euclid(BUCKET)
}

impl GapIndex {
    /// Registers a gap; empty gaps (touching bookings) are not stored.
    pub fn add(&mut self, gap: Gap) {
        if gap.start >= gap.end {
            return;
        }
        for b in buckets_of(&gap) {
            self.buckets.entry(b).or_default().push(gap);
        }
    }

    /// Unregisters a gap added before; empty gaps were never stored.
    pub fn remove(&mut self, gap: Gap) {
        if gap.start >= gap.end {
            return;
        }
        for b in buckets_of(&gap) {
            if let Some(list) = self.buckets.get_mut(&b) {
                if let Some(i) = list.iter().position(|g| *g == gap) {
                    list.swap_remove(i);
                }
                if list.is_empty() {
                    self.buckets.remove(&b);
                }
            }
        }
    }

    /// Every gap overlapping the bucket of `t`: a superset of the gaps containing `t`.
    pub fn near(&self, t: Micros) -> &[Gap] {
        self.buckets
            .get(&t.div_euclid(BUCKET))
            .map_or(&[], Vec::as_slice)
    }

    /// Slot numbers above `gone` move down by one (a spot was removed).
    pub fn renumber_after_removal(&mut self, gone: u32) {
        for g in self.buckets.values_mut().flatten() {
            if g.slot > gone {
                g.slot -= 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_are_found_from_every_bucket_they_overlap() {
        let mut index = GapIndex::default();
        let long = Gap {
            start: 0,
            end: 3 * BUCKET + 5,
            slot: 1,
        };
        let short = Gap {
            start: BUCKET + 1,
            end: BUCKET + 2,
            slot: 2,
        };
        index.add(long);
        index.add(short);
        index.add(Gap {
            start: 7,
            end: 7,
            slot: 3,
        });
        assert_eq!(index.near(0), &[long]);
        assert_eq!(index.near(BUCKET + 10), &[long, short]);
        assert_eq!(index.near(3 * BUCKET), &[long]);
        assert_eq!(index.near(4 * BUCKET), &[] as &[Gap]);
        index.remove(long);
        assert_eq!(index.near(BUCKET), &[short]);
        index.renumber_after_removal(0);
        assert_eq!(index.near(BUCKET)[0].slot, 1);
    }
}
