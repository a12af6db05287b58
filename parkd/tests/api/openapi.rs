//! The OpenAPI document covers every route the API serves, and every route the
//! API must serve is in it.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::TestApp;

/// Every route parkd must serve (the parkd issue's list), as `(method, path)`.
const EXPECTED: &[(&str, &str)] = &[
    ("post", "/api/v1/auth/register"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/refresh"),
    ("post", "/api/v1/auth/logout"),
    ("get", "/api/v1/users/me"),
    ("get", "/api/v1/users"),
    ("patch", "/api/v1/users/{id}"),
    ("post", "/api/v1/tenants"),
    ("get", "/api/v1/tenants"),
    ("get", "/api/v1/parking-lots"),
    ("post", "/api/v1/parking-lots"),
    ("get", "/api/v1/parking-lots/{id}"),
    ("patch", "/api/v1/parking-lots/{id}"),
    ("delete", "/api/v1/parking-lots/{id}"),
    ("get", "/api/v1/parking-lots/by-external-id/{external_id}"),
    ("get", "/api/v1/parking-lots/managed"),
    ("get", "/api/v1/parking-lots/{id}/spots"),
    ("post", "/api/v1/parking-lots/{id}/spots"),
    ("patch", "/api/v1/parking-lots/{id}/spots/{spot_id}"),
    ("get", "/api/v1/parking-lots/{id}/quote"),
    ("get", "/api/v1/parking-lots/{id}/rates"),
    ("put", "/api/v1/parking-lots/{id}/rates"),
    ("post", "/api/v1/parking-lots/{id}/spots/{spot_id}/reserve"),
    ("post", "/api/v1/reservations"),
    ("get", "/api/v1/reservations"),
    ("get", "/api/v1/reservations/{id}"),
    ("put", "/api/v1/reservations/{id}"),
    ("delete", "/api/v1/reservations/{id}"),
    ("post", "/api/v1/reservations/{id}/confirm"),
    ("post", "/api/v1/reservations/{id}/check-in"),
    ("post", "/api/v1/reservations/{id}/check-out"),
    ("post", "/api/v1/reservations/{id}/pay"),
    ("get", "/api/v1/payments"),
    ("post", "/api/v1/payments/{id}/refund"),
    ("post", "/api/v1/payments/webhook"),
    ("get", "/api/v1/analytics/occupancy"),
    ("get", "/api/v1/analytics/revenue"),
    ("get", "/api/v1/analytics/summary"),
    ("get", "/api/v1/events"),
    ("post", "/api/v1/parking-lots/{id}/devices"),
    ("get", "/api/v1/parking-lots/{id}/devices"),
    ("delete", "/api/v1/parking-lots/{id}/devices/{device_id}"),
    ("post", "/api/v1/sensors/events"),
    ("get", "/api/v1/alerts"),
    ("post", "/api/v1/alerts/{id}/ack"),
    ("get", "/api/v1/ws"),
    ("get", "/health"),
    ("get", "/ready"),
    ("get", "/metrics"),
    ("get", "/api/v1/openapi.json"),
];

async fn document(app: &TestApp) -> Value {
    app.get("/api/v1/openapi.json", None)
        .await
        .json()
        .await
        .expect("openapi json")
}

#[tokio::test]
async fn every_required_route_is_documented() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    let missing: Vec<String> = EXPECTED
        .iter()
        .filter(|(method, path)| !doc["paths"][*path][*method].is_object())
        .map(|(method, path)| format!("{method} {path}"))
        .collect();
    assert!(
        missing.is_empty(),
        "not in the OpenAPI document: {missing:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn every_documented_route_is_served_and_documents_its_errors() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    let paths = doc["paths"].as_object().expect("paths");
    let mut checked = 0;
    for (path, item) in paths {
        let concrete = path
            .replace("{id}", "00000000-0000-4000-8000-000000000001")
            .replace("{spot_id}", "00000000-0000-4000-8000-000000000002");
        for (method, op) in item.as_object().expect("path item") {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let response = app
                .client
                .request(method.clone(), format!("{}{concrete}", app.url))
                .send()
                .await
                .expect("sent");
            let status = response.status();
            assert_ne!(status.as_u16(), 405, "{method} {path}: method not allowed");
            if status.as_u16() == 404 {
                let body: Value = response.json().await.unwrap_or(Value::Null);
                assert_ne!(
                    body["detail"], "route not found",
                    "{method} {path} is documented but not served"
                );
            }
            let responses = op["responses"].as_object().expect("responses");
            assert!(
                !responses.is_empty(),
                "{method} {path} documents no responses"
            );
            checked += 1;
        }
    }
    assert!(checked >= EXPECTED.len(), "checked {checked} operations");
    app.stop().await;
}
