//! Lots, spots and rate cards in PostgreSQL.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use parking_core::model::{Lot, LotId, Spot, SpotId};
use parking_core::pricing::RateCard;

use super::Failure;
use super::rows::{self, LOT_COLUMNS, SPOT_COLUMNS, from_json, to_json};
use super::sql::{execute, query, query_one, query_opt};
use crate::store::StoreError;
use crate::store::interface::LotRecord;
use crate::store::payments::PaymentMode;

fn int(n: u32) -> Result<i32, Failure> {
    i32::try_from(n)
        .map_err(|_| Failure::Store(StoreError::Conflict(format!("{n} is out of range"))))
}

/// Stores a new lot.
pub async fn insert_lot<C: GenericClient>(
    c: &C,
    record: &LotRecord,
    now: DateTime<Utc>,
) -> Result<(), Failure> {
    let lot = &record.lot;
    let r = &lot.rules;
    execute(
        c,
        &format!(
            "INSERT INTO lots ({LOT_COLUMNS_PLAIN}, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text::jsonb, $9::text::jsonb, $10, $11, $12,
                     $13, $14, $15, $16::text::jsonb, $18, $17, $17)"
        ),
        &[
            &lot.id.as_uuid(),
            &lot.tenant_id.as_uuid(),
            &lot.name,
            &lot.address,
            &lot.location.lat(),
            &lot.location.lng(),
            &lot.time_zone.name(),
            &to_json(&lot.hours)?,
            &to_json(&lot.amenities)?,
            &int(r.turnover_buffer_minutes)?,
            &int(r.min_lead_minutes)?,
            &r.max_duration_minutes.map(int).transpose()?,
            &int(r.hold_minutes)?,
            &int(r.no_show_grace_minutes)?,
            &record.external_id,
            &to_json(&r.cancellation)?,
            &now,
            &record.payment_mode.as_str(),
        ],
    )
    .await?;
    Ok(())
}

/// The lots columns without casts, for inserts.
const LOT_COLUMNS_PLAIN: &str = "id, tenant_id, name, address, lat, lng, timezone, hours, \
     amenities, turnover_buffer_minutes, min_lead_minutes, max_duration_minutes, hold_minutes, \
     no_show_grace_minutes, external_id, cancellation, payment_mode";

/// Replaces a lot's description and, when given, its payment mode.
pub async fn update_lot<C: GenericClient>(
    c: &C,
    lot: &Lot,
    payment_mode: Option<PaymentMode>,
    now: DateTime<Utc>,
) -> Result<(), Failure> {
    let r = &lot.rules;
    let changed = execute(
        c,
        "UPDATE lots SET tenant_id = $2, name = $3, address = $4, lat = $5, lng = $6, timezone = $7,
             hours = $8::text::jsonb, amenities = $9::text::jsonb, turnover_buffer_minutes = $10,
             min_lead_minutes = $11, max_duration_minutes = $12, hold_minutes = $13,
             no_show_grace_minutes = $14, updated_at = $15, cancellation = $16::text::jsonb,
             payment_mode = COALESCE($17, payment_mode)
         WHERE id = $1",
        &[
            &lot.id.as_uuid(),
            &lot.tenant_id.as_uuid(),
            &lot.name,
            &lot.address,
            &lot.location.lat(),
            &lot.location.lng(),
            &lot.time_zone.name(),
            &to_json(&lot.hours)?,
            &to_json(&lot.amenities)?,
            &int(r.turnover_buffer_minutes)?,
            &int(r.min_lead_minutes)?,
            &r.max_duration_minutes.map(int).transpose()?,
            &int(r.hold_minutes)?,
            &int(r.no_show_grace_minutes)?,
            &now,
            &to_json(&r.cancellation)?,
            &payment_mode.map(PaymentMode::as_str),
        ],
    )
    .await?;
    if changed == 0 {
        return Err(Failure::Store(StoreError::NotFound));
    }
    Ok(())
}

/// Deletes a lot unless a blocking reservation ends after `now`. The lot row
/// is locked first, so a booking committing meanwhile on another instance
/// either comes before (and is counted) or fails on the missing lot.
pub async fn delete_lot<C: GenericClient>(
    c: &C,
    id: LotId,
    now: DateTime<Utc>,
) -> Result<(), Failure> {
    let lot = id.as_uuid();
    if query_opt(c, "SELECT 1 FROM lots WHERE id = $1 FOR UPDATE", &[&lot])
        .await?
        .is_none()
    {
        return Err(Failure::Store(StoreError::NotFound));
    }
    let future: i64 = query_one(
        c,
        "SELECT COUNT(*) FROM reservations WHERE lot_id = $1 AND end_time > $2
           AND (status IN ('confirmed', 'checked_in') OR (status = 'held' AND hold_expires_at > $2))",
        &[&lot, &now],
    )
    .await?
    .try_get(0)?;
    if future > 0 {
        return Err(Failure::Store(StoreError::Conflict(format!(
            "the lot has {future} current or future booking(s)"
        ))));
    }
    execute(c, "DELETE FROM reservations WHERE lot_id = $1", &[&lot]).await?;
    execute(c, "DELETE FROM lots WHERE id = $1", &[&lot]).await?;
    Ok(())
}

/// Stores new spots.
pub async fn insert_spots<C: GenericClient>(c: &C, spots: &[Spot]) -> Result<(), Failure> {
    for s in spots {
        execute(
            c,
            "INSERT INTO spots (id, lot_id, label, kind, zone, in_service) VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &s.id.as_uuid(),
                &s.lot_id.as_uuid(),
                &s.label,
                &s.kind.as_str(),
                &s.zone,
                &s.in_service,
            ],
        )
        .await?;
    }
    Ok(())
}

/// Puts a spot in or out of service.
pub async fn set_spot_in_service<C: GenericClient>(
    c: &C,
    lot: LotId,
    spot: SpotId,
    in_service: bool,
) -> Result<Spot, Failure> {
    let row = query_opt(
        c,
        &format!(
            "UPDATE spots SET in_service = $3 WHERE id = $2 AND lot_id = $1 RETURNING {SPOT_COLUMNS}"
        ),
        &[&lot.as_uuid(), &spot.as_uuid(), &in_service],
    )
    .await?
    .ok_or(Failure::Store(StoreError::NotFound))?;
    rows::spot(&row)
}

/// Sets a lot's rate card.
pub async fn put_rate_card<C: GenericClient>(
    c: &C,
    lot: LotId,
    card: &RateCard,
    now: DateTime<Utc>,
) -> Result<(), Failure> {
    execute(
        c,
        "INSERT INTO rate_cards (lot_id, card, updated_at) VALUES ($1, $2::text::jsonb, $3)
         ON CONFLICT (lot_id) DO UPDATE SET card = excluded.card, updated_at = excluded.updated_at",
        &[&lot.as_uuid(), &to_json(card)?, &now],
    )
    .await?;
    Ok(())
}

/// Every lot, or only `only`.
pub async fn lots<C: GenericClient>(c: &C, only: Option<LotId>) -> Result<Vec<LotRecord>, Failure> {
    query(
        c,
        &format!(
            "SELECT {LOT_COLUMNS} FROM lots WHERE ($1::uuid IS NULL OR id = $1) ORDER BY created_at, id"
        ),
        &[&only.map(|l| l.as_uuid())],
    )
    .await?
    .iter()
    .map(rows::lot)
    .collect()
}

/// Every spot (or a lot's), in the order they were added.
pub async fn spots<C: GenericClient>(c: &C, only: Option<LotId>) -> Result<Vec<Spot>, Failure> {
    query(
        c,
        &format!(
            "SELECT {SPOT_COLUMNS} FROM spots WHERE ($1::uuid IS NULL OR lot_id = $1) ORDER BY position"
        ),
        &[&only.map(|l| l.as_uuid())],
    )
    .await?
    .iter()
    .map(rows::spot)
    .collect()
}

/// Every rate card (or a lot's).
pub async fn rate_cards<C: GenericClient>(
    c: &C,
    only: Option<LotId>,
) -> Result<Vec<(LotId, RateCard)>, Failure> {
    query(
        c,
        "SELECT lot_id, card::text FROM rate_cards WHERE ($1::uuid IS NULL OR lot_id = $1)",
        &[&only.map(|l| l.as_uuid())],
    )
    .await?
    .iter()
    .map(|r| {
        Ok((
            LotId::from_uuid(r.try_get(0)?),
            from_json("rate card", &r.try_get::<_, String>(1)?)?,
        ))
    })
    .collect()
}
