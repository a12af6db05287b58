//! Load generator for `GET /api/v1/ws` (BENCHMARKS.md, "WebSocket fan-out").
//!
//! Starts a release parkd with the demo city over a fresh data directory on
//! 127.0.0.1, opens `--connections` WebSocket subscribers (each watching one
//! of the lots open around the clock, round-robin), then books one spot every
//! `--interval-ms` for `--seconds`, round-robin over those lots, and reports:
//!
//! - end-to-end latency: from sending the booking request to a subscriber
//!   reading the lot's `availability_update` for it (each booking is one
//!   event of its lot, so the `j`th booking of a lot is `seq = snapshot + j`);
//! - fan-out latency: from the update's `at` (when the hub counted the lot) to
//!   the subscriber reading it;
//! - parkd's resident memory (VmRSS) idle, with every subscriber connected, and
//!   at its peak during the run.
//!
//! Everything stays on loopback and stops by itself.
//!
//! ```sh
//! cargo build --release -p parkd --bin parkd --example ws_load
//! ulimit -n 20000   # both processes need one descriptor per connection
//! target/release/examples/ws_load --parkd target/release/parkd --connections 10000 --seconds 60
//! ```

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::Parser;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore, watch};
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;

#[derive(Parser, Debug)]
struct Args {
    /// The parkd binary to start.
    #[arg(long)]
    parkd: PathBuf,
    /// WebSocket subscribers.
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    /// How long to book, seconds.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// One booking every this many milliseconds.
    #[arg(long, default_value_t = 10)]
    interval_ms: u64,
    /// Use at most this many lots (1: every subscriber watches the same lot,
    /// the worst case for fan-out).
    #[arg(long)]
    max_lots: Option<usize>,
    /// Port for parkd on 127.0.0.1.
    #[arg(long, default_value_t = 18_095)]
    port: u16,
}

/// Kills the child parkd however the run ends.
struct Parkd(Child);

impl Drop for Parkd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// CPU seconds (user + system) a process has used, from `/proc/PID/stat`.
fn cpu_secs(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name (which may contain spaces) in parentheses.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<f64>().ok()))
        .sum();
    ticks / 100.0
}

/// The fields of a server message the subscribers look at.
#[derive(serde::Deserialize)]
struct Incoming<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(default)]
    seq: u64,
    #[serde(default)]
    at: Option<&'a str>,
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)] as f64 / 1000.0
}

fn summary(name: &str, mut micros: Vec<u64>) {
    micros.sort_unstable();
    println!(
        "{name}: n={} p50={:.1} ms p90={:.1} ms p99={:.1} ms max={:.1} ms",
        micros.len(),
        percentile(&micros, 50.0),
        percentile(&micros, 90.0),
        percentile(&micros, 99.0),
        percentile(&micros, 100.0)
    );
}

async fn start_parkd(args: &Args, dir: &Path) -> anyhow::Result<(Parkd, String)> {
    let base = format!("http://127.0.0.1:{}", args.port);
    let child = Command::new(&args.parkd)
        .args(["serve", "--demo", "--listen"])
        .arg(format!("127.0.0.1:{}", args.port))
        .arg("--data-dir")
        .arg(dir)
        .env("PARKD_RATE_LIMITS", "off")
        .env("PARKD_LOG_FORMAT", "json")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("parkd.err"))?)
        .spawn()
        .context("starting parkd")?;
    let parkd = Parkd(child);
    let client = reqwest::Client::new();
    for _ in 0..600 {
        if client
            .get(format!("{base}/ready"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok((parkd, base));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("parkd did not become ready; see {}", dir.display())
}

/// The demo driver's token and the lots open around the clock with at least
/// 100 spots (closed lots would refuse night-time slots).
async fn driver_and_lots(base: &str, dir: &Path) -> anyhow::Result<(String, Vec<String>)> {
    let client = reqwest::Client::new();
    let credentials: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("demo-credentials.json"))?)?;
    let driver = credentials["users"]
        .as_array()
        .and_then(|users| users.iter().find(|u| u[0] == "driver"))
        .context("no demo driver")?;
    let login: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": driver[1], "password": driver[2]}))
        .send()
        .await?
        .json()
        .await?;
    let token = login["access_token"]
        .as_str()
        .context("no access token")?
        .to_owned();
    let page: Value = client
        .get(format!(
            "{base}/api/v1/parking-lots?lat=51.05&lng=13.74&radius=50000&per_page=100"
        ))
        .send()
        .await?
        .json()
        .await?;
    let mut lots = Vec::new();
    for item in page["items"].as_array().context("no lots")? {
        let id = item["id"].as_str().context("lot id")?;
        let lot: Value = client
            .get(format!("{base}/api/v1/parking-lots/{id}"))
            .send()
            .await?
            .json()
            .await?;
        if lot["operating_hours"]["weekly"].is_null()
            && item["total_spots"].as_u64().unwrap_or(0) >= 100
        {
            lots.push(id.to_owned());
        }
    }
    if lots.is_empty() {
        bail!("no lot open around the clock");
    }
    Ok((token, lots))
}

/// What the subscribers measured.
#[derive(Default)]
struct Measured {
    end_to_end: Vec<u64>,
    fan_out: Vec<u64>,
}

struct Shared {
    started: Instant,
    /// Per lot, per booking of that lot: when it was sent, micros since `started`.
    booked_at: Vec<Vec<AtomicU64>>,
    measured: Mutex<Measured>,
    updates: AtomicUsize,
    closed_early: AtomicUsize,
}

async fn subscriber(
    url: String,
    lot: String,
    lot_index: usize,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    ready: Arc<AtomicUsize>,
    connecting: OwnedSemaphorePermit,
) -> anyhow::Result<()> {
    let mut connecting = Some(connecting);
    let (mut ws, _) = connect_async(&url).await?;
    ws.send(Message::text(
        json!({"type": "subscribe", "lots": [lot]}).to_string(),
    ))
    .await?;
    let mut last_seq = 0;
    let mut snapshot_seq = 0;
    let mut subscribed = false;
    let mut measured = Measured::default();
    loop {
        let message = tokio::select! {
            m = ws.next() => m,
            _ = stop.changed() => break,
        };
        let Some(message) = message else {
            shared.closed_early.fetch_add(1, Ordering::Relaxed);
            break;
        };
        let Message::Text(text) = message? else {
            continue;
        };
        let received = shared.started.elapsed().as_micros() as u64;
        let now = Utc::now();
        let message: Incoming<'_> = serde_json::from_str(text.as_str())?;
        match message.kind {
            "snapshot" if !subscribed => {
                subscribed = true;
                last_seq = message.seq;
                snapshot_seq = message.seq;
                ready.fetch_add(1, Ordering::Relaxed);
                connecting.take();
            }
            "availability_update" => {
                let seq = message.seq;
                if seq <= last_seq {
                    continue;
                }
                last_seq = seq;
                shared.updates.fetch_add(1, Ordering::Relaxed);
                let booked = usize::try_from(seq - snapshot_seq - 1)
                    .ok()
                    .and_then(|j| shared.booked_at[lot_index].get(j))
                    .map_or(0, |t| t.load(Ordering::Relaxed));
                if booked > 0 && received >= booked {
                    measured.end_to_end.push(received - booked);
                }
                if let Some(at) = message.at.and_then(|a| a.parse::<DateTime<Utc>>().ok()) {
                    let micros = (now - at).num_microseconds().unwrap_or(0).max(0);
                    measured.fan_out.push(micros as u64);
                }
            }
            _ => {}
        }
    }
    let mut all = shared.measured.lock().await;
    all.end_to_end.append(&mut measured.end_to_end);
    all.fan_out.append(&mut measured.fan_out);
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let (parkd, base) = start_parkd(&args, dir.path()).await?;
    let pid = parkd.0.id();
    let (token, mut lots) = driver_and_lots(&base, dir.path()).await?;
    if let Some(max) = args.max_lots {
        lots.truncate(max.max(1));
    }
    println!(
        "parkd pid {pid}: demo city, using {} lots open around the clock; idle RSS {:.1} MB",
        lots.len(),
        rss_mb(pid)
    );
    let bookings = args.seconds * 1000 / args.interval_ms;
    let per_lot = usize::try_from(bookings)? / lots.len() + 1;
    let shared = Arc::new(Shared {
        started: Instant::now(),
        booked_at: lots
            .iter()
            .map(|_| (0..per_lot).map(|_| AtomicU64::new(0)).collect())
            .collect(),
        measured: Mutex::new(Measured::default()),
        updates: AtomicUsize::new(0),
        closed_early: AtomicUsize::new(0),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let ready = Arc::new(AtomicUsize::new(0));
    let url = format!("{}/api/v1/ws", base.replacen("http", "ws", 1));
    // Connect in bounded waves so the accept queue does not overflow.
    let connecting = Arc::new(Semaphore::new(256));
    let mut tasks = Vec::with_capacity(args.connections);
    let connect_started = Instant::now();
    for n in 0..args.connections {
        let permit = Arc::clone(&connecting).acquire_owned().await?;
        let (url, lot) = (url.clone(), lots[n % lots.len()].clone());
        let (shared, stop, ready) = (Arc::clone(&shared), stop_rx.clone(), Arc::clone(&ready));
        tasks.push(tokio::spawn(subscriber(
            url,
            lot,
            n % lots.len(),
            shared,
            stop,
            ready,
            permit,
        )));
    }
    while ready.load(Ordering::Relaxed) < args.connections {
        let ended = tasks.iter().filter(|t| t.is_finished()).count();
        if ended > 0 || connect_started.elapsed() > Duration::from_secs(300) {
            bail!(
                "only {} of {} subscribers got their snapshot ({ended} ended early; is `ulimit -n` high enough?)",
                ready.load(Ordering::Relaxed),
                args.connections
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "{} subscribers connected in {:.1} s; parkd RSS {:.1} MB",
        args.connections,
        connect_started.elapsed().as_secs_f64(),
        rss_mb(pid)
    );

    let client = reqwest::Client::new();
    let statuses = Arc::new(Mutex::new(std::collections::BTreeMap::<u16, usize>::new()));
    let base_epoch = (Utc::now().timestamp() / 3600 + 48) * 3600;
    let mut tick = tokio::time::interval(Duration::from_millis(args.interval_ms));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let (parkd_cpu, own_cpu, wall) = (cpu_secs(&pid.to_string()), cpu_secs("self"), Instant::now());
    let mut peak_rss: f64 = 0.0;
    let mut bookers = Vec::new();
    for n in 0..bookings {
        tick.tick().await;
        if n % 50 == 0 {
            peak_rss = peak_rss.max(rss_mb(pid));
        }
        let lot_index = (n as usize) % lots.len();
        let slot = (n as usize / lots.len()) as i64;
        let start =
            DateTime::<Utc>::from_timestamp(base_epoch + slot * 3600, 0).unwrap_or_default();
        let body = json!({
            "lot_id": lots[lot_index],
            "start_time": start,
            "end_time": start + chrono::Duration::hours(1),
        });
        let (client, token, base) = (client.clone(), token.clone(), base.clone());
        let (shared, statuses) = (Arc::clone(&shared), Arc::clone(&statuses));
        bookers.push(tokio::spawn(async move {
            if let Some(at) = shared.booked_at[lot_index].get(slot as usize) {
                at.store(
                    shared.started.elapsed().as_micros() as u64,
                    Ordering::Relaxed,
                );
            }
            let status = client
                .post(format!("{base}/api/v1/reservations"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .map_or(0, |r| r.status().as_u16());
            *statuses.lock().await.entry(status).or_default() += 1;
        }));
    }
    for booker in bookers {
        let _ = booker.await;
    }
    // Let the last updates arrive.
    tokio::time::sleep(Duration::from_secs(1)).await;
    peak_rss = peak_rss.max(rss_mb(pid));
    let wall = wall.elapsed().as_secs_f64();
    println!(
        "CPU during the run ({wall:.1} s): parkd {:.1} s, this load generator {:.1} s",
        cpu_secs(&pid.to_string()) - parkd_cpu,
        cpu_secs("self") - own_cpu
    );
    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    let _ = stop_tx.send(true);
    let mut failed = 0;
    for task in tasks {
        if !matches!(task.await, Ok(Ok(()))) {
            failed += 1;
        }
    }
    println!(
        "bookings: {bookings} sent, statuses {:?}",
        statuses.lock().await
    );
    println!(
        "updates received: {}; subscribers failed: {failed}; closed by the server: {}",
        shared.updates.load(Ordering::Relaxed),
        shared.closed_early.load(Ordering::Relaxed)
    );
    for line in metrics.lines().filter(|l| l.starts_with("parkd_ws_")) {
        println!("  {line}");
    }
    let measured = std::mem::take(&mut *shared.measured.lock().await);
    summary(
        "end-to-end (booking sent -> update read)",
        measured.end_to_end,
    );
    summary("fan-out (hub counted -> update read)", measured.fan_out);
    println!("parkd peak RSS during the run: {peak_rss:.1} MB");
    drop(parkd);
    Ok(())
}
