//! Spots over HTTP: bulk creation in both shapes, duplicate labels, the
//! availability flag, and out-of-service spots never being allocated.

use parkd::auth::Role;
use parking_core::model::{BookingRules, SpotKind};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, problem, window};
use crate::lots::{json_of, make_lot, ts};

fn labels(spots: &Value) -> Vec<String> {
    spots
        .as_array()
        .expect("spots")
        .iter()
        .map(|s| s["label"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn spots_are_created_in_bulk_in_both_shapes() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Acme").await;
    let op = app
        .user("op@example.com", Role::Operator, Some(tenant))
        .await
        .access;
    let lot = make_lot(&app, &op, "P", 51.05, 0).await;
    let path = format!("/parking-lots/{lot}/spots");

    let batch = json_of(
        app.post(
            &path,
            Some(&op),
            json!({"count": 3, "prefix": "B-", "kind": "compact", "zone": "Level 1"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(labels(&batch), ["B-001", "B-002", "B-003"]);
    assert_eq!(batch[0]["kind"], "compact");
    assert_eq!(batch[0]["zone"], "Level 1");
    assert_eq!(batch[0]["in_service"], true);
    assert_eq!(batch[0]["lot_id"], lot);
    // A second batch with the same prefix continues the numbering.
    let more = json_of(
        app.post(
            &path,
            Some(&op),
            json!({"count": 2, "prefix": "B-", "kind": "regular"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(labels(&more), ["B-004", "B-005"]);
    let list = json_of(
        app.post(
            &path,
            Some(&op),
            json!({"spots": [{"label": "EV-1", "kind": "ev"}, {"label": "M-1", "kind": "motorcycle"}]}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(labels(&list), ["EV-1", "M-1"]);

    // A taken label is 409 and nothing of the request is created.
    problem(
        app.post(
            &path,
            Some(&op),
            json!({"spots": [{"label": "X-1", "kind": "ev"}, {"label": "B-002", "kind": "ev"}]}),
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;
    // Repeated within one request, or a mixed shape: 422.
    problem(
        app.post(
            &path,
            Some(&op),
            json!({"spots": [{"label": "Y", "kind": "ev"}, {"label": "Y", "kind": "ev"}]}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    problem(
        app.post(
            &path,
            Some(&op),
            json!({"count": 2, "prefix": "Z", "kind": "ev", "spots": []}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;

    let all = json_of(app.get(&path, None).await, StatusCode::OK).await;
    assert_eq!(
        labels(&all),
        ["B-001", "B-002", "B-003", "B-004", "B-005", "EV-1", "M-1"]
    );
    assert!(
        all.as_array()
            .expect("spots")
            .iter()
            .all(|s| s["available"] == true)
    );
    let ev = json_of(
        app.get(&format!("{path}?spot_type=ev"), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(labels(&ev), ["EV-1"]);
    let shown = json_of(
        app.get(&format!("/parking-lots/{lot}"), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(shown["total_spots"], 7);
    assert_eq!(shown["available"]["compact"], 3);

    // Authorization: anonymous 401, driver 403, another tenant's operator 404.
    let body = json!({"count": 1, "prefix": "Q", "kind": "ev"});
    problem(
        app.post(&path, None, body.clone()).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let driver = app.user("d@example.com", Role::Driver, None).await.access;
    problem(
        app.post(&path, Some(&driver), body.clone()).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let other = app.tenant("Other").await;
    let rival = app
        .user("op@other.example", Role::Operator, Some(other))
        .await
        .access;
    problem(
        app.post(&path, Some(&rival), body).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn the_available_flag_follows_bookings_and_windows() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Acme").await;
    let (lot, spots) = app
        .lot(
            tenant,
            &[SpotKind::Regular, SpotKind::Regular],
            BookingRules::default(),
        )
        .await;
    let driver = app.user("d@example.com", Role::Driver, None).await;
    let (start, end) = window(2, 2);
    let booked = json_of(
        app.post(
            "/reservations",
            Some(&driver.access),
            json!({"lot_id": lot.to_string(), "start_time": start, "end_time": end}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let spots_in = |s, e| {
        format!(
            "/parking-lots/{lot}/spots?start_time={}&end_time={}",
            ts(s),
            ts(e)
        )
    };
    let during = json_of(app.get(&spots_in(start, end), None).await, StatusCode::OK).await;
    for spot in during.as_array().expect("spots") {
        assert_eq!(
            spot["available"] == false,
            spot["id"] == booked["spot_id"],
            "{spot}"
        );
    }
    let (later_start, later_end) = window(30, 1);
    let later = json_of(
        app.get(&spots_in(later_start, later_end), None).await,
        StatusCode::OK,
    )
    .await;
    assert!(
        later
            .as_array()
            .expect("spots")
            .iter()
            .all(|s| s["available"] == true)
    );
    assert_eq!(spots.len(), 2);
    problem(
        app.get(&spots_in(end, start), None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    problem(
        app.get(&format!("/parking-lots/{}/spots", uuid_like()), None)
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    app.stop().await;
}

fn uuid_like() -> String {
    parking_core::model::LotId::new().to_string()
}

#[tokio::test]
async fn an_out_of_service_spot_is_never_allocated() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Acme").await;
    let op = app
        .user("op@example.com", Role::Operator, Some(tenant))
        .await
        .access;
    let (lot, spots) = app
        .lot(
            tenant,
            &[SpotKind::Regular, SpotKind::Ev],
            BookingRules::default(),
        )
        .await;
    let ev = spots[1];
    let path = format!("/parking-lots/{lot}/spots/{ev}");
    let driver = app.user("d@example.com", Role::Driver, None).await;
    problem(
        app.call(
            Method::PATCH,
            &path,
            Some(&driver.access),
            Some(json!({"in_service": false})),
        )
        .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let other = app.tenant("Other").await;
    let rival = app
        .user("op@other.example", Role::Operator, Some(other))
        .await
        .access;
    problem(
        app.call(
            Method::PATCH,
            &path,
            Some(&rival),
            Some(json!({"in_service": false})),
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let off = json_of(
        app.call(
            Method::PATCH,
            &path,
            Some(&op),
            Some(json!({"in_service": false})),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(off["in_service"], false);
    assert_eq!(off["id"], ev.to_string());

    let (start, end) = window(2, 2);
    let body =
        json!({"lot_id": lot.to_string(), "spot_type": "ev", "start_time": start, "end_time": end});
    problem(
        app.post("/reservations", Some(&driver.access), body.clone())
            .await,
        StatusCode::CONFLICT,
    )
    .await;
    let listed = json_of(
        app.get(&format!("/parking-lots/{lot}/spots?spot_type=ev"), None)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed[0]["in_service"], false);
    assert_eq!(listed[0]["available"], false);
    let shown = json_of(
        app.get(&format!("/parking-lots/{lot}"), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(shown["total_spots"], 1, "in service only");

    let on = json_of(
        app.call(
            Method::PATCH,
            &path,
            Some(&op),
            Some(json!({"in_service": true})),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(on["in_service"], true);
    let booked = json_of(
        app.post("/reservations", Some(&driver.access), body).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(booked["spot_id"], ev.to_string());
    problem(
        app.call(
            Method::PATCH,
            &format!("/parking-lots/{lot}/spots/{}", uuid_like()),
            Some(&op),
            Some(json!({"in_service": false})),
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    app.stop().await;
}
