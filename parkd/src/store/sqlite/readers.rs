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
