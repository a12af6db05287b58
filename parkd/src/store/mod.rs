//! Persistence for parkd.
//!
//! `sqlite` is the embedded backend: versioned migrations, one group-commit
//! writer thread that owns the write connection, and a small pool of read-only
//! connections. `postgres` is a city's backend, shared by several parkd
//! instances: a connection pool, the no-overlap rule as an exclusion
//! constraint, and [`Cluster`] for keeping the instances in step. [`StoreError`] is the error every backend speaks, so that the
//! service layer never sees a SQL type.

pub mod cursors;
pub mod interface;
pub mod payments;
pub mod postgres;
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

/// One compiled-in schema migration. Each backend lists its own files, with
/// the same version numbers for the same features.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// The version the database is at once this migration is applied.
    pub version: u32,
    /// The file's name part, for logs.
    pub name: &'static str,
    /// The SQL, run as one batch.
    pub sql: &'static str,
}

impl Migration {
    /// The highest version of `migrations` (in version order; 0 for none).
    pub fn latest(migrations: &[Migration]) -> u32 {
        migrations.last().map_or(0, |m| m.version)
    }

    /// Refuses a database at version `found` that `migrations` do not
    /// reach: a newer parkd wrote it.
    pub fn refuse_newer(found: u32, migrations: &[Migration]) -> Result<(), StoreError> {
        let supported = Migration::latest(migrations);
        if found > supported {
            return Err(StoreError::SchemaTooNew { found, supported });
        }
        Ok(())
    }
}

/// A change another parkd instance made, which this instance's in-memory
/// engine must apply (see [`Cluster`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClusterChange {
    /// A lot, its spots or its rates changed, or it was deleted: reload it.
    Lot(parking_core::model::LotId),
    /// An access token was revoked (logout): refuse it here too.
    AccessRevoked {
        /// The token's id.
        jti: uuid::Uuid,
        /// When it would have expired anyway.
        expires_at: chrono::DateTime<chrono::Utc>,
    },
    /// Changes may have been missed (the listening connection was lost):
    /// reload everything.
    Resync,
}

/// One lot as stored, to reload it in memory.
#[derive(Clone, Debug)]
pub struct LotSnapshot {
    /// The lot.
    pub lot: interface::LotRecord,
    /// Its spots, in the order they were added.
    pub spots: Vec<parking_core::model::Spot>,
    /// Its rate card.
    pub rates: Option<parking_core::pricing::RateCard>,
    /// Its reservations that block now.
    pub blocking: Vec<parking_core::model::Reservation>,
}

/// What a backend shared by several parkd instances offers beyond [`Store`]:
/// how an instance learns of the others' changes, and which one runs the
/// background jobs. The reservations themselves travel through the outbox
/// (every instance's dispatcher reads every event); this carries what has no
/// event (lots, spots, rates) and the signal to reload after a gap.
///
/// [`Store`]: interface::Store
#[async_trait::async_trait]
pub trait Cluster: Send + Sync {
    /// Other instances' lot changes and resync requests, from now on.
    fn changes(&self) -> tokio::sync::broadcast::Receiver<ClusterChange>;
    /// Whether the event numbered `seq`, read through `events_after`, was
    /// written by this instance (which applied its change to memory itself);
    /// answers each number once.
    fn is_own_event(&self, seq: u64) -> bool;
    /// The highest event `seq` the last [`snapshot`] surely contains: events
    /// after it must be applied on top of that snapshot. The dispatcher starts
    /// from here rather than from the shared published cursor, which other
    /// instances may have moved past events this instance's snapshot lacks.
    ///
    /// [`snapshot`]: interface::Store::snapshot
    fn snapshot_seq(&self) -> u64;
    /// One lot as stored now; `None` if it was deleted.
    async fn lot_snapshot(
        &self,
        lot: parking_core::model::LotId,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<LotSnapshot>, StoreError>;
    /// Whether this instance runs the background jobs now: at most one
    /// instance holds the job lock at a time, and another takes over when the
    /// holder goes away.
    async fn try_lead(&self) -> Result<bool, StoreError>;
}
