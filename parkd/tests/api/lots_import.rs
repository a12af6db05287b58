//! External ids over HTTP, what `parkctl lots import` re-runs on: a lot
//! created with `external_id` shows it and is found again with
//! `GET /parking-lots/by-external-id/{external_id}`, scoped to the lots the
//! caller manages; a second lot with the same external id is a 409.

use parkd::auth::Role;
use parking_core::model::TenantId;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, problem, test_config};
use crate::lots::{json_of, lot_body};

fn with_external_id(name: &str, external_id: &str) -> Value {
    let mut body = lot_body(name, 51.05, 13.74);
    body["external_id"] = json!(external_id);
    body
}

fn by_external_id(external_id: &str) -> String {
    // The id is one path segment: encode what would end or split it.
    let encoded: String = external_id
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect();
    format!("/parking-lots/by-external-id/{encoded}")
}

async fn operator(app: &TestApp, email: &str, tenant: TenantId) -> String {
    app.user(email, Role::Operator, Some(tenant)).await.access
}

#[tokio::test]
async fn a_lot_created_with_an_external_id_is_found_by_it() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Acme").await;
    let op = operator(&app, "op@example.com", tenant).await;

    let created = json_of(
        app.post(
            "/parking-lots",
            Some(&op),
            with_external_id("Altmarkt", "dresdenaltmarkt"),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(created["external_id"], "dresdenaltmarkt");
    let id = created["id"].as_str().expect("lot id");

    let shown = json_of(
        app.get(&format!("/parking-lots/{id}"), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(shown["external_id"], "dresdenaltmarkt");

    let found = json_of(
        app.get(&by_external_id("dresdenaltmarkt"), Some(&op)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(found["id"], id);
    assert_eq!(found["name"], "Altmarkt");
    assert_eq!(found["external_id"], "dresdenaltmarkt");

    // A change keeps the external id, and the lookup sees the change.
    let patched = json_of(
        app.call(
            Method::PATCH,
            &format!("/parking-lots/{id}"),
            Some(&op),
            Some(json!({"name": "Altmarkt-Galerie"})),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(patched["external_id"], "dresdenaltmarkt");
    let found = json_of(
        app.get(&by_external_id("dresdenaltmarkt"), Some(&op)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(found["name"], "Altmarkt-Galerie");

    // Ids with separators work once encoded; matching is exact.
    let odd = "de:dresden/P 12";
    let created = json_of(
        app.post("/parking-lots", Some(&op), with_external_id("P12", odd))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let found = json_of(
        app.get(&by_external_id(odd), Some(&op)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(found["id"], created["id"]);
    for near_miss in ["DresdenAltmarkt", "dresdenaltmark", "dresdenaltmarkt "] {
        problem(
            app.get(&by_external_id(near_miss), Some(&op)).await,
            StatusCode::NOT_FOUND,
        )
        .await;
    }

    // Lots without an external id show none.
    let plain = json_of(
        app.post("/parking-lots", Some(&op), lot_body("Plain", 51.05, 13.74))
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert!(plain.get("external_id").is_none(), "{plain}");
    app.stop().await;
}

#[tokio::test]
async fn a_duplicate_external_id_is_a_conflict() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let other = app.tenant("Other").await;
    let op = operator(&app, "op@example.com", acme).await;
    let op_other = operator(&app, "other@example.com", other).await;
    let admin = app
        .user("admin@example.com", Role::Admin, None)
        .await
        .access;

    let first = app
        .post("/parking-lots", Some(&op), with_external_id("A", "p1"))
        .await;
    assert_eq!(first.status(), StatusCode::CREATED);

    let again = problem(
        app.post("/parking-lots", Some(&op), with_external_id("B", "p1"))
            .await,
        StatusCode::CONFLICT,
    )
    .await;
    let detail = again["detail"].as_str().expect("detail");
    assert!(detail.contains("external_id"), "{detail}");
    assert!(!detail.contains("UNIQUE"), "no SQL in answers: {detail}");

    // External ids are unique across tenants: another tenant gets the 409 too,
    // without learning which lot holds the id.
    let across = problem(
        app.post(
            "/parking-lots",
            Some(&op_other),
            with_external_id("C", "p1"),
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(across["detail"], again["detail"]);
    let mut by_admin = with_external_id("D", "p1");
    by_admin["tenant_id"] = json!(other.to_string());
    problem(
        app.post("/parking-lots", Some(&admin), by_admin).await,
        StatusCode::CONFLICT,
    )
    .await;

    // Nothing was created by the refused requests.
    let page = json_of(
        app.get("/parking-lots?lat=51.05&lng=13.74", None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(page["total"], 1);

    // Deleting the lot frees its external id.
    let id = json_of(
        app.get(&by_external_id("p1"), Some(&op)).await,
        StatusCode::OK,
    )
    .await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let deleted = app
        .call(
            Method::DELETE,
            &format!("/parking-lots/{id}"),
            Some(&op),
            None,
        )
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    problem(
        app.get(&by_external_id("p1"), Some(&op)).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let reused = app
        .post(
            "/parking-lots",
            Some(&op_other),
            with_external_id("E", "p1"),
        )
        .await;
    assert_eq!(reused.status(), StatusCode::CREATED);
    app.stop().await;
}

#[tokio::test]
async fn the_lookup_is_scoped_to_the_lots_the_caller_manages() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let other = app.tenant("Other").await;
    let op = operator(&app, "op@example.com", acme).await;
    let op_other = operator(&app, "other@example.com", other).await;
    let admin = app
        .user("admin@example.com", Role::Admin, None)
        .await
        .access;
    let driver = app.user("d@example.com", Role::Driver, None).await.access;

    let created = json_of(
        app.post("/parking-lots", Some(&op), with_external_id("A", "acme-1"))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let path = by_external_id("acme-1");

    // Another tenant's lot is exactly like a lot that does not exist.
    let theirs = problem(app.get(&path, Some(&op_other)).await, StatusCode::NOT_FOUND).await;
    let absent = problem(
        app.get(&by_external_id("nothing"), Some(&op_other)).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(theirs["detail"], absent["detail"]);

    let found = json_of(app.get(&path, Some(&admin)).await, StatusCode::OK).await;
    assert_eq!(found["id"], created["id"]);
    assert_eq!(found["tenant_id"], acme.to_string());

    problem(app.get(&path, Some(&driver)).await, StatusCode::FORBIDDEN).await;
    problem(app.get(&path, None).await, StatusCode::UNAUTHORIZED).await;
    app.stop().await;
}

#[tokio::test]
async fn bad_external_ids_are_field_errors() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Acme").await;
    let op = operator(&app, "op@example.com", tenant).await;
    for bad in ["x".repeat(201), String::new(), " padded".to_owned()] {
        let body = problem(
            app.post("/parking-lots", Some(&op), with_external_id("A", &bad))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert!(body.to_string().contains("external_id"), "{bad:?}: {body}");
    }
    let longest = "x".repeat(200);
    let ok = app
        .post("/parking-lots", Some(&op), with_external_id("A", &longest))
        .await;
    assert_eq!(ok.status(), StatusCode::CREATED);
    app.stop().await;
}

#[tokio::test]
async fn external_ids_survive_a_restart() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Acme").await;
    let op = operator(&app, "op@example.com", tenant).await;
    let created = json_of(
        app.post("/parking-lots", Some(&op), with_external_id("A", "kept"))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let data_dir = app.data_dir.clone();
    let dir = app.stop().await;

    let app = TestApp::start(test_config(data_dir, false)).await;
    let op = operator(&app, "op2@example.com", tenant).await;
    let found = json_of(
        app.get(&by_external_id("kept"), Some(&op)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(found["id"], created["id"]);
    problem(
        app.post("/parking-lots", Some(&op), with_external_id("B", "kept"))
            .await,
        StatusCode::CONFLICT,
    )
    .await;
    app.stop().await;
    drop(dir);
}
