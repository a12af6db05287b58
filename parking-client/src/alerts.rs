//! `/alerts`: list (newest first) and acknowledge.

use parking_api::{Alert, AlertsQuery, Page};
use reqwest::Method;
use uuid::Uuid;

use crate::client::{Auth, Call};
use crate::{Client, ClientError};

impl Client {
    /// `GET /alerts` (staff): alerts on the caller's lots, newest first.
    pub async fn list_alerts(&self, query: &AlertsQuery) -> Result<Page<Alert>, ClientError> {
        self.json(Call::new(Method::GET, "/api/v1/alerts", Auth::Required).query(query))
            .await
    }

    /// `POST /alerts/{id}/ack` (staff): marks the alert acknowledged and
    /// answers with it.
    pub async fn acknowledge_alert(&self, id: Uuid) -> Result<Alert, ClientError> {
        self.json(Call::new(
            Method::POST,
            format!("/api/v1/alerts/{id}/ack"),
            Auth::Required,
        ))
        .await
    }
}
