//! End-to-end: `parkctl bench --setup` against a real parkd in-process
//! (rate limits off) on 127.0.0.1:0, logged in as an admin.

mod support;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use parkd::auth::{Password, Role};
use parkd::service::accounts::{self, NewUser};
use serde_json::Value;
use support::{PASSWORD, TestApp};

const ADMIN: &str = "admin@example.com";

/// Runs parkctl with its config in `dir` (off the runtime's thread, so parkd
/// keeps serving).
async fn parkctl(
    dir: &std::path::Path,
    server: &str,
    args: &[&str],
    stdin: Option<&str>,
) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_parkctl"));
    command
        .args(args)
        .env("PARKCTL_CONFIG_DIR", dir)
        .env("PARKCTL_SERVER", server)
        .env_remove("PARKCTL_PROFILE")
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let stdin = stdin.map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        let mut child = command.spawn().expect("parkctl starts");
        if let (Some(mut pipe), Some(text)) = (child.stdin.take(), stdin) {
            pipe.write_all(text.as_bytes()).expect("stdin");
        }
        child.wait_with_output().expect("parkctl runs")
    })
    .await
    .expect("join")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_bench_with_setup_reports_ordered_percentiles_and_no_errors() {
    let app = TestApp::spawn().await;
    accounts::create_user(
        &app.state,
        NewUser {
            email: ADMIN.into(),
            password: Password::new(PASSWORD.into()).expect("valid password"),
            first_name: "Test".into(),
            last_name: "Admin".into(),
            phone: None,
            roles: vec![Role::Admin],
            tenant_id: None,
        },
    )
    .await
    .expect("admin created");
    let dir = tempfile::tempdir().expect("config dir");
    let login = parkctl(
        dir.path(),
        &app.url,
        &["login", "--email", ADMIN, "--password-stdin"],
        Some(&format!("{PASSWORD}\n")),
    )
    .await;
    assert_eq!(
        login.status.code(),
        Some(0),
        "login: {}",
        text(&login.stderr)
    );

    let out = parkctl(
        dir.path(),
        &app.url,
        &[
            "bench",
            "--scenario",
            "mixed",
            "--setup",
            "--duration",
            "2s",
            "--connections",
            "4",
            "--json",
        ],
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "bench: {}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bench printed no JSON ({e}): {}", text(&out.stdout)));

    let requests = report["requests"].as_u64().expect("requests");
    assert!(requests > 0, "{report}");
    assert_eq!(report["errors"], 0, "{report}");
    assert_eq!(report["scenario"], "mixed");
    assert_eq!(report["connections"], 4);
    let elapsed = report["elapsed_s"].as_f64().expect("elapsed");
    assert!((2.0..7.0).contains(&elapsed), "stops by itself: {elapsed}");
    let latency = &report["latency_ms"];
    let ms = |name: &str| latency[name].as_f64().expect(name);
    assert!(ms("min") <= ms("p50"), "{latency}");
    assert!(ms("p50") <= ms("p90"), "{latency}");
    assert!(ms("p90") <= ms("p99"), "{latency}");
    assert!(ms("p99") <= ms("max"), "{latency}");
    assert!(ms("max") > 0.0, "{latency}");
    // Both kinds of request ran, and bookings went through.
    let search = report["operations"]["search"]["requests"]
        .as_u64()
        .expect("searches");
    let book = &report["operations"]["book"];
    assert!(search > 0, "{report}");
    assert!(book["ok"].as_u64().expect("bookings") > 0, "{report}");
    assert_eq!(
        search + book["requests"].as_u64().expect("book requests"),
        requests
    );
}
