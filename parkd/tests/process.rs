//! Process-level tests: the real `parkd` binary over a temporary data directory,
//! on `127.0.0.1:0`. parkd prints `listening on http://ADDR` on standard output;
//! the tests read that line to learn the address (never a fixed port), then poll
//! `/health` a bounded number of times. Every wait has a deadline, and
//! [`Parkd`]'s `Drop` kills a child a failing test leaves behind.

#![cfg(unix)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveTime, Utc, Weekday};
use chrono_tz::Europe::Berlin;
use parkd::auth::{Role, Secrets, TokenIssuer};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

const PARKD: &str = env!("CARGO_BIN_EXE_parkd");
/// How long parkd may take to print its address (debug build, demo seeding,
/// a busy machine running other tests).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a stopping parkd may take to exit.
const EXIT_TIMEOUT: Duration = Duration::from_secs(15);
const PASSWORD: &str = "correct horse battery";

/// A `parkd` command with a clean environment: no `PARKD_*` variable of the
/// machine running the tests leaks in; rate limits off (tests poll `/health`).
fn parkd(args: &[&str]) -> Command {
    let mut command = Command::new(PARKD);
    command.args(args);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PARKD_") {
            command.env_remove(key);
        }
    }
    command
        .env("PARKD_RATE_LIMITS", "off")
        .env("PARKD_LOG", "info");
    command
}

fn dir_arg(dir: &Path) -> &str {
    dir.to_str().expect("temp dir paths are UTF-8")
}

/// A running `parkd serve`; killed (SIGKILL) and reaped on drop if still running.
struct Parkd {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    url: String,
    /// Standard output, line by line, read on a thread so a full pipe never
    /// blocks parkd.
    stdout: Receiver<String>,
    /// Standard error so far.
    stderr: Arc<Mutex<String>>,
    /// The lines printed up to and including the address line.
    banner: Vec<String>,
}

impl Drop for Parkd {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Starts reading a child's stdout (into a channel) and stderr (into a string).
fn drain(child: &mut Child) -> (Receiver<String>, Arc<Mutex<String>>) {
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().expect("stdout is piped");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let stderr_text = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&stderr_text);
    let mut stderr = child.stderr.take().expect("stderr is piped");
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            if let Ok(mut text) = sink.lock() {
                text.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        }
    });
    (rx, stderr_text)
}

impl Parkd {
    /// `parkd serve --data-dir DIR --listen 127.0.0.1:0 [extra…]`, up to the
    /// address line, then `/health` answering.
    async fn start(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Parkd {
        let mut command = parkd(&[
            "serve",
            "--data-dir",
            dir_arg(dir),
            "--listen",
            "127.0.0.1:0",
        ]);
        command.args(extra).envs(env.iter().copied());
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("parkd spawns");
        let (stdout, stderr) = drain(&mut child);
        let mut parkd = Parkd {
            child,
            url: String::new(),
            stdout,
            stderr,
            banner: Vec::new(),
        };
        let line = parkd.read_until(START_TIMEOUT, |l| l.contains("listening on http://"));
        parkd.url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .expect("the address line has a URL")
            .to_owned();
        parkd.wait_healthy().await;
        parkd
    }

    /// Reads stdout lines (keeping them in `banner`) until one matches; panics
    /// with what was seen if parkd exits or the deadline passes first.
    fn read_until(&mut self, timeout: Duration, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) => {
                    self.banner.push(line.clone());
                    if done(&line) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "no expected line within {timeout:?}; stdout: {:#?}; stderr: {}",
                        self.banner,
                        self.stderr_text()
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.wait_exit(EXIT_TIMEOUT);
                    panic!(
                        "parkd exited ({status}) before the expected line; stdout: {:#?}; stderr: {}",
                        self.banner,
                        self.stderr_text()
                    )
                }
            }
        }
    }

    fn stderr_text(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Polls `/health` (bounded: 100 tries, 50 ms apart) until it answers 200.
    async fn wait_healthy(&mut self) {
        let client = reqwest::Client::new();
        for _ in 0..100 {
            if let Ok(response) = client.get(format!("{}/health", self.url)).send().await
                && response.status() == StatusCode::OK
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("/health never answered 200; stderr: {}", self.stderr_text());
    }

    fn api(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.url)
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name}");
    }

    /// Waits (bounded) for parkd to exit.
    fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "parkd did not exit within {timeout:?}; stderr: {}",
                self.stderr_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then a bounded wait for a clean exit.
    fn stop(mut self) {
        self.signal("TERM");
        let status = self.wait_exit(EXIT_TIMEOUT);
        assert!(
            status.success(),
            "parkd exits 0 on SIGTERM, got {status}; stderr: {}",
            self.stderr_text()
        );
    }

    /// `(role, email, password)` of each demo login printed in the banner.
    fn demo_logins(&mut self) -> Vec<(String, String, String)> {
        // The help ends with an example request.
        self.read_until(START_TIMEOUT, |l| l.contains("e.g. curl"));
        self.banner
            .iter()
            .filter_map(|line| {
                let (left, password) = line.split_once("password:")?;
                let mut words = left.split_whitespace();
                let role = words.next()?.to_owned();
                let email = words.next()?.to_owned();
                Some((role, email, password.trim().to_owned()))
            })
            .collect()
    }
}

/// Runs a one-shot parkd command with `stdin`; its output, within a deadline.
fn run(command: &mut Command, stdin: &str) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("parkd spawns");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let (tx, rx) = mpsc::channel();
    let pid = child.id();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(START_TIMEOUT) {
        Ok(output) => output.expect("parkd output"),
        Err(_) => {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .status();
            panic!("parkd {command:?} did not finish within {START_TIMEOUT:?}");
        }
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `parkd admin create-user`; the new user's id.
fn create_user(dir: &Path, email: &str, role: &str, password: &str) -> Result<Uuid, String> {
    let output = run(
        &mut parkd(&[
            "admin",
            "create-user",
            "--data-dir",
            dir_arg(dir),
            "--email",
            email,
            "--role",
            role,
            "--password-stdin",
        ]),
        &format!("{password}\n"),
    );
    if !output.status.success() {
        return Err(text(&output.stderr));
    }
    // "created driver EMAIL (ID)"
    let stdout = text(&output.stdout);
    let id = stdout
        .rsplit_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(id, _)| id)
        .expect("create-user prints the id");
    Ok(id.parse().expect("a UUID"))
}

/// An access token for `user` signed with the data directory's key, as parkd
/// would issue at login (the auth routes are a separate branch).
fn token(dir: &Path, user: Uuid, role: Role) -> String {
    let secrets = Secrets::load_or_create(dir).expect("keys in the data dir");
    let issuer =
        TokenIssuer::new(secrets.jwt_signing_key(), Duration::from_secs(900)).expect("issuer");
    issuer
        .issue(user, &[role], None, Utc::now())
        .expect("token")
        .0
}

/// A scalar from the data directory's database (read-only, parkd stopped or not:
/// WAL lets a reader in beside parkd).
fn query_i64(dir: &Path, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open_with_flags(
        dir.join("parkd.sqlite3"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open the database");
    conn.query_row(sql, [], |row| row.get(0))
        .expect("query the database")
}

fn lot_ids(dir: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open_with_flags(
        dir.join("parkd.sqlite3"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open the database");
    let mut stmt = conn
        .prepare("SELECT id FROM lots ORDER BY name")
        .expect("prepare");
    stmt.query_map([], |row| row.get::<_, String>(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

#[tokio::test]
async fn demo_starts_prints_logins_and_a_restart_does_not_reseed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut first = Parkd::start(dir.path(), &["--demo"], &[]).await;
    let logins = first.demo_logins();
    let roles: Vec<&str> = logins.iter().map(|(role, _, _)| role.as_str()).collect();
    assert_eq!(
        roles,
        ["admin", "operator", "driver"],
        "{:#?}",
        first.banner
    );
    assert!(
        logins
            .iter()
            .all(|(_, email, pw)| email.contains('@') && pw.len() >= 10)
    );
    assert!(
        first
            .banner
            .iter()
            .any(|l| l.contains(&format!("{}/api/v1/auth/login", first.url))),
        "says how to log in: {:#?}",
        first.banner
    );
    first.stop();
    let lots = query_i64(dir.path(), "SELECT count(*) FROM lots");
    let users = query_i64(dir.path(), "SELECT count(*) FROM users");
    let reservations = query_i64(dir.path(), "SELECT count(*) FROM reservations");
    assert!(lots > 10, "the Dresden car parks: {lots}");
    assert!(reservations > 0, "some bookings");

    let mut second = Parkd::start(dir.path(), &["--demo"], &[]).await;
    assert_eq!(second.demo_logins(), logins, "the same logins again");
    second.stop();
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM lots"), lots);
    assert_eq!(query_i64(dir.path(), "SELECT count(*) FROM users"), users);
    assert_eq!(
        query_i64(dir.path(), "SELECT count(*) FROM reservations"),
        reservations
    );
}

#[tokio::test]
async fn the_demo_driver_can_log_in() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut parkd = Parkd::start(dir.path(), &["--demo"], &[]).await;
    let logins = parkd.demo_logins();
    let (_, email, password) = logins
        .iter()
        .find(|(role, _, _)| role == "driver")
        .expect("a demo driver");
    let response = reqwest::Client::new()
        .post(parkd.api("/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("login request");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["token_type"], "Bearer");
    let me = reqwest::Client::new()
        .get(parkd.api("/users/me"))
        .bearer_auth(body["access_token"].as_str().expect("access token"))
        .send()
        .await
        .expect("me");
    assert_eq!(me.status(), StatusCode::OK);
    parkd.stop();
}

/// Reads one HTTP/1.1 response head from `stream` (up to the blank line).
fn read_head(reader: &mut BufReader<TcpStream>) -> String {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).expect("read response head");
        assert!(n > 0, "connection closed mid-head: {head:?}");
        head.push_str(&line);
        if line == "\r\n" {
            return head;
        }
    }
}

#[tokio::test]
async fn sigterm_finishes_in_flight_requests_then_exits_0() {
    let dir = tempfile::tempdir().expect("temp dir");
    let parkd = Parkd::start(dir.path(), &[], &[]).await;
    let addr = parkd.url.trim_start_matches("http://").to_owned();
    let access = token(dir.path(), Uuid::new_v4(), Role::Driver);
    let body = json!({
        "lot_id": Uuid::new_v4(),
        "start_time": Utc::now() + chrono::Duration::hours(2),
        "end_time": Utc::now() + chrono::Duration::hours(3),
    })
    .to_string();

    // A request whose handler is reading its body when SIGTERM arrives: with
    // `Expect: 100-continue`, hyper answers `100 Continue` only once the handler
    // asks for the body, so reading it proves the request is in flight.
    let stream = TcpStream::connect(&addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    write!(
        writer,
        "POST /api/v1/reservations HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {access}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        body.len()
    )
    .expect("send head");
    let head = read_head(&mut reader);
    assert!(head.starts_with("HTTP/1.1 100"), "{head}");

    parkd.signal("TERM");
    // Shutting down: no new connections (bounded wait for the listener to close)…
    let deadline = Instant::now() + EXIT_TIMEOUT;
    while TcpStream::connect(&addr).is_ok() {
        assert!(
            Instant::now() < deadline,
            "parkd kept accepting after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // …but the request in flight still gets its whole answer (the lot does not
    // exist: a 404 problem).
    writer.write_all(body.as_bytes()).expect("send body");
    let head = read_head(&mut reader);
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    assert!(head.contains("application/problem+json"), "{head}");

    let mut parkd = parkd;
    let status = parkd.wait_exit(EXIT_TIMEOUT);
    assert!(status.success(), "exit 0 after SIGTERM, got {status}");
}

/// The next day (Berlin) that is not a Sunday, 10:00–11:00 local, in UTC: every
/// demo lot is open then.
fn tomorrow_morning() -> (chrono::DateTime<Utc>, chrono::DateTime<Utc>) {
    let mut day = Utc::now().with_timezone(&Berlin).date_naive() + chrono::Duration::days(1);
    if day.weekday() == Weekday::Sun {
        day += chrono::Duration::days(1);
    }
    let ten = NaiveTime::from_hms_opt(10, 0, 0).expect("10:00");
    let start = day
        .and_time(ten)
        .and_local_timezone(Berlin)
        .single()
        .expect("10:00 exists")
        .with_timezone(&Utc);
    (start, start + chrono::Duration::hours(1))
}

#[tokio::test]
async fn a_booking_acknowledged_before_kill_9_survives_the_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let user = create_user(dir.path(), "kill9@example.com", "driver", PASSWORD)
        .expect("create-user succeeds");
    let mut parkd = Parkd::start(dir.path(), &["--demo"], &[]).await;
    let access = token(dir.path(), user, Role::Driver);
    let (start, end) = tomorrow_morning();
    let client = reqwest::Client::new();
    let mut booked = None;
    for lot in lot_ids(dir.path()) {
        let response = client
            .post(parkd.api("/reservations"))
            .bearer_auth(&access)
            .json(&json!({"lot_id": lot, "start_time": start, "end_time": end}))
            .send()
            .await
            .expect("booking request");
        if response.status() == StatusCode::CREATED {
            booked = Some(response.json::<Value>().await.expect("json"));
            break;
        }
    }
    let booked = booked.expect("some demo lot takes the booking");
    // SIGKILL the moment the 201 is in: no graceful anything.
    parkd.child.kill().expect("kill -9");
    let status = parkd.wait_exit(EXIT_TIMEOUT);
    assert!(!status.success());
    drop(parkd);

    let id = booked["id"].as_str().expect("id");
    let parkd = Parkd::start(dir.path(), &["--demo"], &[]).await;
    let shown = client
        .get(parkd.api(&format!("/reservations/{id}")))
        .bearer_auth(&access)
        .send()
        .await
        .expect("show");
    assert_eq!(shown.status(), StatusCode::OK);
    let shown: Value = shown.json().await.expect("json");
    assert_eq!(shown["status"], "confirmed");
    assert_eq!(shown["spot_id"], booked["spot_id"]);
    assert_eq!(shown["total_cost"], booked["total_cost"]);
    parkd.stop();
}

#[test]
fn create_user_refuses_a_short_password_clearly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let err = create_user(dir.path(), "short@example.com", "driver", "short")
        .expect_err("a 5-character password is refused");
    assert!(err.contains("at least 10 characters"), "{err}");
    assert!(err.starts_with("parkd: "), "{err}");

    let output = run(
        &mut parkd(&[
            "admin",
            "create-user",
            "--data-dir",
            dir_arg(dir.path()),
            "--email",
            "op@example.com",
            "--role",
            "operator",
            "--password-stdin",
        ]),
        PASSWORD,
    );
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("--tenant"), "{output:?}");

    let err = create_user(dir.path(), "not-an-email", "driver", PASSWORD)
        .expect_err("a malformed email is refused");
    assert!(err.contains("email"), "names the field: {err}");
}

#[tokio::test]
async fn default_config_prints_toml_parkd_accepts() {
    let output = run(&mut parkd(&["default-config"]), "");
    assert!(output.status.success());
    let toml_text = text(&output.stdout);
    let config: parkd::config::Config = toml::from_str(&toml_text).expect("valid TOML");
    assert_eq!(config, parkd::config::Config::default(), "the defaults");

    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("parkd.toml");
    std::fs::write(&file, &toml_text).expect("write config");
    let data = dir.path().join("data");
    let parkd = Parkd::start(&data, &["--config", dir_arg(&file)], &[]).await;
    parkd.stop();
}

#[tokio::test]
async fn an_older_parkd_refuses_a_newer_schema() {
    let dir = tempfile::tempdir().expect("temp dir");
    Parkd::start(dir.path(), &[], &[]).await.stop();
    let conn = rusqlite::Connection::open(dir.path().join("parkd.sqlite3")).expect("open");
    conn.pragma_update(None, "user_version", 999)
        .expect("set user_version");
    drop(conn);

    let mut child = parkd(&[
        "serve",
        "--data-dir",
        dir_arg(dir.path()),
        "--listen",
        "127.0.0.1:0",
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("parkd spawns");
    let (stdout, stderr) = drain(&mut child);
    let mut parkd = Parkd {
        child,
        url: String::new(),
        stdout,
        stderr,
        banner: Vec::new(),
    };
    let status = parkd.wait_exit(START_TIMEOUT);
    assert!(!status.success(), "refuses to start");
    // The reader thread has the rest of stderr once the pipe closes.
    let deadline = Instant::now() + EXIT_TIMEOUT;
    while !parkd
        .stderr_text()
        .contains("newer than this parkd supports")
    {
        assert!(Instant::now() < deadline, "stderr: {}", parkd.stderr_text());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(parkd.stderr_text().contains("999"));
    // Untouched: still 999.
    assert_eq!(query_i64(dir.path(), "PRAGMA user_version"), 999);
}

#[tokio::test]
async fn the_bootstrap_admin_comes_from_the_environment() {
    let dir = tempfile::tempdir().expect("temp dir");
    let env = [
        ("PARKD_BOOTSTRAP_ADMIN_EMAIL", "root@example.com"),
        ("PARKD_BOOTSTRAP_ADMIN_PASSWORD", PASSWORD),
    ];
    Parkd::start(dir.path(), &[], &env).await.stop();
    assert_eq!(
        query_i64(
            dir.path(),
            "SELECT count(*) FROM users WHERE email = 'root@example.com' AND roles LIKE '%admin%'"
        ),
        1
    );
    // Starting again with the same variables is fine: an admin exists.
    Parkd::start(dir.path(), &[], &env).await.stop();
    let err = create_user(dir.path(), "root@example.com", "driver", PASSWORD)
        .expect_err("the email is taken");
    assert!(err.contains("already registered"), "{err}");

    // A bootstrap password under the policy stops start-up with a clear reason.
    let fresh = tempfile::tempdir().expect("temp dir");
    let mut child = parkd(&[
        "serve",
        "--data-dir",
        dir_arg(fresh.path()),
        "--listen",
        "127.0.0.1:0",
    ])
    .env("PARKD_BOOTSTRAP_ADMIN_EMAIL", "root@example.com")
    .env("PARKD_BOOTSTRAP_ADMIN_PASSWORD", "short")
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("parkd spawns");
    let (stdout, stderr) = drain(&mut child);
    let mut parkd = Parkd {
        child,
        url: String::new(),
        stdout,
        stderr,
        banner: Vec::new(),
    };
    assert!(!parkd.wait_exit(START_TIMEOUT).success());
    let deadline = Instant::now() + EXIT_TIMEOUT;
    while !parkd.stderr_text().contains("at least 10 characters") {
        assert!(Instant::now() < deadline, "stderr: {}", parkd.stderr_text());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        parkd
            .stderr_text()
            .contains("PARKD_BOOTSTRAP_ADMIN_PASSWORD"),
        "{}",
        parkd.stderr_text()
    );
}

#[tokio::test]
async fn the_key_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let data: PathBuf = dir.path().join("fresh");
    Parkd::start(&data, &[], &[]).await.stop();
    for name in ["jwt.key", "pii.key"] {
        let meta = std::fs::metadata(data.join(name)).expect("key file exists");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{name}");
        assert!(meta.len() > 0, "{name} holds a key");
    }
}
