//! Losing the database under load: a `parkd` on PostgreSQL keeps answering —
//! `/health` 200, `/ready` 503, bookings 503 with `Retry-After` — while the
//! server is down, and recovers on its own when it is back: bookings succeed
//! again without restarting parkd, and every booking it acknowledged (before,
//! during or after) is in the database.
//!
//! The test stops and starts PostgreSQL, so it runs its own throwaway cluster
//! (never the shared one): it needs the server binaries (`initdb`, `pg_ctl`;
//! found in `/usr/lib/postgresql/*/bin` or `PARKD_TEST_PG_BIN`) and, when run as
//! root, the `postgres` user. Without them it says it was skipped, unless
//! `PARKING_REQUIRE_POSTGRES=1`.

#![cfg(unix)]

mod cluster;

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cluster::{Instance, seed_city, sql, token, tomorrow};
use parkd::auth::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

/// A PostgreSQL cluster of this test's own.
struct Server {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    as_postgres: bool,
}

fn find_bin() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("PARKD_TEST_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    found.sort();
    found.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl Server {
    fn command(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn start() -> Option<Server> {
        let Some(bin) = find_bin() else {
            assert!(
                std::env::var("PARKING_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "PARKING_REQUIRE_POSTGRES=1 but no PostgreSQL server binaries were found"
            );
            eprintln!("skipped: PostgreSQL server binaries not found (set PARKD_TEST_PG_BIN)");
            return None;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let as_postgres = is_root();
        if as_postgres {
            let status = Command::new("chown")
                .args(["postgres"])
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(status.success(), "chown the cluster directory to postgres");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("a free port")
            .local_addr()
            .expect("address")
            .port();
        let server = Server {
            bin,
            dir,
            port,
            as_postgres,
        };
        let out = server
            .command("initdb")
            .arg("-D")
            .arg(server.data())
            .args(["-U", "postgres", "-A", "trust"])
            .output()
            .expect("initdb runs");
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        server.pg_ctl_start();
        Some(server)
    }

    fn pg_ctl_start(&self) {
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-w", "-l"])
            .arg(self.dir.path().join("log"))
            .arg("-o")
            .arg(format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1",
                self.port,
                self.dir.path().display()
            ))
            .arg("start")
            .output()
            .expect("pg_ctl start runs");
        assert!(
            out.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn pg_ctl_stop(&self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-w", "-m", "fast", "stop"])
            .output();
    }

    fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.pg_ctl_stop();
    }
}

async fn status_of(client: &reqwest::Client, url: String) -> StatusCode {
    match client.get(url).send().await {
        Ok(r) => r.status(),
        Err(_) => StatusCode::BAD_GATEWAY,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parkd_answers_503_while_the_database_is_down_and_recovers_alone() {
    let Some(server) = Server::start() else {
        return;
    };
    let city = seed_city(&server.admin_url(), 16, 4).await;
    let dir = tempfile::tempdir().expect("data dir");
    let parkd = Instance::start(dir.path(), city.db.url(), &[]);
    let tokens: Vec<String> = city
        .drivers
        .iter()
        .map(|d| token(dir.path(), *d, Role::Driver))
        .collect();
    let base = tomorrow();
    let stop = Arc::new(AtomicBool::new(false));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .expect("client");

    // Sixteen clients, each on its own spot, booking one slot after the other:
    // no two requests conflict, so every answer is 201 or 503.
    let mut tasks = Vec::new();
    for (c, spot) in city.spots.iter().copied().enumerate() {
        let stop = Arc::clone(&stop);
        let client = client.clone();
        let url = parkd.api("/reservations");
        let token = tokens[c % tokens.len()].clone();
        let lot = city.lot;
        tasks.push(tokio::spawn(async move {
            let mut acknowledged: Vec<Uuid> = Vec::new();
            let mut unavailable = 0usize;
            let mut n = 0i64;
            while !stop.load(Ordering::Acquire) {
                let start = base + chrono::Duration::hours(n);
                n += 1;
                let response = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!({
                        "lot_id": lot.as_uuid(), "spot_id": spot.as_uuid(),
                        "start_time": start, "end_time": start + chrono::Duration::hours(1),
                    }))
                    .send()
                    .await
                    .expect("parkd answers, database or not");
                match response.status() {
                    StatusCode::CREATED => {
                        let body: Value = response.json().await.expect("json");
                        acknowledged.push(body["id"].as_str().expect("id").parse().expect("uuid"));
                    }
                    StatusCode::SERVICE_UNAVAILABLE => {
                        assert!(
                            response.headers().contains_key("retry-after"),
                            "a 503 says when to retry"
                        );
                        unavailable += 1;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    other => {
                        let body = response.text().await.unwrap_or_default();
                        panic!("unexpected {other}: {body}");
                    }
                }
            }
            (acknowledged, unavailable)
        }));
    }

    let health = format!("{}/health", parkd.url);
    let ready = format!("{}/ready", parkd.url);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(status_of(&client, ready.clone()).await, StatusCode::OK);

    server.pg_ctl_stop();
    let down_at = Instant::now();
    // While it is down: alive, not ready.
    let deadline = Instant::now() + Duration::from_secs(20);
    while status_of(&client, ready.clone()).await != StatusCode::SERVICE_UNAVAILABLE {
        assert!(Instant::now() < deadline, "/ready never went down");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status_of(&client, health.clone()).await, StatusCode::OK);
    tokio::time::sleep(Duration::from_secs(2)).await;

    server.pg_ctl_start();
    let deadline = Instant::now() + Duration::from_secs(30);
    while status_of(&client, ready.clone()).await != StatusCode::OK {
        assert!(
            Instant::now() < deadline,
            "parkd did not recover on its own"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "recovered {:?} after the database went down",
        down_at.elapsed()
    );
    let recovered_at = Instant::now();
    // Let the load run on the recovered database.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Release);

    let mut acknowledged = Vec::new();
    let mut unavailable = 0;
    for t in tasks {
        let (ids, n) = t.await.expect("client task");
        acknowledged.extend(ids);
        unavailable += n;
    }
    eprintln!(
        "{} bookings acknowledged, {unavailable} answered 503",
        acknowledged.len()
    );
    assert!(unavailable > 0, "the outage was seen by clients");

    let db = sql(city.db.url()).await;
    for id in &acknowledged {
        let row = db
            .query_opt(
                "SELECT 1 FROM reservations WHERE id = $1 AND status = 'confirmed'",
                &[id],
            )
            .await
            .expect("lookup");
        assert!(
            row.is_some(),
            "acknowledged booking {id} survived the outage"
        );
    }
    let after: i64 = db
        .query_one(
            "SELECT COUNT(*) FROM reservations WHERE created_at > now() - $1::text::interval",
            &[&format!(
                "{} milliseconds",
                recovered_at.elapsed().as_millis()
            )],
        )
        .await
        .expect("count")
        .get(0);
    assert!(after > 0, "bookings succeed again after the recovery");
    parkd.stop();
    drop(db);
    drop(server);
}
