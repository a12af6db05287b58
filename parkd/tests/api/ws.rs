//! `GET /api/v1/ws` with a real WebSocket client (tokio-tungstenite) against a
//! real parkd: snapshots and updates, areas, resuming, slow readers,
//! reservation events, alerts, limits and close codes.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::{SinkExt, StreamExt};
use parkd::auth::Role;
use parkd::store::interface::StoredEvent;
use parking_core::events::{AlertKind, DomainEvent};
use parking_core::model::{
    AlertId, BookingRules, GeoPoint, Lot, LotId, OperatingHours, SpotId, SpotKind, TenantId,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use crate::helpers::{Session, TestApp, window};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Generous: these tests check what arrives, not how fast (BENCHMARKS.md has
/// the latency figures).
const WAIT: Duration = Duration::from_secs(5);

async fn connect(app: &TestApp) -> Ws {
    let url = format!("{}/api/v1/ws", app.url.replacen("http", "ws", 1));
    let (mut ws, _) = connect_async(url).await.expect("WebSocket connects");
    let welcome = next(&mut ws).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    ws
}

/// The next text message as JSON (pings are answered by the client library).
async fn next(ws: &mut Ws) -> Value {
    loop {
        let message = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a message in time")
            .expect("the connection is open")
            .expect("a readable frame");
        match message {
            Message::Text(text) => return serde_json::from_str(text.as_str()).expect("JSON"),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// The next message of `kind`, skipping others (e.g. updates of other lots).
async fn next_of(ws: &mut Ws, kind: &str) -> Value {
    loop {
        let message = next(ws).await;
        if message["type"] == kind {
            return message;
        }
    }
}

/// The close code the server ends the connection with.
async fn close_code(ws: &mut Ws) -> Option<u16> {
    loop {
        let message = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("the server closes in time");
        match message {
            Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return None,
        }
    }
}

async fn send(ws: &mut Ws, message: Value) {
    ws.send(Message::text(message.to_string()))
        .await
        .expect("sent");
}

async fn subscribe(ws: &mut Ws, message: Value) -> Value {
    send(ws, message).await;
    let subscribed = next(ws).await;
    assert_eq!(subscribed["type"], "subscribed", "{subscribed}");
    subscribed
}

/// A lot at `(lat, lng)` with `spots` regular spots, put in the store and the
/// engine directly.
async fn lot_at(app: &TestApp, tenant: TenantId, lat: f64, lng: f64, spots: usize) -> LotId {
    let lot = Lot {
        id: LotId::new(),
        tenant_id: tenant,
        name: format!("Lot at {lat},{lng}"),
        address: "Teststraße 1, Dresden".into(),
        location: GeoPoint::new(lat, lng).expect("valid"),
        time_zone: chrono_tz::Europe::Berlin,
        hours: OperatingHours::always_open(),
        amenities: Default::default(),
        rules: BookingRules::default(),
    };
    let id = lot.id;
    parkd::testing::insert_lot(&app.state, lot, &vec![SpotKind::Regular; spots]).await;
    id
}

/// Books a spot of `lot` for `[start, end)`; returns the reservation's id.
async fn book_at(
    app: &TestApp,
    driver: &Session,
    lot: LotId,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    hold: bool,
) -> String {
    let response = app
        .post(
            "/reservations",
            Some(&driver.access),
            json!({"lot_id": lot.to_string(), "start_time": start, "end_time": end, "hold": hold}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED, "booking");
    let body: Value = response.json().await.expect("json");
    body["id"].as_str().expect("id").to_owned()
}

/// Books the `n`th two-hour slot from tomorrow on (never overlapping).
async fn book(app: &TestApp, driver: &Session, lot: LotId, n: i64) -> String {
    let (start, end) = window(24 + 2 * n, 2);
    book_at(app, driver, lot, start, end, false).await
}

fn regular(message: &Value) -> u64 {
    message["available"]["regular"].as_u64().expect("count")
}

#[tokio::test]
async fn a_subscriber_sees_the_snapshot_then_an_update_per_booking() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Acme").await;
    let lot = lot_at(&app, tenant, 51.05, 13.74, 2).await;
    let driver = app.user("d@example.com", Role::Driver, None).await;
    let mut ws = connect(&app).await;
    let subscribed = subscribe(&mut ws, json!({"type": "subscribe", "lots": [lot]})).await;
    assert_eq!(subscribed["lots"], json!([lot]));
    let snapshot = next(&mut ws).await;
    assert_eq!(snapshot["type"], "snapshot", "{snapshot}");
    assert_eq!(snapshot["lot_id"], lot.to_string());
    assert_eq!(snapshot["seq"], 0);
    assert_eq!(snapshot["capacity"]["regular"], 2);
    assert_eq!(regular(&snapshot), 2);
    let started = Instant::now();
    book(&app, &driver, lot, 0).await;
    let update = next(&mut ws).await;
    let latency = started.elapsed();
    assert_eq!(update["type"], "availability_update", "{update}");
    assert_eq!(update["lot_id"], lot.to_string());
    assert_eq!(update["seq"], 1, "seq is the lot's event sequence");
    eprintln!("booking request to update: {latency:?}");
    book(&app, &driver, lot, 1).await;
    assert_eq!(next(&mut ws).await["seq"], 2);
    app.stop().await;
}

#[tokio::test]
async fn availability_drops_when_a_booking_starts_without_any_event() {
    let app = TestApp::spawn_with(|c| c.websocket.recount_interval_ms = 50).await;
    let tenant = app.tenant("Acme").await;
    let lot = lot_at(&app, tenant, 51.05, 13.74, 2).await;
    let driver = app.user("d@example.com", Role::Driver, None).await;
    let mut ws = connect(&app).await;
    subscribe(&mut ws, json!({"type": "subscribe", "lots": [lot]})).await;
    assert_eq!(regular(&next(&mut ws).await), 2);
    let start = Utc::now() + chrono::Duration::milliseconds(1500);
    book_at(
        &app,
        &driver,
        lot,
        start,
        start + chrono::Duration::hours(1),
        false,
    )
    .await;
    let booked = next(&mut ws).await;
    assert_eq!((booked["seq"].as_u64(), regular(&booked)), (Some(1), 2));
    let started = next(&mut ws).await;
    assert_eq!(started["type"], "availability_update");
    assert_eq!(started["seq"], 1, "no new event: the same seq");
    assert_eq!(regular(&started), 1, "the booking's start took a spot");
    assert!(Utc::now() >= start, "not before the booking starts");
    app.stop().await;
}

#[tokio::test]
async fn an_area_subscription_receives_only_lots_inside_it() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Acme").await;
    let inside = lot_at(&app, tenant, 51.0500, 13.7400, 1).await;
    let also_inside = lot_at(&app, tenant, 51.0530, 13.7400, 1).await; // ~330 m north
    let outside = lot_at(&app, tenant, 51.0700, 13.7400, 1).await; // ~2.2 km north
    let driver = app.user("d@example.com", Role::Driver, None).await;
    let mut ws = connect(&app).await;
    let subscribed = subscribe(
        &mut ws,
        json!({"type": "subscribe", "near": {"lat": 51.05, "lng": 13.74, "radius": 500}}),
    )
    .await;
    let mut lots: Vec<String> = subscribed["lots"]
        .as_array()
        .expect("lots")
        .iter()
        .map(|l| l.as_str().expect("id").to_owned())
        .collect();
    lots.sort();
    let mut expected = vec![inside.to_string(), also_inside.to_string()];
    expected.sort();
    assert_eq!(lots, expected);
    let mut snapshots: Vec<String> = Vec::new();
    for _ in 0..2 {
        let s = next(&mut ws).await;
        assert_eq!(s["type"], "snapshot");
        snapshots.push(s["lot_id"].as_str().expect("id").to_owned());
    }
    snapshots.sort();
    assert_eq!(snapshots, expected);
    book(&app, &driver, outside, 0).await;
    book(&app, &driver, inside, 0).await;
    let update = next(&mut ws).await;
    assert_eq!(
        update["lot_id"],
        inside.to_string(),
        "the outside lot's update never comes: {update}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_reconnecting_client_receives_exactly_the_missed_events() {
    let app = TestApp::spawn_with(|c| c.websocket.max_replay = 3).await;
    let tenant = app.tenant("Acme").await;
    let lot = lot_at(&app, tenant, 51.05, 13.74, 1).await;
    let driver = app.user("d@example.com", Role::Driver, None).await;
    let mut watcher = connect(&app).await;
    subscribe(&mut watcher, json!({"type": "subscribe", "lots": [lot]})).await;
    next_of(&mut watcher, "snapshot").await;
    book(&app, &driver, lot, 0).await;
    assert_eq!(next(&mut watcher).await["seq"], 1);

    // A client saw seq 1, then went away while three more bookings happened.
    for n in 1..=4 {
        book(&app, &driver, lot, n).await;
    }
    loop {
        if next(&mut watcher).await["seq"] == 5 {
            break;
        }
    }
    let mut back = connect(&app).await;
    subscribe(
        &mut back,
        json!({"type": "subscribe", "lots": [lot], "since": {lot.to_string(): 2}}),
    )
    .await;
    for seq in 3..=5 {
        let missed = next(&mut back).await;
        assert_eq!(missed["type"], "missed", "{missed}");
        assert_eq!(missed["lot_id"], lot.to_string());
        assert_eq!(missed["seq"], seq);
        assert_eq!(missed["event_type"], "parking_spot_booked");
        assert!(missed.get("user_id").is_none(), "who booked is not shown");
    }
    let now = next(&mut back).await;
    assert_eq!(now["type"], "availability_update", "{now}");
    assert_eq!(now["seq"], 5);
    book(&app, &driver, lot, 5).await;
    assert_eq!(next(&mut back).await["seq"], 6, "live updates follow");

    // Further behind than the replay bound (3): a fresh snapshot instead.
    let mut late = connect(&app).await;
    subscribe(
        &mut late,
        json!({"type": "subscribe", "lots": [lot], "since": {lot.to_string(): 1}}),
    )
    .await;
    let snapshot = next(&mut late).await;
    assert_eq!(snapshot["type"], "snapshot", "{snapshot}");
    assert_eq!(snapshot["seq"], 6);
    app.stop().await;
}

#[tokio::test]
async fn a_stalled_client_does_not_delay_a_healthy_one() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Acme").await;
    let lot = lot_at(&app, tenant, 51.05, 13.74, 1).await;
    let driver = app.user("d@example.com", Role::Driver, None).await;
    let mut stalled = connect(&app).await;
    subscribe(&mut stalled, json!({"type": "subscribe", "lots": [lot]})).await;
    // From here on `stalled` reads nothing.
    let mut healthy = connect(&app).await;
    subscribe(&mut healthy, json!({"type": "subscribe", "lots": [lot]})).await;
    next_of(&mut healthy, "snapshot").await;
    let mut slowest = Duration::ZERO;
    for n in 0..20 {
        let started = Instant::now();
        book(&app, &driver, lot, n).await;
        let update = next(&mut healthy).await;
        slowest = slowest.max(started.elapsed());
        assert_eq!(update["seq"], n + 1, "every update, in order");
    }
    eprintln!("slowest booking-to-update with a stalled peer: {slowest:?}");
    // The stalled client, reading at last, finds its snapshot and then the
    // newest state (coalesced or not), never an error or a gap at the end.
    let first = next(&mut stalled).await;
    assert_eq!(first["type"], "snapshot");
    let mut last = first;
    while last["seq"] != 20 {
        let message = next(&mut stalled).await;
        assert_eq!(message["type"], "availability_update");
        assert!(message["seq"].as_u64() > last["seq"].as_u64(), "seq grows");
        last = message;
    }
    app.stop().await;
}

#[tokio::test]
async fn a_driver_receives_its_own_reservation_events_and_nobody_else_does() {
    let app = TestApp::spawn_with(|c| {
        c.websocket.hold_warning_secs = 3600;
        c.websocket.recount_interval_ms = 50;
    })
    .await;
    let tenant = app.tenant("Acme").await;
    let lot = lot_at(&app, tenant, 51.05, 13.74, 2).await;
    let ada = app.user("ada@example.com", Role::Driver, None).await;
    let bob = app.user("bob@example.com", Role::Driver, None).await;
    let mut ada_ws = connect(&app).await;
    send(&mut ada_ws, json!({"type": "auth", "token": ada.access})).await;
    let authenticated = next(&mut ada_ws).await;
    assert_eq!(authenticated["type"], "authenticated");
    assert_eq!(authenticated["user_id"], ada.user_id);
    assert_eq!(authenticated["role"], "driver");
    let mut bob_ws = connect(&app).await;
    send(&mut bob_ws, json!({"type": "auth", "token": bob.access})).await;
    assert_eq!(next(&mut bob_ws).await["type"], "authenticated");

    let (start, end) = window(24, 2);
    let id = book_at(&app, &ada, lot, start, end, true).await;
    // The hold lapses in 10 minutes, within the warning lead of an hour. The
    // warning comes from the hub's scan of the store, the `held` message from
    // the outbox: on PostgreSQL the outbox numbers events after commit, so the
    // warning may arrive first. Both must arrive, each exactly once.
    let first = next(&mut ada_ws).await;
    let second = next(&mut ada_ws).await;
    let (held, expiring) = if first["event"] == "hold_expiring" {
        (second, first)
    } else {
        (first, second)
    };
    assert_eq!(held["type"], "reservation", "{held}");
    assert_eq!(
        (&held["event"], &held["status"], &held["reservation_id"]),
        (&json!("held"), &json!("held"), &json!(id))
    );
    assert_eq!(held["lot_id"], lot.to_string());
    assert_eq!(held["seq"], 1);
    assert_eq!(expiring["event"], "hold_expiring", "{expiring}");
    assert!(expiring["expires_at"].is_string());
    let confirmed = app
        .post(
            &format!("/reservations/{id}/confirm"),
            Some(&ada.access),
            json!({}),
        )
        .await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    let event = next(&mut ada_ws).await;
    assert_eq!(
        (&event["event"], &event["status"]),
        (&json!("confirmed"), &json!("confirmed"))
    );
    let cancelled = app
        .call(
            reqwest::Method::DELETE,
            &format!("/reservations/{id}"),
            Some(&ada.access),
            None,
        )
        .await;
    assert!(cancelled.status().is_success(), "{}", cancelled.status());
    let event = next(&mut ada_ws).await;
    assert_eq!(
        (&event["event"], &event["status"]),
        (&json!("cancelled"), &json!("cancelled"))
    );

    // Bob's queue holds nothing of Ada's: his next message answers his own request.
    subscribe(&mut bob_ws, json!({"type": "subscribe", "lots": [lot]})).await;
    app.stop().await;
}

#[tokio::test]
async fn a_driver_hears_of_its_check_in_and_check_out() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Acme").await;
    let lot = lot_at(&app, tenant, 51.05, 13.74, 1).await;
    let ada = app.user("ada@example.com", Role::Driver, None).await;
    let mut ws = connect(&app).await;
    send(&mut ws, json!({"type": "auth", "token": ada.access})).await;
    assert_eq!(next(&mut ws).await["type"], "authenticated");
    let id = book(&app, &ada, lot, 0).await;
    let booked = next(&mut ws).await;
    assert_eq!(booked["event"], "confirmed", "{booked}");
    for (action, event, status) in [
        ("check-in", "checked_in", "checked_in"),
        ("check-out", "completed", "completed"),
    ] {
        let response = app
            .post(
                &format!("/reservations/{id}/{action}"),
                Some(&ada.access),
                json!({}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK, "{action}");
        let message = next(&mut ws).await;
        assert_eq!(
            (
                &message["event"],
                &message["status"],
                &message["reservation_id"]
            ),
            (&json!(event), &json!(status), &json!(id)),
            "{message}"
        );
    }
    // The check-in is in the outbox too, for replay and Kafka consumers.
    let events = app
        .state
        .store
        .events_after(0, Some(lot), None, 100)
        .await
        .expect("events");
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "parking_spot_booked",
            "reservation_checked_in",
            "parking_spot_released"
        ]
    );
    app.stop().await;
}

#[tokio::test]
async fn alerts_reach_the_lots_operators_and_admins_only() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let other = app.tenant("Other").await;
    let lot = lot_at(&app, acme, 51.05, 13.74, 1).await;
    let users = [
        app.user("op@example.com", Role::Operator, Some(acme)).await,
        app.user("admin@example.com", Role::Admin, None).await,
        app.user("rival@example.com", Role::Operator, Some(other))
            .await,
        app.user("driver@example.com", Role::Driver, None).await,
    ];
    let mut sockets = Vec::new();
    for user in &users {
        let mut ws = connect(&app).await;
        send(&mut ws, json!({"type": "auth", "token": user.access})).await;
        assert_eq!(next(&mut ws).await["type"], "authenticated");
        sockets.push(ws);
    }
    let alert_id = AlertId::new();
    app.state.events.publish(StoredEvent {
        seq: 1_000,
        lot_id: Some(lot),
        lot_seq: Some(1),
        event_type: "alert_raised".into(),
        payload: DomainEvent::AlertRaised {
            alert_id,
            kind: AlertKind::UnexpectedOccupancy,
            lot_id: lot,
            spot_id: SpotId::new(),
            spot_label: "S1".into(),
            reservation_id: None,
            raised_at: Utc::now(),
            detail: "occupied without a booking".into(),
        },
        occurred_at: Utc::now(),
    });
    for ws in &mut sockets[..2] {
        let alert = next(ws).await;
        assert_eq!(alert["type"], "alert", "{alert}");
        assert_eq!(alert["alert"]["id"], alert_id.to_string());
        assert_eq!(alert["alert"]["kind"], "unexpected_occupancy");
        assert_eq!(alert["alert"]["lot_id"], lot.to_string());
    }
    for ws in &mut sockets[2..] {
        // Nothing queued for them: the reply to their own request comes first.
        subscribe(ws, json!({"type": "subscribe", "lots": [lot]})).await;
    }
    app.stop().await;
}

#[tokio::test]
async fn bad_input_gets_errors_and_a_bad_token_or_garbage_closes() {
    let app = TestApp::spawn_with(|c| c.websocket.max_subscriptions = 2).await;
    let tenant = app.tenant("Acme").await;
    let lots = [
        lot_at(&app, tenant, 51.05, 13.74, 1).await,
        lot_at(&app, tenant, 51.06, 13.74, 1).await,
        lot_at(&app, tenant, 51.07, 13.74, 1).await,
    ];
    let mut ws = connect(&app).await;
    send(
        &mut ws,
        json!({"type": "subscribe", "near": {"lat": 51.05, "lng": 13.74, "radius": 50001}}),
    )
    .await;
    assert_eq!(next(&mut ws).await["code"], "radius_too_large");
    send(
        &mut ws,
        json!({"type": "subscribe", "near": {"lat": 91, "lng": 13.74, "radius": 10}}),
    )
    .await;
    assert_eq!(next(&mut ws).await["code"], "bad_area");
    send(&mut ws, json!({"type": "subscribe", "lots": lots})).await;
    let too_many = next(&mut ws).await;
    assert_eq!(too_many["code"], "too_many_subscriptions", "{too_many}");
    let unknown = LotId::new();
    send(
        &mut ws,
        json!({"type": "subscribe", "lots": [lots[0], unknown]}),
    )
    .await;
    let error = next(&mut ws).await;
    assert_eq!(error["code"], "unknown_lot");
    assert!(
        error["detail"]
            .as_str()
            .is_some_and(|d| d.contains(&unknown.to_string()))
    );
    assert_eq!(
        next(&mut ws).await["lots"],
        json!([lots[0]]),
        "the known lot is watched"
    );
    assert_eq!(next(&mut ws).await["type"], "snapshot");
    send(
        &mut ws,
        json!({"type": "unsubscribe", "lots": [lots[0], lots[1]]}),
    )
    .await;
    let unsubscribed = next(&mut ws).await;
    assert_eq!(unsubscribed["type"], "unsubscribed");
    assert_eq!(unsubscribed["lots"], json!([lots[0]]));
    for _ in 0..4 {
        ws.send(Message::text("{not json")).await.expect("sent");
        assert_eq!(next(&mut ws).await["code"], "bad_message");
    }
    ws.send(Message::text("{\"type\":\"dance\"}"))
        .await
        .expect("sent");
    assert_eq!(
        close_code(&mut ws).await,
        Some(4002),
        "the fifth strike closes"
    );

    let mut ws = connect(&app).await;
    send(&mut ws, json!({"type": "auth", "token": "not.a.token"})).await;
    assert_eq!(close_code(&mut ws).await, Some(4003));

    // A token in the URL is not how to authenticate: the query is ignored.
    let url = format!("{}/api/v1/ws?token=abc", app.url.replacen("http", "ws", 1));
    let (mut ws, _) = connect_async(url).await.expect("connects");
    assert_eq!(next(&mut ws).await["type"], "welcome");
    app.stop().await;
}

#[tokio::test]
async fn the_connection_cap_refuses_with_503_and_plain_http_gets_400() {
    let app = TestApp::spawn_with(|c| c.websocket.max_connections = 1).await;
    let _first = connect(&app).await;
    let url = format!("{}/api/v1/ws", app.url.replacen("http", "ws", 1));
    match connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 503);
        }
        other => panic!("expected a 503 refusal, got {:?}", other.map(|_| ())),
    }
    let plain = app.get("/ws", None).await;
    crate::helpers::problem(plain, StatusCode::BAD_REQUEST).await;
    app.stop().await;
}

#[tokio::test]
async fn a_silent_client_is_closed_for_idleness_and_shutdown_says_going_away() {
    let app = TestApp::spawn_with(|c| {
        c.websocket.heartbeat_secs = 1;
        c.websocket.idle_timeout_secs = 2;
    })
    .await;
    let mut silent = connect(&app).await;
    // Not reading means not answering pings either.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(close_code(&mut silent).await, Some(4000));

    let mut open = connect(&app).await;
    let stopping = tokio::spawn(app.stop());
    assert_eq!(close_code(&mut open).await, Some(1001));
    stopping.await.expect("stopped");
}

#[tokio::test]
async fn logging_out_closes_the_sessions_authenticated_with_that_token() {
    let app = TestApp::spawn_with(|c| {
        c.websocket.heartbeat_secs = 1;
        c.websocket.idle_timeout_secs = 10;
    })
    .await;
    app.user("ada@example.com", Role::Driver, None).await;
    let session = app.login("ada@example.com").await;
    let mut ws = connect(&app).await;
    send(&mut ws, json!({"type": "auth", "token": session.access})).await;
    assert_eq!(next(&mut ws).await["type"], "authenticated");
    let response = app
        .post(
            "/auth/logout",
            Some(&session.access),
            json!({"refresh_token": session.refresh}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    // Checked at the next heartbeat.
    assert_eq!(close_code(&mut ws).await, Some(4003));
    app.stop().await;
}

#[tokio::test]
async fn the_websocket_metrics_are_exported() {
    let app = TestApp::spawn().await;
    let _ws = connect(&app).await;
    let text = app
        .get("/metrics", None)
        .await
        .text()
        .await
        .expect("metrics text");
    assert!(text.contains("parkd_ws_connections"), "{text}");
    assert!(text.contains("parkd_ws_messages_sent_total"), "{text}");
    app.stop().await;
}

#[tokio::test]
async fn an_oversized_frame_closes_with_a_protocol_error() {
    let app = TestApp::spawn_with(|c| c.websocket.max_frame_bytes = 4096).await;
    let mut ws = connect(&app).await;
    let huge = json!({"type": "auth", "token": "x".repeat(8192)}).to_string();
    ws.send(Message::text(huge)).await.expect("sent");
    assert_eq!(close_code(&mut ws).await, Some(4002));
    app.stop().await;
}

#[tokio::test]
async fn a_client_whose_socket_stops_draining_is_closed_without_delaying_others() {
    let app = TestApp::spawn_with(|c| c.websocket.write_timeout_secs = 1).await;
    let tenant = app.tenant("Acme").await;
    let mut lots = Vec::new();
    for _ in 0..40 {
        lots.push(lot_at(&app, tenant, 51.05, 13.74, 1).await);
    }
    let watched = lots[0];
    let driver = app.user("d@example.com", Role::Driver, None).await;
    let mut healthy = connect(&app).await;
    subscribe(
        &mut healthy,
        json!({"type": "subscribe", "lots": [watched]}),
    )
    .await;
    next_of(&mut healthy, "snapshot").await;

    // A reader with a tiny receive window that never reads: every answer to its
    // requests (40 snapshots each time) piles up until the server's writes block.
    let addr: std::net::SocketAddr = app.url.trim_start_matches("http://").parse().expect("addr");
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("small buffer");
    let stream = socket.connect(addr).await.expect("connects");
    let url = format!("ws://{addr}/api/v1/ws");
    let (mut stalled, _) = tokio_tungstenite::client_async(url, stream)
        .await
        .expect("handshake");
    let subscribe_all =
        json!({"type": "subscribe", "near": {"lat": 51.05, "lng": 13.74, "radius": 100}});
    let unsubscribe_all = json!({"type": "unsubscribe", "lots": lots});
    let started = Instant::now();
    let mut round = 0;
    while app.state.realtime.registry.connections() > 1 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "never closed after {round} rounds"
        );
        for message in [&subscribe_all, &unsubscribe_all] {
            // Once the server stops reading too, our own writes may block.
            let _ = tokio::time::timeout(
                Duration::from_millis(100),
                stalled.send(Message::text(message.to_string())),
            )
            .await;
        }
        round += 1;
        // The healthy client is served all along.
        book(&app, &driver, watched, round).await;
        assert_eq!(next(&mut healthy).await["seq"], round, "round {round}");
    }
    eprintln!("stalled reader closed after {round} rounds");
    let metrics = app
        .get("/metrics", None)
        .await
        .text()
        .await
        .expect("metrics");
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("parkd_ws_slow_consumer_closes_total") && !l.ends_with(" 0")),
        "{metrics}"
    );
    app.stop().await;
}
