//! Operations endpoints: liveness, readiness, Prometheus metrics.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use parking_api::ops::{Health, Ready};

use crate::state::AppState;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/health", tag = "ops", responses((status = 200, body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health::ok())
}

/// Readiness: storage takes writes and the schema is current.
#[utoipa::path(
    get,
    path = "/ready",
    tag = "ops",
    responses((status = 200, body = Ready), (status = 503, body = Ready))
)]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Ready>) {
    let writable = state.store.check_writable().await.is_ok();
    let (applied, expected) = state.store.schema_status().await.unwrap_or((0, 1));
    let ready = Ready::new(writable, applied, expected);
    let status = if ready.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(ready))
}

/// Prometheus text exposition.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "ops",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain"))
)]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let active: usize = state
        .engine
        .read()
        .lots()
        .map(|l| l.inventory.reservation_count())
        .sum();
    metrics::gauge!("parkd_active_reservations").set(active as f64);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::recorder().render(),
    )
}
