//! `/analytics`: occupancy series, revenue per day, the lot summary.

use parking_api::{
    OccupancyQuery, OccupancyReport, RevenueQuery, RevenueReport, Summary, SummaryQuery,
};
use reqwest::Method;
use uuid::Uuid;

use crate::client::{Auth, Call};
use crate::{Client, ClientError};

impl Client {
    /// `GET /analytics/occupancy`.
    pub async fn occupancy(&self, query: &OccupancyQuery) -> Result<OccupancyReport, ClientError> {
        self.json(
            Call::new(Method::GET, "/api/v1/analytics/occupancy", Auth::Required).query(query),
        )
        .await
    }

    /// `GET /analytics/revenue`.
    pub async fn revenue(&self, query: &RevenueQuery) -> Result<RevenueReport, ClientError> {
        self.json(Call::new(Method::GET, "/api/v1/analytics/revenue", Auth::Required).query(query))
            .await
    }

    /// `GET /analytics/summary`.
    pub async fn summary(&self, lot: Uuid) -> Result<Summary, ClientError> {
        let query = SummaryQuery { lot_id: lot };
        self.json(Call::new(Method::GET, "/api/v1/analytics/summary", Auth::Required).query(&query))
            .await
    }
}
