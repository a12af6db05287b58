//! `/parking-lots`: search, the caller's managed lots, show, find by external
//! id, create, update, delete.

use parking_api::{
    CreateLotRequest, Lot, LotSearchQuery, LotSummary, ManagedLotsQuery, Page, UpdateLotRequest,
};
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

    /// `GET /parking-lots/managed` (operator, admin): the lots the caller
    /// manages, by name then id, with their counts now.
    pub async fn managed_lots(&self, query: &ManagedLotsQuery) -> Result<Page<Lot>, ClientError> {
        self.json(
            Call::new(Method::GET, "/api/v1/parking-lots/managed", Auth::Required).query(query),
        )
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

    /// `GET /parking-lots/by-external-id/{external_id}` (staff): the lot
    /// imported with this external id; `Ok(None)` when the caller manages no
    /// such lot (parkd's 404).
    pub async fn lot_by_external_id(&self, external_id: &str) -> Result<Option<Lot>, ClientError> {
        let call = Call::new(
            Method::GET,
            format!(
                "/api/v1/parking-lots/by-external-id/{}",
                path_segment(external_id)
            ),
            Auth::Required,
        );
        match self.json(call).await {
            Ok(lot) => Ok(Some(lot)),
            Err(ClientError::Api { status: 404, .. }) => Ok(None),
            Err(other) => Err(other),
        }
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

/// Percent-encodes `text` for use as one path segment: everything but RFC 3986
/// unreserved characters, so ids with `/`, `?`, `#` or spaces stay one segment.
fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::path_segment;

    #[test]
    fn path_segments_keep_unreserved_and_encode_the_rest() {
        assert_eq!(
            path_segment("dresden-altmarkt_1.x~"),
            "dresden-altmarkt_1.x~"
        );
        assert_eq!(path_segment("a/b c?#ä"), "a%2Fb%20c%3F%23%C3%A4");
    }
}
