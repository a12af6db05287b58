//! `/parking-lots/{id}/rates` (the rate card: public to read, staff of the
//! lot's tenant to replace) and `/parking-lots/{id}/quote` (an itemised price
//! for a stay, public).

use axum::Json;
use axum::extract::{Path, State};
use chrono::Utc;
use parking_api::common::Problem;
use parking_api::rates::{QuoteDto, QuoteQuery, RateCardDto};
use parking_core::model::{Interval, LotId, SpotKind};
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
        .routes(routes!(show_rates, put_rates))
        .routes(routes!(quote))
}

/// A lot's rate card; 404 when the lot does not exist or has no card yet.
/// Public.
#[utoipa::path(
    get,
    path = "/parking-lots/{id}/rates",
    tag = "rates",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = RateCardDto), (status = 404, body = Problem))
)]
pub async fn show_rates(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<RateCardDto>, ApiError> {
    let city = state.engine.read();
    let lot = city
        .lot(LotId::from_uuid(id))
        .map_err(|_| ApiError::NotFound("lot"))?;
    let card = lot.rates.clone().ok_or(ApiError::NotFound("rate card"))?;
    Ok(Json(RateCardDto(card)))
}

/// Replaces a lot's rate card with the shape `GET` returns, validated (422 with
/// field paths such as `bands[2].end`). Bookings made from now on use it.
#[utoipa::path(
    put,
    path = "/parking-lots/{id}/rates",
    tag = "rates",
    request_body = RateCardDto,
    params(("id" = Uuid, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, body = RateCardDto),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 413, body = Problem),
        (status = 422, body = Problem)
    )
)]
pub async fn put_rates(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    ApiJson(card): ApiJson<RateCardDto>,
) -> Result<Json<RateCardDto>, ApiError> {
    actor.require_staff()?;
    card.validate().map_err(ApiError::Validation)?;
    lots::put_rates(&state, &actor, LotId::from_uuid(id), card.0.clone()).await?;
    Ok(Json(card))
}

/// The itemised price of a stay of `spot_type` (default `regular`) at today's
/// occupancy; its lines sum to the total. Public.
#[utoipa::path(
    get,
    path = "/parking-lots/{id}/quote",
    tag = "rates",
    params(("id" = Uuid, Path), QuoteQuery),
    responses(
        (status = 200, body = QuoteDto),
        (status = 404, body = Problem),
        (status = 422, body = Problem, description = "A bad window, or the lot has no rate card")
    )
)]
pub async fn quote(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    ApiQuery(query): ApiQuery<QuoteQuery>,
) -> Result<Json<QuoteDto>, ApiError> {
    query.validate().map_err(ApiError::Validation)?;
    let window = Interval::new(query.start_time, query.end_time)
        .map_err(|e| ApiError::field("end_time", e.to_string()))?;
    let kind = query.spot_type.map_or(SpotKind::Regular, SpotKind::from);
    let city = state.engine.read();
    let lot = city
        .lot(LotId::from_uuid(id))
        .map_err(|_| ApiError::NotFound("lot"))?;
    if lot.rates.is_none() {
        return Err(ApiError::Unprocessable(
            "this lot has no rate card yet".into(),
        ));
    }
    let quote = lot
        .quote(kind, &window, Utc::now())
        .map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    Ok(Json(QuoteDto::from(&quote)))
}
