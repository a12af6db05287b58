//! Kafka: the message every outbox event becomes, and (feature `kafka`) the
//! publisher that sends the outbox to a topic.
//!
//! # The message
//!
//! - **Topic**: `kafka_topic` (default `parking_events`).
//! - **Key**: the lot id (UUID text), so every event of a lot lands in one
//!   partition and keeps its order; events about no lot (user registrations)
//!   share the key [`NO_LOT_KEY`] and keep theirs too.
//! - **Value**: versioned JSON ([`KafkaMessage`], version [`MESSAGE_VERSION`]):
//!   `{"version":1,"seq":42,"lot_id":"…","lot_seq":7,"type":"parking_spot_booked",
//!   "occurred_at":"2026-…Z","event":{"type":"parking_spot_booked",…}}`. `event` is
//!   the domain event exactly as `GET /api/v1/events` shows it; a consumer
//!   dispatches on `version` first.
//!
//! # Guarantees (DESIGN.md invariant 4)
//!
//! The publisher reads the outbox after its own persisted cursor (`kafka` in
//! `consumer_cursors`), sends a batch, and moves the cursor only after the
//! brokers acknowledged every message of it (`acks=all`). The producer is
//! idempotent, so retries inside librdkafka neither reorder nor duplicate a
//! partition. A failed batch is sent again whole after a back-off: a consumer
//! may see an event more than once, never out of order for the first time, and
//! skips what it has seen by keeping the highest `lot_seq` per lot (`seq` for
//! events without a lot). With the brokers down the events wait in the outbox;
//! the API and the in-process bus do not wait for Kafka.
//!
//! # Several instances on one database
//!
//! With PostgreSQL, every instance runs the publisher loop, but only the one
//! holding the job lock ([`Cluster::try_lead`](crate::store::Cluster::try_lead),
//! the lock the sweeps run under) publishes; the others wait and ask again.
//! A publisher that takes over reads the shared `kafka` cursor afresh. Two
//! instances briefly both believing they lead (a half-open connection) can
//! only send a batch twice, which consumers already skip; the cursor never
//! moves back (`GREATEST`).

use chrono::{DateTime, Utc};
use parking_core::events::DomainEvent;
use parking_core::model::LotId;
use serde::{Deserialize, Serialize};

use crate::store::interface::StoredEvent;

/// The version of [`KafkaMessage`]'s layout; bumped on any change a consumer
/// could trip over.
pub const MESSAGE_VERSION: u32 = 1;
/// The key of events that belong to no lot.
pub const NO_LOT_KEY: &str = "no-lot";
/// The name of the publisher's cursor in `consumer_cursors`.
pub const CURSOR: &str = "kafka";

/// The JSON value of one Kafka message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KafkaMessage {
    /// [`MESSAGE_VERSION`].
    pub version: u32,
    /// Position in parkd's whole event log.
    pub seq: u64,
    /// The lot, when the event is about one.
    pub lot_id: Option<LotId>,
    /// Position in the lot's own sequence (1, 2, 3, …).
    pub lot_seq: Option<u64>,
    /// The event's type name, also inside `event`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// When the change happened.
    pub occurred_at: DateTime<Utc>,
    /// The domain event.
    pub event: DomainEvent,
}

impl KafkaMessage {
    /// The message for a stored event.
    pub fn new(event: &StoredEvent) -> KafkaMessage {
        KafkaMessage {
            version: MESSAGE_VERSION,
            seq: event.seq,
            lot_id: event.lot_id,
            lot_seq: event.lot_seq,
            event_type: event.event_type.clone(),
            occurred_at: event.occurred_at,
            event: event.payload.clone(),
        }
    }
}

/// The message key of `event`: its lot, or [`NO_LOT_KEY`].
pub fn message_key(event: &StoredEvent) -> String {
    event
        .lot_id
        .map_or_else(|| NO_LOT_KEY.to_owned(), |lot| lot.to_string())
}

/// The message value of `event`.
pub fn message_value(event: &StoredEvent) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&KafkaMessage::new(event))
}

#[cfg(feature = "kafka")]
pub use publisher::{KafkaSettings, run, spawn};

/// The publisher loop over rdkafka.
#[cfg(feature = "kafka")]
mod publisher {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use rdkafka::config::RDKafkaLogLevel;
    use rdkafka::error::{KafkaError, RDKafkaErrorCode};
    use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
    use rdkafka::{ClientConfig, ClientContext};
    use tokio::sync::broadcast::error::TryRecvError;
    use tokio::task::JoinHandle;

    use super::{CURSOR, message_key, message_value};
    use crate::config::Config;
    use crate::outbox::{BATCH, EventBus, POLL_INTERVAL};
    use crate::state::AppState;
    use crate::store::interface::{Store, StoredEvent};

    /// First wait after a failure; doubles up to [`MAX_BACKOFF`].
    const FIRST_BACKOFF: Duration = Duration::from_millis(500);
    /// Longest wait between two attempts.
    const MAX_BACKOFF: Duration = Duration::from_secs(30);
    /// How often the lag gauge is refreshed while a batch waits for the brokers.
    const LAG_REFRESH: Duration = Duration::from_secs(5);
    /// How long to wait when librdkafka's local queue is full.
    const QUEUE_FULL_WAIT: Duration = Duration::from_millis(20);
    /// At most one warning per this interval for librdkafka's client errors.
    const CLIENT_WARNING_INTERVAL: Duration = Duration::from_secs(60);
    /// How often an instance that does not publish asks whether it should
    /// now (the job leader's tick, `app::spawn_jobs`).
    const FOLLOWER_WAIT: Duration = Duration::from_secs(5);

    /// The producer, with its callbacks.
    type KafkaProducer = FutureProducer<QuietContext>;

    /// librdkafka's callbacks, made bearable: with a broker down it reports
    /// every failed connection attempt (several lines a second at first, then
    /// every couple of seconds, for as long as the outage lasts). Its log lines
    /// go to `debug`; its errors are counted, and warned about at most once a
    /// minute with how many were held back.
    #[derive(Debug, Default)]
    struct QuietContext {
        warned: Mutex<Option<Instant>>,
        held_back: AtomicU64,
    }

    impl ClientContext for QuietContext {
        fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
            tracing::debug!(target: "librdkafka", ?level, facility, "{message}");
        }

        fn error(&self, error: KafkaError, reason: &str) {
            metrics::counter!("parkd_kafka_errors_total", "reason" => "client").increment(1);
            mark_error_time();
            let now = Instant::now();
            let due = {
                let mut warned = self.warned.lock().unwrap_or_else(|p| p.into_inner());
                let due = warned.is_none_or(|at| now.duration_since(at) >= CLIENT_WARNING_INTERVAL);
                if due {
                    *warned = Some(now);
                }
                due
            };
            if due {
                let held_back = self.held_back.swap(0, Ordering::Relaxed);
                tracing::warn!(error = %error, reason, held_back, "kafka client error");
            } else {
                self.held_back.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Where and how to publish.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct KafkaSettings {
        /// Bootstrap brokers, `host:port,…`.
        pub brokers: String,
        /// The topic.
        pub topic: String,
        /// The producer's client id.
        pub client_id: String,
    }

    impl KafkaSettings {
        /// The settings of `config`, if Kafka is on.
        pub fn from_config(config: &Config) -> Option<KafkaSettings> {
            config.kafka_brokers.as_ref().map(|brokers| KafkaSettings {
                brokers: brokers.clone(),
                topic: config.kafka_topic.clone(),
                client_id: config.kafka_client_id.clone(),
            })
        }

        fn producer(&self) -> Result<KafkaProducer, KafkaError> {
            ClientConfig::new()
                .set("bootstrap.servers", &self.brokers)
                .set("client.id", &self.client_id)
                // Idempotence: acks=all, at most 5 requests in flight, and
                // librdkafka's own retries keep each partition's order.
                .set("enable.idempotence", "true")
                // Never time a message out. An idempotent producer keeps order
                // but leaves a gap where messages timed out while later ones got
                // through (librdkafka's "message timeout considerations"); a
                // batch resent after such a gap would reach consumers out of
                // order. So a batch waits, however long the brokers are away;
                // the lag gauge and the client errors show the outage.
                .set("message.timeout.ms", "0")
                // Notice a returning broker within seconds, not the default 10 s.
                .set("reconnect.backoff.max.ms", "2000")
                // The topic is the operator's to create, with the partitions
                // they want; until it exists the events wait in the outbox and
                // the error is logged, rather than a topic of broker defaults
                // appearing.
                .set("allow.auto.create.topics", "false")
                // The Java client's partitioner: other producers of the same keys
                // pick the same partitions.
                .set("partitioner", "murmur2_random")
                .create_with_context(QuietContext::default())
        }
    }

    /// Why a batch was not published; each is retried after a back-off.
    #[derive(Debug, thiserror::Error)]
    enum PublishError {
        #[error("encoding event {seq}: {source}")]
        Encode { seq: u64, source: serde_json::Error },
        #[error("queueing event {seq}: {source}")]
        Enqueue { seq: u64, source: KafkaError },
        #[error("delivering event {seq}: {source}")]
        Delivery { seq: u64, source: KafkaError },
        #[error("the producer dropped event {seq} unanswered")]
        Dropped { seq: u64 },
    }

    impl PublishError {
        /// A bounded label for the error counter.
        fn reason(&self) -> &'static str {
            match self {
                PublishError::Encode { .. } => "encode",
                PublishError::Enqueue { .. } => "enqueue",
                PublishError::Delivery { .. } => "delivery",
                PublishError::Dropped { .. } => "dropped",
            }
        }
    }

    /// Hands `events` to the producer in order, then waits for every
    /// acknowledgement. Waiting for all of them even after a failure means no
    /// message of this attempt is still queued when the batch is sent again.
    async fn publish_batch(
        producer: &KafkaProducer,
        topic: &str,
        events: &[StoredEvent],
    ) -> Result<(), PublishError> {
        let mut deliveries: Vec<(u64, DeliveryFuture)> = Vec::with_capacity(events.len());
        let mut first_error = None;
        for event in events {
            let key = message_key(event);
            let value = match message_value(event) {
                Ok(value) => value,
                Err(source) => {
                    first_error = Some(PublishError::Encode {
                        seq: event.seq,
                        source,
                    });
                    break;
                }
            };
            let mut record = FutureRecord::to(topic).key(&key).payload(&value);
            let queued = loop {
                match producer.send_result(record) {
                    Ok(delivery) => break Ok(delivery),
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        record = back;
                        tokio::time::sleep(QUEUE_FULL_WAIT).await;
                    }
                    Err((source, _)) => break Err(source),
                }
            };
            match queued {
                Ok(delivery) => deliveries.push((event.seq, delivery)),
                Err(source) => {
                    first_error = Some(PublishError::Enqueue {
                        seq: event.seq,
                        source,
                    });
                    break;
                }
            }
        }
        for (seq, delivery) in deliveries {
            let failure = match delivery.await {
                Ok(Ok(_)) => None,
                Ok(Err((source, _))) => Some(PublishError::Delivery { seq, source }),
                Err(_canceled) => Some(PublishError::Dropped { seq }),
            };
            if first_error.is_none() {
                first_error = failure;
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Records how many events are in the outbox after `cursor`.
    async fn refresh_lag(store: &dyn Store, cursor: u64) {
        if let Ok(latest) = store.latest_event_seq().await {
            // Precision loss only past 2^53 events.
            #[allow(clippy::cast_precision_loss)]
            metrics::gauge!("parkd_kafka_lag_events").set(latest.saturating_sub(cursor) as f64);
        }
    }

    fn record_error(reason: &'static str, error: &dyn std::fmt::Display) {
        tracing::warn!(reason, error = %error, "kafka publishing failed; will retry");
        metrics::counter!("parkd_kafka_errors_total", "reason" => reason).increment(1);
        mark_error_time();
    }

    fn mark_error_time() {
        #[allow(clippy::cast_precision_loss)]
        metrics::gauge!("parkd_kafka_last_error_timestamp_seconds")
            .set(chrono::Utc::now().timestamp_millis() as f64 / 1000.0);
    }

    /// Waits for the dispatcher to publish something new (the bus), or the
    /// poll interval as a safety net.
    async fn wait_for_events(wake: &mut tokio::sync::broadcast::Receiver<Arc<StoredEvent>>) {
        tokio::select! {
            // Lagged and Closed wake too; the outbox read that follows decides.
            _ = wake.recv() => {}
            () = tokio::time::sleep(POLL_INTERVAL) => {}
        }
    }

    /// Forgets wake-ups already queued: the outbox read about to happen sees
    /// every event they announce.
    fn drain(wake: &mut tokio::sync::broadcast::Receiver<Arc<StoredEvent>>) {
        loop {
            match wake.try_recv() {
                Ok(_) | Err(TryRecvError::Lagged(_)) => {}
                Err(TryRecvError::Empty | TryRecvError::Closed) => return,
            }
        }
    }

    /// Whether this instance publishes now: always alone on its database, only
    /// while holding the job lock when several instances share one.
    async fn publishes_here(store: &dyn Store) -> Result<bool, crate::store::StoreError> {
        match store.cluster() {
            None => Ok(true),
            Some(cluster) => cluster.try_lead().await,
        }
    }

    /// The publisher loop; runs until aborted. `bus` only wakes it: the events
    /// themselves are read from the outbox after the `kafka` cursor.
    pub async fn run(store: Arc<dyn Store>, bus: EventBus, settings: KafkaSettings) {
        // `bus` lives in this frame until the loop ends, so `wake` never
        // reports Closed (which would turn the wait into a busy loop).
        let mut wake = bus.subscribe();
        let mut slot: Option<KafkaProducer> = None;
        let mut cursor: Option<u64> = None;
        let mut backoff = FIRST_BACKOFF;
        tracing::info!(brokers = %settings.brokers, topic = %settings.topic, "kafka publisher starts");
        loop {
            let failed: Option<(&'static str, String)> = 'attempt: {
                match publishes_here(store.as_ref()).await {
                    Ok(true) => {}
                    Ok(false) => {
                        // The leader moves the shared cursor meanwhile: read
                        // it again on taking over.
                        cursor = None;
                        tokio::time::sleep(FOLLOWER_WAIT).await;
                        break 'attempt None;
                    }
                    Err(e) => {
                        cursor = None;
                        break 'attempt Some(("store", e.to_string()));
                    }
                }
                let producer = match slot.take() {
                    Some(p) => p,
                    None => match settings.producer() {
                        Ok(p) => p,
                        Err(e) => break 'attempt Some(("client", e.to_string())),
                    },
                };
                // A fatal error (e.g. lost idempotence state) leaves a producer
                // unusable: it is then dropped, and the next attempt builds anew.
                let producer = &*slot.insert(producer);
                let current = match cursor {
                    Some(c) => c,
                    None => match store.consumer_cursor(CURSOR).await {
                        Ok(c) => {
                            tracing::info!(cursor = c, "kafka publisher resumes");
                            cursor = Some(c);
                            c
                        }
                        Err(e) => break 'attempt Some(("store", e.to_string())),
                    },
                };
                drain(&mut wake);
                let events = match store.events_after(current, None, None, BATCH).await {
                    Ok(events) => events,
                    Err(e) => break 'attempt Some(("store", e.to_string())),
                };
                refresh_lag(store.as_ref(), current).await;
                let Some(last) = events.last().map(|e| e.seq) else {
                    wait_for_events(&mut wake).await;
                    break 'attempt None;
                };
                let published = {
                    let publish = publish_batch(producer, &settings.topic, &events);
                    tokio::pin!(publish);
                    let mut lag_tick = tokio::time::interval(LAG_REFRESH);
                    lag_tick.tick().await;
                    loop {
                        tokio::select! {
                            result = &mut publish => break result,
                            _ = lag_tick.tick() => refresh_lag(store.as_ref(), current).await,
                        }
                    }
                };
                if let Err(e) = published {
                    if let Some((code, reason)) = producer.client().fatal_error() {
                        tracing::error!(
                            ?code,
                            reason,
                            "the kafka producer failed fatally; building a new one"
                        );
                        slot = None;
                    }
                    break 'attempt Some((e.reason(), e.to_string()));
                }
                if let Err(e) = store.set_consumer_cursor(CURSOR, last).await {
                    // Published but not recorded: the batch goes out again (at
                    // least once) once the cursor is read back.
                    cursor = None;
                    break 'attempt Some(("store", e.to_string()));
                }
                cursor = Some(last);
                metrics::counter!("parkd_kafka_published_total").increment(events.len() as u64);
                refresh_lag(store.as_ref(), last).await;
                None
            };
            match failed {
                None => backoff = FIRST_BACKOFF,
                Some((reason, error)) => {
                    record_error(reason, &error);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// Starts the publisher when `state`'s config names brokers.
    pub fn spawn(state: &AppState) -> Option<JoinHandle<()>> {
        let settings = KafkaSettings::from_config(&state.config)?;
        Some(tokio::spawn(run(
            Arc::clone(&state.store),
            state.events.clone(),
            settings,
        )))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use parking_core::model::{SpotId, UserId};
    use serde_json::json;

    use super::*;

    fn stored(seq: u64, lot: Option<LotId>, lot_seq: Option<u64>) -> StoredEvent {
        let payload = match lot {
            Some(lot_id) => DomainEvent::SpotStatusChanged {
                lot_id,
                spot_id: SpotId::from_u128(9),
                occupied: Some(true),
                in_service: true,
            },
            None => DomainEvent::UserRegistered {
                user_id: UserId::from_u128(5),
                tenant_id: None,
            },
        };
        StoredEvent {
            seq,
            lot_id: lot,
            lot_seq,
            event_type: payload.type_name().to_owned(),
            payload,
            occurred_at: Utc
                .with_ymd_and_hms(2026, 5, 1, 8, 30, 0)
                .single()
                .expect("valid instant"),
        }
    }

    #[test]
    fn the_message_is_versioned_json_keyed_by_lot() {
        let lot = LotId::from_u128(2);
        let event = stored(42, Some(lot), Some(7));
        assert_eq!(message_key(&event), lot.to_string());
        let value: serde_json::Value =
            serde_json::from_slice(&message_value(&event).expect("encodes")).expect("json");
        assert_eq!(
            value,
            json!({
                "version": 1,
                "seq": 42,
                "lot_id": lot.to_string(),
                "lot_seq": 7,
                "type": "spot_status_changed",
                "occurred_at": "2026-05-01T08:30:00Z",
                "event": serde_json::to_value(&event.payload).expect("event json"),
            })
        );
        let back: KafkaMessage = serde_json::from_value(value).expect("parses back");
        assert_eq!(back, KafkaMessage::new(&event));
    }

    #[test]
    fn events_without_a_lot_share_one_key() {
        let a = stored(1, None, None);
        let b = stored(2, None, None);
        assert_eq!(message_key(&a), NO_LOT_KEY);
        assert_eq!(message_key(&a), message_key(&b));
        let value: serde_json::Value =
            serde_json::from_slice(&message_value(&a).expect("encodes")).expect("json");
        assert_eq!(value["lot_id"], serde_json::Value::Null);
        assert_eq!(value["lot_seq"], serde_json::Value::Null);
        assert_eq!(value["event"]["type"], "user_registered");
    }
}
