//! End-to-end tests of the analytics charts and the admin commands
//! (`users`, `tenants`), of `completions` and `man`, and of an expired
//! login: a real parkd in-process on 127.0.0.1:0 (see `support`) and the
//! built `parkctl` binary with its config in a temporary directory.

mod support;

use chrono::{Duration, Utc};
use parking_client::{Client, MemoryTokens};
use serde_json::Value;
use support::{ADMIN, Ctl, DRIVER, OPERATOR, TestApp, add_admin, text};

/// The lot's date tomorrow (the lot is in Berlin).
fn tomorrow() -> String {
    (Utc::now().with_timezone(&chrono_tz::Europe::Berlin) + Duration::days(1))
        .date_naive()
        .to_string()
}

/// A driver books spot 1 tomorrow 10:00–12:00 (Berlin); returns its cost.
async fn book(app: &TestApp, ctl: &Ctl) -> Value {
    let lot = app.lot.to_string();
    let spot = app.spots[0].to_string();
    let booking = ctl.book_tomorrow(&lot, &spot).await;
    booking["total_cost"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn occupancy_and_revenue_after_a_booking() {
    let app = TestApp::spawn().await;
    let ctl = Ctl::new(&app.url);
    ctl.login("op", OPERATOR).await;
    ctl.login("driver", DRIVER).await;
    let cost = book(&app, &ctl).await;
    let lot = app.lot.to_string();

    let range = [
        "--from",
        "tomorrow 00:00",
        "--to",
        "tomorrow 23:00",
        "--bucket",
        "1h",
    ];
    let mut args = vec!["--profile", "op", "analytics", "occupancy", &lot];
    args.extend(range);
    let mut json_args = args.clone();
    json_args.extend(["-o", "json"]);
    let report = ctl.json(&json_args).await;
    assert_eq!(report["bucket_minutes"], 60);
    let points = report["points"].as_array().expect("points");
    assert_eq!(points.len(), 23, "{report}");
    let ratio = |n: usize| points[n]["ratio"].as_f64().expect("ratio");
    assert_eq!(ratio(0), 0.0, "nobody parks at midnight");
    assert_eq!(ratio(10), 0.5, "one of two spots from 10:00");
    assert_eq!(ratio(11), 0.5, "…until 12:00");
    assert_eq!(points[10]["peak"], 1);

    // The table has the rows and, under it, the sparkline.
    let table = ctl.ok(&args).await;
    assert!(
        table.contains("OCCUPIED") && table.contains("50%"),
        "{table}"
    );
    let spark = table
        .lines()
        .find(|l| l.starts_with('▁'))
        .unwrap_or_else(|| panic!("no sparkline: {table}"));
    let cells: String = spark.chars().take(23).collect();
    assert_eq!(cells, format!("{}▅▅{}", "▁".repeat(10), "▁".repeat(11)));

    // CSV is the data only.
    let mut csv_args = args.clone();
    csv_args.extend(["-o", "csv"]);
    let csv = ctl.ok(&csv_args).await;
    assert!(csv.starts_with("START,END,OCCUPIED,PEAK\n"), "{csv}");
    assert_eq!(csv.lines().count(), 24, "{csv}");
    assert!(!csv.contains('▁'), "{csv}");

    let revenue_args = [
        "--profile",
        "op",
        "analytics",
        "revenue",
        &lot,
        "--from",
        "today 00:00",
        "--to",
        "+3d",
    ];
    let mut json_args = revenue_args.to_vec();
    json_args.extend(["-o", "json"]);
    let revenue = ctl.json(&json_args).await;
    assert_eq!(revenue["total"], cost, "{revenue}");
    assert_eq!(revenue["days"][0]["date"], tomorrow().as_str());
    assert_eq!(revenue["days"][0]["amount"], cost);

    // The table, pinned with tomorrow's date redacted.
    let table = ctl.ok(&revenue_args).await;
    assert!(table.contains('█'), "{table}");
    insta::assert_snapshot!("revenue_table", table.replace(&tomorrow(), "<TOMORROW>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_manages_users_and_tenants_and_a_driver_may_not() {
    let app = TestApp::spawn().await;
    add_admin(&app).await;
    let ctl = Ctl::new(&app.url);
    ctl.login("admin", ADMIN).await;
    ctl.login("driver", DRIVER).await;

    let tenant = ctl
        .json(&[
            "--profile",
            "admin",
            "tenants",
            "create",
            "Acme Parking",
            "-o",
            "json",
        ])
        .await;
    assert_eq!(tenant["name"], "Acme Parking");
    let tenant_id = tenant["id"].as_str().expect("tenant id").to_owned();

    let tenants = ctl
        .json(&["--profile", "admin", "tenants", "list", "-o", "json"])
        .await;
    let names: Vec<&str> = tenants
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(names.contains(&"Acme Parking"), "{tenants}");
    let table = ctl.ok(&["--profile", "admin", "tenants", "list"]).await;
    assert!(
        table.contains("NAME") && table.contains("Acme Parking"),
        "{table}"
    );

    let users = ctl
        .json(&[
            "--profile",
            "admin",
            "users",
            "list",
            "--per-page",
            "2",
            "-o",
            "json",
        ])
        .await;
    assert_eq!(users["total"], 3, "{users}");
    assert_eq!(users["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(users["has_next"], true);
    let page2 = ctl
        .json(&[
            "--profile",
            "admin",
            "users",
            "list",
            "--per-page",
            "2",
            "--page",
            "2",
            "-o",
            "json",
        ])
        .await;
    assert_eq!(page2["items"].as_array().map(Vec::len), Some(1));

    // The driver becomes an operator of the new tenant, named by email.
    let updated = ctl
        .json(&[
            "--profile",
            "admin",
            "users",
            "set-role",
            DRIVER,
            "--role",
            "operator",
            "--tenant",
            &tenant_id,
            "-o",
            "json",
        ])
        .await;
    assert_eq!(updated["email"], DRIVER);
    assert_eq!(updated["roles"], serde_json::json!(["operator"]));
    assert_eq!(updated["tenant_id"], tenant_id.as_str());

    // …and back, by id, without the tenant.
    let id = updated["id"].as_str().expect("id").to_owned();
    let back = ctl
        .json(&[
            "--profile",
            "admin",
            "users",
            "set-role",
            &id,
            "--role",
            "driver",
            "--no-tenant",
            "-o",
            "json",
        ])
        .await;
    assert_eq!(back["roles"], serde_json::json!(["driver"]));
    assert_eq!(back["tenant_id"], Value::Null);

    // A bad role is a usage error before any request.
    let out = ctl
        .run(
            &[
                "--profile",
                "admin",
                "users",
                "set-role",
                &id,
                "--role",
                "boss",
            ],
            None,
        )
        .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));

    // A driver is refused: 403, exit 5, one line with a hint.
    for args in [
        &["--profile", "driver", "users", "list"][..],
        &["--profile", "driver", "tenants", "list"][..],
        &["--profile", "driver", "tenants", "create", "Nope"][..],
        &[
            "--profile",
            "driver",
            "users",
            "set-role",
            &id,
            "--role",
            "admin",
        ][..],
    ] {
        let out = ctl.run(args, None).await;
        assert_eq!(
            out.status.code(),
            Some(5),
            "{args:?}: {}",
            text(&out.stderr)
        );
        let stderr = text(&out.stderr);
        assert!(
            stderr.starts_with("parkctl: ") && stderr.contains(" — "),
            "{stderr}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_login_says_to_log_in_again() {
    let app = TestApp::spawn().await;
    let ctl = Ctl::new(&app.url);
    ctl.login("default", OPERATOR).await;
    let lot = app.lot.to_string();
    ctl.ok(&["analytics", "summary", &lot]).await;

    // The session ends elsewhere: log out through the API with the stored
    // tokens, so both the access and the refresh token are revoked.
    let config = ctl.config();
    let profile = &config["profiles"]["default"];
    let token = |name: &str| profile[name].as_str().expect("a stored token").to_owned();
    let pair =
        parking_client::api::TokenPair::bearer(token("access_token"), token("refresh_token"), 0);
    Client::new(app.url.clone())
        .with_tokens(MemoryTokens::new(Some(pair)))
        .logout()
        .await
        .expect("logout through the API");

    let out = ctl.run(&["analytics", "summary", &lot], None).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(
        stderr.contains("log in again with parkctl login"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[tokio::test]
async fn completions_and_man_pages() {
    let ctl = Ctl::new("http://127.0.0.1:9");
    for shell in ["bash", "zsh", "fish"] {
        let script = ctl.ok(&["completions", shell]).await;
        assert!(script.contains("parkctl"), "{shell}: {script}");
        assert!(script.contains("set-role"), "{shell}: the admin commands");
    }
    let out = ctl.run(&["completions", "tcsh"], None).await;
    assert_eq!(out.status.code(), Some(2));

    // clap_mangen starts with roff's two-line apostrophe preamble, then .TH.
    let page = ctl.ok(&["man"]).await;
    let first = page
        .lines()
        .find(|l| !l.starts_with(".ie ") && !l.starts_with(".el "))
        .expect("a page");
    assert!(first.starts_with(".TH parkctl 1"), "{page}");
    assert!(page.contains("analytics"), "{page}");

    let dir = tempfile::tempdir().expect("man dir");
    let out_dir = dir.path().join("man1");
    ctl.ok(&["man", "--out-dir", out_dir.to_str().expect("utf-8 path")])
        .await;
    for name in [
        "parkctl.1",
        "parkctl-users-set-role.1",
        "parkctl-analytics-occupancy.1",
    ] {
        let page = std::fs::read_to_string(out_dir.join(name)).expect(name);
        assert!(page.contains(".TH"), "{name}: {page}");
    }
}
