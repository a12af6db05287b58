//! Health, readiness, metrics, OpenAPI, problem+json for unknown routes.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestApp, problem};

#[tokio::test]
async fn health_ready_and_metrics_answer() {
    let app = TestApp::spawn().await;
    let health: Value = app.get("/health", None).await.json().await.expect("json");
    assert_eq!(health["status"], "ok");
    let ready = app.get("/ready", None).await;
    assert_eq!(ready.status(), StatusCode::OK);
    let ready: Value = ready.json().await.expect("json");
    assert_eq!(
        ready["migrations"]["applied"],
        ready["migrations"]["expected"]
    );
    let metrics = app.get("/metrics", None).await;
    assert_eq!(metrics.status(), StatusCode::OK);
    let metrics = metrics.text().await.expect("text");
    assert!(metrics.contains("parkd_http_requests_total"), "{metrics}");
    assert!(
        metrics.contains("route=\"/ready\""),
        "metrics are keyed by the matched route: {metrics}"
    );
    assert!(metrics.contains("parkd_active_reservations"));
    app.stop().await;
}

#[tokio::test]
async fn unknown_routes_are_problem_json_404s_with_a_request_id() {
    let app = TestApp::spawn().await;
    let response = app.get("/api/v1/no-such-thing", None).await;
    assert!(response.headers().contains_key("x-request-id"));
    problem(response, StatusCode::NOT_FOUND).await;
    app.stop().await;
}

#[tokio::test]
async fn the_openapi_document_is_served() {
    let app = TestApp::spawn().await;
    let doc: Value = app
        .get("/api/v1/openapi.json", None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/v1/reservations"]["post"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    app.stop().await;
}
