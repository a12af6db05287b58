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
//!
//! The code is split the same way: `intents` starts a payment (and `pay`),
//! `settle` settles one (and the webhook), `refunds` gives money back or asks
//! for more when a booking changes, and `reading` lists and shows payments.
//! Everything callers use is re-exported here.

mod intents;
mod reading;
mod refunds;
mod settle;

pub use intents::{check_chargeable, new_payment, pay, start_booking_payment};
pub use reading::{
    latest, latest_of_each, list, payment_dto, reservation_payment, revenue_by_local_day,
};
pub use refunds::{after_hold_expired, cancel_paid, commit_reschedule, operator_refund};
pub use settle::{handle_webhook, settle_failure, settle_success};

use std::collections::HashSet;
use std::sync::RwLock;

use parking_core::model::{LotId, PaymentId};

use crate::config::{Secret, StripeConfig};
use crate::error::ApiError;
use crate::payments::gateway::{GatewayError, StripeGateway};
use crate::state::AppState;
use crate::store::payments::{PaymentMode, PaymentRecord};

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

// --- shared by the steps -------------------------------------------------------

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

async fn load_payment(state: &AppState, id: PaymentId) -> Result<PaymentRecord, ApiError> {
    state
        .store
        .payment(id)
        .await?
        .map(|v| v.payment)
        .ok_or(ApiError::NotFound("payment"))
}

fn lost_race() -> ApiError {
    ApiError::conflict("the payment kept changing meanwhile; retry")
}
