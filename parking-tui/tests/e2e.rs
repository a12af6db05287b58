//! End to end: a seeded parkd, the real `parking-tui` binary in a tmux
//! pane logged in as an operator through a parkctl profile and started
//! without `--near` (so it watches every lot the operator manages, a far-away
//! one too), a booking made through the API, and the lot's free count on the
//! captured screen going from 2/2 to 1/2. A driver's start without `--near`
//! is refused with a CLI error. The same behind TLS, where the dashboard
//! must stay live over `wss://`.
//!
//! Without tmux the test says it was skipped and why, and fails instead when
//! `PARKING_REQUIRE_TMUX=1` (as `.ci/run` sets).

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use parkd::testing::{DRIVER, OPERATOR, PASSWORD, TestApp};
use parking_client::Client;

#[path = "support/server.rs"]
mod server;
#[path = "support/tls.rs"]
mod tls;
use server::{driver_books_a_regular_spot, lot_request};
use tls::TlsFront;

/// A private tmux server (its own socket), killed when the test ends.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs")
    }

    fn capture(&self) -> String {
        let out = self.run(&["capture-pane", "-p", "-t", "tui"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen shows a line for which `found` holds; the
    /// screen at the end either way.
    async fn wait_for(&self, what: &str, found: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let screen = self.capture();
            if screen.lines().any(&found) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "the screen never showed {what}:\n{screen}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

fn tmux_available() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A parkctl config with one profile logged in as `email`.
fn write_profile(dir: &Path, server: &str, email: &str, access: &str, refresh: &str) {
    let text = format!(
        "current = \"default\"\n\n[profiles.default]\nserver = \"{server}\"\nemail = \"{email}\"\naccess_token = \"{access}\"\nrefresh_token = \"{refresh}\"\n"
    );
    std::fs::write(dir.join("config.toml"), text).expect("config written");
}

/// False, after saying why, when tmux is missing and CI does not require it.
fn tmux_or_skip(test: &str) -> bool {
    if tmux_available() {
        return true;
    }
    let why = "tmux is not installed (apt-get install -y tmux)";
    assert!(
        std::env::var("PARKING_REQUIRE_TMUX").as_deref() != Ok("1"),
        "PARKING_REQUIRE_TMUX=1 but {why}"
    );
    // Straight to stderr, past the test harness's capture, so the skip is
    // seen in a passing run.
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
    false
}

/// The operator's dashboard on `server` (parkd itself, or a front for it),
/// started in tmux with `env` (`NAME='value' …`): it shows the seeded lot and
/// a far-away one, then a booking made through the API takes a spot on
/// screen. Returns the status line at that point, after `q` quit.
async fn follow_a_booking(app: &TestApp, server: &str, env: &str, socket: &str) -> String {
    let operator = Client::new(app.url.clone());
    let pair = operator
        .login(OPERATOR, PASSWORD)
        .await
        .expect("operator logs in");
    // A second lot of the operator's, 400 km away: no area search around
    // the first would find it.
    operator
        .create_lot(&lot_request("Annex München", 48.137, 11.575))
        .await
        .expect("annex created");
    let config = tempfile::tempdir().expect("config dir");
    write_profile(
        config.path(),
        server,
        OPERATOR,
        &pair.access_token,
        &pair.refresh_token,
    );

    let tmux = Tmux {
        socket: format!("{socket}-{}", std::process::id()),
    };
    let command = format!(
        "env PARKCTL_CONFIG_DIR='{}' NO_COLOR=1 {env} '{}'",
        config.path().display(),
        env!("CARGO_BIN_EXE_parking-tui"),
    );
    let started = tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "tui",
        "-x",
        "100",
        "-y",
        "30",
        &command,
    ]);
    assert!(
        started.status.success(),
        "tmux: {}",
        String::from_utf8_lossy(&started.stderr)
    );

    let before = tmux
        .wait_for("the seeded lot with both spots free", |line| {
            line.contains("Test lot") && line.contains("2/2")
        })
        .await;
    assert!(
        before.contains("op@example.com"),
        "the profile's user is shown:\n{before}"
    );
    tmux.wait_for("the operator's far-away lot", |line| {
        line.contains("Annex München")
    })
    .await;

    driver_books_a_regular_spot(&app.url, app.lot.as_uuid()).await;

    let after = tmux
        .wait_for("one spot taken", |line| {
            line.contains("Test lot") && line.contains("1/2")
        })
        .await;
    let status = after.lines().last().unwrap_or_default().to_owned();
    assert!(!status.contains("stale"), "fresh data: {status}");

    // `q` quits and the terminal comes back (the pane's program ends).
    tmux.run(&["send-keys", "-t", "tui", "q"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while tmux.run(&["has-session", "-t", "tui"]).status.success() {
        assert!(Instant::now() < deadline, "q did not quit");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_through_the_api_changes_the_lots_count_on_screen() {
    if !tmux_or_skip("a_booking_through_the_api_changes_the_lots_count_on_screen") {
        return;
    }
    let app = TestApp::spawn().await;
    let status = follow_a_booking(&app, &app.url, "", "parking-tui-e2e").await;
    assert!(
        status.contains("polling every") || status.contains("live"),
        "the status line names the feed: {status}"
    );
}

/// Behind TLS (a private CA named by `SSL_CERT_FILE`, as for a self-hosted
/// parkd behind a proxy), the HTTP calls and the live feed both work: the
/// dashboard is live over `wss://`, never downgraded to polling.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_server_is_followed_live_over_wss() {
    if !tmux_or_skip("an_https_server_is_followed_live_over_wss") {
        return;
    }
    let app = TestApp::spawn().await;
    let front = TlsFront::start(&app.url).await;
    let trust = tempfile::tempdir().expect("trust dir");
    let certificate = trust.path().join("front.pem");
    std::fs::write(&certificate, &front.certificate_pem).expect("certificate written");
    let env = format!("SSL_CERT_FILE='{}'", certificate.display());
    let status = follow_a_booking(&app, &front.url, &env, "parking-tui-e2e-tls").await;
    assert!(
        status.contains("live") && !status.contains("polling"),
        "live over wss://: {status}"
    );
    assert!(
        status.contains(&front.url),
        "the https server is shown: {status}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_driver_without_near_is_told_to_name_an_area() {
    let app = TestApp::spawn().await;
    let pair = Client::new(app.url.clone())
        .login(DRIVER, PASSWORD)
        .await
        .expect("driver logs in");
    let config = tempfile::tempdir().expect("config dir");
    write_profile(
        config.path(),
        &app.url,
        DRIVER,
        &pair.access_token,
        &pair.refresh_token,
    );
    // Refused before the terminal is taken over: no tmux needed.
    let out = tokio::task::spawn_blocking({
        let dir = config.path().to_owned();
        move || {
            Command::new(env!("CARGO_BIN_EXE_parking-tui"))
                .env("PARKCTL_CONFIG_DIR", dir)
                .env_remove("PARKING_TUI_NEAR")
                .env_remove("PARKCTL_PROFILE")
                .env_remove("PARKCTL_SERVER")
                .output()
                .expect("parking-tui runs")
        }
    })
    .await
    .expect("join");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--near LAT,LNG is required for drivers"),
        "{stderr}"
    );
}
