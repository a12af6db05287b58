//! [`RealtimeStore`] for SQLite: per-lot reads of the outbox over its
//! `(lot_id, lot_seq)` index.

use async_trait::async_trait;
use parking_core::model::LotId;
use rusqlite::{Connection, params};

use super::events::stored_row;
use super::map_err;
use super::store::SqliteStore;
use crate::store::StoreError;
use crate::store::interface::StoredEvent;
use crate::store::realtime::RealtimeStore;

fn as_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn latest(conn: &Connection, lots: &[LotId]) -> Result<Vec<u64>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT COALESCE(MAX(lot_seq), 0) FROM events WHERE lot_id = ?1")
        .map_err(map_err)?;
    lots.iter()
        .map(|lot| {
            let n: i64 = stmt
                .query_row(params![lot.to_string()], |row| row.get(0))
                .map_err(map_err)?;
            u64::try_from(n).map_err(|_| StoreError::Internal(format!("negative lot_seq {n}")))
        })
        .collect()
}

fn between(
    conn: &Connection,
    lot: LotId,
    after: u64,
    upto: u64,
    limit: u32,
) -> Result<Vec<StoredEvent>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT seq, lot_id, lot_seq, type, payload_json, occurred_us FROM events \
             WHERE lot_id = ?1 AND lot_seq > ?2 AND lot_seq <= ?3 ORDER BY lot_seq LIMIT ?4",
        )
        .map_err(map_err)?;
    stmt.query_map(
        params![
            lot.to_string(),
            as_i64(after),
            as_i64(upto),
            i64::from(limit)
        ],
        stored_row,
    )
    .map_err(map_err)?
    .collect::<Result<Vec<_>, _>>()
    .map_err(map_err)
}

#[async_trait]
impl RealtimeStore for SqliteStore {
    async fn latest_lot_seqs(&self, lots: Vec<LotId>) -> Result<Vec<u64>, StoreError> {
        self.db()
            .readers()
            .read(move |conn| latest(conn, &lots))
            .await
    }

    async fn lot_events_between(
        &self,
        lot: LotId,
        after: u64,
        upto: u64,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.db()
            .readers()
            .read(move |conn| between(conn, lot, after, upto, limit))
            .await
    }
}
