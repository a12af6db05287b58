//! `/payments` and `POST /reservations/{id}/pay`: the operators' payments and
//! refunds, and paying a held booking with a saved payment method.

use parking_api::{
    Page, PayRequest, Payment, PaymentsQuery, RefundRequest, RefundResponse, Reservation,
};
use reqwest::Method;
use uuid::Uuid;

use crate::client::{Auth, Call};
use crate::{Client, ClientError};

impl Client {
    /// `GET /payments`: payments of the caller's lots, newest first.
    pub async fn list_payments(&self, query: &PaymentsQuery) -> Result<Page<Payment>, ClientError> {
        self.json(Call::new(Method::GET, "/api/v1/payments", Auth::Required).query(query))
            .await
    }

    /// `POST /payments/{id}/refund`: some (`amount`) or all of what is left.
    pub async fn refund_payment(
        &self,
        id: Uuid,
        request: &RefundRequest,
    ) -> Result<RefundResponse, ClientError> {
        self.json(
            Call::new(
                Method::POST,
                format!("/api/v1/payments/{id}/refund"),
                Auth::Required,
            )
            .json(request)?,
        )
        .await
    }

    /// `POST /reservations/{id}/pay`: confirm a held booking's payment with a
    /// saved payment method.
    pub async fn pay_reservation(
        &self,
        id: Uuid,
        request: &PayRequest,
    ) -> Result<Reservation, ClientError> {
        self.json(
            Call::new(
                Method::POST,
                format!("/api/v1/reservations/{id}/pay"),
                Auth::Required,
            )
            .json(request)?,
        )
        .await
    }
}
