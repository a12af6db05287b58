//! `parkctl payments list|refund` against a parkd whose seeded lot is prepaid
//! and pays through the fake Stripe of `parkd::fake_stripe`.

mod support;

use serde_json::Value;
use support::{Ctl, DRIVER, OPERATOR, TestApp};

/// A driver books spot 1 tomorrow 10:00–12:00 (Berlin) with parkctl, and the
/// payer's app pays it; the booking as parkctl printed it.
async fn paid_booking(app: &TestApp, ctl: &Ctl) -> Value {
    let lot = app.lot.to_string();
    let spot = app.spots[0].to_string();
    let booking = ctl.book_tomorrow(&lot, &spot).await;
    assert_eq!(booking["status"], "held", "held until paid: {booking}");
    let intent = booking["payment"]["intent_id"]
        .as_str()
        .expect("a payment intent");
    assert_eq!(app.settle(intent).await, 200);
    booking
}

/// The table with the run's ids and times replaced by placeholders of the
/// same width, so the layout stays as printed.
fn redact(table: &str, payment: &Value) -> String {
    let same_width = |text: &str, label: &str| format!("{label:<width$}", width = text.len());
    let mut table = table.to_owned();
    for (key, label) in [("id", "<PAYMENT>"), ("reservation_id", "<RESERVATION>")] {
        if let Some(id) = payment[key].as_str() {
            table = table.replace(id, &same_width(id, label));
        }
    }
    if let Some(created) = payment["created_at"].as_str() {
        let shown = format!("{}Z", &created[..19]);
        table = table.replace(&shown, &same_width(&shown, "<CREATED>"));
    }
    table
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_list_and_refund_payments() {
    let app = TestApp::spawn_prepaid().await;
    let ctl = Ctl::new(&app.url);
    ctl.login("op", OPERATOR).await;
    ctl.login("driver", DRIVER).await;
    let booking = paid_booking(&app, &ctl).await;
    let lot = app.lot.to_string();

    let listed = ctl
        .json(&[
            "--profile",
            "op",
            "payments",
            "list",
            "--lot",
            &lot,
            "-o",
            "json",
        ])
        .await;
    let payments = listed.as_array().expect("a list");
    assert_eq!(payments.len(), 1, "{listed}");
    let payment = payments[0].clone();
    assert_eq!(payment["status"], "succeeded");
    assert_eq!(payment["reservation_id"], booking["id"]);
    assert_eq!(payment["amount"], booking["total_cost"]["amount"]);

    let table = ctl
        .ok(&[
            "--profile",
            "op",
            "payments",
            "list",
            "--lot",
            &lot,
            "--status",
            "succeeded",
        ])
        .await;
    insta::assert_snapshot!("payments_table", redact(&table, &payment));

    // The desk sees at a glance that the booking is paid.
    let bookings = ctl.ok(&["--profile", "op", "bookings", "list"]).await;
    let row = bookings
        .lines()
        .find(|line| line.contains(booking["id"].as_str().unwrap_or("?")))
        .unwrap_or_else(|| panic!("the booking is listed: {bookings}"));
    let last_cell = |line: &str| {
        line.split_whitespace()
            .rfind(|cell| *cell != "│")
            .unwrap_or_default()
            .to_owned()
    };
    let header = bookings
        .lines()
        .find(|line| line.contains("STATUS"))
        .unwrap_or_default();
    assert_eq!(last_cell(header), "PAYMENT", "{bookings}");
    assert_eq!(last_cell(row), "succeeded", "{bookings}");

    let id = payment["id"].as_str().expect("id");
    let refunded = ctl
        .ok(&[
            "--profile",
            "op",
            "payments",
            "refund",
            id,
            "--amount",
            "120",
        ])
        .await;
    insta::assert_snapshot!("refund_table", redact(&refunded, &payment));

    // More than is left is refused by parkd, with its reason.
    let out = ctl
        .run(
            &[
                "--profile",
                "op",
                "payments",
                "refund",
                id,
                "--amount",
                "100000",
            ],
            None,
        )
        .await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = support::text(&out.stderr);
    assert!(stderr.contains("at most 3.00 EUR"), "{stderr}");
    // A bad amount never reaches parkd.
    ctl.out_exit(
        &["--profile", "op", "payments", "refund", id, "--amount", "0"],
        2,
    )
    .await;
    // The rest, then nothing is left.
    let rest = ctl
        .json(&["--profile", "op", "payments", "refund", id, "-o", "json"])
        .await;
    assert_eq!(rest["payment"]["status"], "refunded");
    assert_eq!(rest["refund"]["amount"], 300);
    ctl.out_exit(&["--profile", "op", "payments", "refund", id], 3)
        .await;
    // Drivers may not list payments.
    ctl.out_exit(&["--profile", "driver", "payments", "list"], 5)
        .await;
}
