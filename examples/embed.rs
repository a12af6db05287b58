//! Embedding parking-core: build a lot, book, quote, search.
//!
//! `cargo run -p parking-core --example embed`
//!
//! Everything here is in-memory and synchronous; a daemon (parkd) adds storage and
//! HTTP around exactly these calls.

use std::error::Error;

use chrono::{Duration, NaiveTime, TimeZone, Utc, Weekday};
use parking_core::city::{City, SearchQuery};
use parking_core::conflict::{BookingRequest, SpotChoice};
use parking_core::model::{
    BookingRules, Closure, GeoPoint, Interval, Lot, LotId, OpenWindow, OperatingHours,
    ReservationId, Spot, SpotId, SpotKind, TenantId,
};
use parking_core::pricing::RateCard;
use parking_core::spatial::Radius;

fn main() -> Result<(), Box<dyn Error>> {
    let now = Utc
        .with_ymd_and_hms(2026, 12, 1, 7, 0, 0)
        .single()
        .ok_or("bad time")?;

    // A garage in Dresden, open 06:00–23:00 every day, closed on Christmas Day,
    // with 10 minutes kept free between bookings.
    let daily = |day| OpenWindow {
        day,
        open: NaiveTime::from_hms_opt(6, 0, 0).unwrap_or(NaiveTime::MIN),
        close: NaiveTime::from_hms_opt(23, 0, 0).unwrap_or(NaiveTime::MIN),
    };
    let week = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];
    let christmas = Closure {
        from: chrono::NaiveDate::from_ymd_opt(2026, 12, 25).ok_or("bad date")?,
        to: chrono::NaiveDate::from_ymd_opt(2026, 12, 25).ok_or("bad date")?,
        reason: "Christmas Day".into(),
    };
    let lot = Lot {
        id: LotId::new(),
        tenant_id: TenantId::new(),
        name: "Parkhaus Altmarkt".into(),
        address: "Altmarkt, 01067 Dresden".into(),
        location: GeoPoint::new(51.0507, 13.7418)?,
        time_zone: chrono_tz::Europe::Berlin,
        hours: OperatingHours::new(Some(week.map(daily).to_vec()), vec![christmas])?,
        amenities: Default::default(),
        rules: BookingRules {
            turnover_buffer_minutes: 10,
            ..BookingRules::default()
        },
    };
    let lot_id = lot.id;

    let mut city = City::new();
    city.add_lot(lot, Some(RateCard::example_eur()))?;
    for (n, kind) in [SpotKind::Regular, SpotKind::Regular, SpotKind::Ev]
        .into_iter()
        .enumerate()
    {
        city.add_spot(Spot {
            id: SpotId::new(),
            lot_id,
            label: format!("A-{:03}", n + 1),
            kind,
            zone: Some("Level 1".into()),
            in_service: true,
        })?;
    }

    // Quote and book an EV bay from 09:00 to 12:30 local time.
    let start = now + Duration::hours(1);
    let stay = Interval::new(start, start + Duration::minutes(210))?;
    let request = BookingRequest {
        id: ReservationId::new(),
        choice: SpotChoice::Kind(SpotKind::Ev),
        interval: stay,
        hold_until: None,
    };
    let (booked, quote) = city.book(lot_id, request, now)?;
    let spot = city
        .lot(lot_id)?
        .inventory
        .spot(booked.spot_id)
        .ok_or("spot vanished")?;
    println!(
        "booked EV bay {} for {} .. {}",
        spot.label,
        stay.start(),
        stay.end()
    );
    if let Some(quote) = quote {
        for line in &quote.lines {
            println!("  {line}");
        }
        println!("  total {}", quote.total);
    }

    // The same bay again overlaps: refused, with the reason.
    let again = BookingRequest {
        id: ReservationId::new(),
        choice: SpotChoice::Spot(booked.spot_id),
        interval: stay,
        hold_until: None,
    };
    if let Err(e) = city.book(lot_id, again, now) {
        println!("second booking refused: {e}");
    }

    // Christmas Day is refused with the closure's reason.
    let xmas_start = Utc
        .with_ymd_and_hms(2026, 12, 25, 9, 0, 0)
        .single()
        .ok_or("bad time")?;
    let xmas = BookingRequest {
        id: ReservationId::new(),
        choice: SpotChoice::Kind(SpotKind::Regular),
        interval: Interval::new(xmas_start, xmas_start + Duration::hours(2))?,
        hold_until: None,
    };
    if let Err(e) = city.book(lot_id, xmas, now) {
        println!("Christmas booking refused: {e}");
    }

    // Search: lots with a free EV bay within 1 km of the Frauenkirche for the stay.
    let query = SearchQuery {
        center: GeoPoint::new(51.0519, 13.7416)?,
        radius: Radius::new(1_000.0)?,
        limit: 10,
        kind: Some(SpotKind::Ev),
        window: Some(stay),
        max_price: None,
        now,
    };
    let found = city.search(&query)?;
    println!("lots with a free EV bay for that stay: {}", found.len());
    let regular = SearchQuery {
        kind: Some(SpotKind::Regular),
        ..query
    };
    for hit in city.search(&regular)? {
        let price = hit.quote.map(|q| q.total.to_string()).unwrap_or_default();
        println!(
            "regular bay: lot {} at {:.0} m, {}/{} free, {price}",
            hit.lot_id, hit.distance_m, hit.available_spots, hit.total_spots
        );
    }
    Ok(())
}
