//! Versioned schema migrations, compiled into the binary.
//!
//! Each migration is a SQL file `migrations/sqlite/NNNN_name.sql` at the top of
//! the repository, listed in [`MIGRATIONS`] in version order. A database records
//! the last version applied in `PRAGMA user_version` (0 for a fresh file).
//! [`migrate`] applies every newer migration in order, each in its own
//! `BEGIN IMMEDIATE` transaction together with the `user_version` bump, so a
//! crash mid-upgrade leaves the database at the last complete version. A
//! database whose version is above the highest known one was written by a newer
//! parkd and is refused with [`StoreError::SchemaTooNew`] rather than touched.

use rusqlite::{Connection, TransactionBehavior};

use super::map_err;
pub use crate::store::Migration;
use crate::store::StoreError;

/// Every migration, in strictly increasing version order.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../../../../migrations/sqlite/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "event_cursor",
        sql: include_str!("../../../../migrations/sqlite/0002_event_cursor.sql"),
    },
    Migration {
        version: 3,
        name: "sensors",
        sql: include_str!("../../../../migrations/sqlite/0003_sensors.sql"),
    },
    Migration {
        version: 4,
        name: "payments",
        sql: include_str!("../../../../migrations/sqlite/0004_payments.sql"),
    },
    Migration {
        version: 5,
        name: "consumer_cursors",
        sql: include_str!("../../../../migrations/sqlite/0005_consumer_cursors.sql"),
    },
];

/// The highest schema version this binary knows.
pub fn latest_version() -> u32 {
    Migration::latest(MIGRATIONS)
}

/// The schema version recorded in the database (`PRAGMA user_version`).
pub fn current_version(conn: &Connection) -> Result<u32, StoreError> {
    let v: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(map_err)?;
    // user_version is a signed 32-bit header field; a negative value is not
    // one we ever write.
    u32::try_from(v).map_err(|_| StoreError::Internal(format!("invalid user_version {v}")))
}

/// Refuses a database written by a newer parkd.
pub fn check_not_too_new(found: u32) -> Result<(), StoreError> {
    Migration::refuse_newer(found, MIGRATIONS)
}

/// Brings the database up to [`latest_version`], returning the versions
/// applied (empty when it was already current).
pub fn migrate(conn: &mut Connection) -> Result<Vec<u32>, StoreError> {
    migrate_with(conn, MIGRATIONS)
}

/// [`migrate`] over an explicit list, so tests can simulate a newer binary.
fn migrate_with(conn: &mut Connection, migrations: &[Migration]) -> Result<Vec<u32>, StoreError> {
    Migration::refuse_newer(current_version(conn)?, migrations)?;
    let mut applied = Vec::new();
    for m in migrations {
        // IMMEDIATE takes the write lock before reading the version, so two
        // processes racing to upgrade the same file cannot both apply `m`.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map_err)?;
        if current_version(&tx)? >= m.version {
            continue;
        }
        tx.execute_batch(m.sql).map_err(|e| {
            StoreError::Internal(format!(
                "migration {:04}_{} failed: {}",
                m.version,
                m.name,
                map_err(e)
            ))
        })?;
        tx.pragma_update(None, "user_version", m.version)
            .map_err(map_err)?;
        tx.commit().map_err(map_err)?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "applied sqlite migration"
        );
        applied.push(m.version);
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().expect("create temp dir");
        let conn = Connection::open(dir.path().join("t.db")).expect("open db");
        (dir, conn)
    }

    #[test]
    fn versions_are_consecutive_from_one() {
        // The runner records only the highest version applied, so a gap would
        // skip a migration that lands later: numbers must be consecutive.
        let mut prev = 0;
        for m in MIGRATIONS {
            assert_eq!(m.version, prev + 1, "migration {} out of order", m.name);
            prev = m.version;
        }
        assert_eq!(latest_version(), prev);
    }

    #[test]
    fn fresh_database_gets_every_migration_and_user_version() {
        let (_dir, mut conn) = fresh();
        assert_eq!(current_version(&conn).expect("version"), 0);
        let applied = migrate(&mut conn).expect("migrate");
        let all: Vec<u32> = MIGRATIONS.iter().map(|m| m.version).collect();
        assert_eq!(applied, all);
        assert_eq!(current_version(&conn).expect("version"), latest_version());
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN \
                 ('tenants','users','refresh_tokens','revoked_access','lots','spots', \
                  'rate_cards','reservations','idempotency_keys','events')",
                [],
                |r| r.get(0),
            )
            .expect("count tables");
        assert_eq!(tables, 10);
    }

    #[test]
    fn rerunning_is_a_no_op() {
        let (_dir, mut conn) = fresh();
        migrate(&mut conn).expect("first migrate");
        assert!(migrate(&mut conn).expect("second migrate").is_empty());
        assert_eq!(current_version(&conn).expect("version"), latest_version());
    }

    #[test]
    fn newer_binary_upgrades_older_database() {
        let (_dir, mut conn) = fresh();
        migrate(&mut conn).expect("migrate to current");
        let mut newer: Vec<Migration> = MIGRATIONS.to_vec();
        newer.push(Migration {
            version: latest_version() + 1,
            name: "add_note",
            sql: "ALTER TABLE tenants ADD COLUMN note TEXT;",
        });
        let applied = migrate_with(&mut conn, &newer).expect("upgrade");
        assert_eq!(applied, vec![latest_version() + 1]);
        assert_eq!(
            current_version(&conn).expect("version"),
            latest_version() + 1
        );
        conn.execute(
            "INSERT INTO tenants (id, name, created_us, note) VALUES ('t', 'n', 0, 'x')",
            [],
        )
        .expect("new column exists");
    }

    #[test]
    fn failing_migration_leaves_the_previous_version() {
        let (_dir, mut conn) = fresh();
        migrate(&mut conn).expect("migrate to current");
        let mut broken: Vec<Migration> = MIGRATIONS.to_vec();
        broken.push(Migration {
            version: latest_version() + 1,
            name: "broken",
            sql: "CREATE TABLE half (x INTEGER); THIS IS NOT SQL;",
        });
        let err = migrate_with(&mut conn, &broken).expect_err("broken migration fails");
        assert!(
            matches!(err, StoreError::Internal(ref m) if m.contains("broken")),
            "{err}"
        );
        assert_eq!(current_version(&conn).expect("version"), latest_version());
        let half: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name = 'half'",
                [],
                |r| r.get(0),
            )
            .expect("query schema");
        assert_eq!(half, 0, "the failed migration was rolled back");
    }

    #[test]
    fn a_version_1_database_with_events_upgrades_to_2_with_the_cursor_at_zero() {
        let (_dir, mut conn) = fresh();
        let v1 = &MIGRATIONS[..1];
        assert_eq!(migrate_with(&mut conn, v1).expect("migrate to 1"), vec![1]);
        conn.execute(
            "INSERT INTO events (lot_id, lot_seq, type, payload_json, occurred_us) \
             VALUES (NULL, NULL, 'user_registered', '{}', 0)",
            [],
        )
        .expect("an event written by version 1");
        let v2 = &MIGRATIONS[..2];
        assert_eq!(migrate_with(&mut conn, v2).expect("upgrade"), vec![2]);
        assert_eq!(current_version(&conn).expect("version"), 2);
        let cursor: i64 = conn
            .query_row("SELECT published_seq FROM event_cursor", [], |r| r.get(0))
            .expect("the cursor row");
        assert_eq!(cursor, 0, "events of version 1 are still to be published");
        let second = conn.execute("INSERT INTO event_cursor VALUES (2, 0)", []);
        assert!(second.is_err(), "the cursor table holds one row");
    }

    #[test]
    fn newer_schema_is_refused_with_a_clear_message() {
        let (_dir, mut conn) = fresh();
        conn.pragma_update(None, "user_version", 999)
            .expect("set version");
        let err = migrate(&mut conn).expect_err("refused");
        assert_eq!(
            err,
            StoreError::SchemaTooNew {
                found: 999,
                supported: latest_version()
            }
        );
        assert_eq!(
            err.to_string(),
            format!(
                "database schema version 999 is newer than this parkd supports ({}); upgrade parkd",
                latest_version()
            )
        );
        // Nothing was touched.
        assert_eq!(current_version(&conn).expect("version"), 999);
        assert!(check_not_too_new(999).is_err());
        assert!(check_not_too_new(latest_version()).is_ok());
    }
}
