//! Reservations and idempotent answers in SQLite.

use chrono::{DateTime, Utc};
use parking_core::model::{
    Currency, Interval, LotId, Money, Reservation, ReservationId, ReservationStatus, SpotId,
    TenantId, UserId,
};
use parking_core::pricing::Quote;
use rusqlite::types::{Type, Value};
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use super::map_err;
use super::rows::{instant, parse, to_json, us, uuid};
use crate::store::StoreError;
use crate::store::interface::{
    IdempotencyRecord, PageRequest, ReservationFilter, ReservationRecord, Scope,
};

const COLUMNS: &str = "r.id, r.lot_id, r.spot_id, r.user_id, r.start_us, r.end_us, r.status, \
     r.hold_expires_us, r.total_amount, r.currency, r.created_us, s.label, l.tenant_id, r.quote_json";

const FROM: &str =
    "FROM reservations r JOIN spots s ON s.id = r.spot_id JOIN lots l ON l.id = r.lot_id";

fn status_from(text: &str) -> Result<ReservationStatus, rusqlite::Error> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(6, Type::Text, Box::new(e)))
}

fn record_row(row: &Row) -> Result<ReservationRecord, rusqlite::Error> {
    let interval = Interval::new(instant(row.get(4)?)?, instant(row.get(5)?)?)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(5, Type::Integer, Box::new(e)))?;
    let currency: Currency = parse(&row.get::<_, String>(9)?)?;
    let hold: Option<i64> = row.get(7)?;
    Ok(ReservationRecord {
        reservation: Reservation {
            id: ReservationId::from_uuid(uuid(&row.get::<_, String>(0)?)?),
            lot_id: LotId::from_uuid(uuid(&row.get::<_, String>(1)?)?),
            spot_id: SpotId::from_uuid(uuid(&row.get::<_, String>(2)?)?),
            user_id: UserId::from_uuid(uuid(&row.get::<_, String>(3)?)?),
            interval,
            status: status_from(&row.get::<_, String>(6)?)?,
            hold_expires_at: hold.map(instant).transpose()?,
            total: Money::new(row.get(8)?, currency),
            created_at: instant(row.get(10)?)?,
        },
        spot_label: row.get(11)?,
        tenant_id: TenantId::from_uuid(uuid(&row.get::<_, String>(12)?)?),
        quote_json: row.get(13)?,
    })
}

/// Stores a new reservation.
pub fn insert(
    tx: &Connection,
    r: &Reservation,
    quote: Option<&Quote>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let quote_json = quote.map(to_json).transpose()?;
    tx.execute(
        "INSERT INTO reservations (id, lot_id, spot_id, user_id, start_us, end_us, status, hold_expires_us,
             total_amount, currency, quote_json, created_us, updated_us)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        params![
            r.id.to_string(),
            r.lot_id.to_string(),
            r.spot_id.to_string(),
            r.user_id.to_string(),
            us(r.interval.start()),
            us(r.interval.end()),
            r.status.as_str(),
            r.hold_expires_at.map(us),
            r.total.amount,
            r.total.currency.code(),
            quote_json,
            us(r.created_at),
            us(now)
        ],
    )
    .map_err(map_err)?;
    Ok(())
}

/// Stores a changed reservation if its stored status is still `expected`.
pub fn update(
    tx: &Connection,
    r: &Reservation,
    expected: ReservationStatus,
    quote: Option<&Quote>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let quote_json = quote.map(to_json).transpose()?;
    let changed = tx
        .execute(
            "UPDATE reservations SET start_us = ?2, end_us = ?3, status = ?4, hold_expires_us = ?5,
                 total_amount = ?6, currency = ?7, quote_json = COALESCE(?8, quote_json), updated_us = ?9
             WHERE id = ?1 AND status = ?10",
            params![
                r.id.to_string(),
                us(r.interval.start()),
                us(r.interval.end()),
                r.status.as_str(),
                r.hold_expires_at.map(us),
                r.total.amount,
                r.total.currency.code(),
                quote_json,
                us(now),
                expected.as_str()
            ],
        )
        .map_err(map_err)?;
    if changed == 0 {
        let exists: bool = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM reservations WHERE id = ?1)",
                params![r.id.to_string()],
                |row| row.get(0),
            )
            .map_err(map_err)?;
        return Err(if exists {
            StoreError::Conflict("the reservation changed meanwhile".into())
        } else {
            StoreError::NotFound
        });
    }
    Ok(())
}

/// One reservation.
pub fn by_id(
    conn: &Connection,
    id: ReservationId,
) -> Result<Option<ReservationRecord>, StoreError> {
    conn.query_row(
        &format!("SELECT {COLUMNS} {FROM} WHERE r.id = ?1"),
        params![id.to_string()],
        record_row,
    )
    .optional()
    .map_err(map_err)
}

/// Reservations visible in `scope` matching `filter`, newest first, and the total.
pub fn list(
    conn: &Connection,
    scope: Scope,
    filter: &ReservationFilter,
    page: PageRequest,
) -> Result<(Vec<ReservationRecord>, u64), StoreError> {
    let mut clauses: Vec<&str> = Vec::new();
    let mut args: Vec<Value> = Vec::new();
    match scope {
        Scope::User(user) => {
            clauses.push("r.user_id = ?");
            args.push(Value::Text(user.to_string()));
        }
        Scope::Tenant(tenant) => {
            clauses.push("l.tenant_id = ?");
            args.push(Value::Text(tenant.to_string()));
        }
        Scope::All => {}
    }
    if let Some(status) = filter.status {
        clauses.push("r.status = ?");
        args.push(Value::Text(status.as_str().to_owned()));
    }
    if let Some(from) = filter.from {
        clauses.push("r.end_us > ?");
        args.push(Value::Integer(us(from)));
    }
    if let Some(to) = filter.to {
        clauses.push("r.start_us < ?");
        args.push(Value::Integer(us(to)));
    }
    if let Some(lot) = filter.lot_id {
        clauses.push("r.lot_id = ?");
        args.push(Value::Text(lot.to_string()));
    }
    let condition = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    let total: i64 = conn
        .query_row(
            &format!("SELECT COUNT(*) {FROM} {condition}"),
            params_from_iter(args.iter()),
            |r| r.get(0),
        )
        .map_err(map_err)?;
    args.push(Value::Integer(i64::from(page.per_page)));
    args.push(Value::Integer(page.offset() as i64));
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {COLUMNS} {FROM} {condition} ORDER BY r.created_us DESC, r.id LIMIT ? OFFSET ?"
        ))
        .map_err(map_err)?;
    let rows = stmt
        .query_map(params_from_iter(args.iter()), record_row)
        .map_err(map_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(map_err)?;
    Ok((rows, total.max(0) as u64))
}

/// Reservations matching `condition` (a WHERE clause and what follows it, over
/// the joined rows `r`, `s`, `l`) with `params`.
fn reservations_where(
    conn: &Connection,
    condition: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<Reservation>, StoreError> {
    let mut stmt = conn
        .prepare(&format!("SELECT {COLUMNS} {FROM} WHERE {condition}"))
        .map_err(map_err)?;
    stmt.query_map(params, record_row)
        .map_err(map_err)?
        .map(|r| r.map(|rec| rec.reservation))
        .collect::<Result<Vec<_>, _>>()
        .map_err(map_err)
}

/// Reservations of a lot overlapping `window`, any status.
pub fn in_window(
    conn: &Connection,
    lot: LotId,
    window: Interval,
) -> Result<Vec<Reservation>, StoreError> {
    reservations_where(
        conn,
        "r.lot_id = ?1 AND r.start_us < ?3 AND r.end_us > ?2 ORDER BY r.start_us",
        params![lot.to_string(), us(window.start()), us(window.end())],
    )
}

/// Every reservation that blocks its spot at `now`.
pub fn blocking(conn: &Connection, now: DateTime<Utc>) -> Result<Vec<Reservation>, StoreError> {
    reservations_where(
        conn,
        "r.status IN ('confirmed', 'checked_in')
            OR (r.status = 'held' AND r.hold_expires_us > ?1) ORDER BY r.start_us",
        params![us(now)],
    )
}

/// Held reservations whose hold expired at or before `now`.
pub fn due_holds(
    conn: &Connection,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<Reservation>, StoreError> {
    reservations_where(
        conn,
        "r.status = 'held' AND r.hold_expires_us <= ?1 ORDER BY r.hold_expires_us LIMIT ?2",
        params![us(now), limit],
    )
}

/// Confirmed reservations whose lot's grace period after the start has passed.
pub fn no_show_candidates(
    conn: &Connection,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<Reservation>, StoreError> {
    reservations_where(
        conn,
        // A spot whose sensor reads occupied is not released as a no-show: the
        // car is there (checked in or not), and freeing the spot would let it be
        // booked again under a parked car. Staff see it as an alert instead.
        "r.status = 'confirmed' AND r.start_us + l.no_show_grace_minutes * 60000000 <= ?1
         AND NOT EXISTS (SELECT 1 FROM spot_sensors s WHERE s.spot_id = r.spot_id AND s.occupied = 1)
         ORDER BY r.start_us LIMIT ?2",
        params![us(now), limit],
    )
}

/// Stores the first answer to an idempotent request.
pub fn put_idempotent(tx: &Connection, rec: &IdempotencyRecord) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO idempotency_keys (user_id, key, request_hash, status_code, response_json, created_us)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            rec.user_id.to_string(),
            rec.key,
            rec.request_hash,
            rec.status,
            rec.response_json,
            us(rec.created_at)
        ],
    )
    .map_err(map_err)?;
    Ok(())
}

/// The stored answer for `(user, key)`.
pub fn idempotent(
    conn: &Connection,
    user: UserId,
    key: &str,
) -> Result<Option<IdempotencyRecord>, StoreError> {
    conn.query_row(
        "SELECT request_hash, status_code, response_json, created_us FROM idempotency_keys WHERE user_id = ?1 AND key = ?2",
        params![user.to_string(), key],
        |r| {
            Ok(IdempotencyRecord {
                user_id: user,
                key: key.to_owned(),
                request_hash: r.get(0)?,
                status: r.get(1)?,
                response_json: r.get(2)?,
                created_at: instant(r.get(3)?)?,
            })
        },
    )
    .optional()
    .map_err(map_err)
}
