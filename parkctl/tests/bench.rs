//! End-to-end: `parkctl bench --setup` against a real parkd in-process
//! (rate limits off) on 127.0.0.1:0, logged in as an admin.

mod support;

use serde_json::Value;
use support::{ADMIN, Ctl, PASSWORD, TestApp, add_admin, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_bench_with_setup_reports_ordered_percentiles_and_no_errors() {
    let app = TestApp::spawn().await;
    add_admin(&app).await;
    let ctl = Ctl::new(&app.url);
    let login = ctl
        .run(
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

    let out = ctl
        .run(
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
