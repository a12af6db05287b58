//! Property tests for the pricing engine: the total is the sum of the lines,
//! a longer stay never costs less, and the daily maximum holds on every local
//! day, including days with DST changes in Europe/Berlin and America/New_York.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use parking_core::model::local_time::start_of_local_day;
use parking_core::model::{Currency, Interval, SpotKind};
use parking_core::pricing::{
    DemandPolicy, FlatRate, LineKind, Occupancy, Quote, RateBand, RateCard, quote,
};
use proptest::prelude::*;

const WEEK: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

fn days(mask: u8) -> Vec<Weekday> {
    let mask = if mask & 0x7f == 0 { 1 } else { mask };
    WEEK.iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, d)| *d)
        .collect()
}

/// A time on the quarter-hour grid; 96 quarters is midnight at the end of the day.
fn quarter(q: u32) -> NaiveTime {
    NaiveTime::from_num_seconds_from_midnight_opt((q % 96) * 900, 0).expect("valid time")
}

fn band() -> impl Strategy<Value = (u8, u32, u32, i64)> {
    (any::<u8>(), 0u32..96, 1u32..=96, 0i64..2000)
        .prop_map(|(mask, start, len, hourly)| (mask, start, (start + len).min(96), hourly))
}

fn flat() -> impl Strategy<Value = FlatRate> {
    (any::<u8>(), 0u32..95, 1u32..=48, 0u32..96, 0i64..6000).prop_map(
        |(mask, from, len, exit, price)| FlatRate {
            name: format!("flat {from}"),
            days: days(mask),
            enter_from: quarter(from),
            enter_until: quarter((from + len).min(96)),
            exit_by: quarter(exit),
            price,
        },
    )
}

fn demand() -> impl Strategy<Value = DemandPolicy> {
    (0u8..100, 1u8..=50, 0u8..=50, 0u32..=1000, 1000u32..=3000).prop_map(
        |(low, width, step, floor, ceiling)| DemandPolicy {
            target_low_pct: low,
            target_high_pct: low.saturating_add(width).min(100).max(low + 1),
            step_pct: step,
            floor_permille: floor,
            ceiling_permille: ceiling,
        },
    )
}

fn card() -> impl Strategy<Value = RateCard> {
    (
        0i64..1500,
        prop::collection::vec(band(), 0..6),
        prop::collection::btree_map(
            prop::sample::select(SpotKind::ALL.to_vec()),
            0u32..3000,
            0..3,
        ),
        prop::sample::select(vec![1u32, 5, 7, 15, 30, 60, 90, 1440]),
        prop::collection::vec(flat(), 0..3),
        prop::option::of(0i64..8000),
        prop::option::of(demand()),
    )
        .prop_map(
            |(base, raw_bands, kinds, increment, flats, daily_max, demand)| {
                // Keep each band only if it overlaps no band kept before it.
                let mut bands: Vec<RateBand> = Vec::new();
                for (mask, start, end, hourly) in raw_bands {
                    let band = RateBand {
                        days: days(mask),
                        start: quarter(start),
                        end: quarter(end),
                        hourly,
                    };
                    let clashes = bands.iter().any(|b| {
                        let (bs, be) = (
                            b.start,
                            if b.end == NaiveTime::MIN {
                                None
                            } else {
                                Some(b.end)
                            },
                        );
                        let ends_after_b_starts = band.end == NaiveTime::MIN || band.end > bs;
                        let starts_before_b_ends = be.is_none_or(|be| band.start < be);
                        ends_after_b_starts
                            && starts_before_b_ends
                            && band.days.iter().any(|d| b.days.contains(d))
                    });
                    if !clashes {
                        bands.push(band);
                    }
                }
                RateCard {
                    currency: Currency::EUR,
                    base_hourly: base,
                    bands,
                    kind_factors_permille: kinds.into_iter().collect::<BTreeMap<_, _>>(),
                    increment_minutes: increment,
                    flat_rates: flats,
                    daily_max,
                    demand,
                }
            },
        )
}

fn tz() -> impl Strategy<Value = Tz> {
    prop::sample::select(vec![
        chrono_tz::Europe::Berlin,
        chrono_tz::America::New_York,
    ])
}

/// A start within three days before a 2026 DST change of either zone.
fn start() -> impl Strategy<Value = DateTime<Utc>> {
    let changes = vec![(3u32, 8u32), (3, 29), (10, 25), (11, 1)];
    (prop::sample::select(changes), 0i64..(4 * 86_400)).prop_map(|((m, d), secs)| {
        Utc.with_ymd_and_hms(2026, m, d, 12, 0, 0)
            .single()
            .expect("valid instant")
            - Duration::days(3)
            + Duration::seconds(secs)
    })
}

fn kind() -> impl Strategy<Value = SpotKind> {
    prop::sample::select(SpotKind::ALL.to_vec())
}

fn occupancy() -> impl Strategy<Value = Occupancy> {
    (0u16..=1000).prop_map(Occupancy::from_permille)
}

fn priced(card: &RateCard, tz: Tz, kind: SpotKind, stay: &Interval, occ: Occupancy) -> Quote {
    quote(card, tz, kind, stay, occ).expect("a valid card prices every stay")
}

fn stay(start: DateTime<Utc>, secs: i64) -> Interval {
    Interval::starting_at(start, Duration::seconds(secs)).expect("non-empty stay")
}

fn next_day(d: NaiveDate) -> NaiveDate {
    d.succ_opt().expect("valid date")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn generated_cards_are_valid(card in card()) {
        prop_assert_eq!(card.validate(), Ok(()));
    }

    #[test]
    fn total_is_the_sum_of_the_lines(
        card in card(), tz in tz(), kind in kind(), start in start(),
        secs in 1i64..(4 * 86_400), occ in occupancy(),
    ) {
        let s = stay(start, secs);
        let q = priced(&card, tz, kind, &s, occ);
        let sum: i64 = q.lines.iter().map(|l| l.amount.amount).sum();
        prop_assert_eq!(q.total.amount, sum);
        prop_assert_eq!(q.total.currency, card.currency);
        prop_assert!(q.lines.iter().all(|l| l.amount.currency == card.currency));
        prop_assert!(q.total.amount >= 0);

        // Billed: same start, end rounded up by less than one increment, whole increments.
        let increment = i64::from(card.increment_minutes) * 60;
        let billed = q.billed.duration().num_seconds();
        prop_assert_eq!(q.billed.start(), s.start());
        prop_assert!(q.billed.end() >= s.end());
        prop_assert_eq!(billed % increment, 0);
        prop_assert!(billed - secs < increment);

        // Time lines tile the billed interval, each inside the local day it names.
        if !q.lines.iter().any(|l| matches!(l.kind, LineKind::FlatRate { .. })) {
            let mut at = q.billed.start();
            for line in q.lines.iter().filter(|l| l.kind == LineKind::Time) {
                prop_assert_eq!(line.segment.start(), at);
                at = line.segment.end();
                prop_assert!(line.segment.start() >= start_of_local_day(tz, line.local_date));
                prop_assert!(line.segment.end() <= start_of_local_day(tz, next_day(line.local_date)));
            }
            prop_assert_eq!(at, q.billed.end());
        }
    }

    #[test]
    fn a_longer_stay_never_costs_less(
        card in card(), tz in tz(), kind in kind(), start in start(),
        secs in 1i64..(3 * 86_400), extra in 0i64..(2 * 86_400), occ in occupancy(),
    ) {
        let short = priced(&card, tz, kind, &stay(start, secs), occ);
        let long = priced(&card, tz, kind, &stay(start, secs + extra), occ);
        prop_assert!(
            long.total.amount >= short.total.amount,
            "{} s cost {} but {} s cost {}", secs, short.total, secs + extra, long.total
        );
    }

    #[test]
    fn a_stay_one_second_longer_never_costs_less(
        card in card(), tz in tz(), kind in kind(), start in start(),
        secs in 1i64..(3 * 86_400), occ in occupancy(),
    ) {
        let short = priced(&card, tz, kind, &stay(start, secs), occ);
        let long = priced(&card, tz, kind, &stay(start, secs + 1), occ);
        prop_assert!(long.total.amount >= short.total.amount);
    }

    #[test]
    fn the_daily_maximum_holds_on_every_local_day(
        card in card(), tz in tz(), kind in kind(), start in start(),
        secs in 1i64..(4 * 86_400), occ in occupancy(), max in 0i64..5000,
    ) {
        let mut card = card;
        card.daily_max = Some(max);
        let cap = card.daily_max_for(kind).expect("card has a daily max");
        let s = stay(start, secs);
        let with_flats = priced(&card, tz, kind, &s, occ);

        // The time-based quote (no flat rates) is capped on every local day …
        card.flat_rates.clear();
        let timed = priced(&card, tz, kind, &s, occ);
        let mut per_day: BTreeMap<NaiveDate, i64> = BTreeMap::new();
        for line in &timed.lines {
            *per_day.entry(line.local_date).or_default() += line.amount.amount;
        }
        for (day, total) in &per_day {
            prop_assert!(*total <= cap, "{} charged {} over a cap of {}", day, total, cap);
        }
        // … and a flat rate only ever replaces it with something cheaper.
        prop_assert!(with_flats.total.amount <= timed.total.amount);
    }
}
