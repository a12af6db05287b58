//! `/reservations` and `/parking-lots/{id}/spots/{spot_id}/reserve`: booking,
//! listing, changing, cancelling and the lifecycle steps.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use parking_api::common::{MoneyDto, Page, Problem};
use parking_api::payments::PayRequest;
use parking_api::reservations::{
    CancelResponse, CreateReservationRequest, IDEMPOTENCY_KEY_HEADER, Reservation,
    ReservationsQuery, ReserveSpotRequest, UpdateReservationRequest,
};
use parking_core::conflict::SpotChoice;
use parking_core::model::{LotId, Money, ReservationId, SpotId, SpotKind};
use sha2::{Digest, Sha256};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::extract::{Actor, ApiJson, ApiQuery};
use crate::error::ApiError;
use crate::service::booking::{self, BookingView, IdempotencyKey, NewBooking};
use crate::service::payments;
use crate::state::AppState;
use crate::store::interface::{PageRequest, ReservationFilter, Scope};

/// The routes of this resource.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(show, update, cancel))
        .routes(routes!(confirm))
        .routes(routes!(check_in))
        .routes(routes!(check_out))
        .routes(routes!(pay))
        .routes(routes!(reserve_spot))
}

fn dto(view: &BookingView, actor: &Actor) -> Reservation {
    Reservation::from_core(&view.reservation, &view.spot_label, view.quote.as_ref()).with_payment(
        view.payment
            .as_ref()
            .map(|p| payments::reservation_payment(p, actor)),
    )
}

/// A single reservation's answer, with its latest payment.
async fn answer(
    state: &AppState,
    actor: &Actor,
    mut view: BookingView,
) -> Result<Json<Reservation>, ApiError> {
    if view.payment.is_none() {
        view.payment = payments::latest(state, view.reservation.id).await?;
    }
    Ok(Json(dto(&view, actor)))
}

fn money(m: Option<MoneyDto>, field: &str) -> Result<Option<Money>, ApiError> {
    m.map(|m| Money::try_from(m).map_err(|e| ApiError::field(field, e.to_string())))
        .transpose()
}

const MAX_IDEMPOTENCY_KEY: usize = 255;

/// The idempotency key of a request, with a hash of what was asked, so a key
/// reused for a different request is refused rather than answered wrongly.
fn idempotency(
    headers: &HeaderMap,
    path: &str,
    body: &impl serde::Serialize,
) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY_HEADER) else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= MAX_IDEMPOTENCY_KEY)
        .ok_or_else(|| {
            ApiError::field(
                IDEMPOTENCY_KEY_HEADER,
                "must be 1 to 255 visible ASCII characters",
            )
        })?;
    let mut hasher = Sha256::new();
    hasher.update(path.as_bytes());
    hasher.update([0]);
    hasher.update(serde_json::to_vec(body).map_err(|e| ApiError::Internal(e.to_string()))?);
    let hash: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(Some(IdempotencyKey {
        key: key.to_owned(),
        request_hash: hash,
    }))
}

/// The stored first answer to a retried request, if there is one.
async fn replay(
    state: &AppState,
    actor: &Actor,
    key: &IdempotencyKey,
) -> Result<Option<Response>, ApiError> {
    let Some(stored) = state
        .store
        .idempotent_response(actor.user_id, key.key.clone())
        .await?
    else {
        return Ok(None);
    };
    if stored.request_hash != key.request_hash {
        return Err(ApiError::Unprocessable(
            "this Idempotency-Key was used for a different request".into(),
        ));
    }
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::CREATED);
    let body: serde_json::Value = serde_json::from_str(&stored.response_json)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Some((status, Json(body)).into_response()))
}

async fn book(
    state: &AppState,
    actor: &Actor,
    request: CreateReservationRequest,
    key: Option<IdempotencyKey>,
) -> Result<Response, ApiError> {
    request.validate().map_err(ApiError::Validation)?;
    let interval = request
        .interval()
        .ok_or_else(|| ApiError::field("end_time", "must be after start_time"))?;
    let choice = match (request.spot_id, request.spot_type) {
        (Some(spot), _) => SpotChoice::Spot(SpotId::from_uuid(spot)),
        (None, kind) => SpotChoice::Kind(kind.map_or(SpotKind::Regular, SpotKind::from)),
    };
    let new = NewBooking {
        lot_id: LotId::from_uuid(request.lot_id),
        choice,
        interval,
        hold: request.hold.unwrap_or(false),
        expected_total: money(request.expected_total, "expected_total")?,
    };
    if let Some(key) = &key
        && let Some(answer) = replay(state, actor, key).await?
    {
        return Ok(answer);
    }
    let result = booking::create(state, actor, new, key.clone(), |view| {
        serde_json::to_string(&dto(view, actor)).map_err(|e| ApiError::Internal(e.to_string()))
    })
    .await;
    match result {
        Ok(view) => Ok((StatusCode::CREATED, Json(dto(&view, actor))).into_response()),
        // A concurrent retry with the same key won the race: answer as it did.
        Err(e @ ApiError::Conflict { .. }) => match &key {
            Some(key) => match replay(state, actor, key).await? {
                Some(answer) => Ok(answer),
                None => Err(e),
            },
            None => Err(e),
        },
        Err(e) => Err(e),
    }
}

/// Books a spot; without `spot_id` the best-fitting spot of `spot_type`
/// (default `regular`) is allocated.
#[utoipa::path(
    post,
    path = "/reservations",
    tag = "reservations",
    request_body = CreateReservationRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key returns the first answer and books nothing new")),
    security(("bearer" = [])),
    responses(
        (status = 201, body = Reservation),
        (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "Not available, or the price changed (the problem carries `quote`)"),
        (status = 422, body = Problem),
        (status = 503, body = Problem, description = "Prepaid lot and Stripe unreachable: nothing was booked; retry after `Retry-After`")
    )
)]
pub async fn create(
    State(state): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    ApiJson(request): ApiJson<CreateReservationRequest>,
) -> Result<Response, ApiError> {
    let key = idempotency(&headers, "/reservations", &request)?;
    book(&state, &actor, request, key).await
}

/// Books a named spot.
#[utoipa::path(
    post,
    path = "/parking-lots/{id}/spots/{spot_id}/reserve",
    tag = "reservations",
    request_body = ReserveSpotRequest,
    params(("id" = Uuid, Path), ("spot_id" = Uuid, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key returns the first answer")),
    security(("bearer" = [])),
    responses(
        (status = 201, body = Reservation),
        (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)
    )
)]
pub async fn reserve_spot(
    State(state): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    Path((lot, spot)): Path<(Uuid, Uuid)>,
    ApiJson(request): ApiJson<ReserveSpotRequest>,
) -> Result<Response, ApiError> {
    request.validate().map_err(ApiError::Validation)?;
    let request = request.into_create(lot, spot);
    let key = idempotency(&headers, "/reserve", &request)?;
    book(&state, &actor, request, key).await
}

/// Reservations the caller may see: a driver their own, an operator their
/// tenant's, an admin all; newest first.
#[utoipa::path(
    get,
    path = "/reservations",
    tag = "reservations",
    params(ReservationsQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Page<Reservation>), (status = 401, body = Problem), (status = 422, body = Problem))
)]
pub async fn list(
    State(state): State<AppState>,
    actor: Actor,
    ApiQuery(query): ApiQuery<ReservationsQuery>,
) -> Result<Json<Page<Reservation>>, ApiError> {
    query.validate().map_err(ApiError::Validation)?;
    let page = query.page_query();
    let scope = if actor.is_admin() {
        Scope::All
    } else if let (true, Some(tenant)) = (actor.is_operator(), actor.tenant_id) {
        Scope::Tenant(tenant)
    } else {
        Scope::User(actor.user_id)
    };
    let filter = ReservationFilter {
        status: query.status.map(Into::into),
        from: query.from,
        to: query.to,
        lot_id: query.lot_id.map(LotId::from_uuid),
    };
    let (records, total) = state
        .store
        .list_reservations(
            scope,
            filter,
            PageRequest {
                page: page.page,
                per_page: page.per_page,
            },
        )
        .await?;
    let paid = payments::latest_of_each(&state, records.iter().map(|r| r.reservation.id).collect())
        .await?;
    let items = records
        .into_iter()
        .map(|r| {
            let quote = r
                .quote_json
                .as_deref()
                .and_then(|q| serde_json::from_str(q).ok());
            Reservation::from_core(&r.reservation, &r.spot_label, quote.as_ref()).with_payment(
                paid.get(&r.reservation.id)
                    .map(|p| payments::reservation_payment(p, &actor)),
            )
        })
        .collect();
    Ok(Json(Page::new(items, total, page.page, page.per_page)))
}

/// One reservation; 404 when the caller may not see it.
#[utoipa::path(
    get,
    path = "/reservations/{id}",
    tag = "reservations",
    params(("id" = Uuid, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = Reservation), (status = 401, body = Problem), (status = 404, body = Problem))
)]
pub async fn show(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> Result<Json<Reservation>, ApiError> {
    let view = booking::show(&state, &actor, ReservationId::from_uuid(id)).await?;
    answer(&state, &actor, view).await
}

/// Changes a booking's times: re-checked and re-priced.
#[utoipa::path(
    put,
    path = "/reservations/{id}",
    tag = "reservations",
    request_body = UpdateReservationRequest,
    params(("id" = Uuid, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Reservation), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)
    )
)]
pub async fn update(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    ApiJson(request): ApiJson<UpdateReservationRequest>,
) -> Result<Json<Reservation>, ApiError> {
    request.validate().map_err(ApiError::Validation)?;
    let expected = money(request.expected_total, "expected_total")?;
    let view = booking::reschedule(
        &state,
        &actor,
        ReservationId::from_uuid(id),
        request.start_time,
        request.end_time,
        expected,
    )
    .await?;
    answer(&state, &actor, view).await
}

/// Cancels; the answer carries the refund due under the lot's policy (at a
/// prepaid lot: refunded through Stripe, never more than was paid).
#[utoipa::path(
    delete,
    path = "/reservations/{id}",
    tag = "reservations",
    params(("id" = Uuid, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, body = CancelResponse), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem),
        (status = 503, body = Problem, description = "Stripe unreachable: nothing was cancelled; retry")
    )
)]
pub async fn cancel(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> Result<Json<CancelResponse>, ApiError> {
    let (view, refund) = booking::cancel(&state, &actor, ReservationId::from_uuid(id)).await?;
    let Json(reservation) = answer(&state, &actor, view).await?;
    Ok(Json(CancelResponse {
        reservation,
        refund: refund.into(),
    }))
}

/// Confirms a held booking before its hold expires.
#[utoipa::path(
    post,
    path = "/reservations/{id}/confirm",
    tag = "reservations",
    params(("id" = Uuid, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = Reservation), (status = 401, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem))
)]
pub async fn confirm(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> Result<Json<Reservation>, ApiError> {
    let view = booking::confirm(&state, &actor, ReservationId::from_uuid(id)).await?;
    answer(&state, &actor, view).await
}

/// The driver has arrived.
#[utoipa::path(
    post,
    path = "/reservations/{id}/check-in",
    tag = "reservations",
    params(("id" = Uuid, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = Reservation), (status = 401, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem))
)]
pub async fn check_in(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> Result<Json<Reservation>, ApiError> {
    let view = booking::check_in(&state, &actor, ReservationId::from_uuid(id)).await?;
    answer(&state, &actor, view).await
}

/// The driver has left; the spot is free again.
#[utoipa::path(
    post,
    path = "/reservations/{id}/check-out",
    tag = "reservations",
    params(("id" = Uuid, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = Reservation), (status = 401, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem))
)]
pub async fn check_out(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> Result<Json<Reservation>, ApiError> {
    let view = booking::check_out(&state, &actor, ReservationId::from_uuid(id)).await?;
    answer(&state, &actor, view).await
}

/// Confirms a held prepaid booking's payment with a saved payment method
/// (operators' desks, tests); drivers' apps confirm with Stripe directly using
/// the client secret. A declined card releases the hold (422).
#[utoipa::path(
    post,
    path = "/reservations/{id}/pay",
    tag = "reservations",
    request_body = PayRequest,
    params(("id" = Uuid, Path)),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Reservation, description = "Paid and confirmed"),
        (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "No payment waiting, or the hold expired"),
        (status = 422, body = Problem, description = "Declined (the hold is released) or refused"),
        (status = 503, body = Problem, description = "Stripe unreachable; retry")
    )
)]
pub async fn pay(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    ApiJson(request): ApiJson<PayRequest>,
) -> Result<Json<Reservation>, ApiError> {
    request.validate().map_err(ApiError::Validation)?;
    let view = payments::pay(
        &state,
        &actor,
        ReservationId::from_uuid(id),
        &request.payment_method,
    )
    .await?;
    answer(&state, &actor, view).await
}
