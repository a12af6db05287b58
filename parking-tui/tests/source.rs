//! `ClientSource` against a real seeded parkd: what each command fetches,
//! actions and their errors as messages, and the fallbacks for a server
//! without the alerts endpoint.

use std::time::Duration;

use chrono::Utc;
use parkd::testing::{DRIVER, OPERATOR, PASSWORD, TestApp};
use parking_api::{AlertKind, ReservationsQuery, Role, SensorBatch, SensorReading, SpotRef};
use parking_client::Client;
use parking_tui::app::{Action, Fetched, Msg};
use parking_tui::model::SpotState;
use parking_tui::source::{Area, ClientSource, Source, Watch};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use uuid::Uuid;

#[path = "support/server.rs"]
mod server;
use server::{driver_books_a_regular_spot, lot_request};

const DRESDEN: Area = Area {
    lat: 51.05,
    lng: 13.74,
    radius_m: 2000,
};

async fn operator_source(app: &TestApp) -> ClientSource {
    let client = Client::new(app.url.clone());
    client
        .login(OPERATOR, PASSWORD)
        .await
        .expect("operator logs in");
    ClientSource::new(client, DRESDEN)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lots_counts_lot_bookings_and_actions() {
    let app = TestApp::spawn().await;
    let lot = app.lot.as_uuid();
    let source = operator_source(&app).await;

    let lots = source.lots().await.expect("lots");
    assert_eq!(lots.len(), 1);
    assert_eq!(
        (lots[0].id, lots[0].total_spots, lots[0].available_spots),
        (lot, 2, 2)
    );

    let booking = driver_books_a_regular_spot(&app.url, lot).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;

    let counts = source
        .counts(vec![lot, Uuid::from_u128(1)])
        .await
        .expect("counts");
    assert_eq!(counts.len(), 1, "an unknown lot is skipped");
    assert_eq!(
        (counts[0].in_service, counts[0].free, counts[0].occupied),
        (2, 1, 0),
        "booked, nobody checked in"
    );

    let detail = source.lot(lot).await.expect("lot screen");
    assert_eq!(detail.spots.len(), 2);
    assert_eq!(
        detail.reservations.len(),
        1,
        "the operator sees the booking"
    );
    assert!(detail.hourly.is_some(), "the lot is priced");

    let page = source
        .bookings(ReservationsQuery {
            lot_id: Some(lot),
            ..ReservationsQuery::default()
        })
        .await
        .expect("bookings");
    assert_eq!(page.items[0].id, booking.id);

    let Msg::ActionDone(Ok(text)) = source.act(Action::CheckIn(booking.id)).await else {
        panic!("check-in failed");
    };
    assert!(text.contains("checked in"), "{text}");
    let counts = source.counts(vec![lot]).await.expect("counts");
    assert_eq!(counts[0].occupied, 1, "a checked-in booking is a car");

    let Msg::ActionDone(Err(error)) = source.act(Action::Cancel(booking.id)).await else {
        panic!("a checked-in booking cannot be cancelled");
    };
    assert!(
        !error.is_empty() && !error.contains('\n'),
        "one line: {error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_area_an_operator_watches_every_lot_they_manage_and_no_other() {
    let app = TestApp::spawn().await;
    let operator = Client::new(app.url.clone());
    operator
        .login(OPERATOR, PASSWORD)
        .await
        .expect("operator logs in");
    // Their own lot 400 km from Dresden, and another tenant's lot next to the
    // seeded one.
    let munich = operator
        .create_lot(&lot_request("Annex München", 48.137, 11.575))
        .await
        .expect("own lot");
    let rival_tenant = parkd::store::interface::TenantRecord {
        id: parking_core::model::TenantId::new(),
        name: "Rival".into(),
        created_at: Utc::now(),
    };
    app.state
        .store
        .create_tenant(rival_tenant.clone())
        .await
        .expect("tenant");
    parkd::service::accounts::create_user(
        &app.state,
        parkd::service::accounts::NewUser {
            email: "rival@example.com".into(),
            password: parkd::auth::Password::new(PASSWORD.into()).expect("password"),
            first_name: "Rival".into(),
            last_name: "Operator".into(),
            phone: None,
            roles: vec![parkd::auth::Role::Operator],
            tenant_id: Some(rival_tenant.id),
        },
    )
    .await
    .expect("rival operator");
    let rival = Client::new(app.url.clone());
    rival
        .login("rival@example.com", PASSWORD)
        .await
        .expect("rival logs in");
    let rivals = rival
        .create_lot(&lot_request("Rival Altmarkt", 51.05, 13.74))
        .await
        .expect("rival lot");

    let managed = ClientSource::watching(operator.clone(), Watch::Managed);
    let lots = managed.lots().await.expect("managed lots");
    let ids: Vec<Uuid> = lots.iter().map(|l| l.id).collect();
    assert_eq!(
        ids,
        [munich.id, app.lot.as_uuid()],
        "by name, own tenant only"
    );
    assert_eq!((lots[1].total_spots, lots[1].available_spots), (2, 2));

    // --near keeps filtering by area: the rival's lot is there, München not.
    let area = ClientSource::new(operator, DRESDEN);
    let mut near: Vec<Uuid> = area
        .lots()
        .await
        .expect("area lots")
        .iter()
        .map(|l| l.id)
        .collect();
    near.sort();
    let mut expected = vec![app.lot.as_uuid(), rivals.id];
    expected.sort();
    assert_eq!(near, expected);

    // A driver has no managed lots: the listing fails with the server's 403.
    let driver = Client::new(app.url.clone());
    driver
        .login(DRIVER, PASSWORD)
        .await
        .expect("driver logs in");
    let error = ClientSource::watching(driver, Watch::Managed)
        .lots()
        .await
        .expect_err("drivers manage no lots");
    assert!(
        error.contains("403") || error.contains("operators"),
        "{error}"
    );
}

#[test]
fn managed_lots_need_staff_and_an_area_always_wins() {
    let area = Some(DRESDEN);
    assert_eq!(Watch::choose(area, None), Ok(Watch::Area(DRESDEN)));
    assert_eq!(
        Watch::choose(area, Some(&[Role::Operator])),
        Ok(Watch::Area(DRESDEN))
    );
    assert_eq!(
        Watch::choose(None, Some(&[Role::Operator])),
        Ok(Watch::Managed)
    );
    assert_eq!(
        Watch::choose(None, Some(&[Role::Admin])),
        Ok(Watch::Managed)
    );
    let driver = Watch::choose(None, Some(&[Role::Driver])).expect_err("drivers name an area");
    assert!(
        driver.contains("--near") && driver.contains("drivers"),
        "{driver}"
    );
    let anonymous = Watch::choose(None, None).expect_err("anonymous users name an area");
    assert!(
        anonymous.contains("--near") && anonymous.contains("not logged in"),
        "{anonymous}"
    );
}

#[tokio::test]
async fn anonymous_users_see_lots_but_not_bookings_or_alerts() {
    let app = TestApp::spawn().await;
    let source = ClientSource::new(Client::new(app.url.clone()), DRESDEN);
    assert_eq!(source.lots().await.expect("public").len(), 1);
    let counts = source
        .counts(vec![app.lot.as_uuid()])
        .await
        .expect("public");
    assert_eq!(counts[0].free, 2);
    assert!(matches!(source.alerts().await, Fetched::Failed(why) if why.contains("log in")));
    assert!(source.access_token().await.is_none());
}

/// A server that answers every request with `404 Not Found`.
async fn not_found_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0_u8; 4096];
                let _ = stream.read(&mut request).await;
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    )
                    .await;
            });
        }
    });
    url
}

#[tokio::test]
async fn a_server_without_alerts_is_unavailable_not_an_error() {
    let client = Client::new(not_found_server().await);
    client.set_tokens(Some(&parking_api::TokenPair::bearer(
        "access".into(),
        "refresh".into(),
        900,
    )));
    let source = ClientSource::new(client, DRESDEN);
    assert_eq!(source.alerts().await, Fetched::Unavailable);
    let Msg::AlertAcked(Err(why)) = source.act(Action::Acknowledge(Uuid::from_u128(5))).await
    else {
        panic!("acknowledging cannot succeed");
    };
    assert!(why.contains("alerts unavailable"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sensor_reading_is_a_car_and_its_alert_is_listed_and_acknowledged() {
    let app = TestApp::spawn().await;
    let lot = app.lot.as_uuid();
    let spot = app.spots[0].as_uuid();
    let client = Client::new(app.url.clone());
    client
        .login(OPERATOR, PASSWORD)
        .await
        .expect("operator logs in");
    let source = ClientSource::new(client.clone(), DRESDEN);
    assert_eq!(source.alerts().await, Fetched::Ok(Vec::new()));

    let device = client
        .create_device(lot, "level 0 gateway")
        .await
        .expect("device");
    client
        .post_sensor_batch(
            &device.key,
            &SensorBatch {
                events: vec![SensorReading {
                    spot: SpotRef::Id(spot),
                    occupied: true,
                    at: Utc::now(),
                }],
            },
        )
        .await
        .expect("batch");

    let counts = source.counts(vec![lot]).await.expect("counts");
    assert_eq!(
        (counts[0].occupied, counts[0].free),
        (1, 1),
        "the sensor's car"
    );

    let Fetched::Ok(alerts) = source.alerts().await else {
        panic!("alerts are listed");
    };
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        (alerts[0].kind, alerts[0].spot_id),
        (AlertKind::UnexpectedOccupancy, spot)
    );

    let detail = source.lot(lot).await.expect("lot screen");
    let cell = detail.spots.iter().find(|s| s.id == spot).expect("spot");
    assert_eq!(
        detail.spot_state(cell, &alerts, Utc::now()),
        SpotState::Alert
    );

    let Msg::AlertAcked(Ok(acked)) = source.act(Action::Acknowledge(alerts[0].id)).await else {
        panic!("acknowledged");
    };
    assert!(acked.acknowledged_at.is_some());
    assert_eq!(
        detail.spot_state(cell, &[acked], Utc::now()),
        SpotState::Occupied,
        "acknowledged: the car is still there"
    );
}
