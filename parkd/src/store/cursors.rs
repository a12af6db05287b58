//! Cursors of the outbox's named consumers (the Kafka publisher, `kafka`): each
//! reads the `events` log on its own, at its own pace, so a slow or unreachable
//! destination never holds back the in-process bus or another consumer.

use async_trait::async_trait;

use super::StoreError;

/// Persisted positions of named outbox consumers.
#[async_trait]
pub trait CursorStore: Send + Sync + 'static {
    /// The highest `seq` consumer `name` has finished (0 before it finished any).
    async fn consumer_cursor(&self, name: &str) -> Result<u64, StoreError>;
    /// Records that consumer `name` finished every event up to `seq`; never
    /// moves its cursor back.
    async fn set_consumer_cursor(&self, name: &str, seq: u64) -> Result<(), StoreError>;
    /// The highest `seq` in the outbox (0 when empty): with a cursor, how far
    /// behind a consumer is.
    async fn latest_event_seq(&self) -> Result<u64, StoreError>;
}
