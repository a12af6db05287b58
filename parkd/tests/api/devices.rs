//! Device keys over HTTP: created by the lot's operators and admins and shown
//! once, listed without the key, used by a batch, refused once revoked; other
//! tenants, drivers and malformed credentials are refused.

use chrono::Utc;
use parkd::auth::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, problem};
use crate::sensors::{device_key, events_of, reading, send, send_ok, sensor_lot};

#[tokio::test]
async fn a_key_is_shown_once_used_and_refused_after_revocation() {
    let app = TestApp::spawn().await;
    let l = sensor_lot(&app, "Acme").await;
    let (id, key) = device_key(&app, &l.operator, l.lot).await;
    assert!(key.starts_with("pkd_dev_"), "{key}");

    let listed: Value = app
        .get(
            &format!("/parking-lots/{}/devices", l.lot),
            Some(&l.operator),
        )
        .await
        .json()
        .await
        .expect("json");
    let devices = listed.as_array().expect("array");
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0]["id"], id.as_str());
    assert_eq!(devices[0]["name"], "gateway");
    assert!(
        !listed.to_string().contains(&key),
        "the key is never listed"
    );
    assert!(devices[0].get("last_seen_at").is_none());

    send_ok(&app, &key, json!([reading("S1", true, Utc::now())])).await;
    let listed: Value = app
        .get(
            &format!("/parking-lots/{}/devices", l.lot),
            Some(&l.operator),
        )
        .await
        .json()
        .await
        .expect("json");
    assert!(listed[0]["last_seen_at"].is_string(), "{listed}");

    let path = format!("/parking-lots/{}/devices/{id}", l.lot);
    let revoked = app
        .call(Method::DELETE, &path, Some(&l.operator), None)
        .await;
    assert_eq!(revoked.status(), StatusCode::OK);
    let revoked: Value = revoked.json().await.expect("json");
    assert!(revoked["revoked_at"].is_string());

    let refused = problem(
        send(&app, &key, json!([reading("S1", false, Utc::now())])).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert!(
        refused["detail"]
            .as_str()
            .expect("detail")
            .contains("revoked"),
        "{refused}"
    );
    // Revoking again keeps the first revocation.
    let again: Value = app
        .call(Method::DELETE, &path, Some(&l.operator), None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(again["revoked_at"], revoked["revoked_at"]);
    // The refused batch changed nothing.
    let spots: Value = app
        .get(&format!("/parking-lots/{}/spots", l.lot), None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(spots[0]["sensor"]["occupied"], true);

    // The lot's audit trail: one event per issue and per (first) revocation,
    // naming the device and never carrying its key.
    for (kind, count) in [("device_key_issued", 1), ("device_key_revoked", 1)] {
        let events = events_of(&app, l.lot, kind).await;
        assert_eq!(events.len(), count, "{kind}");
        let payload = serde_json::to_value(&events[0].payload).expect("json");
        assert_eq!(payload["device_id"], id.as_str(), "{payload}");
        assert!(payload["by"].is_string(), "{payload}");
        assert!(!payload.to_string().contains(&key), "{payload}");
    }
    app.stop().await;
}

#[tokio::test]
async fn only_the_lots_operators_and_admins_manage_its_keys() {
    let app = TestApp::spawn().await;
    let l = sensor_lot(&app, "Acme").await;
    let other = sensor_lot(&app, "Other").await;
    let driver = app.user("d@example.com", Role::Driver, None).await.access;
    let admin = app.user("a@example.com", Role::Admin, None).await.access;
    let (id, _) = device_key(&app, &l.operator, l.lot).await;
    let create = format!("/parking-lots/{}/devices", l.lot);
    let revoke = format!("/parking-lots/{}/devices/{id}", l.lot);
    let body = json!({"name": "intruder"});

    problem(
        app.post(&create, Some(&other.operator), body.clone()).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(
        app.get(&create, Some(&other.operator)).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(
        app.call(Method::DELETE, &revoke, Some(&other.operator), None)
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(
        app.post(&create, Some(&driver), body.clone()).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    problem(
        app.post(&create, None, body.clone()).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    // A device of another lot is not found under this one.
    problem(
        app.call(
            Method::DELETE,
            &format!("/parking-lots/{}/devices/{id}", other.lot),
            Some(&other.operator),
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    // Admins manage every lot's keys.
    device_key(&app, &admin, l.lot).await;
    // Names are checked.
    let long = problem(
        app.post(&create, Some(&l.operator), json!({"name": "x".repeat(101)}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(long["errors"][0]["field"], "name");
    problem(
        app.post(&create, Some(&l.operator), json!({"name": "  "}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let listed: Value = app
        .get(&create, Some(&l.operator))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        listed.as_array().expect("array").len(),
        2,
        "nothing else was created"
    );
    app.stop().await;
}

#[tokio::test]
async fn batches_without_a_valid_device_key_are_401() {
    let app = TestApp::spawn().await;
    let l = sensor_lot(&app, "Acme").await;
    let body = json!({"events": [reading("S1", true, Utc::now())]});
    let url = app.api("/sensors/events");

    let none = app
        .client
        .post(&url)
        .json(&body)
        .send()
        .await
        .expect("sent");
    problem(none, StatusCode::UNAUTHORIZED).await;
    let bearer = app
        .client
        .post(&url)
        .bearer_auth(&l.operator)
        .json(&body)
        .send()
        .await
        .expect("sent");
    problem(bearer, StatusCode::UNAUTHORIZED).await;
    for key in ["pkd_dev_not-a-key", "garbage", &"x".repeat(4096)] {
        problem(
            send(&app, key, body["events"].clone()).await,
            StatusCode::UNAUTHORIZED,
        )
        .await;
    }
    app.stop().await;
}
