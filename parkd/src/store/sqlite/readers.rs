//! The read pool: a few read-only connections, used from `spawn_blocking`.
//!
//! In WAL mode readers never block the writer nor each other, and each read
//! sees the last committed state when it starts. The pool is a plain vector of
//! idle connections behind a std `Mutex` (held only to pop or push, never
//! across an `.await` or a query) and a semaphore with one permit per
//! connection, so a caller waits asynchronously for a free connection instead
//! of occupying a blocking thread.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::Connection;
use tokio::sync::Semaphore;

use super::{SqliteOptions, map_err, open_read_connection};
use crate::store::StoreError;

/// A pool of read-only connections.
#[derive(Debug)]
pub struct Readers {
    idle: Arc<Mutex<Vec<Connection>>>,
    permits: Arc<Semaphore>,
    size: usize,
}

impl Readers {
    /// Opens `options.readers` (at least one) read-only connections to the
    /// existing database at `path`.
    pub fn open(path: &Path, options: &SqliteOptions) -> Result<Readers, StoreError> {
        let size = options.readers.max(1);
        let conns = (0..size)
            .map(|_| {
                let conn = open_read_connection(path, options)?;
                // Belt and braces on top of SQLITE_OPEN_READ_ONLY.
                conn.pragma_update(None, "query_only", true)
                    .map_err(map_err)?;
                Ok(conn)
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Readers {
            idle: Arc::new(Mutex::new(conns)),
            permits: Arc::new(Semaphore::new(size)),
            size,
        })
    }

    /// Number of connections in the pool.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Runs `f` on a free connection on a blocking thread, waiting for one to
    /// be free. Several statements that must see one snapshot belong in one
    /// `f` inside a transaction (`conn.unchecked_transaction()`).
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable("the read pool is closed".into()))?;
        let idle = Arc::clone(&self.idle);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            // A poisoned lock only means another thread panicked between pop
            // and push, which cannot corrupt a Vec; carry on.
            let conn = idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop()
                .ok_or_else(|| {
                    StoreError::Internal("read pool has a permit but no connection".into())
                })?;
            let result = catch_unwind(AssertUnwindSafe(|| f(&conn)))
                .unwrap_or_else(|_| Err(StoreError::Internal("read operation panicked".into())));
            if !conn.is_autocommit() {
                // A transaction left open would pin an old snapshot (and stop
                // WAL checkpoints) for the next user of this connection.
                if let Err(e) = conn.execute_batch("ROLLBACK") {
                    tracing::warn!(error = %e, "could not end a read transaction left open");
                }
            }
            idle.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(conn);
            result
        })
        .await
        .map_err(|e| StoreError::Internal(format!("read task failed: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::sqlite::{SqliteDb, SqliteOptions};

    fn open_db(readers: usize) -> (tempfile::TempDir, Arc<SqliteDb>) {
        let dir = tempfile::tempdir().expect("temp dir");
        let opts = SqliteOptions {
            readers,
            ..SqliteOptions::default()
        };
        let db = SqliteDb::open(&dir.path().join("r.db"), opts).expect("open db");
        (dir, Arc::new(db))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn reads_see_committed_writes_and_run_concurrently_within_the_pool() {
        let (_dir, db) = open_db(2);
        assert_eq!(db.readers().size(), 2);
        db.writer()
            .run(|tx| {
                tx.execute(
                    "INSERT INTO tenants (id, name, created_us) VALUES ('t1', 'one', 1)",
                    [],
                )
                .map_err(map_err)
            })
            .await
            .expect("write");
        let reads: Vec<_> = (0..16)
            .map(|_| {
                let db = Arc::clone(&db);
                tokio::spawn(async move {
                    db.readers()
                        .read(|conn| {
                            conn.query_row("SELECT name FROM tenants WHERE id = 't1'", [], |r| {
                                r.get::<_, String>(0)
                            })
                            .map_err(map_err)
                        })
                        .await
                })
            })
            .collect();
        for r in reads {
            assert_eq!(r.await.expect("task").expect("read"), "one");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn readers_cannot_write() {
        let (_dir, db) = open_db(1);
        let err = db
            .readers()
            .read(|conn| {
                conn.execute(
                    "INSERT INTO tenants (id, name, created_us) VALUES ('x', 'x', 0)",
                    [],
                )
                .map_err(map_err)
            })
            .await
            .expect_err("read-only");
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn missing_row_is_not_found() {
        let (_dir, db) = open_db(1);
        let err = db
            .readers()
            .read(|conn| {
                conn.query_row("SELECT name FROM tenants WHERE id = 'nope'", [], |r| {
                    r.get::<_, String>(0)
                })
                .map_err(map_err)
            })
            .await
            .expect_err("no such tenant");
        assert_eq!(err, StoreError::NotFound);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_or_sloppy_read_keeps_the_pool_whole() {
        let (_dir, db) = open_db(1);
        let err = db
            .readers()
            .read(|_conn| -> Result<(), StoreError> { panic!("read panics on purpose") })
            .await
            .expect_err("panic reported");
        assert!(matches!(err, StoreError::Internal(_)), "{err:?}");
        // Leaves a transaction open: the pool must end it before reuse.
        db.readers()
            .read(|conn| conn.execute_batch("BEGIN").map_err(map_err))
            .await
            .expect("begin");
        db.writer()
            .run(|tx| {
                tx.execute(
                    "INSERT INTO tenants (id, name, created_us) VALUES ('t2', 'two', 2)",
                    [],
                )
                .map_err(map_err)
            })
            .await
            .expect("write");
        let n: i64 = db
            .readers()
            .read(|conn| {
                assert!(conn.is_autocommit(), "no transaction carried over");
                conn.query_row("SELECT count(*) FROM tenants", [], |r| r.get(0))
                    .map_err(map_err)
            })
            .await
            .expect("the single connection is still in the pool");
        assert_eq!(n, 1);
    }
}
