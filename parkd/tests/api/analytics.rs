//! Analytics over HTTP: bookings made through `POST /reservations` show up in
//! the occupancy series, the revenue per lot-local day and the summary; who may
//! ask; and what a bad query gets.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use parkd::auth::Role;
use parking_core::model::{BookingRules, LotId, SpotKind};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, problem, window};

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Books `[start, end)` at `lot` as `who`; the created reservation.
async fn book(
    app: &TestApp,
    who: &Session,
    lot: LotId,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Value {
    let response = app
        .post(
            "/reservations",
            Some(&who.access),
            json!({"lot_id": lot.to_string(), "start_time": start, "end_time": end}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED, "booking {start}");
    response.json().await.expect("reservation json")
}

fn amount(reservation: &Value) -> i64 {
    reservation["total_cost"]["amount"]
        .as_i64()
        .expect("total_cost.amount")
}

fn berlin_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&chrono_tz::Europe::Berlin).date_naive()
}

async fn ok_json(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

fn occupancy_path(lot: LotId, from: DateTime<Utc>, to: DateTime<Utc>, bucket: &str) -> String {
    format!(
        "/analytics/occupancy?lot_id={lot}&from={}&to={}&bucket={bucket}",
        ts(from),
        ts(to)
    )
}

fn revenue_path(lot: LotId, from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    format!(
        "/analytics/revenue?lot_id={lot}&from={}&to={}&group_by=day",
        ts(from),
        ts(to)
    )
}

/// A lot of four regular spots, its tenant's operator and a driver.
async fn setup(app: &TestApp) -> (LotId, Session, Session) {
    let tenant = app.tenant("Acme").await;
    let (lot, _) = app
        .lot(tenant, &[SpotKind::Regular; 4], BookingRules::default())
        .await;
    let operator = app
        .user("op@example.com", Role::Operator, Some(tenant))
        .await;
    let driver = app.user("d@example.com", Role::Driver, None).await;
    (lot, operator, driver)
}

#[tokio::test]
async fn occupancy_buckets_show_the_bookings() {
    let app = TestApp::spawn().await;
    let (lot, operator, driver) = setup(&app).await;
    let (s, _) = window(2, 2);
    let h = Duration::hours(1);
    // A: [s, s+2h) and B: [s+1h, s+3h) on two of the four spots; C is cancelled
    // and must not count.
    book(&app, &driver, lot, s, s + h * 2).await;
    book(&app, &driver, lot, s + h, s + h * 3).await;
    let c = book(&app, &driver, lot, s + Duration::minutes(30), s + h).await;
    let c_id = c["id"].as_str().expect("id");
    let cancelled = app
        .call(
            Method::DELETE,
            &format!("/reservations/{c_id}"),
            Some(&driver.access),
            None,
        )
        .await;
    assert_eq!(cancelled.status(), StatusCode::OK);

    let report = ok_json(
        app.get(
            &occupancy_path(lot, s, s + h * 4, "1h"),
            Some(&operator.access),
        )
        .await,
    )
    .await;
    assert_eq!(report["lot_id"], lot.to_string());
    assert_eq!(report["bucket_minutes"], 60);
    let points = report["points"].as_array().expect("points");
    // Hourly, capacity 4: one spot busy, two, one, none.
    let ratios: Vec<f64> = points
        .iter()
        .map(|p| p["ratio"].as_f64().expect("ratio"))
        .collect();
    let expected = [0.25, 0.5, 0.25, 0.0];
    assert_eq!(ratios.len(), expected.len());
    for (got, want) in ratios.iter().zip(expected) {
        assert!((got - want).abs() < 1e-9, "{ratios:?} != {expected:?}");
    }
    let peaks: Vec<u64> = points
        .iter()
        .map(|p| p["peak"].as_u64().expect("peak"))
        .collect();
    assert_eq!(peaks, [1, 2, 1, 0]);
    assert_eq!(points[0]["start"], json!(s));
    assert_eq!(points[3]["end"], json!(s + h * 4));

    // 90-minute buckets: [s, s+1.5h) holds A 1.5 h + B 0.5 h = 2 spot-hours of
    // 4 × 1.5 = 6; so does [s+1.5h, s+3h); the short last bucket is empty.
    let report = ok_json(
        app.get(
            &occupancy_path(lot, s, s + h * 4, "90"),
            Some(&operator.access),
        )
        .await,
    )
    .await;
    assert_eq!(report["bucket_minutes"], 90);
    let points = report["points"].as_array().expect("points");
    assert_eq!(points.len(), 3);
    for (p, want) in points.iter().zip([1.0 / 3.0, 1.0 / 3.0, 0.0]) {
        let got = p["ratio"].as_f64().expect("ratio");
        assert!((got - want).abs() < 1e-9, "{got} != {want}");
    }
    assert_eq!(points[2]["start"], json!(s + Duration::minutes(180)));
    app.stop().await;
}

#[tokio::test]
async fn revenue_per_day_is_the_sum_of_the_booking_totals() {
    let app = TestApp::spawn().await;
    let (lot, operator, driver) = setup(&app).await;
    let (s, _) = window(2, 2);
    let h = Duration::hours(1);
    let bookings = [
        book(&app, &driver, lot, s, s + h * 2).await,
        book(&app, &driver, lot, s + h, s + h * 4).await,
        book(&app, &driver, lot, s + h * 30, s + h * 31).await,
    ];
    let start_of = |b: &Value| -> DateTime<Utc> {
        serde_json::from_value(b["start_time"].clone()).expect("start_time")
    };
    let expected = |upto: usize| -> BTreeMap<String, i64> {
        let mut days = BTreeMap::new();
        for b in &bookings[..upto] {
            *days
                .entry(berlin_date(start_of(b)).to_string())
                .or_insert(0) += amount(b);
        }
        days
    };
    let days_of = |report: &Value| -> BTreeMap<String, i64> {
        report["days"]
            .as_array()
            .expect("days")
            .iter()
            .map(|d| {
                assert_eq!(d["amount"]["currency"], "EUR");
                (
                    d["date"].as_str().expect("date").to_owned(),
                    d["amount"]["amount"].as_i64().expect("amount"),
                )
            })
            .collect()
    };

    // The first two start within the next day; the third does not.
    let from = s - h;
    let report = ok_json(
        app.get(
            &revenue_path(lot, from, from + h * 24),
            Some(&operator.access),
        )
        .await,
    )
    .await;
    assert_eq!(report["lot_id"], lot.to_string());
    assert_eq!(days_of(&report), expected(2));
    assert_eq!(
        report["total"]["amount"],
        amount(&bookings[0]) + amount(&bookings[1])
    );
    assert_eq!(report["total"]["currency"], "EUR");

    let report = ok_json(
        app.get(
            &revenue_path(lot, from, from + h * 48),
            Some(&operator.access),
        )
        .await,
    )
    .await;
    assert_eq!(days_of(&report), expected(3));
    let sum: i64 = bookings.iter().map(amount).sum();
    assert_eq!(report["total"]["amount"], sum);

    // A cancelled booking earns nothing.
    let id = bookings[2]["id"].as_str().expect("id");
    let cancelled = app
        .call(
            Method::DELETE,
            &format!("/reservations/{id}"),
            Some(&driver.access),
            None,
        )
        .await;
    assert_eq!(cancelled.status(), StatusCode::OK);
    let report = ok_json(
        app.get(
            &revenue_path(lot, from, from + h * 48),
            Some(&operator.access),
        )
        .await,
    )
    .await;
    assert_eq!(days_of(&report), expected(2));
    app.stop().await;
}

#[tokio::test]
async fn summary_counts_spots_bookings_and_todays_revenue() {
    let app = TestApp::spawn().await;
    let (lot, operator, driver) = setup(&app).await;
    let path = format!("/analytics/summary?lot_id={lot}");

    let empty = ok_json(app.get(&path, Some(&operator.access)).await).await;
    assert_eq!(empty["lot_id"], lot.to_string());
    assert_eq!(empty["total_spots"], 4);
    assert_eq!(empty["available_now"], 4);
    assert_eq!(empty["occupancy_now"], 0.0);
    assert_eq!(empty["active_reservations"], 0);
    assert_eq!(empty["bookings_today"], 0);
    assert_eq!(
        empty["revenue_today"],
        json!({"amount": 0, "currency": "EUR"})
    );

    // One booking that starts a moment from now (so it is in progress shortly),
    // and one later on.
    let now = Utc::now();
    let soon = now + Duration::seconds(2);
    let current = book(&app, &driver, lot, soon, soon + Duration::hours(1)).await;
    let (later_start, later_end) = window(3, 1);
    let later = book(&app, &driver, lot, later_start, later_end).await;

    // Bounded wait for the first booking to begin.
    let mut summary = Value::Null;
    for _ in 0..80 {
        summary = ok_json(app.get(&path, Some(&operator.access)).await).await;
        if summary["active_reservations"] == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(summary["active_reservations"], 1, "{summary}");
    assert_eq!(summary["total_spots"], 4);
    assert_eq!(summary["available_now"], 3);
    assert!((summary["occupancy_now"].as_f64().expect("ratio") - 0.25).abs() < 1e-9);

    // "Today" is the lot's local day (Europe/Berlin).
    let today = berlin_date(Utc::now());
    let todays: Vec<&Value> = [&current, &later]
        .into_iter()
        .filter(|b| {
            let start: DateTime<Utc> =
                serde_json::from_value(b["start_time"].clone()).expect("start_time");
            berlin_date(start) == today
        })
        .collect();
    assert_eq!(summary["bookings_today"], todays.len());
    assert_eq!(
        summary["revenue_today"],
        json!({"amount": todays.iter().map(|b| amount(b)).sum::<i64>(), "currency": "EUR"})
    );
    app.stop().await;
}

#[tokio::test]
async fn who_may_see_a_lots_analytics() {
    let app = TestApp::spawn().await;
    let (lot, operator, driver) = setup(&app).await;
    let other_tenant = app.tenant("Globex").await;
    let stranger = app
        .user("op@globex.example", Role::Operator, Some(other_tenant))
        .await;
    let admin = app.user("admin@example.com", Role::Admin, None).await;
    let (s, e) = window(2, 2);
    let paths = [
        occupancy_path(lot, s, e, "1h"),
        revenue_path(lot, s, e),
        format!("/analytics/summary?lot_id={lot}"),
    ];
    for path in &paths {
        problem(app.get(path, None).await, StatusCode::UNAUTHORIZED).await;
        problem(
            app.get(path, Some(&driver.access)).await,
            StatusCode::FORBIDDEN,
        )
        .await;
        problem(
            app.get(path, Some(&stranger.access)).await,
            StatusCode::NOT_FOUND,
        )
        .await;
        assert_eq!(
            app.get(path, Some(&operator.access)).await.status(),
            StatusCode::OK,
            "{path}"
        );
        assert_eq!(
            app.get(path, Some(&admin.access)).await.status(),
            StatusCode::OK,
            "{path}"
        );
    }
    // A lot that does not exist is the same 404 as another tenant's.
    let missing = format!("/analytics/summary?lot_id={}", LotId::new());
    problem(
        app.get(&missing, Some(&admin.access)).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn bad_queries_are_422() {
    let app = TestApp::spawn().await;
    let (lot, operator, _) = setup(&app).await;
    let (s, e) = window(2, 2);
    let token = Some(operator.access.as_str());
    for (path, field) in [
        (occupancy_path(lot, s, e, "fortnight"), "bucket"),
        (occupancy_path(lot, s, e, "0m"), "bucket"),
        (occupancy_path(lot, e, s, "1h"), "to"),
        (occupancy_path(lot, s, s, "1h"), "to"),
        (revenue_path(lot, e, s), "to"),
        (revenue_path(lot, s, s), "to"),
    ] {
        let body = problem(
            app.get(&path, token).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        let fields: Vec<&str> = body["errors"]
            .as_array()
            .expect("field errors")
            .iter()
            .filter_map(|e| e["field"].as_str())
            .collect();
        assert!(fields.contains(&field), "{path}: {body}");
    }
    for path in [
        format!(
            "/analytics/revenue?lot_id={lot}&from={}&to={}&group_by=week",
            ts(s),
            ts(e)
        ),
        format!("/analytics/occupancy?from={}&to={}", ts(s), ts(e)),
        "/analytics/summary?lot_id=not-a-uuid".to_owned(),
        format!("/analytics/summary?lot_id={lot}&extra=1"),
    ] {
        problem(
            app.get(&path, token).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    app.stop().await;
}

#[tokio::test]
async fn the_analytics_routes_are_documented() {
    let app = TestApp::spawn().await;
    let doc = ok_json(app.get("/api/v1/openapi.json", None).await).await;
    for path in [
        "/api/v1/analytics/occupancy",
        "/api/v1/analytics/revenue",
        "/api/v1/analytics/summary",
    ] {
        let get = &doc["paths"][path]["get"];
        assert!(get.is_object(), "{path} is documented");
        for status in ["200", "401", "403", "404", "422"] {
            assert!(get["responses"][status].is_object(), "{path} {status}");
        }
        assert!(get["security"].is_array(), "{path} security");
        assert!(
            get["parameters"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p["name"] == "lot_id")),
            "{path} params"
        );
    }
    app.stop().await;
}
