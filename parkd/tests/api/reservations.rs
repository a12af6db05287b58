//! Booking over HTTP: create, conflicts, holds, lifecycle, idempotency,
//! concurrency and durability.

use parkd::auth::Role;
use parking_core::model::{BookingRules, SpotKind};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, problem, window};

fn body(
    lot: impl ToString,
    start: chrono::DateTime<chrono::Utc>,
    end: chrono::DateTime<chrono::Utc>,
) -> Value {
    json!({"lot_id": lot.to_string(), "start_time": start, "end_time": end})
}

#[tokio::test]
async fn a_driver_books_a_spot_and_sees_it() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Acme").await;
    let (lot, spots) = app
        .lot(
            tenant,
            &[SpotKind::Regular, SpotKind::Ev],
            BookingRules::default(),
        )
        .await;
    let driver = app.user("d@example.com", Role::Driver, None).await;
    let (start, end) = window(2, 2);
    let response = app
        .post("/reservations", Some(&driver.access), body(lot, start, end))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let r: Value = response.json().await.expect("json");
    assert_eq!(r["status"], "confirmed");
    assert_eq!(r["spot_id"], spots[0].to_string(), "the regular spot");
    assert_eq!(r["spot_label"], "S1");
    assert!(r["total_cost"]["amount"].as_i64().is_some_and(|a| a > 0));
    assert_eq!(r["total_cost"]["currency"], "EUR");
    let lines_total: i64 = r["quote"]["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| l["amount"]["amount"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(
        lines_total,
        r["total_cost"]["amount"].as_i64().unwrap_or(-1)
    );
    let id = r["id"].as_str().expect("id");
    let shown: Value = app
        .get(&format!("/reservations/{id}"), Some(&driver.access))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(shown["id"], id);
    let page: Value = app
        .get("/reservations", Some(&driver.access))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(page["total"], 1);
    assert_eq!(page["items"][0]["id"], id);
    app.stop().await;
}

#[tokio::test]
async fn a_taken_spot_is_409_and_a_bad_interval_is_422() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Acme").await;
    let (lot, _) = app
        .lot(tenant, &[SpotKind::Regular], BookingRules::default())
        .await;
    let a = app.user("a@example.com", Role::Driver, None).await;
    let b = app.user("b@example.com", Role::Driver, None).await;
    let (start, end) = window(2, 2);
    let first = app
        .post("/reservations", Some(&a.access), body(lot, start, end))
        .await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let second = app
        .post("/reservations", Some(&b.access), body(lot, start, end))
        .await;
    let p = problem(second, StatusCode::CONFLICT).await;
    assert!(
        !p["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("a@example.com"),
        "never who holds it"
    );
    let reversed = app
        .post("/reservations", Some(&a.access), body(lot, end, start))
        .await;
    problem(reversed, StatusCode::UNPROCESSABLE_ENTITY).await;
    let (past_start, past_end) = window(-5, 1);
    let past = app
        .post(
            "/reservations",
            Some(&a.access),
            body(lot, past_start, past_end),
        )
        .await;
    problem(past, StatusCode::UNPROCESSABLE_ENTITY).await;
    let anonymous = app.post("/reservations", None, body(lot, start, end)).await;
    problem(anonymous, StatusCode::UNAUTHORIZED).await;
    app.stop().await;
}

#[tokio::test]
async fn a_retry_with_the_same_idempotency_key_books_nothing_new() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Acme").await;
    let (lot, _) = app
        .lot(
            tenant,
            &[SpotKind::Regular, SpotKind::Regular],
            BookingRules::default(),
        )
        .await;
    let driver = app.user("d@example.com", Role::Driver, None).await;
    let (start, end) = window(2, 1);
    let send = |key: &'static str, b: Value| {
        app.client
            .post(app.api("/reservations"))
            .bearer_auth(&driver.access)
            .header("Idempotency-Key", key)
            .json(&b)
            .send()
    };
    let first = send("k-1", body(lot, start, end)).await.expect("sent");
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.expect("json");
    let again = send("k-1", body(lot, start, end)).await.expect("sent");
    assert_eq!(again.status(), StatusCode::CREATED);
    let again: Value = again.json().await.expect("json");
    assert_eq!(again, first, "the first answer, byte for byte");
    let page: Value = app
        .get("/reservations", Some(&driver.access))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(page["total"], 1);
    let (s2, e2) = window(5, 1);
    let reused = send("k-1", body(lot, s2, e2)).await.expect("sent");
    problem(reused, StatusCode::UNPROCESSABLE_ENTITY).await;
    app.stop().await;
}

#[tokio::test]
async fn sixty_four_concurrent_clients_on_one_spot_get_exactly_one_booking() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Acme").await;
    let (lot, spots) = app
        .lot(tenant, &[SpotKind::Regular], BookingRules::default())
        .await;
    let mut drivers = Vec::new();
    for n in 0..64 {
        drivers.push(
            app.user(&format!("d{n}@example.com"), Role::Driver, None)
                .await,
        );
    }
    let (start, _) = window(3, 0);
    let requests = drivers.iter().enumerate().map(|(n, d)| {
        // Overlapping windows: each starts n minutes later, all 2 h long.
        let s = start + chrono::Duration::minutes(n as i64);
        let e = s + chrono::Duration::hours(2);
        let mut b = body(lot, s, e);
        b["spot_id"] = json!(spots[0].to_string());
        app.post("/reservations", Some(&d.access), b)
    });
    let responses = futures::future::join_all(requests).await;
    let created = responses
        .iter()
        .filter(|r| r.status() == StatusCode::CREATED)
        .count();
    let conflicts = responses
        .iter()
        .filter(|r| r.status() == StatusCode::CONFLICT)
        .count();
    assert_eq!((created, conflicts), (1, 63));
    let admin = app.user("admin@example.com", Role::Admin, None).await;
    let all: Value = app
        .get("/reservations", Some(&admin.access))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(all["total"], 1);
    app.stop().await;
}

#[tokio::test]
async fn holds_confirm_and_expired_holds_free_the_spot() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Acme").await;
    let rules = BookingRules {
        hold_minutes: 10,
        ..BookingRules::default()
    };
    let (lot, _) = app.lot(tenant, &[SpotKind::Regular], rules).await;
    let driver = app.user("d@example.com", Role::Driver, None).await;
    let (start, end) = window(2, 1);
    let mut b = body(lot, start, end);
    b["hold"] = json!(true);
    let held: Value = app
        .post("/reservations", Some(&driver.access), b.clone())
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(held["status"], "held");
    assert!(held["hold_expires_at"].is_string());
    let id = held["id"].as_str().expect("id").to_owned();
    let confirmed = app
        .post(
            &format!("/reservations/{id}/confirm"),
            Some(&driver.access),
            json!({}),
        )
        .await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    let confirmed: Value = confirmed.json().await.expect("json");
    assert_eq!(confirmed["status"], "confirmed");
    let twice = app
        .post(
            &format!("/reservations/{id}/confirm"),
            Some(&driver.access),
            json!({}),
        )
        .await;
    problem(twice, StatusCode::CONFLICT).await;

    // A second hold that nobody confirms: sweep as if 11 minutes had passed.
    let (s2, e2) = window(6, 1);
    let mut b2 = body(lot, s2, e2);
    b2["hold"] = json!(true);
    let hold2: Value = app
        .post("/reservations", Some(&driver.access), b2.clone())
        .await
        .json()
        .await
        .expect("json");
    let id2 = hold2["id"].as_str().expect("id").to_owned();
    let later = chrono::Utc::now() + chrono::Duration::minutes(11);
    let released = parkd::service::booking::sweep(&app.state, later)
        .await
        .expect("sweep");
    assert_eq!(released, 1);
    let expired: Value = app
        .get(&format!("/reservations/{id2}"), Some(&driver.access))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(expired["status"], "expired");
    b2["hold"] = json!(false);
    let rebook = app.post("/reservations", Some(&driver.access), b2).await;
    assert_eq!(
        rebook.status(),
        StatusCode::CREATED,
        "the expired hold's spot is free again"
    );
    app.stop().await;
}

#[tokio::test]
async fn lifecycle_steps_and_illegal_transitions() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Acme").await;
    let (lot, _) = app
        .lot(tenant, &[SpotKind::Regular], BookingRules::default())
        .await;
    let driver = app.user("d@example.com", Role::Driver, None).await;
    let (start, end) = window(3, 2);
    let r: Value = app
        .post("/reservations", Some(&driver.access), body(lot, start, end))
        .await
        .json()
        .await
        .expect("json");
    let id = r["id"].as_str().expect("id").to_owned();
    let out_first = app
        .post(
            &format!("/reservations/{id}/check-out"),
            Some(&driver.access),
            json!({}),
        )
        .await;
    problem(out_first, StatusCode::CONFLICT).await;
    let inn = app
        .post(
            &format!("/reservations/{id}/check-in"),
            Some(&driver.access),
            json!({}),
        )
        .await;
    assert_eq!(inn.status(), StatusCode::OK);
    let out = app
        .post(
            &format!("/reservations/{id}/check-out"),
            Some(&driver.access),
            json!({}),
        )
        .await;
    let out: Value = out.json().await.expect("json");
    assert_eq!(out["status"], "completed");
    let cancel = app
        .call(
            reqwest::Method::DELETE,
            &format!("/reservations/{id}"),
            Some(&driver.access),
            None,
        )
        .await;
    problem(cancel, StatusCode::CONFLICT).await;
    app.stop().await;
}

#[tokio::test]
async fn cancelling_refunds_by_policy_and_frees_the_spot() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Acme").await;
    let (lot, _) = app
        .lot(tenant, &[SpotKind::Regular], BookingRules::default())
        .await;
    let driver = app.user("d@example.com", Role::Driver, None).await;
    let (start, end) = window(5, 2);
    let r: Value = app
        .post("/reservations", Some(&driver.access), body(lot, start, end))
        .await
        .json()
        .await
        .expect("json");
    let id = r["id"].as_str().expect("id");
    let cancelled = app
        .call(
            reqwest::Method::DELETE,
            &format!("/reservations/{id}"),
            Some(&driver.access),
            None,
        )
        .await;
    assert_eq!(cancelled.status(), StatusCode::OK);
    let c: Value = cancelled.json().await.expect("json");
    assert_eq!(c["reservation"]["status"], "cancelled");
    assert_eq!(
        c["refund"], r["total_cost"],
        "more than an hour ahead: a full refund"
    );
    let again = app
        .post("/reservations", Some(&driver.access), body(lot, start, end))
        .await;
    assert_eq!(again.status(), StatusCode::CREATED);
    app.stop().await;
}

#[tokio::test]
async fn extending_is_rechecked_and_repriced() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Acme").await;
    let (lot, spots) = app
        .lot(tenant, &[SpotKind::Regular], BookingRules::default())
        .await;
    let driver = app.user("d@example.com", Role::Driver, None).await;
    let (start, end) = window(2, 1);
    let r: Value = app
        .post("/reservations", Some(&driver.access), body(lot, start, end))
        .await
        .json()
        .await
        .expect("json");
    let id = r["id"].as_str().expect("id").to_owned();
    let mut next = body(
        lot,
        end + chrono::Duration::hours(1),
        end + chrono::Duration::hours(2),
    );
    next["spot_id"] = json!(spots[0].to_string());
    assert_eq!(
        app.post("/reservations", Some(&driver.access), next)
            .await
            .status(),
        StatusCode::CREATED
    );
    let longer = app
        .call(
            reqwest::Method::PUT,
            &format!("/reservations/{id}"),
            Some(&driver.access),
            Some(json!({"end_time": end + chrono::Duration::minutes(30)})),
        )
        .await;
    assert_eq!(longer.status(), StatusCode::OK);
    let longer: Value = longer.json().await.expect("json");
    assert!(
        longer["total_cost"]["amount"].as_i64() > r["total_cost"]["amount"].as_i64(),
        "re-priced"
    );
    let into_next = app
        .call(
            reqwest::Method::PUT,
            &format!("/reservations/{id}"),
            Some(&driver.access),
            Some(json!({"end_time": end + chrono::Duration::minutes(90)})),
        )
        .await;
    problem(into_next, StatusCode::CONFLICT).await;
    app.stop().await;
}

#[tokio::test]
async fn a_changed_price_is_409_with_the_new_quote_and_nothing_is_booked() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Acme").await;
    let (lot, _) = app
        .lot(tenant, &[SpotKind::Regular], BookingRules::default())
        .await;
    let driver = app.user("d@example.com", Role::Driver, None).await;
    let (start, end) = window(2, 1);
    let mut b = body(lot, start, end);
    b["expected_total"] = json!({"amount": 1, "currency": "EUR"});
    let p = problem(
        app.post("/reservations", Some(&driver.access), b).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(
        p["quote"]["total"]["amount"]
            .as_i64()
            .is_some_and(|a| a > 1)
    );
    let page: Value = app
        .get("/reservations", Some(&driver.access))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(page["total"], 0);
    let mut right = body(lot, start, end);
    right["expected_total"] = p["quote"]["total"].clone();
    assert_eq!(
        app.post("/reservations", Some(&driver.access), right)
            .await
            .status(),
        StatusCode::CREATED
    );
    app.stop().await;
}

#[tokio::test]
async fn other_drivers_reservations_are_404() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Acme").await;
    let other_tenant = app.tenant("Other").await;
    let (lot, _) = app
        .lot(tenant, &[SpotKind::Regular], BookingRules::default())
        .await;
    let a = app.user("a@example.com", Role::Driver, None).await;
    let b = app.user("b@example.com", Role::Driver, None).await;
    let op = app
        .user("op@example.com", Role::Operator, Some(tenant))
        .await;
    let stranger = app
        .user("op2@example.com", Role::Operator, Some(other_tenant))
        .await;
    let (start, end) = window(2, 1);
    let r: Value = app
        .post("/reservations", Some(&a.access), body(lot, start, end))
        .await
        .json()
        .await
        .expect("json");
    let path = format!("/reservations/{}", r["id"].as_str().expect("id"));
    problem(app.get(&path, Some(&b.access)).await, StatusCode::NOT_FOUND).await;
    problem(
        app.get(&path, Some(&stranger.access)).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(
        app.get(&path, Some(&op.access)).await.status(),
        StatusCode::OK
    );
    let theirs: Value = app
        .get("/reservations", Some(&stranger.access))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(theirs["total"], 0);
    let ours: Value = app
        .get("/reservations", Some(&op.access))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(ours["total"], 1);
    app.stop().await;
}

#[tokio::test]
async fn acknowledged_bookings_survive_a_restart() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Acme").await;
    let (lot, _) = app
        .lot(
            tenant,
            &[SpotKind::Regular, SpotKind::Regular],
            BookingRules::default(),
        )
        .await;
    let driver = app.user("d@example.com", Role::Driver, None).await;
    let (start, end) = window(2, 1);
    for _ in 0..2 {
        assert_eq!(
            app.post("/reservations", Some(&driver.access), body(lot, start, end))
                .await
                .status(),
            StatusCode::CREATED
        );
    }
    let data_dir = app.data_dir.clone();
    let dir = app.stop().await;
    let app = TestApp::start(crate::helpers::test_config(data_dir, false)).await;
    // Both spots are still taken after the restart: the engine was rebuilt from the store.
    let third = app
        .post("/reservations", Some(&driver.access), body(lot, start, end))
        .await;
    problem(third, StatusCode::CONFLICT).await;
    let page: Value = app
        .get("/reservations", Some(&driver.access))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(page["total"], 2);
    app.stop().await;
    drop(dir);
}

#[tokio::test]
async fn malformed_bodies_name_the_field_they_stopped_at() {
    let app = TestApp::spawn().await;
    let driver = app.user("d@example.com", Role::Driver, None).await;
    let wrong_type = app
        .post("/reservations", Some(&driver.access), json!({"lot_id": 5}))
        .await;
    let p = problem(wrong_type, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(p["errors"][0]["field"], "lot_id");
    assert!(p["detail"].as_str().unwrap_or_default().contains("lot_id"));
    let (start, end) = window(2, 1);
    let mut extra = body(uuid::Uuid::new_v4(), start, end);
    extra["colour"] = json!("red");
    let unknown = app.post("/reservations", Some(&driver.access), extra).await;
    let p = problem(unknown, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(p["errors"][0]["field"], "colour");
    let not_json = app
        .client
        .post(app.api("/reservations"))
        .bearer_auth(&driver.access)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("sent");
    problem(not_json, StatusCode::BAD_REQUEST).await;
    app.stop().await;
}
