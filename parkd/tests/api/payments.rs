//! Online payments end to end: parkd talks to the fake Stripe of
//! `parkd::fake_stripe` (a real HTTP server speaking Stripe's wire format), and
//! Stripe's webhooks come back signed as Stripe signs them.

use chrono::{DateTime, Duration, Utc};
use parkd::auth::Role;
use parkd::config::Secret;
use parkd::fake_stripe::{DECLINED_CARD, FakeEvent, FakeStripe};
use parking_core::model::{BookingRules, CancellationPolicy, LotId, SpotKind};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, problem, window};

const SECRET_KEY: &str = "sk_test_parkd_fake";
const WEBHOOK_SECRET: &str = "whsec_parkd_fake";

/// parkd configured for the fake Stripe, a tenant with an operator, a driver,
/// and a prepaid lot of two regular spots.
struct Prepaid {
    app: TestApp,
    stripe: FakeStripe,
    lot: LotId,
    driver: Session,
    operator: Session,
}

/// parkd configured for a fresh fake Stripe.
async fn with_stripe() -> (TestApp, FakeStripe) {
    let stripe = FakeStripe::start(SECRET_KEY, WEBHOOK_SECRET).await;
    let base = stripe.url.clone();
    let app = TestApp::spawn_with(|c| {
        c.stripe.secret_key = Some(Secret::new(SECRET_KEY));
        c.stripe.webhook_secret = Some(Secret::new(WEBHOOK_SECRET));
        c.stripe.api_base = base;
    })
    .await;
    (app, stripe)
}

async fn prepaid(rules: BookingRules) -> Prepaid {
    let (app, stripe) = with_stripe().await;
    let tenant = app.tenant("Acme").await;
    let (lot, _) = app
        .lot(tenant, &[SpotKind::Regular, SpotKind::Regular], rules)
        .await;
    let operator = app
        .user("op@example.com", Role::Operator, Some(tenant))
        .await;
    let driver = app.user("d@example.com", Role::Driver, None).await;
    let response = app
        .call(
            reqwest::Method::PATCH,
            &format!("/parking-lots/{lot}"),
            Some(&operator.access),
            Some(json!({"payment_mode": "prepaid"})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let shown: Value = response.json().await.expect("json");
    assert_eq!(shown["payment_mode"], "prepaid");
    Prepaid {
        app,
        stripe,
        lot,
        driver,
        operator,
    }
}

fn booking(lot: LotId, start: DateTime<Utc>, end: DateTime<Utc>) -> Value {
    json!({"lot_id": lot.to_string(), "start_time": start, "end_time": end})
}

impl Prepaid {
    fn webhook_url(&self) -> String {
        self.app.api("/payments/webhook")
    }

    async fn book(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Value {
        let response = self
            .app
            .post(
                "/reservations",
                Some(&self.driver.access),
                booking(self.lot, start, end),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.expect("json")
    }

    async fn show(&self, id: &Value) -> Value {
        let id = id.as_str().expect("id");
        self.app
            .get(&format!("/reservations/{id}"), Some(&self.driver.access))
            .await
            .json()
            .await
            .expect("json")
    }

    /// The last event of `kind` the fake produced.
    fn last(&self, kind: &str) -> FakeEvent {
        self.stripe
            .events()
            .into_iter()
            .rev()
            .find(|e| e.kind == kind)
            .expect("event produced")
    }

    /// Delivers an event, signed now; the answer's status and body.
    async fn deliver(&self, event: &FakeEvent) -> (u16, Value) {
        let response = self
            .app
            .client
            .post(self.webhook_url())
            .header(
                "Stripe-Signature",
                parkd::fake_stripe::sign(&event.payload, WEBHOOK_SECRET, Utc::now().timestamp()),
            )
            .body(event.payload.clone())
            .send()
            .await
            .expect("sent");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Books, pays through the fake (as the driver's app would) and delivers
    /// the success webhook; the confirmed reservation.
    async fn book_and_pay(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Value {
        let r = self.book(start, end).await;
        let intent = r["payment"]["intent_id"].as_str().expect("intent");
        assert_eq!(self.stripe.complete(intent), 200);
        let (status, _) = self.deliver(&self.last("payment_intent.succeeded")).await;
        assert_eq!(status, 200);
        let shown = self.show(&r["id"]).await;
        assert_eq!(shown["status"], "confirmed");
        shown
    }

    async fn outbox_types(&self) -> Vec<(String, Value)> {
        self.app
            .state
            .store
            .events_after(0, Some(self.lot), None, 1000)
            .await
            .expect("events")
            .into_iter()
            .map(|e| {
                (
                    e.event_type,
                    serde_json::to_value(&e.payload).expect("payload json"),
                )
            })
            .collect()
    }

    async fn payments(&self, query: &str) -> Value {
        let response = self
            .app
            .get(&format!("/payments?{query}"), Some(&self.operator.access))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("json")
    }
}

fn processed_for(events: &[(String, Value)], reservation: &Value) -> usize {
    events
        .iter()
        .filter(|(t, p)| t == "payment_processed" && &p["reservation_id"] == reservation)
        .count()
}

#[tokio::test]
async fn a_prepaid_booking_is_held_until_the_webhook_confirms_it_with_payment_processed() {
    let p = prepaid(BookingRules::default()).await;
    let (start, end) = window(3, 2);
    let r = p.book(start, end).await;
    assert_eq!(r["status"], "held", "held until paid");
    let pay = &r["payment"];
    assert_eq!(pay["status"], "pending");
    assert_eq!(pay["amount"], r["total_cost"]["amount"]);
    assert_eq!(pay["currency"], "EUR");
    let intent = pay["intent_id"].as_str().expect("intent id");
    assert!(
        pay["client_secret"]
            .as_str()
            .is_some_and(|s| s.starts_with(intent))
    );
    let (status, amount, currency, metadata) = p.stripe.intent(intent).expect("created at Stripe");
    assert_eq!(status, "requires_payment_method");
    assert_eq!(Some(amount), r["total_cost"]["amount"].as_i64());
    assert_eq!(currency, "eur", "Stripe's lower-case code");
    assert_eq!(
        metadata.get("reservation_id").map(String::as_str),
        r["id"].as_str()
    );
    assert_eq!(metadata.get("lot_id"), Some(&p.lot.to_string()));
    assert_eq!(processed_for(&p.outbox_types().await, &r["id"]), 0);

    assert_eq!(p.stripe.complete(intent), 200);
    let (status, ack) = p.deliver(&p.last("payment_intent.succeeded")).await;
    assert_eq!((status, &ack["duplicate"]), (200, &json!(false)));
    let shown = p.show(&r["id"]).await;
    assert_eq!(shown["status"], "confirmed");
    assert_eq!(shown["payment"]["status"], "succeeded");
    assert!(
        shown["payment"].get("client_secret").is_none(),
        "no secret once paid"
    );
    let events = p.outbox_types().await;
    assert_eq!(processed_for(&events, &r["id"]), 1);
    let processed = events
        .iter()
        .find(|(t, _)| t == "payment_processed")
        .map(|(_, e)| e.clone())
        .expect("event");
    assert_eq!(processed["amount"], r["total_cost"]);
    p.app.stop().await;
}

#[tokio::test]
async fn a_declined_card_releases_the_hold() {
    let p = prepaid(BookingRules::default()).await;
    let (start, end) = window(3, 2);
    let r = p.book(start, end).await;
    let id = r["id"].as_str().expect("id");
    let declined = p
        .app
        .post(
            &format!("/reservations/{id}/pay"),
            Some(&p.driver.access),
            json!({"payment_method": DECLINED_CARD}),
        )
        .await;
    let body = problem(declined, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("declined")),
        "{body}"
    );
    let shown = p.show(&r["id"]).await;
    assert_eq!(shown["status"], "cancelled", "the hold is released");
    assert_eq!(shown["payment"]["status"], "failed");
    // Stripe's own failure webhook changes nothing more.
    let (status, _) = p.deliver(&p.last("payment_intent.payment_failed")).await;
    assert_eq!(status, 200);
    assert_eq!(p.show(&r["id"]).await["status"], "cancelled");
    // Both spots are free again for the same time.
    let again = p.book(start, end).await;
    let other = p.book(start, end).await;
    assert_ne!(again["spot_id"], other["spot_id"]);
    p.app.stop().await;
}

#[tokio::test]
async fn paying_at_the_desk_confirms_and_a_racing_webhook_changes_nothing_more() {
    let p = prepaid(BookingRules::default()).await;
    // Webhooks arrive on their own, racing the `pay` answer.
    p.stripe.deliver_to(&p.webhook_url());
    let (start, end) = window(3, 2);
    let r = p.book(start, end).await;
    let id = r["id"].as_str().expect("id");
    let paid = p
        .app
        .post(
            &format!("/reservations/{id}/pay"),
            Some(&p.operator.access),
            json!({"payment_method": "pm_card_visa"}),
        )
        .await;
    assert_eq!(paid.status(), StatusCode::OK);
    let paid: Value = paid.json().await.expect("json");
    assert_eq!(paid["status"], "confirmed");
    assert_eq!(paid["payment"]["status"], "succeeded");
    // Let the background webhook land, then deliver it once more by hand.
    for _ in 0..100 {
        if p.stripe
            .events()
            .iter()
            .any(|e| e.kind == "payment_intent.succeeded")
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let (status, _) = p.deliver(&p.last("payment_intent.succeeded")).await;
    assert_eq!(status, 200);
    assert_eq!(p.show(&r["id"]).await["status"], "confirmed");
    assert_eq!(processed_for(&p.outbox_types().await, &r["id"]), 1);
    p.app.stop().await;
}

#[tokio::test]
async fn paying_at_the_desk_after_the_app_paid_records_it_without_charging_twice() {
    let p = prepaid(BookingRules::default()).await;
    let (start, end) = window(3, 2);
    let r = p.book(start, end).await;
    let id = r["id"].as_str().expect("id");
    let intent = r["payment"]["intent_id"].as_str().expect("intent");
    // The app paid; its webhook has not arrived yet.
    assert_eq!(p.stripe.complete(intent), 200);
    let paid = p
        .app
        .post(
            &format!("/reservations/{id}/pay"),
            Some(&p.operator.access),
            json!({"payment_method": "pm_card_visa"}),
        )
        .await;
    assert_eq!(paid.status(), StatusCode::OK);
    let paid: Value = paid.json().await.expect("json");
    assert_eq!(paid["status"], "confirmed");
    let confirms = p
        .stripe
        .requests()
        .iter()
        .filter(|r| r.contains("/confirm"))
        .count();
    assert_eq!(confirms, 0, "nothing left to confirm at Stripe");
    // The late webhook changes nothing more.
    let (status, _) = p.deliver(&p.last("payment_intent.succeeded")).await;
    assert_eq!(status, 200);
    assert_eq!(processed_for(&p.outbox_types().await, &r["id"]), 1);
    p.app.stop().await;
}

#[tokio::test]
async fn duplicate_and_out_of_order_webhooks_end_in_the_same_state() {
    let p = prepaid(BookingRules::default()).await;
    let (start, end) = window(3, 2);
    let r = p.book(start, end).await;
    let intent = r["payment"]["intent_id"].as_str().expect("intent");
    // An earlier attempt was declined, then the payer retried and it succeeded;
    // Stripe delivers the success first and the old failure afterwards.
    assert_eq!(p.stripe.decline(intent), 402);
    let failed = p.last("payment_intent.payment_failed");
    assert_eq!(p.stripe.complete(intent), 200);
    let succeeded = p.last("payment_intent.succeeded");

    let (status, ack) = p.deliver(&succeeded).await;
    assert_eq!((status, ack["duplicate"].as_bool()), (200, Some(false)));
    let (status, ack) = p.deliver(&succeeded).await;
    assert_eq!((status, ack["duplicate"].as_bool()), (200, Some(true)));
    let (status, _) = p.deliver(&failed).await;
    assert_eq!(status, 200);

    let shown = p.show(&r["id"]).await;
    assert_eq!(shown["status"], "confirmed");
    assert_eq!(shown["payment"]["status"], "succeeded");
    assert_eq!(processed_for(&p.outbox_types().await, &r["id"]), 1);
    p.app.stop().await;
}

#[tokio::test]
async fn money_arriving_for_a_released_hold_goes_back_once() {
    let p = prepaid(BookingRules::default()).await;
    let (start, end) = window(3, 2);
    let r = p.book(start, end).await;
    let intent = r["payment"]["intent_id"].as_str().expect("intent");
    assert_eq!(p.stripe.decline(intent), 402);
    let failed = p.last("payment_intent.payment_failed");
    assert_eq!(p.stripe.complete(intent), 200);
    let succeeded = p.last("payment_intent.succeeded");
    // This time the failure arrives first and releases the hold.
    assert_eq!(p.deliver(&failed).await.0, 200);
    assert_eq!(p.show(&r["id"]).await["status"], "cancelled");
    for _ in 0..2 {
        assert_eq!(p.deliver(&succeeded).await.0, 200);
    }
    let shown = p.show(&r["id"]).await;
    assert_eq!(shown["status"], "cancelled", "the spot stays released");
    assert_eq!(shown["payment"]["status"], "refunded");
    let refunds = p.stripe.refunds();
    assert_eq!(refunds.len(), 1, "refunded once: {refunds:?}");
    assert_eq!(refunds[0]["amount"], r["total_cost"]["amount"]);
    p.app.stop().await;
}

#[tokio::test]
async fn a_forged_stale_or_missing_signature_is_400_and_changes_nothing() {
    let p = prepaid(BookingRules::default()).await;
    let (start, end) = window(3, 2);
    let r = p.book(start, end).await;
    let intent = r["payment"]["intent_id"].as_str().expect("intent");
    assert_eq!(p.stripe.complete(intent), 200);
    let event = p.last("payment_intent.succeeded");
    let now = Utc::now().timestamp();
    let forged = parkd::fake_stripe::sign(&event.payload, "whsec_not_ours", now);
    let tampered_payload = event
        .payload
        .replace("\"livemode\":false", "\"livemode\":true ");
    let genuine = parkd::fake_stripe::sign(&event.payload, WEBHOOK_SECRET, now);
    let stale = parkd::fake_stripe::sign(&event.payload, WEBHOOK_SECRET, now - 3600);
    for (signature, payload) in [
        (Some(forged.as_str()), event.payload.as_str()),
        (Some(genuine.as_str()), tampered_payload.as_str()),
        (Some(stale.as_str()), event.payload.as_str()),
        (Some("t=1,v1=00"), event.payload.as_str()),
        (None, event.payload.as_str()),
    ] {
        let mut request = p.app.client.post(p.webhook_url()).body(payload.to_owned());
        if let Some(signature) = signature {
            request = request.header("Stripe-Signature", signature);
        }
        let response = request.send().await.expect("sent");
        problem(response, StatusCode::BAD_REQUEST).await;
    }
    let shown = p.show(&r["id"]).await;
    assert_eq!(shown["status"], "held", "nothing changed");
    assert_eq!(shown["payment"]["status"], "pending");
    // The genuine delivery still works afterwards (its id was not burnt).
    let (status, _) = p.deliver(&event).await;
    assert_eq!(status, 200);
    assert_eq!(p.show(&r["id"]).await["status"], "confirmed");
    p.app.stop().await;
}

#[tokio::test]
async fn a_retried_booking_request_creates_one_intent() {
    let p = prepaid(BookingRules::default()).await;
    let (start, end) = window(3, 2);
    let send = || async {
        p.app
            .client
            .post(p.app.api("/reservations"))
            .bearer_auth(&p.driver.access)
            .header("Idempotency-Key", "retry-me-1")
            .json(&booking(p.lot, start, end))
            .send()
            .await
            .expect("sent")
    };
    let first = send().await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.expect("json");
    let second = send().await;
    assert_eq!(second.status(), StatusCode::CREATED);
    let second: Value = second.json().await.expect("json");
    assert_eq!(first, second, "the first answer, again");
    assert_eq!(p.stripe.intents_created(), 1);
    let creates = p
        .stripe
        .requests()
        .iter()
        .filter(|r| r.starts_with("POST /v1/payment_intents "))
        .count();
    assert_eq!(creates, 1, "Stripe was asked once");
    p.app.stop().await;
}

/// A lot refunding everything until 60 minutes before the start, half until the
/// start, nothing after.
fn policy() -> BookingRules {
    BookingRules {
        cancellation: CancellationPolicy {
            free_until_minutes_before: 60,
            late_refund_percent: 50,
        },
        ..BookingRules::default()
    }
}

async fn cancel(p: &Prepaid, r: &Value) -> Value {
    let id = r["id"].as_str().expect("id");
    let response = p
        .app
        .call(
            reqwest::Method::DELETE,
            &format!("/reservations/{id}"),
            Some(&p.driver.access),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

#[tokio::test]
async fn cancelling_refunds_by_the_policy_full_partial_and_none_at_the_boundaries() {
    let p = prepaid(policy()).await;
    let now = Utc::now();
    // Full: the start is a little more than 60 minutes away.
    let full = p
        .book_and_pay(now + Duration::minutes(62), now + Duration::minutes(182))
        .await;
    let answer = cancel(&p, &full).await;
    let total = full["total_cost"]["amount"].as_i64().expect("total");
    assert_eq!(answer["refund"]["amount"], total);
    assert_eq!(answer["reservation"]["status"], "cancelled");
    assert_eq!(answer["reservation"]["payment"]["refunded_amount"], total);
    assert_eq!(answer["reservation"]["payment"]["status"], "refunded");

    // Partial: a little less than 60 minutes before the start.
    let late = p
        .book_and_pay(now + Duration::minutes(58), now + Duration::minutes(178))
        .await;
    let answer = cancel(&p, &late).await;
    let total = late["total_cost"]["amount"].as_i64().expect("total");
    let half = (total + 1) / 2; // half away from zero
    assert_eq!(answer["refund"]["amount"], half);
    assert_eq!(
        answer["reservation"]["payment"]["status"],
        "partially_refunded"
    );
    assert_eq!(answer["reservation"]["payment"]["refunded_amount"], half);

    // None: the stay has started.
    let started = p
        .book_and_pay(
            Utc::now() + Duration::seconds(2),
            Utc::now() + Duration::hours(1),
        )
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let answer = cancel(&p, &started).await;
    assert_eq!(answer["refund"]["amount"], 0);
    assert_eq!(answer["reservation"]["payment"]["status"], "succeeded");

    let refunds: Vec<i64> = p
        .stripe
        .refunds()
        .iter()
        .map(|r| r["amount"].as_i64().unwrap_or(-1))
        .collect();
    assert_eq!(
        refunds,
        [total_of(&full), half],
        "Stripe refunded exactly that"
    );
    p.app.stop().await;
}

fn total_of(r: &Value) -> i64 {
    r["total_cost"]["amount"].as_i64().expect("total")
}

#[tokio::test]
async fn extending_charges_the_difference_and_shortening_refunds_it() {
    let p = prepaid(BookingRules::default()).await;
    let (start, end) = window(3, 2);
    let r = p.book_and_pay(start, end).await;
    let id = r["id"].as_str().expect("id");
    let before = total_of(&r);
    let longer = p
        .app
        .call(
            reqwest::Method::PUT,
            &format!("/reservations/{id}"),
            Some(&p.driver.access),
            Some(json!({"end_time": end + Duration::hours(2)})),
        )
        .await;
    assert_eq!(longer.status(), StatusCode::OK);
    let longer: Value = longer.json().await.expect("json");
    let diff = total_of(&longer) - before;
    assert!(diff > 0, "an extension costs more");
    let extra = &longer["payment"];
    assert_eq!(extra["purpose"], "extension");
    assert_eq!(extra["amount"], diff);
    assert_eq!(extra["status"], "pending");
    let intent = extra["intent_id"].as_str().expect("new intent");
    assert_ne!(Some(intent), r["payment"]["intent_id"].as_str());
    let (_, amount, _, _) = p.stripe.intent(intent).expect("at Stripe");
    assert_eq!(amount, diff);
    assert_eq!(p.stripe.complete(intent), 200);
    let (status, _) = p.deliver(&p.last("payment_intent.succeeded")).await;
    assert_eq!(status, 200);

    let shorter = p
        .app
        .call(
            reqwest::Method::PUT,
            &format!("/reservations/{id}"),
            Some(&p.driver.access),
            Some(json!({"end_time": end})),
        )
        .await;
    assert_eq!(shorter.status(), StatusCode::OK);
    let shorter: Value = shorter.json().await.expect("json");
    assert_eq!(total_of(&shorter), before);
    let refunds = p.stripe.refunds();
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0]["amount"], diff);
    assert_eq!(
        refunds[0]["payment_intent"], intent,
        "from the extension's charge"
    );
    p.app.stop().await;
}

#[tokio::test]
async fn stripe_unreachable_is_a_503_with_retry_after_and_leaves_no_hold() {
    // A port nobody listens on.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let dead = format!("http://{}/", closed.local_addr().expect("address"));
    drop(closed);
    let app = TestApp::spawn_with(|c| {
        c.stripe.secret_key = Some(Secret::new(SECRET_KEY));
        c.stripe.webhook_secret = Some(Secret::new(WEBHOOK_SECRET));
        c.stripe.api_base = dead;
        c.stripe.timeout_secs = 2;
    })
    .await;
    let tenant = app.tenant("Acme").await;
    let (lot, _) = app
        .lot(tenant, &[SpotKind::Regular], BookingRules::default())
        .await;
    parkd::service::lots::set_payment_mode(
        &app.state,
        lot,
        parkd::store::payments::PaymentMode::Prepaid,
    )
    .await
    .expect("prepaid");
    let driver = app.user("d@example.com", Role::Driver, None).await;
    let (start, end) = window(3, 2);
    let response = app
        .post(
            "/reservations",
            Some(&driver.access),
            booking(lot, start, end),
        )
        .await;
    assert!(response.headers().get("retry-after").is_some());
    let body = problem(response, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("payment is unavailable")),
        "{body}"
    );
    let page: Value = app
        .get("/reservations?status=held", Some(&driver.access))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(page["total"], 0, "no hold left: {page}");
    // The only spot is free: the engine agrees with the database.
    let free = app.state.engine.read().lot(lot).map(|l| {
        l.inventory
            .availability_now(Utc::now())
            .iter()
            .map(|(_, n)| n)
            .sum::<u32>()
    });
    assert_eq!(free.ok(), Some(1));
    let in_window = app
        .state
        .store
        .reservations_in(
            lot,
            parking_core::model::Interval::new(start, end).expect("interval"),
        )
        .await
        .expect("read");
    assert!(in_window.iter().all(|r| !r.is_blocking(Utc::now())));
    app.stop().await;
}

#[tokio::test]
async fn an_expired_hold_cancels_its_intent() {
    let p = prepaid(BookingRules::default()).await;
    let (start, end) = window(3, 2);
    let r = p.book(start, end).await;
    let intent = r["payment"]["intent_id"].as_str().expect("intent");
    let released = parkd::service::booking::sweep(&p.app.state, Utc::now() + Duration::hours(1))
        .await
        .expect("sweep");
    assert_eq!(released, 1);
    let (status, _, _, _) = p.stripe.intent(intent).expect("intent");
    assert_eq!(status, "canceled");
    let shown = p.show(&r["id"]).await;
    assert_eq!(shown["status"], "expired");
    assert_eq!(shown["payment"]["status"], "failed");
    // A success that still arrives for it is refunded in full.
    p.app.stop().await;
}

#[tokio::test]
async fn operators_list_and_refund_payments_and_charge_refunded_keeps_them_in_step() {
    let p = prepaid(BookingRules::default()).await;
    let (start, end) = window(3, 2);
    let r = p.book_and_pay(start, end).await;
    let total = total_of(&r);
    let page = p
        .payments(&format!("lot_id={}&status=succeeded", p.lot))
        .await;
    assert_eq!(page["total"], 1);
    let payment = &page["items"][0];
    assert_eq!(payment["amount"], total);
    assert!(
        payment.get("client_secret").is_none(),
        "operators never see it"
    );
    let id = payment["id"].as_str().expect("id").to_owned();

    // Drivers may not.
    let denied = p.app.get("/payments", Some(&p.driver.access)).await;
    problem(denied, StatusCode::FORBIDDEN).await;
    // Bounded by what was paid.
    let too_much = p
        .app
        .post(
            &format!("/payments/{id}/refund"),
            Some(&p.operator.access),
            json!({"amount": total + 1}),
        )
        .await;
    problem(too_much, StatusCode::UNPROCESSABLE_ENTITY).await;
    let partial = p
        .app
        .post(
            &format!("/payments/{id}/refund"),
            Some(&p.operator.access),
            json!({"amount": 100}),
        )
        .await;
    assert_eq!(partial.status(), StatusCode::OK);
    let partial: Value = partial.json().await.expect("json");
    assert_eq!(partial["refund"]["amount"], 100);
    assert_eq!(partial["payment"]["status"], "partially_refunded");
    // Stripe's own `charge.refunded` for that refund changes nothing more.
    let (status, _) = p.deliver(&p.last("charge.refunded")).await;
    assert_eq!(status, 200);
    let page = p.payments(&format!("lot_id={}", p.lot)).await;
    assert_eq!(page["items"][0]["refunded_amount"], 100);

    // A refund made in Stripe's dashboard arrives as `charge.refunded`.
    let intent = r["payment"]["intent_id"].as_str().expect("intent");
    let outside = p
        .app
        .client
        .post(format!("{}v1/refunds", p.stripe.url))
        .bearer_auth(SECRET_KEY)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("payment_intent={intent}&amount=50"))
        .send()
        .await
        .expect("sent");
    assert_eq!(outside.status(), StatusCode::OK);
    let (status, _) = p.deliver(&p.last("charge.refunded")).await;
    assert_eq!(status, 200);
    let page = p
        .payments(&format!("lot_id={}&status=partially_refunded", p.lot))
        .await;
    assert_eq!(page["total"], 1);
    assert_eq!(page["items"][0]["refunded_amount"], 150);
    p.app.stop().await;
}

#[tokio::test]
async fn revenue_of_a_prepaid_lot_reconciles_with_its_payments() {
    let p = prepaid(policy()).await;
    let now = Utc::now();
    let kept = p
        .book_and_pay(now + Duration::hours(3), now + Duration::hours(5))
        .await;
    let late = p
        .book_and_pay(now + Duration::minutes(50), now + Duration::minutes(170))
        .await;
    cancel(&p, &late).await; // half refunded, half kept
    let unpaid = p
        .book(now + Duration::hours(6), now + Duration::hours(7))
        .await;
    assert_eq!(unpaid["status"], "held");

    let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let path = format!(
        "/analytics/revenue?lot_id={}&from={}&to={}",
        p.lot,
        fmt(now - Duration::days(1)),
        fmt(now + Duration::days(2))
    );
    let report: Value = p
        .app
        .get(&path, Some(&p.operator.access))
        .await
        .json()
        .await
        .expect("json");
    let page = p.payments(&format!("lot_id={}&per_page=100", p.lot)).await;
    let net: i64 = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["status"] != "pending" && i["status"] != "failed")
        .map(|i| i["amount"].as_i64().unwrap_or(0) - i["refunded_amount"].as_i64().unwrap_or(0))
        .sum();
    let expected = total_of(&kept) + (total_of(&late) - (total_of(&late) + 1) / 2);
    assert_eq!(net, expected);
    assert_eq!(report["total"]["amount"], net, "{report}");
    p.app.stop().await;
}

#[tokio::test]
async fn prepaid_lots_are_refused_without_keys_at_lot_change_and_at_start() {
    let stripe = FakeStripe::start(SECRET_KEY, WEBHOOK_SECRET).await;
    let base = stripe.url.clone();
    let dir = tempfile::tempdir().expect("dir");
    let mut config = crate::helpers::test_config(dir.path().to_owned(), false);
    config.stripe.secret_key = Some(Secret::new(SECRET_KEY));
    config.stripe.webhook_secret = Some(Secret::new(WEBHOOK_SECRET));
    config.stripe.api_base = base;
    let app = TestApp::start(config.clone()).await;
    let tenant = app.tenant("Acme").await;
    let (lot, _) = app
        .lot(tenant, &[SpotKind::Regular], BookingRules::default())
        .await;
    parkd::service::lots::set_payment_mode(
        &app.state,
        lot,
        parkd::store::payments::PaymentMode::Prepaid,
    )
    .await
    .expect("prepaid");
    app.stop().await;

    let mut without = config.clone();
    without.stripe = parkd::config::StripeConfig::default();
    // The same database as the first start (a PostgreSQL one when the suite
    // runs on PostgreSQL): its stored prepaid lot is what refuses the start.
    without.database_url = crate::helpers::postgres_for(&without.data_dir).await;
    let err = parkd::app::build(without.clone())
        .await
        .expect_err("a prepaid lot and no keys");
    assert!(err.to_string().contains("PARKD_STRIPE_SECRET_KEY"), "{err}");

    // Without keys (and no prepaid lot), making one prepaid is a 422.
    let plain = TestApp::spawn().await;
    let tenant = plain.tenant("Beta").await;
    let operator = plain
        .user("op@example.com", Role::Operator, Some(tenant))
        .await;
    let (lot, _) = plain
        .lot(tenant, &[SpotKind::Regular], BookingRules::default())
        .await;
    let response = plain
        .call(
            reqwest::Method::PATCH,
            &format!("/parking-lots/{lot}"),
            Some(&operator.access),
            Some(json!({"payment_mode": "prepaid"})),
        )
        .await;
    let body = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(
        body.to_string().contains("PARKD_STRIPE_SECRET_KEY"),
        "{body}"
    );
    let created = plain
        .post(
            "/parking-lots",
            Some(&operator.access),
            json!({"name": "P", "address": "A 1", "location": {"lat": 51.0, "lng": 13.0},
                   "timezone": "Europe/Berlin", "payment_mode": "prepaid"}),
        )
        .await;
    problem(created, StatusCode::UNPROCESSABLE_ENTITY).await;
    // On-site lots work offline as before.
    let shown: Value = plain
        .get(&format!("/parking-lots/{lot}"), None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(shown["payment_mode"], "on_site");
    plain.stop().await;
}

#[tokio::test]
async fn listings_show_each_bookings_payment_and_the_secret_to_its_payer_only() {
    let p = prepaid(BookingRules::default()).await;
    let (start, end) = window(3, 2);
    let pending = p.book(start, end).await;
    let (start, end) = window(8, 2);
    let paid = p.book(start, end).await;
    let intent = paid["payment"]["intent_id"].as_str().expect("intent");
    assert_eq!(p.stripe.complete(intent), 200);
    p.deliver(&p.last("payment_intent.succeeded")).await;

    let listed = |token: String| {
        let app = &p.app;
        async move {
            let page: Value = app
                .get("/reservations?per_page=100", Some(&token))
                .await
                .json()
                .await
                .expect("json");
            page["items"].as_array().expect("items").clone()
        }
    };
    let payment_of = |items: &[Value], id: &Value| {
        items
            .iter()
            .find(|r| &r["id"] == id)
            .map(|r| r["payment"].clone())
            .expect("listed")
    };
    let mine = listed(p.driver.access.clone()).await;
    let shown = payment_of(&mine, &pending["id"]);
    assert_eq!(shown["status"], "pending");
    assert_eq!(shown["client_secret"], pending["payment"]["client_secret"]);
    let shown = payment_of(&mine, &paid["id"]);
    assert_eq!(shown["status"], "succeeded");
    assert!(shown.get("client_secret").is_none(), "no secret once paid");

    // Staff see the payment, never the payer's secret.
    let staff = listed(p.operator.access.clone()).await;
    let shown = payment_of(&staff, &pending["id"]);
    assert_eq!(shown["status"], "pending");
    assert_eq!(shown["amount"], pending["total_cost"]["amount"]);
    assert!(shown.get("client_secret").is_none(), "{shown}");
}

#[tokio::test]
async fn a_lot_is_stored_with_its_payment_mode_in_the_same_write() {
    let (app, _stripe) = with_stripe().await;
    let tenant = app.tenant("Acme").await;
    let operator = app
        .user("op@example.com", Role::Operator, Some(tenant))
        .await;
    let created = app
        .post(
            "/parking-lots",
            Some(&operator.access),
            json!({"name": "P", "address": "A 1", "location": {"lat": 51.0, "lng": 13.0},
                   "timezone": "Europe/Berlin", "payment_mode": "prepaid"}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let lot: Value = created.json().await.expect("json");
    assert_eq!(lot["payment_mode"], "prepaid");
    let id: LotId = lot["id"].as_str().expect("id").parse().expect("lot id");
    // The database holds the mode, not only this instance's memory.
    let stored = app.state.store.prepaid_lots().await.expect("prepaid lots");
    assert_eq!(stored, vec![id]);

    // A change refused for a bad field changes the mode neither.
    let refused = app
        .call(
            reqwest::Method::PATCH,
            &format!("/parking-lots/{id}"),
            Some(&operator.access),
            Some(json!({"payment_mode": "on_site", "timezone": "Mars/Olympus"})),
        )
        .await;
    problem(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    let stored = app.state.store.prepaid_lots().await.expect("prepaid lots");
    assert_eq!(stored, vec![id]);
    let shown: Value = app
        .get(&format!("/parking-lots/{id}"), None)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(shown["payment_mode"], "prepaid");
    app.stop().await;
}

#[tokio::test]
async fn no_card_field_exists_in_the_api_or_the_schema() {
    const CARD_FIELDS: &[&str] = &[
        "card_number",
        "cardnumber",
        "cvc",
        "cvv",
        "exp_month",
        "exp_year",
        "expiry",
        "expiration",
        "security_code",
        "\"pan\"",
    ];
    let app = TestApp::spawn().await;
    let doc = app
        .get("/api/v1/openapi.json", None)
        .await
        .text()
        .await
        .expect("document")
        .to_ascii_lowercase();
    let migrations_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    let mut texts = vec![("openapi.json".to_owned(), doc)];
    for dir in ["sqlite", "postgres"] {
        let entries = std::fs::read_dir(migrations_dir.join(dir)).expect("migrations directory");
        let mut payments_migration = false;
        for entry in entries.flatten() {
            payments_migration |= entry.file_name().to_string_lossy() == "0004_payments.sql";
            let text = std::fs::read_to_string(entry.path()).expect("migration");
            texts.push((
                entry.path().display().to_string(),
                text.to_ascii_lowercase(),
            ));
        }
        assert!(payments_migration, "{dir} has its payments migration");
    }
    assert!(
        texts.len() >= 4,
        "the document and the migrations were read"
    );
    for (name, text) in &texts {
        for field in CARD_FIELDS {
            assert!(!text.contains(field), "{name} mentions {field}");
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn zero_and_three_decimal_currencies_are_charged_in_their_own_minor_units() {
    let p = prepaid(BookingRules::default()).await;
    let set_card = |currency: &'static str, hourly: i64| {
        let p = &p;
        async move {
            let response = p
                .app
                .call(
                    reqwest::Method::PUT,
                    &format!("/parking-lots/{}/rates", p.lot),
                    Some(&p.operator.access),
                    Some(json!({"currency": currency, "base_hourly": hourly,
                                "increment_minutes": 60})),
                )
                .await;
            assert_eq!(response.status(), StatusCode::OK, "{currency} card");
        }
    };
    // 300 yen an hour: two hours are 600 yen, and Stripe is asked for 600.
    set_card("JPY", 300).await;
    let (start, end) = window(3, 2);
    let r = p.book(start, end).await;
    assert_eq!(r["total_cost"], json!({"amount": 600, "currency": "JPY"}));
    let intent = r["payment"]["intent_id"].as_str().expect("intent");
    let (_, amount, currency, _) = p.stripe.intent(intent).expect("at Stripe");
    assert_eq!((amount, currency.as_str()), (600, "jpy"));

    // 1.250 KWD an hour: 2.500 KWD is 2500 fils.
    set_card("KWD", 1250).await;
    let (start, end) = window(6, 2);
    let r = p.book(start, end).await;
    assert_eq!(r["total_cost"], json!({"amount": 2500, "currency": "KWD"}));
    let intent = r["payment"]["intent_id"].as_str().expect("intent");
    let (_, amount, currency, _) = p.stripe.intent(intent).expect("at Stripe");
    assert_eq!((amount, currency.as_str()), (2500, "kwd"));
    // Stripe takes KWD only in multiples of 10 fils: refused before anything
    // is held or sent.
    set_card("KWD", 1255).await;
    let before = p.stripe.intents_created();
    let (start, end) = window(9, 1);
    let refused = p
        .app
        .post(
            "/reservations",
            Some(&p.driver.access),
            booking(p.lot, start, end),
        )
        .await;
    let body = problem(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("multiples of 10")),
        "{body}"
    );
    assert_eq!(p.stripe.intents_created(), before);
    p.app.stop().await;
}

#[tokio::test]
async fn a_refund_webhook_racing_the_cancellation_is_counted_once() {
    let p = prepaid(policy()).await;
    let now = Utc::now();
    for n in 0..3 {
        let late = p
            .book_and_pay(
                now + Duration::minutes(50 - n),
                now + Duration::minutes(110 - n),
            )
            .await;
        // From now on Stripe's webhooks arrive on their own, racing the answers.
        p.stripe.deliver_to(&p.webhook_url());
        let answer = cancel(&p, &late).await;
        let half = (total_of(&late) + 1) / 2;
        assert_eq!(answer["refund"]["amount"], half);
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let shown = p.show(&late["id"]).await;
        assert_eq!(shown["status"], "cancelled");
        assert_eq!(shown["payment"]["refunded_amount"], half, "counted once");
        assert_eq!(shown["payment"]["status"], "partially_refunded");
        p.stripe.hold_webhooks();
    }
    assert_eq!(p.stripe.refunds().len(), 3);
    p.app.stop().await;
}

/// The gateway against the fake: Stripe's idempotency replay and its error
/// shapes arrive in parkd's terms.
#[tokio::test]
async fn the_gateway_maps_stripes_replays_and_errors() {
    use parkd::payments::gateway::{GatewayError, IntentState, StripeGateway};
    use parking_core::model::{Currency, Money};
    use std::collections::HashMap;

    let stripe = FakeStripe::start(SECRET_KEY, WEBHOOK_SECRET).await;
    let config = parkd::config::StripeConfig {
        secret_key: Some(Secret::new(SECRET_KEY)),
        webhook_secret: Some(Secret::new(WEBHOOK_SECRET)),
        api_base: stripe.url.clone(),
        ..parkd::config::StripeConfig::default()
    };
    let gateway = StripeGateway::from_config(&config)
        .expect("client")
        .expect("configured");
    let eur = |amount| Money::new(amount, Currency::EUR);
    let meta = HashMap::from([("payment_id".to_owned(), "p1".to_owned())]);
    let first = gateway
        .create_intent(eur(1250), meta.clone(), "key-1")
        .await
        .expect("created");
    let again = gateway
        .create_intent(eur(1250), meta.clone(), "key-1")
        .await
        .expect("replayed");
    assert_eq!(first, again, "the same key gives the same intent");
    assert_eq!(stripe.intents_created(), 1);
    let reused = gateway
        .create_intent(eur(999), meta.clone(), "key-1")
        .await
        .expect_err("same key, other amount");
    assert!(
        matches!(&reused, GatewayError::Refused { code, .. } if code.starts_with("idempotency_error")),
        "{reused:?}"
    );

    let declined = gateway
        .confirm_intent(&first.id, DECLINED_CARD)
        .await
        .expect_err("declined");
    assert!(
        matches!(&declined, GatewayError::Declined(m) if m.contains("declined")),
        "{declined:?}"
    );
    let retrieved = gateway.retrieve_intent(&first.id).await.expect("read");
    assert_eq!(retrieved.state, IntentState::Open);
    assert_eq!(
        retrieved.last_error.as_deref(),
        Some("Your card was declined.")
    );
    let paid = gateway
        .confirm_intent(&first.id, "pm_card_visa")
        .await
        .expect("paid");
    assert_eq!(paid.state, IntentState::Succeeded);
    let refund = gateway
        .refund(&first.id, eur(250), "test", "refund-1")
        .await
        .expect("refunded");
    assert_eq!(refund.amount, 250);
    let too_much = gateway
        .refund(&first.id, eur(1001), "test", "refund-2")
        .await
        .expect_err("more than is left");
    assert!(
        matches!(too_much, GatewayError::Refused { .. }),
        "{too_much:?}"
    );
    let cancel_paid = gateway.cancel_intent(&first.id).await.expect_err("paid");
    assert!(
        matches!(cancel_paid, GatewayError::Refused { .. }),
        "{cancel_paid:?}"
    );

    let wrong_key = StripeGateway::from_config(&parkd::config::StripeConfig {
        secret_key: Some(Secret::new("sk_test_wrong")),
        ..config.clone()
    })
    .expect("client")
    .expect("configured");
    let refused = wrong_key
        .retrieve_intent(&first.id)
        .await
        .expect_err("bad key");
    assert!(
        matches!(refused, GatewayError::Refused { .. }),
        "{refused:?}"
    );

    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let dead = format!("http://{}/", closed.local_addr().expect("address"));
    drop(closed);
    let unreachable = StripeGateway::from_config(&parkd::config::StripeConfig {
        api_base: dead,
        ..config
    })
    .expect("client")
    .expect("configured");
    let down = unreachable
        .create_intent(eur(100), meta, "key-2")
        .await
        .expect_err("unreachable");
    assert!(matches!(down, GatewayError::Unavailable(_)), "{down:?}");
}

/// With several instances on one PostgreSQL database, a lot made prepaid on
/// one is prepaid on the others (which would otherwise confirm unpaid
/// bookings), and back. PostgreSQL only: SQLite has one instance.
#[tokio::test]
async fn a_payment_mode_change_reaches_the_other_instances() {
    if parkd::testing::postgres_admin_url().is_none() {
        return;
    }
    let stripe = FakeStripe::start(SECRET_KEY, WEBHOOK_SECRET).await;
    let with_stripe = |dir: &tempfile::TempDir| {
        let mut config = crate::helpers::test_config(dir.path().to_owned(), false);
        config.stripe.secret_key = Some(Secret::new(SECRET_KEY));
        config.stripe.webhook_secret = Some(Secret::new(WEBHOOK_SECRET));
        config.stripe.api_base = stripe.url.clone();
        config
    };
    let dir_a = tempfile::tempdir().expect("dir");
    let a = TestApp::start(with_stripe(&dir_a)).await;
    let dir_b = tempfile::tempdir().expect("dir");
    let mut config_b = with_stripe(&dir_b);
    config_b.database_url = crate::helpers::postgres_for(&a.data_dir).await;
    let b = TestApp::start(config_b).await;

    let tenant = a.tenant("Acme").await;
    let operator = a.user("op@example.com", Role::Operator, Some(tenant)).await;
    let (lot, _) = a
        .lot(tenant, &[SpotKind::Regular], BookingRules::default())
        .await;
    let mode_on = |app: &TestApp| {
        let url = app.api(&format!("/parking-lots/{lot}"));
        let client = app.client.clone();
        async move {
            let shown: Value = client
                .get(url)
                .send()
                .await
                .expect("get")
                .json()
                .await
                .expect("json");
            shown["payment_mode"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        }
    };
    // Changes travel asynchronously (NOTIFY): wait for them, up to a bound.
    async fn until(mut read: impl AsyncFnMut() -> String, want: &str) -> String {
        let mut seen = read().await;
        for _ in 0..100 {
            if seen == want {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            seen = read().await;
        }
        seen
    }
    // The new lot itself reaches B the same way.
    assert_eq!(
        until(async || mode_on(&b).await, "on_site").await,
        "on_site"
    );
    // Each test instance signs its own tokens: an operator session on each.
    let operator_b = b
        .user("op-b@example.com", Role::Operator, Some(tenant))
        .await;
    let set = |app: &TestApp, session: &crate::helpers::Session, mode: &'static str| {
        let app_url = app.api(&format!("/parking-lots/{lot}"));
        let client = app.client.clone();
        let token = session.access.clone();
        async move {
            let response = client
                .patch(app_url)
                .bearer_auth(token)
                .json(&json!({"payment_mode": mode}))
                .send()
                .await
                .expect("patch");
            assert_eq!(response.status(), StatusCode::OK);
        }
    };
    set(&a, &operator, "prepaid").await;
    assert_eq!(
        until(async || mode_on(&b).await, "prepaid").await,
        "prepaid"
    );
    set(&b, &operator_b, "on_site").await;
    assert_eq!(
        until(async || mode_on(&a).await, "on_site").await,
        "on_site"
    );
    b.stop().await;
    a.stop().await;
}
