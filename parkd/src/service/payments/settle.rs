//! Settling a payment (a webhook or `pay`): one transaction moves the payment
//! and the reservation and writes `PaymentProcessed`; and the webhook itself.

use chrono::Utc;
use parking_api::payments::WebhookAck;
use parking_core::events::{DomainEvent, ReleaseReason};
use parking_core::model::{Money, PaymentId, Reservation, ReservationStatus};
use tracing::{info, instrument};
use uuid::Uuid;

use super::refunds::stripe_refund;
use super::{ATTEMPTS, load_payment, lost_race};
use crate::error::ApiError;
use crate::payments::gateway::Intent;
use crate::payments::webhook::{self, Notice, Rejection};
use crate::service::booking;
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::payments::{
    ChangeOutcome, PaymentChange, PaymentPurpose, PaymentRecord, PaymentStatus, RefundRecord,
    ReservationChange,
};

fn processed_event(p: &PaymentRecord) -> DomainEvent {
    DomainEvent::PaymentProcessed {
        payment_id: p.id,
        reservation_id: p.reservation_id,
        lot_id: p.lot_id,
        amount: p.amount,
    }
}

/// Applies `change`, mapping a lost race to `Ok(None)` so the caller re-reads
/// and tries again.
async fn try_apply(
    state: &AppState,
    change: PaymentChange,
) -> Result<Option<ChangeOutcome>, ApiError> {
    match state.store.apply_payment_change(change).await {
        Ok(outcome) => Ok(Some(outcome)),
        Err(StoreError::Conflict(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The payment succeeded at Stripe: the payment becomes `succeeded` and, for a
/// booking held for it, the booking `confirmed`, with `PaymentProcessed`, in one
/// transaction. A booking that is gone (expired, cancelled) by then gets its
/// money back in full.
pub async fn settle_success(
    state: &AppState,
    payment_id: PaymentId,
    intent_id: &str,
    webhook: Option<(String, String)>,
) -> Result<ChangeOutcome, ApiError> {
    for _ in 0..ATTEMPTS {
        let now = Utc::now();
        let payment = load_payment(state, payment_id).await?;
        let record = state
            .store
            .reservation(payment.reservation_id)
            .await?
            .ok_or(ApiError::NotFound("reservation"))?;
        let mut change = PaymentChange {
            webhook_event: webhook.clone(),
            ..PaymentChange::default()
        };
        let newly_paid = !payment.status.was_paid();
        if newly_paid {
            let mut paid = payment.clone();
            paid.status = PaymentStatus::Succeeded;
            paid.intent_id = Some(intent_id.to_owned());
            paid.failure_reason = None;
            paid.updated_at = now;
            change.updates.push((paid.clone(), payment.status));
            change.events.push(processed_event(&paid));
        }
        let r = record.reservation.clone();
        let mut confirmed = None;
        let mut gone = false;
        match r.status {
            ReservationStatus::Held => {
                let mut c = r.clone();
                // Paid is paid: a hold whose time ran out a moment ago but that
                // nobody swept yet is confirmed if its spot is still free (the
                // database's no-overlap rule decides).
                c.hold_expires_at = None;
                if c.confirm(now).is_ok() {
                    change.events.insert(0, booking::booked_event(&c));
                    change.reservation = Some(ReservationChange {
                        reservation: c.clone(),
                        expected: ReservationStatus::Held,
                        quote: None,
                    });
                    confirmed = Some(c);
                }
            }
            ReservationStatus::Confirmed
            | ReservationStatus::CheckedIn
            | ReservationStatus::Completed => {}
            ReservationStatus::Cancelled | ReservationStatus::Expired => gone = newly_paid,
            ReservationStatus::NoShow => {}
        }
        if gone {
            // Money came in for a booking that no longer exists: it goes back
            // first (idempotent at Stripe), and the webhook counts as processed
            // only together with the refund's record.
            if let Some((paid, _)) = change.updates.first().cloned() {
                let back =
                    stripe_refund(state, &paid, paid.amount.amount, "booking_gone", "").await?;
                if let Some((refunded, refund)) = back {
                    change.updates[0].0 = refunded;
                    change.refunds.push(refund);
                }
            }
        }
        let outcome = match state.store.apply_payment_change(change).await {
            Ok(outcome) => outcome,
            Err(StoreError::Conflict(why)) if why == "reservation_overlap" => {
                // The lapsed hold's spot was taken: the booking is gone.
                expire_hold(state, &r).await?;
                continue;
            }
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        };
        if outcome == ChangeOutcome::Applied
            && let Some(c) = &confirmed
        {
            booking::confirm_in_memory(state, c, now);
            info!(reservation = %c.id, payment = %payment_id, "paid and confirmed");
        }
        return Ok(outcome);
    }
    Err(lost_race())
}

/// A lapsed hold whose spot another booking took: expired for good.
async fn expire_hold(state: &AppState, r: &Reservation) -> Result<(), ApiError> {
    let mut e = r.clone();
    e.status = ReservationStatus::Expired;
    e.hold_expires_at = None;
    let event = booking::released(&e, ReleaseReason::Expired);
    match state
        .store
        .update_reservation(e, ReservationStatus::Held, None, vec![event])
        .await
    {
        Ok(()) | Err(StoreError::Conflict(_)) => {
            booking::free_in_memory(state, r.lot_id, r.id);
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// The payment failed or was cancelled: a pending payment becomes `failed` and
/// the booking held for it is released (cancelled, nothing to refund).
pub async fn settle_failure(
    state: &AppState,
    payment_id: PaymentId,
    why: &str,
    webhook: Option<(String, String)>,
) -> Result<ChangeOutcome, ApiError> {
    for _ in 0..ATTEMPTS {
        let now = Utc::now();
        let payment = load_payment(state, payment_id).await?;
        let mut change = PaymentChange {
            webhook_event: webhook.clone(),
            ..PaymentChange::default()
        };
        if payment.status != PaymentStatus::Pending {
            // Paid already (a late failure of an earlier attempt) or failed
            // already: nothing to change, but the event counts as processed.
            return try_apply(state, change).await?.ok_or_else(lost_race);
        }
        let mut failed = payment.clone();
        failed.status = PaymentStatus::Failed;
        failed.failure_reason = Some(why.chars().take(500).collect());
        failed.updated_at = now;
        change.updates.push((failed, PaymentStatus::Pending));
        let record = state.store.reservation(payment.reservation_id).await?;
        let mut released = None;
        if let Some(record) = record
            && payment.purpose == PaymentPurpose::Booking
            && record.reservation.status == ReservationStatus::Held
        {
            let mut r = record.reservation.clone();
            r.cancel().map_err(|e| ApiError::Internal(e.to_string()))?;
            change.events.push(DomainEvent::ReservationCancelled {
                reservation_id: r.id,
                lot_id: r.lot_id,
                spot_id: r.spot_id,
                refund: Money::zero(r.total.currency),
            });
            change
                .events
                .push(booking::released(&r, ReleaseReason::Cancelled));
            change.reservation = Some(ReservationChange {
                reservation: r.clone(),
                expected: ReservationStatus::Held,
                quote: None,
            });
            released = Some(r);
        }
        if let Some(outcome) = try_apply(state, change).await? {
            if let (ChangeOutcome::Applied, Some(r)) = (outcome, &released) {
                booking::free_in_memory(state, r.lot_id, r.id);
                info!(reservation = %r.id, payment = %payment_id, "payment failed; hold released");
            }
            return Ok(outcome);
        }
    }
    Err(lost_race())
}

/// Keeps the payment in step with Stripe's refunded total (`charge.refunded`),
/// recording a refund made outside parkd.
async fn sync_refunds(
    state: &AppState,
    payment_id: PaymentId,
    amount_refunded: i64,
    webhook: Option<(String, String)>,
) -> Result<ChangeOutcome, ApiError> {
    for _ in 0..ATTEMPTS {
        let now = Utc::now();
        let payment = load_payment(state, payment_id).await?;
        let mut change = PaymentChange {
            webhook_event: webhook.clone(),
            ..PaymentChange::default()
        };
        let total = amount_refunded.min(payment.amount.amount);
        if payment.status.was_paid() && total > payment.refunded {
            let mut p = payment.clone();
            p.refunded = total;
            p.status = p.status_after_refunds(total);
            p.updated_at = now;
            change.refunds.push(RefundRecord {
                id: Uuid::new_v4(),
                payment_id,
                stripe_refund_id: None,
                amount: Money::new(total - payment.refunded, payment.amount.currency),
                reason: "stripe".into(),
                created_at: now,
            });
            change.updates.push((p, payment.status));
        }
        if let Some(outcome) = try_apply(state, change).await? {
            return Ok(outcome);
        }
    }
    Err(lost_race())
}

// --- the webhook -------------------------------------------------------------------

/// Verifies and acts on one webhook delivery. A bad signature is a 400 and
/// changes nothing; an event id seen before is acknowledged and ignored.
#[instrument(skip_all)]
pub async fn handle_webhook(
    state: &AppState,
    payload: &str,
    signature: Option<&str>,
) -> Result<WebhookAck, ApiError> {
    let secret = state
        .payments
        .webhook_secret
        .as_ref()
        .ok_or(ApiError::NotFound(
            "webhook endpoint (payments are not configured)",
        ))?;
    let signature =
        signature.ok_or_else(|| ApiError::BadRequest(Rejection::BadSignature.to_string()))?;
    let event = webhook::verify(payload, signature, secret.expose(), Utc::now().timestamp())
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let tag = Some((event.id.clone(), event.kind.clone()));
    let outcome = match &event.notice {
        Notice::IntentSucceeded(intent) => match payment_of(state, intent).await? {
            Some(id) => settle_success(state, id, &intent.id, tag).await?,
            None => unknown_intent(&event.kind, &intent.id),
        },
        Notice::IntentFailed(intent) | Notice::IntentCanceled(intent) => {
            match payment_of(state, intent).await? {
                Some(id) => {
                    let why = intent
                        .last_error
                        .clone()
                        .unwrap_or_else(|| event.kind.clone());
                    settle_failure(state, id, &why, tag).await?
                }
                None => unknown_intent(&event.kind, &intent.id),
            }
        }
        Notice::ChargeRefunded {
            intent_id,
            amount_refunded,
        } => match state.store.payment_by_intent(intent_id.clone()).await? {
            Some(view) => sync_refunds(state, view.payment.id, *amount_refunded, tag).await?,
            None => unknown_intent(&event.kind, intent_id),
        },
        Notice::Other => ChangeOutcome::Applied,
    };
    Ok(WebhookAck {
        received: true,
        duplicate: outcome == ChangeOutcome::Duplicate,
    })
}

fn unknown_intent(kind: &str, intent: &str) -> ChangeOutcome {
    // Not one of ours (another integration on the same account): acknowledge.
    info!(
        kind,
        intent, "webhook for an intent parkd did not create; ignored"
    );
    ChangeOutcome::Applied
}

/// The payment an intent belongs to: by its recorded id, or (a webhook that
/// overtook the booking's answer) by the `payment_id` parkd put in its metadata.
async fn payment_of(state: &AppState, intent: &Intent) -> Result<Option<PaymentId>, ApiError> {
    if let Some(view) = state.store.payment_by_intent(intent.id.clone()).await? {
        return Ok(Some(view.payment.id));
    }
    let Some(id) = intent
        .metadata
        .get("payment_id")
        .and_then(|s| Uuid::parse_str(s).ok())
        .map(PaymentId::from_uuid)
    else {
        return Ok(None);
    };
    let Some(view) = state.store.payment(id).await? else {
        return Ok(None);
    };
    match &view.payment.intent_id {
        Some(known) if known != &intent.id => Ok(None),
        _ => Ok(Some(id)),
    }
}
