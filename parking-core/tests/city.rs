//! City-level search on real lots (Dresden, ParkAPI): kind, window and price
//! filters give exactly what a brute-force pass over every lot gives, and booking
//! through the city prices and places in one step.

use chrono::{DateTime, Duration, TimeZone, Utc};
use parking_core::city::{City, CityError, SearchQuery, SearchResult};
use parking_core::conflict::{BookingRequest, SpotChoice};
use parking_core::model::{
    BookingRules, GeoPoint, Interval, Lot, LotId, Money, OperatingHours, ReservationId, Spot,
    SpotId, SpotKind, TenantId,
};
use parking_core::pricing::RateCard;
use parking_core::spatial::Radius;

const DRESDEN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/data/parkapi-lots/original/dresden.geojson"
);

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 7, 0, 0)
        .single()
        .expect("valid")
}

/// Real Dresden lots with synthetic spots: lot `i` gets `3 + i % 5` regular
/// spots, an EV spot on every third lot, and a rate card whose base hourly rate
/// grows with `i` (so price limits cut through the set).
fn dresden() -> (City, Vec<(LotId, GeoPoint)>) {
    let text = std::fs::read_to_string(DRESDEN).expect("test data present");
    let json: serde_json::Value = serde_json::from_str(&text).expect("valid geojson");
    let features = json["features"].as_array().expect("feature list");
    let mut city = City::new();
    let mut lots = Vec::new();
    for (i, f) in features.iter().enumerate() {
        let Some(coords) = f["geometry"]["coordinates"].as_array() else {
            continue; // real data: a few lots have no geometry
        };
        let (Some(lng), Some(lat)) = (coords[0].as_f64(), coords[1].as_f64()) else {
            continue;
        };
        let location = GeoPoint::new(lat, lng).expect("valid coordinates");
        let id = LotId::from_u128(i as u128 + 1);
        let lot = Lot {
            id,
            tenant_id: TenantId::from_u128(1),
            name: f["properties"]["name"].as_str().unwrap_or("?").to_owned(),
            address: f["properties"]["address"].as_str().unwrap_or("").to_owned(),
            location,
            time_zone: chrono_tz::Europe::Berlin,
            hours: OperatingHours::always_open(),
            amenities: Default::default(),
            rules: BookingRules::default(),
        };
        let mut card = RateCard::example_eur();
        card.base_hourly = 100 + 20 * i as i64;
        city.add_lot(lot, Some(card)).expect("fresh lot");
        let kinds = (0..3 + i % 5)
            .map(|_| SpotKind::Regular)
            .chain((i % 3 == 0).then_some(SpotKind::Ev));
        for (n, kind) in kinds.enumerate() {
            city.add_spot(Spot {
                id: SpotId::from_u128(((i as u128) << 16) | n as u128),
                lot_id: id,
                label: format!("{n}"),
                kind,
                zone: None,
                in_service: true,
            })
            .expect("fresh spot");
        }
        lots.push((id, location));
    }
    (city, lots)
}

fn brute_force(city: &City, lots: &[(LotId, GeoPoint)], q: &SearchQuery) -> Vec<SearchResult> {
    let mut all: Vec<SearchResult> = lots
        .iter()
        .filter_map(|(id, at)| {
            let d = q.center.distance_m(at);
            if d > q.radius.metres() {
                return None;
            }
            let state = city.lot(*id).expect("known lot");
            let capacity = state.inventory.capacity();
            let free = match &q.window {
                Some(w) => state.inventory.availability(w, q.now),
                None => state.inventory.availability_now(q.now),
            };
            let (total, available) = match q.kind {
                Some(k) => (capacity.get(k), free.get(k)),
                None => (capacity.total(), free.total()),
            };
            if (q.kind.is_some() || q.window.is_some()) && available == 0 {
                return None;
            }
            let quote = q.window.as_ref().map(|w| {
                state
                    .quote(q.kind.unwrap_or(SpotKind::Regular), w, q.now)
                    .expect("valid card")
            });
            if let Some(max) = q.max_price
                && quote.as_ref().is_none_or(|q| q.total.amount > max.amount)
            {
                return None;
            }
            Some(SearchResult {
                lot_id: *id,
                distance_m: d,
                total_spots: total,
                available_spots: available,
                quote,
            })
        })
        .collect();
    all.sort_by(|a, b| {
        a.distance_m
            .total_cmp(&b.distance_m)
            .then(a.lot_id.cmp(&b.lot_id))
    });
    all.truncate(q.limit);
    all
}

#[test]
fn filtered_search_equals_brute_force_on_real_lots() {
    let (mut city, lots) = dresden();
    assert!(lots.len() > 40, "Dresden has {} located lots", lots.len());
    let window =
        Interval::new(now() + Duration::hours(2), now() + Duration::hours(5)).expect("valid");
    // Fill every EV spot and half the lots' regular spots for the window.
    for (n, (id, _)) in lots.iter().enumerate() {
        let kinds: &[SpotKind] = if n % 2 == 0 {
            &[SpotKind::Ev]
        } else {
            &[
                SpotKind::Ev,
                SpotKind::Regular,
                SpotKind::Regular,
                SpotKind::Regular,
                SpotKind::Regular,
                SpotKind::Regular,
                SpotKind::Regular,
                SpotKind::Regular,
            ]
        };
        for (k, kind) in kinds.iter().enumerate() {
            let request = BookingRequest {
                id: ReservationId::from_u128(((n as u128) << 8) | k as u128),
                choice: SpotChoice::Kind(*kind),
                interval: window,
                hold_until: None,
            };
            match city.book(*id, request, now()) {
                Ok((_, quote)) => assert!(quote.is_some_and(|q| q.total.amount > 0)),
                Err(CityError::Booking(_)) => {} // no (more) spots of that kind
                Err(e) => panic!("unexpected {e}"),
            }
        }
    }
    let centres = [(51.0493, 13.7381), (51.0654, 13.7409), (51.0280, 13.7000)];
    let mut compared = 0;
    for (lat, lng) in centres {
        for radius in [800.0, 2_000.0, 10_000.0] {
            for kind in [None, Some(SpotKind::Regular), Some(SpotKind::Ev)] {
                for (window, max_price) in [
                    (None, None),
                    (Some(window), None),
                    (
                        Some(window),
                        Some(Money::new(1_500, parking_core::model::Currency::EUR)),
                    ),
                ] {
                    let q = SearchQuery {
                        center: GeoPoint::new(lat, lng).expect("valid"),
                        radius: Radius::new(radius).expect("valid"),
                        limit: 10,
                        kind,
                        window,
                        max_price,
                        now: now(),
                    };
                    let got = city.search(&q).expect("valid query");
                    assert_eq!(got, brute_force(&city, &lots, &q), "{q:?}");
                    compared += got.len();
                }
            }
        }
    }
    assert!(
        compared > 100,
        "the filters must leave something to compare ({compared})"
    );
}

#[test]
fn ev_spots_booked_out_disappear_from_ev_searches() {
    let (mut city, lots) = dresden();
    let window =
        Interval::new(now() + Duration::hours(1), now() + Duration::hours(3)).expect("valid");
    let q = SearchQuery {
        center: GeoPoint::new(51.0493, 13.7381).expect("valid"),
        radius: Radius::new(3_000.0).expect("valid"),
        limit: 5,
        kind: Some(SpotKind::Ev),
        window: Some(window),
        max_price: None,
        now: now(),
    };
    let first = city.search(&q).expect("valid")[0].clone();
    assert_eq!(first.available_spots, 1);
    let request = BookingRequest {
        id: ReservationId::from_u128(1),
        choice: SpotChoice::Kind(SpotKind::Ev),
        interval: window,
        hold_until: None,
    };
    let (_, quote) = city.book(first.lot_id, request, now()).expect("free");
    assert_eq!(
        quote, first.quote,
        "the booking is priced as the search quoted it"
    );
    let after = city.search(&q).expect("valid");
    assert!(after.iter().all(|r| r.lot_id != first.lot_id));
    assert!(lots.iter().any(|(id, _)| *id == first.lot_id));
}

#[test]
fn a_price_limit_needs_a_window() {
    let (city, _) = dresden();
    let q = SearchQuery {
        center: GeoPoint::new(51.05, 13.74).expect("valid"),
        radius: Radius::new(1_000.0).expect("valid"),
        limit: 5,
        kind: None,
        window: None,
        max_price: Some(Money::new(100, parking_core::model::Currency::EUR)),
        now: now(),
    };
    assert_eq!(city.search(&q), Err(CityError::PriceNeedsWindow));
}
