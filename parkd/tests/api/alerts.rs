//! Alerts driven end to end by sensor batches and bookings: unexpected
//! occupancy, overstay (on a reading and from the sweep), no-show candidates;
//! each written with its `alert_raised` event, deduplicated, listed per tenant
//! with filters, and acknowledged (once) with `alert_acknowledged`.
//!
//! Bookings in the past cannot be made over the API (they start in the
//! future), so the tests that need one write its row straight into parkd's
//! database; the sweep is called with an explicit `now` for the time-driven
//! cases.

use chrono::{DateTime, Duration, Utc};
use parkd::auth::Role;
use parking_core::model::{LotId, ReservationId, ReservationStatus, SpotId};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, problem};
use crate::sensors::{SensorLot, device_key, events_of, reading, send_ok, sensor_lot};

/// Writes a reservation row `[start, end)` with `status` into parkd's
/// database, SQLite or PostgreSQL (a real booking, just one the API would not
/// take in the past).
async fn insert_booking(
    app: &TestApp,
    lot: LotId,
    spot: SpotId,
    user: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    status: &str,
) -> Uuid {
    let id = Uuid::new_v4();
    if let Some(url) = &app.state.config.database_url {
        let (client, connection) = tokio_postgres::connect(url.expose(), tokio_postgres::NoTls)
            .await
            .expect("connect to PostgreSQL");
        tokio::spawn(connection);
        let user: Uuid = user.parse().expect("user id");
        let blocking = matches!(status, "confirmed" | "checked_in");
        client
            .execute(
                "INSERT INTO reservations (id, lot_id, spot_id, user_id, start_time, end_time,
                     blocks_until, status, blocking, hold_expires_at, total_amount, currency,
                     quote_json, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, NULL, 500, 'EUR', '{}', now(), now())",
                &[
                    &id,
                    &lot.as_uuid(),
                    &spot.as_uuid(),
                    &user,
                    &start,
                    &end,
                    &status,
                    &blocking,
                ],
            )
            .await
            .expect("booking inserted");
        return id;
    }
    let conn = rusqlite::Connection::open(app.data_dir.join("parkd.sqlite3")).expect("open db");
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .expect("busy timeout");
    conn.execute(
        "INSERT INTO reservations (id, lot_id, spot_id, user_id, start_us, end_us, status,
             hold_expires_us, total_amount, currency, quote_json, created_us, updated_us)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, 500, 'EUR', '{}', ?8, ?8)",
        rusqlite::params![
            id.to_string(),
            lot.to_string(),
            spot.to_string(),
            user,
            start.timestamp_micros(),
            end.timestamp_micros(),
            status,
            Utc::now().timestamp_micros()
        ],
    )
    .expect("booking inserted");
    id
}

async fn driver(app: &TestApp) -> String {
    app.user("driver@example.com", Role::Driver, None)
        .await
        .user_id
}

async fn alerts(app: &TestApp, token: &str, query: &str) -> Value {
    let response = app.get(&format!("/alerts{query}"), Some(token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

fn kinds(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|a| a["kind"].as_str().expect("kind").to_owned())
        .collect()
}

async fn reconcile(app: &TestApp, now: DateTime<Utc>) -> Vec<parking_api::alerts::Alert> {
    parkd::service::sensors::reconcile(&app.state, now)
        .await
        .expect("reconcile")
}

async fn setup(app: &TestApp) -> (SensorLot, String) {
    let l = sensor_lot(app, "Acme").await;
    let (_, key) = device_key(app, &l.operator, l.lot).await;
    (l, key)
}

#[tokio::test]
async fn an_unbooked_arrival_raises_one_open_alert_until_acknowledged() {
    let app = TestApp::spawn().await;
    let (l, key) = setup(&app).await;
    let t = Utc::now() - Duration::minutes(10);

    send_ok(&app, &key, json!([reading("S1", true, t)])).await;
    let page = alerts(&app, &l.operator, "").await;
    assert_eq!(kinds(&page), vec!["unexpected_occupancy"]);
    let alert = page["items"][0].clone();
    assert_eq!(alert["spot_label"], "S1");
    assert_eq!(alert["spot_id"], l.spots[0].to_string());
    assert!(alert.get("reservation_id").is_none());
    assert!(alert.get("acknowledged_at").is_none());
    let raised = events_of(&app, l.lot, "alert_raised").await;
    assert_eq!(raised.len(), 1, "the alert was written with its event");
    let payload = serde_json::to_value(&raised[0].payload).expect("json");
    assert_eq!(payload["alert_id"], alert["id"]);
    assert_eq!(payload["kind"], "unexpected_occupancy");

    // The car leaves and another arrives while the alert is open: no second one.
    send_ok(
        &app,
        &key,
        json!([
            reading("S1", false, t + Duration::minutes(1)),
            reading("S1", true, t + Duration::minutes(2))
        ]),
    )
    .await;
    assert_eq!(alerts(&app, &l.operator, "").await["total"], 1);

    let id = alert["id"].as_str().expect("id");
    let ack = app
        .post(&format!("/alerts/{id}/ack"), Some(&l.operator), json!({}))
        .await;
    assert_eq!(ack.status(), StatusCode::OK);
    let acked: Value = ack.json().await.expect("json");
    assert!(acked["acknowledged_at"].is_string());
    assert!(acked["acknowledged_by"].is_string());
    let again: Value = app
        .post(&format!("/alerts/{id}/ack"), Some(&l.operator), json!({}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        again["acknowledged_at"], acked["acknowledged_at"],
        "idempotent"
    );
    let acks = events_of(&app, l.lot, "alert_acknowledged").await;
    assert_eq!(acks.len(), 1, "acknowledging twice writes one event");
    let payload = serde_json::to_value(&acks[0].payload).expect("json");
    assert_eq!(payload["alert_id"], alert["id"]);
    assert_eq!(
        payload["spot_label"], "S1",
        "the event carries the whole alert"
    );

    // Once acknowledged, the next unbooked arrival raises a new alert.
    send_ok(
        &app,
        &key,
        json!([
            reading("S1", false, t + Duration::minutes(3)),
            reading("S1", true, t + Duration::minutes(4))
        ]),
    )
    .await;
    let open = alerts(&app, &l.operator, "?acknowledged=false").await;
    assert_eq!(open["total"], 1);
    assert_ne!(open["items"][0]["id"], alert["id"]);
    assert_eq!(
        alerts(&app, &l.operator, "?acknowledged=true").await["total"],
        1
    );
    app.stop().await;
}

#[tokio::test]
async fn an_arrival_a_booking_covers_raises_nothing() {
    let app = TestApp::spawn().await;
    let (l, key) = setup(&app).await;
    let user = driver(&app).await;
    let now = Utc::now();
    insert_booking(
        &app,
        l.lot,
        l.spots[0],
        &user,
        now - Duration::hours(1),
        now + Duration::hours(1),
        "confirmed",
    )
    .await;
    // Cancelled bookings hold nothing.
    insert_booking(
        &app,
        l.lot,
        l.spots[1],
        &user,
        now - Duration::hours(1),
        now + Duration::hours(1),
        "cancelled",
    )
    .await;
    let result = send_ok(
        &app,
        &key,
        json!([reading("S1", true, now), reading("S2", true, now)]),
    )
    .await;
    assert_eq!(result["applied"], 2);
    let page = alerts(&app, &l.operator, "").await;
    assert_eq!(kinds(&page), vec!["unexpected_occupancy"]);
    assert_eq!(page["items"][0]["spot_label"], "S2");
    assert!(reconcile(&app, now).await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn a_car_still_there_after_its_booking_ended_is_an_overstay_on_the_next_reading() {
    let app = TestApp::spawn().await;
    let (l, key) = setup(&app).await;
    let user = driver(&app).await;
    let now = Utc::now();
    let booking = insert_booking(
        &app,
        l.lot,
        l.spots[0],
        &user,
        now - Duration::hours(2),
        now - Duration::hours(1),
        "checked_in",
    )
    .await;
    // Arrived during the booking: covered.
    send_ok(
        &app,
        &key,
        json!([reading("S1", true, now - Duration::minutes(90))]),
    )
    .await;
    assert_eq!(alerts(&app, &l.operator, "").await["total"], 0);
    // Still there after its end.
    send_ok(&app, &key, json!([reading("S1", true, now)])).await;
    let page = alerts(&app, &l.operator, "").await;
    assert_eq!(kinds(&page), vec!["overstay"]);
    assert_eq!(page["items"][0]["reservation_id"], booking.to_string());
    // The sweep and further readings do not raise it again.
    assert!(reconcile(&app, now + Duration::minutes(1)).await.is_empty());
    send_ok(
        &app,
        &key,
        json!([reading("S1", true, now + Duration::seconds(1))]),
    )
    .await;
    assert_eq!(alerts(&app, &l.operator, "").await["total"], 1);
    assert_eq!(events_of(&app, l.lot, "alert_raised").await.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn the_sweep_raises_overstays_once_per_booking_even_after_acknowledgement() {
    let app = TestApp::spawn().await;
    let (l, key) = setup(&app).await;
    let user = driver(&app).await;
    let now = Utc::now();
    let end = now + Duration::hours(1);
    let booking = insert_booking(
        &app,
        l.lot,
        l.spots[0],
        &user,
        now - Duration::hours(1),
        end,
        "checked_in",
    )
    .await;
    // S2 was occupied during its booking but the car left: no overstay.
    insert_booking(
        &app,
        l.lot,
        l.spots[1],
        &user,
        now - Duration::hours(1),
        end,
        "checked_in",
    )
    .await;
    send_ok(
        &app,
        &key,
        json!([
            reading("S1", true, now - Duration::minutes(30)),
            reading("S2", true, now - Duration::minutes(30)),
            reading("S2", false, now - Duration::minutes(5)),
        ]),
    )
    .await;
    assert!(reconcile(&app, now).await.is_empty(), "within the booking");
    let raised = reconcile(&app, end + Duration::minutes(1)).await;
    assert_eq!(raised.len(), 1);
    assert_eq!(raised[0].spot_label, "S1");
    assert_eq!(raised[0].reservation_id, Some(booking));
    let id = raised[0].id;
    let ack = app
        .post(&format!("/alerts/{id}/ack"), Some(&l.operator), json!({}))
        .await;
    assert_eq!(ack.status(), StatusCode::OK);
    assert!(
        reconcile(&app, end + Duration::minutes(2)).await.is_empty(),
        "one overstay alert per booking"
    );
    assert_eq!(events_of(&app, l.lot, "alert_raised").await.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_booking_whose_spot_stays_empty_past_the_grace_is_a_no_show_candidate() {
    let app = TestApp::spawn().await;
    let (l, key) = setup(&app).await;
    let user = driver(&app).await;
    let now = Utc::now();
    // Started 30 minutes ago; the lot's grace is 15 minutes.
    let start = now - Duration::minutes(30);
    let end = now + Duration::hours(1);
    let empty = insert_booking(&app, l.lot, l.spots[0], &user, start, end, "confirmed").await;
    // S2's driver is there; S3 has no sensor.
    insert_booking(&app, l.lot, l.spots[1], &user, start, end, "confirmed").await;
    insert_booking(&app, l.lot, l.spots[2], &user, start, end, "confirmed").await;
    send_ok(
        &app,
        &key,
        json!([
            reading("S1", false, now - Duration::minutes(40)),
            reading("S2", true, now - Duration::minutes(25)),
        ]),
    )
    .await;
    assert!(
        reconcile(&app, start + Duration::minutes(14))
            .await
            .is_empty(),
        "still within the grace"
    );
    let raised = reconcile(&app, now).await;
    assert_eq!(raised.len(), 1);
    assert_eq!(raised[0].spot_label, "S1");
    assert_eq!(raised[0].reservation_id, Some(empty));
    assert_eq!(
        raised[0].kind,
        parking_api::alerts::AlertKind::NoShowCandidate
    );
    assert!(
        raised[0].detail.contains("15-minute grace"),
        "{}",
        raised[0].detail
    );
    assert!(reconcile(&app, now).await.is_empty(), "raised once");
    let page = alerts(&app, &l.operator, "?kind=no_show_candidate").await;
    assert_eq!(page["total"], 1);
    let raised_events = events_of(&app, l.lot, "alert_raised").await;
    assert_eq!(raised_events.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn alerts_are_scoped_to_the_operators_tenant_and_paged() {
    let app = TestApp::spawn().await;
    let (l, key) = setup(&app).await;
    let other = sensor_lot(&app, "Other").await;
    let (_, other_key) = device_key(&app, &other.operator, other.lot).await;
    let admin = app
        .user("admin@example.com", Role::Admin, None)
        .await
        .access;
    let driver = app.user("d@example.com", Role::Driver, None).await.access;
    let now = Utc::now();
    send_ok(
        &app,
        &key,
        json!([
            reading("S1", true, now - Duration::minutes(3)),
            reading("S2", true, now - Duration::minutes(2)),
            reading("S3", true, now - Duration::minutes(1)),
        ]),
    )
    .await;
    send_ok(&app, &other_key, json!([reading("S1", true, now)])).await;

    let mine = alerts(&app, &l.operator, "").await;
    assert_eq!(mine["total"], 3);
    let theirs = alerts(&app, &other.operator, "").await;
    assert_eq!(theirs["total"], 1);
    let all = alerts(&app, &admin, "").await;
    assert_eq!(all["total"], 4);
    let page = alerts(
        &app,
        &admin,
        &format!("?lot_id={}&per_page=2&page=2", l.lot),
    )
    .await;
    assert_eq!(page["items"].as_array().expect("items").len(), 1);
    assert_eq!(page["total"], 3);
    assert_eq!(page["has_prev"], true);
    // Newest first.
    let labels: Vec<&str> = mine["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|a| a["spot_label"].as_str().expect("label"))
        .collect();
    assert_eq!(labels.len(), 3);
    let raised: Vec<&str> = mine["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|a| a["raised_at"].as_str().expect("raised_at"))
        .collect();
    let mut sorted = raised.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(raised, sorted);

    // Another tenant's alert cannot be acknowledged (nor seen to exist).
    let foreign = theirs["items"][0]["id"].as_str().expect("id");
    problem(
        app.post(
            &format!("/alerts/{foreign}/ack"),
            Some(&l.operator),
            json!({}),
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(
        app.post(
            &format!("/alerts/{}/ack", Uuid::new_v4()),
            Some(&admin),
            json!({}),
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(
        app.get("/alerts", Some(&driver)).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    problem(app.get("/alerts", None).await, StatusCode::UNAUTHORIZED).await;
    problem(
        app.get("/alerts?per_page=500", Some(&admin)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    problem(
        app.get("/alerts?kind=fire", Some(&admin)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    // An admin acknowledges any tenant's alert.
    let ack = app
        .post(&format!("/alerts/{foreign}/ack"), Some(&admin), json!({}))
        .await;
    assert_eq!(ack.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn the_background_jobs_raise_time_driven_alerts_on_their_own() {
    let app = TestApp::spawn().await;
    let (l, key) = setup(&app).await;
    let user = driver(&app).await;
    let now = Utc::now();
    let booking = insert_booking(
        &app,
        l.lot,
        l.spots[0],
        &user,
        now - Duration::minutes(30),
        now + Duration::hours(1),
        "confirmed",
    )
    .await;
    send_ok(
        &app,
        &key,
        json!([reading("S1", false, now - Duration::minutes(40))]),
    )
    .await;
    // The jobs run every 5 s: wait for the first run, bounded.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let page = loop {
        let page = alerts(&app, &l.operator, "?kind=no_show_candidate").await;
        if page["total"] == 1 || std::time::Instant::now() > deadline {
            break page;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(page["total"], 1, "the sweep raised the no-show candidate");
    assert_eq!(page["items"][0]["reservation_id"], booking.to_string());
    app.stop().await;
}

#[tokio::test]
async fn the_no_show_sweep_never_releases_a_spot_its_sensor_reads_occupied() {
    let app = TestApp::spawn().await;
    let (l, key) = setup(&app).await;
    let user = driver(&app).await;
    let now = Utc::now();
    // Both started 30 minutes ago (grace 15 minutes), neither checked in.
    let start = now - Duration::minutes(30);
    let end = now + Duration::hours(1);
    let empty = insert_booking(&app, l.lot, l.spots[0], &user, start, end, "confirmed").await;
    let parked = insert_booking(&app, l.lot, l.spots[1], &user, start, end, "confirmed").await;
    send_ok(
        &app,
        &key,
        json!([
            reading("S1", false, now - Duration::minutes(40)),
            reading("S2", true, now - Duration::minutes(25)),
        ]),
    )
    .await;
    parkd::service::booking::sweep(&app.state, now)
        .await
        .expect("sweep");
    let status = |id: Uuid| {
        let state = app.state.clone();
        async move {
            state
                .store
                .reservation(ReservationId::from_uuid(id))
                .await
                .expect("read")
                .expect("exists")
                .reservation
                .status
        }
    };
    assert_eq!(status(empty).await, ReservationStatus::NoShow);
    assert_eq!(
        status(parked).await,
        ReservationStatus::Confirmed,
        "the car is there: the spot stays booked"
    );
    app.stop().await;
}
