//! Versioned schema migrations for PostgreSQL, compiled into the binary.
//!
//! Each migration is `migrations/postgres/NNNN_name.sql`, listed in
//! [`MIGRATIONS`] in version order; the numbers follow SQLite's, so both
//! backends report the same schema version for the same features. The versions
//! applied are rows of `schema_migrations`. [`migrate`] takes a session
//! advisory lock (several instances starting at once apply each migration
//! once), then applies every newer migration in its own transaction together
//! with its row: PostgreSQL's DDL is transactional, so a failure leaves the
//! database at the last complete version. A database with a version above the
//! highest known one was written by a newer parkd and is refused with
//! [`StoreError::SchemaTooNew`].
//!
//! Adding a migration: write `NNNN_name.sql` and add one entry here.

use deadpool_postgres::GenericClient;

use super::Failure;
use super::sql::execute;
pub use crate::store::Migration;
use crate::store::StoreError;

/// Every migration, in strictly increasing version order.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../../../../migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "event_cursor",
        sql: include_str!("../../../../migrations/postgres/0002_event_cursor.sql"),
    },
    Migration {
        version: 3,
        name: "sensors",
        sql: include_str!("../../../../migrations/postgres/0003_sensors.sql"),
    },
    Migration {
        version: 4,
        name: "payments",
        sql: include_str!("../../../../migrations/postgres/0004_payments.sql"),
    },
    Migration {
        version: 5,
        name: "consumer_cursors",
        sql: include_str!("../../../../migrations/postgres/0005_consumer_cursors.sql"),
    },
];

/// The advisory lock key held while migrating (session-scoped).
const MIGRATION_LOCK: i64 = 0x7061_726b_0000;

/// The highest schema version this binary knows.
pub fn latest_version() -> u32 {
    Migration::latest(MIGRATIONS)
}

/// The schema version recorded in the database (0 for an empty database).
pub async fn current_version<C: GenericClient>(c: &C) -> Result<u32, Failure> {
    let exists: bool = c
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
        .await?
        .try_get(0)?;
    if !exists {
        return Ok(0);
    }
    let v: i32 = c
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )
        .await?
        .try_get(0)?;
    u32::try_from(v)
        .map_err(|_| Failure::Store(StoreError::Internal(format!("invalid schema version {v}"))))
}

/// Brings the database up to [`latest_version`]; returns the versions applied.
pub async fn migrate(client: &mut deadpool_postgres::Client) -> Result<Vec<u32>, StoreError> {
    migrate_with(client, MIGRATIONS).await
}

/// [`migrate`] over an explicit list, so tests can simulate a newer binary.
pub async fn migrate_with(
    client: &mut deadpool_postgres::Client,
    migrations: &[Migration],
) -> Result<Vec<u32>, StoreError> {
    let result = async {
        client
            .batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
            .await?;
        let outcome = apply(client, migrations).await;
        // Released whatever happened: the connection goes back to the pool.
        client
            .batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))
            .await?;
        outcome
    }
    .await;
    result.map_err(Failure::into_store)
}

async fn apply(
    client: &mut deadpool_postgres::Client,
    migrations: &[Migration],
) -> Result<Vec<u32>, Failure> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version     integer     PRIMARY KEY,
                 name        text        NOT NULL,
                 applied_at  timestamptz NOT NULL DEFAULT now()
             )",
        )
        .await?;
    let found = current_version(&*client).await?;
    Migration::refuse_newer(found, migrations).map_err(Failure::Store)?;
    let mut applied = Vec::new();
    for m in migrations.iter().filter(|m| m.version > found) {
        let tx = client.transaction().await?;
        tx.batch_execute(m.sql).await.map_err(|e| {
            Failure::Store(StoreError::Internal(format!(
                "migration {:04}_{} failed: {}",
                m.version,
                m.name,
                super::map_err(&e)
            )))
        })?;
        let version = i32::try_from(m.version)
            .map_err(|_| Failure::Store(StoreError::Internal("version out of range".into())))?;
        execute(
            &tx,
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            &[&version, &m.name],
        )
        .await?;
        tx.commit().await?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "applied postgres migration"
        );
        applied.push(m.version);
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_consecutive_from_one_and_match_sqlite() {
        // The runner records only the highest version applied, so a gap would
        // skip a migration that lands later: numbers must be consecutive. The
        // two backends share version numbers, so `migrate-data` and operators
        // can speak of one schema version.
        let mut prev = 0;
        for m in MIGRATIONS {
            assert_eq!(m.version, prev + 1, "migration {} out of order", m.name);
            prev = m.version;
        }
        assert_eq!(
            latest_version(),
            crate::store::sqlite::migrate::latest_version()
        );
    }
}
