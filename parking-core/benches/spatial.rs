//! Spatial search benches: 100,000 lots spread uniformly over a 150 km × 150 km
//! region around Dresden, so a 1-km query finds about 14 lots (the mean is printed).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use parking_core::model::{GeoPoint, LotId};
use parking_core::spatial::{LotIndex, Radius};

const LOTS: usize = 100_000;
const CENTERS: usize = 1_024;
const ORIGIN: (f64, f64) = (51.05, 13.74);
/// Half the side of the square, in metres.
const HALF_SIDE_M: f64 = 75_000.0;
const METRES_PER_DEGREE: f64 = 111_195.0;

/// SplitMix64: deterministic inputs without a `rand` dependency.
struct SplitMix(u64);

impl SplitMix {
    fn next_unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A point in the square around [`ORIGIN`], shrunk by `margin_m` on each side.
    fn point(&mut self, margin_m: f64) -> GeoPoint {
        let half = HALF_SIDE_M - margin_m;
        let dy = (self.next_unit() * 2.0 - 1.0) * half;
        let dx = (self.next_unit() * 2.0 - 1.0) * half;
        let lat = ORIGIN.0 + dy / METRES_PER_DEGREE;
        let lng = ORIGIN.1 + dx / (METRES_PER_DEGREE * ORIGIN.0.to_radians().cos());
        GeoPoint::new(lat, lng).expect("the square lies well inside valid coordinates")
    }
}

fn spatial(c: &mut Criterion) {
    let mut rng = SplitMix(0x5EED);
    let index =
        LotIndex::from_lots((0..LOTS).map(|i| (LotId::from_u128(i as u128), rng.point(0.0))));
    // Centres at least 1 km inside the square, so every query sees a full circle.
    let centers: Vec<GeoPoint> = (0..CENTERS).map(|_| rng.point(1_000.0)).collect();
    let radius = Radius::new(1_000.0).expect("valid radius");

    let total: usize = centers.iter().map(|&c| index.within(c, radius).len()).sum();
    let max = centers
        .iter()
        .map(|&c| index.within(c, radius).len())
        .max()
        .unwrap_or(0);
    println!(
        "spatial: {LOTS} lots, within 1 km: mean {:.1} hits, max {max} over {CENTERS} centres",
        total as f64 / CENTERS as f64
    );

    let mut group = c.benchmark_group("spatial");
    let mut i = 0;
    group.bench_function("within_1km_100k", |b| {
        b.iter(|| {
            i = (i + 1) % CENTERS;
            black_box(index.within(black_box(centers[i]), radius))
        })
    });
    group.bench_function("nearest_20_100k", |b| {
        b.iter(|| {
            i = (i + 1) % CENTERS;
            black_box(index.nearest(black_box(centers[i]), 20))
        })
    });
    group.bench_function("search_1km_even_10_100k", |b| {
        b.iter(|| {
            i = (i + 1) % CENTERS;
            black_box(index.search(black_box(centers[i]), radius, 10, |hit| {
                hit.lot_id.as_uuid().as_u128().is_multiple_of(2)
            }))
        })
    });
    group.finish();
}

criterion_group!(benches, spatial);
criterion_main!(benches);
