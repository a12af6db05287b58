//! Spatial search over lots: [`LotIndex`], an `rstar` R-tree over lot locations
//! with exact great-circle (haversine) answers.
//!
//! Lots are stored as points on the unit sphere ([`GeoPoint::to_unit_vector`]), so
//! the tree's straight-line (chord) distance is a monotone function of the
//! great-circle distance everywhere: near the poles, across the antimeridian, up to
//! the antipode. No latitude/longitude boxes, no wrap-around special cases.
//!
//! Every query bounds its search with the chord (plus a tiny slack), then refines
//! with [`GeoPoint::distance_m`], the source of truth for distances. Answers are
//! ordered by `(distance_m, lot_id)` and equal a brute-force haversine scan sorted
//! the same way — same set, same order, ties between lots sharing coordinates
//! broken by id.
//!
//! Layout: this file owns the index and its queries; [`Radius`] (validated input)
//! lives in `radius.rs`; the lazy ordered walk [`Nearby`] behind `nearest` and
//! `search` lives in `nearby.rs`.
//!
//! ```
//! use parking_core::model::{GeoPoint, LotId};
//! use parking_core::spatial::{LotIndex, Radius};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let altmarkt = LotId::from_u128(1);
//! let hbf = LotId::from_u128(2);
//! let index = LotIndex::from_lots([
//!     (altmarkt, GeoPoint::new(51.0507, 13.7418)?),
//!     (hbf, GeoPoint::new(51.0406, 13.7320)?),
//! ]);
//! let here = GeoPoint::new(51.0493, 13.7381)?;
//! let hits = index.within(here, Radius::new(1_500.0)?);
//! assert_eq!(hits.len(), 2);
//! assert_eq!(hits[0].lot_id, altmarkt);
//! let cheap = index.search(here, Radius::new(2_000.0)?, 1, |hit| hit.lot_id == hbf);
//! assert_eq!(cheap[0].lot_id, hbf);
//! # Ok(())
//! # }
//! ```

mod nearby;
mod radius;

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;

use rstar::{AABB, PointDistance, RTree, RTreeObject};
use thiserror::Error;

use crate::model::{GeoPoint, LotId};

pub use nearby::Nearby;
pub use radius::Radius;

/// Errors of spatial inputs and index updates.
#[derive(Debug, Clone, Copy, PartialEq, Error)]
pub enum SpatialError {
    /// A radius that is negative, infinite or NaN.
    #[error("radius {0} m is not a finite, non-negative distance")]
    InvalidRadius(f64),
    /// The lot is not in the index.
    #[error("lot {0} is not in the spatial index")]
    UnknownLot(LotId),
}

/// One search result: a lot and its great-circle distance from the query centre.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hit {
    /// The lot found.
    pub lot_id: LotId,
    /// Haversine distance from the query centre in metres.
    pub distance_m: f64,
}

/// The order of every answer: by distance, then by lot id.
fn hit_order(a: &Hit, b: &Hit) -> Ordering {
    a.distance_m
        .total_cmp(&b.distance_m)
        .then_with(|| a.lot_id.cmp(&b.lot_id))
}

/// What the R-tree stores: the unit vector it indexes, plus the id and the
/// original coordinates so refining needs no map lookup.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Entry {
    xyz: [f64; 3],
    id: LotId,
    at: GeoPoint,
}

impl Entry {
    fn new(id: LotId, at: GeoPoint) -> Self {
        Entry {
            xyz: at.to_unit_vector(),
            id,
            at,
        }
    }
}

impl RTreeObject for Entry {
    type Envelope = AABB<[f64; 3]>;

    fn envelope(&self) -> Self::Envelope {
        AABB::from_point(self.xyz)
    }
}

impl PointDistance for Entry {
    fn distance_2(&self, point: &[f64; 3]) -> f64 {
        let [dx, dy, dz] = [
            self.xyz[0] - point[0],
            self.xyz[1] - point[1],
            self.xyz[2] - point[2],
        ];
        dx * dx + dy * dy + dz * dz
    }

    // The default computes the envelope distance and then the same distance
    // again; for a point they are one and the same.
    fn distance_2_if_less_or_equal(&self, point: &[f64; 3], max_distance_2: f64) -> Option<f64> {
        let d2 = self.distance_2(point);
        (d2 <= max_distance_2).then_some(d2)
    }
}

/// Lot locations indexed for radius, k-nearest and filtered search.
///
/// A `HashMap` beside the tree knows where each lot is, so `insert` can replace a
/// lot (upsert) and `remove` can find it in the tree.
#[derive(Clone, Default)]
pub struct LotIndex {
    tree: RTree<Entry>,
    locations: HashMap<LotId, GeoPoint>,
}

impl fmt::Debug for LotIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LotIndex")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl LotIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds the index in one pass (R-tree bulk load), which gives a better tree
    /// than inserting lot by lot. If an id occurs more than once, the last
    /// location wins.
    pub fn from_lots(lots: impl IntoIterator<Item = (LotId, GeoPoint)>) -> Self {
        let locations: HashMap<LotId, GeoPoint> = lots.into_iter().collect();
        let entries = locations
            .iter()
            .map(|(&id, &at)| Entry::new(id, at))
            .collect();
        LotIndex {
            tree: RTree::bulk_load(entries),
            locations,
        }
    }

    /// Number of lots indexed.
    pub fn len(&self) -> usize {
        self.locations.len()
    }

    /// Whether the index holds no lot.
    pub fn is_empty(&self) -> bool {
        self.locations.is_empty()
    }

    /// Where a lot is, if indexed.
    pub fn get(&self, id: LotId) -> Option<GeoPoint> {
        self.locations.get(&id).copied()
    }

    /// All indexed lots, in no particular order.
    pub fn lots(&self) -> impl Iterator<Item = (LotId, GeoPoint)> + '_ {
        self.locations.iter().map(|(&id, &at)| (id, at))
    }

    /// Adds a lot, or moves it if it is already indexed; returns its previous
    /// location.
    pub fn insert(&mut self, id: LotId, at: GeoPoint) -> Option<GeoPoint> {
        let previous = self.locations.insert(id, at);
        if let Some(old) = previous {
            self.tree.remove(&Entry::new(id, old));
        }
        self.tree.insert(Entry::new(id, at));
        previous
    }

    /// Moves an indexed lot; returns its previous location. Unlike
    /// [`insert`](Self::insert), refuses lots that are not indexed.
    pub fn move_lot(&mut self, id: LotId, to: GeoPoint) -> Result<GeoPoint, SpatialError> {
        if !self.locations.contains_key(&id) {
            return Err(SpatialError::UnknownLot(id));
        }
        self.insert(id, to).ok_or(SpatialError::UnknownLot(id))
    }

    /// Removes a lot; `false` if it was not indexed.
    pub fn remove(&mut self, id: LotId) -> bool {
        match self.locations.remove(&id) {
            Some(at) => {
                self.tree.remove(&Entry::new(id, at));
                true
            }
            None => false,
        }
    }

    /// Every lot whose great-circle distance from `center` is at most `radius`,
    /// ordered by `(distance_m, lot_id)`.
    pub fn within(&self, center: GeoPoint, radius: Radius) -> Vec<Hit> {
        let radius_m = radius.metres();
        let refine = |entry: &Entry| {
            let distance_m = center.distance_m(&entry.at);
            (distance_m <= radius_m).then_some(Hit {
                lot_id: entry.id,
                distance_m,
            })
        };
        let mut hits: Vec<Hit> = match radius.chord_bound() {
            Some(chord) => self
                .tree
                .locate_within_distance(center.to_unit_vector(), chord * chord)
                .filter_map(refine)
                .collect(),
            None => self.tree.iter().filter_map(refine).collect(),
        };
        hits.sort_unstable_by(hit_order);
        hits
    }

    /// The `k` lots nearest to `center`, ordered by `(distance_m, lot_id)`; a tie
    /// at the k-th distance goes to the lower id.
    pub fn nearest(&self, center: GeoPoint, k: usize) -> Vec<Hit> {
        let mut hits = Vec::with_capacity(k.min(self.len()));
        hits.extend(self.nearby(center, Radius::everywhere()).take(k));
        hits
    }

    /// Up to `limit` lots within `radius` that pass `filter`, ordered by
    /// `(distance_m, lot_id)`.
    ///
    /// The filter is called lazily, nearest lot first, and not again once `limit`
    /// lots have passed — so an expensive check (a spot kind free in a window, a
    /// quoted price) runs on only as many lots as the page needs.
    pub fn search(
        &self,
        center: GeoPoint,
        radius: Radius,
        limit: usize,
        filter: impl FnMut(&Hit) -> bool,
    ) -> Vec<Hit> {
        let mut hits = Vec::with_capacity(limit.min(self.len()).min(64));
        hits.extend(self.nearby(center, radius).filter(filter).take(limit));
        hits
    }

    /// All lots within `radius` of `center`, lazily, in `(distance_m, lot_id)`
    /// order. The building block of [`nearest`](Self::nearest) and
    /// [`search`](Self::search), for callers who want to drive the walk themselves.
    pub fn nearby(&self, center: GeoPoint, radius: Radius) -> Nearby<'_> {
        Nearby::new(
            self.tree
                .nearest_neighbor_iter_with_distance_2(center.to_unit_vector()),
            center,
            radius.metres(),
            radius.chord_bound(),
        )
    }
}
