//! Conflict rules at scale: a check against a 10,000-spot inventory holding
//! 1,000,000 reservations, and best-fit allocation in a 2,000-spot lot with 200
//! bookings per spot.
//!
//! `cargo bench -p parking-core --bench conflict`

use std::hint::black_box;

use chrono::{DateTime, Duration, TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use parking_core::conflict::{BookingRequest, LotInventory, SpotChoice};
use parking_core::model::{
    BookingRules, GeoPoint, Interval, Lot, LotId, OperatingHours, ReservationId, Spot, SpotId,
    SpotKind, TenantId,
};

/// A small deterministic generator (xorshift64*), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> i64 {
        (self.next() % n) as i64
    }
}

fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("valid")
}

fn lot() -> Lot {
    Lot {
        id: LotId::from_u128(1),
        tenant_id: TenantId::from_u128(1),
        name: "Bench".into(),
        address: "Bench street".into(),
        location: GeoPoint::new(51.0, 13.7).expect("valid"),
        time_zone: chrono_tz::Europe::Berlin,
        hours: OperatingHours::always_open(),
        amenities: Default::default(),
        rules: BookingRules {
            turnover_buffer_minutes: 10,
            ..BookingRules::default()
        },
    }
}

/// `spots` regular spots, each with `per_spot` bookings of 30 min to 4 h separated
/// by gaps of 10 min to 6 h, laid end to end from the epoch.
fn inventory(spots: usize, per_spot: usize, rng: &mut Rng) -> (LotInventory, i64) {
    let lot = lot();
    let mut inv = LotInventory::new(&lot);
    let mut horizon = 0;
    let mut next_id = 0u128;
    for s in 0..spots {
        let spot = SpotId::from_u128(s as u128);
        inv.add_spot(Spot {
            id: spot,
            lot_id: lot.id,
            label: format!("S{s}"),
            kind: SpotKind::Regular,
            zone: None,
            in_service: true,
        })
        .expect("fresh");
        let mut t = rng.below(240);
        for _ in 0..per_spot {
            t += 10 + rng.below(350);
            let len = 30 + rng.below(210);
            let interval = Interval::new(
                epoch() + Duration::minutes(t),
                epoch() + Duration::minutes(t + len),
            )
            .expect("valid");
            next_id += 1;
            inv.book(
                BookingRequest {
                    id: ReservationId::from_u128(next_id),
                    choice: SpotChoice::Spot(spot),
                    interval,
                    hold_until: None,
                },
                epoch(),
            )
            .expect("laid out without overlap");
            t += len;
        }
        horizon = horizon.max(t);
    }
    (inv, horizon)
}

fn requests(rng: &mut Rng, horizon: i64, n: usize) -> Vec<Interval> {
    (0..n)
        .map(|_| {
            let start = rng.below(horizon as u64);
            let len = 30 + rng.below(150);
            Interval::new(
                epoch() + Duration::minutes(start),
                epoch() + Duration::minutes(start + len),
            )
            .expect("valid")
        })
        .collect()
}

fn bench_check(c: &mut Criterion) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (inv, horizon) = inventory(10_000, 100, &mut rng);
    assert_eq!(inv.reservation_count(), 1_000_000);
    let windows = requests(&mut rng, horizon, 4096);
    let spots: Vec<SpotId> = (0..4096)
        .map(|_| SpotId::from_u128(rng.below(10_000) as u128))
        .collect();
    let now = epoch();
    let mut i = 0usize;
    c.bench_function("conflict/check_10k_spots_1m_reservations", |b| {
        b.iter(|| {
            i = (i + 1) & 4095;
            black_box(inv.check(spots[i], &windows[i], now).is_ok())
        })
    });
}

fn bench_allocate(c: &mut Criterion) {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let (inv, horizon) = inventory(2_000, 200, &mut rng);
    let windows = requests(&mut rng, horizon, 1024);
    let found = windows
        .iter()
        .filter(|w| inv.allocate(SpotKind::Regular, w, epoch()).is_ok())
        .count();
    println!(
        "allocate: {found} of {} probe windows find a spot",
        windows.len()
    );
    let now = epoch();
    let mut i = 0usize;
    c.bench_function("conflict/allocate_2k_spots_200_each", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            black_box(inv.allocate(SpotKind::Regular, &windows[i], now).ok())
        })
    });
}

criterion_group!(benches, bench_check, bench_allocate);
criterion_main!(benches);
