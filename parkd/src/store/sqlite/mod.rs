//! The embedded SQLite backend.
//!
//! Layout:
//! - [`migrate`]: versioned SQL files compiled in, applied in order, recorded in
//!   `PRAGMA user_version`; a newer schema is refused.
//! - [`writer`]: one OS thread owns the only write connection and commits the
//!   operations waiting for it together (group commit); every caller still gets
//!   its own result, and only after the commit.
//! - [`readers`]: a small pool of read-only connections used from
//!   `spawn_blocking`.
//!
//! [`SqliteDb::open`] wires these together; [`map_err`] is the one place where a
//! `rusqlite::Error` becomes a [`StoreError`].
//!
//! # Durability
//!
//! The database runs in WAL mode. DESIGN.md invariant 2 asks that an
//! acknowledged write survive `kill -9` of parkd. In WAL mode any committed
//! transaction is already in the `-wal` file (in the OS page cache) when
//! `COMMIT` returns, whatever `synchronous` says, so a killed *process* loses
//! nothing. What `synchronous` decides is an *OS crash or power loss*:
//! `NORMAL` fsyncs only at checkpoints and may lose the last commits, `FULL`
//! fsyncs the WAL on every commit. parkd defaults to [`Synchronous::Full`]:
//! bookings and payments are the system of record, and group commit already
//! spreads one fsync over every operation in a batch. [`Synchronous::Normal`]
//! is available for deployments that accept losing the last moments of writes
//! on a power cut in exchange for fewer fsyncs.

pub mod migrate;
pub mod readers;
pub mod writer;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags};

pub use readers::Readers;
pub use writer::{Writer, WriterStats};

use super::StoreError;

/// How hard SQLite works to make a commit survive an OS crash (see the module
/// docs: both survive a killed process).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// fsync the WAL at every commit: acknowledged writes survive power loss.
    #[default]
    Full,
    /// fsync only at checkpoints: survives a killed process, may lose the last
    /// commits on an OS crash.
    Normal,
}

impl Synchronous {
    fn pragma_value(self) -> &'static str {
        match self {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        }
    }
}

/// Tuning for [`SqliteDb::open`]. `Default` is what parkd ships with.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Number of read-only connections (at least 1).
    pub readers: usize,
    /// Durability of each commit; see [`Synchronous`].
    pub synchronous: Synchronous,
    /// How long a connection waits for a lock before failing with
    /// [`StoreError::Unavailable`].
    pub busy_timeout: Duration,
    /// Page cache per connection, in KiB. Kept modest: parkd aims at ≤ 50 MB
    /// resident, and the hot data also lives in the in-memory engine.
    pub cache_size_kib: u32,
    /// Most operations the writer puts in one transaction.
    pub max_batch: usize,
    /// Capacity of the writer's queue; callers wait (asynchronously) when it is
    /// full, which is the back-pressure under overload.
    pub queue_capacity: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            readers: 4,
            synchronous: Synchronous::Full,
            busy_timeout: Duration::from_secs(5),
            cache_size_kib: 8 * 1024,
            max_batch: 512,
            queue_capacity: 4096,
        }
    }
}

/// Pragmas shared by the writer and the readers.
fn apply_common_pragmas(conn: &Connection, opts: &SqliteOptions) -> Result<(), StoreError> {
    conn.busy_timeout(opts.busy_timeout).map_err(map_err)?;
    // Negative cache_size is in KiB rather than pages.
    conn.pragma_update(None, "cache_size", -i64::from(opts.cache_size_kib))
        .map_err(map_err)?;
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(map_err)?;
    conn.pragma_update(None, "temp_store", "MEMORY")
        .map_err(map_err)?;
    Ok(())
}

/// Opens (creating if needed) the read-write connection and configures it.
fn open_write_connection(path: &Path, opts: &SqliteOptions) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(map_err)?;
    apply_common_pragmas(&conn, opts)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(map_err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Unavailable(format!(
            "could not switch {} to WAL (journal_mode is {mode})",
            path.display()
        )));
    }
    conn.pragma_update(None, "synchronous", opts.synchronous.pragma_value())
        .map_err(map_err)?;
    Ok(conn)
}

/// Opens one read-only connection (the file must already exist in WAL mode).
fn open_read_connection(path: &Path, opts: &SqliteOptions) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(map_err)?;
    apply_common_pragmas(&conn, opts)?;
    Ok(conn)
}

/// Turns a rusqlite error into a [`StoreError`]. The one mapping for the whole
/// backend, so every caller classifies errors the same way.
pub fn map_err(err: rusqlite::Error) -> StoreError {
    match err {
        rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound,
        rusqlite::Error::SqliteFailure(ref e, ref msg) => {
            let text = msg.clone().unwrap_or_else(|| e.to_string());
            match e.code {
                ErrorCode::ConstraintViolation => StoreError::Conflict(text),
                ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::SystemIoFailure
                | ErrorCode::CannotOpen
                | ErrorCode::DiskFull
                | ErrorCode::ReadOnly
                | ErrorCode::FileLockingProtocolFailed
                | ErrorCode::OutOfMemory
                | ErrorCode::PermissionDenied => StoreError::Unavailable(text),
                _ => StoreError::Internal(text),
            }
        }
        other => StoreError::Internal(other.to_string()),
    }
}

/// The SQLite database of one data directory: the writer and the readers.
#[derive(Debug)]
pub struct SqliteDb {
    path: PathBuf,
    writer: Writer,
    readers: Readers,
}

impl SqliteDb {
    /// Opens the database file at `path` (creating it and its directory),
    /// applies pending migrations, starts the writer thread and opens the
    /// read pool. Fails with [`StoreError::SchemaTooNew`] when the file was
    /// written by a newer parkd.
    pub fn open(path: &Path, options: SqliteOptions) -> Result<SqliteDb, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let mut conn = open_write_connection(path, &options)?;
        let applied = migrate::migrate(&mut conn)?;
        tracing::info!(
            path = %path.display(),
            applied = ?applied,
            version = migrate::latest_version(),
            "sqlite database open"
        );
        let readers = Readers::open(path, &options)?;
        let writer = Writer::start(conn, &options)?;
        Ok(SqliteDb {
            path: path.to_path_buf(),
            writer,
            readers,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The group-commit writer; every write goes through it.
    pub fn writer(&self) -> &Writer {
        &self.writer
    }

    /// The read-only connection pool.
    pub fn readers(&self) -> &Readers {
        &self.readers
    }

    /// Stops accepting writes, commits everything already queued, and waits
    /// for the writer thread to exit.
    pub async fn shutdown(&self) {
        self.writer.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_creates_directory_and_sets_pragmas() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("nested/deeper/parkd.db");
        let db = SqliteDb::open(&path, SqliteOptions::default()).expect("open");
        assert!(path.exists());
        let check = Connection::open(&path).expect("reopen");
        let mode: String = check
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .expect("journal_mode");
        assert_eq!(mode, "wal");
        assert_eq!(
            migrate::current_version(&check).expect("version"),
            migrate::latest_version()
        );
        drop(db);
    }

    #[test]
    fn writer_connection_pragmas() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("p.db");
        let opts = SqliteOptions::default();
        let conn = open_write_connection(&path, &opts).expect("open");
        let fk: i64 = conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .expect("foreign_keys");
        assert_eq!(fk, 1);
        let sync: i64 = conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .expect("synchronous");
        assert_eq!(sync, 2, "FULL by default");
        let normal = SqliteOptions {
            synchronous: Synchronous::Normal,
            ..SqliteOptions::default()
        };
        let conn2 = open_write_connection(&dir.path().join("q.db"), &normal).expect("open");
        let sync: i64 = conn2
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .expect("synchronous");
        assert_eq!(sync, 1, "NORMAL when asked");
    }

    #[test]
    fn newer_schema_refused_at_open() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("new.db");
        {
            let conn = Connection::open(&path).expect("create");
            conn.pragma_update(None, "user_version", 999)
                .expect("set version");
        }
        let err = SqliteDb::open(&path, SqliteOptions::default()).expect_err("refused");
        assert!(
            matches!(err, StoreError::SchemaTooNew { found: 999, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn map_err_classifies() {
        let conn = Connection::open_in_memory().expect("memory db");
        conn.execute_batch("CREATE TABLE t (x INTEGER UNIQUE); INSERT INTO t VALUES (1);")
            .expect("setup");
        let unique = conn
            .execute("INSERT INTO t VALUES (1)", [])
            .expect_err("duplicate");
        assert_eq!(
            map_err(unique),
            StoreError::Conflict("UNIQUE constraint failed: t.x".into())
        );
        let none = conn
            .query_row("SELECT x FROM t WHERE x = 2", [], |r| r.get::<_, i64>(0))
            .expect_err("no row");
        assert_eq!(map_err(none), StoreError::NotFound);
        let syntax = conn.execute("NOT SQL", []).expect_err("syntax");
        assert!(matches!(map_err(syntax), StoreError::Internal(_)));
    }
}
