//! Fixed dashboard states for the screen snapshots, the update tests and the
//! frame benchmark: every id, name, count and instant is derived from
//! indices, so the same state draws the same screen on every run.

#![allow(dead_code)] // each test binary uses some of them

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use parking_api::payments::{PaymentPurposeDto, PaymentStatusDto, ReservationPayment};
use parking_api::ws::ServerMessage;
use parking_api::{
    Alert, AlertKind, KindCountsDto, Lot, LotSummary, MoneyDto, Page, Reservation,
    ReservationStatusDto, RevenueDay, SensorState, Spot, SpotKindDto,
};
use parking_core::model::{
    BookingRules, GeoPoint, KindCounts, Lot as CoreLot, LotId, OperatingHours, TenantId,
};
use parking_tui::app::{App, LiveEvent, Msg};
use parking_tui::link::Link;
use parking_tui::model::{Analytics, LotDetail, SpotCounts, WatchedLot};
use parking_tui::update::update;
use uuid::Uuid;

/// The fixed "now" of every fixture: Thursday 26 Nov 2026, 08:00 UTC.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 8, 0, 0)
        .single()
        .expect("valid instant")
}

/// The id of lot `n`.
pub fn lot_id(n: u32) -> Uuid {
    Uuid::from_u128(0x1000_0000 + u128::from(n))
}

/// A fresh dashboard at [`t0`].
pub fn empty_app() -> App {
    App::new(
        "http://127.0.0.1:8080".to_owned(),
        "op@example.com".to_owned(),
        t0(),
    )
}

/// The area search's answer for `count` lots, as the source hands it on: lot
/// `n` has `40 + 7n % 160` spots of which a share that grows with `n` is taken.
pub fn summaries(count: u32) -> Vec<WatchedLot> {
    (0..count)
        .map(|n| {
            let total = 40 + (n * 7) % 160;
            let taken = total * ((n * 13) % 100) / 100;
            LotSummary {
                id: lot_id(n),
                name: format!("{} {:03}", NAMES[(n as usize) % NAMES.len()], n),
                address: format!("Street {n}"),
                location: parking_api::Location {
                    lat: 51.05,
                    lng: 13.74,
                },
                distance_m: f64::from(n) * 10.0,
                total_spots: total,
                available_spots: total - taken,
                quote: None,
            }
            .into()
        })
        .collect()
}

const NAMES: [&str; 6] = [
    "Altmarkt",
    "Frauenkirche",
    "Neustadt Bahnhof",
    "Messe",
    "Zwinger",
    "Hauptbahnhof Süd",
];

/// Spot counts matching [`summaries`]: a fifth of the taken spots have a
/// car in them, every tenth lot has two spots out of service.
pub fn counts(count: u32) -> Vec<SpotCounts> {
    summaries(count)
        .into_iter()
        .enumerate()
        .map(|(n, s)| {
            let taken = s.total_spots - s.available_spots;
            let mut capacity = KindCountsDto::new();
            let mut available = KindCountsDto::new();
            let ev = s.total_spots / 10;
            capacity.insert(SpotKindDto::Regular, s.total_spots - ev);
            capacity.insert(SpotKindDto::Ev, ev);
            available.insert(
                SpotKindDto::Regular,
                s.available_spots.saturating_sub(s.available_spots / 10),
            );
            available.insert(SpotKindDto::Ev, s.available_spots / 10);
            SpotCounts {
                lot_id: s.id,
                in_service: s.total_spots,
                free: s.available_spots,
                out_of_service: if n % 10 == 0 { 2 } else { 0 },
                occupied: taken / 5,
                capacity,
                available,
            }
        })
        .collect()
}

/// An alert of `kind` on lot `lot`, spot `spot`, raised `minutes` before t0.
pub fn alert(n: u128, kind: AlertKind, lot: Uuid, spot: Uuid, minutes: i64) -> Alert {
    Alert {
        id: Uuid::from_u128(((0xa1e7_0000 + n) << 96) | n),
        kind,
        lot_id: lot,
        spot_id: spot,
        spot_label: format!("A-{n:03}"),
        reservation_id: None,
        raised_at: t0() - Duration::minutes(minutes),
        detail: match kind {
            AlertKind::UnexpectedOccupancy => "occupied with no booking".to_owned(),
            AlertKind::NoShowCandidate => "booked spot still empty after 15 min".to_owned(),
            AlertKind::Overstay => "still occupied 20 min after the booking ended".to_owned(),
        },
        acknowledged_at: None,
        acknowledged_by: None,
    }
}

/// A dashboard with `count` lots loaded, counted, a few alerts, live.
pub fn overview_app(count: u32) -> App {
    let mut app = empty_app();
    update(&mut app, Msg::Lots(Ok(summaries(count))));
    update(&mut app, Msg::Counts(Ok(counts(count))));
    let alerts = vec![
        alert(1, AlertKind::Overstay, lot_id(3), spot_id(3), 5),
        alert(2, AlertKind::UnexpectedOccupancy, lot_id(3), spot_id(7), 12),
        alert(3, AlertKind::NoShowCandidate, lot_id(1), spot_id(900), 30),
    ];
    update(&mut app, Msg::Alerts(parking_tui::app::Fetched::Ok(alerts)));
    update(&mut app, Msg::Live(LiveEvent::Opened));
    // Ten minutes later, lot 5 filled up a little: its trend rises.
    let later = t0() + Duration::minutes(10);
    update(&mut app, Msg::Tick(later));
    let mut capacity = KindCountsDto::new();
    capacity.insert(SpotKindDto::Regular, 75);
    let mut available = KindCountsDto::new();
    available.insert(SpotKindDto::Regular, 10);
    update(
        &mut app,
        Msg::Live(LiveEvent::Message(Box::new(
            ServerMessage::AvailabilityUpdate {
                lot_id: lot_id(5),
                seq: 9,
                capacity,
                available,
                at: later,
            },
        ))),
    );
    app.notice = None;
    assert_eq!(app.feed.link, Link::Live);
    app
}

/// The id of spot `n` (of any fixture lot).
pub fn spot_id(n: u32) -> Uuid {
    Uuid::from_u128(0x5000_0000 + u128::from(n))
}

fn core_lot(id: Uuid, name: &str) -> CoreLot {
    CoreLot {
        id: LotId::from_uuid(id),
        tenant_id: TenantId::from_uuid(Uuid::from_u128(7)),
        name: name.to_owned(),
        address: "Altmarkt 1, Dresden".to_owned(),
        location: GeoPoint::new(51.05, 13.74).expect("valid point"),
        time_zone: chrono_tz::Europe::Berlin,
        hours: OperatingHours::always_open(),
        amenities: Default::default(),
        rules: BookingRules::default(),
    }
}

/// The wire lot of fixture lot `n`.
pub fn wire_lot(n: u32, name: &str, spots: u32) -> Lot {
    Lot::from_core(&core_lot(lot_id(n), name), spots, &KindCounts::default())
}

/// A booking on `spot` from `start` to `end` minutes after t0.
pub fn booking(
    n: u128,
    lot: Uuid,
    spot: &Spot,
    start: i64,
    end: i64,
    status: ReservationStatusDto,
) -> Reservation {
    Reservation {
        id: Uuid::from_u128(((0xb00c_0000 + n * 0x0001_0f1d) << 96) | n),
        lot_id: lot,
        spot_id: spot.id,
        spot_label: spot.label.clone(),
        user_id: Uuid::from_u128(9),
        start_time: t0() + Duration::minutes(start),
        end_time: t0() + Duration::minutes(end),
        status,
        hold_expires_at: None,
        total_cost: MoneyDto {
            amount: 250 * i64::try_from(n % 7 + 1).expect("small"),
            currency: "EUR".to_owned(),
        },
        quote: None,
        payment: None,
        created_at: t0() - Duration::days(1),
    }
}

/// Lot 3 with `per_level` spots on each of two levels, in every state: some
/// booked, occupied (sensor or checked in), out of service, an overstay and
/// an alert (from [`overview_app`]'s alerts).
pub fn lot_detail(per_level: u32) -> LotDetail {
    let lot = lot_id(3);
    let mut spots = Vec::new();
    for level in 1..=2 {
        for i in 1..=per_level {
            let n = level * 10_000 + i;
            spots.push(Spot {
                id: if level == 1 && i <= 9 {
                    spot_id(i)
                } else {
                    spot_id(n)
                },
                lot_id: lot,
                label: format!("{level}-{i:03}"),
                kind: if i % 10 == 0 {
                    SpotKindDto::Ev
                } else {
                    SpotKindDto::Regular
                },
                zone: Some(format!("Level {level}")),
                in_service: i % 17 != 0,
                available: Some(i % 3 != 0),
                sensor: (i % 5 == 0).then_some(SensorState {
                    occupied: true,
                    at: t0() - Duration::minutes(3),
                }),
            });
        }
    }
    let mut reservations = vec![
        booking(1, lot, &spots[5], -90, 30, ReservationStatusDto::CheckedIn),
        booking(2, lot, &spots[5], 120, 240, ReservationStatusDto::Confirmed),
        booking(3, lot, &spots[1], 60, 180, ReservationStatusDto::Confirmed),
        booking(
            4,
            lot,
            &spots[8],
            -120,
            -20,
            ReservationStatusDto::CheckedIn,
        ),
        booking(5, lot, &spots[10], 300, 420, ReservationStatusDto::Held),
    ];
    reservations.sort_by_key(|r| r.start_time);
    LotDetail {
        lot: wire_lot(3, "Frauenkirche 003", per_level * 2),
        spots,
        reservations,
        hourly: Some(parking_api::QuoteDto {
            total: MoneyDto {
                amount: 364,
                currency: "EUR".to_owned(),
            },
            billed_start: t0(),
            billed_end: t0() + Duration::hours(1),
            lines: Vec::new(),
            demand_factor_permille: 1000,
            kind_factor_permille: 1000,
        }),
        loaded_at: t0(),
    }
}

/// A page of `count` bookings across two lots, with `total` matching.
pub fn bookings_page(count: u32, total: u64, page: u32) -> Page<Reservation> {
    let spot = |n: u32| Spot {
        id: spot_id(n),
        lot_id: lot_id(n % 2),
        label: format!("B-{n:03}"),
        kind: SpotKindDto::Regular,
        zone: None,
        in_service: true,
        available: None,
        sensor: None,
    };
    let statuses = [
        ReservationStatusDto::Confirmed,
        ReservationStatusDto::CheckedIn,
        ReservationStatusDto::Held,
        ReservationStatusDto::Completed,
        ReservationStatusDto::Cancelled,
    ];
    // Lot 1 is prepaid: its bookings carry their latest payment.
    let payments = [
        PaymentStatusDto::Succeeded,
        PaymentStatusDto::Pending,
        PaymentStatusDto::PartiallyRefunded,
        PaymentStatusDto::Refunded,
        PaymentStatusDto::Failed,
    ];
    let items = (0..count)
        .map(|n| {
            let start = i64::from(n) * 35 - 60;
            let mut r = booking(
                u128::from(n + u32::from(page as u8) * 100),
                lot_id(n % 2),
                &spot(n),
                start,
                start + 90 + i64::from(n % 3) * 60,
                statuses[(n as usize) % statuses.len()],
            );
            if n % 2 == 1 {
                r.payment = Some(ReservationPayment {
                    id: Uuid::from_u128(0xfa1d_0000 + u128::from(n)),
                    intent_id: Some(format!("pi_{n}")),
                    client_secret: None,
                    amount: r.total_cost.amount,
                    currency: r.total_cost.currency.clone(),
                    refunded_amount: 0,
                    status: payments[(n as usize / 2) % payments.len()],
                    purpose: PaymentPurposeDto::Booking,
                });
            }
            r
        })
        .collect();
    Page::new(items, total, page, 50)
}

/// Analytics of lot 3: a week of a weekday-busy pattern, its forecast and
/// seven days of revenue.
pub fn analytics() -> Analytics {
    let start = t0() - Duration::days(7);
    let occupancy: Vec<(DateTime<Utc>, f64)> = (0..7 * 24)
        .map(|h| {
            let t = start + Duration::hours(h);
            let hour = (h + 1) % 24; // Berlin is UTC+1 in November
            let busy = if (8..19).contains(&hour) { 0.8 } else { 0.15 };
            (t, busy + f64::from((h % 5) as u8) * 0.02)
        })
        .collect();
    let forecast = parking_tui::insights::forecast(&occupancy, chrono_tz::Europe::Berlin, t0());
    let heat = parking_tui::insights::heat_map(&occupancy, chrono_tz::Europe::Berlin);
    let revenue = (0..7)
        .map(|d| RevenueDay {
            date: NaiveDate::from_ymd_opt(2026, 11, 19 + d).expect("valid date"),
            amount: MoneyDto {
                amount: 12_000 + i64::from(d) * 3_150 - if d == 5 { 9_000 } else { 0 },
                currency: "EUR".to_owned(),
            },
        })
        .collect();
    Analytics {
        lot_id: lot_id(3),
        lot_name: "Frauenkirche 003".to_owned(),
        occupancy,
        forecast,
        revenue,
        heat,
        loaded_at: t0(),
    }
}
