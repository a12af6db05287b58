//! [`CursorStore`] for PostgreSQL: the `consumer_cursors` table (migration
//! 0005). Several instances may write one cursor; `GREATEST` keeps it from
//! moving back whichever commits last.

use async_trait::async_trait;

use super::sql::{execute, query_opt};
use super::store::PgStore;
use super::{Failure, events, in_transaction, rows};
use crate::store::StoreError;
use crate::store::cursors::CursorStore;

#[async_trait]
impl CursorStore for PgStore {
    async fn consumer_cursor(&self, name: &str) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let seq: Option<i64> = query_opt(
            &client,
            "SELECT seq FROM consumer_cursors WHERE name = $1",
            &[&name],
        )
        .await
        .and_then(|row| row.map(|r| r.try_get(0).map_err(Failure::from)).transpose())
        .map_err(Failure::into_store)?;
        rows::sequence(seq.unwrap_or(0)).map_err(Failure::into_store)
    }

    async fn set_consumer_cursor(&self, name: &str, seq: u64) -> Result<(), StoreError> {
        let seq = i64::try_from(seq)
            .map_err(|_| StoreError::Internal(format!("consumer cursor {seq} out of range")))?;
        in_transaction!(self.pool(), tx => {
            execute(
                &tx,
                "INSERT INTO consumer_cursors (name, seq) VALUES ($1, $2)
                 ON CONFLICT (name) DO UPDATE SET seq = GREATEST(consumer_cursors.seq, excluded.seq)",
                &[&name, &seq],
            )
            .await?;
        })
    }

    async fn latest_event_seq(&self) -> Result<u64, StoreError> {
        // Committed events count once numbered (see events.rs): number them
        // first, so the lag includes everything written so far.
        in_transaction!(self.pool(), tx => events::sequence_pending(&tx).await?)?;
        let client = self.client().await?;
        events::max_seq(&client).await.map_err(Failure::into_store)
    }
}
