//! Sensor use cases: device keys (create, list, revoke, authenticate), applying
//! a batch of readings, the periodic reconciliation of sensors with bookings,
//! and listing and acknowledging alerts — with their authorization decisions.
//!
//! A device key is 256 random bits shown once; storage keeps its SHA-256 (a
//! random key has nothing to brute-force, so no slow hash is needed and a
//! lookup is one index probe).

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use parking_api::alerts::{
    Alert, AlertsQuery, CreateDeviceRequest, CreatedDevice, Device, MAX_SENSOR_BATCH,
    RejectedReading, SensorBatch, SensorBatchResult, SensorReading, SpotRef,
};
use parking_api::common::{Checks, PageQuery};
use parking_core::events::DomainEvent;
use parking_core::model::{AlertId, LotId, SpotId};
use sha2::{Digest, Sha256};
use tracing::instrument;
use uuid::Uuid;

use crate::api::extract::Actor;
use crate::error::ApiError;
use crate::service::lots::managed_lot;
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::interface::{PageRequest, Scope};
use crate::store::sensors::{AckOutcome, AlertFilter, AlertRecord, DeviceRecord, Reading};

/// Every device key starts with this, so secret scanners can spot a leaked one.
pub const KEY_PREFIX: &str = "pkd_dev_";

/// How far ahead of parkd's clock a reading's `at` may be: sensor clocks drift,
/// but a reading from the future would pin its spot until that instant.
pub const MAX_CLOCK_SKEW: Duration = Duration::seconds(120);

/// Longest device name, in characters.
pub const MAX_DEVICE_NAME_CHARS: usize = 100;

/// Longest spot label a reading may name (longer ones name no spot).
const MAX_LABEL_CHARS: usize = 100;

/// Alerts of each kind the sweep raises per run at most; the rest wait for
/// the next run.
const SWEEP_LIMIT: u32 = 500;

/// The SHA-256 of a device key, lower-case hex: what storage keeps.
pub fn key_hash(key: &str) -> String {
    use std::fmt::Write as _;
    Sha256::digest(key.as_bytes())
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn new_key() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| ApiError::Internal(format!("the OS random generator failed: {e}")))?;
    Ok(format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// A device as listed.
pub fn device_dto(d: &DeviceRecord) -> Device {
    Device {
        id: d.id,
        lot_id: d.lot_id.as_uuid(),
        name: d.name.clone(),
        created_at: d.created_at,
        revoked_at: d.revoked_at,
        last_seen_at: d.last_seen_at,
    }
}

/// An alert on the wire.
pub fn alert_dto(a: &AlertRecord) -> Alert {
    Alert {
        id: a.id.as_uuid(),
        kind: a.kind.into(),
        lot_id: a.lot_id.as_uuid(),
        spot_id: a.spot_id.as_uuid(),
        spot_label: a.spot_label.clone(),
        reservation_id: a.reservation_id.map(|r| r.as_uuid()),
        raised_at: a.raised_at,
        detail: a.detail.clone(),
        acknowledged_at: a.acknowledged_at,
        acknowledged_by: a.acknowledged_by.map(|u| u.as_uuid()),
    }
}

// --- device keys -------------------------------------------------------------------

/// Creates a device key for a lot the caller manages; the key is in the
/// answer and nowhere else.
#[instrument(skip_all, fields(lot = %lot_id))]
pub async fn create_device(
    state: &AppState,
    actor: &Actor,
    lot_id: LotId,
    request: CreateDeviceRequest,
) -> Result<CreatedDevice, ApiError> {
    managed_lot(state, actor, lot_id)?;
    let name = request.name.trim().to_owned();
    let mut checks = Checks::new();
    checks.length("name", &name, 1, MAX_DEVICE_NAME_CHARS);
    checks.finish().map_err(ApiError::Validation)?;
    let key = new_key()?;
    let record = DeviceRecord {
        id: Uuid::new_v4(),
        lot_id,
        name,
        key_hash: key_hash(&key),
        created_at: Utc::now(),
        revoked_at: None,
        last_seen_at: None,
    };
    let issued = DomainEvent::DeviceKeyIssued {
        device_id: record.id,
        lot_id,
        name: record.name.clone(),
        by: actor.user_id,
    };
    state
        .store
        .insert_device(record.clone(), issued)
        .await
        .map_err(|e| match e {
            // The lot was deleted a moment ago.
            StoreError::Conflict(_) => ApiError::NotFound("lot"),
            other => other.into(),
        })?;
    Ok(CreatedDevice {
        device: device_dto(&record),
        key,
    })
}

/// A managed lot's device keys, oldest first.
pub async fn list_devices(
    state: &AppState,
    actor: &Actor,
    lot_id: LotId,
) -> Result<Vec<Device>, ApiError> {
    managed_lot(state, actor, lot_id)?;
    let devices = state.store.list_devices(lot_id).await?;
    Ok(devices.iter().map(device_dto).collect())
}

/// Revokes a device key of a managed lot; revoking twice keeps the first
/// revocation time.
#[instrument(skip_all, fields(lot = %lot_id, device = %device_id))]
pub async fn revoke_device(
    state: &AppState,
    actor: &Actor,
    lot_id: LotId,
    device_id: Uuid,
) -> Result<Device, ApiError> {
    managed_lot(state, actor, lot_id)?;
    let revoked = DomainEvent::DeviceKeyRevoked {
        device_id,
        lot_id,
        by: actor.user_id,
    };
    match state
        .store
        .revoke_device(lot_id, device_id, Utc::now(), revoked)
        .await
    {
        Ok(d) => Ok(device_dto(&d)),
        Err(StoreError::NotFound) => Err(ApiError::NotFound("device")),
        Err(e) => Err(e.into()),
    }
}

/// The live device a presented key belongs to; 401 for an unknown or revoked key.
pub async fn authenticate_device(state: &AppState, key: &str) -> Result<DeviceRecord, ApiError> {
    // Refuse obviously malformed keys without a lookup.
    if !key.starts_with(KEY_PREFIX) || key.len() > 128 {
        return Err(ApiError::Unauthorized("the device key is invalid".into()));
    }
    match state.store.device_by_key_hash(key_hash(key)).await? {
        Some(d) if d.revoked_at.is_none() => Ok(d),
        Some(_) => Err(ApiError::Unauthorized("the device key was revoked".into())),
        None => Err(ApiError::Unauthorized("the device key is invalid".into())),
    }
}

// --- readings ---------------------------------------------------------------------

/// Applies a batch from `device` (already authenticated): readings too far in
/// the future or naming no spot of the device's lot are rejected one by one;
/// the rest are stored in one transaction with their events.
#[instrument(skip_all, fields(lot = %device.lot_id, readings = batch.events.len()))]
pub async fn ingest(
    state: &AppState,
    device: &DeviceRecord,
    batch: SensorBatch,
) -> Result<SensorBatchResult, ApiError> {
    let count = batch.events.len();
    if count == 0 || count > MAX_SENSOR_BATCH {
        return Err(ApiError::field(
            "events",
            format!("must hold 1 to {MAX_SENSOR_BATCH} readings (got {count})"),
        ));
    }
    let now = Utc::now();
    let latest = now + MAX_CLOCK_SKEW;
    let mut rejected = Vec::new();
    // Spots are resolved in memory (the engine holds every spot), so the
    // writer only stores changes.
    let resolved = resolve_spots(state, device.lot_id, &batch.events);
    let mut readings = Vec::with_capacity(count);
    for ((index, reading), spot) in batch.events.into_iter().enumerate().zip(resolved) {
        // count ≤ MAX_SENSOR_BATCH, so the index fits.
        let index = u32::try_from(index).unwrap_or(u32::MAX);
        if reading.at > latest {
            rejected.push(RejectedReading {
                index,
                detail: format!(
                    "`at` {} is ahead of the server clock by more than {} s; check the device's clock",
                    reading.at.to_rfc3339(),
                    MAX_CLOCK_SKEW.num_seconds()
                ),
            });
            continue;
        }
        let Some((spot_id, in_service)) = spot else {
            rejected.push(RejectedReading {
                index,
                detail: "no spot of the device's lot has this id or label".into(),
            });
            continue;
        };
        readings.push(Reading {
            spot_id,
            in_service,
            occupied: reading.occupied,
            at: reading.at,
        });
    }
    let outcome = state
        .store
        .apply_readings(device.id, device.lot_id, readings, now)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::Unauthorized("the device key was revoked".into()),
            other => other.into(),
        })?;
    metrics::counter!("parkd_sensor_readings_total").increment(count as u64);
    metrics::counter!("parkd_sensor_changes_total").increment(u64::from(outcome.applied));
    Ok(SensorBatchResult {
        applied: outcome.applied,
        stale: outcome.stale,
        rejected,
    })
}

/// Each reading's spot among the lot's spots — `(id, in service)` — by id,
/// or by label (also for an id that matches no spot: a label may look like a
/// UUID); `None` when the lot has no such spot.
fn resolve_spots(
    state: &AppState,
    lot_id: LotId,
    readings: &[SensorReading],
) -> Vec<Option<(SpotId, bool)>> {
    let city = state.engine.read();
    let Ok(lot) = city.lot(lot_id) else {
        return vec![None; readings.len()];
    };
    let mut resolved: Vec<Option<(SpotId, bool)>> = readings
        .iter()
        .map(|r| match &r.spot {
            SpotRef::Id(id) => lot
                .inventory
                .spot(SpotId::from_uuid(*id))
                .map(|s| (s.id, s.in_service)),
            SpotRef::Label(_) => None,
        })
        .collect();
    // Labels wanted, to the readings naming them; one pass over the lot's spots.
    let mut wanted: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, r) in readings.iter().enumerate() {
        if resolved[i].is_some() {
            continue;
        }
        let label = match &r.spot {
            SpotRef::Label(label) if label.chars().count() <= MAX_LABEL_CHARS => label.clone(),
            SpotRef::Label(_) => continue,
            SpotRef::Id(id) => id.to_string(),
        };
        wanted.entry(label).or_default().push(i);
    }
    if !wanted.is_empty() {
        for spot in lot.inventory.spots() {
            if let Some(indexes) = wanted.get(spot.label.as_str()) {
                for &i in indexes {
                    resolved[i] = Some((spot.id, spot.in_service));
                }
            }
        }
    }
    resolved
}

/// The time-driven reconciliation at `now` (no-show candidates, overstays);
/// returns the alerts raised. Run by the background jobs; tests call it with
/// an explicit `now`.
pub async fn reconcile(state: &AppState, now: DateTime<Utc>) -> Result<Vec<Alert>, ApiError> {
    let raised = state.store.reconcile(now, SWEEP_LIMIT).await?;
    Ok(raised.iter().map(alert_dto).collect())
}

// --- alerts -----------------------------------------------------------------------

/// Alerts the caller may see, newest first: an operator their tenant's, an
/// admin all; drivers none (403).
pub async fn list_alerts(
    state: &AppState,
    actor: &Actor,
    query: AlertsQuery,
) -> Result<parking_api::common::Page<Alert>, ApiError> {
    actor.require_staff()?;
    let page = PageQuery::from_parts(query.page, query.per_page);
    page.validate().map_err(ApiError::Validation)?;
    let scope = actor.staff_tenant()?.map_or(Scope::All, Scope::Tenant);
    let filter = AlertFilter {
        lot_id: query.lot_id.map(LotId::from_uuid),
        kind: query.kind.map(Into::into),
        acknowledged: query.acknowledged,
    };
    let (records, total) = state
        .store
        .list_alerts(
            scope,
            filter,
            PageRequest {
                page: page.page,
                per_page: page.per_page,
            },
        )
        .await?;
    Ok(parking_api::common::Page::new(
        records.iter().map(alert_dto).collect(),
        total,
        page.page,
        page.per_page,
    ))
}

/// Acknowledges an alert of a lot the caller manages (an alert of another
/// tenant is a 404, like one that does not exist). Acknowledging twice changes
/// nothing and answers with the first acknowledgement.
#[instrument(skip_all, fields(alert = %id))]
pub async fn acknowledge(state: &AppState, actor: &Actor, id: AlertId) -> Result<Alert, ApiError> {
    actor.require_staff()?;
    match state.store.alert(id).await? {
        Some((_, tenant)) if actor.manages(tenant) => {}
        _ => return Err(ApiError::NotFound("alert")),
    }
    match state
        .store
        .acknowledge_alert(id, actor.user_id, Utc::now())
        .await
    {
        Ok(outcome) => {
            if matches!(outcome, AckOutcome::Acknowledged(_)) {
                metrics::counter!("parkd_alerts_acknowledged_total").increment(1);
            }
            Ok(alert_dto(&outcome.into_alert()))
        }
        Err(StoreError::NotFound) => Err(ApiError::NotFound("alert")),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_256_random_bits_with_a_prefix() {
        let a = new_key().expect("key");
        let b = new_key().expect("key");
        assert_ne!(a, b);
        let body = a.strip_prefix(KEY_PREFIX).expect("prefix");
        assert_eq!(URL_SAFE_NO_PAD.decode(body).expect("base64url").len(), 32);
    }

    #[test]
    fn key_hash_is_sha256_hex() {
        assert_eq!(
            key_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
