//! Rate cards and quotes over HTTP: the GET/PUT round trip, validation with
//! field paths, authorization, and quotes whose lines sum to the total.

use parkd::auth::Role;
use parking_core::model::{BookingRules, LotId, SpotKind};
use parking_core::pricing::RateCard;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, problem, window};
use crate::lots::{json_of, lot_body, ts};

#[tokio::test]
async fn rate_cards_round_trip_and_are_validated() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Acme").await;
    let op = app
        .user("op@example.com", Role::Operator, Some(tenant))
        .await
        .access;
    let lot = json_of(
        app.post("/parking-lots", Some(&op), lot_body("P", 51.05, 13.74))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let path = format!("/parking-lots/{}/rates", lot["id"].as_str().expect("id"));
    problem(app.get(&path, None).await, StatusCode::NOT_FOUND).await;

    let mut card = serde_json::to_value(RateCard::example_eur()).expect("card json");
    card["base_hourly"] = json!(220);
    let put = json_of(
        app.call(Method::PUT, &path, Some(&op), Some(card.clone()))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(put, card);
    let got = json_of(app.get(&path, None).await, StatusCode::OK).await;
    assert_eq!(got, card, "GET returns what PUT took");
    // PUT takes what GET returns.
    let again = app.call(Method::PUT, &path, Some(&op), Some(got)).await;
    assert_eq!(again.status(), StatusCode::OK);

    // A band overlapping the first one: 422 naming the band.
    let mut overlapping = card.clone();
    let bands = overlapping["bands"].as_array_mut().expect("bands");
    let copy = bands[0].clone();
    bands.push(copy);
    let culprit = format!("bands[{}]", bands.len() - 1);
    let p = problem(
        app.call(Method::PUT, &path, Some(&op), Some(overlapping))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        p["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .any(|e| e["field"] == culprit.as_str()),
        "{p}"
    );
    let mut unknown = card.clone();
    unknown["surcharge"] = json!(5);
    problem(
        app.call(Method::PUT, &path, Some(&op), Some(unknown)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(
        json_of(app.get(&path, None).await, StatusCode::OK).await,
        card,
        "refused cards change nothing"
    );

    problem(
        app.call(Method::PUT, &path, None, Some(card.clone())).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let driver = app.user("d@example.com", Role::Driver, None).await.access;
    problem(
        app.call(Method::PUT, &path, Some(&driver), Some(card.clone()))
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let other = app.tenant("Other").await;
    let rival = app
        .user("op@other.example", Role::Operator, Some(other))
        .await
        .access;
    problem(
        app.call(Method::PUT, &path, Some(&rival), Some(card.clone()))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(
        app.get(&format!("/parking-lots/{}/rates", LotId::new()), None)
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn quotes_are_itemised_and_follow_the_card() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Acme").await;
    let op = app
        .user("op@example.com", Role::Operator, Some(tenant))
        .await
        .access;
    let (lot, _) = app
        .lot(
            tenant,
            &[SpotKind::Regular, SpotKind::Ev],
            BookingRules::default(),
        )
        .await;
    let (start, end) = window(5, 26);
    let quote_path = |kind: &str| {
        format!(
            "/parking-lots/{lot}/quote?start_time={}&end_time={}&spot_type={kind}",
            ts(start),
            ts(end)
        )
    };
    let quote = json_of(app.get(&quote_path("regular"), None).await, StatusCode::OK).await;
    let lines = quote["lines"].as_array().expect("lines");
    assert!(!lines.is_empty());
    let sum: i64 = lines
        .iter()
        .map(|l| l["amount"]["amount"].as_i64().unwrap_or(i64::MIN / 1024))
        .sum();
    assert_eq!(Some(sum), quote["total"]["amount"].as_i64(), "{quote}");
    assert_eq!(quote["total"]["currency"], "EUR");
    let ev = json_of(app.get(&quote_path("ev"), None).await, StatusCode::OK).await;
    assert_eq!(ev["kind_factor_permille"], 1250);

    // A booking of the same stay costs what was quoted.
    let driver = app.user("d@example.com", Role::Driver, None).await;
    let booked = json_of(
        app.post(
            "/reservations",
            Some(&driver.access),
            json!({"lot_id": lot.to_string(), "start_time": start, "end_time": end,
                   "expected_total": quote["total"]}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(booked["total_cost"], quote["total"]);

    // A doubled base rate shows in the next quote.
    let rates = format!("/parking-lots/{lot}/rates");
    let mut card = json_of(app.get(&rates, None).await, StatusCode::OK).await;
    let base = card["base_hourly"].as_i64().expect("base");
    card["base_hourly"] = json!(base * 2);
    card["bands"] = json!([]);
    card["flat_rates"] = json!([]);
    card["daily_max"] = json!(null);
    card["demand"] = json!(null);
    let put = app.call(Method::PUT, &rates, Some(&op), Some(card)).await;
    assert_eq!(put.status(), StatusCode::OK);
    let (s, e) = window(5, 2);
    let two_hours = json_of(
        app.get(
            &format!(
                "/parking-lots/{lot}/quote?start_time={}&end_time={}",
                ts(s),
                ts(e)
            ),
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(two_hours["total"]["amount"], base * 2 * 2);

    problem(
        app.get(
            &format!(
                "/parking-lots/{lot}/quote?start_time={}&end_time={}",
                ts(end),
                ts(start)
            ),
            None,
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    problem(
        app.get(
            &format!("/parking-lots/{lot}/quote?start_time={}", ts(start)),
            None,
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    problem(
        app.get(
            &format!(
                "/parking-lots/{}/quote?start_time={}&end_time={}",
                LotId::new(),
                ts(start),
                ts(end)
            ),
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    app.stop().await;
}
