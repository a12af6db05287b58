//! Booking use cases: create (allocate or check, price, hold or confirm), change
//! times, cancel, and the lifecycle steps (confirm, check in, check out), plus the
//! sweeps that expire holds and mark no-shows.
//!
//! Creating and moving a booking changes the engine first (under its lock, for
//! microseconds), then commits; a failed commit undoes the engine change. Steps
//! that only free a spot (cancel, check out, expire) commit first, then free it in
//! memory, so a spot is never free in memory while the database still holds it.

use chrono::{DateTime, Duration, Utc};
use parking_core::city::LotState;
use parking_core::conflict::{BookingError, BookingRequest, SpotChoice};
use parking_core::events::{DomainEvent, ReleaseReason};
use parking_core::model::{
    Interval, LifecycleError, LotId, Money, Reservation, ReservationId, ReservationStatus,
    SpotKind, TenantId,
};
use parking_core::pricing::Quote;
use tracing::warn;

use crate::api::extract::Actor;
use crate::error::ApiError;
use crate::service::payments;
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::interface::{IdempotencyRecord, ReservationRecord};
use crate::store::payments::{PaymentPurpose, PaymentRecord};

/// A booking request after parsing.
#[derive(Clone, Debug)]
pub struct NewBooking {
    /// The lot.
    pub lot_id: LotId,
    /// A named spot or a kind.
    pub choice: SpotChoice,
    /// The time wanted.
    pub interval: Interval,
    /// Hold (until confirmed) instead of confirming at once.
    pub hold: bool,
    /// The price the driver was shown; a different price now is a 409.
    pub expected_total: Option<Money>,
}

/// The idempotency key of a request and the hash of the request it came with.
#[derive(Clone, Debug)]
pub struct IdempotencyKey {
    /// The client's key.
    pub key: String,
    /// Hash of method, path and body.
    pub request_hash: String,
}

/// A reservation with what answers need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BookingView {
    /// The reservation.
    pub reservation: Reservation,
    /// Its spot's label.
    pub spot_label: String,
    /// The quote its price came from.
    pub quote: Option<Quote>,
    /// Its latest payment (prepaid lots), when the answer shows it.
    pub payment: Option<PaymentRecord>,
}

const TAKEN: &str = "the spot is not available for the requested time";

/// A failed commit: the database's no-overlap rule refused it (another request
/// won the spot) or storage failed.
pub(crate) fn commit_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict(_) => ApiError::conflict(TAKEN),
        other => other.into(),
    }
}

/// Maps the core's refusals to API errors: rule breaks are 422, taken spots 409.
pub fn booking_error(e: BookingError) -> ApiError {
    match e {
        BookingError::Window(w) => ApiError::Unprocessable(w.to_string()),
        BookingError::TimeOutOfRange(_) => ApiError::Unprocessable(e.to_string()),
        BookingError::UnknownSpot(_) => ApiError::NotFound("spot"),
        BookingError::SpotTaken(_) => ApiError::conflict(TAKEN),
        BookingError::NoneAvailable(kind) => ApiError::conflict(format!(
            "no {kind} spot is available for the requested time"
        )),
        BookingError::OutOfService(_) => ApiError::conflict("the spot is out of service"),
        BookingError::DuplicateReservation(_) => {
            ApiError::conflict("the reservation already exists")
        }
        BookingError::UnknownReservation(_) | BookingError::WrongLot(_) => {
            ApiError::Internal(e.to_string())
        }
    }
}

fn lifecycle_error(e: LifecycleError) -> ApiError {
    ApiError::conflict(e.to_string())
}

/// A 409 carrying the price now, when it differs from what the driver expected.
fn price_changed(quote: &Quote) -> ApiError {
    let quote_json = serde_json::to_value(parking_api::rates::QuoteDto::from(quote)).ok();
    ApiError::Conflict {
        detail: format!("the price is now {}", quote.total),
        extra: quote_json.map(|q| serde_json::json!({ "quote": q })),
    }
}

/// The price of `interval` for a spot of `kind` now; a 409 with the new quote when
/// it differs from what the driver was shown.
fn agreed_price(
    lot: &LotState,
    kind: SpotKind,
    interval: &Interval,
    now: DateTime<Utc>,
    expected: Option<Money>,
) -> Result<Quote, ApiError> {
    if lot.rates.is_none() {
        return Err(ApiError::Unprocessable(
            "this lot has no rate card yet; it cannot take bookings".into(),
        ));
    }
    let quote = lot
        .quote(kind, interval, now)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    match expected {
        Some(expected) if expected != quote.total => Err(price_changed(&quote)),
        _ => Ok(quote),
    }
}

/// Books: checks the lot's rules, allocates or checks the spot, prices it, and
/// commits the reservation with its event (and the idempotent answer, rendered by
/// `render`, when the request carried a key).
pub async fn create(
    state: &AppState,
    actor: &Actor,
    request: NewBooking,
    idempotency: Option<IdempotencyKey>,
    render: impl FnOnce(&BookingView) -> Result<String, ApiError>,
) -> Result<BookingView, ApiError> {
    let now = Utc::now();
    let id = ReservationId::new();
    // A prepaid booking is held until its payment succeeds.
    let prepaid = state.payments.is_prepaid(request.lot_id);
    let hold = request.hold || prepaid;
    let (reservation, spot_label, quote) = {
        let mut city = state.engine.write();
        let lot = city
            .lot_mut(request.lot_id)
            .map_err(|_| ApiError::NotFound("lot"))?;
        let kind = match request.choice {
            SpotChoice::Kind(kind) => kind,
            SpotChoice::Spot(spot) => lot
                .inventory
                .spot(spot)
                .map(|s| s.kind)
                .ok_or(ApiError::NotFound("spot"))?,
        };
        let quote = agreed_price(lot, kind, &request.interval, now, request.expected_total)?;
        if prepaid {
            payments::check_chargeable(quote.total)?;
        }
        let hold_until =
            hold.then(|| now + Duration::minutes(i64::from(lot.lot.rules.hold_minutes)));
        let booked = lot
            .inventory
            .book(
                BookingRequest {
                    id,
                    choice: request.choice,
                    interval: request.interval,
                    hold_until,
                },
                now,
            )
            .map_err(booking_error)?;
        let label = lot
            .inventory
            .spot(booked.spot_id)
            .map(|s| s.label.clone())
            .unwrap_or_default();
        let reservation = Reservation {
            id,
            lot_id: request.lot_id,
            spot_id: booked.spot_id,
            user_id: actor.user_id,
            interval: request.interval,
            status: if hold {
                ReservationStatus::Held
            } else {
                ReservationStatus::Confirmed
            },
            hold_expires_at: hold_until,
            total: quote.total,
            created_at: now,
        };
        (reservation, label, quote)
    };
    let view = BookingView {
        reservation: reservation.clone(),
        spot_label,
        quote: Some(quote.clone()),
        payment: None,
    };
    if prepaid {
        return create_prepaid(state, view, quote, idempotency, now, render).await;
    }
    let idempotency = match idempotency {
        Some(key) => match render(&view) {
            Ok(body) => Some(IdempotencyRecord {
                user_id: actor.user_id,
                key: key.key,
                request_hash: key.request_hash,
                status: 201,
                response_json: body,
                created_at: now,
            }),
            Err(e) => {
                undo_booking(state, reservation.lot_id, id);
                return Err(e);
            }
        },
        None => None,
    };
    let event = booked_event(&reservation);
    if let Err(e) = state
        .store
        .insert_reservation(reservation.clone(), Some(quote), event, idempotency)
        .await
    {
        undo_booking(state, reservation.lot_id, id);
        return Err(commit_error(e));
    }
    metrics::counter!("parkd_bookings_total").increment(1);
    Ok(view)
}

/// A prepaid booking: the hold and its `pending` payment commit first, then
/// Stripe is asked for the intent (see `service::payments`).
async fn create_prepaid(
    state: &AppState,
    view: BookingView,
    quote: Quote,
    idempotency: Option<IdempotencyKey>,
    now: DateTime<Utc>,
    render: impl FnOnce(&BookingView) -> Result<String, ApiError>,
) -> Result<BookingView, ApiError> {
    let reservation = view.reservation.clone();
    let payment = payments::new_payment(
        &reservation,
        PaymentPurpose::Booking,
        reservation.total,
        "",
        now,
    );
    let event = booked_event(&reservation);
    if let Err(e) = state
        .store
        .insert_reservation_with_payment(reservation.clone(), Some(quote), event, payment.clone())
        .await
    {
        undo_booking(state, reservation.lot_id, reservation.id);
        return Err(commit_error(e));
    }
    metrics::counter!("parkd_bookings_total").increment(1);
    payments::start_booking_payment(state, view, payment, idempotency.map(|k| (k, now)), render)
        .await
}

fn undo_booking(state: &AppState, lot: LotId, id: ReservationId) {
    if let Ok(state) = state.engine.write().lot_mut(lot)
        && let Err(e) = state.inventory.release(id)
    {
        warn!(reservation = %id, error = %e, "undoing a failed booking found nothing to undo");
    }
}

pub(crate) fn booked_event(r: &Reservation) -> DomainEvent {
    DomainEvent::ParkingSpotBooked {
        reservation_id: r.id,
        lot_id: r.lot_id,
        spot_id: r.spot_id,
        user_id: r.user_id,
        interval: r.interval,
        status: r.status,
        total: r.total,
    }
}

/// Loads a reservation the caller may see; anything else is a 404 (never reveal
/// that it exists).
pub async fn visible(
    state: &AppState,
    actor: &Actor,
    id: ReservationId,
) -> Result<ReservationRecord, ApiError> {
    let record = state
        .store
        .reservation(id)
        .await?
        .ok_or(ApiError::NotFound("reservation"))?;
    if can_see(actor, record.reservation.user_id, record.tenant_id) {
        Ok(record)
    } else {
        Err(ApiError::NotFound("reservation"))
    }
}

fn can_see(actor: &Actor, owner: parking_core::model::UserId, tenant: TenantId) -> bool {
    actor.is_admin()
        || owner == actor.user_id
        || (actor.is_operator() && actor.tenant_id == Some(tenant))
}

fn view_of(record: ReservationRecord) -> BookingView {
    let quote = record
        .quote_json
        .as_deref()
        .and_then(|q| serde_json::from_str(q).ok());
    BookingView {
        reservation: record.reservation,
        spot_label: record.spot_label,
        quote,
        payment: None,
    }
}

/// A reservation the caller may see, for display.
pub async fn show(
    state: &AppState,
    actor: &Actor,
    id: ReservationId,
) -> Result<BookingView, ApiError> {
    visible(state, actor, id).await.map(view_of)
}

/// held → confirmed.
pub async fn confirm(
    state: &AppState,
    actor: &Actor,
    id: ReservationId,
) -> Result<BookingView, ApiError> {
    let record = visible(state, actor, id).await?;
    if state.payments.is_prepaid(record.reservation.lot_id)
        && record.reservation.status == ReservationStatus::Held
    {
        return Err(ApiError::conflict(
            "this booking is confirmed by its payment: pay with the client secret or POST /reservations/{id}/pay",
        ));
    }
    let mut r = record.reservation.clone();
    let now = Utc::now();
    r.confirm(now).map_err(lifecycle_error)?;
    state
        .store
        .update_reservation(
            r.clone(),
            ReservationStatus::Held,
            None,
            vec![booked_event(&r)],
        )
        .await?;
    confirm_in_memory(state, &r, now);
    Ok(BookingView {
        reservation: r,
        ..view_of(record)
    })
}

/// Confirms a committed booking in memory. The sweeper may have dropped the
/// hold from memory a moment before the commit: the (now confirmed) booking is
/// put back.
pub(crate) fn confirm_in_memory(state: &AppState, r: &Reservation, now: DateTime<Utc>) {
    let mut city = state.engine.write();
    if let Ok(lot) = city.lot_mut(r.lot_id)
        && lot.inventory.confirm(r.id).is_err()
        && let Err(e) = lot.inventory.restore(r, now)
    {
        warn!(reservation = %r.id, error = %e, "confirmed booking could not be restored in memory");
    }
}

/// confirmed → checked in.
pub async fn check_in(
    state: &AppState,
    actor: &Actor,
    id: ReservationId,
) -> Result<BookingView, ApiError> {
    let record = visible(state, actor, id).await?;
    let mut r = record.reservation.clone();
    r.check_in().map_err(lifecycle_error)?;
    let event = DomainEvent::ReservationCheckedIn {
        reservation_id: r.id,
        lot_id: r.lot_id,
        spot_id: r.spot_id,
        user_id: r.user_id,
    };
    state
        .store
        .update_reservation(r.clone(), ReservationStatus::Confirmed, None, vec![event])
        .await?;
    Ok(BookingView {
        reservation: r,
        ..view_of(record)
    })
}

/// checked in → completed; frees the spot.
pub async fn check_out(
    state: &AppState,
    actor: &Actor,
    id: ReservationId,
) -> Result<BookingView, ApiError> {
    let record = visible(state, actor, id).await?;
    let mut r = record.reservation.clone();
    r.check_out().map_err(lifecycle_error)?;
    let event = released(&r, ReleaseReason::Completed);
    state
        .store
        .update_reservation(r.clone(), ReservationStatus::CheckedIn, None, vec![event])
        .await?;
    free_in_memory(state, r.lot_id, id);
    Ok(BookingView {
        reservation: r,
        ..view_of(record)
    })
}

/// held or confirmed → cancelled, with the refund the lot's policy allows.
pub async fn cancel(
    state: &AppState,
    actor: &Actor,
    id: ReservationId,
) -> Result<(BookingView, Money), ApiError> {
    let record = visible(state, actor, id).await?;
    let before = record.reservation.status;
    let mut r = record.reservation.clone();
    let now = Utc::now();
    r.cancel().map_err(lifecycle_error)?;
    let policy = {
        let city = state.engine.read();
        city.lot(r.lot_id)
            .map(|l| l.lot.rules.cancellation)
            .unwrap_or_default()
    };
    let refund = match before {
        // A hold was never paid for.
        ReservationStatus::Held => Money::zero(r.total.currency),
        _ => policy.refund(r.total, r.interval.start(), now),
    };
    let events = |refund: Money| {
        vec![
            DomainEvent::ReservationCancelled {
                reservation_id: r.id,
                lot_id: r.lot_id,
                spot_id: r.spot_id,
                refund,
            },
            released(&r, ReleaseReason::Cancelled),
        ]
    };
    let refund = if state.payments.is_prepaid(r.lot_id) {
        // What was paid is refunded by the policy (never more than was paid),
        // through Stripe, before the cancellation commits with the refund.
        payments::cancel_paid(state, before, &r, refund, events).await?
    } else {
        state
            .store
            .update_reservation(r.clone(), before, None, events(refund))
            .await?;
        refund
    };
    free_in_memory(state, r.lot_id, id);
    Ok((
        BookingView {
            reservation: r,
            ..view_of(record)
        },
        refund,
    ))
}

/// Changes a booking's times: re-checked against the rules and the other
/// bookings, and re-priced.
pub async fn reschedule(
    state: &AppState,
    actor: &Actor,
    id: ReservationId,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    expected_total: Option<Money>,
) -> Result<BookingView, ApiError> {
    let record = visible(state, actor, id).await?;
    let old = record.reservation.clone();
    if !matches!(
        old.status,
        ReservationStatus::Held | ReservationStatus::Confirmed | ReservationStatus::CheckedIn
    ) {
        return Err(ApiError::conflict(format!(
            "a {} reservation cannot be changed",
            old.status
        )));
    }
    let interval = Interval::new(
        start.unwrap_or(old.interval.start()),
        end.unwrap_or(old.interval.end()),
    )
    .map_err(|e| ApiError::field("end_time", e.to_string()))?;
    if old.status == ReservationStatus::CheckedIn && interval.start() != old.interval.start() {
        return Err(ApiError::conflict(
            "a checked-in booking can only change its end",
        ));
    }
    let now = Utc::now();
    let quote = {
        let mut city = state.engine.write();
        let lot = city
            .lot_mut(old.lot_id)
            .map_err(|_| ApiError::NotFound("lot"))?;
        let kind = lot
            .inventory
            .spot(old.spot_id)
            .map(|s| s.kind)
            .unwrap_or(SpotKind::Regular);
        let quote = agreed_price(lot, kind, &interval, now, expected_total)?;
        lot.inventory
            .reschedule(id, interval, now)
            .map_err(booking_error)?;
        quote
    };
    let mut r = old.clone();
    r.interval = interval;
    r.total = quote.total;
    let events = vec![booked_event(&r)];
    let payment = match payments::commit_reschedule(state, &old, &r, quote.clone(), events).await {
        Ok(payment) => payment,
        Err(e) => {
            undo_reschedule(state, &old, now);
            return Err(e);
        }
    };
    Ok(BookingView {
        reservation: r,
        spot_label: record.spot_label,
        quote: Some(quote),
        payment,
    })
}

/// Puts a booking whose change failed to commit back at its old times in memory.
fn undo_reschedule(state: &AppState, old: &Reservation, now: DateTime<Utc>) {
    let id = old.id;
    {
        let mut city = state.engine.write();
        if let Ok(lot) = city.lot_mut(old.lot_id)
            && let Err(undo) = lot.inventory.reschedule(id, old.interval, now)
        {
            // Its old times were taken meanwhile; the database still holds them and
            // its no-overlap rule keeps refusing double bookings.
            warn!(reservation = %id, error = %undo, "could not restore the old times in memory");
        }
    }
}

pub(crate) fn released(r: &Reservation, reason: ReleaseReason) -> DomainEvent {
    DomainEvent::ParkingSpotReleased {
        reservation_id: r.id,
        lot_id: r.lot_id,
        spot_id: r.spot_id,
        reason,
    }
}

pub(crate) fn free_in_memory(state: &AppState, lot: LotId, id: ReservationId) {
    if let Ok(lot) = state.engine.write().lot_mut(lot) {
        // Already gone (swept or pruned) is fine: the goal is that it is free.
        let _ = lot.inventory.release(id);
    }
}

/// Expires holds whose time has come and marks confirmed bookings not checked in
/// within their lot's grace period as no-shows: in the database first (a booking
/// confirmed or checked in meanwhile is left alone, since each update expects the
/// status it saw), then frees the spots in memory. Returns how many changed.
pub async fn sweep(state: &AppState, now: DateTime<Utc>) -> Result<usize, ApiError> {
    let mut changed = 0;
    for mut r in state.store.due_holds(now, 500).await? {
        if r.expire(now).is_err() {
            continue;
        }
        let event = released(&r, ReleaseReason::Expired);
        match state
            .store
            .update_reservation(r.clone(), ReservationStatus::Held, None, vec![event])
            .await
        {
            Ok(()) => {
                free_in_memory(state, r.lot_id, r.id);
                if state.payments.is_prepaid(r.lot_id) {
                    payments::after_hold_expired(state, &r).await;
                }
                changed += 1;
            }
            Err(StoreError::Conflict(_)) => {} // confirmed meanwhile
            Err(e) => return Err(e.into()),
        }
    }
    for mut r in state.store.no_show_candidates(now, 500).await? {
        if r.mark_no_show().is_err() {
            continue;
        }
        let event = released(&r, ReleaseReason::NoShow);
        match state
            .store
            .update_reservation(r.clone(), ReservationStatus::Confirmed, None, vec![event])
            .await
        {
            Ok(()) => {
                free_in_memory(state, r.lot_id, r.id);
                changed += 1;
            }
            Err(StoreError::Conflict(_)) => {} // checked in meanwhile
            Err(e) => return Err(e.into()),
        }
    }
    // Holds that expired in memory but were already settled in the database.
    let mut city = state.engine.write();
    let ids: Vec<LotId> = city.lots().map(|l| l.lot.id).collect();
    for lot in ids {
        if let Ok(lot) = city.lot_mut(lot) {
            lot.inventory.expire_holds(now);
        }
    }
    Ok(changed)
}
