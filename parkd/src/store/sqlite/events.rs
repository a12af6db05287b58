//! The outbox: domain events written in the same transaction as the change that
//! produced them, numbered per lot.

use chrono::{DateTime, Utc};
use parking_core::events::DomainEvent;
use rusqlite::{Connection, params};

use super::map_err;
use super::rows::{to_json, us};
use crate::store::StoreError;

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
