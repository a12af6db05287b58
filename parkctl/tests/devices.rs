//! `parkctl devices create|list|revoke` end to end: a real parkd in-process
//! (see `support`), the built parkctl binary, and a sensor batch sent with the
//! created key through `parking-client` — accepted before the revocation,
//! refused (401) after it.

mod support;

use chrono::Utc;
use parking_client::api::{SensorBatch, SensorReading, SpotRef};
use parking_client::{Client, ClientError};
use support::{Ctl, DRIVER, OPERATOR, TestApp};

fn batch(spot: uuid::Uuid, occupied: bool) -> SensorBatch {
    SensorBatch {
        events: vec![SensorReading {
            spot: SpotRef::Id(spot),
            occupied,
            at: Utc::now(),
        }],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_creates_lists_and_revokes_a_device_key() {
    let app = TestApp::spawn().await;
    let ctl = Ctl::new(&app.url);
    ctl.login("op", OPERATOR).await;
    let lot = app.lot.to_string();

    let created = ctl
        .json(&[
            "--profile",
            "op",
            "devices",
            "create",
            &lot,
            "--name",
            "level 2 gateway",
            "-o",
            "json",
        ])
        .await;
    let key = created["key"].as_str().expect("key").to_owned();
    let id = created["device"]["id"].as_str().expect("id").to_owned();
    // The table shows the key once, with a warning in its header.
    let table = ctl
        .ok(&[
            "--profile",
            "op",
            "devices",
            "create",
            &lot,
            "--name",
            "spare",
        ])
        .await;
    assert!(table.contains("shown once"), "{table}");

    let sensors = Client::new(&app.url);
    let result = sensors
        .post_sensor_batch(&key, &batch(app.spots[0].as_uuid(), true))
        .await
        .expect("the key is accepted");
    assert_eq!(result.applied, 1);

    let listed = ctl
        .json(&["--profile", "op", "devices", "list", &lot, "-o", "json"])
        .await;
    let devices = listed.as_array().expect("array");
    assert_eq!(devices.len(), 2);
    assert_eq!(devices[0]["name"], "level 2 gateway");
    assert!(devices[0]["last_seen_at"].is_string(), "{listed}");
    assert!(!listed.to_string().contains(&key), "keys are never listed");
    // The table, pinned with its ids and instants redacted.
    let mut table = ctl.ok(&["--profile", "op", "devices", "list", &lot]).await;
    for d in devices {
        table = table.replace(d["id"].as_str().expect("id"), "<ID>");
        for field in ["created_at", "last_seen_at"] {
            if let Some(t) = d[field].as_str() {
                let t: chrono::DateTime<Utc> = t.parse().expect("instant");
                table = table.replace(&t.format("%Y-%m-%d %H:%M:%S UTC").to_string(), "<INSTANT>");
            }
        }
    }
    insta::assert_snapshot!("devices_table", table);

    let revoked = ctl
        .json(&[
            "--profile",
            "op",
            "devices",
            "revoke",
            &lot,
            &id,
            "-o",
            "json",
        ])
        .await;
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
    let refused = sensors
        .post_sensor_batch(&key, &batch(app.spots[0].as_uuid(), false))
        .await
        .expect_err("a revoked key is refused");
    assert!(
        matches!(refused, ClientError::Api { status: 401, .. }),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drivers_and_bad_ids_are_refused_with_their_exit_codes() {
    let app = TestApp::spawn().await;
    let ctl = Ctl::new(&app.url);
    ctl.login("driver", DRIVER).await;
    let lot = app.lot.to_string();
    ctl.out_exit(
        &[
            "--profile",
            "driver",
            "devices",
            "create",
            &lot,
            "--name",
            "x",
        ],
        5,
    )
    .await;
    let out = ctl
        .run(
            &[
                "--profile",
                "driver",
                "devices",
                "revoke",
                &lot,
                "not-an-id",
            ],
            None,
        )
        .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        support::text(&out.stderr).contains("bad device id"),
        "{}",
        support::text(&out.stderr)
    );
}
