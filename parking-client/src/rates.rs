//! `/parking-lots/{id}/rates` and `/quote`.

use parking_api::{QuoteDto, QuoteQuery, RateCardDto};
use reqwest::Method;
use uuid::Uuid;

use crate::client::{Auth, Call};
use crate::{Client, ClientError};

impl Client {
    /// `GET /parking-lots/{id}/rates`.
    pub async fn get_rates(&self, lot: Uuid) -> Result<RateCardDto, ClientError> {
        self.json(Call::new(
            Method::GET,
            format!("/api/v1/parking-lots/{lot}/rates"),
            Auth::Optional,
        ))
        .await
    }

    /// `PUT /parking-lots/{id}/rates` (operator, admin).
    pub async fn put_rates(
        &self,
        lot: Uuid,
        card: &RateCardDto,
    ) -> Result<RateCardDto, ClientError> {
        self.json(
            Call::new(
                Method::PUT,
                format!("/api/v1/parking-lots/{lot}/rates"),
                Auth::Required,
            )
            .json(card)?,
        )
        .await
    }

    /// `GET /parking-lots/{id}/quote`: the price of a stay.
    pub async fn quote(&self, lot: Uuid, query: &QuoteQuery) -> Result<QuoteDto, ClientError> {
        self.json(
            Call::new(
                Method::GET,
                format!("/api/v1/parking-lots/{lot}/quote"),
                Auth::Optional,
            )
            .query(query),
        )
        .await
    }
}
