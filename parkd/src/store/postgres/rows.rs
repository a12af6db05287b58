//! Rows to domain values. Every mapping from a PostgreSQL row lives here, so
//! a new table's module adds its mapping beside these and the SQL modules stay
//! free of conversion code.
//!
//! Ids are `uuid`, instants `timestamptz` (chrono `DateTime<Utc>`), JSON
//! settings `jsonb` read back as text (`column::text`) and parsed with serde.

use chrono::{DateTime, Utc};
use parking_core::model::{
    BookingRules, Currency, GeoPoint, Interval, Lot, LotId, Money, PaymentId, Reservation,
    ReservationId, ReservationStatus, Spot, SpotId, TenantId, UserId,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_postgres::Row;
use uuid::Uuid;

use super::Failure;
use crate::auth::Role;
use crate::store::StoreError;
use crate::store::interface::{
    IdempotencyRecord, LotRecord, ReservationRecord, StoredEvent, TenantRecord, UserRecord,
};
use crate::store::payments::{
    PaidStay, PaymentMode, PaymentPurpose, PaymentRecord, PaymentStatus, PaymentView, RefundRecord,
};

/// Stored data that does not parse: a bug or a hand-edited row.
pub(super) fn corrupt(what: &str, detail: impl std::fmt::Display) -> Failure {
    Failure::Store(StoreError::Internal(format!("corrupt {what}: {detail}")))
}

/// A value as JSON text (bound as `$n::text` and cast in SQL where needed).
pub fn to_json<T: Serialize>(value: &T) -> Result<String, Failure> {
    serde_json::to_string(value)
        .map_err(|e| Failure::Store(StoreError::Internal(format!("encoding JSON: {e}"))))
}

/// A value from JSON text.
pub fn from_json<T: DeserializeOwned>(what: &str, text: &str) -> Result<T, Failure> {
    serde_json::from_str(text).map_err(|e| corrupt(what, e))
}

fn parse<T>(what: &str, text: &str) -> Result<T, Failure>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    text.parse().map_err(|e| corrupt(what, e))
}

/// A reservation status from its stored name.
pub fn status(text: &str) -> Result<ReservationStatus, Failure> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|e| corrupt("reservation status", e))
}

/// A stored sequence number; a negative one is corrupt data.
pub fn sequence(n: i64) -> Result<u64, Failure> {
    u64::try_from(n).map_err(|e| corrupt("sequence number", e))
}

/// Columns of [`user`], in order.
pub const USER_COLUMNS: &str =
    "id, email, password_hash, first_name, last_name, phone_enc, roles, tenant_id, created_at";

/// A `users` row.
pub fn user(row: &Row) -> Result<UserRecord, Failure> {
    let roles: Vec<String> = row.try_get(6)?;
    Ok(UserRecord {
        id: UserId::from_uuid(row.try_get(0)?),
        email: row.try_get(1)?,
        password_hash: row.try_get(2)?,
        first_name: row.try_get(3)?,
        last_name: row.try_get(4)?,
        phone_enc: row.try_get(5)?,
        roles: roles
            .iter()
            .map(|r| parse::<Role>("role", r))
            .collect::<Result<_, _>>()?,
        tenant_id: row.try_get::<_, Option<Uuid>>(7)?.map(TenantId::from_uuid),
        created_at: row.try_get(8)?,
    })
}

/// A `tenants` row (`id, name, created_at`).
pub fn tenant(row: &Row) -> Result<TenantRecord, Failure> {
    Ok(TenantRecord {
        id: TenantId::from_uuid(row.try_get(0)?),
        name: row.try_get(1)?,
        created_at: row.try_get(2)?,
    })
}

/// Columns of [`lot`], in order.
pub const LOT_COLUMNS: &str = "id, tenant_id, name, address, lat, lng, timezone, hours::text, \
     amenities::text, turnover_buffer_minutes, min_lead_minutes, max_duration_minutes, \
     hold_minutes, no_show_grace_minutes, external_id, cancellation::text, payment_mode";

fn minutes(row: &Row, idx: usize) -> Result<u32, Failure> {
    let n: i32 = row.try_get(idx)?;
    u32::try_from(n).map_err(|e| corrupt("lot rule", e))
}

/// A `lots` row.
pub fn lot(row: &Row) -> Result<LotRecord, Failure> {
    let location =
        GeoPoint::new(row.try_get(4)?, row.try_get(5)?).map_err(|e| corrupt("lot location", e))?;
    let time_zone: chrono_tz::Tz = parse("time zone", &row.try_get::<_, String>(6)?)?;
    let hours: Option<String> = row.try_get(7)?;
    let max_duration: Option<i32> = row.try_get(11)?;
    Ok(LotRecord {
        lot: Lot {
            id: LotId::from_uuid(row.try_get(0)?),
            tenant_id: TenantId::from_uuid(row.try_get(1)?),
            name: row.try_get(2)?,
            address: row.try_get(3)?,
            location,
            time_zone,
            hours: hours
                .as_deref()
                .map(|h| from_json("opening hours", h))
                .transpose()?
                .unwrap_or_default(),
            amenities: from_json("amenities", &row.try_get::<_, String>(8)?)?,
            rules: BookingRules {
                turnover_buffer_minutes: minutes(row, 9)?,
                min_lead_minutes: minutes(row, 10)?,
                max_duration_minutes: max_duration
                    .map(|m| u32::try_from(m).map_err(|e| corrupt("lot rule", e)))
                    .transpose()?,
                hold_minutes: minutes(row, 12)?,
                no_show_grace_minutes: minutes(row, 13)?,
                cancellation: from_json("cancellation policy", &row.try_get::<_, String>(15)?)?,
            },
        },
        external_id: row.try_get(14)?,
        payment_mode: {
            let mode: String = row.try_get(16)?;
            PaymentMode::parse(&mode)
                .ok_or_else(|| corrupt("payment mode", format!("unknown mode {mode:?}")))?
        },
    })
}

/// Columns of [`spot`], in order.
pub const SPOT_COLUMNS: &str = "id, lot_id, label, kind, zone, in_service";

/// A `spots` row.
pub fn spot(row: &Row) -> Result<Spot, Failure> {
    Ok(Spot {
        id: SpotId::from_uuid(row.try_get(0)?),
        lot_id: LotId::from_uuid(row.try_get(1)?),
        label: row.try_get(2)?,
        kind: parse("spot kind", &row.try_get::<_, String>(3)?)?,
        zone: row.try_get(4)?,
        in_service: row.try_get(5)?,
    })
}

/// Columns of [`reservation`] over `reservations r JOIN spots s JOIN lots l`.
pub const RESERVATION_COLUMNS: &str = "r.id, r.lot_id, r.spot_id, r.user_id, r.start_time, \
     r.end_time, r.status, r.hold_expires_at, r.total_amount, r.currency, r.created_at, s.label, \
     l.tenant_id, r.quote_json";

/// A reservation row with its spot's label and its lot's tenant.
pub fn reservation(row: &Row) -> Result<ReservationRecord, Failure> {
    let start: DateTime<Utc> = row.try_get(4)?;
    let end: DateTime<Utc> = row.try_get(5)?;
    let currency: Currency = parse("currency", &row.try_get::<_, String>(9)?)?;
    Ok(ReservationRecord {
        reservation: Reservation {
            id: ReservationId::from_uuid(row.try_get(0)?),
            lot_id: LotId::from_uuid(row.try_get(1)?),
            spot_id: SpotId::from_uuid(row.try_get(2)?),
            user_id: UserId::from_uuid(row.try_get(3)?),
            interval: Interval::new(start, end).map_err(|e| corrupt("reservation interval", e))?,
            status: status(&row.try_get::<_, String>(6)?)?,
            hold_expires_at: row.try_get(7)?,
            total: Money::new(row.try_get(8)?, currency),
            created_at: row.try_get(10)?,
        },
        spot_label: row.try_get(11)?,
        tenant_id: TenantId::from_uuid(row.try_get(12)?),
        quote_json: row.try_get(13)?,
    })
}

/// An `idempotency_keys` row (`request_hash, status_code, response_json,
/// created_at`) for `(user, key)`.
pub fn idempotency(row: &Row, user_id: UserId, key: &str) -> Result<IdempotencyRecord, Failure> {
    let status: i32 = row.try_get(1)?;
    Ok(IdempotencyRecord {
        user_id,
        key: key.to_owned(),
        request_hash: row.try_get(0)?,
        status: u16::try_from(status).map_err(|e| corrupt("status code", e))?,
        response_json: row.try_get(2)?,
        created_at: row.try_get(3)?,
    })
}

// --- payments (migration 0004) ------------------------------------------------

/// Columns of [`payment`] over `payments p JOIN lots l`, in order.
pub const PAYMENT_COLUMNS: &str = "p.id, p.reservation_id, p.lot_id, p.user_id, p.purpose, \
     p.amount, p.currency, p.refunded_amount, p.status, p.stripe_idempotency_key, p.intent_id, \
     p.client_secret, p.failure_reason, p.created_at, p.updated_at, l.tenant_id";

/// A payment row with its lot's tenant.
pub fn payment(row: &Row) -> Result<PaymentView, Failure> {
    let currency: Currency = parse("currency", &row.try_get::<_, String>(6)?)?;
    let purpose: String = row.try_get(4)?;
    let status: String = row.try_get(8)?;
    Ok(PaymentView {
        payment: PaymentRecord {
            id: PaymentId::from_uuid(row.try_get(0)?),
            reservation_id: ReservationId::from_uuid(row.try_get(1)?),
            lot_id: LotId::from_uuid(row.try_get(2)?),
            user_id: UserId::from_uuid(row.try_get(3)?),
            purpose: PaymentPurpose::parse(&purpose)
                .ok_or_else(|| corrupt("payment purpose", &purpose))?,
            amount: Money::new(row.try_get(5)?, currency),
            refunded: row.try_get(7)?,
            status: PaymentStatus::parse(&status)
                .ok_or_else(|| corrupt("payment status", &status))?,
            stripe_idempotency_key: row.try_get(9)?,
            intent_id: row.try_get(10)?,
            client_secret: row.try_get(11)?,
            failure_reason: row.try_get(12)?,
            created_at: row.try_get(13)?,
            updated_at: row.try_get(14)?,
        },
        tenant_id: TenantId::from_uuid(row.try_get(15)?),
    })
}

/// Columns of [`refund`], in order.
pub const REFUND_COLUMNS: &str =
    "id, payment_id, stripe_refund_id, amount, currency, reason, created_at";

/// A `refunds` row.
pub fn refund(row: &Row) -> Result<RefundRecord, Failure> {
    let currency: Currency = parse("currency", &row.try_get::<_, String>(4)?)?;
    Ok(RefundRecord {
        id: row.try_get(0)?,
        payment_id: PaymentId::from_uuid(row.try_get(1)?),
        stripe_refund_id: row.try_get(2)?,
        amount: Money::new(row.try_get(3)?, currency),
        reason: row.try_get(5)?,
        created_at: row.try_get(6)?,
    })
}

/// A paid stay (`reservation id, start, end, currency, net`).
pub fn paid_stay(row: &Row) -> Result<PaidStay, Failure> {
    let currency: Currency = parse("currency", &row.try_get::<_, String>(3)?)?;
    Ok(PaidStay {
        reservation_id: ReservationId::from_uuid(row.try_get(0)?),
        interval: Interval::new(row.try_get(1)?, row.try_get(2)?)
            .map_err(|e| corrupt("reservation interval", e))?,
        net: Money::new(row.try_get(4)?, currency),
    })
}

/// Columns of [`event`], in order.
pub const EVENT_COLUMNS: &str = "seq, lot_id, lot_seq, type, payload_json, occurred_at";

/// A sequenced `events` row.
pub fn event(row: &Row) -> Result<StoredEvent, Failure> {
    let lot_seq: Option<i64> = row.try_get(2)?;
    Ok(StoredEvent {
        seq: sequence(row.try_get(0)?)?,
        lot_id: row.try_get::<_, Option<Uuid>>(1)?.map(LotId::from_uuid),
        lot_seq: lot_seq.map(sequence).transpose()?,
        event_type: row.try_get(3)?,
        payload: from_json("event payload", &row.try_get::<_, String>(4)?)?,
        occurred_at: row.try_get(5)?,
    })
}
