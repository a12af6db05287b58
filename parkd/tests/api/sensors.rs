//! `POST /sensors/events` over HTTP: readings by id and by label, the newest
//! reading winning whatever the order, replays changing nothing, future and
//! unknown readings rejected one by one, batch bounds, and every change
//! written to the outbox with it. Also the shared helpers of the sensor tests.

use chrono::SubsecRound;
use chrono::{DateTime, Duration, Utc};
use parkd::auth::Role;
use parkd::store::interface::StoredEvent;
use parking_core::model::{BookingRules, LotId, SpotId, SpotKind};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, problem};

/// A tenant's lot with three regular spots (S1, S2, S3) and an operator.
pub struct SensorLot {
    pub lot: LotId,
    pub spots: Vec<SpotId>,
    pub operator: String,
}

pub async fn sensor_lot(app: &TestApp, tenant_name: &str) -> SensorLot {
    let tenant = app.tenant(tenant_name).await;
    let (lot, spots) = app
        .lot(tenant, &[SpotKind::Regular; 3], BookingRules::default())
        .await;
    let operator = app
        .user(
            &format!("op@{}.example.com", tenant_name.to_lowercase()),
            Role::Operator,
            Some(tenant),
        )
        .await
        .access;
    SensorLot {
        lot,
        spots,
        operator,
    }
}

/// Creates a device key for `lot` as `token`; returns `(device id, key)`.
pub async fn device_key(app: &TestApp, token: &str, lot: LotId) -> (String, String) {
    let response = app
        .post(
            &format!("/parking-lots/{lot}/devices"),
            Some(token),
            json!({"name": "gateway"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.expect("json");
    (
        body["device"]["id"].as_str().expect("id").to_owned(),
        body["key"].as_str().expect("key").to_owned(),
    )
}

/// Sends a batch with a device key.
pub async fn send(app: &TestApp, key: &str, events: Value) -> Response {
    app.client
        .post(app.api("/sensors/events"))
        .header("authorization", format!("Device {key}"))
        .json(&json!({ "events": events }))
        .send()
        .await
        .expect("request sent")
}

/// Sends a batch that must be accepted; returns its result.
pub async fn send_ok(app: &TestApp, key: &str, events: Value) -> Value {
    let response = send(app, key, events).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

/// Now, at the microsecond precision parkd stores.
pub fn now_us() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// One reading.
pub fn reading(spot: impl std::fmt::Display, occupied: bool, at: DateTime<Utc>) -> Value {
    json!({"spot": spot.to_string(), "occupied": occupied, "at": at})
}

/// Every outbox event of `lot` of type `kind`.
pub async fn events_of(app: &TestApp, lot: LotId, kind: &str) -> Vec<StoredEvent> {
    app.state
        .store
        .events_after(0, Some(lot), None, 10_000)
        .await
        .expect("events")
        .into_iter()
        .filter(|e| e.event_type == kind)
        .collect()
}

/// The lot's spots as listed, by label.
async fn spot_listing(app: &TestApp, lot: LotId) -> Vec<Value> {
    let response = app.get(&format!("/parking-lots/{lot}/spots"), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    body.as_array().expect("array").clone()
}

fn sensor_of<'a>(spots: &'a [Value], label: &str) -> &'a Value {
    &spots
        .iter()
        .find(|s| s["label"] == label)
        .expect("spot listed")["sensor"]
}

fn at_of(value: &Value) -> DateTime<Utc> {
    value["at"]
        .as_str()
        .expect("at")
        .parse()
        .expect("an instant")
}

#[tokio::test]
async fn readings_by_id_and_by_label_show_in_the_spot_listing_with_their_events() {
    let app = TestApp::spawn().await;
    let l = sensor_lot(&app, "Acme").await;
    let (_, key) = device_key(&app, &l.operator, l.lot).await;
    let t = now_us() - Duration::minutes(5);

    let result = send_ok(
        &app,
        &key,
        json!([reading("S1", true, t), reading(l.spots[1], false, t)]),
    )
    .await;
    assert_eq!(result["applied"], 2);
    assert_eq!(result["stale"], 0);
    assert_eq!(result["rejected"], json!([]));

    let spots = spot_listing(&app, l.lot).await;
    assert_eq!(sensor_of(&spots, "S1")["occupied"], true);
    assert_eq!(at_of(sensor_of(&spots, "S1")), t);
    assert_eq!(sensor_of(&spots, "S2")["occupied"], false);
    assert!(sensor_of(&spots, "S3").is_null(), "S3 has no sensor");

    let changes = events_of(&app, l.lot, "spot_status_changed").await;
    assert_eq!(changes.len(), 2, "one event per applied reading");
    let occupied: Vec<Value> = changes
        .iter()
        .map(|e| serde_json::to_value(&e.payload).expect("json")["occupied"].clone())
        .collect();
    assert_eq!(occupied, vec![json!(true), json!(false)]);
    app.stop().await;
}

#[tokio::test]
async fn the_newest_reading_wins_whatever_the_order_and_replays_change_nothing() {
    let app = TestApp::spawn().await;
    let l = sensor_lot(&app, "Acme").await;
    let (_, key) = device_key(&app, &l.operator, l.lot).await;
    let t0 = now_us() - Duration::minutes(30);
    let at = |m: i64| t0 + Duration::minutes(m);

    // Newest first in the batch: both apply, oldest first.
    let batch = json!([reading("S1", true, at(10)), reading("S1", false, at(5))]);
    let first = send_ok(&app, &key, batch.clone()).await;
    assert_eq!(
        (first["applied"].clone(), first["stale"].clone()),
        (json!(2), json!(0))
    );
    // The same batch again: nothing changes.
    let replay = send_ok(&app, &key, batch).await;
    assert_eq!(
        (replay["applied"].clone(), replay["stale"].clone()),
        (json!(0), json!(2))
    );
    // An older reading arriving late loses.
    let late = send_ok(&app, &key, json!([reading("S1", false, at(7))])).await;
    assert_eq!(
        (late["applied"].clone(), late["stale"].clone()),
        (json!(0), json!(1))
    );
    // A newer reading repeating the state changes nothing visible, but an
    // older contrary reading arriving after it still loses.
    let repeat = send_ok(&app, &key, json!([reading("S1", true, at(20))])).await;
    assert_eq!(repeat["stale"], 1);
    let older = send_ok(&app, &key, json!([reading("S1", false, at(15))])).await;
    assert_eq!(
        (older["applied"].clone(), older["stale"].clone()),
        (json!(0), json!(1))
    );
    // Duplicates within one batch count once.
    let dup = send_ok(
        &app,
        &key,
        json!([reading("S2", true, at(1)), reading("S2", true, at(1))]),
    )
    .await;
    assert_eq!(
        (dup["applied"].clone(), dup["stale"].clone()),
        (json!(1), json!(1))
    );

    let spots = spot_listing(&app, l.lot).await;
    assert_eq!(sensor_of(&spots, "S1")["occupied"], true);
    assert_eq!(at_of(sensor_of(&spots, "S1")), at(10), "occupied since 10");
    assert_eq!(
        events_of(&app, l.lot, "spot_status_changed").await.len(),
        3,
        "exactly the applied readings wrote events"
    );
    app.stop().await;
}

#[tokio::test]
async fn future_and_unknown_readings_are_rejected_and_the_rest_applies() {
    let app = TestApp::spawn().await;
    let l = sensor_lot(&app, "Acme").await;
    let other = sensor_lot(&app, "Other").await;
    let (_, key) = device_key(&app, &l.operator, l.lot).await;
    let now = Utc::now();

    let result = send_ok(
        &app,
        &key,
        json!([
            reading("S1", true, now),
            reading("S2", true, now + Duration::minutes(10)),
            reading("NOPE", true, now),
            reading(other.spots[0], true, now),
            reading("S3", false, now + Duration::seconds(30)),
        ]),
    )
    .await;
    assert_eq!(result["applied"], 2, "S1 and S3 (within the clock skew)");
    let rejected = result["rejected"].as_array().expect("rejected");
    let indexes: Vec<u64> = rejected
        .iter()
        .map(|r| r["index"].as_u64().expect("index"))
        .collect();
    assert_eq!(indexes, vec![1, 2, 3]);
    assert!(
        rejected[0]["detail"]
            .as_str()
            .expect("detail")
            .contains("ahead of the server clock"),
        "{rejected:?}"
    );
    assert!(
        rejected[2]["detail"]
            .as_str()
            .expect("detail")
            .contains("no spot of the device's lot"),
        "another lot's spot is unknown to this key: {rejected:?}"
    );
    let others = spot_listing(&app, other.lot).await;
    assert!(
        sensor_of(&others, "S1").is_null(),
        "the other lot is untouched"
    );
    app.stop().await;
}

#[tokio::test]
async fn empty_and_oversized_batches_are_refused_whole() {
    let app = TestApp::spawn_with(|c| c.max_body_bytes = 1024 * 1024).await;
    let l = sensor_lot(&app, "Acme").await;
    let (_, key) = device_key(&app, &l.operator, l.lot).await;
    let now = Utc::now();

    let body = problem(
        send(&app, &key, json!([])).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "events");
    let too_many: Vec<Value> = (0..1001).map(|_| reading("S1", true, now)).collect();
    let body = problem(
        send(&app, &key, Value::Array(too_many)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .expect("message")
            .contains("1 to 1000"),
        "{body}"
    );
    let malformed = problem(
        send(
            &app,
            &key,
            json!([{"spot": "S1", "occupied": "yes", "at": now}]),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(malformed["detail"].is_string());
    assert!(
        events_of(&app, l.lot, "spot_status_changed")
            .await
            .is_empty(),
        "a refused batch writes nothing"
    );
    app.stop().await;

    // With the default body limit a large batch is refused before parsing.
    let app = TestApp::spawn().await;
    let l = sensor_lot(&app, "Acme").await;
    let (_, key) = device_key(&app, &l.operator, l.lot).await;
    let big: Vec<Value> = (0..1001).map(|_| reading(l.spots[0], true, now)).collect();
    let response = send(&app, &key, Value::Array(big)).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    app.stop().await;
}
