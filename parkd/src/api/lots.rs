//! `/parking-lots` and `/parking-lots/{id}`: the public nearby search and lot
//! details, and lot administration for operators (their tenant's lots) and
//! admins (any lot); `/parking-lots/by-external-id/{external_id}` finds a lot
//! again by its id in an imported data set, so imports can be re-run;
//! `/parking-lots/managed` lists the lots the caller manages. The use cases live
//! in [`crate::service::lots`].

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use parking_api::common::{MoneyDto, Page, Problem};
use parking_api::lots::{
    CreateLotRequest, Location, Lot, LotSearchQuery, LotSummary, ManagedLotsQuery, UpdateLotRequest,
};
use parking_core::city::LotState;
use parking_core::model::{GeoPoint, Interval, KindCounts, Lot as CoreLot, LotId, TenantId};
use parking_core::spatial::Radius;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::extract::{Actor, ApiJson, ApiQuery};
use crate::error::ApiError;
use crate::service::lots::{self, Found, Search};
use crate::service::payments;
use crate::state::AppState;

/// The routes of this resource.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search_lots, create_lot))
        .routes(routes!(show_lot, update_lot, delete_lot))
        .routes(routes!(lot_by_external_id))
        .routes(routes!(list_managed_lots))
}

fn summary(found: Found) -> LotSummary {
    LotSummary {
        id: found.result.lot_id.as_uuid(),
        name: found.name,
        address: found.address,
        location: Location::from(found.location),
        distance_m: found.result.distance_m,
        total_spots: found.result.total_spots,
        available_spots: found.result.available_spots,
        quote: found.result.quote.map(|q| MoneyDto::from(q.total)),
    }
}

/// The wire form of a lot in memory with its spot counts at `now`.
fn counted(lot: &LotState, now: DateTime<Utc>) -> Lot {
    Lot::from_core(
        &lot.lot,
        lot.inventory.capacity().total(),
        &lot.inventory.availability_now(now),
    )
}

/// `wire` with what parkd keeps beside the core's lot: its external id and
/// payment mode (each behind its own lock: call without the engine's).
fn with_stored_fields(state: &AppState, wire: Lot) -> Lot {
    let id = LotId::from_uuid(wire.id);
    wire.with_external_id(lots::external_id(state, id))
        .with_payment_mode(payments::mode_dto(state.payments.mode(id)))
}

/// The wire form of a lot with its counts now and its stored fields, from the
/// engine.
fn lot_dto(state: &AppState, lot: &CoreLot) -> Lot {
    let wire = {
        let city = state.engine.read();
        match city.lot(lot.id) {
            Ok(s) => counted(s, Utc::now()),
            Err(_) => Lot::from_core(lot, 0, &KindCounts::default()),
        }
    };
    with_stored_fields(state, wire)
}

/// Lots within `radius` metres (default 1000, at most 50000) of `lat`/`lng`,
/// nearest first, with their spot counts now or for the window, and for a
/// window its price. `spot_type` keeps lots with a free spot of that kind;
/// `max_price` (minor units of each lot's currency) needs a window. Public.
///
/// `total` is exact: without a filter it is counted on the spatial index and
/// only the lots up to the asked page are evaluated; with a filter every lot in
/// the radius is evaluated.
#[utoipa::path(
    get,
    path = "/parking-lots",
    tag = "lots",
    params(LotSearchQuery),
    responses(
        (status = 200, body = Page<LotSummary>),
        (status = 422, body = Problem, description = "Bad coordinates, radius, window, price or paging")
    )
)]
pub async fn search_lots(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<LotSearchQuery>,
) -> Result<Json<Page<LotSummary>>, ApiError> {
    query.validate().map_err(ApiError::Validation)?;
    let center =
        GeoPoint::new(query.lat, query.lng).map_err(|e| ApiError::field("lat", e.to_string()))?;
    let radius = Radius::new(f64::from(query.radius_m()))
        .map_err(|e| ApiError::field("radius", e.to_string()))?;
    let window = match (query.start_time, query.end_time) {
        (Some(start), Some(end)) => Some(
            Interval::new(start, end).map_err(|e| ApiError::field("end_time", e.to_string()))?,
        ),
        _ => None,
    };
    let paging = query.page_query();
    let search = Search {
        center,
        radius,
        kind: query.spot_type.map(Into::into),
        window,
        max_price: query.max_price,
        page: paging.page,
        per_page: paging.per_page,
    };
    let found = lots::search(&state, &search)?;
    let items = found.items.into_iter().map(summary).collect();
    Ok(Json(Page::new(
        items,
        found.total,
        paging.page,
        paging.per_page,
    )))
}

/// One lot with its spot counts now. Public.
#[utoipa::path(
    get,
    path = "/parking-lots/{id}",
    tag = "lots",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Lot), (status = 404, body = Problem))
)]
pub async fn show_lot(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> Result<Json<Lot>, ApiError> {
    let wire = {
        let city = state.engine.read();
        let lot = city
            .lot(LotId::from_uuid(id))
            .map_err(|_| ApiError::NotFound("lot"))?;
        counted(lot, Utc::now())
    };
    Ok(Json(with_stored_fields(&state, wire)))
}

/// The lots the caller manages, by name then id, each with its spot counts
/// now: an operator's tenant's lots; an admin's every lot, or one tenant's with
/// `tenant_id`. Staff only.
#[utoipa::path(
    get,
    path = "/parking-lots/managed",
    tag = "lots",
    params(ManagedLotsQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Page<Lot>),
        (status = 401, body = Problem),
        (status = 403, body = Problem, description = "Not staff, an operator without a tenant, or an operator naming another tenant"),
        (status = 404, body = Problem, description = "An admin naming a tenant that does not exist"),
        (status = 422, body = Problem, description = "Bad paging")
    )
)]
pub async fn list_managed_lots(
    State(state): State<AppState>,
    actor: Actor,
    ApiQuery(query): ApiQuery<ManagedLotsQuery>,
) -> Result<Json<Page<Lot>>, ApiError> {
    actor.require_staff()?;
    query.validate().map_err(ApiError::Validation)?;
    let scope =
        lots::managed_scope(&state, &actor, query.tenant_id.map(TenantId::from_uuid)).await?;
    let paging = query.page_query();
    let now = Utc::now();
    // Counted under the engine's lock; the stored fields are added after it
    // is released.
    let (wires, total) = {
        let city = state.engine.read();
        let (page, total) = lots::managed_lots(&city, scope, paging.page, paging.per_page);
        let wires: Vec<Lot> = page.into_iter().map(|lot| counted(lot, now)).collect();
        (wires, total)
    };
    let items = wires
        .into_iter()
        .map(|wire| with_stored_fields(&state, wire))
        .collect();
    Ok(Json(Page::new(items, total, paging.page, paging.per_page)))
}

/// The lot with this external id (its id in an imported data set), for
/// idempotent imports: look it up, then create (`POST /parking-lots` with
/// `external_id`) or change it (`PATCH /parking-lots/{id}`). Staff only; a lot
/// of another tenant is a 404 exactly like one that does not exist.
#[utoipa::path(
    get,
    path = "/parking-lots/by-external-id/{external_id}",
    tag = "lots",
    params(("external_id" = String, Path, description = "The lot's id in the imported data set")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Lot),
        (status = 401, body = Problem),
        (status = 403, body = Problem, description = "Not staff"),
        (status = 404, body = Problem, description = "No lot the caller manages has this external id")
    )
)]
pub async fn lot_by_external_id(
    State(state): State<AppState>,
    actor: Actor,
    Path(external_id): Path<String>,
) -> Result<Json<Lot>, ApiError> {
    let lot = lots::lot_by_external_id(&state, &actor, &external_id)?;
    Ok(Json(lot_dto(&state, &lot)))
}

/// Creates a lot (no spots, no rates yet). An admin names `tenant_id`; an
/// operator's lot belongs to their own tenant. An `external_id` another lot
/// already has is a 409.
#[utoipa::path(
    post,
    path = "/parking-lots",
    tag = "lots",
    request_body = CreateLotRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = Lot),
        (status = 401, body = Problem),
        (status = 403, body = Problem, description = "Not staff, or an operator naming another tenant"),
        (status = 409, body = Problem, description = "Another lot already has this external_id"),
        (status = 413, body = Problem),
        (status = 422, body = Problem, description = "Invalid fields; an admin without or with an unknown tenant_id; `prepaid` without Stripe keys")
    )
)]
pub async fn create_lot(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(request): ApiJson<CreateLotRequest>,
) -> Result<(StatusCode, Json<Lot>), ApiError> {
    actor.require_staff()?;
    request.validate().map_err(ApiError::Validation)?;
    let tenant =
        lots::owning_tenant(&state, &actor, request.tenant_id.map(TenantId::from_uuid)).await?;
    let lot = request
        .to_lot(LotId::new(), tenant)
        .map_err(ApiError::Validation)?;
    let mode = request
        .payment_mode
        .map(payments::mode_of)
        .unwrap_or_default();
    lots::create_lot(&state, lot.clone(), request.external_id, mode).await?;
    Ok((StatusCode::CREATED, Json(lot_dto(&state, &lot))))
}

/// Changes a lot: only the fields present. 404 for a lot the caller does not
/// manage.
#[utoipa::path(
    patch,
    path = "/parking-lots/{id}",
    tag = "lots",
    request_body = UpdateLotRequest,
    params(("id" = Uuid, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Lot),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 413, body = Problem),
        (status = 422, body = Problem, description = "Invalid fields; `prepaid` without Stripe keys")
    )
)]
pub async fn update_lot(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    ApiJson(request): ApiJson<UpdateLotRequest>,
) -> Result<Json<Lot>, ApiError> {
    let mode = request.payment_mode.map(payments::mode_of);
    let lot = lots::update_lot(
        &state,
        &actor,
        LotId::from_uuid(id),
        |lot| request.apply(lot).map_err(ApiError::Validation),
        mode,
    )
    .await?;
    Ok(Json(lot_dto(&state, &lot)))
}

/// Deletes a lot with its spots and rates; 409 while it has current or future
/// bookings.
#[utoipa::path(
    delete,
    path = "/parking-lots/{id}",
    tag = "lots",
    params(("id" = Uuid, Path)),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 409, body = Problem, description = "The lot has current or future bookings")
    )
)]
pub async fn delete_lot(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    lots::delete_lot(&state, &actor, LotId::from_uuid(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
