//! `GET /parking-lots/managed`: the lots the caller manages — scoped per role
//! before paging, ordered by name then id, each with its counts now.

use parkd::auth::Role;
use parking_core::model::{BookingRules, SpotKind, TenantId};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, problem};
use crate::lots::{json_of, lot_body};

const LAT: f64 = 51.05;
const LNG: f64 = 13.74;

fn names(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Creates a lot named `name` over HTTP as `token` (tenant from the token, or
/// `tenant` for an admin); returns its id.
async fn named_lot(app: &TestApp, token: &str, name: &str, tenant: Option<TenantId>) -> String {
    let mut body = lot_body(name, LAT, LNG);
    if let Some(tenant) = tenant {
        body["tenant_id"] = json!(tenant.to_string());
    }
    let lot = json_of(
        app.post("/parking-lots", Some(token), body).await,
        StatusCode::CREATED,
    )
    .await;
    lot["id"].as_str().expect("lot id").to_owned()
}

#[tokio::test]
async fn each_role_sees_exactly_the_lots_it_manages() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let other = app.tenant("Other").await;
    let op = app
        .user("op@acme.example", Role::Operator, Some(acme))
        .await;
    let rival = app
        .user("op@other.example", Role::Operator, Some(other))
        .await;
    let admin = app.user("admin@example.com", Role::Admin, None).await;
    let driver = app.user("d@example.com", Role::Driver, None).await;
    for name in ["Acme B", "Acme A"] {
        named_lot(&app, &op.access, name, None).await;
    }
    named_lot(&app, &rival.access, "Other A", None).await;

    let mine = json_of(
        app.get("/parking-lots/managed", Some(&op.access)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(names(&mine), ["Acme A", "Acme B"]);
    assert_eq!(mine["total"], 2);
    let theirs = json_of(
        app.get("/parking-lots/managed", Some(&rival.access)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(names(&theirs), ["Other A"]);
    // Naming their own tenant changes nothing; another's is refused.
    let named_own = json_of(
        app.get(
            &format!("/parking-lots/managed?tenant_id={acme}"),
            Some(&op.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(names(&named_own), ["Acme A", "Acme B"]);
    problem(
        app.get(
            &format!("/parking-lots/managed?tenant_id={other}"),
            Some(&op.access),
        )
        .await,
        StatusCode::FORBIDDEN,
    )
    .await;

    let all = json_of(
        app.get("/parking-lots/managed", Some(&admin.access)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(names(&all), ["Acme A", "Acme B", "Other A"]);
    let one_tenant = json_of(
        app.get(
            &format!("/parking-lots/managed?tenant_id={other}"),
            Some(&admin.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(names(&one_tenant), ["Other A"]);
    assert_eq!(one_tenant["items"][0]["tenant_id"], other.to_string());
    problem(
        app.get(
            &format!("/parking-lots/managed?tenant_id={}", TenantId::new()),
            Some(&admin.access),
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;

    problem(
        app.get("/parking-lots/managed", Some(&driver.access)).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let stray = app.user("stray@example.com", Role::Operator, None).await;
    problem(
        app.get("/parking-lots/managed", Some(&stray.access)).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    problem(
        app.get("/parking-lots/managed", None).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn pages_are_ordered_by_name_then_id_and_never_short_for_other_tenants() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let other = app.tenant("Other").await;
    let op = app
        .user("op@acme.example", Role::Operator, Some(acme))
        .await;
    let rival = app
        .user("op@other.example", Role::Operator, Some(other))
        .await;
    // The other tenant's lots sort between ours: a filter after paging would
    // leave holes in our pages.
    for name in ["B", "D", "A2"] {
        named_lot(&app, &rival.access, name, None).await;
    }
    let mut twins = Vec::new();
    for name in ["C", "A", "Twin", "Twin", "E"] {
        let id = named_lot(&app, &op.access, name, None).await;
        if name == "Twin" {
            twins.push(id);
        }
    }
    twins.sort();

    let page = |n: u32| {
        let app = &app;
        let token = op.access.clone();
        async move {
            json_of(
                app.get(
                    &format!("/parking-lots/managed?page={n}&per_page=2"),
                    Some(&token),
                )
                .await,
                StatusCode::OK,
            )
            .await
        }
    };
    let first = page(1).await;
    assert_eq!(names(&first), ["A", "C"]);
    assert_eq!(first["total"], 5);
    assert_eq!(first["has_next"], true);
    let second = page(2).await;
    assert_eq!(names(&second), ["E", "Twin"]);
    let third = page(3).await;
    assert_eq!(names(&third), ["Twin"]);
    assert_eq!(third["has_next"], false);
    // Equal names fall back to the id.
    assert_eq!(
        [
            second["items"][1]["id"].as_str().expect("id"),
            third["items"][0]["id"].as_str().expect("id"),
        ],
        [twins[0].as_str(), twins[1].as_str()]
    );
    let past_the_end = page(4).await;
    assert_eq!(past_the_end["items"], json!([]));
    assert_eq!(past_the_end["total"], 5);

    for bad in ["page=0", "per_page=0", "per_page=101"] {
        problem(
            app.get(&format!("/parking-lots/managed?{bad}"), Some(&op.access))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    problem(
        app.get("/parking-lots/managed?lat=1", Some(&op.access))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn each_lot_carries_its_counts_now() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let op = app
        .user("op@acme.example", Role::Operator, Some(acme))
        .await;
    let (lot, spots) = app
        .lot(
            acme,
            &[SpotKind::Regular, SpotKind::Regular, SpotKind::Ev],
            BookingRules::default(),
        )
        .await;
    let out = app
        .call(
            Method::PATCH,
            &format!("/parking-lots/{lot}/spots/{}", spots[0]),
            Some(&op.access),
            Some(json!({"in_service": false})),
        )
        .await;
    assert_eq!(out.status(), StatusCode::OK);

    let listed = json_of(
        app.get("/parking-lots/managed", Some(&op.access)).await,
        StatusCode::OK,
    )
    .await;
    let shown = json_of(
        app.get(&format!("/parking-lots/{lot}"), None).await,
        StatusCode::OK,
    )
    .await;
    let item = &listed["items"][0];
    assert_eq!(item["id"], lot.to_string());
    assert_eq!(item["total_spots"], 2);
    assert_eq!(item["available"]["regular"], 1);
    assert_eq!(item["available"]["ev"], 1);
    // The same lot as its own page shows it.
    assert_eq!(item["available"], shown["available"]);
    assert_eq!(item["total_spots"], shown["total_spots"]);
    assert_eq!(item["name"], shown["name"]);
    app.stop().await;
}

#[tokio::test]
async fn managed_is_not_taken_for_a_lot_id() {
    let app = TestApp::spawn().await;
    // Without a token the listing is a 401; were `managed` read as `{id}`, the
    // public lot page would answer 422 or 404 instead.
    problem(
        app.get("/parking-lots/managed", None).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    app.stop().await;
}
