//! `parkctl lots create|update|delete|import` end to end: a real parkd
//! in-process on 127.0.0.1:0 and the built binary, importing the real Dresden
//! ParkAPI file and the CSV fixture.

mod support;

use std::path::{Path, PathBuf};

use chrono::Utc;
use parkctl::import::{DEFAULT_TIMEZONE, parse_geojson};
use parkd::store::interface::TenantRecord;
use parking_core::model::{BookingRules, GeoPoint, Lot, LotId, OperatingHours, TenantId};
use serde_json::Value;
use support::{Ctl, DRIVER, OPERATOR, TestApp, text};

fn data(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data")
        .join(path)
}

fn count(summary: &Value, key: &str) -> u64 {
    summary[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} in {summary}"))
}

/// The first lot named `name` within 500 m of the point.
async fn find(ctl: &Ctl, near: &str, name: &str) -> Value {
    let lots = ctl
        .json(&[
            "--profile",
            "op",
            "lots",
            "list",
            "--near",
            near,
            "--radius",
            "500",
            "-o",
            "json",
        ])
        .await;
    lots.as_array()
        .expect("a list")
        .iter()
        .find(|l| l["name"] == name)
        .unwrap_or_else(|| panic!("{name} near {near} in {lots}"))
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dresden_imports_once_and_reruns_unchanged() {
    let app = TestApp::spawn().await;
    let ctl = Ctl::new(&app.url);
    ctl.login("op", OPERATOR).await;
    let path = data("parkapi-lots/original/dresden.geojson");
    let file = path.to_str().expect("UTF-8 path");
    let parsed = parse_geojson(
        &std::fs::read_to_string(&path).expect("dresden.geojson"),
        DEFAULT_TIMEZONE,
    )
    .expect("parses");
    assert!(parsed.rows.len() > 20, "enough rows for a progress bar");

    let args = ["--profile", "op", "lots", "import", file, "-o", "json"];
    let first = ctl.json(&args).await;
    assert_eq!(
        count(&first, "created"),
        parsed.rows.len() as u64,
        "{first}"
    );
    assert_eq!(count(&first, "updated"), 0);
    assert_eq!(count(&first, "unchanged"), 0);
    assert_eq!(count(&first, "rejected"), 2, "{first}");
    let positions: Vec<&str> = first["rejected_rows"]
        .as_array()
        .expect("rejected rows")
        .iter()
        .map(|r| r["position"].as_str().expect("position"))
        .collect();
    assert_eq!(positions, ["feature 3", "feature 33"]);
    for row in first["rejected_rows"].as_array().expect("rejected rows") {
        assert_eq!(row["source"], "file");
        assert!(
            row["reason"].as_str().expect("reason").contains("geometry"),
            "{row}"
        );
    }

    // Searchable, with all its spots.
    let altmarkt = find(&ctl, "51.0507,13.7418", "Altmarkt").await;
    assert_eq!(altmarkt["total_spots"], 400, "{altmarkt}");
    let id = altmarkt["id"].as_str().expect("id").to_owned();

    // A second run changes nothing and adds no spots.
    let second = ctl.json(&args).await;
    assert_eq!(count(&second, "created"), 0, "{second}");
    assert_eq!(count(&second, "updated"), 0, "{second}");
    assert_eq!(count(&second, "unchanged"), parsed.rows.len() as u64);
    assert_eq!(count(&second, "rejected"), 2);
    let lot = ctl
        .json(&["--profile", "op", "lots", "show", &id, "-o", "json"])
        .await;
    assert_eq!(lot["total_spots"], 400, "{lot}");
    assert_eq!(lot["external_id"], "dresdenaltmarkt");

    // A renamed lot is updated on the next run, back to the file's name.
    ctl.json(&[
        "--profile",
        "op",
        "lots",
        "update",
        &id,
        "--name",
        "Altmarkt (alt)",
        "-o",
        "json",
    ])
    .await;
    let third = ctl.json(&args).await;
    assert_eq!(count(&third, "updated"), 1, "{third}");
    assert_eq!(count(&third, "created"), 0);
    let lot = ctl
        .json(&["--profile", "op", "lots", "show", &id, "-o", "json"])
        .await;
    assert_eq!(lot["name"], "Altmarkt");
    assert_eq!(lot["total_spots"], 400);

    // The table summary names the rejected features too.
    let out = ctl
        .run(&["--profile", "op", "lots", "import", file], None)
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(
        table.contains("feature 3") && table.contains("feature 33"),
        "{table}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_import_reports_bad_lines_and_sets_spots_and_rates() {
    let app = TestApp::spawn().await;
    let ctl = Ctl::new(&app.url);
    ctl.login("op", OPERATOR).await;
    let path = data("import/lots.csv");
    let file = path.to_str().expect("UTF-8 path");

    let dry = ctl
        .json(&[
            "--profile",
            "op",
            "lots",
            "import",
            file,
            "--dry-run",
            "-o",
            "json",
        ])
        .await;
    assert_eq!(count(&dry, "created"), 4, "{dry}");
    let search = ctl
        .json(&[
            "--profile",
            "op",
            "lots",
            "list",
            "--near",
            "51.0689,13.7183",
            "--radius",
            "100",
            "-o",
            "json",
        ])
        .await;
    assert_eq!(
        search.as_array().map(Vec::len),
        Some(0),
        "dry run: {search}"
    );

    let summary = ctl
        .json(&["--profile", "op", "lots", "import", file, "-o", "json"])
        .await;
    assert_eq!(count(&summary, "created"), 4, "{summary}");
    let lines: Vec<u64> = summary["rejected_rows"]
        .as_array()
        .expect("rejected rows")
        .iter()
        .map(|r| r["number"].as_u64().expect("number"))
        .collect();
    // Line 4's address runs over two lines, so the bad rows are lines 6–14.
    assert_eq!(lines, (6..=14).collect::<Vec<u64>>(), "{summary}");
    assert_eq!(count(&summary, "rejected"), 9);
    assert!(
        summary["rejected_rows"]
            .as_array()
            .expect("rejected rows")
            .iter()
            .all(|r| r["position"]
                .as_str()
                .is_some_and(|p| p.starts_with("line "))
                && r["source"] == "file"),
        "{summary}"
    );

    // 1400 spots take two requests; the rate became a card.
    let messe = find(&ctl, "51.0689,13.7183", "Messe Dresden").await;
    assert_eq!(messe["total_spots"], 1400, "{messe}");
    let altmarkt = find(&ctl, "51.05067,13.74179", "Altmarkt").await;
    let id = altmarkt["id"].as_str().expect("id");
    let lot = ctl
        .json(&["--profile", "op", "lots", "show", id, "-o", "json"])
        .await;
    assert_eq!(lot["available"]["ev"], 20, "{lot}");
    assert_eq!(lot["available"]["accessible"], 10, "{lot}");
    let card = ctl
        .json(&["--profile", "op", "rates", "show", id, "-o", "json"])
        .await;
    assert_eq!(card["base_hourly"], 250, "{card}");
    assert_eq!(card["currency"], "EUR");
    assert_eq!(card["increment_minutes"], 15);

    let again = ctl
        .json(&["--profile", "op", "lots", "import", file, "-o", "json"])
        .await;
    assert_eq!(count(&again, "unchanged"), 4, "{again}");
    let messe = find(&ctl, "51.0689,13.7183", "Messe Dresden").await;
    assert_eq!(messe["total_spots"], 1400, "no duplicate spots");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_refusals_and_unreadable_files() {
    let app = TestApp::spawn().await;
    let ctl = Ctl::new(&app.url);
    ctl.login("op", OPERATOR).await;
    let dir = tempfile::tempdir().expect("temp dir");

    // Another tenant's lot holds `dd-two`: this operator cannot see it, and
    // the server refuses a second lot with that external id (409).
    let other = TenantRecord {
        id: TenantId::new(),
        name: "Other tenant".into(),
        created_at: Utc::now(),
    };
    app.state
        .store
        .create_tenant(other.clone())
        .await
        .expect("tenant");
    let theirs = Lot {
        id: LotId::new(),
        tenant_id: other.id,
        name: "Theirs".into(),
        address: "Elsewhere 1, Dresden".into(),
        location: GeoPoint::new(51.0, 13.7).expect("valid"),
        time_zone: chrono_tz::Europe::Berlin,
        hours: OperatingHours::always_open(),
        amenities: Default::default(),
        rules: BookingRules::default(),
    };
    parkd::service::lots::create_lot(
        &app.state,
        theirs,
        Some("dd-two".into()),
        parkd::store::payments::PaymentMode::OnSite,
    )
    .await
    .expect("their lot");
    let csv = dir.path().join("lots.csv");
    std::fs::write(
        &csv,
        "external_id,name,address,lat,lng,capacity,kinds,rate\n\
         dd-one,One,\"One 1, 01067 Dresden\",51.05,13.74,5,,\n\
         dd-two,Two,\"Two 2, 01067 Dresden\",51.06,13.75,5,,2.00\n",
    )
    .expect("write csv");
    let csv = csv.to_str().expect("path");
    let summary = ctl
        .json_exit(&["--profile", "op", "lots", "import", csv, "-o", "json"], 1)
        .await;
    assert_eq!(count(&summary, "created"), 1, "{summary}");
    assert_eq!(count(&summary, "rejected"), 1, "{summary}");
    let refused = &summary["rejected_rows"][0];
    assert_eq!(refused["position"], "line 3");
    assert_eq!(refused["external_id"], "dd-two");
    assert_eq!(refused["source"], "server");
    assert_eq!(refused["status"], 409);
    assert!(
        refused["reason"]
            .as_str()
            .is_some_and(|r| r.contains("external_id")),
        "{refused}"
    );
    let out = ctl
        .run(&["--profile", "op", "lots", "import", csv], None)
        .await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("refused 1 of 2 rows"), "{stderr}");

    // An unknown currency is a usage error before anything is sent.
    let out = ctl
        .run(
            &[
                "--profile",
                "op",
                "lots",
                "import",
                csv,
                "--currency",
                "XXXX",
            ],
            None,
        )
        .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));

    // Not a FeatureCollection, a missing file, an unknown extension: exit 2.
    let json = dir.path().join("bad.geojson");
    std::fs::write(&json, "{\"type\": \"Feature\"}").expect("write json");
    for file in [
        json.clone(),
        dir.path().join("missing.csv"),
        dir.path().join("lots.txt"),
    ] {
        let out = ctl
            .run(
                &[
                    "--profile",
                    "op",
                    "lots",
                    "import",
                    file.to_str().expect("path"),
                ],
                None,
            )
            .await;
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_update_delete_round_trip_and_delete_with_bookings() {
    let app = TestApp::spawn().await;
    let ctl = Ctl::new(&app.url);
    ctl.login("op", OPERATOR).await;
    ctl.login("driver", DRIVER).await;

    let lot = ctl
        .json(&[
            "--profile",
            "op",
            "lots",
            "create",
            "--name",
            "Neumarkt",
            "--address",
            "Neumarkt 1, 01067 Dresden",
            "--lat",
            "51.0516",
            "--lng",
            "13.7415",
            "--timezone",
            "Europe/Berlin",
            "--buffer",
            "10",
            "--external-id",
            "dd-neumarkt",
            "-o",
            "json",
        ])
        .await;
    let id = lot["id"].as_str().expect("id").to_owned();
    assert_eq!(lot["turnover_buffer_minutes"], 10);
    assert_eq!(lot["external_id"], "dd-neumarkt");

    // The same external id again: a conflict.
    let out = ctl
        .run(
            &[
                "--profile",
                "op",
                "lots",
                "create",
                "--name",
                "Neumarkt 2",
                "--address",
                "Neumarkt 2, 01067 Dresden",
                "--lat",
                "51.0516",
                "--lng",
                "13.7415",
                "--timezone",
                "Europe/Berlin",
                "--external-id",
                "dd-neumarkt",
            ],
            None,
        )
        .await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));

    let updated = ctl
        .json(&[
            "--profile",
            "op",
            "lots",
            "update",
            &id,
            "--name",
            "Neumarkt (Tiefgarage)",
            "--lat",
            "51.0520",
            "--lng",
            "13.7420",
            "--buffer",
            "5",
            "-o",
            "json",
        ])
        .await;
    assert_eq!(updated["name"], "Neumarkt (Tiefgarage)");
    assert_eq!(updated["address"], "Neumarkt 1, 01067 Dresden");
    assert_eq!(updated["location"]["lat"], 51.052);
    assert_eq!(updated["turnover_buffer_minutes"], 5);

    // Nothing to change, a bad coordinate: usage errors.
    for args in [
        vec!["--profile", "op", "lots", "update", &id],
        vec![
            "--profile",
            "op",
            "lots",
            "update",
            &id,
            "--lat",
            "95",
            "--lng",
            "1",
        ],
    ] {
        let out = ctl.run(&args, None).await;
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    }

    let out = ctl
        .run(&["--profile", "op", "lots", "delete", &id], None)
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = ctl
        .run(&["--profile", "op", "lots", "show", &id], None)
        .await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));

    // The test lot with a booking: exit 3 with the server's detail.
    let lot = app.lot.to_string();
    let spot = app.spots[0].to_string();
    ctl.book_tomorrow(&lot, &spot).await;
    let out = ctl
        .run(&["--profile", "op", "lots", "delete", &lot], None)
        .await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.starts_with("parkctl: ") && stderr.contains("booking"),
        "{stderr}"
    );
    let out = ctl
        .run(&["--profile", "op", "lots", "show", &lot], None)
        .await;
    assert_eq!(out.status.code(), Some(0), "still there");
}
