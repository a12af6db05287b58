//! Search, book, list, cancel, and a conflict surfaced as a problem.

use parking_api::{LotSearchQuery, QuoteQuery, ReservationStatusDto, ReservationsQuery};
use parking_client::ClientError;

use crate::helpers::{DRIVER, OPERATOR, TestApp, booking, client_as};

#[tokio::test]
async fn search_book_list_cancel() {
    let app = TestApp::spawn().await;
    let client = client_as(&app, DRIVER).await;
    let page = client
        .search_lots(&LotSearchQuery {
            lat: 51.05,
            lng: 13.74,
            radius: Some(1000),
            spot_type: None,
            start_time: None,
            end_time: None,
            max_price: None,
            page: None,
            per_page: None,
        })
        .await
        .expect("search");
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].id, app.lot.as_uuid());
    assert_eq!(page.items[0].total_spots, 2);

    let request = booking(&app, None, 24);
    let quote = client
        .quote(
            app.lot.as_uuid(),
            &QuoteQuery {
                start_time: request.start_time,
                end_time: request.end_time,
                spot_type: None,
            },
        )
        .await
        .expect("quote");
    let booked = client
        .create_reservation(&request, Some("key-1"))
        .await
        .expect("book");
    assert_eq!(booked.total_cost, quote.total);
    let again = client
        .create_reservation(&request, Some("key-1"))
        .await
        .expect("idempotent retry");
    assert_eq!(again.id, booked.id, "same key, same reservation");

    let list = client
        .list_reservations(&ReservationsQuery::default())
        .await
        .expect("list");
    assert_eq!(list.items.len(), 1);
    assert_eq!(list.items[0].id, booked.id);

    let cancelled = client.cancel_reservation(booked.id).await.expect("cancel");
    assert_eq!(
        cancelled.reservation.status,
        ReservationStatusDto::Cancelled
    );
    let shown = client.get_reservation(booked.id).await.expect("show");
    assert_eq!(shown.status, ReservationStatusDto::Cancelled);
}

#[tokio::test]
async fn a_conflict_is_an_api_error_with_the_problem() {
    let app = TestApp::spawn().await;
    let client = client_as(&app, DRIVER).await;
    let spot = Some(app.spots[0].as_uuid());
    client
        .create_reservation(&booking(&app, spot, 24), None)
        .await
        .expect("first booking");
    let error = client
        .create_reservation(&booking(&app, spot, 24), None)
        .await
        .expect_err("the spot is taken");
    match &error {
        ClientError::Api { status, problem } => {
            assert_eq!(*status, 409);
            assert_eq!(problem.status, 409);
            assert!(!problem.detail.is_empty());
        }
        other => panic!("expected an API error, got {other:?}"),
    }
    let line = error.to_string();
    assert!(!line.contains('\n') && !line.is_empty(), "{line}");
}

#[tokio::test]
async fn not_found_and_validation_errors_are_typed() {
    let app = TestApp::spawn().await;
    let client = client_as(&app, OPERATOR).await;
    let error = client
        .get_lot(uuid::Uuid::new_v4())
        .await
        .expect_err("no such lot");
    assert_eq!(error.status(), Some(404));
    let mut request = booking(&app, None, 24);
    request.end_time = request.start_time;
    let error = client
        .create_reservation(&request, None)
        .await
        .expect_err("empty window");
    assert_eq!(error.status(), Some(422));
    let problem = error.problem().expect("a problem");
    assert!(!problem.errors.is_empty());
    assert!(
        error.to_string().contains(&problem.errors[0].field),
        "{error}"
    );
}

#[tokio::test]
async fn operators_manage_spots_rates_and_see_analytics() {
    let app = TestApp::spawn().await;
    let client = client_as(&app, OPERATOR).await;
    let lot = app.lot.as_uuid();
    let added = client
        .add_spots(
            lot,
            &parking_api::CreateSpotsRequest::Batch(parking_api::SpotBatch {
                count: 3,
                prefix: "E".into(),
                kind: parking_api::SpotKindDto::Ev,
                zone: None,
            }),
        )
        .await
        .expect("add spots");
    assert_eq!(added.len(), 3);
    let off = client
        .set_in_service(lot, added[0].id, false)
        .await
        .expect("disable");
    assert!(!off.in_service);
    let spots = client
        .list_spots(lot, &Default::default())
        .await
        .expect("spots");
    assert_eq!(spots.len(), 5);
    let card = client.get_rates(lot).await.expect("rates");
    let put = client.put_rates(lot, &card).await.expect("put rates");
    assert_eq!(put, card);
    let summary = client.summary(lot).await.expect("summary");
    assert_eq!(summary.lot_id, lot);
    assert_eq!(summary.total_spots, 4, "the disabled spot is not counted");
    assert!(client.health().await.is_ok());
}
