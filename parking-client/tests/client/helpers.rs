//! The seeded parkd of `parkd::testing`, and a logged-in client for it.

use chrono::{DateTime, Duration, DurationRound, Utc};
use parking_api::CreateReservationRequest;
use parking_client::Client;

pub use parkd::testing::{DRIVER, OPERATOR, PASSWORD, TestApp};

/// A client logged in as `email`.
pub async fn client_as(app: &TestApp, email: &str) -> Client {
    let client = Client::new(&app.url);
    client.login(email, PASSWORD).await.expect("login");
    client
}

/// A booking window starting `hours` from now (on a quarter hour), `len` hours long.
pub fn window(hours: i64, len: i64) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = (Utc::now() + Duration::hours(hours))
        .duration_trunc(Duration::minutes(15))
        .expect("truncate");
    (start, start + Duration::hours(len))
}

/// A two-hour booking of the seeded lot (of `spot`, when given) starting
/// `hours` from now.
pub fn booking(app: &TestApp, spot: Option<uuid::Uuid>, hours: i64) -> CreateReservationRequest {
    let (start, end) = window(hours, 2);
    CreateReservationRequest {
        lot_id: app.lot.as_uuid(),
        spot_id: spot,
        spot_type: None,
        start_time: start,
        end_time: end,
        hold: None,
        expected_total: None,
    }
}
