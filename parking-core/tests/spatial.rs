//! Spatial search against brute force: every answer of `LotIndex` must equal a
//! haversine scan over all lots sorted by `(distance_m, lot_id)` — same set, same
//! order — on random points (worldwide, at the poles, across the antimeridian,
//! with shared coordinates), after random updates, and on real ParkAPI lots.

use std::cell::Cell;
use std::collections::BTreeMap;

use parking_core::model::{EARTH_RADIUS_M, GeoPoint, LotId};
use parking_core::spatial::{Hit, LotIndex, Radius, SpatialError};
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// Brute force: the definition the index must match.

fn brute_sorted(lots: &[(LotId, GeoPoint)], center: GeoPoint) -> Vec<Hit> {
    let mut hits: Vec<Hit> = lots
        .iter()
        .map(|&(lot_id, at)| Hit {
            lot_id,
            distance_m: center.distance_m(&at),
        })
        .collect();
    hits.sort_by(|a, b| {
        a.distance_m
            .total_cmp(&b.distance_m)
            .then(a.lot_id.cmp(&b.lot_id))
    });
    hits
}

fn brute_within(lots: &[(LotId, GeoPoint)], center: GeoPoint, radius_m: f64) -> Vec<Hit> {
    let mut hits = brute_sorted(lots, center);
    hits.retain(|h| h.distance_m <= radius_m);
    hits
}

fn brute_nearest(lots: &[(LotId, GeoPoint)], center: GeoPoint, k: usize) -> Vec<Hit> {
    let mut hits = brute_sorted(lots, center);
    hits.truncate(k);
    hits
}

fn brute_search(
    lots: &[(LotId, GeoPoint)],
    center: GeoPoint,
    radius_m: f64,
    limit: usize,
    keep: impl Fn(&Hit) -> bool,
) -> Vec<Hit> {
    let mut hits = brute_within(lots, center, radius_m);
    hits.retain(keep);
    hits.truncate(limit);
    hits
}

fn is_even(hit: &Hit) -> bool {
    hit.lot_id.as_uuid().as_u128().is_multiple_of(2)
}

/// Checks within, nearest and filtered search at one centre against brute force.
fn assert_matches_brute_force(
    index: &LotIndex,
    lots: &[(LotId, GeoPoint)],
    center: GeoPoint,
    radius_m: f64,
    k: usize,
) {
    let radius = Radius::new(radius_m).expect("test radii are valid");
    assert_eq!(
        index.within(center, radius),
        brute_within(lots, center, radius_m),
        "within {radius_m} m of {center:?}"
    );
    assert_eq!(
        index.nearest(center, k),
        brute_nearest(lots, center, k),
        "{k} nearest to {center:?}"
    );
    assert_eq!(
        index.search(center, radius, k, is_even),
        brute_search(lots, center, radius_m, k, is_even),
        "search {radius_m} m, limit {k}, even ids, at {center:?}"
    );
}

fn point(lat: f64, lng: f64) -> GeoPoint {
    GeoPoint::new(lat, lng).expect("test coordinates are valid")
}

/// Distinct ids whose order differs from insertion order (odd multiplier: a
/// bijection on u64).
fn id(i: usize) -> LotId {
    LotId::from_u128(u128::from((i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)))
}

// ---------------------------------------------------------------------------
// Random inputs.

fn any_point() -> impl Strategy<Value = GeoPoint> {
    let sign = prop_oneof![Just(1.0), Just(-1.0)];
    prop_oneof![
        // Worldwide.
        (-90.0..=90.0f64, -180.0..=180.0f64).prop_map(|(lat, lng)| point(lat, lng)),
        // Polar caps, |lat| > 85, any longitude.
        (sign.clone(), 85.0..=90.0f64, -180.0..=180.0f64)
            .prop_map(|(s, lat, lng)| point(s * lat, lng)),
        // Tight polar cluster: within about 11 km of a pole.
        (sign.clone(), 89.9..=90.0f64, -180.0..=180.0f64)
            .prop_map(|(s, lat, lng)| point(s * lat, lng)),
        // Either side of the antimeridian.
        (sign.clone(), -60.0..=60.0f64, 179.0..=180.0f64)
            .prop_map(|(s, lat, lng)| point(lat, s * lng)),
        // Tight antimeridian cluster on the equator: within a few km.
        (sign, -0.05..=0.05f64, 179.95..=180.0f64).prop_map(|(s, lat, lng)| point(lat, s * lng)),
    ]
}

/// Lots with some coordinates repeated, so ties must be broken by id.
fn lots(max: usize) -> impl Strategy<Value = Vec<(LotId, GeoPoint)>> {
    prop::collection::vec((any_point(), any::<prop::sample::Index>(), 0..4u8), 0..max).prop_map(
        |raw| {
            let mut points: Vec<GeoPoint> = Vec::with_capacity(raw.len());
            for (p, copy_of, roll) in raw {
                // One lot in four shares the coordinates of an earlier one.
                let p = match (roll, points.is_empty()) {
                    (0, false) => points[copy_of.index(points.len())],
                    _ => p,
                };
                points.push(p);
            }
            points
                .into_iter()
                .enumerate()
                .map(|(i, p)| (id(i), p))
                .collect()
        },
    )
}

fn any_radius() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.0),
        0.0..5_000.0f64,
        0.0..2_000_000.0f64,
        // Up to beyond half the circumference (about 20,015 km): everything.
        0.0..25_000_000.0f64,
    ]
}

/// A centre: anywhere, or exactly at one of the lots.
fn center(
    lots: &[(LotId, GeoPoint)],
    pick: Option<prop::sample::Index>,
    free: GeoPoint,
) -> GeoPoint {
    match pick {
        Some(i) if !lots.is_empty() => lots[i.index(lots.len())].1,
        _ => free,
    }
}

#[derive(Clone, Debug)]
enum Op {
    Insert(usize, GeoPoint),
    Move(usize, GeoPoint),
    Remove(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..40usize, any_point()).prop_map(|(i, p)| Op::Insert(i, p)),
        2 => (0..40usize, any_point()).prop_map(|(i, p)| Op::Move(i, p)),
        1 => (0..40usize).prop_map(Op::Remove),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn queries_equal_brute_force(
        lots in lots(120),
        queries in prop::collection::vec(
            (any_point(), any::<Option<prop::sample::Index>>(), any_radius(), 0..30usize),
            1..6,
        ),
    ) {
        let index = LotIndex::from_lots(lots.iter().copied());
        prop_assert_eq!(index.len(), lots.len());
        for (free, pick, radius_m, k) in queries {
            let c = center(&lots, pick, free);
            assert_matches_brute_force(&index, &lots, c, radius_m, k);
        }
    }

    #[test]
    fn updates_keep_the_index_equal_to_brute_force(
        start in lots(40),
        ops in prop::collection::vec(op(), 0..60),
        queries in prop::collection::vec((any_point(), any_radius(), 0..15usize), 1..4),
    ) {
        let mut model: BTreeMap<LotId, GeoPoint> = start.iter().copied().collect();
        let mut index = LotIndex::from_lots(start.iter().copied());
        for op in ops {
            match op {
                Op::Insert(i, p) => {
                    prop_assert_eq!(index.insert(id(i), p), model.insert(id(i), p));
                }
                Op::Move(i, p) => {
                    let expected = match model.get_mut(&id(i)) {
                        Some(at) => Ok(std::mem::replace(at, p)),
                        None => Err(SpatialError::UnknownLot(id(i))),
                    };
                    prop_assert_eq!(index.move_lot(id(i), p), expected);
                }
                Op::Remove(i) => {
                    prop_assert_eq!(index.remove(id(i)), model.remove(&id(i)).is_some());
                }
            }
        }
        prop_assert_eq!(index.len(), model.len());
        prop_assert_eq!(index.is_empty(), model.is_empty());
        for (&lot, &at) in &model {
            prop_assert_eq!(index.get(lot), Some(at));
        }
        let current: Vec<(LotId, GeoPoint)> = model.into_iter().collect();
        for (c, radius_m, k) in queries {
            assert_matches_brute_force(&index, &current, c, radius_m, k);
        }
    }
}

// ---------------------------------------------------------------------------
// Known distances and edge cases.

#[test]
fn finds_lots_across_the_antimeridian() {
    let east = LotId::from_u128(1);
    let west = LotId::from_u128(2);
    let far = LotId::from_u128(3);
    let index = LotIndex::from_lots([
        (east, point(0.0, 179.9)),
        (west, point(0.0, -179.9)),
        (far, point(0.0, 170.0)),
    ]);
    // 0.2 degrees of longitude on the equator: about 22.24 km, not 40,000 km.
    let hits = index.within(point(0.0, 179.9), Radius::new(25_000.0).expect("valid"));
    let ids: Vec<LotId> = hits.iter().map(|h| h.lot_id).collect();
    assert_eq!(ids, [east, west]);
    assert!(
        (hits[1].distance_m - 22_239.0).abs() < 5.0,
        "{}",
        hits[1].distance_m
    );
    let from_the_west = index.nearest(point(0.0, -179.95), 1);
    assert_eq!(from_the_west[0].lot_id, west);
    assert_eq!(index.nearest(point(0.0, 179.99), 2)[1].lot_id, west);
}

#[test]
fn finds_lots_near_the_pole() {
    let a = LotId::from_u128(1);
    let b = LotId::from_u128(2);
    let index = LotIndex::from_lots([(a, point(89.999, 0.0)), (b, point(89.999, 180.0))]);
    // Opposite longitudes, yet only about 222.4 m apart over the pole.
    let hits = index.within(point(89.999, 0.0), Radius::new(250.0).expect("valid"));
    assert_eq!(hits.len(), 2);
    assert!(
        (hits[1].distance_m - 222.4).abs() < 1.0,
        "{}",
        hits[1].distance_m
    );
    assert_eq!(
        index
            .within(point(89.999, 0.0), Radius::new(200.0).expect("valid"))
            .len(),
        1
    );
    // At the pole itself every longitude is the same point; both are 111.2 m away,
    // so the lower id comes first.
    let at_pole = index.nearest(point(90.0, 45.0), 2);
    assert_eq!(at_pole[0].lot_id, a);
    assert_eq!(at_pole[1].lot_id, b);
    assert!((at_pole[0].distance_m - at_pole[1].distance_m).abs() < 1e-6);
}

#[test]
fn half_the_circumference_covers_everything() {
    let lots: Vec<(LotId, GeoPoint)> = [
        (0.0, 0.0),
        (0.0, 180.0),
        (90.0, 0.0),
        (-90.0, 0.0),
        (45.0, -120.0),
    ]
    .iter()
    .enumerate()
    .map(|(i, &(lat, lng))| (id(i), point(lat, lng)))
    .collect();
    let index = LotIndex::from_lots(lots.iter().copied());
    let half = std::f64::consts::PI * EARTH_RADIUS_M;
    let hits = index.within(point(0.0, 0.0), Radius::new(half).expect("valid"));
    assert_eq!(hits, brute_within(&lots, point(0.0, 0.0), half));
    assert_eq!(hits.len(), lots.len());
    assert_eq!(
        index.within(point(0.0, 0.0), Radius::everywhere()).len(),
        lots.len()
    );
    // The antipode is the last and the farthest.
    assert_eq!(hits[4].lot_id, id(1));
}

#[test]
fn zero_radius_finds_lots_at_the_centre_only() {
    let index = LotIndex::from_lots([
        (LotId::from_u128(7), point(51.0, 13.0)),
        (LotId::from_u128(3), point(51.0, 13.0)),
        (LotId::from_u128(5), point(51.0, 13.00001)),
    ]);
    let hits = index.within(point(51.0, 13.0), Radius::new(0.0).expect("valid"));
    let ids: Vec<LotId> = hits.iter().map(|h| h.lot_id).collect();
    assert_eq!(ids, [LotId::from_u128(3), LotId::from_u128(7)]);
}

#[test]
fn search_calls_the_filter_lazily_in_distance_order() {
    let lots: Vec<(LotId, GeoPoint)> = (0..200)
        .map(|i| (id(i), point(51.0 + (i as f64) * 0.0001, 13.0)))
        .collect();
    let index = LotIndex::from_lots(lots.iter().copied());
    let center = point(51.0, 13.0);
    let calls = Cell::new(0usize);
    let mut seen = Vec::new();
    let hits = index.search(center, Radius::everywhere(), 5, |hit| {
        calls.set(calls.get() + 1);
        seen.push(hit.lot_id);
        is_even(hit)
    });
    assert_eq!(hits, brute_search(&lots, center, f64::MAX, 5, is_even));
    // The filter saw exactly the lots up to the fifth that passed, nearest first.
    let last = hits.last().expect("five even lots").lot_id;
    let order: Vec<LotId> = brute_sorted(&lots, center)
        .iter()
        .map(|h| h.lot_id)
        .collect();
    let upto = order.iter().position(|&l| l == last).expect("present") + 1;
    assert_eq!(calls.get(), upto);
    assert_eq!(seen, order[..upto]);
    // A limit of zero asks nothing.
    calls.set(0);
    let none = index.search(center, Radius::everywhere(), 0, |_| {
        calls.set(calls.get() + 1);
        true
    });
    assert!(none.is_empty());
    assert_eq!(calls.get(), 0);
}

#[test]
fn updates_upsert_move_and_remove() {
    let a = LotId::from_u128(1);
    let mut index = LotIndex::new();
    assert!(index.is_empty());
    assert_eq!(index.insert(a, point(10.0, 10.0)), None);
    assert_eq!(index.insert(a, point(20.0, 20.0)), Some(point(10.0, 10.0)));
    assert_eq!(index.len(), 1);
    assert_eq!(index.move_lot(a, point(30.0, 30.0)), Ok(point(20.0, 20.0)));
    assert_eq!(index.get(a), Some(point(30.0, 30.0)));
    let b = LotId::from_u128(2);
    assert_eq!(
        index.move_lot(b, point(0.0, 0.0)),
        Err(SpatialError::UnknownLot(b))
    );
    assert!(
        index
            .within(point(20.0, 20.0), Radius::new(1_000.0).expect("valid"))
            .is_empty()
    );
    assert_eq!(index.nearest(point(30.0, 30.0), 5).len(), 1);
    assert!(index.remove(a));
    assert!(!index.remove(a));
    assert!(index.is_empty());
    assert!(index.nearest(point(30.0, 30.0), 5).is_empty());
}

#[test]
fn radius_refuses_nonsense() {
    assert_eq!(Radius::new(-1.0), Err(SpatialError::InvalidRadius(-1.0)));
    assert!(Radius::new(f64::NAN).is_err());
    assert!(Radius::new(f64::INFINITY).is_err());
}

// ---------------------------------------------------------------------------
// Real data: ParkAPI lots in 30 cities (tests/data/parkapi-lots, see SOURCE.txt).

const PARKAPI: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/parkapi-lots");

/// Lot positions of every feature with a point geometry; lots without one (four
/// in this data) are skipped. Ids are synthetic, by position.
fn parkapi_lots() -> Vec<(LotId, GeoPoint)> {
    let mut files = Vec::new();
    for dir in ["original", "new"] {
        let entries =
            std::fs::read_dir(format!("{PARKAPI}/{dir}")).expect("parkapi data directory");
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.extension().is_some_and(|e| e == "geojson") {
                files.push(path);
            }
        }
    }
    files.sort();
    // 26 original + 5 new cities (SOURCE.txt counts "30 valid files" but lists 31).
    assert_eq!(files.len(), 31);
    let mut points = Vec::new();
    let mut features = 0;
    for path in files {
        let text = std::fs::read_to_string(&path).expect("readable geojson");
        let json: serde_json::Value = serde_json::from_str(&text).expect("valid geojson");
        for feature in json["features"].as_array().expect("a FeatureCollection") {
            features += 1;
            let coords = feature["geometry"]["coordinates"].as_array();
            let (Some(lng), Some(lat)) = (
                coords.and_then(|c| c.first()).and_then(|v| v.as_f64()),
                coords.and_then(|c| c.get(1)).and_then(|v| v.as_f64()),
            ) else {
                continue;
            };
            points.push(point(lat, lng));
        }
    }
    assert_eq!(features, 593);
    assert_eq!(points.len(), 589);
    points
        .into_iter()
        .enumerate()
        .map(|(i, p)| (LotId::from_u128(i as u128), p))
        .collect()
}

#[test]
fn real_lots_equal_brute_force() {
    let lots = parkapi_lots();
    let index = LotIndex::from_lots(lots.iter().copied());
    assert_eq!(index.len(), lots.len());
    for &(_, center) in &lots {
        let brute = brute_sorted(&lots, center);
        for radius_m in [500.0, 2_000.0, 20_000.0] {
            let radius = Radius::new(radius_m).expect("valid");
            let expected: Vec<Hit> = brute
                .iter()
                .copied()
                .filter(|h| h.distance_m <= radius_m)
                .collect();
            assert_eq!(
                index.within(center, radius),
                expected,
                "within {radius_m} m of {center:?}"
            );
            let even: Vec<Hit> = expected.iter().copied().filter(is_even).take(10).collect();
            assert_eq!(index.search(center, radius, 10, is_even), even);
        }
        for k in [1, 5, 20] {
            assert_eq!(
                index.nearest(center, k),
                brute[..k],
                "{k} nearest to {center:?}"
            );
        }
    }
}

#[test]
fn real_lots_sharing_coordinates_are_ordered_by_id() {
    let lots = parkapi_lots();
    let index = LotIndex::from_lots(lots.iter().copied());
    let mut by_position: BTreeMap<(u64, u64), Vec<LotId>> = BTreeMap::new();
    for &(lot, at) in &lots {
        by_position
            .entry((at.lat().to_bits(), at.lng().to_bits()))
            .or_default()
            .push(lot);
    }
    let mut shared: Vec<usize> = Vec::new();
    for (&(lat, lng), group) in by_position.iter().filter(|(_, g)| g.len() > 1) {
        shared.push(group.len());
        let center = point(f64::from_bits(lat), f64::from_bits(lng));
        let mut expected = group.clone();
        expected.sort();
        let first: Vec<Hit> = index.nearest(center, group.len());
        assert!(first.iter().all(|h| h.distance_m == 0.0));
        assert_eq!(first.iter().map(|h| h.lot_id).collect::<Vec<_>>(), expected);
        // Fewer than the group: the lowest ids win, whichever twin the tree meets first.
        assert_eq!(index.nearest(center, 1)[0].lot_id, expected[0]);
        let radius = Radius::new(0.0).expect("valid");
        assert_eq!(
            index.search(center, radius, 1, |_| true)[0].lot_id,
            expected[0]
        );
    }
    // In this data: three coordinate pairs shared by two lots, one by three (Bonn).
    shared.sort();
    assert_eq!(shared, [2, 2, 2, 3]);
}
