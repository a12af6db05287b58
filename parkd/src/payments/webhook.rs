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

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_unit";

    fn event(kind: &str, object: serde_json::Value) -> String {
        serde_json::json!({
            "id": "evt_unit_1", "object": "event", "api_version": "2026-09-30.endive",
            "created": 1_700_000_000, "livemode": false, "pending_webhooks": 1,
            "data": {"object": object}, "type": kind,
        })
        .to_string()
    }

    fn intent(status: &str) -> serde_json::Value {
        serde_json::json!({
            "id": "pi_unit", "object": "payment_intent", "amount": 1250,
            "amount_capturable": 0, "amount_received": 1250, "capture_method": "automatic",
            "confirmation_method": "automatic", "created": 1_700_000_000, "currency": "eur",
            "livemode": false, "metadata": {"payment_id": "x"},
            "payment_method_types": ["card"], "status": status,
        })
    }

    #[test]
    fn stripes_own_signature_verifies_and_anything_else_does_not() {
        let payload = event("payment_intent.succeeded", intent("succeeded"));
        let now = 1_700_000_100;
        // Signed by async-stripe's own generator, as Stripe signs.
        let header = Webhook::generate_test_header(&payload, SECRET, Some(now));
        let verified = verify(&payload, &header, SECRET, now).expect("genuine");
        assert_eq!(verified.id, "evt_unit_1");
        assert_eq!(verified.kind, "payment_intent.succeeded");
        match verified.notice {
            Notice::IntentSucceeded(i) => {
                assert_eq!((i.id.as_str(), i.amount), ("pi_unit", 1250));
                assert_eq!(i.metadata.get("payment_id").map(String::as_str), Some("x"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            verify(&payload, &header, "whsec_other", now),
            Err(Rejection::BadSignature)
        );
        assert_eq!(
            verify(&payload.replace("1250", "1"), &header, SECRET, now),
            Err(Rejection::BadSignature)
        );
        assert_eq!(
            verify(&payload, &header, SECRET, now + 301),
            Err(Rejection::Stale),
            "five minutes of tolerance"
        );
        assert_eq!(
            verify(&payload, "garbage", SECRET, now),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn refunds_and_cancellations_are_read() {
        let charge = serde_json::json!({
            "id": "ch_unit", "object": "charge", "amount": 1250, "amount_captured": 1250,
            "amount_refunded": 300,
            "billing_details": {"address": null, "email": null, "name": null, "phone": null},
            "captured": true, "created": 1_700_000_000, "currency": "eur", "disputed": false,
            "livemode": false, "metadata": {}, "paid": true, "payment_intent": "pi_unit",
            "refunded": false, "status": "succeeded",
        });
        let payload = event("charge.refunded", charge);
        let header = Webhook::generate_test_header(&payload, SECRET, Some(10));
        let verified = verify(&payload, &header, SECRET, 10).expect("genuine");
        assert_eq!(
            verified.notice,
            Notice::ChargeRefunded {
                intent_id: "pi_unit".into(),
                amount_refunded: 300
            }
        );
        let payload = event("payment_intent.canceled", intent("canceled"));
        let header = Webhook::generate_test_header(&payload, SECRET, Some(10));
        assert!(matches!(
            verify(&payload, &header, SECRET, 10).map(|e| e.notice),
            Ok(Notice::IntentCanceled(_))
        ));
    }
}
