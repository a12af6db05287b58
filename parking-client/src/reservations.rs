//! `/reservations`: book, list, show, change, cancel, and the lifecycle steps.

use parking_api::{
    CancelResponse, CreateReservationRequest, IDEMPOTENCY_KEY_HEADER, Page, Reservation,
    ReservationsQuery, UpdateReservationRequest,
};
use reqwest::Method;
use uuid::Uuid;

use crate::client::{Auth, Call};
use crate::{Client, ClientError};

impl Client {
    /// `POST /reservations`; with `idempotency_key`, a retry returns the
    /// first answer and books nothing new.
    pub async fn create_reservation(
        &self,
        request: &CreateReservationRequest,
        idempotency_key: Option<&str>,
    ) -> Result<Reservation, ClientError> {
        let mut call =
            Call::new(Method::POST, "/api/v1/reservations", Auth::Required).json(request)?;
        if let Some(key) = idempotency_key {
            call = call.header(IDEMPOTENCY_KEY_HEADER, key.to_owned());
        }
        self.json(call).await
    }

    /// `GET /reservations`: the caller's (or, for operators, their lots')
    /// reservations.
    pub async fn list_reservations(
        &self,
        query: &ReservationsQuery,
    ) -> Result<Page<Reservation>, ClientError> {
        self.json(Call::new(Method::GET, "/api/v1/reservations", Auth::Required).query(query))
            .await
    }

    /// `GET /reservations/{id}`.
    pub async fn get_reservation(&self, id: Uuid) -> Result<Reservation, ClientError> {
        self.json(Call::new(
            Method::GET,
            format!("/api/v1/reservations/{id}"),
            Auth::Required,
        ))
        .await
    }

    /// `PUT /reservations/{id}`: move or extend.
    pub async fn update_reservation(
        &self,
        id: Uuid,
        request: &UpdateReservationRequest,
    ) -> Result<Reservation, ClientError> {
        self.json(
            Call::new(
                Method::PUT,
                format!("/api/v1/reservations/{id}"),
                Auth::Required,
            )
            .json(request)?,
        )
        .await
    }

    /// `DELETE /reservations/{id}`: cancel, with the refund.
    pub async fn cancel_reservation(&self, id: Uuid) -> Result<CancelResponse, ClientError> {
        self.json(Call::new(
            Method::DELETE,
            format!("/api/v1/reservations/{id}"),
            Auth::Required,
        ))
        .await
    }

    /// `POST /reservations/{id}/confirm`: a held reservation becomes confirmed.
    pub async fn confirm(&self, id: Uuid) -> Result<Reservation, ClientError> {
        self.step(id, "confirm").await
    }

    /// `POST /reservations/{id}/check-in`.
    pub async fn check_in(&self, id: Uuid) -> Result<Reservation, ClientError> {
        self.step(id, "check-in").await
    }

    /// `POST /reservations/{id}/check-out`.
    pub async fn check_out(&self, id: Uuid) -> Result<Reservation, ClientError> {
        self.step(id, "check-out").await
    }

    async fn step(&self, id: Uuid, step: &str) -> Result<Reservation, ClientError> {
        self.json(Call::new(
            Method::POST,
            format!("/api/v1/reservations/{id}/{step}"),
            Auth::Required,
        ))
        .await
    }
}
