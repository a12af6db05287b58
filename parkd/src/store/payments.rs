//! Storage of online payments: each lot's payment mode, one [`PaymentRecord`]
//! per Stripe PaymentIntent, the refunds made, and the ids of the Stripe
//! events already acted on.
//!
//! The Stripe calls themselves never run inside a database transaction: a
//! booking writes its hold and a `pending` payment first ([`PaymentStore::
//! insert_reservation_with_payment`]), calls Stripe with an idempotency key
//! derived from the payment, then records the intent ([`PaymentStore::
//! attach_intent`]). Every later change — a webhook, a refund, a cancellation
//! — is one [`PaymentChange`] applied in one transaction with the reservation
//! change and the domain events it causes.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use parking_core::events::DomainEvent;
use parking_core::model::{
    Interval, LotId, Money, PaymentId, Reservation, ReservationId, ReservationStatus, TenantId,
    UserId,
};
use parking_core::pricing::Quote;
use uuid::Uuid;

use super::StoreError;
use super::interface::{IdempotencyRecord, PageRequest, Scope};

/// How a lot's bookings are paid.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PaymentMode {
    /// At the lot; bookings confirm at once.
    #[default]
    OnSite,
    /// Online, before the booking is confirmed.
    Prepaid,
}

impl PaymentMode {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMode::OnSite => "on_site",
            PaymentMode::Prepaid => "prepaid",
        }
    }

    /// From the stored name.
    pub fn parse(text: &str) -> Option<PaymentMode> {
        match text {
            "on_site" => Some(PaymentMode::OnSite),
            "prepaid" => Some(PaymentMode::Prepaid),
            _ => None,
        }
    }
}

/// Where a payment is: `pending → succeeded | failed`, then
/// `succeeded → partially_refunded → refunded`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PaymentStatus {
    /// Waiting for the payer.
    Pending,
    /// Paid.
    Succeeded,
    /// Nothing was taken (declined, cancelled, expired, Stripe unreachable).
    Failed,
    /// Paid and refunded in full.
    Refunded,
    /// Paid and refunded in part.
    PartiallyRefunded,
}

impl PaymentStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Pending => "pending",
            PaymentStatus::Succeeded => "succeeded",
            PaymentStatus::Failed => "failed",
            PaymentStatus::Refunded => "refunded",
            PaymentStatus::PartiallyRefunded => "partially_refunded",
        }
    }

    /// From the stored name.
    pub fn parse(text: &str) -> Option<PaymentStatus> {
        Some(match text {
            "pending" => PaymentStatus::Pending,
            "succeeded" => PaymentStatus::Succeeded,
            "failed" => PaymentStatus::Failed,
            "refunded" => PaymentStatus::Refunded,
            "partially_refunded" => PaymentStatus::PartiallyRefunded,
            _ => return None,
        })
    }

    /// True once money was taken (whatever was refunded since).
    pub fn was_paid(self) -> bool {
        matches!(
            self,
            PaymentStatus::Succeeded | PaymentStatus::Refunded | PaymentStatus::PartiallyRefunded
        )
    }
}

/// What a payment pays for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PaymentPurpose {
    /// The booking's total.
    Booking,
    /// The difference an extension added.
    Extension,
}

impl PaymentPurpose {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentPurpose::Booking => "booking",
            PaymentPurpose::Extension => "extension",
        }
    }

    /// From the stored name.
    pub fn parse(text: &str) -> Option<PaymentPurpose> {
        match text {
            "booking" => Some(PaymentPurpose::Booking),
            "extension" => Some(PaymentPurpose::Extension),
            _ => None,
        }
    }
}

/// One PaymentIntent as parkd keeps it. No card data: Stripe has that.
#[derive(Clone, PartialEq, Eq)]
pub struct PaymentRecord {
    /// The payment's id (also in the intent's metadata).
    pub id: PaymentId,
    /// The reservation paid for.
    pub reservation_id: ReservationId,
    /// Its lot.
    pub lot_id: LotId,
    /// The payer.
    pub user_id: UserId,
    /// Booking or extension.
    pub purpose: PaymentPurpose,
    /// What is charged.
    pub amount: Money,
    /// Refunded so far, in the same currency; never more than `amount`.
    pub refunded: i64,
    /// Where it is.
    pub status: PaymentStatus,
    /// Sent with the create call so a retry never makes a second intent.
    pub stripe_idempotency_key: String,
    /// Stripe's intent id, once it answered.
    pub intent_id: Option<String>,
    /// What the payer's app confirms with.
    pub client_secret: Option<String>,
    /// Why it failed.
    pub failure_reason: Option<String>,
    /// When it was started.
    pub created_at: DateTime<Utc>,
    /// Its last change.
    pub updated_at: DateTime<Utc>,
}

impl std::fmt::Debug for PaymentRecord {
    /// The client secret lets anyone holding it confirm the intent: never logged.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaymentRecord")
            .field("id", &self.id)
            .field("reservation_id", &self.reservation_id)
            .field("purpose", &self.purpose)
            .field("amount", &self.amount)
            .field("refunded", &self.refunded)
            .field("status", &self.status)
            .field("intent_id", &self.intent_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .finish_non_exhaustive()
    }
}

impl PaymentRecord {
    /// What is left to refund.
    pub fn refundable(&self) -> i64 {
        if self.status.was_paid() {
            (self.amount.amount - self.refunded).max(0)
        } else {
            0
        }
    }

    /// The status after refunding up to `refunded` in total.
    pub fn status_after_refunds(&self, refunded: i64) -> PaymentStatus {
        if refunded <= 0 {
            PaymentStatus::Succeeded
        } else if refunded >= self.amount.amount {
            PaymentStatus::Refunded
        } else {
            PaymentStatus::PartiallyRefunded
        }
    }
}

/// A refund as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundRecord {
    /// The refund's id.
    pub id: Uuid,
    /// The payment refunded.
    pub payment_id: PaymentId,
    /// Stripe's refund id; `None` for one learnt from `charge.refunded`.
    pub stripe_refund_id: Option<String>,
    /// How much.
    pub amount: Money,
    /// Why: `cancellation`, `shortened`, `operator`, `booking_gone`, `stripe`.
    pub reason: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A payment with the tenant owning its lot (for scoping).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentView {
    /// The payment.
    pub payment: PaymentRecord,
    /// The lot's tenant.
    pub tenant_id: TenantId,
}

/// Filters of a payments listing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PaymentFilter {
    /// Only this lot.
    pub lot_id: Option<LotId>,
    /// Only this status.
    pub status: Option<PaymentStatus>,
    /// Started at or after.
    pub from: Option<DateTime<Utc>>,
    /// Started before.
    pub to: Option<DateTime<Utc>>,
}

/// A reservation change that goes with a payment change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReservationChange {
    /// The reservation as it is to be stored.
    pub reservation: Reservation,
    /// The status it must still have (else `Conflict` and nothing changes).
    pub expected: ReservationStatus,
    /// A new quote, when the price changed.
    pub quote: Option<Quote>,
}

/// Everything one payment step writes, in one transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PaymentChange {
    /// The Stripe event acted on: if it was processed before, nothing is
    /// written and the outcome is [`ChangeOutcome::Duplicate`].
    pub webhook_event: Option<(String, String)>,
    /// A new payment.
    pub insert: Option<PaymentRecord>,
    /// Changed payments, each stored only if its status is still the one given.
    pub updates: Vec<(PaymentRecord, PaymentStatus)>,
    /// Refunds made.
    pub refunds: Vec<RefundRecord>,
    /// The reservation's change.
    pub reservation: Option<ReservationChange>,
    /// The domain events.
    pub events: Vec<DomainEvent>,
}

/// What applying a [`PaymentChange`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeOutcome {
    /// Written.
    Applied,
    /// The webhook event had been processed already; nothing written.
    Duplicate,
}

/// Net takings of one reservation: what its payments took minus refunds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaidStay {
    /// The reservation.
    pub reservation_id: ReservationId,
    /// When the stay starts (revenue belongs to its local day).
    pub interval: Interval,
    /// Succeeded payments minus refunds.
    pub net: Money,
}

/// A Stripe event already acted on (its id is never acted on again).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessedWebhook {
    /// Stripe's event id.
    pub event_id: String,
    /// Its type, e.g. `payment_intent.succeeded`.
    pub event_type: String,
    /// When it was acted on.
    pub processed_at: DateTime<Utc>,
}

/// Payments storage (a supertrait of [`super::interface::Store`]).
#[async_trait]
pub trait PaymentStore: Send + Sync {
    /// Lots whose mode is not the default `on_site`.
    async fn prepaid_lots(&self) -> Result<Vec<LotId>, StoreError>;
    /// Stores a new held reservation, its quote, event and `pending` payment in
    /// one transaction; `Conflict` on overlap.
    async fn insert_reservation_with_payment(
        &self,
        reservation: Reservation,
        quote: Option<Quote>,
        event: DomainEvent,
        payment: PaymentRecord,
    ) -> Result<(), StoreError>;
    /// Records the intent Stripe created for a payment (its status is left
    /// alone: a webhook may have moved it already) and the idempotent answer.
    async fn attach_intent(
        &self,
        payment: PaymentId,
        intent_id: String,
        client_secret: Option<String>,
        idempotency: Option<IdempotencyRecord>,
    ) -> Result<(), StoreError>;
    /// Applies one payment step atomically (see [`PaymentChange`]).
    async fn apply_payment_change(
        &self,
        change: PaymentChange,
    ) -> Result<ChangeOutcome, StoreError>;
    /// One payment, with its lot's tenant.
    async fn payment(&self, id: PaymentId) -> Result<Option<PaymentView>, StoreError>;
    /// The payment of a Stripe intent.
    async fn payment_by_intent(&self, intent_id: String)
    -> Result<Option<PaymentView>, StoreError>;
    /// A reservation's payments, oldest first.
    async fn payments_of(
        &self,
        reservation: ReservationId,
    ) -> Result<Vec<PaymentRecord>, StoreError>;
    /// The payments of several reservations (a page of a listing), oldest
    /// first, in one query however many reservations are named.
    async fn payments_of_each(
        &self,
        reservations: Vec<ReservationId>,
    ) -> Result<Vec<PaymentRecord>, StoreError>;
    /// Payments visible in `scope`, newest first, one page, with the total.
    async fn list_payments(
        &self,
        scope: Scope,
        filter: PaymentFilter,
        page: PageRequest,
    ) -> Result<(Vec<PaymentView>, u64), StoreError>;
    /// Refunds of a payment, oldest first.
    async fn refunds_of(&self, payment: PaymentId) -> Result<Vec<RefundRecord>, StoreError>;
    /// Net takings per reservation of a lot whose stay starts in `window`.
    async fn paid_stays(&self, lot: LotId, window: Interval) -> Result<Vec<PaidStay>, StoreError>;
    /// Processed webhook events with an id after `after` (all when `None`),
    /// in id order, at most `limit` (for copying a database).
    async fn processed_webhooks(
        &self,
        after: Option<String>,
        limit: u32,
    ) -> Result<Vec<ProcessedWebhook>, StoreError>;
}
