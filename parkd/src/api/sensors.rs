//! `POST /sensors/events`: a batch of readings from a lot's sensors,
//! authenticated by the lot's device key (`Authorization: Device <key>`).

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use parking_api::alerts::{SensorBatch, SensorBatchResult};
use parking_api::common::Problem;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::ApiJson;
use crate::error::ApiError;
use crate::service::sensors;
use crate::state::AppState;
use crate::store::sensors::DeviceRecord;

/// The routes of this resource, with the `device` security scheme.
/// The body limit of `POST /sensors/events`: a full batch of
/// [`parking_api::MAX_SENSOR_BATCH`] readings naming spots by id and instants
/// with microseconds is about 110 KiB.
pub const MAX_BATCH_BODY_BYTES: usize = 256 * 1024;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(SensorsDoc::openapi()).routes(routes!(post_events))
}

#[derive(OpenApi)]
#[openapi(modifiers(&DeviceAuth))]
struct SensorsDoc;

struct DeviceAuth;

impl Modify for DeviceAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "device",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "`Device <key>`: a key from `POST /parking-lots/{id}/devices`",
            ))),
        );
    }
}

/// The device whose key the request carries; 401 when missing, unknown or revoked.
#[derive(Clone, Debug)]
pub struct AuthenticatedDevice(pub DeviceRecord);

impl FromRequestParts<AppState> for AuthenticatedDevice {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let key = super::extract::credential(parts, "device").ok_or_else(|| {
            ApiError::Unauthorized("a device key is required: `Authorization: Device <key>`".into())
        })?;
        sensors::authenticate_device(state, key)
            .await
            .map(AuthenticatedDevice)
    }
}

/// Applies a batch of 1 to 1000 readings from the device's lot. Per spot the
/// newest `at` wins: a reading not newer than the spot's newest one, or one
/// that repeats its state, is counted as `stale` and changes nothing (replays
/// are harmless). A reading more than two minutes ahead of the server clock,
/// or naming no spot of the lot, is listed in `rejected` with its index; the
/// rest of the batch still applies. Each change writes a
/// `spot_status_changed` event; an arrival no booking covers raises an
/// `unexpected_occupancy` alert, an occupancy outlasting its booking an
/// `overstay`.
#[utoipa::path(
    post,
    path = "/sensors/events",
    tag = "sensors",
    request_body = SensorBatch,
    security(("device" = [])),
    responses(
        (status = 200, body = SensorBatchResult),
        (status = 400, body = Problem),
        (status = 401, body = Problem, description = "No device key, or an unknown or revoked one"),
        (status = 413, body = Problem),
        (status = 422, body = Problem, description = "Not 1 to 1000 readings, or malformed ones")
    )
)]
pub async fn post_events(
    State(state): State<AppState>,
    AuthenticatedDevice(device): AuthenticatedDevice,
    ApiJson(batch): ApiJson<SensorBatch>,
) -> Result<Json<SensorBatchResult>, ApiError> {
    Ok(Json(sensors::ingest(&state, &device, batch).await?))
}
