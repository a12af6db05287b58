//! `/parking-lots`: search, show, create, update, delete.

use parking_api::{CreateLotRequest, Lot, LotSearchQuery, LotSummary, Page, UpdateLotRequest};
use reqwest::Method;
use uuid::Uuid;

use crate::client::{Auth, Call};
use crate::{Client, ClientError};

impl Client {
    /// `GET /parking-lots`: lots near a point, nearest first.
    pub async fn search_lots(
        &self,
        query: &LotSearchQuery,
    ) -> Result<Page<LotSummary>, ClientError> {
        self.json(Call::new(Method::GET, "/api/v1/parking-lots", Auth::Optional).query(query))
            .await
    }

    /// `GET /parking-lots/{id}`.
    pub async fn get_lot(&self, lot: Uuid) -> Result<Lot, ClientError> {
        self.json(Call::new(
            Method::GET,
            format!("/api/v1/parking-lots/{lot}"),
            Auth::Optional,
        ))
        .await
    }

    /// `POST /parking-lots` (operator, admin).
    pub async fn create_lot(&self, request: &CreateLotRequest) -> Result<Lot, ClientError> {
        self.json(Call::new(Method::POST, "/api/v1/parking-lots", Auth::Required).json(request)?)
            .await
    }

    /// `PATCH /parking-lots/{id}` (operator, admin).
    pub async fn update_lot(
        &self,
        lot: Uuid,
        request: &UpdateLotRequest,
    ) -> Result<Lot, ClientError> {
        self.json(
            Call::new(
                Method::PATCH,
                format!("/api/v1/parking-lots/{lot}"),
                Auth::Required,
            )
            .json(request)?,
        )
        .await
    }

    /// `DELETE /parking-lots/{id}` (operator, admin).
    pub async fn delete_lot(&self, lot: Uuid) -> Result<(), ClientError> {
        self.empty(Call::new(
            Method::DELETE,
            format!("/api/v1/parking-lots/{lot}"),
            Auth::Required,
        ))
        .await
    }
}
