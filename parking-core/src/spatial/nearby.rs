//! [`Nearby`]: the lazy walk over lots in (haversine distance, lot id) order that
//! k-nearest and filtered search are built on.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt;

use rstar::iterators::NearestNeighborDistance2Iterator;

use crate::model::GeoPoint;

use super::radius::CHORD_SLACK;
use super::{Entry, Hit};

/// Lots in ascending (distance, lot id) order, produced lazily.
///
/// The R-tree yields lots by chord distance; lots are held back in a small
/// look-ahead heap until the tree has moved more than [`CHORD_SLACK`] past them, so
/// lots at equal (or float-indistinguishable) distance come out by haversine
/// distance and then by id, exactly as a brute-force scan sorted by
/// `(distance_m, lot_id)` would list them. Work done is proportional to the
/// number of hits taken, so an expensive filter downstream only runs on as many
/// lots as the caller consumes.
///
/// Created by [`LotIndex::nearby`](super::LotIndex::nearby).
pub struct Nearby<'a> {
    center: GeoPoint,
    radius_m: f64,
    /// Chord bound of the radius (with slack); `INFINITY` when unbounded.
    max_chord: f64,
    tree: NearestNeighborDistance2Iterator<'a, Entry>,
    /// Chord of the lot the tree yielded last; every later lot is at least this far.
    frontier: f64,
    /// The tree is exhausted or past the radius.
    done: bool,
    pending: BinaryHeap<Pending>,
}

impl<'a> Nearby<'a> {
    pub(super) fn new(
        tree: NearestNeighborDistance2Iterator<'a, Entry>,
        center: GeoPoint,
        radius_m: f64,
        max_chord: Option<f64>,
    ) -> Self {
        Nearby {
            center,
            radius_m,
            max_chord: max_chord.unwrap_or(f64::INFINITY),
            tree,
            frontier: 0.0,
            done: false,
            pending: BinaryHeap::new(),
        }
    }
}

impl Iterator for Nearby<'_> {
    type Item = Hit;

    fn next(&mut self) -> Option<Hit> {
        loop {
            if let Some(first) = self.pending.peek()
                && (self.done || self.frontier > first.chord + CHORD_SLACK)
            {
                return self.pending.pop().map(|p| p.hit);
            }
            if self.done {
                return None;
            }
            match self.tree.next() {
                Some((entry, chord_2)) => {
                    let chord = chord_2.sqrt();
                    if chord > self.max_chord {
                        self.done = true;
                        continue;
                    }
                    self.frontier = chord;
                    let distance_m = self.center.distance_m(&entry.at);
                    if distance_m <= self.radius_m {
                        self.pending.push(Pending {
                            hit: Hit {
                                lot_id: entry.id,
                                distance_m,
                            },
                            chord,
                        });
                    }
                }
                None => self.done = true,
            }
        }
    }
}

impl fmt::Debug for Nearby<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Nearby")
            .field("center", &self.center)
            .field("radius_m", &self.radius_m)
            .field("frontier", &self.frontier)
            .field("done", &self.done)
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

/// A lot seen by the tree but not yet emitted; ordered so the max-heap pops the
/// smallest `(distance_m, lot_id)` first.
#[derive(Debug)]
struct Pending {
    hit: Hit,
    chord: f64,
}

impl Ord for Pending {
    fn cmp(&self, other: &Self) -> Ordering {
        super::hit_order(&other.hit, &self.hit)
    }
}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Pending {}
