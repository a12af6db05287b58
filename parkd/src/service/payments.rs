//! Online payments: which lots are prepaid, the PaymentIntent of a booking and
//! what settles it (webhooks, `POST /reservations/{id}/pay`), refunds by the
//! cancellation policy and for shortened bookings, extra charges for extended
//! ones, the operators' refunds, and revenue from payments.
//!
//! Order of work, so that a crash or an unreachable Stripe never leaves money
//! and bookings out of step:
//! - booking: the hold and a `pending` payment commit first; then Stripe is
//!   asked for an intent with an idempotency key derived from the reservation
//!   (a retry gets the same intent); then the intent is recorded. If Stripe
//!   fails, the hold is released and the answer is a 503.
//! - refunds: Stripe first (idempotency key derived from the payment and the
//!   reason), then the refund, the payment and the reservation change commit in
//!   one transaction. A retry after a crash replays the same refund.
//! - settling (webhook or `pay`): one transaction moves the payment, the
//!   reservation and writes `PaymentProcessed`. Each step checks the state it
//!   expects, so a webhook delivered twice, late, early, or racing the `pay`
//!   answer ends in the same state.
//!
//! No Stripe call runs inside a database transaction.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::RwLock;

use chrono::{DateTime, NaiveDate, Utc};
use parking_api::common::Page;
use parking_api::payments::{
    Payment, PaymentPurposeDto, PaymentStatusDto, PaymentsQuery, Refund, RefundResponse,
    ReservationPayment, WebhookAck,
};
use parking_core::events::{DomainEvent, ReleaseReason};
use parking_core::model::local_time::local_date;
use parking_core::model::{
    Currency, Interval, LotId, Money, PaymentId, Reservation, ReservationId, ReservationStatus,
};
use parking_core::pricing::Quote;
use tracing::{info, instrument, warn};
use uuid::Uuid;

use crate::api::extract::Actor;
use crate::config::{Secret, StripeConfig};
use crate::error::ApiError;
use crate::payments::gateway::{GatewayError, Intent, IntentState, StripeGateway};
use crate::payments::webhook::{self, Notice, Rejection};
use crate::service::booking::{self, BookingView};
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::interface::{IdempotencyRecord, PageRequest, Scope};
use crate::store::payments::{
    ChangeOutcome, PaymentChange, PaymentFilter, PaymentMode, PaymentPurpose, PaymentRecord,
    PaymentStatus, RefundRecord, ReservationChange,
};

/// How often a step re-reads and retries when a concurrent step (a webhook and
/// an API call on the same payment) changed the rows it expected.
const ATTEMPTS: usize = 4;

/// What refuses a prepaid lot without keys.
pub const NEEDS_STRIPE: &str = "prepaid lots need Stripe: set PARKD_STRIPE_SECRET_KEY and \
     PARKD_STRIPE_WEBHOOK_SECRET (or their _FILE variants) and restart parkd";

/// Payments' share of the application state: the Stripe client (when keys are
/// configured), the webhook secret, and the prepaid lots.
pub struct Payments {
    gateway: Option<StripeGateway>,
    webhook_secret: Option<Secret>,
    prepaid: RwLock<HashSet<LotId>>,
}

impl std::fmt::Debug for Payments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payments")
            .field("enabled", &self.gateway.is_some())
            .finish_non_exhaustive()
    }
}

impl Payments {
    /// Payments for the stored `prepaid` lots; refused when some lot is prepaid
    /// and Stripe is not configured (a clear message at start-up rather than a
    /// failure at the first booking).
    pub fn new(config: &StripeConfig, prepaid: Vec<LotId>) -> Result<Payments, String> {
        let gateway = StripeGateway::from_config(config).map_err(|e| e.to_string())?;
        if gateway.is_none()
            && let Some(lot) = prepaid.first()
        {
            return Err(format!(
                "lot {lot} is prepaid (and {} in all), but {NEEDS_STRIPE}",
                prepaid.len()
            ));
        }
        Ok(Payments {
            gateway,
            webhook_secret: config.webhook_secret.clone(),
            prepaid: RwLock::new(prepaid.into_iter().collect()),
        })
    }

    /// True when Stripe keys are configured.
    pub fn enabled(&self) -> bool {
        self.gateway.is_some()
    }

    /// The lot's payment mode.
    pub fn mode(&self, lot: LotId) -> PaymentMode {
        let prepaid = self.prepaid.read().unwrap_or_else(|p| p.into_inner());
        if prepaid.contains(&lot) {
            PaymentMode::Prepaid
        } else {
            PaymentMode::OnSite
        }
    }

    /// True for a prepaid lot.
    pub fn is_prepaid(&self, lot: LotId) -> bool {
        self.mode(lot) == PaymentMode::Prepaid
    }

    /// Replaces the prepaid lots known here with the stored ones: another
    /// instance sharing the database may have changed a lot's mode.
    pub fn replace_prepaid(&self, lots: Vec<LotId>) {
        *self.prepaid.write().unwrap_or_else(|p| p.into_inner()) = lots.into_iter().collect();
    }

    /// Records a lot's mode once the store holds it.
    pub(crate) fn remember(&self, lot: LotId, mode: PaymentMode) {
        let mut prepaid = self.prepaid.write().unwrap_or_else(|p| p.into_inner());
        match mode {
            PaymentMode::Prepaid => prepaid.insert(lot),
            PaymentMode::OnSite => prepaid.remove(&lot),
        };
    }

    fn gateway(&self) -> Result<&StripeGateway, ApiError> {
        self.gateway
            .as_ref()
            .ok_or_else(|| ApiError::Unprocessable(NEEDS_STRIPE.into()))
    }
}

// --- lots ------------------------------------------------------------------

/// Refuses `prepaid` when Stripe is not configured (422 naming the fix).
pub fn check_mode(state: &AppState, mode: PaymentMode) -> Result<(), ApiError> {
    if mode == PaymentMode::Prepaid && !state.payments.enabled() {
        return Err(ApiError::field("payment_mode", NEEDS_STRIPE));
    }
    Ok(())
}

/// The wire form of a mode.
pub fn mode_dto(mode: PaymentMode) -> parking_api::payments::PaymentModeDto {
    match mode {
        PaymentMode::OnSite => parking_api::payments::PaymentModeDto::OnSite,
        PaymentMode::Prepaid => parking_api::payments::PaymentModeDto::Prepaid,
    }
}

/// From the wire form.
pub fn mode_of(dto: parking_api::payments::PaymentModeDto) -> PaymentMode {
    match dto {
        parking_api::payments::PaymentModeDto::OnSite => PaymentMode::OnSite,
        parking_api::payments::PaymentModeDto::Prepaid => PaymentMode::Prepaid,
    }
}

// --- starting a payment ------------------------------------------------------

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

async fn open_intent(state: &AppState, payment: &PaymentRecord) -> Result<Intent, GatewayError> {
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

/// The API error for a failed Stripe call.
fn gateway_error(e: GatewayError) -> ApiError {
    match e {
        GatewayError::Unavailable(why) => ApiError::PaymentUnavailable(why),
        GatewayError::Declined(why) => {
            ApiError::Unprocessable(format!("the card was declined: {why}"))
        }
        GatewayError::Refused { code, message } => {
            ApiError::Unprocessable(format!("the payment provider refused ({code}): {message}"))
        }
        GatewayError::Amount(why) => ApiError::Unprocessable(why),
    }
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

// --- settling ------------------------------------------------------------------

fn processed_event(p: &PaymentRecord) -> DomainEvent {
    DomainEvent::PaymentProcessed {
        payment_id: p.id,
        reservation_id: p.reservation_id,
        lot_id: p.lot_id,
        amount: p.amount,
    }
}

async fn load_payment(state: &AppState, id: PaymentId) -> Result<PaymentRecord, ApiError> {
    state
        .store
        .payment(id)
        .await?
        .map(|v| v.payment)
        .ok_or(ApiError::NotFound("payment"))
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

fn lost_race() -> ApiError {
    ApiError::conflict("the payment kept changing meanwhile; retry")
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

// --- refunds ----------------------------------------------------------------------

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
async fn stripe_refund(
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

// --- reading ------------------------------------------------------------------------

/// A reservation's latest payment.
pub async fn latest(
    state: &AppState,
    reservation: ReservationId,
) -> Result<Option<PaymentRecord>, ApiError> {
    Ok(state.store.payments_of(reservation).await?.pop())
}

/// The latest payment of each of `reservations` that has one (a listing's
/// page): one store read for the page, not one per row.
pub async fn latest_of_each(
    state: &AppState,
    reservations: Vec<ReservationId>,
) -> Result<HashMap<ReservationId, PaymentRecord>, ApiError> {
    let payments = state.store.payments_of_each(reservations).await?;
    // Oldest first: a later payment of the same reservation replaces an earlier one.
    Ok(payments
        .into_iter()
        .map(|p| (p.reservation_id, p))
        .collect())
}

fn status_dto(s: PaymentStatus) -> PaymentStatusDto {
    match s {
        PaymentStatus::Pending => PaymentStatusDto::Pending,
        PaymentStatus::Succeeded => PaymentStatusDto::Succeeded,
        PaymentStatus::Failed => PaymentStatusDto::Failed,
        PaymentStatus::Refunded => PaymentStatusDto::Refunded,
        PaymentStatus::PartiallyRefunded => PaymentStatusDto::PartiallyRefunded,
    }
}

fn status_of(s: PaymentStatusDto) -> PaymentStatus {
    match s {
        PaymentStatusDto::Pending => PaymentStatus::Pending,
        PaymentStatusDto::Succeeded => PaymentStatus::Succeeded,
        PaymentStatusDto::Failed => PaymentStatus::Failed,
        PaymentStatusDto::Refunded => PaymentStatus::Refunded,
        PaymentStatusDto::PartiallyRefunded => PaymentStatus::PartiallyRefunded,
    }
}

fn purpose_dto(p: PaymentPurpose) -> PaymentPurposeDto {
    match p {
        PaymentPurpose::Booking => PaymentPurposeDto::Booking,
        PaymentPurpose::Extension => PaymentPurposeDto::Extension,
    }
}

/// The payment part of a reservation answer; the client secret only for the
/// payer.
pub fn reservation_payment(p: &PaymentRecord, actor: &Actor) -> ReservationPayment {
    ReservationPayment {
        id: p.id.as_uuid(),
        intent_id: p.intent_id.clone(),
        client_secret: if actor.user_id == p.user_id && p.status == PaymentStatus::Pending {
            p.client_secret.clone()
        } else {
            None
        },
        amount: p.amount.amount,
        currency: p.amount.currency.code().to_owned(),
        refunded_amount: p.refunded,
        status: status_dto(p.status),
        purpose: purpose_dto(p.purpose),
    }
}

/// The operators' view of a payment.
pub fn payment_dto(p: &PaymentRecord) -> Payment {
    Payment {
        id: p.id.as_uuid(),
        reservation_id: p.reservation_id.as_uuid(),
        lot_id: p.lot_id.as_uuid(),
        user_id: p.user_id.as_uuid(),
        purpose: purpose_dto(p.purpose),
        amount: p.amount.amount,
        currency: p.amount.currency.code().to_owned(),
        refunded_amount: p.refunded,
        status: status_dto(p.status),
        intent_id: p.intent_id.clone(),
        failure_reason: p.failure_reason.clone(),
        created_at: p.created_at,
        updated_at: p.updated_at,
    }
}

fn refund_dto(r: &RefundRecord) -> Refund {
    Refund {
        id: r.id,
        payment_id: r.payment_id.as_uuid(),
        stripe_refund_id: r.stripe_refund_id.clone(),
        amount: r.amount.amount,
        currency: r.amount.currency.code().to_owned(),
        reason: r.reason.clone(),
        created_at: r.created_at,
    }
}

/// Payments of the caller's lots (operators: their tenant's; admin: all).
pub async fn list(
    state: &AppState,
    actor: &Actor,
    query: &PaymentsQuery,
) -> Result<Page<Payment>, ApiError> {
    actor.require_staff()?;
    query.validate().map_err(ApiError::Validation)?;
    let scope = actor.staff_tenant()?.map_or(Scope::All, Scope::Tenant);
    let page = query.page_query();
    let (rows, total) = state
        .store
        .list_payments(
            scope,
            PaymentFilter {
                lot_id: query.lot_id.map(LotId::from_uuid),
                status: query.status.map(status_of),
                from: query.from,
                to: query.to,
            },
            PageRequest {
                page: page.page,
                per_page: page.per_page,
            },
        )
        .await?;
    let items = rows.iter().map(|v| payment_dto(&v.payment)).collect();
    Ok(Page::new(items, total, page.page, page.per_page))
}

/// Revenue of a prepaid lot per lot-local day from its payments: what each
/// stay starting in `window` took, net of refunds, on the day it starts. This is
/// what the revenue report shows for prepaid lots, so it reconciles with
/// `GET /payments` to the minor unit.
pub async fn revenue_by_local_day(
    state: &AppState,
    lot: LotId,
    tz: chrono_tz::Tz,
    window: Interval,
    currency: Currency,
) -> Result<Vec<(NaiveDate, Money)>, ApiError> {
    let stays = state.store.paid_stays(lot, window).await?;
    let mut days: BTreeMap<NaiveDate, Money> = BTreeMap::new();
    for stay in stays.iter().filter(|s| s.net.amount != 0) {
        let day = days
            .entry(local_date(tz, stay.interval.start()))
            .or_insert(Money::zero(currency));
        *day = day
            .checked_add(stay.net)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
    }
    Ok(days.into_iter().collect())
}
