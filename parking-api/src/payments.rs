//! Payments: a lot's [`PaymentModeDto`], the `payment` part of a reservation
//! answer, `POST /reservations/{id}/pay`, and the operators' payments
//! (`GET /payments`, `POST /payments/{id}/refund`).
//!
//! Amounts are integer minor units of `currency` (cents, yen, fils — the
//! currency's ISO-4217 exponent says how many per unit). No type here carries
//! card data: the payer's app confirms with Stripe using `client_secret`, and a
//! server-side client names a saved payment method by its id.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::common::{Checks, FieldError, PageQuery};

/// The header carrying Stripe's webhook signature (`t=…,v1=…`).
pub const STRIPE_SIGNATURE_HEADER: &str = "Stripe-Signature";
/// The longest payment method id accepted.
pub const MAX_PAYMENT_METHOD_CHARS: usize = 255;

/// `amount` minor units of `currency` for people: the currency's own
/// decimals (ISO-4217 exponent), never floats — `12.50 EUR`, `1500 JPY`,
/// `1.250 KWD`. An unknown code prints the raw minor units.
pub fn format_minor(amount: i64, currency: &str) -> String {
    match parking_core::model::Currency::new(currency) {
        Ok(c) => parking_core::model::Money::new(amount, c).to_string(),
        Err(_) => format!("{amount} {currency}"),
    }
}

/// How a lot's bookings are paid.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = PaymentMode)]
pub enum PaymentModeDto {
    /// Paid at the lot; bookings confirm at once (works offline).
    #[default]
    OnSite,
    /// Paid online when booking: the booking is `held` until its PaymentIntent
    /// succeeds.
    Prepaid,
}

/// Where a payment is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = PaymentStatus)]
pub enum PaymentStatusDto {
    /// The intent exists; the payer has not completed it yet.
    Pending,
    /// Paid.
    Succeeded,
    /// Declined, cancelled or expired; nothing was taken.
    Failed,
    /// Paid, then refunded in full.
    Refunded,
    /// Paid, then refunded in part.
    PartiallyRefunded,
}

/// What a payment pays for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = PaymentPurpose)]
pub enum PaymentPurposeDto {
    /// The booking's quoted total.
    Booking,
    /// The difference an extension added.
    Extension,
}

/// The latest payment of a reservation, as its answer shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReservationPayment {
    /// The payment's id.
    pub id: Uuid,
    /// The Stripe PaymentIntent (`pi_…`); absent until Stripe has answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent_id: Option<String>,
    /// What the payer's app confirms the intent with (shown to the payer only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// Minor units of `currency`.
    pub amount: i64,
    /// ISO-4217 code.
    pub currency: String,
    /// Refunded so far, minor units.
    pub refunded_amount: i64,
    /// Where it is.
    pub status: PaymentStatusDto,
    /// Booking or extension.
    pub purpose: PaymentPurposeDto,
}

/// A payment as operators see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Payment {
    /// The payment's id.
    pub id: Uuid,
    /// The reservation paid for.
    pub reservation_id: Uuid,
    /// Its lot.
    pub lot_id: Uuid,
    /// The payer.
    pub user_id: Uuid,
    /// Booking or extension.
    pub purpose: PaymentPurposeDto,
    /// Minor units of `currency`.
    pub amount: i64,
    /// ISO-4217 code.
    pub currency: String,
    /// Refunded so far, minor units.
    pub refunded_amount: i64,
    /// Where it is.
    pub status: PaymentStatusDto,
    /// The Stripe PaymentIntent, once created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent_id: Option<String>,
    /// Why it failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// When it was started.
    pub created_at: DateTime<Utc>,
    /// Its last change.
    pub updated_at: DateTime<Utc>,
}

/// A refund made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Refund {
    /// The refund's id.
    pub id: Uuid,
    /// The payment refunded.
    pub payment_id: Uuid,
    /// Stripe's refund (`re_…`); absent for one made outside parkd.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stripe_refund_id: Option<String>,
    /// Minor units.
    pub amount: i64,
    /// ISO-4217 code.
    pub currency: String,
    /// `cancellation`, `shortened`, `operator`, `booking_gone`, `stripe`.
    pub reason: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// `POST /reservations/{id}/pay`: confirm the booking's payment with a saved
/// payment method (an operator's desk, tests).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayRequest {
    /// A Stripe payment method id, e.g. `pm_card_visa`.
    #[schema(example = "pm_card_visa", max_length = 255)]
    pub payment_method: String,
}

impl PayRequest {
    /// A `pm_` id of letters, digits and underscores.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut checks = Checks::new();
        let pm = &self.payment_method;
        let shaped = pm.starts_with("pm_")
            && pm.len() <= MAX_PAYMENT_METHOD_CHARS
            && pm.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !shaped {
            checks.push(
                "payment_method",
                "must be a Stripe payment method id such as pm_card_visa",
            );
        }
        checks.finish()
    }
}

/// `POST /payments/{id}/refund`: refund some or (without `amount`) all of what
/// is left of a payment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    /// Minor units, at least 1 and at most what was paid and not refunded yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1)]
    pub amount: Option<i64>,
}

impl RefundRequest {
    /// A positive amount when given.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut checks = Checks::new();
        if let Some(amount) = self.amount
            && amount < 1
        {
            checks.push("amount", "must be at least 1 (minor units)");
        }
        checks.finish()
    }
}

/// The answer to a refund: the payment as it is now and the refund made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RefundResponse {
    /// The payment, refunded amount updated.
    pub payment: Payment,
    /// The refund.
    pub refund: Refund,
}

/// `GET /payments?lot_id&status&from&to&page&per_page`: payments of the
/// caller's lots started in `[from, to)`, newest first.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, IntoParams,
)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PaymentsQuery {
    /// Only this lot.
    #[serde(default)]
    pub lot_id: Option<Uuid>,
    /// Only this status.
    #[serde(default)]
    pub status: Option<PaymentStatusDto>,
    /// Only payments started at or after this instant.
    #[serde(default)]
    pub from: Option<DateTime<Utc>>,
    /// Only payments started before this instant.
    #[serde(default)]
    pub to: Option<DateTime<Utc>>,
    /// Page number from 1; default 1.
    #[serde(default)]
    pub page: Option<u32>,
    /// Page size 1 to 100; default 20.
    #[serde(default)]
    pub per_page: Option<u32>,
}

impl PaymentsQuery {
    /// Checks `to > from` when both are given, and the paging.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut checks = Checks::new();
        if let (Some(from), Some(to)) = (self.from, self.to) {
            checks.window("to", from, to);
        }
        checks.page(self.page_query());
        checks.finish()
    }

    /// The paging, defaults filled in.
    pub fn page_query(&self) -> PageQuery {
        PageQuery::from_parts(self.page, self.per_page)
    }
}

/// The answer to a webhook delivery Stripe accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WebhookAck {
    /// Always true.
    pub received: bool,
    /// True when this event id had been processed before (nothing changed).
    pub duplicate: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::tests::fields;
    use serde_json::json;

    #[test]
    fn modes_and_statuses_are_snake_case() {
        assert_eq!(
            serde_json::to_value(PaymentModeDto::OnSite).expect("serialise"),
            json!("on_site")
        );
        assert_eq!(PaymentModeDto::default(), PaymentModeDto::OnSite);
        assert_eq!(
            serde_json::to_value(PaymentStatusDto::PartiallyRefunded).expect("serialise"),
            json!("partially_refunded")
        );
    }

    #[test]
    fn minor_units_print_with_the_currency_exponent() {
        assert_eq!(format_minor(1250, "EUR"), "12.50 EUR");
        assert_eq!(format_minor(1500, "JPY"), "1500 JPY");
        assert_eq!(format_minor(1250, "KWD"), "1.250 KWD");
        assert_eq!(format_minor(-5, "EUR"), "-0.05 EUR");
        assert_eq!(format_minor(7, "euro"), "7 euro");
    }

    #[test]
    fn requests_are_checked() {
        let ok = PayRequest {
            payment_method: "pm_card_visa".into(),
        };
        assert_eq!(ok.validate(), Ok(()));
        for bad in ["4242424242424242", "pm_x y", ""] {
            let pay = PayRequest {
                payment_method: bad.into(),
            };
            assert_eq!(fields(pay.validate()), ["payment_method"], "{bad:?}");
        }
        assert!(
            serde_json::from_value::<PayRequest>(
                json!({"payment_method": "pm_card_visa", "number": "4242"})
            )
            .is_err()
        );
        assert_eq!(
            fields(RefundRequest { amount: Some(0) }.validate()),
            ["amount"]
        );
        assert_eq!(RefundRequest { amount: None }.validate(), Ok(()));
        let q: PaymentsQuery = serde_json::from_value(json!({
            "status": "succeeded", "from": "2026-05-02T00:00:00Z", "to": "2026-05-01T00:00:00Z"
        }))
        .expect("parses");
        assert_eq!(fields(q.validate()), ["to"]);
    }
}
