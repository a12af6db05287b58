//! [`PaymentStore`] for SQLite: lot payment modes, payments, refunds and the
//! processed webhook event ids (migration 0004).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use parking_core::events::DomainEvent;
use parking_core::model::{
    Currency, Interval, LotId, Money, PaymentId, Reservation, ReservationId, TenantId, UserId,
};
use parking_core::pricing::Quote;
use rusqlite::types::{Type, Value};
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use super::map_err;
use super::rows::{instant, parse, us, uuid};
use super::store::SqliteStore;
use super::{events, reservations};
use crate::store::StoreError;
use crate::store::interface::{IdempotencyRecord, PageRequest, Scope, Store};
use crate::store::payments::{
    ChangeOutcome, PaidStay, PaymentChange, PaymentFilter, PaymentPurpose, PaymentRecord,
    PaymentStatus, PaymentStore, PaymentView, ProcessedWebhook, RefundRecord,
};

const COLUMNS: &str = "p.id, p.reservation_id, p.lot_id, p.user_id, p.purpose, p.amount, p.currency, \
     p.refunded_amount, p.status, p.stripe_idempotency_key, p.intent_id, p.client_secret, \
     p.failure_reason, p.created_us, p.updated_us, l.tenant_id";

const FROM: &str = "FROM payments p JOIN lots l ON l.id = p.lot_id";

fn bad_text(col: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(col, Type::Text, format!("unknown {what}").into())
}

fn payment_row(row: &Row) -> Result<PaymentView, rusqlite::Error> {
    let currency: Currency = parse(&row.get::<_, String>(6)?)?;
    let purpose: String = row.get(4)?;
    let status: String = row.get(8)?;
    Ok(PaymentView {
        payment: PaymentRecord {
            id: PaymentId::from_uuid(uuid(&row.get::<_, String>(0)?)?),
            reservation_id: ReservationId::from_uuid(uuid(&row.get::<_, String>(1)?)?),
            lot_id: LotId::from_uuid(uuid(&row.get::<_, String>(2)?)?),
            user_id: UserId::from_uuid(uuid(&row.get::<_, String>(3)?)?),
            purpose: PaymentPurpose::parse(&purpose).ok_or_else(|| bad_text(4, "purpose"))?,
            amount: Money::new(row.get(5)?, currency),
            refunded: row.get(7)?,
            status: PaymentStatus::parse(&status).ok_or_else(|| bad_text(8, "status"))?,
            stripe_idempotency_key: row.get(9)?,
            intent_id: row.get(10)?,
            client_secret: row.get(11)?,
            failure_reason: row.get(12)?,
            created_at: instant(row.get(13)?)?,
            updated_at: instant(row.get(14)?)?,
        },
        tenant_id: TenantId::from_uuid(uuid(&row.get::<_, String>(15)?)?),
    })
}

fn insert_payment(tx: &Connection, p: &PaymentRecord) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO payments (id, reservation_id, lot_id, user_id, purpose, amount, currency,
             refunded_amount, status, stripe_idempotency_key, intent_id, client_secret,
             failure_reason, created_us, updated_us)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        params![
            p.id.to_string(),
            p.reservation_id.to_string(),
            p.lot_id.to_string(),
            p.user_id.to_string(),
            p.purpose.as_str(),
            p.amount.amount,
            p.amount.currency.code(),
            p.refunded,
            p.status.as_str(),
            p.stripe_idempotency_key,
            p.intent_id,
            p.client_secret,
            p.failure_reason,
            us(p.created_at),
            us(p.updated_at)
        ],
    )
    .map_err(map_err)?;
    Ok(())
}

/// Stores a changed payment if its stored status is still `expected`.
fn update_payment(
    tx: &Connection,
    p: &PaymentRecord,
    expected: PaymentStatus,
) -> Result<(), StoreError> {
    let changed = tx
        .execute(
            "UPDATE payments SET refunded_amount = ?2, status = ?3,
                 intent_id = COALESCE(?4, intent_id), client_secret = COALESCE(?5, client_secret),
                 failure_reason = ?6, updated_us = ?7
             WHERE id = ?1 AND status = ?8",
            params![
                p.id.to_string(),
                p.refunded,
                p.status.as_str(),
                p.intent_id,
                p.client_secret,
                p.failure_reason,
                us(p.updated_at),
                expected.as_str()
            ],
        )
        .map_err(map_err)?;
    if changed == 0 {
        return Err(StoreError::Conflict("the payment changed meanwhile".into()));
    }
    Ok(())
}

fn insert_refund(tx: &Connection, r: &RefundRecord) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO refunds (id, payment_id, stripe_refund_id, amount, currency, reason, created_us)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            r.id.to_string(),
            r.payment_id.to_string(),
            r.stripe_refund_id,
            r.amount.amount,
            r.amount.currency.code(),
            r.reason,
            us(r.created_at)
        ],
    )
    .map_err(map_err)?;
    Ok(())
}

/// Marks a webhook event processed; false if it already was.
fn first_time(
    tx: &Connection,
    event_id: &str,
    event_type: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let inserted = tx
        .execute(
            "INSERT INTO processed_webhook_events (event_id, event_type, processed_us)
             VALUES (?1, ?2, ?3) ON CONFLICT (event_id) DO NOTHING",
            params![event_id, event_type, us(now)],
        )
        .map_err(map_err)?;
    Ok(inserted == 1)
}

fn apply(
    tx: &Connection,
    change: &PaymentChange,
    now: DateTime<Utc>,
) -> Result<ChangeOutcome, StoreError> {
    if let Some((id, kind)) = &change.webhook_event
        && !first_time(tx, id, kind, now)?
    {
        return Ok(ChangeOutcome::Duplicate);
    }
    if let Some(r) = &change.reservation {
        reservations::update(tx, &r.reservation, r.expected, r.quote.as_ref(), now)?;
    }
    if let Some(p) = &change.insert {
        insert_payment(tx, p)?;
    }
    for (p, expected) in &change.updates {
        update_payment(tx, p, *expected)?;
    }
    for refund in &change.refunds {
        insert_refund(tx, refund)?;
    }
    for event in &change.events {
        events::append(tx, event, now)?;
    }
    Ok(ChangeOutcome::Applied)
}

fn payments_where(
    conn: &Connection,
    condition: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<PaymentView>, StoreError> {
    let mut stmt = conn
        .prepare(&format!("SELECT {COLUMNS} {FROM} WHERE {condition}"))
        .map_err(map_err)?;
    stmt.query_map(params, payment_row)
        .map_err(map_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(map_err)
}

fn list(
    conn: &Connection,
    scope: Scope,
    filter: &PaymentFilter,
    page: PageRequest,
) -> Result<(Vec<PaymentView>, u64), StoreError> {
    let mut clauses: Vec<&str> = vec!["1 = 1"];
    let mut args: Vec<Value> = Vec::new();
    match scope {
        Scope::User(user) => {
            clauses.push("p.user_id = ?");
            args.push(Value::Text(user.to_string()));
        }
        Scope::Tenant(tenant) => {
            clauses.push("l.tenant_id = ?");
            args.push(Value::Text(tenant.to_string()));
        }
        Scope::All => {}
    }
    if let Some(lot) = filter.lot_id {
        clauses.push("p.lot_id = ?");
        args.push(Value::Text(lot.to_string()));
    }
    if let Some(status) = filter.status {
        clauses.push("p.status = ?");
        args.push(Value::Text(status.as_str().to_owned()));
    }
    if let Some(from) = filter.from {
        clauses.push("p.created_us >= ?");
        args.push(Value::Integer(us(from)));
    }
    if let Some(to) = filter.to {
        clauses.push("p.created_us < ?");
        args.push(Value::Integer(us(to)));
    }
    let condition = clauses.join(" AND ");
    let total: i64 = conn
        .query_row(
            &format!("SELECT COUNT(*) {FROM} WHERE {condition}"),
            params_from_iter(args.iter()),
            |r| r.get(0),
        )
        .map_err(map_err)?;
    args.push(Value::Integer(i64::from(page.per_page)));
    args.push(Value::Integer(
        i64::try_from(page.offset()).unwrap_or(i64::MAX),
    ));
    let rows = payments_where(
        conn,
        &format!("{condition} ORDER BY p.created_us DESC, p.id LIMIT ? OFFSET ?"),
        params_from_iter(args.iter()),
    )?;
    Ok((rows, u64::try_from(total).unwrap_or(0)))
}

fn refund_row(row: &Row) -> Result<RefundRecord, rusqlite::Error> {
    let currency: Currency = parse(&row.get::<_, String>(4)?)?;
    Ok(RefundRecord {
        id: uuid(&row.get::<_, String>(0)?)?,
        payment_id: PaymentId::from_uuid(uuid(&row.get::<_, String>(1)?)?),
        stripe_refund_id: row.get(2)?,
        amount: Money::new(row.get(3)?, currency),
        reason: row.get(5)?,
        created_at: instant(row.get(6)?)?,
    })
}

fn paid_stays(
    conn: &Connection,
    lot: LotId,
    window: Interval,
) -> Result<Vec<PaidStay>, StoreError> {
    let mut stmt = conn
        .prepare(
            "SELECT r.id, r.start_us, r.end_us, p.currency,
                    SUM(p.amount - p.refunded_amount)
             FROM payments p JOIN reservations r ON r.id = p.reservation_id
             WHERE p.lot_id = ?1 AND p.status IN ('succeeded', 'partially_refunded', 'refunded')
               AND r.start_us >= ?2 AND r.start_us < ?3
             GROUP BY r.id, p.currency ORDER BY r.start_us, r.id",
        )
        .map_err(map_err)?;
    stmt.query_map(
        params![lot.to_string(), us(window.start()), us(window.end())],
        |row| {
            let interval =
                Interval::new(instant(row.get(1)?)?, instant(row.get(2)?)?).map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(1, Type::Integer, Box::new(e))
                })?;
            let currency: Currency = parse(&row.get::<_, String>(3)?)?;
            Ok(PaidStay {
                reservation_id: ReservationId::from_uuid(uuid(&row.get::<_, String>(0)?)?),
                interval,
                net: Money::new(row.get(4)?, currency),
            })
        },
    )
    .map_err(map_err)?
    .collect::<Result<Vec<_>, _>>()
    .map_err(map_err)
}

#[async_trait]
impl PaymentStore for SqliteStore {
    async fn prepaid_lots(&self) -> Result<Vec<LotId>, StoreError> {
        self.db()
            .readers()
            .read(|conn| {
                let mut stmt = conn
                    .prepare("SELECT id FROM lots WHERE payment_mode = 'prepaid'")
                    .map_err(map_err)?;
                stmt.query_map([], |r| Ok(LotId::from_uuid(uuid(&r.get::<_, String>(0)?)?)))
                    .map_err(map_err)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(map_err)
            })
            .await
    }

    async fn insert_reservation_with_payment(
        &self,
        reservation: Reservation,
        quote: Option<Quote>,
        event: DomainEvent,
        payment: PaymentRecord,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        let result = self
            .db()
            .writer()
            .run(move |tx| {
                reservations::insert(tx, &reservation, quote.as_ref(), now)?;
                insert_payment(tx, &payment)?;
                events::append(tx, &event, now)
            })
            .await;
        if result.is_ok() {
            Store::events_written(self).notify_one();
        }
        result
    }

    async fn attach_intent(
        &self,
        payment: PaymentId,
        intent_id: String,
        client_secret: Option<String>,
        idempotency: Option<IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        self.db()
            .writer()
            .run(move |tx| {
                let changed = tx
                    .execute(
                        "UPDATE payments SET intent_id = ?2,
                             client_secret = COALESCE(?3, client_secret), updated_us = ?4
                         WHERE id = ?1 AND (intent_id IS NULL OR intent_id = ?2)",
                        params![payment.to_string(), intent_id, client_secret, us(now)],
                    )
                    .map_err(map_err)?;
                if changed == 0 {
                    return Err(StoreError::Conflict(
                        "the payment has another intent".into(),
                    ));
                }
                if let Some(record) = &idempotency {
                    reservations::put_idempotent(tx, record)?;
                }
                Ok(())
            })
            .await
    }

    async fn apply_payment_change(
        &self,
        change: PaymentChange,
    ) -> Result<ChangeOutcome, StoreError> {
        let now = Utc::now();
        let with_events = !change.events.is_empty();
        let result = self
            .db()
            .writer()
            .run(move |tx| apply(tx, &change, now))
            .await;
        if with_events && matches!(result, Ok(ChangeOutcome::Applied)) {
            Store::events_written(self).notify_one();
        }
        result
    }

    async fn payment(&self, id: PaymentId) -> Result<Option<PaymentView>, StoreError> {
        self.db()
            .readers()
            .read(move |conn| {
                conn.query_row(
                    &format!("SELECT {COLUMNS} {FROM} WHERE p.id = ?1"),
                    params![id.to_string()],
                    payment_row,
                )
                .optional()
                .map_err(map_err)
            })
            .await
    }

    async fn payment_by_intent(
        &self,
        intent_id: String,
    ) -> Result<Option<PaymentView>, StoreError> {
        self.db()
            .readers()
            .read(move |conn| {
                conn.query_row(
                    &format!("SELECT {COLUMNS} {FROM} WHERE p.intent_id = ?1"),
                    params![intent_id],
                    payment_row,
                )
                .optional()
                .map_err(map_err)
            })
            .await
    }

    async fn payments_of(
        &self,
        reservation: ReservationId,
    ) -> Result<Vec<PaymentRecord>, StoreError> {
        self.db()
            .readers()
            .read(move |conn| {
                payments_where(
                    conn,
                    "p.reservation_id = ?1 ORDER BY p.created_us, p.id",
                    params![reservation.to_string()],
                )
            })
            .await
            .map(|rows| rows.into_iter().map(|v| v.payment).collect())
    }

    async fn payments_of_each(
        &self,
        reservations: Vec<ReservationId>,
    ) -> Result<Vec<PaymentRecord>, StoreError> {
        if reservations.is_empty() {
            return Ok(Vec::new());
        }
        self.db()
            .readers()
            .read(move |conn| {
                let marks = vec!["?"; reservations.len()].join(", ");
                payments_where(
                    conn,
                    &format!("p.reservation_id IN ({marks}) ORDER BY p.created_us, p.id"),
                    params_from_iter(reservations.iter().map(ToString::to_string)),
                )
            })
            .await
            .map(|rows| rows.into_iter().map(|v| v.payment).collect())
    }

    async fn list_payments(
        &self,
        scope: Scope,
        filter: PaymentFilter,
        page: PageRequest,
    ) -> Result<(Vec<PaymentView>, u64), StoreError> {
        self.db()
            .readers()
            .read(move |conn| list(conn, scope, &filter, page))
            .await
    }

    async fn refunds_of(&self, payment: PaymentId) -> Result<Vec<RefundRecord>, StoreError> {
        self.db()
            .readers()
            .read(move |conn| {
                let mut stmt = conn
                    .prepare(
                        "SELECT id, payment_id, stripe_refund_id, amount, currency, reason, created_us
                         FROM refunds WHERE payment_id = ?1 ORDER BY created_us, id",
                    )
                    .map_err(map_err)?;
                stmt.query_map(params![payment.to_string()], refund_row)
                    .map_err(map_err)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(map_err)
            })
            .await
    }

    async fn paid_stays(&self, lot: LotId, window: Interval) -> Result<Vec<PaidStay>, StoreError> {
        self.db()
            .readers()
            .read(move |conn| paid_stays(conn, lot, window))
            .await
    }

    async fn processed_webhooks(
        &self,
        after: Option<String>,
        limit: u32,
    ) -> Result<Vec<ProcessedWebhook>, StoreError> {
        self.db()
            .readers()
            .read(move |conn| {
                let mut stmt = conn
                    .prepare(
                        "SELECT event_id, event_type, processed_us FROM processed_webhook_events
                         WHERE ?1 IS NULL OR event_id > ?1 ORDER BY event_id LIMIT ?2",
                    )
                    .map_err(map_err)?;
                stmt.query_map(params![after, i64::from(limit)], |row| {
                    Ok(ProcessedWebhook {
                        event_id: row.get(0)?,
                        event_type: row.get(1)?,
                        processed_at: instant(row.get(2)?)?,
                    })
                })
                .map_err(map_err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(map_err)
            })
            .await
    }
}
