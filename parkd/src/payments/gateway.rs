//! [`StripeGateway`]: the Stripe calls parkd makes, through async-stripe.
//!
//! Every call that creates something carries an idempotency key the caller
//! derives from its own records, so a retry (after a timeout or a crash)
//! returns what the first call made instead of making it again.

use std::collections::HashMap;
use std::time::Duration;

use parking_core::model::{Currency, Money};
use stripe::{Client, ClientBuilder, RequestStrategy, StripeError, StripeRequest};
use stripe_core::payment_intent::{
    CancelPaymentIntent, ConfirmPaymentIntent, CreatePaymentIntent, RetrievePaymentIntent,
};
use stripe_core::refund::CreateRefund;
use stripe_core::{PaymentIntent, PaymentIntentStatus};

use crate::config::StripeConfig;

/// An intent's state, in parkd's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntentState {
    /// Waiting for the payer (or being processed).
    Open,
    /// Paid.
    Succeeded,
    /// Cancelled; nothing will be taken.
    Canceled,
}

/// What parkd keeps of a PaymentIntent.
#[derive(Clone, PartialEq, Eq)]
pub struct Intent {
    /// `pi_…`.
    pub id: String,
    /// For the payer's app.
    pub client_secret: Option<String>,
    /// Minor units.
    pub amount: i64,
    /// Where it is.
    pub state: IntentState,
    /// Its metadata (parkd sets `payment_id`, `reservation_id`, `lot_id`).
    pub metadata: HashMap<String, String>,
    /// Why the last attempt failed, if it did.
    pub last_error: Option<String>,
}

impl std::fmt::Debug for Intent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Intent")
            .field("id", &self.id)
            .field("amount", &self.amount)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl From<PaymentIntent> for Intent {
    fn from(pi: PaymentIntent) -> Self {
        Intent {
            id: pi.id.as_str().to_owned(),
            client_secret: pi.client_secret,
            amount: pi.amount,
            state: state_of(&pi.status),
            metadata: pi.metadata,
            last_error: pi.last_payment_error.and_then(|e| e.message),
        }
    }
}

/// Maps Stripe's intent status.
pub fn state_of(status: &PaymentIntentStatus) -> IntentState {
    match status {
        PaymentIntentStatus::Succeeded => IntentState::Succeeded,
        PaymentIntentStatus::Canceled => IntentState::Canceled,
        _ => IntentState::Open,
    }
}

/// A refund Stripe made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StripeRefund {
    /// `re_…`.
    pub id: String,
    /// Minor units.
    pub amount: i64,
}

/// Why a Stripe call did not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// Stripe could not be reached, timed out, or failed on its side: retry later.
    #[error("payment provider unavailable: {0}")]
    Unavailable(String),
    /// The card was declined (Stripe's `card_error`).
    #[error("the card was declined: {0}")]
    Declined(String),
    /// Stripe refused the request (`invalid_request_error`, `idempotency_error`).
    #[error("payment provider refused the request ({code}): {message}")]
    Refused {
        /// Stripe's error type and code.
        code: String,
        /// Its message.
        message: String,
    },
    /// The amount cannot be charged in this currency through Stripe.
    #[error("{0}")]
    Amount(String),
}

/// The amount Stripe expects for `money`: integer minor units of the
/// currency's ISO-4217 exponent — cents for EUR, yen for JPY (exponent 0),
/// fils for KWD (exponent 3, where Stripe only takes multiples of 10).
pub fn stripe_amount(money: Money) -> Result<i64, GatewayError> {
    if money.amount <= 0 {
        return Err(GatewayError::Amount(format!(
            "cannot charge {money}: the amount must be positive"
        )));
    }
    match money.currency.exponent() {
        0..=2 => Ok(money.amount),
        3 if money.amount % 10 == 0 => Ok(money.amount),
        3 => Err(GatewayError::Amount(format!(
            "Stripe charges {} in multiples of 10 minor units; {money} is not one",
            money.currency
        ))),
        _ => Err(GatewayError::Amount(format!(
            "Stripe does not charge {}",
            money.currency
        ))),
    }
}

/// Stripe's (lower-case) code for `currency`.
pub fn stripe_currency(currency: Currency) -> stripe_types::Currency {
    // Stripe's parser is infallible: an unknown code becomes `Unknown`, which
    // Stripe itself then refuses with a clear error.
    let lower = currency.code().to_ascii_lowercase();
    match lower.parse::<stripe_types::Currency>() {
        Ok(c) => c,
        Err(never) => match never {},
    }
}

fn map_error(e: StripeError) -> GatewayError {
    match e {
        StripeError::Stripe(err, status) => {
            let message = err.message.clone().unwrap_or_else(|| "no message".into());
            let kind = err.type_.as_str().to_owned();
            let code = err
                .code
                .as_ref()
                .map(|c| format!("{kind}/{}", c.as_str()))
                .unwrap_or(kind.clone());
            if kind == "card_error" {
                GatewayError::Declined(message)
            } else if status >= 500 || status == 429 {
                GatewayError::Unavailable(format!("{status} {code}: {message}"))
            } else {
                GatewayError::Refused { code, message }
            }
        }
        StripeError::ClientError(e) => GatewayError::Unavailable(e),
        StripeError::Timeout => GatewayError::Unavailable("timed out".into()),
        StripeError::JSONDeserialize(e) => {
            GatewayError::Unavailable(format!("unreadable answer: {e}"))
        }
        StripeError::ConfigError(e) => GatewayError::Unavailable(format!("configuration: {e}")),
    }
}

fn idempotent(key: &str) -> Result<RequestStrategy, GatewayError> {
    stripe::IdempotencyKey::new(key)
        .map(RequestStrategy::Idempotent)
        .map_err(|e| GatewayError::Amount(format!("bad idempotency key: {e}")))
}

/// The Stripe client parkd uses. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct StripeGateway {
    client: Client,
    timeout: Duration,
}

impl std::fmt::Debug for StripeGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeGateway").finish_non_exhaustive()
    }
}

impl StripeGateway {
    /// A client for the configured account and API base; `None` without keys.
    pub fn from_config(config: &StripeConfig) -> Result<Option<StripeGateway>, GatewayError> {
        let Some(key) = &config.secret_key else {
            return Ok(None);
        };
        let timeout = Duration::from_secs(config.timeout_secs);
        let client = ClientBuilder::new(key.expose())
            .url(config.api_base.clone())
            .request_strategy(RequestStrategy::Once)
            .timeout(timeout)
            .build()
            .map_err(|e| GatewayError::Unavailable(format!("cannot build the client: {e}")))?;
        Ok(Some(StripeGateway { client, timeout }))
    }

    /// Sends an intent request with the call timeout, idempotent under `key`
    /// when given.
    async fn send_intent(
        &self,
        request: impl StripeRequest<Output = PaymentIntent>,
        key: Option<&str>,
    ) -> Result<Intent, GatewayError> {
        let mut request = request.customize().timeout(self.timeout);
        if let Some(key) = key {
            request = request.request_strategy(idempotent(key)?);
        }
        request
            .send(&self.client)
            .await
            .map(Intent::from)
            .map_err(map_error)
    }

    /// Creates an intent for `amount` with `metadata`; the same `key` always
    /// yields the same intent.
    pub async fn create_intent(
        &self,
        amount: Money,
        metadata: HashMap<String, String>,
        key: &str,
    ) -> Result<Intent, GatewayError> {
        let request =
            CreatePaymentIntent::new(stripe_amount(amount)?, stripe_currency(amount.currency))
                .metadata(metadata);
        self.send_intent(request, Some(key)).await
    }

    /// Confirms an intent with a saved payment method.
    pub async fn confirm_intent(
        &self,
        intent_id: &str,
        payment_method: &str,
    ) -> Result<Intent, GatewayError> {
        let request = ConfirmPaymentIntent::new(intent_id).payment_method(payment_method);
        self.send_intent(request, None).await
    }

    /// Reads an intent.
    pub async fn retrieve_intent(&self, intent_id: &str) -> Result<Intent, GatewayError> {
        self.send_intent(RetrievePaymentIntent::new(intent_id), None)
            .await
    }

    /// Cancels an intent (nothing will be taken).
    pub async fn cancel_intent(&self, intent_id: &str) -> Result<Intent, GatewayError> {
        self.send_intent(CancelPaymentIntent::new(intent_id), None)
            .await
    }

    /// Refunds `amount` of an intent's charge; the same `key` refunds once.
    pub async fn refund(
        &self,
        intent_id: &str,
        amount: Money,
        reason: &str,
        key: &str,
    ) -> Result<StripeRefund, GatewayError> {
        let metadata = HashMap::from([("reason".to_owned(), reason.to_owned())]);
        CreateRefund::new()
            .payment_intent(intent_id)
            .amount(stripe_amount(amount)?)
            .metadata(metadata)
            .customize()
            .request_strategy(idempotent(key)?)
            .timeout(self.timeout)
            .send(&self.client)
            .await
            .map(|r| StripeRefund {
                id: r.id.as_str().to_owned(),
                amount: r.amount,
            })
            .map_err(map_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_follow_the_currency_exponent() {
        assert_eq!(stripe_amount(Money::new(1250, Currency::EUR)), Ok(1250));
        // Zero-decimal: 1500 yen is 1500, not 150000.
        assert_eq!(stripe_amount(Money::new(1500, Currency::JPY)), Ok(1500));
        let kwd = Currency::new("KWD").expect("valid");
        assert_eq!(stripe_amount(Money::new(1250, kwd)), Ok(1250));
        assert!(matches!(
            stripe_amount(Money::new(1255, kwd)),
            Err(GatewayError::Amount(_))
        ));
        assert!(matches!(
            stripe_amount(Money::new(0, Currency::EUR)),
            Err(GatewayError::Amount(_))
        ));
        assert_eq!(stripe_currency(Currency::JPY), stripe_types::Currency::JPY);
        assert_eq!(stripe_currency(Currency::EUR), stripe_types::Currency::EUR);
    }
}
