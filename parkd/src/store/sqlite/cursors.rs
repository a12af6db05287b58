//! [`CursorStore`] for SQLite: the `consumer_cursors` table (migration 0005).

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use super::map_err;
use super::store::SqliteStore;
use crate::store::StoreError;
use crate::store::cursors::CursorStore;

/// A stored sequence number as `u64`; a negative one is corrupt data.
fn unsigned(seq: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(seq).map_err(|_| StoreError::Internal(format!("negative {what} {seq}")))
}

fn cursor(conn: &Connection, name: &str) -> Result<u64, StoreError> {
    let seq: Option<i64> = conn
        .query_row(
            "SELECT seq FROM consumer_cursors WHERE name = ?1",
            params![name],
            |row| row.get(0),
        )
        .optional()
        .map_err(map_err)?;
    unsigned(seq.unwrap_or(0), "consumer cursor")
}

fn set_cursor(tx: &Connection, name: &str, seq: u64) -> Result<(), StoreError> {
    let seq = i64::try_from(seq)
        .map_err(|_| StoreError::Internal(format!("consumer cursor {seq} out of range")))?;
    tx.execute(
        "INSERT INTO consumer_cursors (name, seq) VALUES (?1, ?2) \
         ON CONFLICT (name) DO UPDATE SET seq = MAX(seq, excluded.seq)",
        params![name, seq],
    )
    .map_err(map_err)?;
    Ok(())
}

fn latest(conn: &Connection) -> Result<u64, StoreError> {
    // `seq` is the rowid: MAX reads one end of the table's b-tree.
    let seq: i64 = conn
        .query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |row| {
            row.get(0)
        })
        .map_err(map_err)?;
    unsigned(seq, "event seq")
}

#[async_trait]
impl CursorStore for SqliteStore {
    async fn consumer_cursor(&self, name: &str) -> Result<u64, StoreError> {
        let name = name.to_owned();
        self.db()
            .readers()
            .read(move |conn| cursor(conn, &name))
            .await
    }

    async fn set_consumer_cursor(&self, name: &str, seq: u64) -> Result<(), StoreError> {
        let name = name.to_owned();
        self.db()
            .writer()
            .run(move |tx| set_cursor(tx, &name, seq))
            .await
    }

    async fn latest_event_seq(&self) -> Result<u64, StoreError> {
        self.db().readers().read(latest).await
    }
}

#[cfg(test)]
mod tests {
    use parking_core::events::DomainEvent;
    use parking_core::model::UserId;

    use super::*;
    use crate::store::sqlite::{SqliteDb, SqliteOptions};

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = SqliteDb::open(&dir.path().join("c.db"), SqliteOptions::default()).expect("open");
        (dir, SqliteStore::new(db))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn named_cursors_start_at_zero_move_forward_only_and_are_independent() {
        let (_dir, store) = store();
        assert_eq!(store.consumer_cursor("kafka").await.expect("read"), 0);
        store.set_consumer_cursor("kafka", 7).await.expect("set");
        store.set_consumer_cursor("other", 2).await.expect("set");
        assert_eq!(store.consumer_cursor("kafka").await.expect("read"), 7);
        assert_eq!(store.consumer_cursor("other").await.expect("read"), 2);
        store
            .set_consumer_cursor("kafka", 3)
            .await
            .expect("a late, smaller update");
        assert_eq!(store.consumer_cursor("kafka").await.expect("read"), 7);
        // The in-process dispatcher's cursor is a different one.
        use crate::store::interface::Store;
        assert_eq!(store.published_cursor().await.expect("read"), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cursor_name_must_be_short_and_not_empty() {
        let (_dir, store) = store();
        for name in [String::new(), "x".repeat(65)] {
            let err = store
                .set_consumer_cursor(&name, 1)
                .await
                .expect_err("refused by the CHECK");
            assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_latest_seq_follows_the_outbox() {
        use crate::store::interface::{Store, UserRecord};
        let (_dir, store) = store();
        assert_eq!(store.latest_event_seq().await.expect("empty"), 0);
        for n in 0..3 {
            let id = UserId::new();
            store
                .create_user(
                    UserRecord {
                        id,
                        email: format!("u{n}@example.com"),
                        password_hash: "h".into(),
                        first_name: "U".into(),
                        last_name: "Ser".into(),
                        phone_enc: None,
                        roles: vec![crate::auth::Role::Driver],
                        tenant_id: None,
                        created_at: chrono::Utc::now(),
                    },
                    DomainEvent::UserRegistered {
                        user_id: id,
                        tenant_id: None,
                    },
                )
                .await
                .expect("user");
        }
        assert_eq!(store.latest_event_seq().await.expect("three"), 3);
    }
}
