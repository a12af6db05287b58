//! `/alerts`: what reconciling sensors with bookings found (unexpected
//! occupancy, no-show candidates, overstays), for operators of the lot's
//! tenant and admins; acknowledging one.

use axum::Json;
use axum::extract::{Path, State};
use parking_api::alerts::{Alert, AlertsQuery};
use parking_api::common::{Page, Problem};
use parking_core::model::AlertId;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::extract::{Actor, ApiQuery};
use crate::error::ApiError;
use crate::service::sensors;
use crate::state::AppState;

/// The routes of this resource.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_alerts))
        .routes(routes!(acknowledge))
}

/// Alerts newest first: an operator sees their tenant's lots', an admin all.
#[utoipa::path(
    get,
    path = "/alerts",
    tag = "sensors",
    params(AlertsQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Page<Alert>),
        (status = 401, body = Problem),
        (status = 403, body = Problem, description = "Neither an operator nor an admin"),
        (status = 422, body = Problem)
    )
)]
pub async fn list_alerts(
    State(state): State<AppState>,
    actor: Actor,
    ApiQuery(query): ApiQuery<AlertsQuery>,
) -> Result<Json<Page<Alert>>, ApiError> {
    Ok(Json(sensors::list_alerts(&state, &actor, query).await?))
}

/// Acknowledges an alert (an `alert_acknowledged` event). Acknowledging it
/// again changes nothing and answers with the first acknowledgement.
#[utoipa::path(
    post,
    path = "/alerts/{id}/ack",
    tag = "sensors",
    params(("id" = Uuid, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Alert),
        (status = 401, body = Problem),
        (status = 403, body = Problem, description = "Neither an operator nor an admin"),
        (status = 404, body = Problem, description = "No such alert, or another tenant's")
    )
)]
pub async fn acknowledge(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> Result<Json<Alert>, ApiError> {
    Ok(Json(
        sensors::acknowledge(&state, &actor, AlertId::from_uuid(id)).await?,
    ))
}
