//! `/payments`: the operators' list and refunds, and Stripe's webhook
//! (`POST /payments/webhook`, authenticated by its signature, not a token).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use parking_api::common::{Page, Problem};
use parking_api::payments::{
    Payment, PaymentsQuery, RefundRequest, RefundResponse, STRIPE_SIGNATURE_HEADER, WebhookAck,
};
use parking_core::model::PaymentId;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::extract::{Actor, ApiJson, ApiQuery};
use crate::error::ApiError;
use crate::service::payments;
use crate::state::AppState;

/// The routes of this resource.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(refund))
        .routes(routes!(webhook))
}

/// Payments of the caller's lots (operators: their tenant's; admin: all),
/// newest first.
#[utoipa::path(
    get,
    path = "/payments",
    tag = "payments",
    params(PaymentsQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Page<Payment>),
        (status = 401, body = Problem),
        (status = 403, body = Problem, description = "Drivers may not list payments"),
        (status = 422, body = Problem)
    )
)]
pub async fn list(
    State(state): State<AppState>,
    actor: Actor,
    ApiQuery(query): ApiQuery<PaymentsQuery>,
) -> Result<Json<Page<Payment>>, ApiError> {
    payments::list(&state, &actor, &query).await.map(Json)
}

/// Refunds some (`amount`, minor units) or all of what is left of a payment.
#[utoipa::path(
    post,
    path = "/payments/{id}/refund",
    tag = "payments",
    request_body = RefundRequest,
    params(("id" = Uuid, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, body = RefundResponse),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 409, body = Problem, description = "Nothing left to refund"),
        (status = 422, body = Problem, description = "More than is left, or Stripe refused"),
        (status = 503, body = Problem, description = "Stripe unreachable; retry later")
    )
)]
pub async fn refund(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    ApiJson(request): ApiJson<RefundRequest>,
) -> Result<Json<RefundResponse>, ApiError> {
    request.validate().map_err(ApiError::Validation)?;
    payments::operator_refund(&state, &actor, PaymentId::from_uuid(id), request.amount)
        .await
        .map(Json)
}

/// Stripe's events (`payment_intent.succeeded`, `.payment_failed`,
/// `.canceled`, `charge.refunded`), verified by the `Stripe-Signature` header
/// against the endpoint secret. An event id seen before changes nothing.
#[utoipa::path(
    post,
    path = "/payments/webhook",
    tag = "payments",
    request_body(content = String, content_type = "application/json", description = "A Stripe event, exactly as Stripe signed it"),
    params(("Stripe-Signature" = String, Header, description = "t=<unix seconds>,v1=<hex HMAC-SHA256>")),
    responses(
        (status = 200, body = WebhookAck),
        (status = 400, body = Problem, description = "Bad or missing signature, stale timestamp, unreadable event"),
        (status = 404, body = Problem, description = "Payments are not configured")
    )
)]
pub async fn webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: String,
) -> Result<Json<WebhookAck>, ApiError> {
    let signature = headers
        .get(STRIPE_SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok());
    payments::handle_webhook(&state, &body, signature)
        .await
        .map(Json)
}
