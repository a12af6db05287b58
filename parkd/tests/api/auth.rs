//! `/auth/*` over HTTP: registration, login, refresh-token rotation and its
//! reuse rule, logout, the login rate limit, and the phone number at rest.

use parkd::auth::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, problem};

fn registration(email: &str) -> Value {
    json!({
        "email": email,
        "password": PASSWORD,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "phone": "+49 30 1234567"
    })
}

/// The `field` names of a validation problem, in order.
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

async fn login_pair(app: &TestApp, email: &str) -> Value {
    let response = app
        .post(
            "/auth/login",
            None,
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK, "login {email}");
    response.json().await.expect("token pair")
}

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.post("/auth/refresh", None, json!({"refresh_token": token}))
        .await
}

fn str_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key].as_str().expect("a string member")
}

#[tokio::test]
async fn register_creates_a_driver_and_refuses_a_taken_email() {
    let app = TestApp::spawn().await;
    let response = app
        .post("/auth/register", None, registration("ada@example.com"))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let user: Value = response.json().await.expect("user");
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["roles"], json!(["driver"]));
    assert_eq!(user["first_name"], "Ada");
    assert!(user["id"].is_string() && user["created_at"].is_string());
    assert!(
        user.get("password").is_none() && user.get("password_hash").is_none(),
        "never the password or its hash"
    );

    // Email uniqueness ignores case.
    let again = app
        .post("/auth/register", None, registration("ADA@example.com"))
        .await;
    let body = problem(again, StatusCode::CONFLICT).await;
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("already registered")),
        "{body}"
    );
    app.stop().await;
}

#[tokio::test]
async fn register_names_each_invalid_field() {
    let app = TestApp::spawn().await;
    let bad_email = app
        .post(
            "/auth/register",
            None,
            json!({"email": "not-an-email", "password": PASSWORD, "first_name": "A", "last_name": "B"}),
        )
        .await;
    assert_eq!(
        fields(&problem(bad_email, StatusCode::UNPROCESSABLE_ENTITY).await),
        ["email"]
    );
    let short_password = app
        .post(
            "/auth/register",
            None,
            json!({"email": "a@example.com", "password": "123456789", "first_name": "A", "last_name": "B"}),
        )
        .await;
    assert_eq!(
        fields(&problem(short_password, StatusCode::UNPROCESSABLE_ENTITY).await),
        ["password"]
    );
    let everything = app
        .post(
            "/auth/register",
            None,
            json!({"email": "a@", "password": "short", "first_name": "", "last_name": "B", "phone": "call me"}),
        )
        .await;
    assert_eq!(
        fields(&problem(everything, StatusCode::UNPROCESSABLE_ENTITY).await),
        ["email", "password", "first_name", "phone"]
    );
    // A driver cannot pick their role.
    let mut with_role = registration("r@example.com");
    with_role["roles"] = json!(["admin"]);
    problem(
        app.post("/auth/register", None, with_role).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    // Nothing invalid was stored.
    let nobody = app
        .post(
            "/auth/login",
            None,
            json!({"email": "a@example.com", "password": "123456789"}),
        )
        .await;
    problem(nobody, StatusCode::UNAUTHORIZED).await;
    app.stop().await;
}

#[tokio::test]
async fn login_gives_a_bearer_pair_whose_token_works_on_users_me() {
    let app = TestApp::spawn().await;
    let response = app
        .post("/auth/register", None, registration("ada@example.com"))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let pair = login_pair(&app, "Ada@Example.com").await;
    assert_eq!(pair["token_type"], "Bearer");
    assert_eq!(pair["expires_in"], 900);
    assert!(!str_of(&pair, "access_token").is_empty());
    assert!(!str_of(&pair, "refresh_token").is_empty());
    let me = app
        .get("/users/me", Some(str_of(&pair, "access_token")))
        .await;
    assert_eq!(me.status(), StatusCode::OK);
    let me: Value = me.json().await.expect("user");
    assert_eq!(me["email"], "ada@example.com");
    assert_eq!(me["phone"], "+49 30 1234567", "decrypted for display");
    assert_eq!(me["roles"], json!(["driver"]));

    problem(app.get("/users/me", None).await, StatusCode::UNAUTHORIZED).await;
    problem(
        app.get("/users/me", Some("not.a.jwt")).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn unknown_email_and_wrong_password_get_the_same_401() {
    let app = TestApp::spawn().await;
    app.user("ada@example.com", Role::Driver, None).await;
    let unknown = app
        .post(
            "/auth/login",
            None,
            json!({"email": "nobody@example.com", "password": PASSWORD}),
        )
        .await;
    let unknown = problem(unknown, StatusCode::UNAUTHORIZED).await;
    let wrong = app
        .post(
            "/auth/login",
            None,
            json!({"email": "ada@example.com", "password": "wrong password"}),
        )
        .await;
    let wrong = problem(wrong, StatusCode::UNAUTHORIZED).await;
    assert_eq!(
        unknown, wrong,
        "the answer must not tell which part was wrong"
    );
    app.stop().await;
}

#[tokio::test]
async fn refresh_spends_the_token_and_reuse_revokes_the_family() {
    let app = TestApp::spawn().await;
    app.user("ada@example.com", Role::Driver, None).await;
    let first = login_pair(&app, "ada@example.com").await;
    let other_session = login_pair(&app, "ada@example.com").await;

    // A legitimate rotation.
    let response = refresh(&app, str_of(&first, "refresh_token")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let second: Value = response.json().await.expect("pair");
    assert_eq!(second["token_type"], "Bearer");
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_ne!(second["access_token"], first["access_token"]);
    let me = app
        .get("/users/me", Some(str_of(&second, "access_token")))
        .await;
    assert_eq!(me.status(), StatusCode::OK, "the new access token works");

    // The spent token presented again: a replay.
    let replay = refresh(&app, str_of(&first, "refresh_token")).await;
    problem(replay, StatusCode::UNAUTHORIZED).await;
    // …which revoked the whole family: the newest token is refused too.
    let newest = refresh(&app, str_of(&second, "refresh_token")).await;
    problem(newest, StatusCode::UNAUTHORIZED).await;

    // Another login's family is untouched.
    let response = refresh(&app, str_of(&other_session, "refresh_token")).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "other families still work"
    );

    // Made-up and malformed tokens.
    problem(
        refresh(&app, "no-such-token").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    problem(refresh(&app, "").await, StatusCode::UNPROCESSABLE_ENTITY).await;
    app.stop().await;
}

#[tokio::test]
async fn logout_revokes_the_refresh_token_and_the_access_token() {
    let app = TestApp::spawn().await;
    app.user("ada@example.com", Role::Driver, None).await;
    let pair = login_pair(&app, "ada@example.com").await;
    let access = str_of(&pair, "access_token");
    let response = app
        .post(
            "/auth/logout",
            Some(access),
            json!({"refresh_token": pair["refresh_token"]}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    problem(
        refresh(&app, str_of(&pair, "refresh_token")).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let me = problem(
        app.get("/users/me", Some(access)).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert!(
        me["detail"].as_str().is_some_and(|d| d.contains("revoked")),
        "{me}"
    );

    // Without a bearer token only the refresh token goes; the access token lives on.
    let pair = login_pair(&app, "ada@example.com").await;
    let response = app
        .post(
            "/auth/logout",
            None,
            json!({"refresh_token": pair["refresh_token"]}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    problem(
        refresh(&app, str_of(&pair, "refresh_token")).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let me = app
        .get("/users/me", Some(str_of(&pair, "access_token")))
        .await;
    assert_eq!(me.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn login_is_rate_limited_per_email_with_retry_after() {
    let app = TestApp::spawn_with(|c| {
        c.rate_limits.enabled = true;
        c.rate_limits.login_per_minute_per_email = 2;
    })
    .await;
    app.user("ada@example.com", Role::Driver, None).await;
    login_pair(&app, "ada@example.com").await;
    let wrong = app
        .post(
            "/auth/login",
            None,
            json!({"email": "ada@example.com", "password": "wrong password"}),
        )
        .await;
    problem(wrong, StatusCode::UNAUTHORIZED).await;
    // The third attempt in the minute is refused, even with the right password,
    // and neither case nor surrounding spaces make it another email.
    let limited = app
        .post(
            "/auth/login",
            None,
            json!({"email": " ADA@example.com ", "password": PASSWORD}),
        )
        .await;
    let retry_after: u64 = limited
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After header in seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    problem(limited, StatusCode::TOO_MANY_REQUESTS).await;

    // Other emails are limited separately.
    app.user("bob@example.com", Role::Driver, None).await;
    login_pair(&app, "bob@example.com").await;
    app.stop().await;
}

#[tokio::test]
async fn the_phone_number_is_stored_encrypted() {
    let app = TestApp::spawn().await;
    let response = app
        .post("/auth/register", None, registration("ada@example.com"))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let pair = login_pair(&app, "ada@example.com").await;
    let me: Value = app
        .get("/users/me", Some(str_of(&pair, "access_token")))
        .await
        .json()
        .await
        .expect("user");
    assert_eq!(me["phone"], "+49 30 1234567");

    let db = rusqlite::Connection::open_with_flags(
        app.data_dir.join("parkd.sqlite3"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open the database read-only");
    let phone_enc: Option<String> = db
        .query_row(
            "SELECT phone_enc FROM users WHERE email = 'ada@example.com'",
            [],
            |row| row.get(0),
        )
        .expect("the user's row");
    let phone_enc = phone_enc.expect("a stored phone");
    for plain in ["+49 30 1234567", "1234567", "49301234567"] {
        assert!(!phone_enc.contains(plain), "{plain} in {phone_enc}");
    }
    let hash: String = db
        .query_row(
            "SELECT password_hash FROM users WHERE email = 'ada@example.com'",
            [],
            |row| row.get(0),
        )
        .expect("the user's row");
    assert!(hash.starts_with("$argon2id$") && !hash.contains(PASSWORD));
    drop(db);
    app.stop().await;
}

#[tokio::test]
async fn logging_out_with_someone_elses_refresh_token_revokes_nothing() {
    let app = TestApp::spawn().await;
    app.user("victim@example.com", Role::Driver, None).await;
    app.user("mallory@example.com", Role::Driver, None).await;
    let victim = login_pair(&app, "victim@example.com").await;
    let mallory = login_pair(&app, "mallory@example.com").await;
    let response = app
        .post(
            "/auth/logout",
            Some(str_of(&mallory, "access_token")),
            json!({"refresh_token": str_of(&victim, "refresh_token")}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let still = refresh(&app, str_of(&victim, "refresh_token")).await;
    assert_eq!(
        still.status(),
        StatusCode::OK,
        "the victim's token still works"
    );
    app.stop().await;
}
