//! The event outbox over HTTP and in process: `GET /events` (order, per-lot
//! sequence, paging, scoping, who may call it) and the dispatcher (delivery to
//! a subscriber, resuming from its cursor after a restart).

use std::sync::Arc;
use std::time::Duration;

use parkd::auth::Role;
use parkd::store::interface::StoredEvent;
use parking_core::model::{BookingRules, LotId, SpotKind};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::helpers::{Session, TestApp, on_test_database, problem, test_config, window};

/// Books a regular spot of `lot` `hours` from now; returns the reservation id.
async fn book(app: &TestApp, driver: &Session, lot: LotId, hours: i64) -> String {
    let (start, end) = window(hours, 1);
    let response = app
        .post(
            "/reservations",
            Some(&driver.access),
            json!({"lot_id": lot.to_string(), "start_time": start, "end_time": end}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED, "booking");
    let body: Value = response.json().await.expect("json");
    body["id"].as_str().expect("id").to_owned()
}

async fn cancel(app: &TestApp, driver: &Session, id: &str) {
    let response = app
        .call(
            reqwest::Method::DELETE,
            &format!("/reservations/{id}"),
            Some(&driver.access),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK, "cancelling");
}

async fn events(app: &TestApp, query: &str, token: &str) -> Value {
    let response = app.get(&format!("/events{query}"), Some(token)).await;
    assert_eq!(response.status(), StatusCode::OK, "GET /events{query}");
    response.json().await.expect("json")
}

fn items(page: &Value) -> &Vec<Value> {
    page["items"].as_array().expect("items")
}

fn field<'a>(page: &'a Value, name: &str) -> Vec<&'a Value> {
    items(page).iter().map(|i| &i[name]).collect()
}

/// A tenant with one lot of two regular spots, its operator, and a driver.
async fn setup(app: &TestApp, tenant_name: &str) -> (LotId, Session, Session) {
    let tenant = app.tenant(tenant_name).await;
    let (lot, _) = app
        .lot(
            tenant,
            &[SpotKind::Regular, SpotKind::Regular],
            BookingRules::default(),
        )
        .await;
    let operator = app
        .user(
            &format!("op@{tenant_name}.example"),
            Role::Operator,
            Some(tenant),
        )
        .await;
    let driver = app
        .user(&format!("d@{tenant_name}.example"), Role::Driver, None)
        .await;
    (lot, operator, driver)
}

#[tokio::test]
async fn booking_and_cancelling_are_logged_in_order_with_the_lot_sequence() {
    let app = TestApp::spawn().await;
    let (lot, operator, driver) = setup(&app, "acme").await;
    let first = book(&app, &driver, lot, 2).await;
    book(&app, &driver, lot, 5).await;
    cancel(&app, &driver, &first).await;

    let page = events(&app, &format!("?lot_id={lot}"), &operator.access).await;
    let types: Vec<&str> = field(&page, "type")
        .iter()
        .map(|t| t.as_str().expect("type"))
        .collect();
    assert_eq!(
        types,
        [
            "parking_spot_booked",
            "parking_spot_booked",
            "reservation_cancelled",
            "parking_spot_released"
        ]
    );
    let lot_seqs: Vec<u64> = field(&page, "lot_seq")
        .iter()
        .map(|s| s.as_u64().expect("lot_seq"))
        .collect();
    assert_eq!(lot_seqs, [1, 2, 3, 4]);
    let seqs: Vec<u64> = field(&page, "seq")
        .iter()
        .map(|s| s.as_u64().expect("seq"))
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "seq order: {seqs:?}");
    assert_eq!(page["next_after"], seqs[3]);
    let item = &items(&page)[2];
    assert_eq!(item["lot_id"], lot.to_string());
    assert_eq!(item["event"]["type"], "reservation_cancelled");
    assert_eq!(item["event"]["reservation_id"], first);
    assert!(item["occurred_at"].is_string());
    app.stop().await;
}

#[tokio::test]
async fn after_pages_through_the_log_and_limit_is_bounded() {
    let app = TestApp::spawn().await;
    let (lot, _operator, driver) = setup(&app, "acme").await;
    let admin = app.user("admin@example.com", Role::Admin, None).await;
    for hours in [2, 4, 6] {
        book(&app, &driver, lot, hours).await;
    }
    let all = events(&app, "", &admin.access).await;
    let all_seqs: Vec<u64> = field(&all, "seq")
        .iter()
        .map(|s| s.as_u64().expect("seq"))
        .collect();
    // The admin sees user registrations (no lot) as well as the lot's events.
    assert!(
        field(&all, "type").contains(&&json!("user_registered")),
        "{all}"
    );
    let mut paged = Vec::new();
    let mut after = 0;
    loop {
        let page = events(&app, &format!("?after={after}&limit=2"), &admin.access).await;
        assert!(items(&page).len() <= 2);
        if items(&page).is_empty() {
            assert_eq!(page["next_after"], after, "an empty page keeps the cursor");
            break;
        }
        paged.extend(field(&page, "seq").iter().map(|s| s.as_u64().expect("seq")));
        after = page["next_after"].as_u64().expect("next_after");
    }
    assert_eq!(
        paged, all_seqs,
        "paging with next_after sees every event once"
    );

    for bad in ["?limit=0", "?limit=1001", "?after=-1", "?page=2"] {
        let response = app.get(&format!("/events{bad}"), Some(&admin.access)).await;
        problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let max = app.get("/events?limit=1000", Some(&admin.access)).await;
    assert_eq!(max.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn operators_see_only_their_tenants_lots_and_drivers_and_strangers_nothing() {
    let app = TestApp::spawn().await;
    let (lot_a, op_a, driver_a) = setup(&app, "acme").await;
    let (lot_b, op_b, driver_b) = setup(&app, "bravo").await;
    book(&app, &driver_a, lot_a, 2).await;
    book(&app, &driver_b, lot_b, 2).await;
    book(&app, &driver_b, lot_b, 4).await;

    let a = events(&app, "", &op_a.access).await;
    assert_eq!(items(&a).len(), 1, "only acme's booking: {a}");
    assert!(field(&a, "lot_id").iter().all(|l| **l == lot_a.to_string()));
    let b = events(&app, "", &op_b.access).await;
    assert_eq!(items(&b).len(), 2);
    assert!(field(&b, "lot_id").iter().all(|l| **l == lot_b.to_string()));
    // Asking for the other tenant's lot by id shows nothing either.
    let foreign = events(&app, &format!("?lot_id={lot_b}"), &op_a.access).await;
    assert!(items(&foreign).is_empty(), "{foreign}");
    // The limit counts only visible events (scoped in the query): a page of 1
    // for acme is acme's booking even though bravo's events come after it.
    let one = events(&app, "?limit=1", &op_a.access).await;
    assert_eq!(field(&one, "lot_id"), [&json!(lot_a.to_string())]);

    let driver = app.get("/events", Some(&driver_a.access)).await;
    problem(driver, StatusCode::FORBIDDEN).await;
    let anonymous = app.get("/events", None).await;
    problem(anonymous, StatusCode::UNAUTHORIZED).await;
    let garbage = app.get("/events", Some("not-a-token")).await;
    problem(garbage, StatusCode::UNAUTHORIZED).await;
    app.stop().await;
}

/// The next event about `lot` from `rx`, skipping others; fails after 5 s.
async fn next_of_lot(rx: &mut broadcast::Receiver<Arc<StoredEvent>>, lot: LotId) -> StoredEvent {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("an event within 5 s")
            .expect("the bus is open and we keep up");
        if event.lot_id == Some(lot) {
            return (*event).clone();
        }
    }
}

#[tokio::test]
async fn the_dispatcher_delivers_a_bookings_events_to_a_subscriber_in_order() {
    let app = TestApp::spawn().await;
    let (lot, _operator, driver) = setup(&app, "acme").await;
    let mut rx = app.state.events.subscribe();
    let id = book(&app, &driver, lot, 2).await;
    cancel(&app, &driver, &id).await;
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(next_of_lot(&mut rx, lot).await);
    }
    let types: Vec<&str> = got.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "parking_spot_booked",
            "reservation_cancelled",
            "parking_spot_released"
        ]
    );
    let lot_seqs: Vec<Option<u64>> = got.iter().map(|e| e.lot_seq).collect();
    assert_eq!(lot_seqs, [Some(1), Some(2), Some(3)]);
    assert!(got.windows(2).all(|w| w[0].seq < w[1].seq));
    // The cursor follows what was published.
    let last = got.last().map(|e| e.seq).expect("three events");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while app.state.store.published_cursor().await.expect("cursor") < last {
        assert!(
            tokio::time::Instant::now() < deadline,
            "cursor reaches {last}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    app.stop().await;
}

#[tokio::test]
async fn after_a_restart_the_dispatcher_resumes_from_its_cursor() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = on_test_database(test_config(dir.path().to_owned(), false)).await;

    // First run: a booking, published by the running dispatcher.
    let app = TestApp::start(config.clone()).await;
    let (lot, _operator, driver) = setup(&app, "acme").await;
    let mut rx = app.state.events.subscribe();
    let first = book(&app, &driver, lot, 2).await;
    let published = next_of_lot(&mut rx, lot).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut cursor_before = 0;
    while cursor_before < published.seq {
        assert!(tokio::time::Instant::now() < deadline, "cursor advances");
        tokio::time::sleep(Duration::from_millis(10)).await;
        cursor_before = app.state.store.published_cursor().await.expect("cursor");
    }
    app.stop().await;

    // Between runs: events committed with no dispatcher running (parkd built
    // over the data directory but not served), so not published yet.
    let state = parkd::app::build(config.clone())
        .await
        .expect("parkd builds");
    assert_eq!(
        state.store.published_cursor().await.expect("cursor"),
        cursor_before,
        "the cursor survived the restart"
    );
    let logged = state
        .store
        .events_after(0, Some(lot), None, 10)
        .await
        .expect("events");
    assert_eq!(logged.len(), 1, "the first run's booking is in the outbox");
    let driver_id = parking_core::model::UserId::from_uuid(
        driver.user_id.parse().expect("driver id is a uuid"),
    );
    let actor = parkd::api::extract::Actor {
        user_id: driver_id,
        roles: vec![Role::Driver],
        tenant_id: None,
        jti: uuid::Uuid::new_v4(),
        expires_at: chrono::Utc::now() + chrono::Duration::minutes(5),
    };
    parkd::service::booking::cancel(
        &state,
        &actor,
        parking_core::model::ReservationId::from_uuid(first.parse().expect("uuid")),
    )
    .await
    .expect("cancelled while no dispatcher runs");
    let unpublished = state
        .store
        .events_after(cursor_before, None, None, 100)
        .await
        .expect("events");
    assert_eq!(
        unpublished.len(),
        2,
        "cancelled + released wait in the outbox"
    );
    state.store.close().await.expect("close");
    drop(state);

    // Second run: subscribe before the dispatcher starts, then let it run.
    let state = parkd::app::build(config).await.expect("parkd restarts");
    if let Some(cluster) = state.store.cluster() {
        // Several instances share PostgreSQL's published cursor, so an
        // instance's dispatcher starts after what its start-up snapshot holds
        // (`Cluster::snapshot_seq`) instead: the events written while it was
        // down are in its memory already, not sent to its bus again.
        let last = unpublished.last().map(|e| e.seq).expect("two events");
        assert!(
            cluster.snapshot_seq() >= last,
            "the restarted instance's snapshot covers the unpublished events"
        );
        state.store.close().await.expect("close");
        return;
    }
    let mut rx = state.events.subscribe();
    let dispatcher = parkd::outbox::spawn_dispatcher(&state);
    let mut got = Vec::new();
    for _ in 0..2 {
        let event = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("an event within 5 s")
            .expect("bus open");
        got.push((*event).clone());
    }
    assert_eq!(
        got, unpublished,
        "exactly the unpublished events, in order; the first run's booking is not sent again"
    );
    assert!(got.iter().all(|e| e.seq > cursor_before));
    let last = got.last().map(|e| e.seq).expect("two events");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let cursor = state.store.published_cursor().await.expect("cursor");
        if cursor == last {
            break;
        }
        assert!(cursor < last, "the cursor never passes what exists");
        assert!(
            tokio::time::Instant::now() < deadline,
            "cursor reaches {last}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Nothing more arrives: nothing was published twice.
    let extra = tokio::time::timeout(Duration::from_millis(300), rx.recv()).await;
    assert!(extra.is_err(), "no further event: {extra:?}");
    dispatcher.abort();
    state.store.close().await.expect("close");
}
