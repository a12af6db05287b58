//! No secret reaches parkd's logs, at any level: a prepaid booking, its
//! webhook and a cancellation's refund run while every `tracing` level is
//! captured, request lines included.
//!
//! A test binary of its own, with this one test: `tracing` caches per
//! call site whether anyone listens, globally, so a subscriber set for one
//! test misses events while other tests in the same process register the
//! same call sites (seen as a missing request line in CI).

use std::sync::{Arc, Mutex};

use chrono::{Duration, DurationRound, Utc};
use parkd::testing::{DRIVER, PASSWORD, TestApp};
use serde_json::{Value, json};

/// Everything written to it, shared with the subscriber.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn json_of(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status);
    response.json().await.expect("json")
}

// The test's runtime is single-threaded: parkd's request handlers and
// background jobs log on this thread, where the subscriber is the default.
#[tokio::test]
async fn no_secret_reaches_the_logs_at_any_level() {
    let logs = Logs::default();
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish();
    let _logging = tracing::subscriber::set_default(subscriber);

    let app = TestApp::spawn_prepaid().await;
    let http = reqwest::Client::new();
    let api = |path: &str| format!("{}/api/v1{path}", app.url);
    let login = json_of(
        http.post(api("/auth/login"))
            .json(&json!({"email": DRIVER, "password": PASSWORD}))
            .send()
            .await
            .expect("login"),
        200,
    )
    .await;
    let access = login["access_token"].as_str().expect("access").to_owned();
    let refresh = login["refresh_token"].as_str().expect("refresh").to_owned();

    let start = (Utc::now() + Duration::hours(3))
        .duration_trunc(Duration::minutes(15))
        .expect("quarter hour");
    let booked = json_of(
        http.post(api("/reservations"))
            .bearer_auth(&access)
            .json(&json!({"lot_id": app.lot.to_string(), "start_time": start,
                          "end_time": start + Duration::hours(2)}))
            .send()
            .await
            .expect("book"),
        201,
    )
    .await;
    let client_secret = booked["payment"]["client_secret"]
        .as_str()
        .expect("a client secret")
        .to_owned();
    let intent = booked["payment"]["intent_id"].as_str().expect("intent");
    assert_eq!(app.settle(intent).await, 200);
    let id = booked["id"].as_str().expect("id");
    let cancelled = json_of(
        http.delete(api(&format!("/reservations/{id}")))
            .bearer_auth(&access)
            .send()
            .await
            .expect("cancel"),
        200,
    )
    .await;
    assert_eq!(cancelled["reservation"]["status"], "cancelled");

    let text = logs.text();
    assert!(
        text.contains("paid and confirmed") && text.contains("path=/api/v1/reservations"),
        "the logs were captured: {text}"
    );
    for (what, secret) in [
        ("the payer's client secret", client_secret.as_str()),
        ("the Stripe secret key", "sk_test_testing"),
        ("the webhook signing secret", "whsec_testing"),
        ("an access token", access.as_str()),
        ("a refresh token", refresh.as_str()),
        ("a password", PASSWORD),
    ] {
        assert!(!text.contains(secret), "{what} was logged");
    }
}
