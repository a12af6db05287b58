//! A fake Stripe for tests (feature `test-support`): an axum server on a random
//! port that speaks Stripe's wire format for the calls parkd makes —
//! PaymentIntents create / retrieve / confirm / cancel and Refunds create,
//! form-encoded requests, JSON answers, Stripe's error shapes (`card_error`
//! with `card_declined`, `idempotency_error`, `invalid_request_error`) and
//! `Idempotency-Key` replay — and that sends webhooks signed exactly as Stripe
//! signs them (`Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret,
//! "t.payload")>`).
//!
//! Payment methods follow Stripe's test ids: `pm_card_visa` (and any other)
//! succeeds, `pm_card_chargeDeclined` is declined. [`FakeStripe::complete`]
//! and [`FakeStripe::decline`] stand in for the payer's app confirming with
//! Stripe directly. Webhooks are kept in [`FakeStripe::events`]; with
//! [`FakeStripe::deliver_to`] they are also sent as they happen.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::oneshot;

/// The test payment method Stripe declines.
pub const DECLINED_CARD: &str = "pm_card_chargeDeclined";
/// The API version the fake stamps on events (the one async-stripe was built for).
const API_VERSION: &str = "2026-09-30.endive";

/// A webhook the fake produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeEvent {
    /// `evt_…`.
    pub id: String,
    /// E.g. `payment_intent.succeeded`.
    pub kind: String,
    /// The JSON body Stripe would send.
    pub payload: String,
}

#[derive(Clone, Debug)]
struct FakeIntent {
    id: String,
    amount: i64,
    currency: String,
    status: &'static str,
    metadata: BTreeMap<String, String>,
    client_secret: String,
    created: i64,
    charge: Option<String>,
    amount_refunded: i64,
    last_error: Option<Value>,
    cancellation_reason: Option<String>,
}

#[derive(Debug, Default)]
struct Inner {
    secret_key: String,
    webhook_secret: String,
    intents: BTreeMap<String, FakeIntent>,
    /// Idempotency key → (request fingerprint, status, body).
    replays: HashMap<String, (String, u16, String)>,
    refunds: Vec<Value>,
    events: Vec<FakeEvent>,
    webhook_url: Option<String>,
    next_id: u64,
    requests: Vec<String>,
}

impl Inner {
    fn id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}_fake{:08}", self.next_id)
    }
}

/// The running fake.
#[derive(Clone, Debug)]
pub struct FakeStripe {
    /// `http://127.0.0.1:PORT/`: what `PARKD_STRIPE_API_BASE` should be.
    pub url: String,
    inner: Arc<Mutex<Inner>>,
    _shutdown: Arc<oneshot::Sender<()>>,
}

type Shared = Arc<Mutex<Inner>>;

fn lock(inner: &Shared) -> MutexGuard<'_, Inner> {
    inner.lock().unwrap_or_else(|p| p.into_inner())
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A Stripe error answer.
fn stripe_error(status: StatusCode, kind: &str, code: Option<&str>, message: &str) -> (u16, Value) {
    let mut error = json!({"type": kind, "message": message});
    if let Some(code) = code {
        error["code"] = json!(code);
    }
    (status.as_u16(), json!({ "error": error }))
}

fn intent_json(i: &FakeIntent) -> Value {
    json!({
        "id": i.id,
        "object": "payment_intent",
        "amount": i.amount,
        "amount_capturable": 0,
        "amount_received": if i.status == "succeeded" { i.amount } else { 0 },
        "capture_method": "automatic",
        "client_secret": i.client_secret,
        "confirmation_method": "automatic",
        "created": i.created,
        "currency": i.currency,
        "livemode": false,
        "metadata": i.metadata,
        "payment_method_types": ["card"],
        "status": i.status,
        "latest_charge": i.charge,
        "last_payment_error": i.last_error,
        "canceled_at": if i.status == "canceled" { Some(now()) } else { None },
        "cancellation_reason": i.cancellation_reason,
    })
}

fn charge_json(i: &FakeIntent) -> Value {
    json!({
        "id": i.charge,
        "object": "charge",
        "amount": i.amount,
        "amount_captured": i.amount,
        "amount_refunded": i.amount_refunded,
        "billing_details": {"address": null, "email": null, "name": null, "phone": null},
        "captured": true,
        "created": i.created,
        "currency": i.currency,
        "disputed": false,
        "livemode": false,
        "metadata": {},
        "paid": true,
        "payment_intent": i.id,
        "refunded": i.amount_refunded >= i.amount,
        "status": "succeeded",
    })
}

/// Signs `payload` as Stripe does, at `timestamp`.
pub fn sign(payload: &str, secret: &str, timestamp: i64) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{timestamp}.{payload}").as_bytes());
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// Records an event and, when a target is set, sends it in the background.
fn emit(guard: &mut Inner, kind: &str, object: Value) {
    let id = guard.id("evt");
    let payload = json!({
        "id": id,
        "object": "event",
        "api_version": API_VERSION,
        "created": now(),
        "data": {"object": object},
        "livemode": false,
        "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null},
        "type": kind,
    })
    .to_string();
    let event = FakeEvent {
        id,
        kind: kind.to_owned(),
        payload,
    };
    guard.events.push(event.clone());
    if let Some(url) = guard.webhook_url.clone() {
        let secret = guard.webhook_secret.clone();
        tokio::spawn(async move {
            let _ = post_event(&url, &event, &secret, now()).await;
        });
    }
}

async fn post_event(
    url: &str,
    event: &FakeEvent,
    secret: &str,
    timestamp: i64,
) -> Result<u16, String> {
    reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("Stripe-Signature", sign(&event.payload, secret, timestamp))
        .body(event.payload.clone())
        .send()
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| e.to_string())
}

type Form = Vec<(String, String)>;

fn field<'a>(form: &'a Form, name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Checks the key, then answers from the idempotency cache or runs `op`.
fn handle(
    inner: &Shared,
    headers: &HeaderMap,
    fingerprint: String,
    op: impl FnOnce(&mut Inner) -> (u16, Value),
) -> Response {
    let mut guard = lock(inner);
    guard.requests.push(fingerprint.clone());
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let expected = format!("Bearer {}", guard.secret_key);
    if bearer != expected {
        let (status, body) = stripe_error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            None,
            "Invalid API Key provided",
        );
        return answer(status, body.to_string(), false);
    }
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(key) = &key
        && let Some((seen, status, body)) = guard.replays.get(key).cloned()
    {
        if seen == fingerprint {
            return answer(status, body, true);
        }
        let (status, body) = stripe_error(
            StatusCode::BAD_REQUEST,
            "idempotency_error",
            None,
            "Keys for idempotent requests can only be used with the same parameters they were first used with.",
        );
        return answer(status, body.to_string(), false);
    }
    let (status, body) = op(&mut guard);
    let body = body.to_string();
    if let Some(key) = key {
        guard
            .replays
            .insert(key, (fingerprint, status, body.clone()));
    }
    answer(status, body, false)
}

fn answer(status: u16, body: String, replayed: bool) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, [("content-type", "application/json")], body).into_response();
    if replayed {
        response.headers_mut().insert(
            "idempotent-replayed",
            axum::http::HeaderValue::from_static("true"),
        );
    }
    response
}

async fn create_intent(State(inner): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let form: Form = serde_urlencoded::from_str(&body).unwrap_or_default();
    handle(
        &inner,
        &headers,
        format!("POST /v1/payment_intents {body}"),
        |g| {
            let amount = field(&form, "amount").and_then(|a| a.parse::<i64>().ok());
            let currency = field(&form, "currency").map(str::to_owned);
            let (Some(amount), Some(currency)) = (amount, currency) else {
                return stripe_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    Some("parameter_missing"),
                    "Missing required param: amount or currency.",
                );
            };
            if amount < 1 {
                return stripe_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    Some("amount_too_small"),
                    "Amount must be at least 1.",
                );
            }
            let metadata = form
                .iter()
                .filter_map(|(k, v)| {
                    k.strip_prefix("metadata[")
                        .and_then(|k| k.strip_suffix(']'))
                        .map(|k| (k.to_owned(), v.clone()))
                })
                .collect();
            let id = g.id("pi");
            let intent = FakeIntent {
                client_secret: format!("{id}_secret_fake"),
                id: id.clone(),
                amount,
                currency,
                status: "requires_payment_method",
                metadata,
                created: now(),
                charge: None,
                amount_refunded: 0,
                last_error: None,
                cancellation_reason: None,
            };
            let body = intent_json(&intent);
            g.intents.insert(id, intent);
            (200, body)
        },
    )
}

async fn retrieve_intent(
    State(inner): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    handle(
        &inner,
        &headers,
        format!("GET /v1/payment_intents/{id}"),
        |g| match g.intents.get(&id) {
            Some(i) => (200, intent_json(i)),
            None => no_such_intent(&id),
        },
    )
}

fn no_such_intent(id: &str) -> (u16, Value) {
    stripe_error(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        Some("resource_missing"),
        &format!("No such payment_intent: '{id}'"),
    )
}

fn unexpected_state(i: &FakeIntent, action: &str) -> (u16, Value) {
    stripe_error(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        Some("payment_intent_unexpected_state"),
        &format!(
            "You cannot {action} this PaymentIntent because it has a status of {}.",
            i.status
        ),
    )
}

/// Settles an intent as a payer would: with `pm_card_chargeDeclined` a
/// decline, otherwise a success; emits the webhook.
fn settle(g: &mut Inner, id: &str, payment_method: &str) -> (u16, Value) {
    let Some(mut intent) = g.intents.get(id).cloned() else {
        return no_such_intent(id);
    };
    if matches!(intent.status, "succeeded" | "canceled") {
        return unexpected_state(&intent, "confirm");
    }
    if payment_method == DECLINED_CARD {
        let error = json!({
            "type": "card_error",
            "code": "card_declined",
            "decline_code": "generic_decline",
            "message": "Your card was declined.",
        });
        intent.status = "requires_payment_method";
        intent.last_error = Some(error.clone());
        let object = intent_json(&intent);
        g.intents.insert(id.to_owned(), intent);
        emit(g, "payment_intent.payment_failed", object.clone());
        let mut error = error;
        error["payment_intent"] = object;
        return (402, json!({ "error": error }));
    }
    intent.status = "succeeded";
    intent.last_error = None;
    intent.charge = Some(g.id("ch"));
    let object = intent_json(&intent);
    g.intents.insert(id.to_owned(), intent);
    emit(g, "payment_intent.succeeded", object.clone());
    (200, object)
}

async fn confirm_intent(
    State(inner): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: String,
) -> Response {
    let form: Form = serde_urlencoded::from_str(&body).unwrap_or_default();
    handle(
        &inner,
        &headers,
        format!("POST /v1/payment_intents/{id}/confirm {body}"),
        |g| {
            let pm = field(&form, "payment_method")
                .unwrap_or("pm_card_visa")
                .to_owned();
            settle(g, &id, &pm)
        },
    )
}

async fn cancel_intent(
    State(inner): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: String,
) -> Response {
    let form: Form = serde_urlencoded::from_str(&body).unwrap_or_default();
    handle(
        &inner,
        &headers,
        format!("POST /v1/payment_intents/{id}/cancel {body}"),
        |g| {
            let Some(mut intent) = g.intents.get(&id).cloned() else {
                return no_such_intent(&id);
            };
            if matches!(intent.status, "succeeded" | "canceled") {
                return unexpected_state(&intent, "cancel");
            }
            intent.status = "canceled";
            intent.cancellation_reason = field(&form, "cancellation_reason")
                .map(str::to_owned)
                .or(Some("requested_by_customer".into()));
            let object = intent_json(&intent);
            g.intents.insert(id.clone(), intent);
            emit(g, "payment_intent.canceled", object.clone());
            (200, object)
        },
    )
}

async fn create_refund(State(inner): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let form: Form = serde_urlencoded::from_str(&body).unwrap_or_default();
    handle(&inner, &headers, format!("POST /v1/refunds {body}"), |g| {
        let Some(id) = field(&form, "payment_intent").map(str::to_owned) else {
            return stripe_error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                Some("parameter_missing"),
                "Missing required param: payment_intent.",
            );
        };
        let Some(mut intent) = g.intents.get(&id).cloned() else {
            return no_such_intent(&id);
        };
        if intent.status != "succeeded" {
            return stripe_error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                Some("charge_not_refundable"),
                "This PaymentIntent has no successful charge to refund.",
            );
        }
        let left = intent.amount - intent.amount_refunded;
        let amount = match field(&form, "amount").map(str::parse::<i64>) {
            Some(Ok(a)) => a,
            Some(Err(_)) => {
                return stripe_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    Some("parameter_invalid_integer"),
                    "Invalid integer: amount",
                );
            }
            None => left,
        };
        if amount < 1 || amount > left {
            return stripe_error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                Some("amount_too_large"),
                &format!(
                    "Refund amount ({amount}) is greater than unrefunded amount on charge ({left})"
                ),
            );
        }
        intent.amount_refunded += amount;
        let refund_id = g.id("re");
        let metadata: BTreeMap<String, String> = form
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("metadata[")
                    .and_then(|k| k.strip_suffix(']'))
                    .map(|k| (k.to_owned(), v.clone()))
            })
            .collect();
        let refund = json!({
            "id": refund_id,
            "object": "refund",
            "amount": amount,
            "charge": intent.charge,
            "created": now(),
            "currency": intent.currency,
            "metadata": metadata,
            "payment_intent": intent.id,
            "status": "succeeded",
        });
        g.refunds.push(refund.clone());
        let charge = charge_json(&intent);
        g.intents.insert(id, intent);
        emit(g, "charge.refunded", charge);
        (200, refund)
    })
}

impl FakeStripe {
    /// Starts the fake on `127.0.0.1:0`, accepting `secret_key` and signing
    /// webhooks with `webhook_secret`.
    pub async fn start(secret_key: &str, webhook_secret: &str) -> FakeStripe {
        let inner: Shared = Arc::new(Mutex::new(Inner {
            secret_key: secret_key.to_owned(),
            webhook_secret: webhook_secret.to_owned(),
            ..Inner::default()
        }));
        let app = Router::new()
            .route("/v1/payment_intents", post(create_intent))
            .route("/v1/payment_intents/{id}", get(retrieve_intent))
            .route("/v1/payment_intents/{id}/confirm", post(confirm_intent))
            .route("/v1/payment_intents/{id}/cancel", post(cancel_intent))
            .route("/v1/refunds", post(create_refund))
            .fallback(|| async {
                let (status, body) = stripe_error(
                    StatusCode::NOT_FOUND,
                    "invalid_request_error",
                    None,
                    "Unrecognized request URL.",
                );
                answer(status, body.to_string(), false)
            })
            .with_state(Arc::clone(&inner));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake Stripe");
        let url = format!("http://{}/", listener.local_addr().expect("address"));
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        FakeStripe {
            url,
            inner,
            _shutdown: Arc::new(tx),
        }
    }

    /// Sends every later webhook to `url` as it happens.
    pub fn deliver_to(&self, url: &str) {
        lock(&self.inner).webhook_url = Some(url.to_owned());
    }

    /// Stops sending webhooks as they happen (they are still recorded).
    pub fn hold_webhooks(&self) {
        lock(&self.inner).webhook_url = None;
    }

    /// Every webhook produced so far, in order.
    pub fn events(&self) -> Vec<FakeEvent> {
        lock(&self.inner).events.clone()
    }

    /// The webhook secret.
    pub fn webhook_secret(&self) -> String {
        lock(&self.inner).webhook_secret.clone()
    }

    /// Posts `event` to `url` signed at `timestamp` (Unix seconds); the status.
    pub async fn post_event(&self, url: &str, event: &FakeEvent, timestamp: i64) -> u16 {
        let secret = self.webhook_secret();
        post_event(url, event, &secret, timestamp)
            .await
            .unwrap_or(0)
    }

    /// How many intents were created.
    pub fn intents_created(&self) -> usize {
        lock(&self.inner).intents.len()
    }

    /// The ids of the intents created, in order.
    pub fn intent_ids(&self) -> Vec<String> {
        lock(&self.inner).intents.keys().cloned().collect()
    }

    /// An intent's `(status, amount, currency, metadata)`.
    pub fn intent(&self, id: &str) -> Option<(String, i64, String, BTreeMap<String, String>)> {
        lock(&self.inner).intents.get(id).map(|i| {
            (
                i.status.to_owned(),
                i.amount,
                i.currency.clone(),
                i.metadata.clone(),
            )
        })
    }

    /// The refunds made, as Stripe's JSON.
    pub fn refunds(&self) -> Vec<Value> {
        lock(&self.inner).refunds.clone()
    }

    /// Every request line received (`POST /v1/payment_intents amount=…`).
    pub fn requests(&self) -> Vec<String> {
        lock(&self.inner).requests.clone()
    }

    /// The payer's app confirms the intent with Stripe and it succeeds.
    pub fn complete(&self, intent_id: &str) -> u16 {
        let mut guard = lock(&self.inner);
        settle(&mut guard, intent_id, "pm_card_visa").0
    }

    /// The payer's app confirms the intent and the card is declined.
    pub fn decline(&self, intent_id: &str) -> u16 {
        let mut guard = lock(&self.inner);
        settle(&mut guard, intent_id, DECLINED_CARD).0
    }
}
