//! End-to-end: a real parkd in-process on 127.0.0.1:0 and the built `parkctl`
//! binary, with its config in a temporary directory.

mod support;

use serde_json::Value;
use support::{Ctl, DRIVER, OPERATOR, TestApp, text};

const CARD: &str = r#"
currency = "EUR"
base_hourly = 200
increment_minutes = 15
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_and_driver_workflow() {
    let app = TestApp::spawn().await;
    let ctl = Ctl::new(&app.url);
    ctl.login("op", OPERATOR).await;
    ctl.login("driver", DRIVER).await;
    let lot = app.lot.to_string();

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(ctl.dir.path().join("config.toml")).expect("config written");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }

    let lots = ctl
        .json(&[
            "--profile",
            "op",
            "lots",
            "list",
            "--near",
            "51.05,13.74",
            "-o",
            "json",
        ])
        .await;
    assert_eq!(lots[0]["id"], Value::String(lot.clone()));

    let spots = ctl
        .json(&[
            "--profile",
            "op",
            "spots",
            "add",
            &lot,
            "--count",
            "2",
            "--prefix",
            "E",
            "--kind",
            "ev",
            "-o",
            "json",
        ])
        .await;
    assert_eq!(spots.as_array().map(Vec::len), Some(2));

    let card = ctl.dir.path().join("card.toml");
    std::fs::write(&card, CARD).expect("card");
    let card_path = card.to_str().expect("utf-8 path");
    let set = ctl
        .json(&[
            "--profile",
            "op",
            "rates",
            "set",
            &lot,
            "--file",
            card_path,
            "-o",
            "json",
        ])
        .await;
    assert_eq!(set["base_hourly"], 200);

    let quote = ctl
        .json(&[
            "--profile",
            "driver",
            "quote",
            &lot,
            "--from",
            "tomorrow 10:00",
            "--to",
            "tomorrow 12:00",
            "-o",
            "json",
        ])
        .await;
    assert!(
        quote["total"]["amount"].as_i64().expect("amount") > 0,
        "{quote}"
    );
    // The same quote as a table, pinned; its instants depend on the date and
    // the season's UTC offset, so they are redacted.
    let mut quote_table = ctl
        .ok(&[
            "--profile",
            "driver",
            "quote",
            &lot,
            "--from",
            "tomorrow 10:00",
            "--to",
            "tomorrow 12:00",
        ])
        .await;
    for line in quote["lines"].as_array().expect("lines") {
        for key in ["start", "end"] {
            let instant = line[key].as_str().expect("instant");
            quote_table = quote_table.replace(instant, "<INSTANT>");
        }
        let day = line["local_date"].as_str().expect("local date");
        quote_table = quote_table.replace(day, "<DAY>");
    }
    insta::assert_snapshot!("quote_table", quote_table);

    let spot = app.spots[0].to_string();
    let booking = ctl.book_tomorrow(&lot, &spot).await;
    assert_eq!(booking["total_cost"], quote["total"]);
    let id = booking["id"].as_str().expect("id").to_owned();

    // The same spot at the same time: a conflict, exit 3.
    let out = ctl
        .run(
            &[
                "--profile",
                "driver",
                "bookings",
                "create",
                "--lot",
                &lot,
                "--spot",
                &spot,
                "--from",
                "tomorrow 10:00",
                "--to",
                "tomorrow 12:00",
            ],
            None,
        )
        .await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("parkctl: ") && last.contains(" — "),
        "{stderr}"
    );

    let list = ctl
        .json(&["--profile", "driver", "bookings", "list", "-o", "json"])
        .await;
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert_eq!(list[0]["id"], Value::String(id.clone()));

    let cancelled = ctl
        .json(&[
            "--profile",
            "driver",
            "bookings",
            "cancel",
            &id,
            "-o",
            "json",
        ])
        .await;
    assert_eq!(cancelled["reservation"]["status"], "cancelled");

    let summary = ctl
        .json(&[
            "--profile",
            "op",
            "analytics",
            "summary",
            &lot,
            "-o",
            "json",
        ])
        .await;
    assert_eq!(summary["total_spots"], 4);

    // Table output has the headers and the rows.
    let out = ctl
        .run(&["--profile", "op", "spots", "list", &lot], None)
        .await;
    let table = text(&out.stdout);
    assert!(
        table.contains("LABEL") && table.contains("E001") && table.contains("ev"),
        "{table}"
    );
    let out = ctl
        .run(
            &["--profile", "op", "spots", "list", &lot, "-o", "csv"],
            None,
        )
        .await;
    assert!(text(&out.stdout).starts_with("ID,LABEL,KIND,ZONE,IN SERVICE\n"));

    // Profiles: two, the first one logged in is current.
    let profiles = ctl.json(&["profile", "list", "-o", "json"]).await;
    assert_eq!(profiles.as_array().map(Vec::len), Some(2));
    assert_eq!(profiles[1]["name"], "op");
    assert_eq!(profiles[1]["current"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_has_documented_exit_codes() {
    let app = TestApp::spawn().await;
    let ctl = Ctl::new(&app.url);
    ctl.login("default", OPERATOR).await;
    let lot = app.lot.to_string();

    let unknown = uuid::Uuid::new_v4().to_string();
    let out = ctl.run(&["lots", "show", &unknown], None).await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));

    let out = ctl
        .run(&["quote", &lot, "--from", "soon", "--to", "+2h"], None)
        .await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("bad time 'soon'") && stderr.contains("RFC 3339"),
        "{stderr}"
    );

    // A card the server refuses: exit 2, the field named against the file.
    let card = ctl.dir.path().join("bad.toml");
    std::fs::write(
        &card,
        "currency = \"EUR\"\nbase_hourly = -5\nincrement_minutes = 0\n",
    )
    .expect("card");
    let out = ctl
        .run(
            &[
                "rates",
                "set",
                &lot,
                "--file",
                card.to_str().expect("utf-8 path"),
            ],
            None,
        )
        .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("bad.toml"),
        "{}",
        text(&out.stderr)
    );

    // Logged out: exit 5.
    let out = ctl.run(&["logout"], None).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = ctl.run(&["analytics", "summary", &lot], None).await;
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("parkctl login"));
}

#[tokio::test]
async fn server_down_names_the_server() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    drop(listener);
    let ctl = Ctl::new(&url);
    let out = ctl
        .run(&["lots", "list", "--near", "51.05,13.74"], None)
        .await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&url) && stderr.contains("PARKCTL_SERVER"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
