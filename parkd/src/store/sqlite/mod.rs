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

mod cursors;
mod events;
mod lots;
mod payments;
mod realtime;
mod reservations;
mod rows;
mod sensors;
pub mod store;
mod users;

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

/// The schema's no-overlap triggers (DESIGN.md invariant 1), exercised on a
/// plain migrated connection.
#[cfg(test)]
mod overlap_tests {
    use rusqlite::params;

    use super::*;

    const MIN: i64 = 60_000_000;
    const HOUR: i64 = 60 * MIN;

    struct Fixture {
        _dir: tempfile::TempDir,
        conn: Connection,
        /// A whole hour, a day from now: bookings are placed relative to it.
        base: i64,
    }

    fn now_us() -> i64 {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970");
        i64::try_from(d.as_micros()).expect("fits i64")
    }

    /// One tenant, one user, lot `l0` (buffer 0) with spots `a`..`e`, lot
    /// `l15` (buffer 15 min) with spot `z`.
    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut conn = open_write_connection(&dir.path().join("o.db"), &SqliteOptions::default())
            .expect("open");
        migrate::migrate(&mut conn).expect("migrate");
        conn.execute_batch(
            "INSERT INTO tenants VALUES ('t', 'tenant', 0);
             INSERT INTO users (id, email, password_hash, first_name, last_name, created_us)
                 VALUES ('u', 'u@example.com', 'h', 'U', 'Ser', 0);
             INSERT INTO lots (id, tenant_id, name, address, lat, lng, timezone,
                               turnover_buffer_minutes, created_us, updated_us)
                 VALUES ('l0', 't', 'Zero', 'addr', 52.0, -1.0, 'Europe/London', 0, 0, 0),
                        ('l15', 't', 'Fifteen', 'addr', 52.0, -1.0, 'Europe/London', 15, 0, 0);
             INSERT INTO spots (id, lot_id, label, kind) VALUES
                 ('a', 'l0', 'A', 'regular'), ('b', 'l0', 'B', 'regular'),
                 ('c', 'l0', 'C', 'ev'), ('d', 'l0', 'D', 'compact'),
                 ('e', 'l0', 'E', 'accessible'), ('z', 'l15', 'Z', 'motorcycle');",
        )
        .expect("seed");
        let base = (now_us() / HOUR + 24) * HOUR;
        Fixture {
            _dir: dir,
            conn,
            base,
        }
    }

    impl Fixture {
        /// Inserts a reservation `[base + start, base + end)`; for `held`,
        /// `hold` is the hold's expiry relative to now.
        fn book(
            &self,
            id: &str,
            spot: &str,
            start: i64,
            end: i64,
            status: &str,
            hold: Option<i64>,
        ) -> Result<(), StoreError> {
            let lot = if spot == "z" { "l15" } else { "l0" };
            self.conn
                .execute(
                    "INSERT INTO reservations (id, lot_id, spot_id, user_id, start_us, end_us,
                         status, hold_expires_us, total_amount, currency, quote_json,
                         created_us, updated_us)
                     VALUES (?1, ?2, ?3, 'u', ?4, ?5, ?6, ?7, 500, 'GBP', '{}', 0, 0)",
                    params![
                        id,
                        lot,
                        spot,
                        self.base + start,
                        self.base + end,
                        status,
                        hold.map(|h| now_us() + h)
                    ],
                )
                .map(|_| ())
                .map_err(map_err)
        }

        fn update(&self, sql: &str, id: &str) -> Result<(), StoreError> {
            self.conn.execute(sql, [id]).map(|_| ()).map_err(map_err)
        }
    }

    fn assert_overlap(r: Result<(), StoreError>) {
        assert_eq!(r, Err(StoreError::Conflict("reservation_overlap".into())));
    }

    #[test]
    fn overlapping_confirmed_is_refused() {
        let f = fixture();
        f.book("r1", "a", 10 * HOUR, 12 * HOUR, "confirmed", None)
            .expect("first");
        assert_overlap(f.book("r2", "a", 11 * HOUR, 13 * HOUR, "confirmed", None));
        assert_overlap(f.book("r3", "a", 9 * HOUR, 13 * HOUR, "confirmed", None));
        assert_overlap(f.book("r4", "a", 10 * HOUR + MIN, 11 * HOUR, "checked_in", None));
        assert_overlap(f.book("r5", "a", 11 * HOUR, 12 * HOUR, "held", Some(10 * MIN)));
        // Another spot is free.
        f.book("r6", "b", 11 * HOUR, 13 * HOUR, "confirmed", None)
            .expect("other spot");
    }

    #[test]
    fn touching_bookings_are_accepted_without_buffer() {
        let f = fixture();
        f.book("r1", "a", 10 * HOUR, 12 * HOUR, "confirmed", None)
            .expect("first");
        f.book("r2", "a", 12 * HOUR, 14 * HOUR, "confirmed", None)
            .expect("starts when r1 ends");
        f.book("r3", "a", 8 * HOUR, 10 * HOUR, "confirmed", None)
            .expect("ends when r1 starts");
    }

    #[test]
    fn turnover_buffer_widens_each_booking() {
        let f = fixture();
        f.book("r1", "z", 10 * HOUR, 12 * HOUR, "confirmed", None)
            .expect("first");
        assert_overlap(f.book("r2", "z", 12 * HOUR, 14 * HOUR, "confirmed", None));
        assert_overlap(f.book(
            "r3",
            "z",
            12 * HOUR + 14 * MIN,
            14 * HOUR,
            "confirmed",
            None,
        ));
        f.book(
            "r4",
            "z",
            12 * HOUR + 15 * MIN,
            14 * HOUR,
            "confirmed",
            None,
        )
        .expect("a full buffer after r1");
        assert_overlap(f.book("r5", "z", 8 * HOUR, 9 * HOUR + 50 * MIN, "confirmed", None));
        f.book("r6", "z", 8 * HOUR, 9 * HOUR + 45 * MIN, "confirmed", None)
            .expect("a full buffer before r1");
    }

    #[test]
    fn cancelled_and_expired_holds_do_not_block() {
        let f = fixture();
        f.book("c1", "c", 10 * HOUR, 12 * HOUR, "cancelled", None)
            .expect("cancelled row");
        f.book("x1", "c", 10 * HOUR, 12 * HOUR, "expired", None)
            .expect("expired row");
        f.book("h1", "c", 10 * HOUR, 12 * HOUR, "held", Some(-MIN))
            .expect("hold that already expired (never blocking)");
        f.book("r1", "c", 10 * HOUR, 12 * HOUR, "confirmed", None)
            .expect("none of those block");
        // Non-blocking rows may overlap a blocking one.
        f.book("c2", "c", 11 * HOUR, 13 * HOUR, "cancelled", None)
            .expect("a cancelled row is never refused");
        f.book("n1", "c", 11 * HOUR, 13 * HOUR, "completed", None)
            .expect("a completed row is never refused");
        // A live hold blocks.
        f.book("h2", "d", 14 * HOUR, 16 * HOUR, "held", Some(10 * MIN))
            .expect("live hold");
        assert_overlap(f.book("r2", "d", 15 * HOUR, 17 * HOUR, "confirmed", None));
        // Once the hold has lapsed (even with status still `held`), it no
        // longer blocks.
        f.update(
            "UPDATE reservations SET hold_expires_us = 1 WHERE id = ?1",
            "h2",
        )
        .expect("lapse the hold");
        f.book("r3", "d", 15 * HOUR, 17 * HOUR, "confirmed", None)
            .expect("lapsed hold ignored");
    }

    #[test]
    fn updates_are_checked_too() {
        let f = fixture();
        f.book("r1", "e", 10 * HOUR, 12 * HOUR, "confirmed", None)
            .expect("first");
        f.book("r2", "e", 13 * HOUR, 14 * HOUR, "confirmed", None)
            .expect("second");
        // Moving r2 into r1 is refused; moving it within its own free slot
        // is fine (a row never conflicts with itself).
        assert_overlap(f.update(
            &format!(
                "UPDATE reservations SET start_us = {} WHERE id = ?1",
                f.base + 11 * HOUR
            ),
            "r2",
        ));
        f.update(
            &format!(
                "UPDATE reservations SET end_us = {} WHERE id = ?1",
                f.base + 15 * HOUR
            ),
            "r2",
        )
        .expect("extend into free time");
        // Re-activating a cancelled overlapping row is refused.
        f.book("c1", "e", 11 * HOUR, 12 * HOUR, "cancelled", None)
            .expect("cancelled");
        assert_overlap(f.update(
            "UPDATE reservations SET status = 'confirmed' WHERE id = ?1",
            "c1",
        ));
        // Moving to another spot is checked against that spot.
        f.book("r3", "a", 10 * HOUR, 12 * HOUR, "confirmed", None)
            .expect("on a");
        assert_overlap(f.update("UPDATE reservations SET spot_id = 'e' WHERE id = ?1", "r3"));
        // Cancelling is always allowed, and frees the time.
        f.update(
            "UPDATE reservations SET status = 'cancelled' WHERE id = ?1",
            "r1",
        )
        .expect("cancel");
        f.update("UPDATE reservations SET spot_id = 'e' WHERE id = ?1", "r3")
            .expect("now free");
    }

    #[test]
    fn schema_checks_refuse_bad_rows() {
        let f = fixture();
        let bad_interval = f.book("r1", "a", 12 * HOUR, 10 * HOUR, "confirmed", None);
        assert!(matches!(bad_interval, Err(StoreError::Conflict(ref m)) if m.contains("CHECK")));
        let bad_status = f.book("r2", "a", 10 * HOUR, 12 * HOUR, "booked", None);
        assert!(matches!(bad_status, Err(StoreError::Conflict(_))));
        let bad_kind = f
            .conn
            .execute(
                "INSERT INTO spots (id, lot_id, label, kind) VALUES ('q', 'l0', 'Q', 'truck')",
                [],
            )
            .map_err(map_err);
        assert!(matches!(bad_kind, Err(StoreError::Conflict(_))));
        let dup_label = f
            .conn
            .execute(
                "INSERT INTO spots (id, lot_id, label, kind) VALUES ('q', 'l0', 'A', 'ev')",
                [],
            )
            .map_err(map_err);
        assert_eq!(
            dup_label,
            Err(StoreError::Conflict(
                "UNIQUE constraint failed: spots.lot_id, spots.label".into()
            ))
        );
        let email_case = f
            .conn
            .execute(
                "INSERT INTO users (id, email, password_hash, first_name, last_name, created_us)
                 VALUES ('u2', 'U@EXAMPLE.COM', 'h', 'U', 'Two', 0)",
                [],
            )
            .map_err(map_err);
        assert!(
            matches!(email_case, Err(StoreError::Conflict(ref m)) if m.contains("users.email")),
            "emails are unique regardless of case: {email_case:?}"
        );
        let orphan = f
            .conn
            .execute(
                "INSERT INTO spots (id, lot_id, label, kind) VALUES ('q', 'nolot', 'Q', 'ev')",
                [],
            )
            .map_err(map_err);
        assert_eq!(
            orphan,
            Err(StoreError::Conflict("FOREIGN KEY constraint failed".into()))
        );
    }

    #[test]
    fn overlap_check_uses_an_index() {
        let f = fixture();
        let plan: Vec<String> = f
            .conn
            .prepare(
                "EXPLAIN QUERY PLAN SELECT 1 FROM reservations AS r
                 WHERE r.spot_id = 'a' AND r.id <> 'x'
                   AND r.start_us < 10 AND r.end_us > 5",
            )
            .expect("prepare")
            .query_map([], |r| r.get::<_, String>(3))
            .expect("plan")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert!(
            plan.iter()
                .any(|p| p.contains("USING INDEX reservations_spot")),
            "{plan:?}"
        );
    }
}
