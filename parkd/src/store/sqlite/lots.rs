//! Lots, spots and rate cards in SQLite.

use chrono::{DateTime, Utc};
use parking_core::model::{BookingRules, GeoPoint, Lot, LotId, Spot, SpotId, TenantId};
use parking_core::pricing::RateCard;
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::map_err;
use super::rows::{from_json, parse, to_json, us, uuid};
use crate::store::StoreError;
use crate::store::interface::LotRecord;
use crate::store::payments::PaymentMode;

const LOT_COLUMNS: &str = "id, tenant_id, name, address, lat, lng, timezone, hours_json, amenities_json, \
     turnover_buffer_minutes, min_lead_minutes, max_duration_minutes, hold_minutes, no_show_grace_minutes, external_id, \
     cancellation_json, payment_mode";

fn lot_row(row: &Row) -> Result<LotRecord, rusqlite::Error> {
    let location = GeoPoint::new(row.get(4)?, row.get(5)?)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(4, Type::Real, Box::new(e)))?;
    let time_zone: chrono_tz::Tz =
        row.get::<_, String>(6)?
            .parse()
            .map_err(|e: chrono_tz::ParseError| {
                rusqlite::Error::FromSqlConversionFailure(6, Type::Text, e.to_string().into())
            })?;
    Ok(LotRecord {
        lot: Lot {
            id: LotId::from_uuid(uuid(&row.get::<_, String>(0)?)?),
            tenant_id: TenantId::from_uuid(uuid(&row.get::<_, String>(1)?)?),
            name: row.get(2)?,
            address: row.get(3)?,
            location,
            time_zone,
            hours: row
                .get::<_, Option<String>>(7)?
                .as_deref()
                .map(from_json)
                .transpose()?
                .unwrap_or_default(),
            amenities: from_json(&row.get::<_, String>(8)?)?,
            rules: BookingRules {
                turnover_buffer_minutes: row.get(9)?,
                min_lead_minutes: row.get(10)?,
                max_duration_minutes: row.get(11)?,
                hold_minutes: row.get(12)?,
                no_show_grace_minutes: row.get(13)?,
                cancellation: from_json(&row.get::<_, String>(15)?)?,
            },
        },
        external_id: row.get(14)?,
        payment_mode: {
            let mode: String = row.get(16)?;
            PaymentMode::parse(&mode).ok_or_else(|| {
                rusqlite::Error::FromSqlConversionFailure(
                    16,
                    Type::Text,
                    format!("unknown payment mode {mode:?}").into(),
                )
            })?
        },
    })
}

/// Stores a new lot.
pub fn insert_lot(
    tx: &Connection,
    record: &LotRecord,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let lot = &record.lot;
    let r = &lot.rules;
    tx.execute(
        &format!(
            "INSERT INTO lots ({LOT_COLUMNS}, created_us, updated_us)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?17, ?18, ?16, ?16)"
        ),
        params![
            lot.id.to_string(),
            lot.tenant_id.to_string(),
            lot.name,
            lot.address,
            lot.location.lat(),
            lot.location.lng(),
            lot.time_zone.name(),
            to_json(&lot.hours)?,
            to_json(&lot.amenities)?,
            r.turnover_buffer_minutes,
            r.min_lead_minutes,
            r.max_duration_minutes,
            r.hold_minutes,
            r.no_show_grace_minutes,
            record.external_id,
            us(now),
            to_json(&r.cancellation)?,
            record.payment_mode.as_str()
        ],
    )
    .map_err(map_err)?;
    Ok(())
}

/// Replaces a lot's description and, when given, its payment mode.
pub fn update_lot(
    tx: &Connection,
    lot: &Lot,
    payment_mode: Option<PaymentMode>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let r = &lot.rules;
    let changed = tx
        .execute(
            "UPDATE lots SET tenant_id = ?2, name = ?3, address = ?4, lat = ?5, lng = ?6, timezone = ?7,
                 hours_json = ?8, amenities_json = ?9, turnover_buffer_minutes = ?10, min_lead_minutes = ?11,
                 max_duration_minutes = ?12, hold_minutes = ?13, no_show_grace_minutes = ?14, updated_us = ?15,
                 cancellation_json = ?16, payment_mode = COALESCE(?17, payment_mode)
             WHERE id = ?1",
            params![
                lot.id.to_string(),
                lot.tenant_id.to_string(),
                lot.name,
                lot.address,
                lot.location.lat(),
                lot.location.lng(),
                lot.time_zone.name(),
                to_json(&lot.hours)?,
                to_json(&lot.amenities)?,
                r.turnover_buffer_minutes,
                r.min_lead_minutes,
                r.max_duration_minutes,
                r.hold_minutes,
                r.no_show_grace_minutes,
                us(now),
                to_json(&r.cancellation)?,
                payment_mode.map(PaymentMode::as_str)
            ],
        )
        .map_err(map_err)?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Deletes a lot unless a blocking reservation ends after `now`. Past and
/// finished reservations go with it.
pub fn delete_lot(tx: &Connection, id: LotId, now: DateTime<Utc>) -> Result<(), StoreError> {
    let lot = id.to_string();
    let future: i64 = tx
        .query_row(
            "SELECT COUNT(*) FROM reservations WHERE lot_id = ?1 AND end_us > ?2
               AND (status IN ('confirmed', 'checked_in') OR (status = 'held' AND hold_expires_us > ?2))",
            params![lot, us(now)],
            |r| r.get(0),
        )
        .map_err(map_err)?;
    if future > 0 {
        return Err(StoreError::Conflict(format!(
            "the lot has {future} current or future booking(s)"
        )));
    }
    tx.execute("DELETE FROM reservations WHERE lot_id = ?1", params![lot])
        .map_err(map_err)?;
    let changed = tx
        .execute("DELETE FROM lots WHERE id = ?1", params![lot])
        .map_err(map_err)?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

fn spot_row(row: &Row) -> Result<Spot, rusqlite::Error> {
    Ok(Spot {
        id: SpotId::from_uuid(uuid(&row.get::<_, String>(0)?)?),
        lot_id: LotId::from_uuid(uuid(&row.get::<_, String>(1)?)?),
        label: row.get(2)?,
        kind: parse(&row.get::<_, String>(3)?)?,
        zone: row.get(4)?,
        in_service: row.get(5)?,
    })
}

/// Stores new spots.
pub fn insert_spots(tx: &Connection, spots: &[Spot]) -> Result<(), StoreError> {
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO spots (id, lot_id, label, kind, zone, in_service) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .map_err(map_err)?;
    for s in spots {
        stmt.execute(params![
            s.id.to_string(),
            s.lot_id.to_string(),
            s.label,
            s.kind.as_str(),
            s.zone,
            s.in_service
        ])
        .map_err(map_err)?;
    }
    Ok(())
}

/// Puts a spot in or out of service.
pub fn set_spot_in_service(
    tx: &Connection,
    lot: LotId,
    spot: SpotId,
    in_service: bool,
) -> Result<Spot, StoreError> {
    tx.query_row(
        "UPDATE spots SET in_service = ?3 WHERE id = ?2 AND lot_id = ?1
         RETURNING id, lot_id, label, kind, zone, in_service",
        params![lot.to_string(), spot.to_string(), in_service],
        spot_row,
    )
    .optional()
    .map_err(map_err)?
    .ok_or(StoreError::NotFound)
}

/// Sets a lot's rate card.
pub fn put_rate_card(
    tx: &Connection,
    lot: LotId,
    card: &RateCard,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO rate_cards (lot_id, card_json, updated_us) VALUES (?1, ?2, ?3)
         ON CONFLICT (lot_id) DO UPDATE SET card_json = excluded.card_json, updated_us = excluded.updated_us",
        params![lot.to_string(), to_json(card)?, us(now)],
    )
    .map_err(map_err)?;
    Ok(())
}

/// Every lot.
pub fn all_lots(conn: &Connection) -> Result<Vec<LotRecord>, StoreError> {
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {LOT_COLUMNS} FROM lots ORDER BY created_us, id"
        ))
        .map_err(map_err)?;
    stmt.query_map([], lot_row)
        .map_err(map_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(map_err)
}

/// Every spot, in the order they were added per lot.
pub fn all_spots(conn: &Connection) -> Result<Vec<Spot>, StoreError> {
    let mut stmt = conn
        .prepare("SELECT id, lot_id, label, kind, zone, in_service FROM spots ORDER BY rowid")
        .map_err(map_err)?;
    stmt.query_map([], spot_row)
        .map_err(map_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(map_err)
}

/// Every rate card.
pub fn all_rate_cards(conn: &Connection) -> Result<Vec<(LotId, RateCard)>, StoreError> {
    let mut stmt = conn
        .prepare("SELECT lot_id, card_json FROM rate_cards")
        .map_err(map_err)?;
    stmt.query_map([], |r| {
        Ok((
            LotId::from_uuid(uuid(&r.get::<_, String>(0)?)?),
            from_json(&r.get::<_, String>(1)?)?,
        ))
    })
    .map_err(map_err)?
    .collect::<Result<Vec<_>, _>>()
    .map_err(map_err)
}
