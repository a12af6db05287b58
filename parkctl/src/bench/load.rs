//! The load itself: one tokio task per connection, each sending requests one
//! after another over the shared client's keep-alive pool (closed loop), or
//! on a [`Schedule`] (open loop), until the duration is up. Each task keeps
//! its own [`Histogram`]s; they are merged when every task has returned.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::ValueEnum;
use parking_client::api::{CreateReservationRequest, LotSearchQuery};
use parking_client::{Client, ClientError};
use serde::Serialize;
use tokio::time::Instant;
use uuid::Uuid;

use super::histogram::Histogram;
use super::pacing::Schedule;

/// How far from the centre searches go, metres (and the search radius).
pub const SEARCH_RADIUS_M: u32 = 2000;
/// How long requests still in flight at the end may take before they are
/// given up and counted as timeouts.
pub const GRACE: Duration = Duration::from_secs(5);
/// Bookings spread over this many one-hour slots (60 days) before a
/// (lot, slot) window comes round again.
pub const SLOTS: u64 = 24 * 60;
/// Share of bookings in the mixed scenario.
const MIXED_BOOK_SHARE: f64 = 0.10;

/// What the load consists of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
    /// `GET /parking-lots` around random points within 2 km of the centre.
    Search,
    /// `POST /reservations`, each on its own (lot, one-hour slot) window.
    Book,
    /// 90 % search, 10 % book.
    Mixed,
}

impl Scenario {
    /// Whether the scenario books (and so needs lots and a driver).
    pub fn books(self) -> bool {
        matches!(self, Scenario::Book | Scenario::Mixed)
    }
}

/// One kind of request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// A nearby search.
    Search,
    /// A booking.
    Book,
}

/// Everything a run needs to know.
#[derive(Clone, Debug)]
pub struct Plan {
    /// What to send.
    pub scenario: Scenario,
    /// Concurrent connections (tasks).
    pub connections: u32,
    /// How long to send for.
    pub duration: Duration,
    /// Total requests per second (open loop); `None`: as fast as answered.
    pub rate: Option<u64>,
    /// Searches are around this point (latitude, longitude).
    pub centre: (f64, f64),
    /// The lots bookings go to.
    pub lots: Vec<Uuid>,
    /// The start of the first booking slot (a future whole hour).
    pub first_slot: DateTime<Utc>,
}

/// The tally for one kind of request.
#[derive(Clone, Debug, Default)]
pub struct OpStats {
    /// Latency of every answered (or failed) request, µs.
    pub latency: Histogram,
    /// 2xx answers.
    pub ok: u64,
    /// 409 answers: the window was taken. Not errors: they are the server
    /// refusing a double booking, which is its job.
    pub conflicts: u64,
    /// Failures by kind (`http 500`, `connection`, `timeout`…).
    pub errors: BTreeMap<String, u64>,
}

impl OpStats {
    /// Adds `other` to this.
    pub fn merge(&mut self, other: &OpStats) {
        self.latency.merge(&other.latency);
        self.ok += other.ok;
        self.conflicts += other.conflicts;
        for (kind, n) in &other.errors {
            *self.errors.entry(kind.clone()).or_default() += n;
        }
    }

    fn error(&mut self, kind: impl Into<String>) {
        *self.errors.entry(kind.into()).or_default() += 1;
    }
}

/// The result of a run.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Per kind of request.
    pub ops: BTreeMap<Op, OpStats>,
    /// From the first request to the last answer.
    pub elapsed: Duration,
}

/// The error kind a failed call is counted under; `None` for a conflict.
pub fn classify(error: &ClientError) -> Option<String> {
    match error {
        ClientError::Api { status: 409, .. } => None,
        ClientError::Api { status, .. } => Some(format!("http {status}")),
        ClientError::Connect { .. } | ClientError::Transport(_) => Some("connection".into()),
        ClientError::Timeout { .. } => Some("timeout".into()),
        ClientError::Decode { .. } => Some("decode".into()),
        ClientError::Auth(_) => Some("auth".into()),
    }
}

/// Runs `plan` against `client` (logged in as the booking driver when the
/// scenario books) and returns the merged tallies.
pub async fn run(client: Client, plan: Arc<Plan>) -> Stats {
    let start = Instant::now();
    let bookings = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..plan.connections)
        .map(|index| {
            tokio::spawn(connection(
                client.clone(),
                Arc::clone(&plan),
                index,
                start,
                Arc::clone(&bookings),
            ))
        })
        .collect();
    let mut stats = Stats::default();
    for task in tasks {
        match task.await {
            Ok(ops) => {
                for (op, s) in ops {
                    stats.ops.entry(op).or_default().merge(&s);
                }
            }
            Err(_) => stats
                .ops
                .entry(Op::Search)
                .or_default()
                .error("task panicked"),
        }
    }
    stats.elapsed = start.elapsed();
    stats
}

/// One connection's loop.
async fn connection(
    client: Client,
    plan: Arc<Plan>,
    index: u32,
    start: Instant,
    bookings: Arc<AtomicU64>,
) -> BTreeMap<Op, OpStats> {
    let deadline = start + plan.duration;
    let hard_deadline = deadline + GRACE;
    let schedule = plan
        .rate
        .and_then(|rate| Schedule::new(rate, u64::from(plan.connections), u64::from(index)));
    let mut rng = SplitMix::new(0x5EED ^ u64::from(index));
    let mut ops: BTreeMap<Op, OpStats> = BTreeMap::new();
    let mut k = 0;
    loop {
        // Latency counts from when the request was due (open loop) or sent.
        let due = match schedule {
            Some(s) => {
                let due = start + s.due(k);
                if due >= deadline {
                    break;
                }
                tokio::time::sleep_until(due).await;
                due
            }
            None => {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                now
            }
        };
        k += 1;
        let op = match plan.scenario {
            Scenario::Search => Op::Search,
            Scenario::Book => Op::Book,
            Scenario::Mixed if rng.unit() < MIXED_BOOK_SHARE => Op::Book,
            Scenario::Mixed => Op::Search,
        };
        let call = async {
            match op {
                Op::Search => {
                    let (lat, lng) = point_near(plan.centre, &mut rng);
                    client.search_lots(&search_query(lat, lng)).await.map(drop)
                }
                Op::Book => {
                    let n = bookings.fetch_add(1, Ordering::Relaxed);
                    let request = booking(&plan.lots, plan.first_slot, n);
                    client.create_reservation(&request, None).await.map(drop)
                }
            }
        };
        let result = tokio::time::timeout_at(hard_deadline, call).await;
        let stats = ops.entry(op).or_default();
        stats.latency.record(due.elapsed());
        match result {
            Ok(Ok(())) => stats.ok += 1,
            Ok(Err(e)) => match classify(&e) {
                None => stats.conflicts += 1,
                Some(kind) => stats.error(kind),
            },
            Err(_) => {
                stats.error("timeout");
                break;
            }
        }
    }
    ops
}

fn search_query(lat: f64, lng: f64) -> LotSearchQuery {
    LotSearchQuery {
        lat,
        lng,
        radius: Some(SEARCH_RADIUS_M),
        spot_type: None,
        start_time: None,
        end_time: None,
        max_price: None,
        page: None,
        per_page: None,
    }
}

/// Booking number `n`: lot `n mod L`, one-hour slot `(n div L) mod SLOTS`
/// after `first_slot`, so the first `L × SLOTS` bookings all have windows of
/// their own, and later ones share a window only with a booking made
/// `L × SLOTS` bookings earlier (another spot of the lot).
pub fn booking(lots: &[Uuid], first_slot: DateTime<Utc>, n: u64) -> CreateReservationRequest {
    let count = lots.len().max(1) as u64;
    let lot = lots
        .get((n % count) as usize)
        .copied()
        .unwrap_or_else(Uuid::nil);
    let slot = (n / count) % SLOTS;
    let start = first_slot + chrono::Duration::hours(slot as i64);
    CreateReservationRequest {
        lot_id: lot,
        spot_id: None,
        spot_type: None,
        start_time: start,
        end_time: start + chrono::Duration::hours(1),
        hold: None,
        expected_total: None,
    }
}

/// A uniformly random point within [`SEARCH_RADIUS_M`] of `centre`.
fn point_near(centre: (f64, f64), rng: &mut SplitMix) -> (f64, f64) {
    let distance = f64::from(SEARCH_RADIUS_M) * rng.unit().sqrt();
    let bearing = std::f64::consts::TAU * rng.unit();
    offset(centre, distance, bearing)
}

/// The point `distance` metres from `centre` at `bearing` radians (flat-earth
/// approximation, fine at a few kilometres).
pub fn offset(centre: (f64, f64), distance: f64, bearing: f64) -> (f64, f64) {
    const METRES_PER_DEGREE: f64 = 111_320.0;
    let (lat, lng) = centre;
    let dlat = distance * bearing.cos() / METRES_PER_DEGREE;
    let dlng = distance * bearing.sin() / (METRES_PER_DEGREE * lat.to_radians().cos());
    (lat + dlat, lng + dlng)
}

/// SplitMix64: a small, fast, seedable generator (quality is plenty for
/// picking points and shares).
#[derive(Clone, Debug)]
pub struct SplitMix(u64);

impl SplitMix {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn haversine(a: (f64, f64), b: (f64, f64)) -> f64 {
        let (la1, lo1) = (a.0.to_radians(), a.1.to_radians());
        let (la2, lo2) = (b.0.to_radians(), b.1.to_radians());
        let h = ((la2 - la1) / 2.0).sin().powi(2)
            + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
        2.0 * 6_371_000.0 * h.sqrt().asin()
    }

    #[test]
    fn search_points_stay_within_the_radius() {
        let centre = (51.0507, 13.7418);
        let mut rng = SplitMix::new(1);
        let mut farthest: f64 = 0.0;
        for _ in 0..10_000 {
            let d = haversine(centre, point_near(centre, &mut rng));
            farthest = farthest.max(d);
        }
        assert!(farthest <= 2000.0 * 1.005, "{farthest}");
        assert!(
            farthest > 1900.0,
            "{farthest}: points should reach the edge"
        );
    }

    #[test]
    fn bookings_have_windows_of_their_own_until_the_slots_run_out() {
        let lots = [Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3)];
        let first = DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let windows: HashSet<_> = (0..3 * SLOTS)
            .map(|n| {
                let b = booking(&lots, first, n);
                assert_eq!(b.end_time - b.start_time, chrono::Duration::hours(1));
                (b.lot_id, b.start_time)
            })
            .collect();
        assert_eq!(windows.len() as u64, 3 * SLOTS);
        let again = booking(&lots, first, 3 * SLOTS);
        assert_eq!((again.lot_id, again.start_time), (lots[0], first));
    }

    #[test]
    fn conflicts_are_not_errors() {
        let api = |status| ClientError::Api {
            status,
            problem: Box::new(parking_client::api::Problem::new(status, "x", "y")),
        };
        assert_eq!(classify(&api(409)), None);
        assert_eq!(classify(&api(500)).as_deref(), Some("http 500"));
        assert_eq!(
            classify(&ClientError::Timeout { server: "s".into() }).as_deref(),
            Some("timeout")
        );
    }
}
