//! Lots over HTTP: the nearby search (ordering, paging, radius bounds, windows,
//! filters), lot details and lot administration with its authorization matrix.

use chrono::{DateTime, SecondsFormat, Utc};
use parkd::auth::Role;
use parking_core::model::{BookingRules, SpotKind, TenantId};
use parking_core::pricing::RateCard;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, problem, window};

/// Search centre of every test; the helper's lots sit exactly here.
const LAT: f64 = 51.05;
const LNG: f64 = 13.74;

pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub async fn json_of(response: reqwest::Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    response.json().await.expect("json body")
}

pub fn lot_body(name: &str, lat: f64, lng: f64) -> Value {
    json!({
        "name": name,
        "address": format!("{name} street 1, Dresden"),
        "location": {"lat": lat, "lng": lng},
        "timezone": "Europe/Berlin"
    })
}

/// A lot created over HTTP by `token` with `regular` regular spots and the
/// example rate card; returns its id.
pub async fn make_lot(app: &TestApp, token: &str, name: &str, lat: f64, regular: u32) -> String {
    let lot = json_of(
        app.post("/parking-lots", Some(token), lot_body(name, lat, LNG))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let id = lot["id"].as_str().expect("lot id").to_owned();
    if regular > 0 {
        let created = app
            .post(
                &format!("/parking-lots/{id}/spots"),
                Some(token),
                json!({"count": regular, "prefix": "R", "kind": "regular"}),
            )
            .await;
        assert_eq!(created.status(), StatusCode::CREATED);
    }
    let rates = app
        .call(
            Method::PUT,
            &format!("/parking-lots/{id}/rates"),
            Some(token),
            Some(serde_json::to_value(RateCard::example_eur()).expect("card json")),
        )
        .await;
    assert_eq!(rates.status(), StatusCode::OK);
    id
}

async fn operator(app: &TestApp, email: &str, tenant: TenantId) -> String {
    app.user(email, Role::Operator, Some(tenant)).await.access
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn search_orders_by_distance_and_pages() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Acme").await;
    let op = operator(&app, "op@example.com", tenant).await;
    // About 111 m apart going north; created out of order.
    let mut lots = Vec::new();
    for i in [3, 1, 5, 2, 4] {
        let id = make_lot(&app, &op, &format!("P{i}"), LAT + 0.001 * f64::from(i), 2).await;
        lots.push((i, id));
    }
    lots.sort();
    let far = make_lot(&app, &op, "Far", LAT + 0.03, 1).await; // ~3.3 km

    let page1 = json_of(
        app.get(
            &format!("/parking-lots?lat={LAT}&lng={LNG}&per_page=2"),
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(page1["total"], 5, "default radius 1000 m: {page1}");
    assert_eq!(
        (page1["page"].clone(), page1["per_page"].clone()),
        (json!(1), json!(2))
    );
    assert_eq!(
        (page1["has_next"].clone(), page1["has_prev"].clone()),
        (json!(true), json!(false))
    );
    assert_eq!(ids(&page1), [lots[0].1.clone(), lots[1].1.clone()]);
    let first = &page1["items"][0];
    assert_eq!(first["name"], "P1");
    assert_eq!(first["total_spots"], 2);
    assert_eq!(first["available_spots"], 2);
    assert!(first.get("quote").is_none(), "no window, no price");
    let d0 = first["distance_m"].as_f64().expect("distance");
    let d1 = page1["items"][1]["distance_m"].as_f64().expect("distance");
    assert!((100.0..125.0).contains(&d0) && d0 < d1, "{d0} {d1}");

    let page3 = json_of(
        app.get(
            &format!("/parking-lots?lat={LAT}&lng={LNG}&per_page=2&page=3"),
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ids(&page3), [lots[4].1.clone()]);
    assert_eq!(
        (page3["has_next"].clone(), page3["has_prev"].clone()),
        (json!(false), json!(true))
    );
    let beyond = json_of(
        app.get(
            &format!("/parking-lots?lat={LAT}&lng={LNG}&per_page=2&page=9"),
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (beyond["total"].clone(), beyond["items"].clone()),
        (json!(5), json!([]))
    );

    let wide = json_of(
        app.get(
            &format!("/parking-lots?lat={LAT}&lng={LNG}&radius=5000"),
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(wide["total"], 6);
    assert_eq!(wide["items"][5]["id"], far);
    app.stop().await;
}

#[tokio::test]
async fn bad_search_queries_are_422_naming_the_field() {
    let app = TestApp::spawn().await;
    let (start, end) = window(2, 2);
    for (query, field) in [
        ("radius=0", "radius"),
        ("radius=50001", "radius"),
        ("max_price=500", "max_price"),
        ("per_page=101", "per_page"),
        ("page=0", "page"),
        (&format!("start_time={}", ts(start)) as &str, "end_time"),
        (
            &format!("start_time={}&end_time={}", ts(end), ts(start)) as &str,
            "end_time",
        ),
    ] {
        let p = problem(
            app.get(&format!("/parking-lots?lat={LAT}&lng={LNG}&{query}"), None)
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert!(
            p["errors"]
                .as_array()
                .expect("errors")
                .iter()
                .any(|e| e["field"] == field),
            "{query}: {p}"
        );
    }
    problem(
        app.get("/parking-lots?lat=91&lng=0", None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    problem(
        app.get("/parking-lots?lat=1&lng=1&limit=5", None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    problem(
        app.get("/parking-lots?lng=1", None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let edge = app
        .get(
            &format!("/parking-lots?lat={LAT}&lng={LNG}&radius=50000"),
            None,
        )
        .await;
    assert_eq!(edge.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn a_window_search_reflects_a_booking_in_that_window_only() {
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
    let (start, end) = window(3, 2);
    let booked = app
        .post(
            "/reservations",
            Some(&driver.access),
            json!({"lot_id": lot.to_string(), "start_time": start, "end_time": end}),
        )
        .await;
    assert_eq!(booked.status(), StatusCode::CREATED);
    let search = |s: DateTime<Utc>, e: DateTime<Utc>| {
        format!(
            "/parking-lots?lat={LAT}&lng={LNG}&start_time={}&end_time={}",
            ts(s),
            ts(e)
        )
    };
    let during = json_of(app.get(&search(start, end), None).await, StatusCode::OK).await;
    assert_eq!(during["total"], 1);
    assert_eq!(during["items"][0]["total_spots"], 2);
    assert_eq!(during["items"][0]["available_spots"], 1);
    assert_eq!(during["items"][0]["quote"]["currency"], "EUR");
    assert!(
        during["items"][0]["quote"]["amount"]
            .as_i64()
            .is_some_and(|a| a > 0)
    );
    let (later_start, later_end) = window(30, 2);
    let later = json_of(
        app.get(&search(later_start, later_end), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(later["items"][0]["available_spots"], 2);
    // Now (no window): the booking has not started.
    let now = json_of(
        app.get(&format!("/parking-lots?lat={LAT}&lng={LNG}"), None)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(now["items"][0]["available_spots"], 2);
    // A second booking fills the window: the lot no longer matches it.
    let second = app
        .post(
            "/reservations",
            Some(&driver.access),
            json!({"lot_id": lot.to_string(), "start_time": start, "end_time": end}),
        )
        .await;
    assert_eq!(second.status(), StatusCode::CREATED);
    let full = json_of(app.get(&search(start, end), None).await, StatusCode::OK).await;
    assert_eq!(
        (full["total"].clone(), full["items"].clone()),
        (json!(0), json!([]))
    );
    app.stop().await;
}

#[tokio::test]
async fn spot_type_and_max_price_filter_the_search() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Acme").await;
    let (with_ev, _) = app
        .lot(
            tenant,
            &[SpotKind::Regular, SpotKind::Ev],
            BookingRules::default(),
        )
        .await;
    let (regular_only, _) = app
        .lot(tenant, &[SpotKind::Regular], BookingRules::default())
        .await;
    let ev = json_of(
        app.get(
            &format!("/parking-lots?lat={LAT}&lng={LNG}&spot_type=ev"),
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ev["total"], 1);
    assert_eq!(ev["items"][0]["id"], with_ev.to_string());
    assert_eq!(ev["items"][0]["total_spots"], 1, "EV spots only");
    let all = json_of(
        app.get(&format!("/parking-lots?lat={LAT}&lng={LNG}"), None)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(all["total"], 2);

    let (start, end) = window(4, 2);
    let quote = json_of(
        app.get(
            &format!(
                "/parking-lots/{regular_only}/quote?start_time={}&end_time={}",
                ts(start),
                ts(end)
            ),
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let price = quote["total"]["amount"].as_i64().expect("amount");
    let priced = |max: i64| {
        format!(
            "/parking-lots?lat={LAT}&lng={LNG}&start_time={}&end_time={}&max_price={max}",
            ts(start),
            ts(end)
        )
    };
    let at_price = json_of(app.get(&priced(price), None).await, StatusCode::OK).await;
    assert_eq!(
        at_price["total"], 2,
        "both lots have the same card: {at_price}"
    );
    assert_eq!(at_price["items"][0]["quote"]["amount"], price);
    let below = json_of(app.get(&priced(price - 1), None).await, StatusCode::OK).await;
    assert_eq!(below["total"], 0);
    app.stop().await;
}

#[tokio::test]
async fn lot_administration_follows_the_authorization_matrix() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let other = app.tenant("Other").await;
    let op = operator(&app, "op@acme.example", acme).await;
    let rival = operator(&app, "op@other.example", other).await;
    let driver = app.user("d@example.com", Role::Driver, None).await.access;
    let admin = app
        .user("admin@example.com", Role::Admin, None)
        .await
        .access;
    let body = lot_body("Altmarkt", LAT, LNG);

    problem(
        app.post("/parking-lots", None, body.clone()).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    problem(
        app.post("/parking-lots", Some(&driver), body.clone()).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let mut foreign = body.clone();
    foreign["tenant_id"] = json!(other.to_string());
    problem(
        app.post("/parking-lots", Some(&op), foreign.clone()).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let p = problem(
        app.post("/parking-lots", Some(&admin), body.clone()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "tenant_id");
    let mut unknown = body.clone();
    unknown["tenant_id"] = json!(TenantId::new().to_string());
    let p = problem(
        app.post("/parking-lots", Some(&admin), unknown).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "tenant_id");
    let by_admin = json_of(
        app.post("/parking-lots", Some(&admin), foreign).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(by_admin["tenant_id"], other.to_string());

    let mut own = body.clone();
    own["tenant_id"] = json!(acme.to_string());
    let created = json_of(
        app.post("/parking-lots", Some(&op), own).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(created["tenant_id"], acme.to_string());
    assert_eq!(created["timezone"], "Europe/Berlin");
    assert_eq!(created["total_spots"], 0);
    assert_eq!(created["hold_minutes"], 10, "default filled in");
    let id = created["id"].as_str().expect("id").to_owned();
    let path = format!("/parking-lots/{id}");
    let shown = json_of(app.get(&path, None).await, StatusCode::OK).await;
    assert_eq!(shown, created, "public and the same");

    let patch = json!({"name": "Altmarkt North", "location": {"lat": 48.137, "lng": 11.575}});
    problem(
        app.call(Method::PATCH, &path, None, Some(patch.clone()))
            .await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    problem(
        app.call(Method::PATCH, &path, Some(&driver), Some(patch.clone()))
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    problem(
        app.call(Method::PATCH, &path, Some(&rival), Some(patch.clone()))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let changed = json_of(
        app.call(Method::PATCH, &path, Some(&op), Some(patch.clone()))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(changed["name"], "Altmarkt North");
    assert_eq!(changed["address"], created["address"], "absent fields stay");
    let p = problem(
        app.call(
            Method::PATCH,
            &path,
            Some(&op),
            Some(json!({"timezone": "Mars/Base"})),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "timezone");
    // The move reached the spatial index: found in Munich, gone from Dresden.
    let munich = json_of(
        app.get("/parking-lots?lat=48.137&lng=11.575", None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ids(&munich), [id.as_str()]);
    let dresden = json_of(
        app.get(&format!("/parking-lots?lat={LAT}&lng={LNG}"), None)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        ids(&dresden),
        [by_admin["id"].as_str().unwrap_or_default().to_owned()]
    );

    problem(
        app.call(Method::DELETE, &path, None, None).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    problem(
        app.call(Method::DELETE, &path, Some(&driver), None).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    problem(
        app.call(Method::DELETE, &path, Some(&rival), None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(
        app.call(Method::DELETE, &path, Some(&op), None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    problem(app.get(&path, None).await, StatusCode::NOT_FOUND).await;
    problem(
        app.call(Method::DELETE, &path, Some(&admin), None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    // The admin manages every tenant's lots.
    let admin_path = format!(
        "/parking-lots/{}",
        by_admin["id"].as_str().unwrap_or_default()
    );
    let renamed = app
        .call(
            Method::PATCH,
            &admin_path,
            Some(&admin),
            Some(json!({"name": "Renamed"})),
        )
        .await;
    assert_eq!(renamed.status(), StatusCode::OK);
    problem(
        app.get(&format!("/parking-lots/{}", TenantId::new()), None)
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn deleting_a_lot_with_a_future_booking_is_409() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Acme").await;
    let op = operator(&app, "op@example.com", tenant).await;
    let (lot, _) = app
        .lot(tenant, &[SpotKind::Regular], BookingRules::default())
        .await;
    let driver = app.user("d@example.com", Role::Driver, None).await;
    let (start, end) = window(24, 2);
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
    let path = format!("/parking-lots/{lot}");
    problem(
        app.call(Method::DELETE, &path, Some(&op), None).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(
        app.get(&path, None).await.status(),
        StatusCode::OK,
        "still there"
    );
    let cancelled = app
        .call(
            Method::DELETE,
            &format!(
                "/reservations/{}",
                booked["id"].as_str().unwrap_or_default()
            ),
            Some(&driver.access),
            None,
        )
        .await;
    assert_eq!(cancelled.status(), StatusCode::OK);
    assert_eq!(
        app.call(Method::DELETE, &path, Some(&op), None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    app.stop().await;
}

#[tokio::test]
async fn unknown_fields_are_422_and_oversized_bodies_413() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Acme").await;
    let op = operator(&app, "op@example.com", tenant).await;
    let mut body = lot_body("P", LAT, LNG);
    body["floors"] = json!(3);
    problem(
        app.post("/parking-lots", Some(&op), body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let mut huge = lot_body("P", LAT, LNG);
    huge["address"] = json!("x".repeat(100 * 1024));
    let response = app.post("/parking-lots", Some(&op), huge).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let mut long = lot_body("P", LAT, LNG);
    long["name"] = json!("x".repeat(201));
    let p = problem(
        app.post("/parking-lots", Some(&op), long).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "name");
    app.stop().await;
}

#[tokio::test]
async fn lot_spot_and_rate_routes_are_documented() {
    let app = TestApp::spawn().await;
    let doc = json_of(app.get("/api/v1/openapi.json", None).await, StatusCode::OK).await;
    let mut operation_ids = std::collections::HashSet::new();
    for (path, methods) in [
        ("/api/v1/parking-lots", &["get", "post"][..]),
        ("/api/v1/parking-lots/{id}", &["get", "patch", "delete"][..]),
        ("/api/v1/parking-lots/{id}/spots", &["get", "post"][..]),
        ("/api/v1/parking-lots/{id}/spots/{spot_id}", &["patch"][..]),
        ("/api/v1/parking-lots/{id}/rates", &["get", "put"][..]),
        ("/api/v1/parking-lots/{id}/quote", &["get"][..]),
    ] {
        for method in methods {
            let op = &doc["paths"][path][method];
            assert!(op.is_object(), "{method} {path} is documented");
            assert!(
                op["responses"]
                    .as_object()
                    .is_some_and(|r| r.keys().any(|k| k.starts_with('4'))),
                "{method} {path} documents its errors"
            );
            let public = *method == "get";
            assert_eq!(op["security"].is_array(), !public, "{method} {path}");
            let id = op["operationId"].as_str().expect("operation id").to_owned();
            assert!(
                operation_ids.insert(id.clone()),
                "operation id {id} is unique"
            );
        }
    }
    let search = &doc["paths"]["/api/v1/parking-lots"]["get"]["parameters"];
    let names: Vec<&str> = search
        .as_array()
        .expect("parameters")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for name in [
        "lat",
        "lng",
        "radius",
        "spot_type",
        "start_time",
        "end_time",
        "max_price",
        "page",
        "per_page",
    ] {
        assert!(names.contains(&name), "search documents {name}: {names:?}");
    }
    app.stop().await;
}
