//! `/parking-lots/{id}/spots` and `/parking-lots/{id}/spots/{spot_id}`: the
//! public list of a lot's spots with their availability, bulk creation and
//! taking a spot in or out of service (staff of the lot's tenant, admins).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use parking_api::alerts::SensorState;
use parking_api::common::Problem;
use parking_api::spots::{CreateSpotsRequest, Spot, SpotsQuery, UpdateSpotRequest};
use parking_core::model::{Interval, LotId, Spot as CoreSpot, SpotId, SpotKind};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::extract::{Actor, ApiJson, ApiQuery};
use crate::error::ApiError;
use crate::service::lots;
use crate::state::AppState;

/// The routes of this resource.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_spots, create_spots))
        .routes(routes!(update_spot))
}

/// A lot's spots in inventory order, each with `available`: free for the
/// window when one is given, else free at this instant (out-of-service spots
/// never are); and `sensor`, the spot's sensor state when it has one (`at` is
/// the reading that set the current occupancy). The lot's turnover buffer counts, as it would for a booking, so
/// a spot just vacated reads as taken until its buffer has passed. Public.
#[utoipa::path(
    get,
    path = "/parking-lots/{id}/spots",
    tag = "lots",
    params(("id" = Uuid, Path), SpotsQuery),
    responses(
        (status = 200, body = Vec<Spot>),
        (status = 404, body = Problem),
        (status = 422, body = Problem, description = "Half a window, or its end not after its start")
    )
)]
pub async fn list_spots(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    ApiQuery(query): ApiQuery<SpotsQuery>,
) -> Result<Json<Vec<Spot>>, ApiError> {
    query.validate().map_err(ApiError::Validation)?;
    let now = Utc::now();
    let window = match (query.start_time, query.end_time) {
        (Some(start), Some(end)) => {
            Interval::new(start, end).map_err(|e| ApiError::field("end_time", e.to_string()))?
        }
        _ => lots::instant(now)?,
    };
    let kind = query.spot_type.map(SpotKind::from);
    let lot_id = LotId::from_uuid(id);
    let sensors: HashMap<SpotId, SensorState> = state
        .store
        .sensor_states(lot_id)
        .await?
        .into_iter()
        .map(|s| {
            (
                s.spot_id,
                SensorState {
                    occupied: s.occupied,
                    at: s.since,
                },
            )
        })
        .collect();
    let city = state.engine.read();
    let lot = city.lot(lot_id).map_err(|_| ApiError::NotFound("lot"))?;
    let spots = lot
        .inventory
        .spots()
        .filter(|s| kind.is_none_or(|k| s.kind == k))
        .map(|s| Spot {
            sensor: sensors.get(&s.id).copied(),
            ..Spot::from(s).with_available(lot.inventory.is_free(s.id, &window, now))
        })
        .collect();
    Ok(Json(spots))
}

/// Creates spots in bulk: a numbered batch `{count, prefix, kind, zone?}`
/// (numbering continues after the highest `prefix` number in the lot) or a list
/// `{spots: [{label, kind, zone?}]}`. Answers with the created spots; 409 if a
/// label is taken in the lot.
#[utoipa::path(
    post,
    path = "/parking-lots/{id}/spots",
    tag = "lots",
    request_body = CreateSpotsRequest,
    params(("id" = Uuid, Path)),
    security(("bearer" = [])),
    responses(
        (status = 201, body = Vec<Spot>),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 409, body = Problem, description = "A label is taken in the lot"),
        (status = 413, body = Problem), (status = 422, body = Problem)
    )
)]
pub async fn create_spots(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    ApiJson(request): ApiJson<CreateSpotsRequest>,
) -> Result<(StatusCode, Json<Vec<Spot>>), ApiError> {
    actor.require_staff()?;
    request.validate().map_err(ApiError::Validation)?;
    let lot_id = LotId::from_uuid(id);
    let spots = lots::add_spots(&state, &actor, lot_id, |existing| {
        let spot = |label: String, kind: SpotKind, zone: Option<String>| CoreSpot {
            id: SpotId::new(),
            lot_id,
            label,
            kind,
            zone,
            in_service: true,
        };
        match &request {
            CreateSpotsRequest::Batch(batch) => {
                let first = lots::next_number(existing.into_iter(), &batch.prefix);
                batch
                    .labels(first)
                    .map(|label| spot(label, batch.kind.into(), batch.zone.clone()))
                    .collect()
            }
            CreateSpotsRequest::List(list) => list
                .spots
                .iter()
                .map(|s| spot(s.label.clone(), s.kind.into(), s.zone.clone()))
                .collect(),
        }
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(spots.iter().map(Spot::from).collect()),
    ))
}

/// Takes a spot in or out of service (a `spot_status_changed` event). Out of
/// service, it is never allocated; its existing bookings stay.
#[utoipa::path(
    patch,
    path = "/parking-lots/{id}/spots/{spot_id}",
    tag = "lots",
    request_body = UpdateSpotRequest,
    params(("id" = Uuid, Path), ("spot_id" = Uuid, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Spot),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)
    )
)]
pub async fn update_spot(
    State(state): State<AppState>,
    actor: Actor,
    Path((id, spot_id)): Path<(Uuid, Uuid)>,
    ApiJson(request): ApiJson<UpdateSpotRequest>,
) -> Result<Json<Spot>, ApiError> {
    request.validate().map_err(ApiError::Validation)?;
    let spot = lots::set_in_service(
        &state,
        &actor,
        LotId::from_uuid(id),
        SpotId::from_uuid(spot_id),
        request.in_service,
    )
    .await?;
    Ok(Json(Spot::from(&spot)))
}
