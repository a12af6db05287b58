//! Requests against a seeded parkd (`parkd::testing::TestApp`) that the
//! source and end-to-end tests both make.

use chrono::Utc;
use parkd::testing::{DRIVER, PASSWORD};
use parking_api::{CreateLotRequest, CreateReservationRequest, Reservation, SpotKindDto};
use parking_client::Client;
use uuid::Uuid;

/// A lot named `name` at `lat`,`lng` in Europe/Berlin, the rest defaults.
pub fn lot_request(name: &str, lat: f64, lng: f64) -> CreateLotRequest {
    serde_json::from_value(serde_json::json!({
        "name": name,
        "address": format!("{name} 1"),
        "location": {"lat": lat, "lng": lng},
        "timezone": "Europe/Berlin"
    }))
    .expect("lot request")
}

/// The seeded driver logs in on `url` and books a regular spot of `lot` for
/// two hours, starting a second from now.
pub async fn driver_books_a_regular_spot(url: &str, lot: Uuid) -> Reservation {
    let driver = Client::new(url.to_owned());
    driver
        .login(DRIVER, PASSWORD)
        .await
        .expect("driver logs in");
    let start = Utc::now() + chrono::Duration::seconds(1);
    driver
        .create_reservation(
            &CreateReservationRequest {
                lot_id: lot,
                spot_id: None,
                spot_type: Some(SpotKindDto::Regular),
                start_time: start,
                end_time: start + chrono::Duration::hours(2),
                hold: None,
                expected_total: None,
            },
            None,
        )
        .await
        .expect("booked")
}
