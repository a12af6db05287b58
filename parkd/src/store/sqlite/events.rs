//! The outbox: domain events written in the same transaction as the change that
//! produced them, numbered per lot; reading it back in `seq` order; and the
//! dispatcher's cursor.

use chrono::{DateTime, Utc};
use parking_core::events::DomainEvent;
use parking_core::model::{LotId, TenantId};
use rusqlite::types::Value;
use rusqlite::{Connection, Row, params, params_from_iter};

use super::map_err;
use super::rows::{from_json, instant, to_json, us, uuid};
use crate::store::StoreError;
use crate::store::interface::StoredEvent;

/// Appends one event; events about a lot get the next number in that lot's
/// sequence.
pub fn append(tx: &Connection, event: &DomainEvent, at: DateTime<Utc>) -> Result<(), StoreError> {
    let lot = event.lot_id().map(|l| l.to_string());
    let lot_seq: Option<i64> = match &lot {
        Some(lot) => Some(
            tx.query_row(
                "SELECT COALESCE(MAX(lot_seq), 0) + 1 FROM events WHERE lot_id = ?1",
                params![lot],
                |row| row.get(0),
            )
            .map_err(map_err)?,
        ),
        None => None,
    };
    tx.execute(
        "INSERT INTO events (lot_id, lot_seq, type, payload_json, occurred_us) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![lot, lot_seq, event.type_name(), to_json(event)?, us(at)],
    )
    .map_err(map_err)?;
    Ok(())
}

/// A stored sequence number; a negative one is corrupt data.
fn sequence(n: i64, column: usize) -> Result<u64, rusqlite::Error> {
    u64::try_from(n).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(
            column,
            rusqlite::types::Type::Integer,
            Box::new(e),
        )
    })
}

pub(super) fn stored_row(row: &Row) -> Result<StoredEvent, rusqlite::Error> {
    let lot: Option<String> = row.get(1)?;
    let lot_seq: Option<i64> = row.get(2)?;
    Ok(StoredEvent {
        seq: sequence(row.get(0)?, 0)?,
        lot_id: lot
            .as_deref()
            .map(|l| uuid(l).map(LotId::from_uuid))
            .transpose()?,
        lot_seq: lot_seq.map(|n| sequence(n, 2)).transpose()?,
        event_type: row.get(3)?,
        payload: from_json(&row.get::<_, String>(4)?)?,
        occurred_at: instant(row.get(5)?)?,
    })
}

/// Events with `seq > after`, in `seq` order, at most `limit`; only of `lot`
/// when given; only of the lots of `tenant` when given (the scope is part of
/// the query, so a page is never short because of filtering afterwards).
pub fn after(
    conn: &Connection,
    after: u64,
    lot: Option<LotId>,
    tenant: Option<TenantId>,
    limit: u32,
) -> Result<Vec<StoredEvent>, StoreError> {
    let mut sql = String::from(
        "SELECT seq, lot_id, lot_seq, type, payload_json, occurred_us FROM events WHERE seq > ?",
    );
    let mut args = vec![Value::Integer(i64::try_from(after).unwrap_or(i64::MAX))];
    if let Some(lot) = lot {
        sql.push_str(" AND lot_id = ?");
        args.push(Value::Text(lot.to_string()));
    }
    if let Some(tenant) = tenant {
        sql.push_str(" AND lot_id IN (SELECT id FROM lots WHERE tenant_id = ?)");
        args.push(Value::Text(tenant.to_string()));
    }
    sql.push_str(" ORDER BY seq LIMIT ?");
    args.push(Value::Integer(i64::from(limit)));
    let mut stmt = conn.prepare(&sql).map_err(map_err)?;
    stmt.query_map(params_from_iter(args.iter()), stored_row)
        .map_err(map_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(map_err)
}

/// The highest `seq` the dispatcher has published.
pub fn cursor(conn: &Connection) -> Result<u64, StoreError> {
    let seq: i64 = conn
        .query_row(
            "SELECT published_seq FROM event_cursor WHERE id = 1",
            [],
            |row| row.get(0),
        )
        .map_err(map_err)?;
    u64::try_from(seq).map_err(|_| StoreError::Internal(format!("negative event cursor {seq}")))
}

/// Moves the cursor to `seq`; never backwards, so a late or repeated update
/// cannot make the dispatcher publish a range twice more than at-least-once
/// requires.
pub fn set_cursor(tx: &Connection, seq: u64) -> Result<(), StoreError> {
    let seq = i64::try_from(seq)
        .map_err(|_| StoreError::Internal(format!("event cursor {seq} out of range")))?;
    tx.execute(
        "UPDATE event_cursor SET published_seq = MAX(published_seq, ?1) WHERE id = 1",
        params![seq],
    )
    .map_err(map_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use parking_core::model::{SpotId, UserId};

    use super::*;
    use crate::store::sqlite::migrate;

    /// A migrated database with tenants `a` and `b`, each with one lot.
    fn fixture() -> (tempfile::TempDir, Connection, [(TenantId, LotId); 2]) {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut conn = Connection::open(dir.path().join("e.db")).expect("open");
        migrate::migrate(&mut conn).expect("migrate");
        let pairs = [
            (TenantId::new(), LotId::new()),
            (TenantId::new(), LotId::new()),
        ];
        for (n, (tenant, lot)) in pairs.iter().enumerate() {
            conn.execute(
                "INSERT INTO tenants (id, name, created_us) VALUES (?1, ?2, 0)",
                params![tenant.to_string(), format!("t{n}")],
            )
            .expect("tenant");
            conn.execute(
                "INSERT INTO lots (id, tenant_id, name, address, lat, lng, timezone, created_us, updated_us) \
                 VALUES (?1, ?2, 'L', 'addr', 52.0, 13.0, 'Europe/Berlin', 0, 0)",
                params![lot.to_string(), tenant.to_string()],
            )
            .expect("lot");
        }
        (dir, conn, pairs)
    }

    fn spot_event(lot: LotId) -> DomainEvent {
        DomainEvent::SpotStatusChanged {
            lot_id: lot,
            spot_id: SpotId::new(),
            occupied: None,
            in_service: false,
        }
    }

    #[test]
    fn events_read_back_in_seq_order_scoped_in_the_query() {
        let (_dir, conn, [(ta, la), (tb, lb)]) = fixture();
        let now = Utc::now();
        let user = DomainEvent::UserRegistered {
            user_id: UserId::new(),
            tenant_id: None,
        };
        for event in [
            spot_event(la),
            spot_event(lb),
            user.clone(),
            spot_event(la),
            spot_event(lb),
            spot_event(la),
        ] {
            append(&conn, &event, now).expect("append");
        }
        let all = after(&conn, 0, None, None, 100).expect("all");
        assert_eq!(
            all.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5, 6]
        );
        assert_eq!(all[2].payload, user);
        assert_eq!((all[2].lot_id, all[2].lot_seq), (None, None));
        assert_eq!(all[2].event_type, "user_registered");

        let a = after(&conn, 0, None, Some(ta), 100).expect("tenant a");
        assert_eq!(a.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 4, 6]);
        assert_eq!(
            a.iter().map(|e| e.lot_seq).collect::<Vec<_>>(),
            [Some(1), Some(2), Some(3)]
        );
        // The limit applies after the scope: two of tenant b's, not one.
        let b = after(&conn, 0, None, Some(tb), 2).expect("tenant b");
        assert_eq!(b.iter().map(|e| e.seq).collect::<Vec<_>>(), [2, 5]);
        // A lot of another tenant under a tenant scope: nothing.
        assert!(
            after(&conn, 0, Some(lb), Some(ta), 100)
                .expect("foreign lot")
                .is_empty()
        );
        let paged = after(&conn, 4, Some(la), None, 100).expect("after 4");
        assert_eq!(paged.iter().map(|e| e.seq).collect::<Vec<_>>(), [6]);
    }

    #[test]
    fn the_cursor_starts_at_zero_and_never_moves_back() {
        let (_dir, conn, _) = fixture();
        assert_eq!(cursor(&conn).expect("cursor"), 0);
        set_cursor(&conn, 7).expect("set");
        assert_eq!(cursor(&conn).expect("cursor"), 7);
        set_cursor(&conn, 3).expect("a late, smaller update");
        assert_eq!(cursor(&conn).expect("cursor"), 7);
    }
}
