//! Persistence for parkd.
//!
//! `sqlite` is the embedded backend: versioned migrations, one group-commit
//! writer thread that owns the write connection, and a small pool of read-only
//! connections. [`StoreError`] is the error every backend speaks, so that the
//! service layer never sees a SQL type.

pub mod cursors;
pub mod interface;
pub mod payments;
pub mod realtime;
pub mod sensors;
pub mod sqlite;

/// What can go wrong in the store, in terms callers can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A constraint refused the write: a unique key, a foreign key, a CHECK or
    /// the no-overlap trigger. The message names it (e.g. `reservation_overlap`
    /// or `UNIQUE constraint failed: tenants.name`).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The row asked for does not exist.
    #[error("not found")]
    NotFound,
    /// The database cannot serve the request right now: locked, busy, closed,
    /// an I/O failure, or the writer has shut down.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The database was written by a newer parkd than this one.
    #[error(
        "database schema version {found} is newer than this parkd supports ({supported}); upgrade parkd"
    )]
    SchemaTooNew {
        /// The schema version found in the database.
        found: u32,
        /// The highest schema version this binary knows.
        supported: u32,
    },
    /// Anything else: a bug, a corrupt row, a panic in a store operation.
    #[error("internal storage error: {0}")]
    Internal(String),
}
