//! The HTTP API: one module per resource, each with its own router; this file
//! assembles them under `/api/v1`, adds the ops endpoints at the root, the
//! OpenAPI document, and the middleware every request passes through.

pub mod alerts;
pub mod analytics;
pub mod auth;
pub mod devices;
pub mod events;
pub mod extract;
pub mod lots;
pub mod ops;
pub mod payments;
pub mod rates;
pub mod reservations;
pub mod sensors;
pub mod spots;
pub mod users;
pub mod ws;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::state::AppState;

/// The OpenAPI document's fixed parts; paths and schemas come from the routes.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "parkd",
        description = "Parking management: lots, spots, rates, bookings, analytics.",
        license(name = "MIT OR Apache-2.0")
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Registration, login, token rotation"),
        (name = "users", description = "Users and tenants"),
        (name = "lots", description = "Lots, spots and search"),
        (name = "rates", description = "Rate cards and quotes"),
        (name = "reservations", description = "Bookings and their lifecycle"),
        (name = "analytics", description = "Occupancy, revenue, summaries"),
        (name = "events", description = "The event log, for replay"),
        (name = "sensors", description = "Device keys, sensor readings, alerts"),
        (name = "payments", description = "Online payments through Stripe, refunds, the webhook"),
        (name = "ops", description = "Health, readiness, metrics")
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The versioned API's routes, with their OpenAPI description. Request
/// bodies are limited to `max_body` bytes, except sensor batches: a full batch
/// of [`parking_api::MAX_SENSOR_BATCH`] readings is larger than a typical
/// request, so that route gets [`sensors::MAX_BATCH_BODY_BYTES`] (or
/// `max_body`, if larger).
fn api_v1(max_body: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(auth::routes())
        .merge(users::routes())
        .merge(reservations::routes())
        .merge(analytics::routes())
        .merge(lots::routes())
        .merge(spots::routes())
        .merge(rates::routes())
        .merge(events::routes())
        .merge(ws::routes())
        .merge(payments::routes())
        .merge(devices::routes())
        .merge(alerts::routes())
        .layer(RequestBodyLimitLayer::new(max_body))
        .merge(sensors::routes().layer(RequestBodyLimitLayer::new(
            max_body.max(sensors::MAX_BATCH_BODY_BYTES),
        )))
}

/// The whole router and the OpenAPI document it serves.
pub fn router_and_doc(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let max_body = state.config.max_body_bytes;
    let (router, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(ops::health))
        .routes(routes!(ops::ready))
        .routes(routes!(ops::metrics))
        .nest("/api/v1", api_v1(max_body))
        .split_for_parts();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    document_the_document(&mut doc);
    let served = doc.clone();
    let x_request_id = HeaderName::from_static("x-request-id");
    let router = router
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(move || {
                let doc = served.clone();
                async move { Json(doc) }
            }),
        )
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), rate_limit))
        .layer(middleware::from_fn(crate::metrics::track))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(30),
        ))
        .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
        .layer(
            // One line per request at INFO: method, path (never the query string or
            // headers, so no token reaches the log), status and latency, all under
            // the request id.
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    let id = request
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!("request", request_id = %id, method = %request.method(), path = %request.uri().path())
                })
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(SetRequestIdLayer::new(x_request_id, MakeRequestUuid))
        .with_state(state);
    (router, doc)
}

/// The document describes its own route too, so every route served is in it.
fn document_the_document(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
    use utoipa::openapi::{ContentBuilder, ObjectBuilder, ResponseBuilder};
    let operation = OperationBuilder::new()
        .tag("ops")
        .operation_id(Some("openapi"))
        .summary(Some("This OpenAPI 3.1 document."))
        .response(
            "200",
            ResponseBuilder::new()
                .description("The OpenAPI document")
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(ObjectBuilder::new()))
                        .build(),
                ),
        )
        .build();
    doc.paths.paths.insert(
        "/api/v1/openapi.json".to_owned(),
        PathItem::new(HttpMethod::Get, operation),
    );
}

/// The router parkd serves.
pub fn router(state: AppState) -> Router {
    router_and_doc(state).0
}

async fn not_found() -> ApiError {
    ApiError::NotFound("route")
}

/// The general per-IP budget, ahead of every handler.
async fn rate_limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let ip = client_ip(&request);
    match state.limits.request(ip) {
        Ok(()) => next.run(request).await,
        Err(e) => e.into_response(),
    }
}

/// The peer address (parkd is served with connect info); loopback when absent
/// (requests driven through the router in tests).
pub fn client_ip(request: &Request) -> IpAddr {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([127, 0, 0, 1]), |c| c.0.ip())
}
