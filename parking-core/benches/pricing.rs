//! Benchmark of the pricing engine: a 24-hour quote over the 4-band example card.

use std::hint::black_box;

use chrono::{TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use parking_core::model::{Interval, SpotKind};
use parking_core::pricing::{Occupancy, RateCard, quote};

fn quote_24h(c: &mut Criterion) {
    // Example card: 4 bands, kind factors, flat rates, daily max, demand policy.
    let card = RateCard::example_eur();
    let start = Utc
        .with_ymd_and_hms(2026, 3, 3, 9, 20, 0)
        .single()
        .expect("valid instant");
    let stay = Interval::new(
        start,
        Utc.with_ymd_and_hms(2026, 3, 4, 9, 20, 0)
            .single()
            .expect("valid instant"),
    )
    .expect("non-empty");
    let occupancy = Occupancy::from_counts(87, 100);
    c.bench_function("quote/24h_4_bands", |b| {
        b.iter(|| {
            quote(
                black_box(&card),
                black_box(chrono_tz::Europe::Berlin),
                black_box(SpotKind::Ev),
                black_box(&stay),
                black_box(occupancy),
            )
        })
    });
}

criterion_group!(benches, quote_24h);
criterion_main!(benches);
