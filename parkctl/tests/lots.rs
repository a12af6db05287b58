//! `parkctl lots list`: without --near, every lot the caller manages by name
//! (paged through by parkctl); with --near, the area search as before. A real
//! parkd in-process on 127.0.0.1:0 (see `support`) and the built parkctl.

mod support;

use support::{ADMIN, Ctl, DRIVER, OPERATOR, TestApp, add_admin, text};

fn names(list: &serde_json::Value) -> Vec<&str> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|l| l["name"].as_str().unwrap_or_default())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_near_an_operator_lists_the_lots_they_manage() {
    let app = TestApp::spawn().await;
    add_admin(&app).await;
    let ctl = Ctl::new(&app.url);
    ctl.login("op", OPERATOR).await;
    ctl.login("driver", DRIVER).await;
    ctl.login("admin", ADMIN).await;
    // A second lot of the operator's, 400 km from the first.
    let annex = ctl
        .json(&[
            "--profile",
            "op",
            "lots",
            "create",
            "--name",
            "Annex",
            "--address",
            "Marienplatz 1, München",
            "--lat",
            "48.137",
            "--lng",
            "11.575",
            "--timezone",
            "Europe/Berlin",
            "-o",
            "json",
        ])
        .await;
    let annex_id = annex["id"].as_str().expect("id").to_owned();
    let tenant = annex["tenant_id"].as_str().expect("tenant").to_owned();

    let managed = ctl
        .json(&["--profile", "op", "lots", "list", "-o", "json"])
        .await;
    assert_eq!(names(&managed), ["Annex", "Test lot"]);
    assert_eq!(managed[1]["id"], app.lot.to_string());
    assert_eq!(managed[1]["total_spots"], 2);

    // --near still searches an area: the Annex is out of range.
    let near = ctl
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
    assert_eq!(names(&near), ["Test lot"]);

    // The table, pinned with its ids redacted.
    let table = ctl
        .ok(&["--profile", "op", "lots", "list"])
        .await
        .replace(&annex_id, "<ANNEX ID>")
        .replace(&app.lot.to_string(), "<LOT ID>");
    insta::assert_snapshot!("managed_lots_table", table);

    // An admin sees every lot, or one tenant's.
    let all = ctl
        .json(&["--profile", "admin", "lots", "list", "-o", "json"])
        .await;
    assert_eq!(names(&all), ["Annex", "Test lot"]);
    let one = ctl
        .json(&[
            "--profile",
            "admin",
            "lots",
            "list",
            "--tenant",
            &tenant,
            "-o",
            "json",
        ])
        .await;
    assert_eq!(names(&one), ["Annex", "Test lot"]);
    let unknown = ctl
        .run(
            &[
                "--profile",
                "admin",
                "lots",
                "list",
                "--tenant",
                &uuid::Uuid::new_v4().to_string(),
            ],
            None,
        )
        .await;
    assert_eq!(unknown.status.code(), Some(4), "{}", text(&unknown.stderr));

    // A driver manages nothing: told to search an area instead.
    let out = ctl
        .run(&["--profile", "driver", "lots", "list"], None)
        .await;
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("--near LAT,LNG"),
        "{}",
        text(&out.stderr)
    );

    // Not logged in: told to log in or name an area.
    let anonymous = Ctl::new(&app.url);
    let out = anonymous.run(&["lots", "list"], None).await;
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("--near LAT,LNG"),
        "{}",
        text(&out.stderr)
    );

    // A radius needs a point; a tenant is for the managed list only.
    for args in [
        &["--profile", "op", "lots", "list", "--radius", "500"][..],
        &[
            "--profile",
            "op",
            "lots",
            "list",
            "--near",
            "51.05,13.74",
            "--tenant",
            &tenant,
        ][..],
    ] {
        let out = ctl.run(args, None).await;
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}
