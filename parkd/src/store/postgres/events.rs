//! The outbox in PostgreSQL, with several writers.
//!
//! # Why events are numbered after they commit
//!
//! With one writer (SQLite) a smaller `seq` always commits first, so a reader
//! that has seen `seq = n` has seen everything up to `n`. With several
//! connections on several instances that is false: a transaction may take
//! `seq = 10` from a sequence, stall, and commit after another that took
//! `seq = 11`; a reader in between publishes 11, moves its cursor to 11, and
//! never sees 10.
//!
//! So writers do not number events. They insert them with `seq` and `lot_seq`
//! NULL (the row's identity `id` only orders inserts), in the same transaction
//! as the change. The **sequencer** ([`sequence_pending`]) numbers committed,
//! unnumbered rows in one short transaction under a transaction-level advisory
//! lock, so only one instance numbers at a time: `seq` continues from the
//! highest assigned, `lot_seq` from the highest of each lot, both in `id`
//! order. A row becomes visible to readers only once numbered, and every later
//! numbering run hands out larger numbers; hence a reader that has seen
//! `seq = n` never later meets a smaller one, and nothing is skipped. Per lot,
//! events are in commit order, and causally related events (a booking, then its
//! cancellation, which starts after the booking committed) in cause order.
//!
//! Every read ([`after`]) runs the sequencer first, so the dispatcher and the
//! replay endpoint see events as soon as they are committed; the cost is one
//! small transaction per read. The sequencer holds its lock only while
//! numbering, never during a booking: writers never wait for each other here.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use parking_core::events::DomainEvent;
use parking_core::model::{LotId, TenantId};
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::Failure;
use super::rows::{self, EVENT_COLUMNS, to_json};
use super::sql::{execute, query, query_one};
use crate::store::StoreError;
use crate::store::interface::StoredEvent;

/// The advisory lock key the sequencer holds (transaction-scoped).
pub const SEQUENCER_LOCK: i64 = 0x7061_726b_0001;
/// Most rows numbered in one run.
const SEQUENCE_BATCH: i64 = 10_000;

/// Appends one event written by instance `origin`, unnumbered (see the
/// module docs).
pub async fn append<C: GenericClient>(
    c: &C,
    event: &DomainEvent,
    at: DateTime<Utc>,
    origin: Uuid,
) -> Result<(), Failure> {
    execute(
        c,
        "INSERT INTO events (lot_id, type, payload_json, occurred_at, origin) VALUES ($1, $2, $3, $4, $5)",
        &[
            &event.lot_id().map(|l| l.as_uuid()),
            &event.type_name(),
            &to_json(event)?,
            &at,
            &origin,
        ],
    )
    .await?;
    Ok(())
}

/// Numbers committed, unnumbered events; returns how many. Run in its own
/// transaction (`c` must be one): the advisory lock is released at its end.
pub async fn sequence_pending<C: GenericClient>(c: &C) -> Result<u64, Failure> {
    execute(c, "SELECT pg_advisory_xact_lock($1)", &[&SEQUENCER_LOCK]).await?;
    let numbered = execute(
        c,
        "WITH pending AS (
             SELECT id, lot_id,
                    row_number() OVER (ORDER BY id) AS n,
                    row_number() OVER (PARTITION BY lot_id ORDER BY id) AS ln
             FROM (SELECT id, lot_id FROM events WHERE seq IS NULL ORDER BY id LIMIT $1) p
         ),
         base AS (SELECT COALESCE(MAX(seq), 0) AS s FROM events),
         lot_base AS (
             SELECT d.lot_id,
                    COALESCE((SELECT MAX(e.lot_seq) FROM events e WHERE e.lot_id = d.lot_id), 0) AS s
             FROM (SELECT DISTINCT lot_id FROM pending WHERE lot_id IS NOT NULL) d
         )
         UPDATE events e
         SET seq = base.s + p.n,
             lot_seq = CASE WHEN p.lot_id IS NULL THEN NULL ELSE lb.s + p.ln END
         FROM pending p CROSS JOIN base LEFT JOIN lot_base lb ON lb.lot_id = p.lot_id
         WHERE e.id = p.id",
        &[&SEQUENCE_BATCH],
    )
    .await?;
    Ok(numbered)
}

/// Numbered events with `seq > after`, in `seq` order, at most `limit`; only of
/// `lot` when given; only of the lots of `tenant` when given (in the query).
pub async fn after<C: GenericClient>(
    c: &C,
    after: u64,
    lot: Option<LotId>,
    tenant: Option<TenantId>,
    limit: u32,
) -> Result<Vec<StoredEvent>, Failure> {
    Ok(after_with_origin(c, after, lot, tenant, limit)
        .await?
        .into_iter()
        .map(|(event, _)| event)
        .collect())
}

/// As [`after`], with the instance that wrote each event.
pub async fn after_with_origin<C: GenericClient>(
    c: &C,
    after: u64,
    lot: Option<LotId>,
    tenant: Option<TenantId>,
    limit: u32,
) -> Result<Vec<(StoredEvent, Option<Uuid>)>, Failure> {
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    let lot = lot.map(|l| l.as_uuid());
    let tenant = tenant.map(|t| t.as_uuid());
    let limit = i64::from(limit);
    let params: [&(dyn ToSql + Sync); 4] = [&after, &lot, &tenant, &limit];
    query(
        c,
        &format!(
            "SELECT {EVENT_COLUMNS}, origin FROM events
             WHERE seq > $1
               AND ($2::uuid IS NULL OR lot_id = $2)
               AND ($3::uuid IS NULL OR lot_id IN (SELECT id FROM lots WHERE tenant_id = $3))
             ORDER BY seq LIMIT $4"
        ),
        &params,
    )
    .await?
    .iter()
    .map(|row| Ok((rows::event(row)?, row.try_get::<_, Option<Uuid>>(6)?)))
    .collect()
}

/// The highest `seq` assigned (0 before any).
pub async fn max_seq<C: GenericClient>(c: &C) -> Result<u64, Failure> {
    let seq: i64 = query_one(c, "SELECT COALESCE(MAX(seq), 0) FROM events", &[])
        .await?
        .try_get(0)?;
    rows::sequence(seq)
}

/// The highest `seq` published.
pub async fn cursor<C: GenericClient>(c: &C) -> Result<u64, Failure> {
    let seq: i64 = query_one(
        c,
        "SELECT published_seq FROM event_cursor WHERE id = 1",
        &[],
    )
    .await?
    .try_get(0)?;
    u64::try_from(seq)
        .map_err(|_| Failure::Store(StoreError::Internal(format!("negative event cursor {seq}"))))
}

/// Moves the cursor forward to `seq` (never back: several instances advance it).
pub async fn set_cursor<C: GenericClient>(c: &C, seq: u64) -> Result<(), Failure> {
    let seq = i64::try_from(seq).map_err(|_| {
        Failure::Store(StoreError::Internal(format!(
            "event cursor {seq} out of range"
        )))
    })?;
    execute(
        c,
        "UPDATE event_cursor SET published_seq = GREATEST(published_seq, $1) WHERE id = 1",
        &[&seq],
    )
    .await?;
    Ok(())
}
