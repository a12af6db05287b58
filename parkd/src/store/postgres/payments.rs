//! [`PaymentStore`] for PostgreSQL: lot payment modes, payments, refunds and
//! the processed webhook event ids (migration 0004), with SQLite's semantics.
//!
//! Every step is one transaction ([`in_transaction!`]) holding the payment
//! rows, the reservation change and the outbox events. A webhook's event id is
//! inserted first with `ON CONFLICT DO NOTHING`: a second delivery, on this
//! instance or another, waits for the first's transaction and then finds the
//! id taken, so it writes nothing. As for bookings (see `reservations.rs`), a
//! step whose reservation write the no-overlap constraint refuses runs once
//! more with the spot's lapsed holds switched off.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use parking_core::events::DomainEvent;
use parking_core::model::{Interval, LotId, PaymentId, Reservation, ReservationId};
use parking_core::pricing::Quote;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::rows::{self, PAYMENT_COLUMNS, REFUND_COLUMNS};
use super::sql::{Listing, execute, query, query_opt};
use super::store::is_overlap;
use super::{Failure, PgStore, events, in_transaction, reservations};
use crate::store::StoreError;
use crate::store::interface::{IdempotencyRecord, PageRequest, Scope};
use crate::store::payments::{
    ChangeOutcome, PaidStay, PaymentChange, PaymentFilter, PaymentRecord, PaymentStatus,
    PaymentStore, PaymentView, ProcessedWebhook, RefundRecord,
};

const FROM: &str = "FROM payments p JOIN lots l ON l.id = p.lot_id";

pub(super) async fn insert_payment<C: GenericClient>(
    c: &C,
    p: &PaymentRecord,
) -> Result<(), Failure> {
    execute(
        c,
        "INSERT INTO payments (id, reservation_id, lot_id, user_id, purpose, amount, currency,
             refunded_amount, status, stripe_idempotency_key, intent_id, client_secret,
             failure_reason, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        &[
            &p.id.as_uuid(),
            &p.reservation_id.as_uuid(),
            &p.lot_id.as_uuid(),
            &p.user_id.as_uuid(),
            &p.purpose.as_str(),
            &p.amount.amount,
            &p.amount.currency.code(),
            &p.refunded,
            &p.status.as_str(),
            &p.stripe_idempotency_key,
            &p.intent_id,
            &p.client_secret,
            &p.failure_reason,
            &p.created_at,
            &p.updated_at,
        ],
    )
    .await?;
    Ok(())
}

/// Stores a changed payment if its stored status is still `expected`.
async fn update_payment<C: GenericClient>(
    c: &C,
    p: &PaymentRecord,
    expected: PaymentStatus,
) -> Result<(), Failure> {
    let changed = execute(
        c,
        "UPDATE payments SET refunded_amount = $2, status = $3,
             intent_id = COALESCE($4::text, intent_id),
             client_secret = COALESCE($5::text, client_secret),
             failure_reason = $6, updated_at = $7
         WHERE id = $1 AND status = $8",
        &[
            &p.id.as_uuid(),
            &p.refunded,
            &p.status.as_str(),
            &p.intent_id,
            &p.client_secret,
            &p.failure_reason,
            &p.updated_at,
            &expected.as_str(),
        ],
    )
    .await?;
    if changed == 0 {
        return Err(Failure::Store(StoreError::Conflict(
            "the payment changed meanwhile".into(),
        )));
    }
    Ok(())
}

pub(super) async fn insert_refund<C: GenericClient>(
    c: &C,
    r: &RefundRecord,
) -> Result<(), Failure> {
    execute(
        c,
        "INSERT INTO refunds (id, payment_id, stripe_refund_id, amount, currency, reason, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &r.id,
            &r.payment_id.as_uuid(),
            &r.stripe_refund_id,
            &r.amount.amount,
            &r.amount.currency.code(),
            &r.reason,
            &r.created_at,
        ],
    )
    .await?;
    Ok(())
}

/// Marks a webhook event processed; false if it already was.
async fn first_time<C: GenericClient>(
    c: &C,
    event_id: &str,
    event_type: &str,
    now: DateTime<Utc>,
) -> Result<bool, Failure> {
    let inserted = execute(
        c,
        "INSERT INTO processed_webhook_events (event_id, event_type, processed_at)
         VALUES ($1, $2, $3) ON CONFLICT (event_id) DO NOTHING",
        &[&event_id, &event_type, &now],
    )
    .await?;
    Ok(inserted == 1)
}

/// One payment step, in SQLite's order (see its `apply`).
async fn apply<C: GenericClient>(
    c: &C,
    change: &PaymentChange,
    now: DateTime<Utc>,
    origin: Uuid,
    release_lapsed: bool,
) -> Result<ChangeOutcome, Failure> {
    if let Some((id, kind)) = &change.webhook_event
        && !first_time(c, id, kind, now).await?
    {
        return Ok(ChangeOutcome::Duplicate);
    }
    if let Some(r) = &change.reservation {
        reservations::update(
            c,
            &r.reservation,
            r.expected,
            r.quote.as_ref(),
            now,
            release_lapsed,
        )
        .await?;
    }
    if let Some(p) = &change.insert {
        insert_payment(c, p).await?;
    }
    for (p, expected) in &change.updates {
        update_payment(c, p, *expected).await?;
    }
    for refund in &change.refunds {
        insert_refund(c, refund).await?;
    }
    for event in &change.events {
        events::append(c, event, now, origin).await?;
    }
    Ok(ChangeOutcome::Applied)
}

async fn payments_where<C: GenericClient>(
    c: &C,
    condition: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<PaymentView>, Failure> {
    query(
        c,
        &format!("SELECT {PAYMENT_COLUMNS} {FROM} WHERE {condition}"),
        params,
    )
    .await?
    .iter()
    .map(rows::payment)
    .collect()
}

/// Payments visible in `scope` matching `filter`, newest first, and the total.
/// The scope is a condition of the query, never a filter afterwards.
async fn list<C: GenericClient>(
    c: &C,
    scope: Scope,
    filter: &PaymentFilter,
    page: PageRequest,
) -> Result<(Vec<PaymentView>, u64), Failure> {
    let mut listing = Listing::default();
    match scope {
        Scope::User(user) => listing.bind("p.user_id = ?", user.as_uuid()),
        Scope::Tenant(tenant) => listing.bind("l.tenant_id = ?", tenant.as_uuid()),
        Scope::All => {}
    }
    if let Some(lot) = filter.lot_id {
        listing.bind("p.lot_id = ?", lot.as_uuid());
    }
    if let Some(status) = filter.status {
        listing.bind("p.status = ?", status.as_str().to_owned());
    }
    if let Some(from) = filter.from {
        listing.bind("p.created_at >= ?", from);
    }
    if let Some(to) = filter.to {
        listing.bind("p.created_at < ?", to);
    }
    let (rows, total) = listing
        .page(c, PAYMENT_COLUMNS, FROM, "p.created_at DESC, p.id", page)
        .await?;
    let rows = rows
        .iter()
        .map(rows::payment)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((rows, rows::sequence(total)?))
}

/// Net takings per reservation of `lot` whose stay starts in `window`.
/// `SUM(bigint)` is `numeric` in PostgreSQL: cast back, minor units are whole.
async fn paid_stays<C: GenericClient>(
    c: &C,
    lot: LotId,
    window: Interval,
) -> Result<Vec<PaidStay>, Failure> {
    query(
        c,
        "SELECT r.id, r.start_time, r.end_time, p.currency,
                SUM(p.amount - p.refunded_amount)::bigint
         FROM payments p JOIN reservations r ON r.lot_id = p.lot_id AND r.id = p.reservation_id
         WHERE p.lot_id = $1 AND p.status IN ('succeeded', 'partially_refunded', 'refunded')
           AND r.start_time >= $2 AND r.start_time < $3
         GROUP BY r.id, r.start_time, r.end_time, p.currency
         ORDER BY r.start_time, r.id",
        &[&lot.as_uuid(), &window.start(), &window.end()],
    )
    .await?
    .iter()
    .map(rows::paid_stay)
    .collect()
}

#[async_trait]
impl PaymentStore for PgStore {
    async fn prepaid_lots(&self) -> Result<Vec<LotId>, StoreError> {
        let client = self.client().await?;
        let found = query(
            &client,
            "SELECT id FROM lots WHERE payment_mode = 'prepaid'",
            &[],
        )
        .await
        .map_err(Failure::into_store)?;
        found
            .iter()
            .map(|r| Ok(LotId::from_uuid(r.try_get(0)?)))
            .collect::<Result<Vec<_>, Failure>>()
            .map_err(Failure::into_store)
    }

    async fn insert_reservation_with_payment(
        &self,
        reservation: Reservation,
        quote: Option<Quote>,
        event: DomainEvent,
        payment: PaymentRecord,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        let mut result = Ok(());
        for release_lapsed in [false, true] {
            result = in_transaction!(self.pool(), tx => {
                reservations::insert(&tx, &reservation, quote.as_ref(), now, release_lapsed)
                    .await?;
                insert_payment(&tx, &payment).await?;
                events::append(&tx, &event, now, self.instance()).await?;
            });
            if !is_overlap(&result) {
                break;
            }
        }
        self.committed_events(result)
    }

    async fn attach_intent(
        &self,
        payment: PaymentId,
        intent_id: String,
        client_secret: Option<String>,
        idempotency: Option<IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        in_transaction!(self.pool(), tx => {
            let changed = execute(
                &tx,
                "UPDATE payments SET intent_id = $2,
                     client_secret = COALESCE($3::text, client_secret), updated_at = $4
                 WHERE id = $1 AND (intent_id IS NULL OR intent_id = $2)",
                &[&payment.as_uuid(), &intent_id, &client_secret, &now],
            )
            .await?;
            if changed == 0 {
                return Err(Failure::Store(StoreError::Conflict(
                    "the payment has another intent".into(),
                )));
            }
            if let Some(record) = &idempotency {
                reservations::put_idempotent(&tx, record).await?;
            }
        })
    }

    async fn apply_payment_change(
        &self,
        change: PaymentChange,
    ) -> Result<ChangeOutcome, StoreError> {
        let now = Utc::now();
        let mut result = Ok(ChangeOutcome::Applied);
        for release_lapsed in [false, true] {
            result = in_transaction!(self.pool(), tx => {
                apply(&tx, &change, now, self.instance(), release_lapsed).await?
            });
            if change.reservation.is_none() || !is_overlap(&result) {
                break;
            }
        }
        if !change.events.is_empty() && matches!(result, Ok(ChangeOutcome::Applied)) {
            return self.committed_events(result);
        }
        result
    }

    async fn payment(&self, id: PaymentId) -> Result<Option<PaymentView>, StoreError> {
        let client = self.client().await?;
        let found = query_opt(
            &client,
            &format!("SELECT {PAYMENT_COLUMNS} {FROM} WHERE p.id = $1"),
            &[&id.as_uuid()],
        )
        .await
        .map_err(Failure::into_store)?;
        found
            .as_ref()
            .map(rows::payment)
            .transpose()
            .map_err(Failure::into_store)
    }

    async fn payment_by_intent(
        &self,
        intent_id: String,
    ) -> Result<Option<PaymentView>, StoreError> {
        let client = self.client().await?;
        let found = query_opt(
            &client,
            &format!("SELECT {PAYMENT_COLUMNS} {FROM} WHERE p.intent_id = $1"),
            &[&intent_id],
        )
        .await
        .map_err(Failure::into_store)?;
        found
            .as_ref()
            .map(rows::payment)
            .transpose()
            .map_err(Failure::into_store)
    }

    async fn payments_of(
        &self,
        reservation: ReservationId,
    ) -> Result<Vec<PaymentRecord>, StoreError> {
        let client = self.client().await?;
        payments_where(
            &client,
            "p.reservation_id = $1 ORDER BY p.created_at, p.id",
            &[&reservation.as_uuid()],
        )
        .await
        .map(|rows| rows.into_iter().map(|v| v.payment).collect())
        .map_err(Failure::into_store)
    }

    async fn payments_of_each(
        &self,
        reservations: Vec<ReservationId>,
    ) -> Result<Vec<PaymentRecord>, StoreError> {
        if reservations.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Uuid> = reservations.iter().map(|r| r.as_uuid()).collect();
        let client = self.client().await?;
        payments_where(
            &client,
            "p.reservation_id = ANY($1) ORDER BY p.created_at, p.id",
            &[&ids],
        )
        .await
        .map(|rows| rows.into_iter().map(|v| v.payment).collect())
        .map_err(Failure::into_store)
    }

    async fn list_payments(
        &self,
        scope: Scope,
        filter: PaymentFilter,
        page: PageRequest,
    ) -> Result<(Vec<PaymentView>, u64), StoreError> {
        let client = self.client().await?;
        list(&client, scope, &filter, page)
            .await
            .map_err(Failure::into_store)
    }

    async fn refunds_of(&self, payment: PaymentId) -> Result<Vec<RefundRecord>, StoreError> {
        let client = self.client().await?;
        let found = query(
            &client,
            &format!(
                "SELECT {REFUND_COLUMNS} FROM refunds WHERE payment_id = $1 ORDER BY created_at, id"
            ),
            &[&payment.as_uuid()],
        )
        .await
        .map_err(Failure::into_store)?;
        found
            .iter()
            .map(rows::refund)
            .collect::<Result<Vec<_>, _>>()
            .map_err(Failure::into_store)
    }

    async fn paid_stays(&self, lot: LotId, window: Interval) -> Result<Vec<PaidStay>, StoreError> {
        // Analytics reads: the read pool, like `reservations_in`.
        let client = self
            .read_pool()
            .get()
            .await
            .map_err(|e| Failure::from(e).into_store())?;
        paid_stays(&client, lot, window)
            .await
            .map_err(Failure::into_store)
    }

    async fn processed_webhooks(
        &self,
        after: Option<String>,
        limit: u32,
    ) -> Result<Vec<ProcessedWebhook>, StoreError> {
        let client = self.client().await?;
        let found = query(
            &client,
            r#"SELECT event_id, event_type, processed_at FROM processed_webhook_events
               WHERE $1::text IS NULL OR event_id COLLATE "C" > $1
               ORDER BY event_id COLLATE "C" LIMIT $2"#,
            &[&after, &i64::from(limit)],
        )
        .await
        .map_err(Failure::into_store)?;
        found
            .iter()
            .map(|row| {
                Ok(ProcessedWebhook {
                    event_id: row.try_get(0)?,
                    event_type: row.try_get(1)?,
                    processed_at: row.try_get(2)?,
                })
            })
            .collect::<Result<Vec<_>, Failure>>()
            .map_err(Failure::into_store)
    }
}
