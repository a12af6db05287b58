//! The caller's managed lots: an operator's tenant's lots, paged by name; a
//! driver refused.

use parking_api::{CreateLotRequest, ManagedLotsQuery};
use parking_client::ClientError;

use crate::helpers::{DRIVER, OPERATOR, TestApp, client_as};

#[tokio::test]
async fn an_operator_pages_through_their_managed_lots() {
    let app = TestApp::spawn().await;
    let operator = client_as(&app, OPERATOR).await;
    let request: CreateLotRequest = serde_json::from_value(serde_json::json!({
        "name": "AAA first by name",
        "address": "Teststraße 2, Dresden",
        "location": {"lat": 48.1, "lng": 11.5},
        "timezone": "Europe/Berlin"
    }))
    .expect("lot request");
    let created = operator.create_lot(&request).await.expect("create");

    let first = operator
        .managed_lots(&ManagedLotsQuery {
            per_page: Some(1),
            ..ManagedLotsQuery::default()
        })
        .await
        .expect("first page");
    assert_eq!(first.total, 2);
    assert!(first.has_next);
    assert_eq!(first.items.len(), 1);
    assert_eq!(first.items[0].id, created.id);
    let second = operator
        .managed_lots(&ManagedLotsQuery {
            page: Some(2),
            per_page: Some(1),
            ..ManagedLotsQuery::default()
        })
        .await
        .expect("second page");
    assert_eq!(second.items.len(), 1);
    assert_eq!(second.items[0].id, app.lot.as_uuid());
    assert_eq!(second.items[0].total_spots, app.spots.len() as u32);

    let driver = client_as(&app, DRIVER).await;
    match driver.managed_lots(&ManagedLotsQuery::default()).await {
        Err(ClientError::Api { status, .. }) => assert_eq!(status, 403),
        other => panic!("a driver manages no lots, got {other:?}"),
    }
}
