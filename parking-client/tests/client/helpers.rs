//! The seeded parkd of `parkd::testing`, and a logged-in client for it.

use chrono::{DateTime, Duration, DurationRound, Utc};
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
