//! Sensors, device keys and alerts.
//!
//! - `POST /parking-lots/{id}/devices` (operator, admin) creates a device key
//!   for a lot's sensors; the secret is shown once. `GET` lists keys (never the
//!   secret), `DELETE /parking-lots/{id}/devices/{device_id}` revokes one.
//! - `POST /sensors/events` takes a batch of readings, authenticated by
//!   `Authorization: Device <key>`; the newest `at` per spot wins, replays and
//!   older readings change nothing.
//! - Reconciling sensors with bookings raises [`Alert`]s: listed at
//!   `GET /alerts`, acknowledged with `POST /alerts/{id}/ack`.

use chrono::{DateTime, Utc};
use parking_core::events::AlertKind as CoreAlertKind;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// Readings in one `POST /sensors/events`, at most.
pub const MAX_SENSOR_BATCH: usize = 1000;

/// `POST /parking-lots/{id}/devices`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDeviceRequest {
    /// A name for people, e.g. `level 2 gateway`; 1 to 100 characters.
    pub name: String,
}

/// A device key as listed (never with its secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Device {
    /// The device's id.
    pub id: Uuid,
    /// The lot whose sensors it speaks for.
    pub lot_id: Uuid,
    /// Its name.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was revoked; a revoked key is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
    /// When it last sent a batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen_at: Option<DateTime<Utc>>,
}

/// The answer to creating a device: the key, shown this once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CreatedDevice {
    /// The device.
    pub device: Device,
    /// The secret to send as `Authorization: Device <key>`. Only a hash is
    /// stored: it cannot be shown again.
    pub key: String,
}

/// Which spot a reading is about: its id or its label within the lot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum SpotRef {
    /// The spot's id.
    Id(Uuid),
    /// The spot's label.
    Label(String),
}

/// One sensor reading.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SensorReading {
    /// The spot, by id or label.
    pub spot: SpotRef,
    /// Whether a vehicle is present.
    pub occupied: bool,
    /// When the sensor saw it (UTC).
    pub at: DateTime<Utc>,
}

/// `POST /sensors/events`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SensorBatch {
    /// 1 to 1000 readings, any order.
    pub events: Vec<SensorReading>,
}

/// What a batch did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SensorBatchResult {
    /// Readings that changed a spot's state.
    pub applied: u32,
    /// Readings older than (or equal to) what was already known: ignored.
    pub stale: u32,
    /// Readings naming no spot of the device's lot, with their index.
    pub rejected: Vec<RejectedReading>,
}

/// A reading that named no spot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RejectedReading {
    /// Its position in the batch.
    pub index: u32,
    /// Why.
    pub detail: String,
}

/// What an alert is about (the wire twin of [`CoreAlertKind`]).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A spot is occupied and no booking covers it.
    UnexpectedOccupancy,
    /// A booking's spot stayed empty past the lot's no-show grace.
    NoShowCandidate,
    /// A spot is still occupied after its booking ended.
    Overstay,
}

impl From<CoreAlertKind> for AlertKind {
    fn from(kind: CoreAlertKind) -> Self {
        match kind {
            CoreAlertKind::UnexpectedOccupancy => AlertKind::UnexpectedOccupancy,
            CoreAlertKind::NoShowCandidate => AlertKind::NoShowCandidate,
            CoreAlertKind::Overstay => AlertKind::Overstay,
        }
    }
}

impl From<AlertKind> for CoreAlertKind {
    fn from(kind: AlertKind) -> Self {
        match kind {
            AlertKind::UnexpectedOccupancy => CoreAlertKind::UnexpectedOccupancy,
            AlertKind::NoShowCandidate => CoreAlertKind::NoShowCandidate,
            AlertKind::Overstay => CoreAlertKind::Overstay,
        }
    }
}

/// An alert.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Alert {
    /// The alert's id.
    pub id: Uuid,
    /// What it is about.
    pub kind: AlertKind,
    /// The lot.
    pub lot_id: Uuid,
    /// The spot.
    pub spot_id: Uuid,
    /// The spot's label, for display.
    pub spot_label: String,
    /// The booking concerned (no-show candidates, overstays).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation_id: Option<Uuid>,
    /// When it was raised.
    pub raised_at: DateTime<Utc>,
    /// A sentence for people.
    pub detail: String,
    /// When someone acknowledged it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// Who acknowledged it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_by: Option<Uuid>,
}

/// `GET /alerts?lot_id&kind&acknowledged&page&per_page`: newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AlertsQuery {
    /// Only this lot's alerts.
    #[serde(default)]
    pub lot_id: Option<Uuid>,
    /// Only alerts of this kind.
    #[serde(default)]
    pub kind: Option<AlertKind>,
    /// `false`: open alerts only; `true`: acknowledged only; absent: both.
    #[serde(default)]
    pub acknowledged: Option<bool>,
    /// Page number from 1.
    #[serde(default)]
    pub page: Option<u32>,
    /// Items per page, 1 to 100.
    #[serde(default)]
    pub per_page: Option<u32>,
}

/// A spot's last sensor reading, as shown with the lot's spots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SensorState {
    /// Whether a vehicle is present.
    pub occupied: bool,
    /// When the sensor saw it.
    pub at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spot_refs_take_an_id_or_a_label() {
        let batch: SensorBatch = serde_json::from_str(
            r#"{"events":[
                {"spot":"6f1c1c3e-8f7a-4a55-9d8e-2f7f0e4d9a11","occupied":true,"at":"2026-11-26T08:00:00Z"},
                {"spot":"A-12","occupied":false,"at":"2026-11-26T08:00:01Z"}]}"#,
        )
        .expect("batch");
        assert!(matches!(batch.events[0].spot, SpotRef::Id(_)));
        assert_eq!(batch.events[1].spot, SpotRef::Label("A-12".into()));
    }
}
