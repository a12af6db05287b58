//! `/analytics/*`: occupancy series, revenue per lot-local day and a lot summary,
//! for the operators of the lot's tenant and for admins.
//!
//! The maths is `parking_core::analytics`; this module scopes the caller to the
//! lot, fetches the lot's reservations from the store (`reservations_in`) and the
//! capacity from the engine, and renders the wire types of
//! `parking_api::analytics`. Analytics may lag a moment behind bookings
//! (invariant 7): reads go to the read connections, never to the writer.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use parking_api::analytics::{
    OccupancyPoint, OccupancyQuery, OccupancyReport, RevenueDay, RevenueQuery, RevenueReport,
    Summary, SummaryQuery,
};
use parking_api::common::Problem;
use parking_core::analytics::{
    AnalyticsError, Stay, earns_revenue, occupancy_series, revenue_by_local_day,
};
use parking_core::model::local_time::{local_date, start_of_local_day};
use parking_core::model::{Currency, Interval, LotId, Money, Reservation};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::extract::{Actor, ApiQuery};
use crate::error::ApiError;
use crate::state::AppState;

/// The routes of this resource.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(occupancy))
        .routes(routes!(revenue))
        .routes(routes!(summary))
}

/// What the handlers need to know about a lot the caller may analyse, copied
/// out of the engine so no lock is held across the store's `.await`.
#[derive(Debug)]
struct LotFacts {
    id: LotId,
    time_zone: Tz,
    /// Spots in service.
    capacity: u32,
    /// Spots in service with nobody on them now.
    available_now: u32,
    /// The rate card's currency, if the lot has one.
    currency: Option<Currency>,
}

/// Refuses drivers (403), then finds the lot among those the caller manages: a
/// lot of another tenant is a 404, exactly like a lot that does not exist.
fn lot_for(
    state: &AppState,
    actor: &Actor,
    lot_id: Uuid,
    now: DateTime<Utc>,
) -> Result<LotFacts, ApiError> {
    actor.require_staff()?;
    let city = state.engine.read();
    let lot = city
        .lot(LotId::from_uuid(lot_id))
        .map_err(|_| ApiError::NotFound("lot"))?;
    if !actor.manages(lot.lot.tenant_id) {
        return Err(ApiError::NotFound("lot"));
    }
    Ok(LotFacts {
        id: lot.lot.id,
        time_zone: lot.lot.time_zone,
        capacity: lot.inventory.capacity().total(),
        available_now: lot.inventory.availability_now(now).total(),
        currency: lot.rates.as_ref().map(|card| card.currency),
    })
}

fn window(from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Interval, ApiError> {
    Interval::new(from, to).map_err(|_| ApiError::field("to", "must be after from"))
}

fn analytics_error(e: AnalyticsError) -> ApiError {
    match e {
        AnalyticsError::ZeroCapacity => {
            ApiError::Unprocessable("the lot has no spots in service".into())
        }
        other => ApiError::Internal(other.to_string()),
    }
}

/// The lot's currency: its rate card's, else that of its earning bookings, else
/// EUR (a lot without a card or bookings has earned nothing in any currency).
fn currency_of(lot: &LotFacts, reservations: &[Reservation]) -> Currency {
    lot.currency
        .or_else(|| {
            reservations
                .iter()
                .find(|r| earns_revenue(r.status))
                .map(|r| r.total.currency)
        })
        .unwrap_or(Currency::EUR)
}

/// Average occupancy per bucket: booked spot-time of confirmed, checked-in and
/// completed reservations over spots in service × bucket length.
#[utoipa::path(
    get,
    path = "/analytics/occupancy",
    tag = "analytics",
    params(OccupancyQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = OccupancyReport),
        (status = 401, body = Problem),
        (status = 403, body = Problem, description = "Drivers may not see analytics"),
        (status = 404, body = Problem, description = "No such lot, or another tenant's"),
        (status = 422, body = Problem, description = "Bad range or bucket, or a lot without spots in service")
    )
)]
pub async fn occupancy(
    State(state): State<AppState>,
    actor: Actor,
    ApiQuery(query): ApiQuery<OccupancyQuery>,
) -> Result<Json<OccupancyReport>, ApiError> {
    let lot = lot_for(&state, &actor, query.lot_id, Utc::now())?;
    query.validate().map_err(ApiError::Validation)?;
    let bucket_minutes = query
        .bucket_minutes()
        .map_err(|message| ApiError::field("bucket", message))?;
    let window = window(query.from, query.to)?;
    let reservations = state.store.reservations_in(lot.id, window).await?;
    let points = occupancy_series(
        Stay::from_reservations(&reservations),
        lot.capacity,
        window,
        Duration::minutes(i64::from(bucket_minutes)),
    )
    .map_err(analytics_error)?;
    Ok(Json(OccupancyReport {
        lot_id: lot.id.as_uuid(),
        bucket_minutes,
        points: points.iter().map(OccupancyPoint::from).collect(),
    }))
}

/// Booked revenue per lot-local calendar day, for the confirmed, checked-in and
/// completed stays that start in `[from, to)`; each stay counts on the local day it
/// starts. At a prepaid lot: what the payments for those stays took, net of
/// refunds (cancellation fees kept included).
#[utoipa::path(
    get,
    path = "/analytics/revenue",
    tag = "analytics",
    params(RevenueQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = RevenueReport),
        (status = 401, body = Problem),
        (status = 403, body = Problem, description = "Drivers may not see analytics"),
        (status = 404, body = Problem, description = "No such lot, or another tenant's"),
        (status = 422, body = Problem, description = "Bad range or grouping")
    )
)]
pub async fn revenue(
    State(state): State<AppState>,
    actor: Actor,
    ApiQuery(query): ApiQuery<RevenueQuery>,
) -> Result<Json<RevenueReport>, ApiError> {
    let lot = lot_for(&state, &actor, query.lot_id, Utc::now())?;
    query.validate().map_err(ApiError::Validation)?;
    let window = window(query.from, query.to)?;
    let mut reservations = state.store.reservations_in(lot.id, window).await?;
    // `reservations_in` returns overlapping stays; revenue belongs to the range
    // in which a stay starts, so one started before `from` is not counted twice
    // across adjacent ranges.
    reservations.retain(|r| window.contains_instant(r.interval.start()));
    let currency = currency_of(&lot, &reservations);
    let days = if state.payments.is_prepaid(lot.id) {
        // A prepaid lot's revenue is what its payments took net of refunds, so
        // the report reconciles with `GET /payments`.
        crate::service::payments::revenue_by_local_day(
            &state,
            lot.id,
            lot.time_zone,
            window,
            currency,
        )
        .await?
    } else {
        revenue_by_local_day(&reservations, lot.time_zone, currency).map_err(analytics_error)?
    };
    let total = days
        .iter()
        .try_fold(Money::zero(currency), |sum, (_, amount)| {
            sum.checked_add(*amount)
        })
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(RevenueReport {
        lot_id: lot.id.as_uuid(),
        total: total.into(),
        days: days.into_iter().map(RevenueDay::from).collect(),
    }))
}

/// The lot now and today (its local calendar day): spots in service, free now,
/// occupancy now, bookings in progress, and today's bookings and revenue
/// (confirmed, checked-in and completed stays starting today).
#[utoipa::path(
    get,
    path = "/analytics/summary",
    tag = "analytics",
    params(SummaryQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Summary),
        (status = 401, body = Problem),
        (status = 403, body = Problem, description = "Drivers may not see analytics"),
        (status = 404, body = Problem, description = "No such lot, or another tenant's"),
        (status = 422, body = Problem)
    )
)]
pub async fn summary(
    State(state): State<AppState>,
    actor: Actor,
    ApiQuery(query): ApiQuery<SummaryQuery>,
) -> Result<Json<Summary>, ApiError> {
    let now = Utc::now();
    let lot = lot_for(&state, &actor, query.lot_id, now)?;
    let today = local_date(lot.time_zone, now);
    let day_start = start_of_local_day(lot.time_zone, today);
    let day_end = today.succ_opt().map_or(day_start + Duration::days(1), |d| {
        start_of_local_day(lot.time_zone, d)
    });
    let today_window = window(day_start, day_end.max(now + Duration::seconds(1)))?;
    let reservations = state.store.reservations_in(lot.id, today_window).await?;

    let active = reservations
        .iter()
        .filter(|r| r.is_blocking(now) && r.interval.contains_instant(now))
        .count();
    let starting_today: Vec<Reservation> = reservations
        .into_iter()
        .filter(|r| {
            earns_revenue(r.status) && local_date(lot.time_zone, r.interval.start()) == today
        })
        .collect();
    let currency = currency_of(&lot, &starting_today);
    let revenue_today = revenue_by_local_day(&starting_today, lot.time_zone, currency)
        .map_err(analytics_error)?
        .into_iter()
        .map(|(_, amount)| amount)
        .next()
        .unwrap_or(Money::zero(currency));
    let occupied = lot.capacity.saturating_sub(lot.available_now);
    Ok(Json(Summary {
        lot_id: lot.id.as_uuid(),
        total_spots: lot.capacity,
        available_now: lot.available_now,
        occupancy_now: if lot.capacity == 0 {
            0.0
        } else {
            f64::from(occupied) / f64::from(lot.capacity)
        },
        active_reservations: u32::try_from(active).unwrap_or(u32::MAX),
        bookings_today: u32::try_from(starting_today.len()).unwrap_or(u32::MAX),
        revenue_today: revenue_today.into(),
    }))
}
