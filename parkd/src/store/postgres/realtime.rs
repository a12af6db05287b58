//! [`RealtimeStore`] for PostgreSQL: per-lot reads of the outbox over its
//! `(lot_id, lot_seq)` unique index. Events are numbered after commit (see
//! `events.rs`), so each read runs the sequencer first, as `events_after`
//! does: a client resuming from a `lot_seq` sees every event committed before
//! its request.

use async_trait::async_trait;
use parking_core::model::LotId;

use super::rows::{self, EVENT_COLUMNS};
use super::sql::{query, query_one};
use super::store::PgStore;
use super::{Failure, events, in_transaction};
use crate::store::StoreError;
use crate::store::interface::StoredEvent;
use crate::store::realtime::RealtimeStore;

fn as_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[async_trait]
impl RealtimeStore for PgStore {
    async fn latest_lot_seqs(&self, lots: Vec<LotId>) -> Result<Vec<u64>, StoreError> {
        in_transaction!(self.pool(), tx => events::sequence_pending(&tx).await?)?;
        let client = self.client().await?;
        let mut latest = Vec::with_capacity(lots.len());
        for lot in lots {
            let n: i64 = query_one(
                &client,
                "SELECT COALESCE(MAX(lot_seq), 0) FROM events WHERE lot_id = $1",
                &[&lot.as_uuid()],
            )
            .await
            .and_then(|row| Ok(row.try_get(0)?))
            .map_err(Failure::into_store)?;
            latest.push(rows::sequence(n).map_err(Failure::into_store)?);
        }
        Ok(latest)
    }

    async fn lot_events_between(
        &self,
        lot: LotId,
        after: u64,
        upto: u64,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        in_transaction!(self.pool(), tx => events::sequence_pending(&tx).await?)?;
        let client = self.client().await?;
        let found = query(
            &client,
            &format!(
                "SELECT {EVENT_COLUMNS} FROM events
                 WHERE lot_id = $1 AND lot_seq > $2 AND lot_seq <= $3 ORDER BY lot_seq LIMIT $4"
            ),
            &[
                &lot.as_uuid(),
                &as_i64(after),
                &as_i64(upto),
                &i64::from(limit),
            ],
        )
        .await
        .map_err(Failure::into_store)?;
        found
            .iter()
            .map(rows::event)
            .collect::<Result<Vec<_>, _>>()
            .map_err(Failure::into_store)
    }
}
