//! Stripe webhooks: [`verify`] checks the `Stripe-Signature` header
//! (`t=…,v1=HMAC-SHA256(secret, "t.payload")`, at most five minutes off the
//! clock — async-stripe's tolerance) and reads the event into a [`Notice`]
//! parkd acts on.

use stripe_webhook::{EventObject, Webhook, WebhookError};

use super::gateway::Intent;

/// What an event tells parkd.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// `payment_intent.succeeded`.
    IntentSucceeded(Intent),
    /// `payment_intent.payment_failed`.
    IntentFailed(Intent),
    /// `payment_intent.canceled`.
    IntentCanceled(Intent),
    /// `charge.refunded`: the charge's intent and its refunded total.
    ChargeRefunded {
        /// The intent charged.
        intent_id: String,
        /// Refunded so far in all, minor units.
        amount_refunded: i64,
    },
    /// Anything else: acknowledged and ignored.
    Other,
}

/// A verified event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedEvent {
    /// `evt_…`: a redelivery has the same id.
    pub id: String,
    /// The event type, e.g. `payment_intent.succeeded`.
    pub kind: String,
    /// What it says.
    pub notice: Notice,
}

/// Why a delivery was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The signature does not match the endpoint secret (or is missing).
    #[error("the Stripe-Signature header does not match this endpoint's secret")]
    BadSignature,
    /// The signed timestamp is too far from now (a replay).
    #[error("the Stripe-Signature timestamp is outside the tolerance")]
    Stale,
    /// Signed, but not an event parkd can read.
    #[error("unreadable event: {0}")]
    Malformed(String),
}

/// Verifies a delivery against `secret` as of `now` (Unix seconds).
pub fn verify(
    payload: &str,
    signature: &str,
    secret: &str,
    now: i64,
) -> Result<VerifiedEvent, Rejection> {
    let event =
        Webhook::construct_event_with_timestamp(payload, signature, secret, now).map_err(|e| {
            match e {
                WebhookError::BadTimestamp(_) => Rejection::Stale,
                WebhookError::BadParse(why) => Rejection::Malformed(why),
                WebhookError::BadKey | WebhookError::BadHeader(_) | WebhookError::BadSignature => {
                    Rejection::BadSignature
                }
            }
        })?;
    let notice = match event.data.object {
        EventObject::PaymentIntentSucceeded(pi) => Notice::IntentSucceeded(Intent::from(*pi)),
        EventObject::PaymentIntentPaymentFailed(pi) => Notice::IntentFailed(Intent::from(*pi)),
        EventObject::PaymentIntentCanceled(pi) => Notice::IntentCanceled(Intent::from(*pi)),
        EventObject::ChargeRefunded(charge) => match &charge.payment_intent {
            Some(intent) => Notice::ChargeRefunded {
                intent_id: intent.id().as_str().to_owned(),
                amount_refunded: charge.amount_refunded,
            },
            None => Notice::Other,
        },
        _ => Notice::Other,
    };
    Ok(VerifiedEvent {
        id: event.id.as_str().to_owned(),
        kind: event.type_.as_str().to_owned(),
        notice,
    })
}
