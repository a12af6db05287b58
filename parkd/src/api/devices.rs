//! `/parking-lots/{id}/devices`: the device keys a lot's sensors authenticate
//! with. Operators of the lot's tenant and admins create (the key is shown
//! once), list and revoke them.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use parking_api::alerts::{CreateDeviceRequest, CreatedDevice, Device};
use parking_api::common::Problem;
use parking_core::model::LotId;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::extract::{Actor, ApiJson};
use crate::error::ApiError;
use crate::service::sensors;
use crate::state::AppState;

/// The routes of this resource.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_device, list_devices))
        .routes(routes!(revoke_device))
}

/// Creates a device key for the lot's sensors. The answer holds the key, to be
/// sent as `Authorization: Device <key>`; only its hash is stored, so it is
/// never shown again.
#[utoipa::path(
    post,
    path = "/parking-lots/{id}/devices",
    tag = "sensors",
    request_body = CreateDeviceRequest,
    params(("id" = Uuid, Path)),
    security(("bearer" = [])),
    responses(
        (status = 201, body = CreatedDevice),
        (status = 401, body = Problem),
        (status = 403, body = Problem, description = "Neither an operator nor an admin"),
        (status = 404, body = Problem, description = "No such lot, or another tenant's"),
        (status = 422, body = Problem)
    )
)]
pub async fn create_device(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    ApiJson(request): ApiJson<CreateDeviceRequest>,
) -> Result<(StatusCode, Json<CreatedDevice>), ApiError> {
    let created = sensors::create_device(&state, &actor, LotId::from_uuid(id), request).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// The lot's device keys, oldest first (never the keys themselves).
#[utoipa::path(
    get,
    path = "/parking-lots/{id}/devices",
    tag = "sensors",
    params(("id" = Uuid, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<Device>),
        (status = 401, body = Problem),
        (status = 403, body = Problem, description = "Neither an operator nor an admin"),
        (status = 404, body = Problem, description = "No such lot, or another tenant's")
    )
)]
pub async fn list_devices(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<Device>>, ApiError> {
    Ok(Json(
        sensors::list_devices(&state, &actor, LotId::from_uuid(id)).await?,
    ))
}

/// Revokes a device key: batches sent with it are refused (401) from now on.
/// Revoking twice keeps the first revocation time.
#[utoipa::path(
    delete,
    path = "/parking-lots/{id}/devices/{device_id}",
    tag = "sensors",
    params(("id" = Uuid, Path), ("device_id" = Uuid, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Device, description = "The revoked device"),
        (status = 401, body = Problem),
        (status = 403, body = Problem, description = "Neither an operator nor an admin"),
        (status = 404, body = Problem, description = "No such lot or device, or another tenant's")
    )
)]
pub async fn revoke_device(
    State(state): State<AppState>,
    actor: Actor,
    Path((id, device_id)): Path<(Uuid, Uuid)>,
) -> Result<Json<Device>, ApiError> {
    Ok(Json(
        sensors::revoke_device(&state, &actor, LotId::from_uuid(id), device_id).await?,
    ))
}
