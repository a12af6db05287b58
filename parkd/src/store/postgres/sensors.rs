//! [`SensorStore`] over PostgreSQL: device keys, the per-spot sensor state and
//! alerts (schema in `migrations/postgres/0003_sensors.sql`), with the rules
//! of the SQLite backend (`store/sqlite/sensors.rs`).
//!
//! A batch of readings is one transaction with the events it produces, so a
//! batch is stored whole with its events or not at all. Batches of one lot are
//! serialised by a transaction-scoped advisory lock on the lot (several
//! instances, several gateways of one lot): each batch then judges every
//! reading against the state the previous batch committed, as SQLite's single
//! writer does. The reconciliation rules read the reservations as committed,
//! and the schema's partial unique indexes dedupe alerts: an insert that hits
//! one writes nothing and no event, also when two instances sweep at once.
//!
//! Row mappings of these tables live here rather than in `rows.rs`, so the
//! sensor tables are one file's business.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use parking_core::events::{AlertKind, DomainEvent};
use parking_core::model::{AlertId, LotId, ReservationId, SpotId, TenantId, UserId};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::rows::corrupt;
use super::sql::{Listing, execute, query, query_one, query_opt};
use super::store::PgStore;
use super::{Failure, events, in_transaction};
use crate::store::StoreError;
use crate::store::interface::{PageRequest, Scope};
use crate::store::sensors::{
    AckOutcome, AlertFilter, AlertRecord, AlertSpot, BatchOutcome, BookingOnSpot, Check,
    DeviceRecord, Reading, SensorState, SensorStore, SpotSensor, Step, SweepCandidate,
    alert_kind_name, parse_alert_kind, stored_precision,
};

/// Reservation statuses that hold a spot at `$N` (held only while its hold lasts).
fn blocking_at(n: u32) -> String {
    format!(
        "(status IN ('confirmed', 'checked_in') OR (status = 'held' AND hold_expires_at > ${n}))"
    )
}

/// Bookings whose driver was (or may have been) on the spot: an occupancy
/// lasting past their end is an overstay.
const OCCUPYING: &str = "('confirmed', 'checked_in', 'completed')";

fn parse_kind(text: &str) -> Result<AlertKind, Failure> {
    parse_alert_kind(text).ok_or_else(|| corrupt("alert kind", text))
}

// --- devices -------------------------------------------------------------------

const DEVICE_COLUMNS: &str = "id, lot_id, name, key_hash, created_at, revoked_at, last_seen_at";

fn device_row(row: &Row) -> Result<DeviceRecord, Failure> {
    Ok(DeviceRecord {
        id: row.try_get(0)?,
        lot_id: LotId::from_uuid(row.try_get(1)?),
        name: row.try_get(2)?,
        key_hash: row.try_get(3)?,
        created_at: row.try_get(4)?,
        revoked_at: row.try_get(5)?,
        last_seen_at: row.try_get(6)?,
    })
}

async fn insert_device<C: GenericClient>(
    c: &C,
    d: &DeviceRecord,
    event: &DomainEvent,
    origin: Uuid,
) -> Result<(), Failure> {
    execute(
        c,
        "INSERT INTO devices (id, lot_id, name, key_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
        &[
            &d.id,
            &d.lot_id.as_uuid(),
            &d.name,
            &d.key_hash,
            &stored_precision(d.created_at),
        ],
    )
    .await?;
    events::append(c, event, d.created_at, origin).await
}

/// The device after revoking it, and whether this call revoked it.
async fn revoke_device<C: GenericClient>(
    c: &C,
    lot: LotId,
    id: Uuid,
    now: DateTime<Utc>,
    event: &DomainEvent,
    origin: Uuid,
) -> Result<(DeviceRecord, bool), Failure> {
    let revoked = query_opt(
        c,
        &format!(
            "UPDATE devices SET revoked_at = $3
             WHERE id = $1 AND lot_id = $2 AND revoked_at IS NULL RETURNING {DEVICE_COLUMNS}"
        ),
        &[&id, &lot.as_uuid(), &stored_precision(now)],
    )
    .await?;
    if let Some(row) = revoked {
        events::append(c, event, now, origin).await?;
        return Ok((device_row(&row)?, true));
    }
    let row = query_opt(
        c,
        &format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE id = $1 AND lot_id = $2"),
        &[&id, &lot.as_uuid()],
    )
    .await?
    .ok_or(Failure::Store(StoreError::NotFound))?;
    Ok((device_row(&row)?, false))
}

// --- readings ------------------------------------------------------------------

/// The stored states of `spots`, read once per batch (the batch holds its
/// lot's lock, so nothing else changes them meanwhile).
async fn sensor_rows<C: GenericClient>(
    c: &C,
    spots: &[Uuid],
) -> Result<HashMap<Uuid, SensorState>, Failure> {
    query(
        c,
        "SELECT spot_id, occupied, since, reading_at FROM spot_sensors WHERE spot_id = ANY($1)",
        &[&spots],
    )
    .await?
    .iter()
    .map(|row| {
        Ok((
            row.try_get(0)?,
            SensorState {
                occupied: row.try_get(1)?,
                since: row.try_get(2)?,
                reading_at: row.try_get(3)?,
            },
        ))
    })
    .collect()
}

/// The spot's label, for an alert (read only when one is raised).
async fn spot_label<C: GenericClient>(c: &C, spot: Uuid) -> Result<String, Failure> {
    Ok(
        query_one(c, "SELECT label FROM spots WHERE id = $1", &[&spot])
            .await?
            .try_get(0)?,
    )
}

/// True if a booking that holds the spot covers instant `t` (holds judged at `now`).
async fn covered<C: GenericClient>(
    c: &C,
    lot: LotId,
    spot: Uuid,
    t: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, Failure> {
    Ok(query_one(
        c,
        &format!(
            "SELECT EXISTS (SELECT 1 FROM reservations
               WHERE lot_id = $1 AND spot_id = $2 AND end_time > $3 AND start_time <= $3
                 AND {})",
            blocking_at(4)
        ),
        &[&lot.as_uuid(), &spot, &t, &now],
    )
    .await?
    .try_get(0)?)
}

/// True if the spot has an open unexpected-occupancy alert (which a new one
/// would duplicate). Checked first: while a car stands on a spot unbooked,
/// every arrival there would otherwise build an alert only to have the
/// schema refuse it.
async fn open_unbooked_alert<C: GenericClient>(c: &C, spot: Uuid) -> Result<bool, Failure> {
    Ok(query_one(
        c,
        "SELECT EXISTS (SELECT 1 FROM alerts WHERE spot_id = $1 AND kind = 'unexpected_occupancy'
           AND reservation_id IS NULL AND acknowledged_at IS NULL)",
        &[&spot],
    )
    .await?
    .try_get(0)?)
}

/// The booking an occupancy since `since` outlasted at `t`: the latest one on
/// the spot that ended in `(since, t]` and whose driver was (or may have been)
/// there.
async fn outlasted_booking<C: GenericClient>(
    c: &C,
    lot: LotId,
    spot: Uuid,
    since: DateTime<Utc>,
    t: DateTime<Utc>,
) -> Result<Option<BookingOnSpot>, Failure> {
    query_opt(
        c,
        &format!(
            "SELECT id, start_time, end_time FROM reservations
              WHERE lot_id = $1 AND spot_id = $2 AND end_time > $3 AND end_time <= $4
                AND status IN {OCCUPYING}
              ORDER BY end_time DESC LIMIT 1"
        ),
        &[&lot.as_uuid(), &spot, &since, &t],
    )
    .await?
    .map(|row| {
        Ok(BookingOnSpot {
            id: ReservationId::from_uuid(row.try_get(0)?),
            start: row.try_get(1)?,
            end: row.try_get(2)?,
        })
    })
    .transpose()
}

/// Stores an alert unless the schema's dedupe indexes hold one like it
/// already; `true` if it was stored.
async fn insert_alert<C: GenericClient>(c: &C, a: &AlertRecord) -> Result<bool, Failure> {
    let n = execute(
        c,
        "INSERT INTO alerts (id, lot_id, spot_id, kind, reservation_id, raised_at, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        &[
            &a.id.as_uuid(),
            &a.lot_id.as_uuid(),
            &a.spot_id.as_uuid(),
            &alert_kind_name(a.kind),
            &a.reservation_id.map(|r| r.as_uuid()),
            &a.raised_at,
            &a.detail,
        ],
    )
    .await?;
    Ok(n == 1)
}

/// One batch, inside its transaction.
async fn apply<C: GenericClient>(
    tx: &C,
    origin: Uuid,
    device: Uuid,
    lot_id: LotId,
    mut readings: Vec<Reading>,
    now: DateTime<Utc>,
) -> Result<BatchOutcome, Failure> {
    let now = stored_precision(now);
    // Checked here, inside the transaction (the row stays locked until it
    // ends), so that no batch commits after the revocation of its key did.
    let live = execute(
        tx,
        "UPDATE devices SET last_seen_at = $1 WHERE id = $2 AND lot_id = $3 AND revoked_at IS NULL",
        &[&now, &device, &lot_id.as_uuid()],
    )
    .await?;
    if live == 0 {
        return Err(Failure::Store(StoreError::NotFound));
    }
    // One batch of a lot at a time (see the module docs).
    execute(
        tx,
        "SELECT pg_advisory_xact_lock(hashtextextended('parkd.sensors.' || $1::text, 0))",
        &[&lot_id.as_uuid().to_string()],
    )
    .await?;
    let mut spots: Vec<Uuid> = readings.iter().map(|r| r.spot_id.as_uuid()).collect();
    spots.sort_unstable();
    spots.dedup();
    let mut states = sensor_rows(tx, &spots).await?;
    let mut outcome = BatchOutcome::default();
    // Oldest first, so that every transition inside the batch is seen (a car
    // that came and went between two uploads still raises its alert).
    readings.sort_by_key(|r| r.at);
    for reading in readings {
        let spot = reading.spot_id.as_uuid();
        let step = Step::judge(states.get(&spot).copied(), reading.occupied, reading.at);
        match step {
            Step::Stale => outcome.stale += 1,
            Step::Repeat(state) => {
                execute(
                    tx,
                    "UPDATE spot_sensors SET reading_at = $2 WHERE spot_id = $1",
                    &[&spot, &state.reading_at],
                )
                .await?;
                states.insert(spot, state);
                outcome.stale += 1;
            }
            Step::Change(state) => {
                let event = DomainEvent::SpotStatusChanged {
                    lot_id,
                    spot_id: reading.spot_id,
                    occupied: Some(reading.occupied),
                    in_service: reading.in_service,
                };
                let params: [&(dyn ToSql + Sync); 3] = [&spot, &state.occupied, &state.since];
                // Pipelined: both go out together, one round trip.
                let (stored, appended) = tokio::join!(
                    execute(
                        tx,
                        "INSERT INTO spot_sensors (spot_id, occupied, since, reading_at)
                         VALUES ($1, $2, $3, $3)
                         ON CONFLICT (spot_id) DO UPDATE SET occupied = excluded.occupied,
                             since = excluded.since, reading_at = excluded.reading_at",
                        &params,
                    ),
                    events::append(tx, &event, now, origin)
                );
                stored?;
                appended?;
                states.insert(spot, state);
                outcome.applied += 1;
            }
        }
        let alert = match step.check() {
            Check::Nothing => None,
            Check::Arrival { at } => {
                if open_unbooked_alert(tx, spot).await?
                    || covered(tx, lot_id, spot, at, now).await?
                {
                    None
                } else {
                    let label = spot_label(tx, spot).await?;
                    let spot = AlertSpot {
                        lot_id,
                        spot_id: reading.spot_id,
                        label: &label,
                    };
                    Some(AlertRecord::unexpected_occupancy(spot, at, now))
                }
            }
            Check::StillThere { since, at } => {
                if covered(tx, lot_id, spot, at, now).await? {
                    None
                } else if let Some(b) = outlasted_booking(tx, lot_id, spot, since, at).await? {
                    let label = spot_label(tx, spot).await?;
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
            && insert_alert(tx, &alert).await?
        {
            events::append(tx, &alert.raised_event(), now, origin).await?;
            outcome.alerts.push(alert);
        }
    }
    Ok(outcome)
}

async fn sensor_states<C: GenericClient>(c: &C, lot: LotId) -> Result<Vec<SpotSensor>, Failure> {
    query(
        c,
        "SELECT ss.spot_id, ss.occupied, ss.since FROM spot_sensors ss
           JOIN spots s ON s.id = ss.spot_id WHERE s.lot_id = $1",
        &[&lot.as_uuid()],
    )
    .await?
    .iter()
    .map(|row| {
        Ok(SpotSensor {
            spot_id: SpotId::from_uuid(row.try_get(0)?),
            occupied: row.try_get(1)?,
            since: row.try_get(2)?,
        })
    })
    .collect()
}

// --- the time-driven sweep -----------------------------------------------------

fn candidate_row(row: &Row) -> Result<SweepCandidate, Failure> {
    let grace: i32 = row.try_get(6)?;
    Ok(SweepCandidate {
        booking: BookingOnSpot {
            id: ReservationId::from_uuid(row.try_get(0)?),
            start: row.try_get(4)?,
            end: row.try_get(5)?,
        },
        lot_id: LotId::from_uuid(row.try_get(1)?),
        spot_id: SpotId::from_uuid(row.try_get(2)?),
        label: row.try_get(3)?,
        grace_minutes: u32::try_from(grace).map_err(|e| corrupt("no-show grace", e))?,
    })
}

async fn reconcile<C: GenericClient>(
    tx: &C,
    origin: Uuid,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<AlertRecord>, Failure> {
    let now = stored_precision(now);
    let limit = i64::from(limit);
    // Confirmed bookings (or ones the booking sweep already marked as
    // no-shows) past start + grace whose spot has read empty since the grace
    // ended at the latest.
    let no_shows = query(
        tx,
        "SELECT r.id, r.lot_id, r.spot_id, s.label, r.start_time, r.end_time, l.no_show_grace_minutes
           FROM reservations r
           JOIN lots l ON l.id = r.lot_id
           JOIN spots s ON s.id = r.spot_id
           JOIN spot_sensors ss ON ss.spot_id = r.spot_id
          WHERE r.status IN ('confirmed', 'no_show')
            AND r.end_time > $1
            AND r.start_time + make_interval(mins => l.no_show_grace_minutes) <= $1
            AND NOT ss.occupied
            AND ss.since <= r.start_time + make_interval(mins => l.no_show_grace_minutes)
            AND NOT EXISTS (SELECT 1 FROM alerts a
                             WHERE a.reservation_id = r.id AND a.kind = 'no_show_candidate')
          LIMIT $2",
        &[&now, &limit],
    )
    .await?
    .iter()
    .map(candidate_row)
    .collect::<Result<Vec<_>, _>>()?;
    // Spots occupied since before a booking's end, still occupied after it,
    // and held by no booking now: the latest such booking per spot.
    let overstays = query(
        tx,
        &format!(
            "SELECT r.id, r.lot_id, r.spot_id, s.label, r.start_time, r.end_time, 0::integer
               FROM spot_sensors ss
               JOIN spots s ON s.id = ss.spot_id
               JOIN reservations r ON r.spot_id = ss.spot_id
              WHERE ss.occupied
                AND r.end_time = (SELECT MAX(r2.end_time) FROM reservations r2
                                   WHERE r2.spot_id = ss.spot_id AND r2.status IN {OCCUPYING}
                                     AND r2.end_time > ss.since AND r2.end_time <= $1)
                AND r.status IN {OCCUPYING}
                AND NOT EXISTS (SELECT 1 FROM reservations c
                                 WHERE c.spot_id = ss.spot_id AND c.end_time > $1 AND c.start_time <= $1
                                   AND (c.status IN ('confirmed', 'checked_in')
                                        OR (c.status = 'held' AND c.hold_expires_at > $1)))
                AND NOT EXISTS (SELECT 1 FROM alerts a
                                 WHERE a.reservation_id = r.id AND a.kind = 'overstay')
              LIMIT $2"
        ),
        &[&now, &limit],
    )
    .await?
    .iter()
    .map(candidate_row)
    .collect::<Result<Vec<_>, _>>()?;
    let mut raised = Vec::new();
    let found = no_shows
        .into_iter()
        .map(|c| (AlertKind::NoShowCandidate, c))
        .chain(overstays.into_iter().map(|c| (AlertKind::Overstay, c)));
    for (kind, c) in found {
        let alert = c.alert(kind, now);
        if insert_alert(tx, &alert).await? {
            events::append(tx, &alert.raised_event(), now, origin).await?;
            raised.push(alert);
        }
    }
    Ok(raised)
}

// --- alerts ----------------------------------------------------------------------

const ALERT_COLUMNS: &str = "a.id, a.kind, a.lot_id, a.spot_id, s.label, a.reservation_id,
    a.raised_at, a.detail, a.acknowledged_at, a.acknowledged_by";
const ALERT_FROM: &str =
    "FROM alerts a JOIN spots s ON s.id = a.spot_id JOIN lots l ON l.id = a.lot_id";

fn alert_row(row: &Row) -> Result<AlertRecord, Failure> {
    Ok(AlertRecord {
        id: AlertId::from_uuid(row.try_get(0)?),
        kind: parse_kind(&row.try_get::<_, String>(1)?)?,
        lot_id: LotId::from_uuid(row.try_get(2)?),
        spot_id: SpotId::from_uuid(row.try_get(3)?),
        spot_label: row.try_get(4)?,
        reservation_id: row
            .try_get::<_, Option<Uuid>>(5)?
            .map(ReservationId::from_uuid),
        raised_at: row.try_get(6)?,
        detail: row.try_get(7)?,
        acknowledged_at: row.try_get(8)?,
        acknowledged_by: row.try_get::<_, Option<Uuid>>(9)?.map(UserId::from_uuid),
    })
}

/// One alert with its lot's tenant; `FOR UPDATE` locks the alert's row (an
/// acknowledgement on another instance then waits and sees it acknowledged).
async fn alert_with_tenant<C: GenericClient>(
    c: &C,
    id: AlertId,
    for_update: bool,
) -> Result<Option<(AlertRecord, TenantId)>, Failure> {
    let lock = if for_update { " FOR UPDATE OF a" } else { "" };
    query_opt(
        c,
        &format!("SELECT {ALERT_COLUMNS}, l.tenant_id {ALERT_FROM} WHERE a.id = $1{lock}"),
        &[&id.as_uuid()],
    )
    .await?
    .map(|row| Ok((alert_row(&row)?, TenantId::from_uuid(row.try_get(10)?))))
    .transpose()
}

async fn list_alerts<C: GenericClient>(
    c: &C,
    scope: Scope,
    filter: &AlertFilter,
    page: PageRequest,
) -> Result<(Vec<AlertRecord>, u64), Failure> {
    let mut listing = Listing::default();
    match scope {
        Scope::Tenant(tenant) => listing.bind("l.tenant_id = ?", tenant.as_uuid()),
        Scope::All => {}
        // Drivers see no alerts (the API refuses them first).
        Scope::User(_) => return Ok((Vec::new(), 0)),
    }
    if let Some(lot) = filter.lot_id {
        listing.bind("a.lot_id = ?", lot.as_uuid());
    }
    if let Some(kind) = filter.kind {
        listing.bind("a.kind = ?", alert_kind_name(kind).to_owned());
    }
    match filter.acknowledged {
        Some(true) => listing.plain("a.acknowledged_at IS NOT NULL"),
        Some(false) => listing.plain("a.acknowledged_at IS NULL"),
        None => {}
    }
    let (rows, total) = listing
        .page(
            c,
            ALERT_COLUMNS,
            ALERT_FROM,
            "a.raised_at DESC, a.id DESC",
            page,
        )
        .await?;
    let rows = rows.iter().map(alert_row).collect::<Result<Vec<_>, _>>()?;
    Ok((rows, u64::try_from(total).unwrap_or(0)))
}

async fn acknowledge<C: GenericClient>(
    tx: &C,
    origin: Uuid,
    id: AlertId,
    by: UserId,
    at: DateTime<Utc>,
) -> Result<AckOutcome, Failure> {
    let at = stored_precision(at);
    let (mut alert, _) = alert_with_tenant(tx, id, true)
        .await?
        .ok_or(Failure::Store(StoreError::NotFound))?;
    if alert.acknowledged_at.is_some() {
        return Ok(AckOutcome::AlreadyAcknowledged(alert));
    }
    execute(
        tx,
        "UPDATE alerts SET acknowledged_at = $2, acknowledged_by = $3
          WHERE id = $1 AND acknowledged_at IS NULL",
        &[&id.as_uuid(), &at, &by.as_uuid()],
    )
    .await?;
    alert.acknowledged_at = Some(at);
    alert.acknowledged_by = Some(by);
    let event = alert.acknowledged_event().ok_or_else(|| {
        Failure::Store(StoreError::Internal(
            "acknowledged alert without its fields".into(),
        ))
    })?;
    events::append(tx, &event, at, origin).await?;
    Ok(AckOutcome::Acknowledged(alert))
}

#[async_trait]
impl SensorStore for PgStore {
    async fn insert_device(
        &self,
        device: DeviceRecord,
        event: DomainEvent,
    ) -> Result<(), StoreError> {
        let origin = self.instance();
        in_transaction!(self.pool(), tx => insert_device(&tx, &device, &event, origin).await?)?;
        self.wrote_events();
        Ok(())
    }

    async fn list_devices(&self, lot_id: LotId) -> Result<Vec<DeviceRecord>, StoreError> {
        let client = self.client().await?;
        let result: Result<Vec<DeviceRecord>, Failure> = async {
            query(
                &client,
                &format!(
                    "SELECT {DEVICE_COLUMNS} FROM devices WHERE lot_id = $1 ORDER BY created_at, id"
                ),
                &[&lot_id.as_uuid()],
            )
            .await?
            .iter()
            .map(device_row)
            .collect()
        }
        .await;
        result.map_err(Failure::into_store)
    }

    async fn revoke_device(
        &self,
        lot_id: LotId,
        id: Uuid,
        now: DateTime<Utc>,
        event: DomainEvent,
    ) -> Result<DeviceRecord, StoreError> {
        let origin = self.instance();
        let (device, revoked) = in_transaction!(
            self.pool(),
            tx => revoke_device(&tx, lot_id, id, now, &event, origin).await?
        )?;
        if revoked {
            self.wrote_events();
        }
        Ok(device)
    }

    async fn device_by_key_hash(
        &self,
        key_hash: String,
    ) -> Result<Option<DeviceRecord>, StoreError> {
        let client = self.client().await?;
        let result: Result<Option<DeviceRecord>, Failure> = async {
            query_opt(
                &client,
                &format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE key_hash = $1"),
                &[&key_hash],
            )
            .await?
            .as_ref()
            .map(device_row)
            .transpose()
        }
        .await;
        result.map_err(Failure::into_store)
    }

    async fn apply_readings(
        &self,
        device_id: Uuid,
        lot_id: LotId,
        readings: Vec<Reading>,
        now: DateTime<Utc>,
    ) -> Result<BatchOutcome, StoreError> {
        let origin = self.instance();
        let result = in_transaction!(self.pool(), tx => {
            apply(&tx, origin, device_id, lot_id, readings.clone(), now).await?
        });
        if matches!(&result, Ok(o) if o.applied > 0 || !o.alerts.is_empty()) {
            self.wrote_events();
        }
        result
    }

    async fn sensor_states(&self, lot_id: LotId) -> Result<Vec<SpotSensor>, StoreError> {
        let client = self.client().await?;
        sensor_states(&client, lot_id)
            .await
            .map_err(Failure::into_store)
    }

    async fn reconcile(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<AlertRecord>, StoreError> {
        let origin = self.instance();
        let result = in_transaction!(self.pool(), tx => reconcile(&tx, origin, now, limit).await?);
        if matches!(&result, Ok(raised) if !raised.is_empty()) {
            self.wrote_events();
        }
        result
    }

    async fn list_alerts(
        &self,
        scope: Scope,
        filter: AlertFilter,
        page: PageRequest,
    ) -> Result<(Vec<AlertRecord>, u64), StoreError> {
        let client = self.client().await?;
        list_alerts(&client, scope, &filter, page)
            .await
            .map_err(Failure::into_store)
    }

    async fn alert(&self, id: AlertId) -> Result<Option<(AlertRecord, TenantId)>, StoreError> {
        let client = self.client().await?;
        alert_with_tenant(&client, id, false)
            .await
            .map_err(Failure::into_store)
    }

    async fn acknowledge_alert(
        &self,
        id: AlertId,
        by: UserId,
        at: DateTime<Utc>,
    ) -> Result<AckOutcome, StoreError> {
        let origin = self.instance();
        let result =
            in_transaction!(self.pool(), tx => acknowledge(&tx, origin, id, by, at).await?);
        if matches!(&result, Ok(AckOutcome::Acknowledged(_))) {
            self.wrote_events();
        }
        result
    }
}
