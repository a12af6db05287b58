//! Starting a payment: the `pending` payment of a new booking (or an
//! extension), its Stripe intent, and `pay` with a saved payment method.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use parking_core::model::{Money, PaymentId, Reservation, ReservationId, ReservationStatus};
use tracing::{instrument, warn};

use super::{gateway_error, latest, settle_failure, settle_success};
use crate::api::extract::Actor;
use crate::error::ApiError;
use crate::payments::gateway::{GatewayError, Intent, IntentState};
use crate::service::booking::{self, BookingView};
use crate::state::AppState;
use crate::store::interface::IdempotencyRecord;
use crate::store::payments::{PaymentPurpose, PaymentRecord, PaymentStatus};

/// Refuses an amount Stripe cannot charge (before anything is written).
pub fn check_chargeable(amount: Money) -> Result<(), ApiError> {
    crate::payments::gateway::stripe_amount(amount)
        .map(|_| ())
        .map_err(|e| ApiError::Unprocessable(e.to_string()))
}

/// A new `pending` payment of `amount` for `r`, with the Stripe idempotency key
/// that makes its intent unique: the reservation's id for the booking itself,
/// the reservation and `tag` for an extension.
pub fn new_payment(
    r: &Reservation,
    purpose: PaymentPurpose,
    amount: Money,
    tag: &str,
    now: DateTime<Utc>,
) -> PaymentRecord {
    let key = match purpose {
        PaymentPurpose::Booking => format!("parkd-booking-{}", r.id),
        PaymentPurpose::Extension => format!("parkd-extension-{}-{tag}", r.id),
    };
    PaymentRecord {
        id: PaymentId::new(),
        reservation_id: r.id,
        lot_id: r.lot_id,
        user_id: r.user_id,
        purpose,
        amount,
        refunded: 0,
        status: PaymentStatus::Pending,
        stripe_idempotency_key: key,
        intent_id: None,
        client_secret: None,
        failure_reason: None,
        created_at: now,
        updated_at: now,
    }
}

pub(super) async fn open_intent(
    state: &AppState,
    payment: &PaymentRecord,
) -> Result<Intent, GatewayError> {
    let gateway = state
        .payments
        .gateway
        .as_ref()
        .ok_or_else(|| GatewayError::Unavailable("Stripe is not configured".into()))?;
    let metadata = HashMap::from([
        ("payment_id".to_owned(), payment.id.to_string()),
        (
            "reservation_id".to_owned(),
            payment.reservation_id.to_string(),
        ),
        ("lot_id".to_owned(), payment.lot_id.to_string()),
    ]);
    gateway
        .create_intent(payment.amount, metadata, &payment.stripe_idempotency_key)
        .await
}

/// Second half of a prepaid booking, after its hold and `pending` payment were
/// committed: asks Stripe for the intent and records it with the idempotent
/// answer (`render`). If Stripe fails, the hold is released and the payment
/// marked failed, and the answer is a 503 saying payment is unavailable.
#[instrument(skip_all, fields(reservation = %view.reservation.id))]
pub async fn start_booking_payment(
    state: &AppState,
    mut view: BookingView,
    payment: PaymentRecord,
    idempotency: Option<(crate::service::booking::IdempotencyKey, DateTime<Utc>)>,
    render: impl FnOnce(&BookingView) -> Result<String, ApiError>,
) -> Result<BookingView, ApiError> {
    let intent = match open_intent(state, &payment).await {
        Ok(intent) => intent,
        Err(e) => {
            warn!(error = %e, "no payment intent; releasing the hold");
            release_after_failure(state, &payment, &e.to_string()).await;
            return Err(gateway_error(e));
        }
    };
    let mut recorded = payment.clone();
    recorded.intent_id = Some(intent.id.clone());
    recorded.client_secret = intent.client_secret.clone();
    // A webhook may already have settled it: show what is stored.
    let stored = state
        .store
        .payments_of(view.reservation.id)
        .await?
        .into_iter()
        .find(|p| p.id == payment.id);
    if let Some(stored) = stored {
        recorded.status = stored.status;
        recorded.refunded = stored.refunded;
    }
    if let Some(record) = state.store.reservation(view.reservation.id).await? {
        view.reservation = record.reservation;
    }
    view.payment = Some(recorded);
    let idempotency = match idempotency {
        Some((key, at)) => Some(IdempotencyRecord {
            user_id: view.reservation.user_id,
            key: key.key,
            request_hash: key.request_hash,
            status: 201,
            response_json: render(&view)?,
            created_at: at,
        }),
        None => None,
    };
    state
        .store
        .attach_intent(payment.id, intent.id, intent.client_secret, idempotency)
        .await?;
    Ok(view)
}

/// Marks a pending payment failed and releases its booking's hold (after a
/// failed Stripe call: nothing was taken).
async fn release_after_failure(state: &AppState, payment: &PaymentRecord, why: &str) {
    if let Err(e) = settle_failure(state, payment.id, why, None).await {
        warn!(payment = %payment.id, error = %e, "could not release the hold after a failed payment");
    }
}

// --- pay -------------------------------------------------------------------------

/// Confirms a held booking's payment with a saved payment method (operators'
/// desks, tests). A declined card releases the hold and answers 422.
#[instrument(skip_all, fields(reservation = %id))]
pub async fn pay(
    state: &AppState,
    actor: &Actor,
    id: ReservationId,
    payment_method: &str,
) -> Result<BookingView, ApiError> {
    let record = booking::visible(state, actor, id).await?;
    let gateway = state.payments.gateway()?;
    let payment = state
        .store
        .payments_of(id)
        .await?
        .into_iter()
        .rev()
        .find(|p| p.status == PaymentStatus::Pending)
        .ok_or_else(|| ApiError::conflict("this reservation has no payment waiting"))?;
    if record.reservation.status == ReservationStatus::Held
        && record
            .reservation
            .hold_expires_at
            .is_some_and(|t| t <= Utc::now())
    {
        return Err(ApiError::conflict("the hold has expired"));
    }
    let intent_id = payment.intent_id.clone().ok_or_else(|| {
        ApiError::PaymentUnavailable("the payment intent is not ready yet".into())
    })?;
    // The payer's app may have paid already and its webhook not arrived yet:
    // then there is nothing to confirm, only to record.
    let current = gateway
        .retrieve_intent(&intent_id)
        .await
        .map_err(gateway_error)?;
    let paid = if current.state == IntentState::Succeeded {
        current
    } else {
        match gateway.confirm_intent(&intent_id, payment_method).await {
            Ok(intent) if intent.state == IntentState::Succeeded => intent,
            Ok(intent) => {
                return Err(ApiError::conflict(format!(
                    "the payment needs more steps from the payer ({:?}); use the client secret",
                    intent.state
                )));
            }
            Err(GatewayError::Declined(why)) => {
                settle_failure(state, payment.id, &why, None).await?;
                return Err(ApiError::Unprocessable(format!(
                    "the card was declined: {why}; the hold was released"
                )));
            }
            Err(e) => return Err(gateway_error(e)),
        }
    };
    settle_success(state, payment.id, &paid.id, None).await?;
    let mut view = booking::show(state, actor, id).await?;
    view.payment = latest(state, id).await?;
    Ok(view)
}
