//! `/parking-lots/{id}/devices` (device keys) and `POST /sensors/events` (a
//! batch of readings, sent with a device key instead of the login).

use parking_api::{CreateDeviceRequest, CreatedDevice, Device, SensorBatch, SensorBatchResult};
use reqwest::Method;
use uuid::Uuid;

use crate::client::{Auth, Call};
use crate::{Client, ClientError};

impl Client {
    /// `POST /parking-lots/{id}/devices` (operator, admin): the answer holds
    /// the key, shown this once.
    pub async fn create_device(&self, lot: Uuid, name: &str) -> Result<CreatedDevice, ClientError> {
        self.json(
            Call::new(
                Method::POST,
                format!("/api/v1/parking-lots/{lot}/devices"),
                Auth::Required,
            )
            .json(&CreateDeviceRequest {
                name: name.to_owned(),
            })?,
        )
        .await
    }

    /// `GET /parking-lots/{id}/devices` (operator, admin).
    pub async fn list_devices(&self, lot: Uuid) -> Result<Vec<Device>, ClientError> {
        self.json(Call::new(
            Method::GET,
            format!("/api/v1/parking-lots/{lot}/devices"),
            Auth::Required,
        ))
        .await
    }

    /// `DELETE /parking-lots/{id}/devices/{device_id}` (operator, admin):
    /// the revoked device.
    pub async fn revoke_device(&self, lot: Uuid, device: Uuid) -> Result<Device, ClientError> {
        self.json(Call::new(
            Method::DELETE,
            format!("/api/v1/parking-lots/{lot}/devices/{device}"),
            Auth::Required,
        ))
        .await
    }

    /// `POST /sensors/events` with `Authorization: Device <key>` (not the
    /// login's token).
    pub async fn post_sensor_batch(
        &self,
        device_key: &str,
        batch: &SensorBatch,
    ) -> Result<SensorBatchResult, ClientError> {
        self.json(
            Call::new(Method::POST, "/api/v1/sensors/events", Auth::None)
                .header("authorization", format!("Device {device_key}"))
                .json(batch)?,
        )
        .await
    }
}
