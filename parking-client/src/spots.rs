//! `/parking-lots/{id}/spots`: list, add, take in or out of service.

use parking_api::{CreateSpotsRequest, Spot, SpotsQuery, UpdateSpotRequest};
use reqwest::Method;
use uuid::Uuid;

use crate::client::{Auth, Call};
use crate::{Client, ClientError};

impl Client {
    /// `GET /parking-lots/{id}/spots`.
    pub async fn list_spots(
        &self,
        lot: Uuid,
        query: &SpotsQuery,
    ) -> Result<Vec<Spot>, ClientError> {
        self.json(
            Call::new(
                Method::GET,
                format!("/api/v1/parking-lots/{lot}/spots"),
                Auth::Optional,
            )
            .query(query),
        )
        .await
    }

    /// `POST /parking-lots/{id}/spots` (operator, admin): a batch or a list.
    pub async fn add_spots(
        &self,
        lot: Uuid,
        request: &CreateSpotsRequest,
    ) -> Result<Vec<Spot>, ClientError> {
        self.json(
            Call::new(
                Method::POST,
                format!("/api/v1/parking-lots/{lot}/spots"),
                Auth::Required,
            )
            .json(request)?,
        )
        .await
    }

    /// `PATCH /parking-lots/{id}/spots/{spot_id}` (operator, admin).
    pub async fn set_in_service(
        &self,
        lot: Uuid,
        spot: Uuid,
        in_service: bool,
    ) -> Result<Spot, ClientError> {
        self.json(
            Call::new(
                Method::PATCH,
                format!("/api/v1/parking-lots/{lot}/spots/{spot}"),
                Auth::Required,
            )
            .json(&UpdateSpotRequest { in_service })?,
        )
        .await
    }
}
