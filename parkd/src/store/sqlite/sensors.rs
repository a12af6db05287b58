//! [`SensorStore`] over SQLite: device keys, the per-spot sensor state and
//! alerts (schema in `migrations/sqlite/0003_sensors.sql`).
//!
//! A batch of readings is one writer operation: it runs inside the group
//! commit's transaction with the events it produces, so a batch is stored
//! whole with its events or not at all. The reconciliation rules run inside
//! the same operation, against the reservations as committed, and the
//! schema's unique indexes dedupe alerts (an insert that hits one writes
//! nothing and no event).

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use parking_core::events::{AlertKind, DomainEvent};
use parking_core::model::{AlertId, LotId, ReservationId, SpotId, TenantId, UserId};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use uuid::Uuid;

use super::map_err;
use super::rows::{instant, to_json, us, uuid};
use super::store::SqliteStore;
use crate::store::StoreError;
use crate::store::interface::{PageRequest, Scope, Store};
use crate::store::sensors::{
    AckOutcome, AlertFilter, AlertRecord, AlertSpot, BatchOutcome, BookingOnSpot, Check,
    DeviceRecord, Reading, SensorState, SensorStore, SpotSensor, Step, SweepCandidate,
    alert_kind_name, parse_alert_kind, stored_precision,
};

/// Reservation statuses that hold a spot (held only while its hold lasts).
const BLOCKING: &str =
    "(status IN ('confirmed', 'checked_in') OR (status = 'held' AND hold_expires_us > ?3))";

/// Bookings whose driver was (or may have been) on the spot: an occupancy
/// lasting past their end is an overstay.
const OCCUPYING: &str = "('confirmed', 'checked_in', 'completed')";

fn parse_kind(text: &str) -> Result<AlertKind, rusqlite::Error> {
    parse_alert_kind(text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            1,
            rusqlite::types::Type::Text,
            format!("unknown alert kind {text}").into(),
        )
    })
}

// --- devices -------------------------------------------------------------------

const DEVICE_COLUMNS: &str =
    "id, lot_id, name, key_hash, created_us, revoked_us, last_seen_us FROM devices";

fn device_row(row: &Row) -> Result<DeviceRecord, rusqlite::Error> {
    Ok(DeviceRecord {
        id: uuid(&row.get::<_, String>(0)?)?,
        lot_id: LotId::from_uuid(uuid(&row.get::<_, String>(1)?)?),
        name: row.get(2)?,
        key_hash: row.get(3)?,
        created_at: instant(row.get(4)?)?,
        revoked_at: row.get::<_, Option<i64>>(5)?.map(instant).transpose()?,
        last_seen_at: row.get::<_, Option<i64>>(6)?.map(instant).transpose()?,
    })
}

fn insert_device(tx: &Connection, d: &DeviceRecord, event: &DomainEvent) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO devices (id, lot_id, name, key_hash, created_us, revoked_us, last_seen_us)
         VALUES (?1, ?2, ?3, ?4, ?5, NULL, NULL)",
        params![
            d.id.to_string(),
            d.lot_id.to_string(),
            d.name,
            d.key_hash,
            us(d.created_at)
        ],
    )
    .map_err(map_err)?;
    super::events::append(tx, event, d.created_at)
}

fn device_where(
    conn: &Connection,
    condition: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<DeviceRecord>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!("SELECT {DEVICE_COLUMNS} WHERE {condition}"))
        .map_err(map_err)?;
    stmt.query_map(args, device_row)
        .map_err(map_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(map_err)
}

/// The device after revoking it, and whether this call revoked it.
fn revoke_device(
    tx: &Connection,
    lot: LotId,
    id: Uuid,
    now: DateTime<Utc>,
    event: &DomainEvent,
) -> Result<(DeviceRecord, bool), StoreError> {
    let revoked = tx
        .execute(
            "UPDATE devices SET revoked_us = ?3 WHERE id = ?1 AND lot_id = ?2 AND revoked_us IS NULL",
            params![id.to_string(), lot.to_string(), us(now)],
        )
        .map_err(map_err)?
        == 1;
    if revoked {
        super::events::append(tx, event, now)?;
    }
    device_where(
        tx,
        "id = ?1 AND lot_id = ?2",
        params![id.to_string(), lot.to_string()],
    )?
    .pop()
    .map(|device| (device, revoked))
    .ok_or(StoreError::NotFound)
}

// --- the outbox of one lot -----------------------------------------------------

/// Appends a lot's events with consecutive `lot_seq`s, reading the lot's last
/// number once per operation instead of once per event: a batch of readings
/// writes up to a thousand events of one lot. Same rows as
/// `events::append` writes; safe because the writer runs one operation at a
/// time, so nothing else appends between two of these inserts.
struct LotOutbox {
    lot: String,
    next_seq: i64,
    at: i64,
}

impl LotOutbox {
    fn open(tx: &Connection, lot: LotId, at: DateTime<Utc>) -> Result<LotOutbox, StoreError> {
        let lot = lot.to_string();
        let next_seq = tx
            .prepare_cached("SELECT COALESCE(MAX(lot_seq), 0) + 1 FROM events WHERE lot_id = ?1")
            .and_then(|mut s| s.query_row(params![lot], |row| row.get(0)))
            .map_err(map_err)?;
        Ok(LotOutbox {
            lot,
            next_seq,
            at: us(at),
        })
    }

    fn push(&mut self, tx: &Connection, event: &DomainEvent) -> Result<(), StoreError> {
        let payload = to_json(event)?;
        tx.prepare_cached(
            "INSERT INTO events (lot_id, lot_seq, type, payload_json, occurred_us)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .and_then(|mut s| {
            s.execute(params![
                self.lot,
                self.next_seq,
                event.type_name(),
                payload,
                self.at
            ])
        })
        .map_err(map_err)?;
        self.next_seq += 1;
        Ok(())
    }
}

// --- readings ------------------------------------------------------------------

/// A spot's sensor state as stored.
fn sensor_row(tx: &Connection, spot: &str) -> Result<Option<SensorState>, StoreError> {
    tx.prepare_cached("SELECT occupied, since_us, reading_us FROM spot_sensors WHERE spot_id = ?1")
        .and_then(|mut s| {
            s.query_row(params![spot], |row| {
                Ok(SensorState {
                    occupied: row.get(0)?,
                    since: instant(row.get(1)?)?,
                    reading_at: instant(row.get(2)?)?,
                })
            })
            .optional()
        })
        .map_err(map_err)
}

/// The spot's label, for an alert (read only when one is raised).
fn spot_label(tx: &Connection, spot: &str) -> Result<String, StoreError> {
    tx.prepare_cached("SELECT label FROM spots WHERE id = ?1")
        .and_then(|mut s| s.query_row(params![spot], |row| row.get(0)))
        .map_err(map_err)
}

/// True if a booking that holds the spot covers instant `t` (holds judged at `now`).
fn covered(tx: &Connection, spot: &str, t: i64, now: i64) -> Result<bool, StoreError> {
    tx.prepare_cached(&format!(
        "SELECT EXISTS (SELECT 1 FROM reservations
           WHERE spot_id = ?1 AND end_us > ?2 AND start_us <= ?2 AND {BLOCKING})"
    ))
    .and_then(|mut s| s.query_row(params![spot, t, now], |row| row.get(0)))
    .map_err(map_err)
}

/// True if the spot has an open unexpected-occupancy alert (which a new one
/// would duplicate). Checked first: while a car stands on a spot unbooked,
/// every arrival there would otherwise build an alert only to have the
/// schema refuse it.
fn open_unbooked_alert(tx: &Connection, spot: &str) -> Result<bool, StoreError> {
    tx.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM alerts WHERE spot_id = ?1 AND kind = 'unexpected_occupancy'
           AND reservation_id IS NULL AND acknowledged_us IS NULL)",
    )
    .and_then(|mut s| s.query_row(params![spot], |row| row.get(0)))
    .map_err(map_err)
}

/// The booking an occupancy since `since` outlasted at `t`: the latest one on
/// the spot that ended in `(since, t]` and whose driver was (or may have been)
/// there.
fn outlasted_booking(
    tx: &Connection,
    spot: &str,
    since: i64,
    t: i64,
) -> Result<Option<BookingOnSpot>, StoreError> {
    tx.prepare_cached(&format!(
        "SELECT id, start_us, end_us FROM reservations
          WHERE spot_id = ?1 AND end_us > ?2 AND end_us <= ?3 AND status IN {OCCUPYING}
          ORDER BY end_us DESC LIMIT 1"
    ))
    .and_then(|mut s| s.query_row(params![spot, since, t], booking_row).optional())
    .map_err(map_err)
}

fn booking_row(row: &Row) -> Result<BookingOnSpot, rusqlite::Error> {
    Ok(BookingOnSpot {
        id: ReservationId::from_uuid(uuid(&row.get::<_, String>(0)?)?),
        start: instant(row.get(1)?)?,
        end: instant(row.get(2)?)?,
    })
}

/// Stores an alert unless the schema's dedupe indexes hold one like it
/// already; `true` if it was stored.
fn insert_alert(tx: &Connection, a: &AlertRecord) -> Result<bool, StoreError> {
    let n = tx
        .prepare_cached(
            "INSERT INTO alerts (id, lot_id, spot_id, kind, reservation_id, raised_us, detail)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
        )
        .and_then(|mut s| {
            s.execute(params![
                a.id.to_string(),
                a.lot_id.to_string(),
                a.spot_id.to_string(),
                alert_kind_name(a.kind),
                a.reservation_id.map(|r| r.to_string()),
                us(a.raised_at),
                a.detail
            ])
        })
        .map_err(map_err)?;
    Ok(n == 1)
}

/// One batch, inside the writer's transaction.
fn apply(
    tx: &Connection,
    device: Uuid,
    lot_id: LotId,
    mut readings: Vec<Reading>,
    now: DateTime<Utc>,
) -> Result<BatchOutcome, StoreError> {
    let now = stored_precision(now);
    // Checked here, inside the transaction, so that no batch commits after
    // the revocation of its key did.
    let live = tx
        .prepare_cached(
            "UPDATE devices SET last_seen_us = ?1 WHERE id = ?2 AND lot_id = ?3 AND revoked_us IS NULL",
        )
        .and_then(|mut s| s.execute(params![us(now), device.to_string(), lot_id.to_string()]))
        .map_err(map_err)?;
    if live == 0 {
        return Err(StoreError::NotFound);
    }
    let now_us = us(now);
    let mut outbox = LotOutbox::open(tx, lot_id, now)?;
    let mut outcome = BatchOutcome::default();
    // Oldest first, so that every transition inside the batch is seen (a car
    // that came and went between two uploads still raises its alert).
    readings.sort_by_key(|r| r.at);
    // Each spot's state as the batch goes: read once per spot, judged in
    // memory, and the final state of each spot that moved written once at
    // the end (alerts look at reservations and alerts, not at these rows).
    let mut states: HashMap<SpotId, (Option<SensorState>, bool)> = HashMap::new();
    for reading in readings {
        let spot = reading.spot_id.to_string();
        let (state, moved) = match states.entry(reading.spot_id) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert((sensor_row(tx, &spot)?, false)),
        };
        let step = Step::judge(*state, reading.occupied, reading.at);
        if let Step::Repeat(next) | Step::Change(next) = step {
            *state = Some(next);
            *moved = true;
        }
        match step {
            Step::Stale | Step::Repeat(_) => outcome.stale += 1,
            Step::Change(_) => {
                outcome.applied += 1;
                outbox.push(
                    tx,
                    &DomainEvent::SpotStatusChanged {
                        lot_id,
                        spot_id: reading.spot_id,
                        occupied: Some(reading.occupied),
                        in_service: reading.in_service,
                    },
                )?;
            }
        }
        let alert = match step.check() {
            Check::Nothing => None,
            Check::Arrival { at } => {
                if open_unbooked_alert(tx, &spot)? || covered(tx, &spot, us(at), now_us)? {
                    None
                } else {
                    let label = spot_label(tx, &spot)?;
                    let spot = AlertSpot {
                        lot_id,
                        spot_id: reading.spot_id,
                        label: &label,
                    };
                    Some(AlertRecord::unexpected_occupancy(spot, at, now))
                }
            }
            Check::StillThere { since, at } => {
                if covered(tx, &spot, us(at), now_us)? {
                    None
                } else if let Some(b) = outlasted_booking(tx, &spot, us(since), us(at))? {
                    let label = spot_label(tx, &spot)?;
                    let spot = AlertSpot {
                        lot_id,
                        spot_id: reading.spot_id,
                        label: &label,
                    };
                    Some(AlertRecord::overstay(spot, &b, now))
                } else {
                    None
                }
            }
        };
        if let Some(alert) = alert
            && insert_alert(tx, &alert)?
        {
            outbox.push(tx, &alert.raised_event())?;
            outcome.alerts.push(alert);
        }
    }
    for (spot, state) in states {
        if let (Some(state), true) = state {
            tx.prepare_cached(
                "INSERT INTO spot_sensors (spot_id, occupied, since_us, reading_us)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (spot_id) DO UPDATE SET occupied = excluded.occupied,
                     since_us = excluded.since_us, reading_us = excluded.reading_us",
            )
            .and_then(|mut s| {
                s.execute(params![
                    spot.to_string(),
                    state.occupied,
                    us(state.since),
                    us(state.reading_at)
                ])
            })
            .map_err(map_err)?;
        }
    }
    Ok(outcome)
}

fn sensor_states(conn: &Connection, lot: LotId) -> Result<Vec<SpotSensor>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT ss.spot_id, ss.occupied, ss.since_us FROM spot_sensors ss
               JOIN spots s ON s.id = ss.spot_id WHERE s.lot_id = ?1",
        )
        .map_err(map_err)?;
    stmt.query_map(params![lot.to_string()], |row| {
        Ok(SpotSensor {
            spot_id: SpotId::from_uuid(uuid(&row.get::<_, String>(0)?)?),
            occupied: row.get(1)?,
            since: instant(row.get(2)?)?,
        })
    })
    .map_err(map_err)?
    .collect::<Result<Vec<_>, _>>()
    .map_err(map_err)
}

// --- the time-driven sweep -----------------------------------------------------

fn candidate_row(row: &Row) -> Result<SweepCandidate, rusqlite::Error> {
    Ok(SweepCandidate {
        booking: BookingOnSpot {
            id: ReservationId::from_uuid(uuid(&row.get::<_, String>(0)?)?),
            start: instant(row.get(4)?)?,
            end: instant(row.get(5)?)?,
        },
        lot_id: LotId::from_uuid(uuid(&row.get::<_, String>(1)?)?),
        spot_id: SpotId::from_uuid(uuid(&row.get::<_, String>(2)?)?),
        label: row.get(3)?,
        grace_minutes: row.get(6)?,
    })
}

fn reconcile(
    tx: &Connection,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<AlertRecord>, StoreError> {
    let now = stored_precision(now);
    let now_us = us(now);
    // Confirmed bookings (or ones the booking sweep already marked as
    // no-shows) past start + grace whose spot has read empty since the grace
    // ended at the latest.
    let no_shows = tx
        .prepare_cached(
            "SELECT r.id, r.lot_id, r.spot_id, s.label, r.start_us, r.end_us, l.no_show_grace_minutes
               FROM reservations r
               JOIN lots l ON l.id = r.lot_id
               JOIN spots s ON s.id = r.spot_id
               JOIN spot_sensors ss ON ss.spot_id = r.spot_id
              WHERE r.status IN ('confirmed', 'no_show')
                AND r.end_us > ?1
                AND r.start_us + l.no_show_grace_minutes * 60000000 <= ?1
                AND ss.occupied = 0
                AND ss.since_us <= r.start_us + l.no_show_grace_minutes * 60000000
                AND NOT EXISTS (SELECT 1 FROM alerts a
                                 WHERE a.reservation_id = r.id AND a.kind = 'no_show_candidate')
              LIMIT ?2",
        )
        .and_then(|mut s| {
            s.query_map(params![now_us, limit], candidate_row)?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(map_err)?;
    // Spots occupied since before a booking's end, still occupied after it,
    // and held by no booking now: the latest such booking per spot.
    let overstays = tx
        .prepare_cached(&format!(
            "SELECT r.id, r.lot_id, r.spot_id, s.label, r.start_us, r.end_us, 0
               FROM spot_sensors ss
               JOIN spots s ON s.id = ss.spot_id
               JOIN reservations r ON r.spot_id = ss.spot_id
              WHERE ss.occupied = 1
                AND r.end_us = (SELECT MAX(r2.end_us) FROM reservations r2
                                 WHERE r2.spot_id = ss.spot_id AND r2.status IN {OCCUPYING}
                                   AND r2.end_us > ss.since_us AND r2.end_us <= ?1)
                AND r.status IN {OCCUPYING}
                AND NOT EXISTS (SELECT 1 FROM reservations c
                                 WHERE c.spot_id = ss.spot_id AND c.end_us > ?1 AND c.start_us <= ?1
                                   AND (c.status IN ('confirmed', 'checked_in')
                                        OR (c.status = 'held' AND c.hold_expires_us > ?1)))
                AND NOT EXISTS (SELECT 1 FROM alerts a
                                 WHERE a.reservation_id = r.id AND a.kind = 'overstay')
              LIMIT ?2"
        ))
        .and_then(|mut s| {
            s.query_map(params![now_us, limit], candidate_row)?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(map_err)?;
    let mut raised = Vec::new();
    let found = no_shows
        .into_iter()
        .map(|c| (AlertKind::NoShowCandidate, c))
        .chain(overstays.into_iter().map(|c| (AlertKind::Overstay, c)));
    for (kind, c) in found {
        let alert = c.alert(kind, now);
        if insert_alert(tx, &alert)? {
            super::events::append(tx, &alert.raised_event(), now)?;
            raised.push(alert);
        }
    }
    Ok(raised)
}

// --- alerts ----------------------------------------------------------------------

const ALERT_COLUMNS: &str = "a.id, a.kind, a.lot_id, a.spot_id, s.label, a.reservation_id,
    a.raised_us, a.detail, a.acknowledged_us, a.acknowledged_by";
const ALERT_FROM: &str =
    "FROM alerts a JOIN spots s ON s.id = a.spot_id JOIN lots l ON l.id = a.lot_id";

fn alert_row(row: &Row) -> Result<AlertRecord, rusqlite::Error> {
    Ok(AlertRecord {
        id: AlertId::from_uuid(uuid(&row.get::<_, String>(0)?)?),
        kind: parse_kind(&row.get::<_, String>(1)?)?,
        lot_id: LotId::from_uuid(uuid(&row.get::<_, String>(2)?)?),
        spot_id: SpotId::from_uuid(uuid(&row.get::<_, String>(3)?)?),
        spot_label: row.get(4)?,
        reservation_id: row
            .get::<_, Option<String>>(5)?
            .map(|r| uuid(&r).map(ReservationId::from_uuid))
            .transpose()?,
        raised_at: instant(row.get(6)?)?,
        detail: row.get(7)?,
        acknowledged_at: row.get::<_, Option<i64>>(8)?.map(instant).transpose()?,
        acknowledged_by: row
            .get::<_, Option<String>>(9)?
            .map(|u| uuid(&u).map(UserId::from_uuid))
            .transpose()?,
    })
}

fn alert_with_tenant(
    conn: &Connection,
    id: AlertId,
) -> Result<Option<(AlertRecord, TenantId)>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {ALERT_COLUMNS}, l.tenant_id {ALERT_FROM} WHERE a.id = ?1"
    ))
    .and_then(|mut s| {
        s.query_row(params![id.to_string()], |row| {
            let tenant = TenantId::from_uuid(uuid(&row.get::<_, String>(10)?)?);
            Ok((alert_row(row)?, tenant))
        })
        .optional()
    })
    .map_err(map_err)
}

fn list_alerts(
    conn: &Connection,
    scope: Scope,
    filter: &AlertFilter,
    page: PageRequest,
) -> Result<(Vec<AlertRecord>, u64), StoreError> {
    let mut clauses: Vec<&str> = Vec::new();
    let mut args: Vec<Value> = Vec::new();
    match scope {
        Scope::Tenant(tenant) => {
            clauses.push("l.tenant_id = ?");
            args.push(Value::Text(tenant.to_string()));
        }
        Scope::All => {}
        // Drivers see no alerts (the API refuses them first).
        Scope::User(_) => return Ok((Vec::new(), 0)),
    }
    if let Some(lot) = filter.lot_id {
        clauses.push("a.lot_id = ?");
        args.push(Value::Text(lot.to_string()));
    }
    if let Some(kind) = filter.kind {
        clauses.push("a.kind = ?");
        args.push(Value::Text(alert_kind_name(kind).to_owned()));
    }
    match filter.acknowledged {
        Some(true) => clauses.push("a.acknowledged_us IS NOT NULL"),
        Some(false) => clauses.push("a.acknowledged_us IS NULL"),
        None => {}
    }
    let condition = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    let total: i64 = conn
        .query_row(
            &format!("SELECT COUNT(*) {ALERT_FROM} {condition}"),
            params_from_iter(args.iter()),
            |r| r.get(0),
        )
        .map_err(map_err)?;
    args.push(Value::Integer(i64::from(page.per_page)));
    args.push(Value::Integer(
        i64::try_from(page.offset()).unwrap_or(i64::MAX),
    ));
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {ALERT_COLUMNS} {ALERT_FROM} {condition}
             ORDER BY a.raised_us DESC, a.id DESC LIMIT ? OFFSET ?"
        ))
        .map_err(map_err)?;
    let rows = stmt
        .query_map(params_from_iter(args.iter()), alert_row)
        .map_err(map_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(map_err)?;
    Ok((rows, u64::try_from(total).unwrap_or(0)))
}

fn acknowledge(
    tx: &Connection,
    id: AlertId,
    by: UserId,
    at: DateTime<Utc>,
) -> Result<AckOutcome, StoreError> {
    let at = stored_precision(at);
    let (mut alert, _) = alert_with_tenant(tx, id)?.ok_or(StoreError::NotFound)?;
    if alert.acknowledged_at.is_some() {
        return Ok(AckOutcome::AlreadyAcknowledged(alert));
    }
    tx.execute(
        "UPDATE alerts SET acknowledged_us = ?2, acknowledged_by = ?3
          WHERE id = ?1 AND acknowledged_us IS NULL",
        params![id.to_string(), us(at), by.to_string()],
    )
    .map_err(map_err)?;
    alert.acknowledged_at = Some(at);
    alert.acknowledged_by = Some(by);
    let event = alert
        .acknowledged_event()
        .ok_or_else(|| StoreError::Internal("acknowledged alert without its fields".into()))?;
    super::events::append(tx, &event, at)?;
    Ok(AckOutcome::Acknowledged(alert))
}

#[async_trait]
impl SensorStore for SqliteStore {
    async fn insert_device(
        &self,
        device: DeviceRecord,
        event: DomainEvent,
    ) -> Result<(), StoreError> {
        self.db()
            .writer()
            .run(move |tx| insert_device(tx, &device, &event))
            .await?;
        self.events_written().notify_one();
        Ok(())
    }

    async fn list_devices(&self, lot_id: LotId) -> Result<Vec<DeviceRecord>, StoreError> {
        self.db()
            .readers()
            .read(move |conn| {
                device_where(
                    conn,
                    "lot_id = ?1 ORDER BY created_us, id",
                    params![lot_id.to_string()],
                )
            })
            .await
    }

    async fn revoke_device(
        &self,
        lot_id: LotId,
        id: Uuid,
        now: DateTime<Utc>,
        event: DomainEvent,
    ) -> Result<DeviceRecord, StoreError> {
        let (device, revoked) = self
            .db()
            .writer()
            .run(move |tx| revoke_device(tx, lot_id, id, now, &event))
            .await?;
        if revoked {
            self.events_written().notify_one();
        }
        Ok(device)
    }

    async fn device_by_key_hash(
        &self,
        key_hash: String,
    ) -> Result<Option<DeviceRecord>, StoreError> {
        self.db()
            .readers()
            .read(move |conn| Ok(device_where(conn, "key_hash = ?1", params![key_hash])?.pop()))
            .await
    }

    async fn apply_readings(
        &self,
        device_id: Uuid,
        lot_id: LotId,
        readings: Vec<Reading>,
        now: DateTime<Utc>,
    ) -> Result<BatchOutcome, StoreError> {
        let result = self
            .db()
            .writer()
            .run(move |tx| apply(tx, device_id, lot_id, readings, now))
            .await;
        if matches!(&result, Ok(o) if o.applied > 0 || !o.alerts.is_empty()) {
            self.events_written().notify_one();
        }
        result
    }

    async fn sensor_states(&self, lot_id: LotId) -> Result<Vec<SpotSensor>, StoreError> {
        self.db()
            .readers()
            .read(move |conn| sensor_states(conn, lot_id))
            .await
    }

    async fn reconcile(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<AlertRecord>, StoreError> {
        let result = self
            .db()
            .writer()
            .run(move |tx| reconcile(tx, now, limit))
            .await;
        if matches!(&result, Ok(raised) if !raised.is_empty()) {
            self.events_written().notify_one();
        }
        result
    }

    async fn list_alerts(
        &self,
        scope: Scope,
        filter: AlertFilter,
        page: PageRequest,
    ) -> Result<(Vec<AlertRecord>, u64), StoreError> {
        self.db()
            .readers()
            .read(move |conn| list_alerts(conn, scope, &filter, page))
            .await
    }

    async fn alert(&self, id: AlertId) -> Result<Option<(AlertRecord, TenantId)>, StoreError> {
        self.db()
            .readers()
            .read(move |conn| alert_with_tenant(conn, id))
            .await
    }

    async fn acknowledge_alert(
        &self,
        id: AlertId,
        by: UserId,
        at: DateTime<Utc>,
    ) -> Result<AckOutcome, StoreError> {
        let result = self
            .db()
            .writer()
            .run(move |tx| acknowledge(tx, id, by, at))
            .await;
        if matches!(&result, Ok(AckOutcome::Acknowledged(_))) {
            self.events_written().notify_one();
        }
        result
    }
}

/// The schema's dedupe rules and the newest-reading-wins rule, on a plain
/// migrated connection.
#[cfg(test)]
mod tests {
    use chrono::{Duration, SubsecRound};

    use super::*;
    use crate::store::sqlite::{SqliteOptions, migrate, open_write_connection};

    struct Fixture {
        _dir: tempfile::TempDir,
        conn: Connection,
        lot: LotId,
        spot: SpotId,
        device: Uuid,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut conn = open_write_connection(&dir.path().join("s.db"), &SqliteOptions::default())
            .expect("open");
        migrate::migrate(&mut conn).expect("migrate");
        let lot = LotId::new();
        let spot = SpotId::new();
        let device = Uuid::new_v4();
        conn.execute_batch(&format!(
            "INSERT INTO tenants VALUES ('t', 'tenant', 0);
             INSERT INTO lots (id, tenant_id, name, address, lat, lng, timezone, created_us, updated_us)
                 VALUES ('{lot}', 't', 'L', 'addr', 51.0, 13.0, 'Europe/Berlin', 0, 0);
             INSERT INTO spots (id, lot_id, label, kind) VALUES ('{spot}', '{lot}', 'A1', 'regular');
             INSERT INTO devices (id, lot_id, name, key_hash, created_us)
                 VALUES ('{device}', '{lot}', 'gw', 'h', 0);"
        ))
        .expect("seed");
        Fixture {
            _dir: dir,
            conn,
            lot,
            spot,
            device,
        }
    }

    fn alert(f: &Fixture, kind: AlertKind, reservation: Option<ReservationId>) -> AlertRecord {
        AlertRecord {
            id: AlertId::new(),
            kind,
            lot_id: f.lot,
            spot_id: f.spot,
            spot_label: "A1".into(),
            reservation_id: reservation,
            raised_at: Utc::now(),
            detail: "d".into(),
            acknowledged_at: None,
            acknowledged_by: None,
        }
    }

    #[test]
    fn one_open_unbooked_alert_per_spot_and_one_alert_per_booking_and_kind() {
        let f = fixture();
        let first = alert(&f, AlertKind::UnexpectedOccupancy, None);
        assert!(insert_alert(&f.conn, &first).expect("insert"));
        assert!(
            !insert_alert(&f.conn, &alert(&f, AlertKind::UnexpectedOccupancy, None))
                .expect("insert"),
            "a second open one is deduplicated"
        );
        acknowledge(&f.conn, first.id, UserId::new(), Utc::now()).expect_err("no such user");
        f.conn
            .execute(
                "UPDATE alerts SET acknowledged_us = 1, acknowledged_by = NULL WHERE id = ?1",
                params![first.id.to_string()],
            )
            .expect_err("acknowledged without who is refused by the schema");

        let booking = ReservationId::new();
        f.conn
            .execute_batch(&format!(
                "INSERT INTO users (id, email, password_hash, first_name, last_name, created_us)
                     VALUES ('u', 'u@example.com', 'h', 'U', 'S', 0);
                 INSERT INTO reservations (id, lot_id, spot_id, user_id, start_us, end_us, status,
                     total_amount, currency, quote_json, created_us, updated_us)
                     VALUES ('{booking}', '{}', '{}', 'u', 0, 10, 'completed', 1, 'EUR', '{{}}', 0, 0);",
                f.lot, f.spot
            ))
            .expect("booking");
        let overstay = alert(&f, AlertKind::Overstay, Some(booking));
        assert!(insert_alert(&f.conn, &overstay).expect("insert"));
        f.conn
            .execute(
                "UPDATE alerts SET acknowledged_us = 1, acknowledged_by = 'u' WHERE id = ?1",
                params![overstay.id.to_string()],
            )
            .expect("acknowledge");
        assert!(
            !insert_alert(&f.conn, &alert(&f, AlertKind::Overstay, Some(booking))).expect("insert"),
            "acknowledged or not, a booking has one overstay alert"
        );
        assert!(
            insert_alert(
                &f.conn,
                &alert(&f, AlertKind::NoShowCandidate, Some(booking))
            )
            .expect("insert"),
            "another kind is another alert"
        );
    }

    #[test]
    fn the_newest_reading_wins_and_a_revoked_device_writes_nothing() {
        let f = fixture();
        let t = Utc::now().trunc_subsecs(6) - Duration::hours(1);
        let read = |occupied: bool, at: DateTime<Utc>| Reading {
            spot_id: f.spot,
            in_service: true,
            occupied,
            at,
        };
        let outcome = apply(
            &f.conn,
            f.device,
            f.lot,
            vec![
                read(true, t + Duration::minutes(2)),
                read(false, t),
                read(true, t + Duration::minutes(2)),
                read(false, t + Duration::minutes(1)),
            ],
            Utc::now(),
        )
        .expect("apply");
        // Sorted: empty@0 (applied), empty@1 (repeat), occupied@2 (applied), occupied@2 (equal).
        assert_eq!((outcome.applied, outcome.stale), (2, 2));
        assert_eq!(outcome.alerts.len(), 1, "an unbooked arrival");
        let states = sensor_states(&f.conn, f.lot).expect("states");
        assert_eq!(
            states,
            vec![SpotSensor {
                spot_id: f.spot,
                occupied: true,
                since: t + Duration::minutes(2)
            }]
        );
        let events: i64 = f
            .conn
            .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
            .expect("count");
        assert_eq!(events, 3, "two changes and one alert");
        let seqs: Vec<i64> = f
            .conn
            .prepare("SELECT lot_seq FROM events ORDER BY seq")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .expect("lot_seq");
        assert_eq!(seqs, vec![1, 2, 3], "consecutive per-lot numbers");

        let event = DomainEvent::DeviceKeyRevoked {
            device_id: f.device,
            lot_id: f.lot,
            by: UserId::new(),
        };
        revoke_device(&f.conn, f.lot, f.device, Utc::now(), &event).expect("revoke");
        let refused = apply(
            &f.conn,
            f.device,
            f.lot,
            vec![read(false, t + Duration::minutes(3))],
            Utc::now(),
        );
        assert_eq!(refused, Err(StoreError::NotFound));
        assert!(
            sensor_states(&f.conn, f.lot).expect("states")[0].occupied,
            "the refused batch changed nothing"
        );
    }
}
