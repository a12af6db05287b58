//! What the WebSocket hub asks of storage beyond [`Store`](super::interface::Store):
//! a lot's event sequence, for resuming clients.

use async_trait::async_trait;
use parking_core::model::LotId;

use super::StoreError;
use super::interface::StoredEvent;

/// Per-lot reads of the outbox.
#[async_trait]
pub trait RealtimeStore: Send + Sync {
    /// The highest `lot_seq` of each lot in `lots` (0 for a lot without
    /// events), in the order asked.
    async fn latest_lot_seqs(&self, lots: Vec<LotId>) -> Result<Vec<u64>, StoreError>;
    /// Events of `lot` with `after < lot_seq <= upto`, in `lot_seq` order, at
    /// most `limit`.
    async fn lot_events_between(
        &self,
        lot: LotId,
        after: u64,
        upto: u64,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError>;
}
