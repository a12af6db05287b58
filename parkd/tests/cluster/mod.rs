//! What the PostgreSQL process tests share (`multi_instance`, `outage`,
//! `migrate_data`): a scratch database when `PARKD_TEST_POSTGRES_URL` names a
//! server, a seeded small lot, real `parkd serve --database` processes on
//! `127.0.0.1:0` over one data directory (so they share the signing key), and
//! tokens minted with that key.

#![allow(dead_code)] // each test binary uses some of it

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Duration as ChronoDuration, DurationRound, Utc};
use parkd::auth::{Role, Secrets, TokenIssuer};
use parkd::store::interface::{LotRecord, Store, TenantRecord, UserRecord};
use parkd::store::postgres::scratch::ScratchDatabase;
use parkd::store::postgres::{PgOptions, PgStore};
use parking_core::events::DomainEvent;
use parking_core::model::{
    BookingRules, GeoPoint, Lot, LotId, OperatingHours, Spot, SpotId, SpotKind, TenantId, UserId,
};
use parking_core::pricing::RateCard;

pub const PARKD: &str = env!("CARGO_BIN_EXE_parkd");
pub const LAT: f64 = 51.05;
pub const LNG: f64 = 13.74;

/// A seeded city database: one tenant, one small always-open lot with a rate
/// card, and some drivers.
pub struct City {
    pub db: ScratchDatabase,
    pub lot: LotId,
    pub spots: Vec<SpotId>,
    pub drivers: Vec<UserId>,
}

pub async fn seed_city(admin: &str, spots: usize, drivers: usize) -> City {
    let db = ScratchDatabase::create(admin)
        .await
        .expect("scratch database");
    let store = PgStore::connect(db.url(), None, PgOptions::default())
        .await
        .expect("connect and migrate");
    let tenant = TenantRecord {
        id: TenantId::new(),
        name: "City".into(),
        created_at: Utc::now(),
    };
    store.create_tenant(tenant.clone()).await.expect("tenant");
    let lot = Lot {
        id: LotId::new(),
        tenant_id: tenant.id,
        name: "Small lot".into(),
        address: "Teststraße 1, Dresden".into(),
        location: GeoPoint::new(LAT, LNG).expect("valid"),
        time_zone: chrono_tz::Europe::Berlin,
        hours: OperatingHours::always_open(),
        amenities: Default::default(),
        rules: BookingRules::default(),
    };
    store
        .insert_lot(LotRecord {
            lot: lot.clone(),
            external_id: None,
            payment_mode: parkd::store::payments::PaymentMode::OnSite,
        })
        .await
        .expect("lot");
    let spots: Vec<Spot> = (0..spots)
        .map(|n| Spot {
            id: SpotId::new(),
            lot_id: lot.id,
            label: format!("S{}", n + 1),
            kind: SpotKind::Regular,
            zone: None,
            in_service: true,
        })
        .collect();
    store.insert_spots(spots.clone()).await.expect("spots");
    store
        .put_rate_card(lot.id, RateCard::example_eur())
        .await
        .expect("rates");
    let mut ids = Vec::new();
    for n in 0..drivers {
        let user = UserRecord {
            id: UserId::new(),
            email: format!("driver{n}@example.com"),
            password_hash: "$argon2id$not-used".into(),
            first_name: "Driver".into(),
            last_name: format!("{n}"),
            phone_enc: None,
            roles: vec![Role::Driver],
            tenant_id: None,
            created_at: Utc::now(),
        };
        let event = DomainEvent::UserRegistered {
            user_id: user.id,
            tenant_id: None,
        };
        ids.push(user.id);
        store.create_user(user, event).await.expect("driver");
    }
    store.close().await.expect("close");
    City {
        db,
        lot: lot.id,
        spots: spots.iter().map(|s| s.id).collect(),
        drivers: ids,
    }
}

/// An access token for `user`, signed with the data directory's key.
pub fn token(dir: &Path, user: UserId, role: Role) -> String {
    let secrets = Secrets::load_or_create(dir).expect("keys in the data dir");
    let issuer =
        TokenIssuer::new(secrets.jwt_signing_key(), Duration::from_secs(3600)).expect("issuer");
    issuer
        .issue(user.as_uuid(), &[role], None, Utc::now())
        .expect("token")
        .0
}

/// A whole hour at least a day ahead.
pub fn tomorrow() -> DateTime<Utc> {
    (Utc::now() + ChronoDuration::hours(26))
        .duration_trunc(ChronoDuration::hours(1))
        .expect("whole hour")
}

/// A running `parkd serve --database URL`; killed on drop.
pub struct Instance {
    pub child: Child,
    pub url: String,
    stderr: Arc<Mutex<String>>,
    _stdout: Receiver<String>,
}

impl Drop for Instance {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Instance {
    pub fn start(dir: &Path, database_url: &str, env: &[(&str, &str)]) -> Instance {
        let mut command = Command::new(PARKD);
        command.args([
            "serve",
            "--data-dir",
            dir.to_str().expect("UTF-8 path"),
            "--listen",
            "127.0.0.1:0",
            "--database",
            database_url,
        ]);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("PARKD_") {
                command.env_remove(key);
            }
        }
        command
            .env("PARKD_RATE_LIMITS", "off")
            .env("PARKD_LOG", "info")
            .envs(env.iter().copied());
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("parkd spawns");
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        let err = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if let Ok(mut s) = sink.lock() {
                    s.push_str(&line);
                    s.push('\n');
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let url = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line.contains("listening on http://") => {
                    break line
                        .split_whitespace()
                        .find(|w| w.starts_with("http://"))
                        .expect("a URL")
                        .to_owned();
                }
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                    let text = stderr.lock().map(|s| s.clone()).unwrap_or_default();
                    panic!("parkd did not start: {text}");
                }
            }
        };
        Instance {
            child,
            url,
            stderr,
            _stdout: rx,
        }
    }

    pub fn api(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.url)
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// SIGTERM and a bounded wait for exit 0.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                assert!(status.success(), "exit 0 on SIGTERM: {}", self.stderr());
                return;
            }
            assert!(Instant::now() < deadline, "parkd did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A plain connection to the test database, for checks in SQL.
pub async fn sql(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client
}
