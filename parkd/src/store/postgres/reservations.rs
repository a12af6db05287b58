//! Reservations and idempotent answers in PostgreSQL.
//!
//! The no-overlap rule is the partitions' exclusion constraint (see
//! `migrations/postgres/0001_init.sql`); what SQLite's trigger decides with the
//! clock — a held row whose hold has lapsed does not block — is done here:
//! when the constraint refuses a write, the store tries once more in a new
//! transaction that first switches `blocking` off for that spot's lapsed
//! holds, so a lapsed hold never refuses a booking (and a write that is not
//! refused pays nothing for it).

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use parking_core::model::{Interval, LotId, Reservation, ReservationId, ReservationStatus, UserId};
use parking_core::pricing::Quote;
use tokio_postgres::types::ToSql;

use super::Failure;
use super::rows::{self, RESERVATION_COLUMNS, to_json};
use super::sql::{Listing, execute, query, query_opt};
use crate::store::StoreError;
use crate::store::interface::{
    IdempotencyRecord, PageRequest, ReservationFilter, ReservationRecord, Scope,
};

const FROM: &str =
    "FROM reservations r JOIN spots s ON s.id = r.spot_id JOIN lots l ON l.id = r.lot_id";

/// Whether a row with this status and hold blocks, evaluated by the server's
/// clock (`now()`, the transaction's start) like SQLite's trigger.
const BLOCKING: &str = "($S IN ('confirmed', 'checked_in') OR ($S = 'held' AND $H > now()))";

fn blocking_expr(status: &str, hold: &str) -> String {
    BLOCKING.replace("$S", status).replace("$H", hold)
}

/// Switches off the lapsed holds of a spot (see the module docs).
async fn release_lapsed_holds<C: GenericClient>(c: &C, r: &Reservation) -> Result<(), Failure> {
    execute(
        c,
        "UPDATE reservations SET blocking = false
         WHERE lot_id = $1 AND spot_id = $2 AND blocking AND status = 'held' AND hold_expires_at <= now()",
        &[&r.lot_id.as_uuid(), &r.spot_id.as_uuid()],
    )
    .await?;
    Ok(())
}

/// Stores a new reservation; `Conflict("reservation_overlap")` when the
/// exclusion constraint refuses it. With `release_lapsed`, the spot's lapsed
/// holds are switched off first (the store does so when a first attempt
/// without it was refused, so the common case costs no extra statement).
pub async fn insert<C: GenericClient>(
    c: &C,
    r: &Reservation,
    quote: Option<&Quote>,
    now: DateTime<Utc>,
    release_lapsed: bool,
) -> Result<(), Failure> {
    if release_lapsed {
        release_lapsed_holds(c, r).await?;
    }
    let quote_json = quote.map(to_json).transpose()?;
    let inserted = execute(
        c,
        &format!(
            "INSERT INTO reservations (id, lot_id, spot_id, user_id, start_time, end_time, blocks_until,
                 status, blocking, hold_expires_at, total_amount, currency, quote_json, created_at, updated_at)
             SELECT $1::uuid, $2::uuid, $3::uuid, $4::uuid, $5::timestamptz, $6::timestamptz,
                 $6::timestamptz + make_interval(mins => l.turnover_buffer_minutes),
                 $7::text, {}, $8::timestamptz, $9::bigint, $10::text, $11::text,
                 $12::timestamptz, $13::timestamptz
             FROM spots s JOIN lots l ON l.id = s.lot_id
             WHERE s.id = $3::uuid AND s.lot_id = $2::uuid
               AND EXISTS (SELECT 1 FROM users u WHERE u.id = $4::uuid)",
            blocking_expr("$7::text", "$8::timestamptz")
        ),
        &[
            &r.id.as_uuid(),
            &r.lot_id.as_uuid(),
            &r.spot_id.as_uuid(),
            &r.user_id.as_uuid(),
            &r.interval.start(),
            &r.interval.end(),
            &r.status.as_str(),
            &r.hold_expires_at,
            &r.total.amount,
            &r.total.currency.code(),
            &quote_json,
            &r.created_at,
            &now,
        ],
    )
    .await?;
    if inserted == 0 {
        return Err(Failure::Store(StoreError::Conflict(
            "foreign key violation: no such lot, spot of that lot, or user".into(),
        )));
    }
    Ok(())
}

/// Stores a changed reservation if its stored status is still `expected`
/// (`release_lapsed` as for [`insert`]).
pub async fn update<C: GenericClient>(
    c: &C,
    r: &Reservation,
    expected: ReservationStatus,
    quote: Option<&Quote>,
    now: DateTime<Utc>,
    release_lapsed: bool,
) -> Result<(), Failure> {
    if release_lapsed {
        release_lapsed_holds(c, r).await?;
    }
    let quote_json = quote.map(to_json).transpose()?;
    let changed = execute(
        c,
        &format!(
            "UPDATE reservations r SET start_time = $3::timestamptz, end_time = $4::timestamptz,
                 blocks_until = $4::timestamptz + make_interval(mins => l.turnover_buffer_minutes),
                 status = $5::text, blocking = {}, hold_expires_at = $6, total_amount = $7,
                 currency = $8, quote_json = COALESCE($9, r.quote_json), updated_at = $10
             FROM lots l
             WHERE l.id = r.lot_id AND r.lot_id = $1 AND r.id = $2 AND r.status = $11",
            blocking_expr("$5::text", "$6::timestamptz")
        ),
        &[
            &r.lot_id.as_uuid(),
            &r.id.as_uuid(),
            &r.interval.start(),
            &r.interval.end(),
            &r.status.as_str(),
            &r.hold_expires_at,
            &r.total.amount,
            &r.total.currency.code(),
            &quote_json,
            &now,
            &expected.as_str(),
        ],
    )
    .await?;
    if changed == 0 {
        let exists = query_opt(
            c,
            "SELECT 1 FROM reservations WHERE id = $1",
            &[&r.id.as_uuid()],
        )
        .await?
        .is_some();
        return Err(Failure::Store(if exists {
            StoreError::Conflict("the reservation changed meanwhile".into())
        } else {
            StoreError::NotFound
        }));
    }
    Ok(())
}

/// One reservation.
pub async fn by_id<C: GenericClient>(
    c: &C,
    id: ReservationId,
) -> Result<Option<ReservationRecord>, Failure> {
    query_opt(
        c,
        &format!("SELECT {RESERVATION_COLUMNS} {FROM} WHERE r.id = $1"),
        &[&id.as_uuid()],
    )
    .await?
    .as_ref()
    .map(rows::reservation)
    .transpose()
}

/// Reservations visible in `scope` matching `filter`, newest first, and the
/// total. The scope is a condition of the query, never a filter afterwards.
pub async fn list<C: GenericClient>(
    c: &C,
    scope: Scope,
    filter: &ReservationFilter,
    page: PageRequest,
) -> Result<(Vec<ReservationRecord>, u64), Failure> {
    let mut listing = Listing::default();
    match scope {
        Scope::User(user) => listing.bind("r.user_id = ?", user.as_uuid()),
        Scope::Tenant(tenant) => listing.bind("l.tenant_id = ?", tenant.as_uuid()),
        Scope::All => {}
    }
    if let Some(status) = filter.status {
        listing.bind("r.status = ?", status.as_str().to_owned());
    }
    if let Some(from) = filter.from {
        listing.bind("r.end_time > ?", from);
    }
    if let Some(to) = filter.to {
        listing.bind("r.start_time < ?", to);
    }
    if let Some(lot) = filter.lot_id {
        listing.bind("r.lot_id = ?", lot.as_uuid());
    }
    let (rows, total) = listing
        .page(
            c,
            RESERVATION_COLUMNS,
            FROM,
            "r.created_at DESC, r.id",
            page,
        )
        .await?;
    let rows = rows
        .iter()
        .map(rows::reservation)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((rows, rows::sequence(total)?))
}

async fn reservations_where<C: GenericClient>(
    c: &C,
    condition: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Reservation>, Failure> {
    query(
        c,
        &format!("SELECT {RESERVATION_COLUMNS} {FROM} WHERE {condition}"),
        params,
    )
    .await?
    .iter()
    .map(|row| rows::reservation(row).map(|rec| rec.reservation))
    .collect()
}

/// Reservations of a lot overlapping `window`, any status.
pub async fn in_window<C: GenericClient>(
    c: &C,
    lot: LotId,
    window: Interval,
) -> Result<Vec<Reservation>, Failure> {
    reservations_where(
        c,
        "r.lot_id = $1 AND r.start_time < $3 AND r.end_time > $2 ORDER BY r.start_time",
        &[&lot.as_uuid(), &window.start(), &window.end()],
    )
    .await
}

/// Every reservation (or a lot's) that blocks its spot at `now`.
pub async fn blocking<C: GenericClient>(
    c: &C,
    now: DateTime<Utc>,
    only: Option<LotId>,
) -> Result<Vec<Reservation>, Failure> {
    reservations_where(
        c,
        "r.blocking AND ($2::uuid IS NULL OR r.lot_id = $2)
           AND (r.status IN ('confirmed', 'checked_in') OR (r.status = 'held' AND r.hold_expires_at > $1))
         ORDER BY r.start_time",
        &[&now, &only.map(|l| l.as_uuid())],
    )
    .await
}

/// Held reservations whose hold expired at or before `now`.
pub async fn due_holds<C: GenericClient>(
    c: &C,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<Reservation>, Failure> {
    reservations_where(
        c,
        "r.status = 'held' AND r.hold_expires_at <= $1 ORDER BY r.hold_expires_at LIMIT $2",
        &[&now, &i64::from(limit)],
    )
    .await
}

/// Confirmed reservations whose lot's grace period after the start has passed.
pub async fn no_show_candidates<C: GenericClient>(
    c: &C,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<Reservation>, Failure> {
    reservations_where(
        c,
        // A spot whose sensor reads occupied is not released as a no-show: the
        // car is there (checked in or not), and freeing the spot would let it be
        // booked again under a parked car. Staff see it as an alert instead.
        "r.status = 'confirmed' AND r.start_time <= $1
           AND r.start_time + make_interval(mins => l.no_show_grace_minutes) <= $1
           AND NOT EXISTS (SELECT 1 FROM spot_sensors ss WHERE ss.spot_id = r.spot_id AND ss.occupied)
         ORDER BY r.start_time LIMIT $2",
        &[&now, &i64::from(limit)],
    )
    .await
}

/// Stores the first answer to an idempotent request.
pub async fn put_idempotent<C: GenericClient>(
    c: &C,
    rec: &IdempotencyRecord,
) -> Result<(), Failure> {
    execute(
        c,
        "INSERT INTO idempotency_keys (user_id, key, request_hash, status_code, response_json, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &rec.user_id.as_uuid(),
            &rec.key,
            &rec.request_hash,
            &i32::from(rec.status),
            &rec.response_json,
            &rec.created_at,
        ],
    )
    .await?;
    Ok(())
}

/// The stored answer for `(user, key)`.
pub async fn idempotent<C: GenericClient>(
    c: &C,
    user: UserId,
    key: &str,
) -> Result<Option<IdempotencyRecord>, Failure> {
    query_opt(
        c,
        "SELECT request_hash, status_code, response_json, created_at FROM idempotency_keys
         WHERE user_id = $1 AND key = $2",
        &[&user.as_uuid(), &key],
    )
    .await?
    .as_ref()
    .map(|row| rows::idempotency(row, user, key))
    .transpose()
}
