//! `/users*` and `/tenants` over HTTP: who may do what, role changes, tenants,
//! and an operator made by an admin seeing only their tenant's bookings.

use parkd::auth::Role;
use parking_core::model::{BookingRules, SpotKind, TenantId};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{PASSWORD, TestApp, problem, window};

async fn patch(app: &TestApp, path: &str, token: Option<&str>, body: Value) -> reqwest::Response {
    app.call(Method::PATCH, path, token, Some(body)).await
}

fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn create_tenant(app: &TestApp, admin: &str, name: &str) -> Uuid {
    let response = app
        .post("/tenants", Some(admin), json!({"name": name}))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let tenant: Value = response.json().await.expect("tenant");
    assert_eq!(tenant["name"], name);
    tenant["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("a tenant id")
}

#[tokio::test]
async fn the_authorization_matrix_of_users_and_tenants() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Acme").await;
    let driver = app.user("d@example.com", Role::Driver, None).await;
    let operator = app
        .user("o@example.com", Role::Operator, Some(tenant))
        .await;
    let admin = app.user("a@example.com", Role::Admin, None).await;
    let target = format!("/users/{}", driver.user_id);

    // (method, path, body, admin's status)
    let routes: [(Method, &str, Option<Value>, StatusCode); 5] = [
        (Method::GET, "/users", None, StatusCode::OK),
        (Method::GET, "/tenants", None, StatusCode::OK),
        (
            Method::POST,
            "/tenants",
            Some(json!({"name": "Other"})),
            StatusCode::CREATED,
        ),
        (
            Method::PATCH,
            &target,
            Some(json!({"roles": ["driver"]})),
            StatusCode::OK,
        ),
        (Method::GET, "/users/me", None, StatusCode::OK),
    ];
    for (method, path, body, admin_status) in routes {
        let anonymous = app.call(method.clone(), path, None, body.clone()).await;
        problem(anonymous, StatusCode::UNAUTHORIZED).await;
        if path != "/users/me" {
            for (who, session) in [("driver", &driver), ("operator", &operator)] {
                let response = app
                    .call(method.clone(), path, Some(&session.access), body.clone())
                    .await;
                assert_eq!(
                    response.status(),
                    StatusCode::FORBIDDEN,
                    "{who} {method} {path}"
                );
                problem(response, StatusCode::FORBIDDEN).await;
            }
        }
        let response = app
            .call(method.clone(), path, Some(&admin.access), body)
            .await;
        assert_eq!(response.status(), admin_status, "admin {method} {path}");
    }
    // Everyone signed in sees themselves.
    for session in [&driver, &operator] {
        let me = app.get("/users/me", Some(&session.access)).await;
        assert_eq!(me.status(), StatusCode::OK);
        let me: Value = me.json().await.expect("user");
        assert_eq!(me["id"], session.user_id.as_str());
    }
    app.stop().await;
}

#[tokio::test]
async fn admins_list_users_page_by_page() {
    let app = TestApp::spawn().await;
    let admin = app.user("a@example.com", Role::Admin, None).await;
    app.user("b@example.com", Role::Driver, None).await;
    app.user("c@example.com", Role::Driver, None).await;
    let page: Value = app
        .get("/users?page=1&per_page=2", Some(&admin.access))
        .await
        .json()
        .await
        .expect("page");
    assert_eq!(page["total"], 3);
    assert_eq!(page["per_page"], 2);
    assert_eq!(page["has_next"], true);
    assert_eq!(page["has_prev"], false);
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2));
    assert!(page["items"][0].get("password_hash").is_none());
    let last: Value = app
        .get("/users?page=2&per_page=2", Some(&admin.access))
        .await
        .json()
        .await
        .expect("page");
    assert_eq!(last["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(last["has_next"], false);
    let too_big = app.get("/users?per_page=101", Some(&admin.access)).await;
    problem(too_big, StatusCode::UNPROCESSABLE_ENTITY).await;
    app.stop().await;
}

#[tokio::test]
async fn tenants_are_created_once_per_name_and_listed() {
    let app = TestApp::spawn().await;
    let admin = app.user("a@example.com", Role::Admin, None).await;
    let id = create_tenant(&app, &admin.access, "Dresden Parken").await;
    let again = app
        .post(
            "/tenants",
            Some(&admin.access),
            json!({"name": "Dresden Parken"}),
        )
        .await;
    problem(again, StatusCode::CONFLICT).await;
    let empty = app
        .post("/tenants", Some(&admin.access), json!({"name": "  "}))
        .await;
    assert_eq!(
        fields(&problem(empty, StatusCode::UNPROCESSABLE_ENTITY).await),
        ["name"]
    );
    let list: Value = app
        .get("/tenants", Some(&admin.access))
        .await
        .json()
        .await
        .expect("tenants");
    assert_eq!(
        list,
        json!([{"id": id.to_string(), "name": "Dresden Parken"}])
    );
    app.stop().await;
}

#[tokio::test]
async fn a_role_change_takes_effect_at_the_next_login() {
    let app = TestApp::spawn().await;
    let admin = app.user("a@example.com", Role::Admin, None).await;
    let old = app.user("d@example.com", Role::Driver, None).await;
    let response = patch(
        &app,
        &format!("/users/{}", old.user_id),
        Some(&admin.access),
        json!({"roles": ["driver", "admin"]}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let user: Value = response.json().await.expect("user");
    assert_eq!(user["roles"], json!(["driver", "admin"]));

    // The old token carries the old roles until it expires…
    problem(
        app.get("/users", Some(&old.access)).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    // …a new login carries the new ones.
    let fresh = app.login("d@example.com").await;
    assert_eq!(
        app.get("/users", Some(&fresh.access)).await.status(),
        StatusCode::OK
    );
    app.stop().await;
}

#[tokio::test]
async fn role_changes_are_checked() {
    let app = TestApp::spawn().await;
    let admin = app.user("a@example.com", Role::Admin, None).await;
    let driver = app.user("d@example.com", Role::Driver, None).await;
    let target = format!("/users/{}", driver.user_id);

    let no_tenant = patch(
        &app,
        &target,
        Some(&admin.access),
        json!({"roles": ["operator"]}),
    )
    .await;
    assert_eq!(
        fields(&problem(no_tenant, StatusCode::UNPROCESSABLE_ENTITY).await),
        ["tenant_id"],
        "an operator must have a tenant"
    );
    let unknown_tenant = patch(
        &app,
        &target,
        Some(&admin.access),
        json!({"roles": ["operator"], "tenant_id": Uuid::new_v4()}),
    )
    .await;
    assert_eq!(
        fields(&problem(unknown_tenant, StatusCode::UNPROCESSABLE_ENTITY).await),
        ["tenant_id"]
    );
    let no_roles = patch(&app, &target, Some(&admin.access), json!({"roles": []})).await;
    assert_eq!(
        fields(&problem(no_roles, StatusCode::UNPROCESSABLE_ENTITY).await),
        ["roles"]
    );
    let bad_role = patch(
        &app,
        &target,
        Some(&admin.access),
        json!({"roles": ["root"]}),
    )
    .await;
    problem(bad_role, StatusCode::UNPROCESSABLE_ENTITY).await;
    let nobody = patch(
        &app,
        &format!("/users/{}", Uuid::new_v4()),
        Some(&admin.access),
        json!({"roles": ["driver"]}),
    )
    .await;
    problem(nobody, StatusCode::NOT_FOUND).await;

    // An operator keeps their tenant unless it is removed, and cannot lose it
    // while an operator.
    let tenant = create_tenant(&app, &admin.access, "Acme").await;
    let ok = patch(
        &app,
        &target,
        Some(&admin.access),
        json!({"roles": ["operator"], "tenant_id": tenant}),
    )
    .await;
    assert_eq!(ok.status(), StatusCode::OK);
    let drop_tenant = patch(
        &app,
        &target,
        Some(&admin.access),
        json!({"tenant_id": null}),
    )
    .await;
    assert_eq!(
        fields(&problem(drop_tenant, StatusCode::UNPROCESSABLE_ENTITY).await),
        ["tenant_id"]
    );

    // The only admin cannot demote themselves.
    let last = patch(
        &app,
        &format!("/users/{}", admin.user_id),
        Some(&admin.access),
        json!({"roles": ["driver"]}),
    )
    .await;
    problem(last, StatusCode::CONFLICT).await;
    app.stop().await;
}

#[tokio::test]
async fn an_operator_made_by_an_admin_sees_only_their_tenants_reservations() {
    let app = TestApp::spawn().await;
    let admin = app.user("admin@example.com", Role::Admin, None).await;
    let mine = create_tenant(&app, &admin.access, "Mine").await;
    let theirs = create_tenant(&app, &admin.access, "Theirs").await;
    let (my_lot, _) = app
        .lot(
            TenantId::from_uuid(mine),
            &[SpotKind::Regular],
            BookingRules::default(),
        )
        .await;
    let (their_lot, _) = app
        .lot(
            TenantId::from_uuid(theirs),
            &[SpotKind::Regular],
            BookingRules::default(),
        )
        .await;

    // The operator signs up like anyone, and the admin promotes them.
    let response = app
        .post(
            "/auth/register",
            None,
            json!({"email": "op@example.com", "password": PASSWORD, "first_name": "O", "last_name": "P"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let registered: Value = response.json().await.expect("user");
    let response = patch(
        &app,
        &format!("/users/{}", registered["id"].as_str().expect("id")),
        Some(&admin.access),
        json!({"roles": ["operator"], "tenant_id": mine}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);

    let driver = app.user("d@example.com", Role::Driver, None).await;
    let (start, end) = window(2, 2);
    let mut booked = Vec::new();
    for lot in [my_lot, their_lot] {
        let response = app
            .post(
                "/reservations",
                Some(&driver.access),
                json!({"lot_id": lot.to_string(), "start_time": start, "end_time": end}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let r: Value = response.json().await.expect("reservation");
        booked.push(r["id"].as_str().expect("id").to_owned());
    }

    let operator = app.login("op@example.com").await;
    let me: Value = app
        .get("/users/me", Some(&operator.access))
        .await
        .json()
        .await
        .expect("user");
    assert_eq!(me["roles"], json!(["operator"]));
    assert_eq!(me["tenant_id"], mine.to_string());
    let page: Value = app
        .get("/reservations", Some(&operator.access))
        .await
        .json()
        .await
        .expect("page");
    assert_eq!(page["total"], 1);
    assert_eq!(page["items"][0]["id"], booked[0].as_str());
    assert_eq!(page["items"][0]["lot_id"], my_lot.to_string());
    let other = app
        .get(
            &format!("/reservations/{}", booked[1]),
            Some(&operator.access),
        )
        .await;
    problem(other, StatusCode::NOT_FOUND).await;
    app.stop().await;
}

#[tokio::test]
async fn auth_user_and_tenant_routes_are_documented_with_their_security() {
    let app = TestApp::spawn().await;
    let doc: Value = app
        .get("/api/v1/openapi.json", None)
        .await
        .json()
        .await
        .expect("openapi json");
    let bearer = json!([{"bearer": []}]);
    // (method, path, statuses, needs a token)
    let expected: [(&str, &str, &[&str], bool); 9] = [
        (
            "post",
            "/api/v1/auth/register",
            &["201", "409", "422", "429"],
            false,
        ),
        (
            "post",
            "/api/v1/auth/login",
            &["200", "401", "422", "429"],
            false,
        ),
        (
            "post",
            "/api/v1/auth/refresh",
            &["200", "401", "422"],
            false,
        ),
        ("post", "/api/v1/auth/logout", &["204", "401", "422"], false),
        ("get", "/api/v1/users/me", &["200", "401"], true),
        ("get", "/api/v1/users", &["200", "401", "403", "422"], true),
        (
            "patch",
            "/api/v1/users/{id}",
            &["200", "401", "403", "404", "409", "422"],
            true,
        ),
        (
            "post",
            "/api/v1/tenants",
            &["201", "401", "403", "409", "422"],
            true,
        ),
        ("get", "/api/v1/tenants", &["200", "401", "403"], true),
    ];
    for (method, path, statuses, secured) in expected {
        let operation = &doc["paths"][path][method];
        assert!(operation.is_object(), "{method} {path} is documented");
        for status in statuses {
            assert!(
                operation["responses"][status].is_object(),
                "{method} {path} documents {status}"
            );
            if status.starts_with('4') {
                assert_eq!(
                    operation["responses"][status]["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/Problem",
                    "{method} {path} {status} is a Problem"
                );
            }
        }
        if secured {
            assert_eq!(operation["security"], bearer, "{method} {path}");
        }
    }
    // Logout takes a bearer token but does not need one.
    let logout = &doc["paths"]["/api/v1/auth/logout"]["post"]["security"];
    assert_eq!(logout, &json!([{}, {"bearer": []}]));
    app.stop().await;
}
