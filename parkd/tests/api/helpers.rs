//! `TestApp`: a parkd on a random port over a temporary data directory, with a
//! reqwest client and typed helpers for the common steps.

#![allow(dead_code)] // each test module uses some of the helpers

use std::path::PathBuf;

use chrono::{DateTime, Duration, DurationRound, Utc};
use parkd::auth::Role;
use parkd::config::{Config, RateLimits};
use parkd::state::AppState;
use parkd::{app, testing};
use parking_core::model::{BookingRules, LotId, SpotId, SpotKind, TenantId};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use parkd::testing::PASSWORD;

/// A running parkd.
pub struct TestApp {
    pub url: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub data_dir: PathBuf,
    _dir: Option<DataDir>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

/// A test's temporary data directory. Dropping it removes the directory and,
/// when the suite runs on PostgreSQL, the database that goes with it: nothing
/// can start over that data again.
pub struct DataDir(tempfile::TempDir);

impl Drop for DataDir {
    fn drop(&mut self) {
        release_database(self.0.path());
    }
}

/// The scratch PostgreSQL databases of the data directories in use, when the
/// suite runs on PostgreSQL. A database lives as long as its data directory
/// may still be started over (a restart test stops and starts parkd over the
/// same data); [`DataDir`]'s drop releases it with the directory.
static DATABASES: std::sync::Mutex<
    Vec<(PathBuf, parkd::store::postgres::scratch::ScratchDatabase)>,
> = std::sync::Mutex::new(Vec::new());

/// The scratch PostgreSQL database of a data directory, created on first use,
/// when `PARKD_TEST_POSTGRES_URL` names a (throwaway) server.
pub async fn postgres_for(data_dir: &std::path::Path) -> Option<parkd::config::DatabaseUrl> {
    use parkd::store::postgres::scratch::ScratchDatabase;
    let admin = std::env::var("PARKD_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())?;
    let known = DATABASES
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .find(|(dir, _)| dir == data_dir)
        .map(|(_, db)| db.url().to_owned());
    let url = match known {
        Some(url) => url,
        None => {
            let db = ScratchDatabase::create(&admin)
                .await
                .expect("create a scratch database");
            let url = db.url().to_owned();
            DATABASES
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((data_dir.to_owned(), db));
            url
        }
    };
    Some(url.parse().expect("a URL"))
}

/// Drops the scratch database of a data directory, if it has one: a suite of
/// a hundred tests on PostgreSQL then holds a few databases at a time, not a
/// hundred (each is a copy of the template, several MB of disk and WAL).
fn release_database(data_dir: &std::path::Path) {
    let released = {
        let mut databases = DATABASES.lock().unwrap_or_else(|p| p.into_inner());
        databases
            .iter()
            .position(|(dir, _)| dir == data_dir)
            .map(|i| databases.swap_remove(i))
    };
    // Dropping the ScratchDatabase drops the database (outside the lock).
    drop(released);
}

/// `config` on the suite's database: with `PARKD_TEST_POSTGRES_URL` set, the
/// PostgreSQL database of its data directory (what [`TestApp::start`] uses),
/// so a test that builds parkd itself over the same data meets the same data.
pub async fn on_test_database(mut config: Config) -> Config {
    if config.database_url.is_none() {
        config.database_url = postgres_for(&config.data_dir).await;
    }
    config
}

/// A logged-in user.
#[derive(Clone, Debug)]
pub struct Session {
    pub user_id: String,
    pub email: String,
    pub access: String,
    pub refresh: String,
}

pub fn test_config(data_dir: PathBuf, rate_limits: bool) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().expect("valid address"),
        data_dir,
        sync_full: false,
        rate_limits: RateLimits {
            enabled: rate_limits,
            ..RateLimits::default()
        },
        ..Config::default()
    }
}

impl TestApp {
    /// parkd with rate limits off.
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(|_| {}).await
    }

    /// parkd with a tweaked configuration.
    pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = test_config(dir.path().to_owned(), false);
        tweak(&mut config);
        let mut app = TestApp::start(config).await;
        app._dir = Some(DataDir(dir));
        app
    }

    /// parkd over an existing data directory (for restart tests). With
    /// `PARKD_TEST_POSTGRES_URL` set, on a PostgreSQL database of its own
    /// (the same one again when restarted over the same data directory).
    pub async fn start(config: Config) -> TestApp {
        let config = on_test_database(config).await;
        let data_dir = config.data_dir.clone();
        let state = app::build(config).await.expect("parkd starts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(app::serve(listener, state.clone(), async {
            let _ = rx.await;
        }));
        TestApp {
            url,
            client: reqwest::Client::new(),
            state,
            data_dir,
            _dir: None,
            shutdown: Some(tx),
            server: Some(server),
        }
    }

    /// Graceful shutdown; returns the data directory's owner so it survives.
    pub async fn stop(mut self) -> Option<DataDir> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("serve");
        }
        self._dir.take()
    }

    pub fn api(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.url)
    }

    /// A request with an optional bearer token and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let url = if path.starts_with('/')
            && !path.starts_with("/api/")
            && !path.starts_with("/health")
            && !path.starts_with("/ready")
            && !path.starts_with("/metrics")
        {
            self.api(path)
        } else {
            format!("{}{path}", self.url)
        };
        let mut request = self.client.request(method, url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("request sent")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.call(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Response {
        self.call(Method::POST, path, token, Some(body)).await
    }

    /// Creates a user directly (any role) with an access token issued directly
    /// (no HTTP round trip, no refresh token).
    pub async fn user(&self, email: &str, role: Role, tenant: Option<TenantId>) -> Session {
        let user = testing::create_user(&self.state, email, role, tenant).await;
        let (access, _) = self
            .state
            .tokens
            .issue(
                user.id.as_uuid(),
                &user.roles,
                user.tenant_id.map(|t| t.as_uuid()),
                Utc::now(),
            )
            .expect("token");
        Session {
            user_id: user.id.to_string(),
            email: email.to_owned(),
            access,
            refresh: String::new(),
        }
    }

    pub async fn login(&self, email: &str) -> Session {
        let response = self
            .post(
                "/auth/login",
                None,
                json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK, "login {email}");
        let body: Value = response.json().await.expect("json");
        let me: Value = self
            .get("/users/me", body["access_token"].as_str())
            .await
            .json()
            .await
            .unwrap_or(Value::Null);
        Session {
            user_id: me["id"].as_str().unwrap_or_default().to_owned(),
            email: email.to_owned(),
            access: body["access_token"]
                .as_str()
                .expect("access token")
                .to_owned(),
            refresh: body["refresh_token"]
                .as_str()
                .expect("refresh token")
                .to_owned(),
        }
    }

    pub async fn tenant(&self, name: &str) -> TenantId {
        testing::create_tenant(&self.state, name).await
    }

    /// A lot of `tenant` with `kinds` spots (labels S1, S2, …) and the example
    /// rate card, put in the store and the engine directly.
    pub async fn lot(
        &self,
        tenant: TenantId,
        kinds: &[SpotKind],
        rules: BookingRules,
    ) -> (LotId, Vec<SpotId>) {
        testing::create_lot(&self.state, tenant, kinds, rules).await
    }
}

/// A booking window starting `hours` from now (on a quarter hour), `len` hours long.
pub fn window(hours: i64, len: i64) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = (Utc::now() + Duration::hours(hours))
        .duration_trunc(Duration::minutes(15))
        .expect("truncate");
    (start, start + Duration::hours(len))
}

/// The JSON of a problem answer, after checking its status and content type.
pub async fn problem(response: Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.expect("problem json");
    assert_eq!(body["status"], status.as_u16());
    assert!(body["title"].is_string() && body["type"].is_string() && body["detail"].is_string());
    body
}
