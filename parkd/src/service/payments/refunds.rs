//! Refunds: by the cancellation policy, for shortened bookings (and extra
//! charges for extended ones), and the operators' refunds. Stripe first, then
//! the records in one transaction.

use chrono::Utc;
use parking_api::payments::RefundResponse;
use parking_core::events::DomainEvent;
use parking_core::model::{Currency, Money, PaymentId, Reservation, ReservationStatus};
use parking_core::pricing::Quote;
use tracing::{instrument, warn};
use uuid::Uuid;

use super::intents::open_intent;
use super::reading::refund_dto;
use super::{
    ATTEMPTS, check_chargeable, gateway_error, load_payment, lost_race, new_payment, payment_dto,
    settle_failure,
};
use crate::api::extract::Actor;
use crate::error::ApiError;
use crate::service::booking;
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::payments::{
    PaymentChange, PaymentPurpose, PaymentRecord, PaymentStatus, RefundRecord, ReservationChange,
};

/// Commits refunds Stripe has made, with what goes with them. A concurrent
/// change of a refunded payment is reconciled rather than failed: when a
/// `charge.refunded` webhook overtook this commit and already counted the
/// refund, the payment is left as it is; otherwise the refund is added to what
/// is stored now. The money has moved; the records must follow.
async fn commit_refunds(state: &AppState, mut change: PaymentChange) -> Result<(), ApiError> {
    for _ in 0..ATTEMPTS {
        match state.store.apply_payment_change(change.clone()).await {
            Ok(_) => return Ok(()),
            Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let mut updates = Vec::new();
        let mut refunds = Vec::new();
        for ((updated, _), refund) in change.updates.iter().zip(&change.refunds) {
            let now = load_payment(state, updated.id).await?;
            if now.refunded >= updated.refunded {
                continue; // counted already (by the webhook)
            }
            let mut next = now.clone();
            next.refunded = (now.refunded + refund.amount.amount).min(now.amount.amount);
            next.status = next.status_after_refunds(next.refunded);
            next.updated_at = Utc::now();
            updates.push((next, now.status));
            refunds.push(refund.clone());
        }
        change.updates = updates;
        change.refunds = refunds;
    }
    warn!("refunds made at Stripe could not be recorded with their change; retry");
    Err(lost_race())
}

/// Asks Stripe for a refund of up to `amount`; `None` when there is nothing to
/// refund. The Stripe key is derived from the payment, `reason` and `tag`, so
/// a retry refunds once.
pub(super) async fn stripe_refund(
    state: &AppState,
    payment: &PaymentRecord,
    amount: i64,
    reason: &str,
    tag: &str,
) -> Result<Option<(PaymentRecord, RefundRecord)>, ApiError> {
    let amount = amount.min(payment.refundable());
    if amount <= 0 {
        return Ok(None);
    }
    let intent = payment
        .intent_id
        .as_deref()
        .ok_or_else(|| ApiError::Internal("a paid payment without an intent".into()))?;
    let money = Money::new(amount, payment.amount.currency);
    let key = format!(
        "parkd-refund-{reason}-{}-{}{tag}",
        payment.id, payment.refunded
    );
    let refund = state
        .payments
        .gateway()?
        .refund(intent, money, reason, &key)
        .await
        .map_err(gateway_error)?;
    let now = Utc::now();
    let mut updated = payment.clone();
    updated.refunded = payment.refunded + refund.amount;
    updated.status = updated.status_after_refunds(updated.refunded);
    updated.updated_at = now;
    Ok(Some((
        updated,
        RefundRecord {
            id: Uuid::new_v4(),
            payment_id: payment.id,
            stripe_refund_id: Some(refund.id),
            amount: Money::new(refund.amount, payment.amount.currency),
            reason: reason.to_owned(),
            created_at: now,
        },
    )))
}

/// Refunds `amount` across a reservation's `payments` (as stored, oldest
/// first) newest first, and commits the refunds together with `reservation`
/// and `events` in one transaction. Returns what was refunded.
async fn refund_reservation(
    state: &AppState,
    payments: &[PaymentRecord],
    amount: Money,
    reason: &str,
    tag: &str,
    reservation_change: Option<ReservationChange>,
    events: Vec<DomainEvent>,
) -> Result<Money, ApiError> {
    let mut left = amount.amount;
    let mut change = PaymentChange {
        reservation: reservation_change,
        events,
        ..PaymentChange::default()
    };
    let mut refunded = 0;
    for payment in payments.iter().rev() {
        if left <= 0 {
            break;
        }
        if let Some((updated, refund)) = stripe_refund(state, payment, left, reason, tag).await? {
            left -= refund.amount.amount;
            refunded += refund.amount.amount;
            change.updates.push((updated, payment.status));
            change.refunds.push(refund);
        }
    }
    commit_refunds(state, change).await?;
    Ok(Money::new(refunded, amount.currency))
}

/// What a reservation's payments took, net of refunds.
fn net_paid(payments: &[PaymentRecord], currency: Currency) -> Money {
    let net = payments
        .iter()
        .filter(|p| p.status.was_paid())
        .map(|p| p.amount.amount - p.refunded)
        .sum();
    Money::new(net, currency)
}

/// Cancels a booking of a prepaid lot: refunds what the policy allows (bounded
/// by what was paid) through Stripe, then commits the cancellation, its events
/// and the refunds in one transaction. A held booking's open intent is
/// cancelled at Stripe afterwards. Returns the refund.
pub async fn cancel_paid(
    state: &AppState,
    before: ReservationStatus,
    cancelled: &Reservation,
    policy_refund: Money,
    events_for: impl Fn(Money) -> Vec<DomainEvent>,
) -> Result<Money, ApiError> {
    let payments = state.store.payments_of(cancelled.id).await?;
    if payments.is_empty() {
        // Booked before its lot became prepaid: settled on site, as before.
        state
            .store
            .update_reservation(cancelled.clone(), before, None, events_for(policy_refund))
            .await?;
        return Ok(policy_refund);
    }
    let net = net_paid(&payments, policy_refund.currency);
    let due = Money::new(policy_refund.amount.min(net.amount).max(0), net.currency);
    let change = ReservationChange {
        reservation: cancelled.clone(),
        expected: before,
        quote: None,
    };
    let refunded = refund_reservation(
        state,
        &payments,
        due,
        "cancellation",
        "",
        Some(change),
        events_for(due),
    )
    .await?;
    // Pending payments will never be completed: stop them at Stripe.
    for payment in state.store.payments_of(cancelled.id).await? {
        if payment.status == PaymentStatus::Pending {
            settle_failure(state, payment.id, "the booking was cancelled", None).await?;
            cancel_intent_quietly(state, &payment).await;
        }
    }
    Ok(refunded)
}

async fn cancel_intent_quietly(state: &AppState, payment: &PaymentRecord) {
    let (Some(gateway), Some(intent)) = (state.payments.gateway.as_ref(), &payment.intent_id)
    else {
        return;
    };
    if let Err(e) = gateway.cancel_intent(intent).await {
        // A later success is refunded in full when its webhook arrives.
        warn!(payment = %payment.id, error = %e, "could not cancel the payment intent");
    }
}

/// After the sweep expired a prepaid hold: its pending payments fail and their
/// intents are cancelled at Stripe.
pub async fn after_hold_expired(state: &AppState, r: &Reservation) {
    let payments = match state.store.payments_of(r.id).await {
        Ok(p) => p,
        Err(e) => {
            warn!(reservation = %r.id, error = %e, "cannot read the expired hold's payments");
            return;
        }
    };
    for mut payment in payments {
        if payment.status == PaymentStatus::Pending {
            if let Err(e) = settle_failure(state, payment.id, "the hold expired", None).await {
                warn!(payment = %payment.id, error = %e, "could not fail the expired hold's payment");
            }
            if payment.intent_id.is_none() {
                // parkd stopped between asking Stripe and recording the answer:
                // the same idempotency key finds the intent again.
                payment.intent_id = open_intent(state, &payment).await.ok().map(|i| i.id);
            }
            cancel_intent_quietly(state, &payment).await;
        }
    }
}

/// What changing a paid booking's times costs: the new total minus the old one.
/// Commits the change (`commit` with the extra records) only once the money is
/// settled at Stripe: an extension gets a new intent for the difference (the
/// answer carries it for the payer to confirm); a shortening refunds it.
/// Unpaid and on-site bookings just commit.
pub async fn commit_reschedule(
    state: &AppState,
    old: &Reservation,
    new: &Reservation,
    quote: Quote,
    events: Vec<DomainEvent>,
) -> Result<Option<PaymentRecord>, ApiError> {
    let plain = || async {
        state
            .store
            .update_reservation(new.clone(), old.status, Some(quote.clone()), events.clone())
            .await
            .map_err(booking::commit_error)
    };
    // Bookings of on-site lots, and those made before their lot became
    // prepaid, have no payments to keep in step.
    let payments = if state.payments.is_prepaid(old.lot_id) {
        state.store.payments_of(old.id).await?
    } else {
        Vec::new()
    };
    if payments.is_empty() {
        plain().await?;
        return Ok(None);
    }
    let net = net_paid(&payments, old.total.currency);
    if old.status == ReservationStatus::Held || net.amount <= 0 {
        return Err(ApiError::conflict(
            "pay for the booking before changing its times",
        ));
    }
    let diff = new
        .total
        .checked_sub(old.total)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let change = ReservationChange {
        reservation: new.clone(),
        expected: old.status,
        quote: Some(quote.clone()),
    };
    let tag = format!("{}-{}", new.interval.end().timestamp(), new.total.amount);
    if diff.amount > 0 {
        check_chargeable(diff)?;
        let mut payment = new_payment(new, PaymentPurpose::Extension, diff, &tag, Utc::now());
        let intent = open_intent(state, &payment).await.map_err(gateway_error)?;
        payment.intent_id = Some(intent.id.clone());
        payment.client_secret = intent.client_secret.clone();
        let result = state
            .store
            .apply_payment_change(PaymentChange {
                insert: Some(payment.clone()),
                reservation: Some(change),
                events,
                ..PaymentChange::default()
            })
            .await;
        if let Err(e) = result {
            cancel_intent_quietly(state, &payment).await;
            return Err(booking::commit_error(e));
        }
        Ok(Some(payment))
    } else if diff.amount < 0 {
        let back = Money::new(-diff.amount, diff.currency);
        refund_reservation(
            state,
            &payments,
            back,
            "shortened",
            &tag,
            Some(change),
            events,
        )
        .await?;
        Ok(None)
    } else {
        plain().await?;
        Ok(None)
    }
}

/// An operator refunds some or all of what is left of a payment.
#[instrument(skip_all, fields(payment = %id))]
pub async fn operator_refund(
    state: &AppState,
    actor: &Actor,
    id: PaymentId,
    amount: Option<i64>,
) -> Result<RefundResponse, ApiError> {
    actor.require_staff()?;
    let view = state
        .store
        .payment(id)
        .await?
        .filter(|v| actor.manages(v.tenant_id))
        .ok_or(ApiError::NotFound("payment"))?;
    let payment = view.payment;
    let left = payment.refundable();
    if left == 0 {
        return Err(ApiError::conflict(
            "nothing is left to refund on this payment",
        ));
    }
    let amount = amount.unwrap_or(left);
    if amount > left {
        return Err(ApiError::field(
            "amount",
            format!(
                "at most {} can be refunded",
                Money::new(left, payment.amount.currency)
            ),
        ));
    }
    let (updated, refund) = stripe_refund(state, &payment, amount, "operator", "")
        .await?
        .ok_or_else(|| ApiError::conflict("nothing is left to refund on this payment"))?;
    commit_refunds(
        state,
        PaymentChange {
            updates: vec![(updated, payment.status)],
            refunds: vec![refund.clone()],
            ..PaymentChange::default()
        },
    )
    .await?;
    let now = load_payment(state, id).await?;
    Ok(RefundResponse {
        payment: payment_dto(&now),
        refund: refund_dto(&refund),
    })
}
