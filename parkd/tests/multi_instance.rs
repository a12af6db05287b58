//! Two `parkd` processes on one PostgreSQL database, 64 concurrent clients
//! split across them booking overlapping windows on a small lot. Afterwards
//! SQL finds no overlapping blocking reservations, every `201` a client saw is
//! in the database, every `409` was a real conflict (a confirmed booking of
//! that spot overlaps the window), each instance's memory converged on the
//! other's bookings and cancellations, and the background jobs run on one
//! instance only.
//!
//! Needs `PARKD_TEST_POSTGRES_URL` (see `store_conformance.rs`).

#![cfg(unix)]

mod cluster;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use cluster::{Instance, LAT, LNG, seed_city, sql, token, tomorrow};
use parkd::auth::Role;
use parkd::testing::postgres_admin_url;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

const CLIENTS: usize = 64;
const REQUESTS_PER_CLIENT: usize = 6;
const SPOTS: usize = 4;
const SLOTS: i64 = 8;

#[derive(Debug)]
enum Outcome {
    Created { id: Uuid },
    Conflict,
}

/// The search's available spots in `[start, end)`, as one instance sees it.
async fn available(
    client: &reqwest::Client,
    at: &Instance,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> i64 {
    let page: Value = client
        .get(at.api(&format!(
            "/parking-lots?lat={LAT}&lng={LNG}&start_time={}&end_time={}",
            start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        )))
        .send()
        .await
        .expect("search")
        .json()
        .await
        .expect("json");
    // A lot with nothing free in the window is left out of the results.
    page["items"][0]["available_spots"].as_i64().unwrap_or(0)
}

/// Waits (bounded) until both instances report `want` free spots in the slot.
async fn converge(
    client: &reqwest::Client,
    instances: &[&Instance],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    want: i64,
) {
    let deadline = Instant::now() + Duration::from_secs(10);
    for at in instances {
        loop {
            let seen = available(client, at, start, end).await;
            if seen == want {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} sees {seen} free spots, the database {want}",
                at.url
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_never_double_book_and_converge() {
    let Some(admin) = postgres_admin_url() else {
        return;
    };
    let began = Instant::now();
    let city = seed_city(&admin, SPOTS, 8).await;
    eprintln!("seeded at {:?}", began.elapsed());
    let dir = tempfile::tempdir().expect("data dir");
    let a = Instance::start(dir.path(), city.db.url(), &[]);
    let b = Instance::start(dir.path(), city.db.url(), &[]);
    let urls = Arc::new([a.api(""), b.api("")]);
    let tokens: Vec<String> = city
        .drivers
        .iter()
        .map(|d| token(dir.path(), *d, Role::Driver))
        .collect();
    let base = tomorrow();
    let slot = move |n: i64| {
        (
            base + chrono::Duration::hours(n),
            base + chrono::Duration::hours(n + 1),
        )
    };
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS)
        .build()
        .expect("client");

    // Every client books several (spot, slot) pairs; the pairs collide across
    // clients and across instances.
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let urls = Arc::clone(&urls);
        let token = tokens[c % tokens.len()].clone();
        let client = client.clone();
        let spots = city.spots.clone();
        let lot = city.lot;
        tasks.push(tokio::spawn(async move {
            let at = &urls[c % 2];
            let mut seen = Vec::new();
            for k in 0..REQUESTS_PER_CLIENT {
                // 37 is coprime to the 32 (spot, slot) pairs: every pair is
                // asked for about twelve times, from both instances.
                let pair = ((c * REQUESTS_PER_CLIENT + k) * 37) % (SPOTS * SLOTS as usize);
                let spot = spots[pair % SPOTS];
                let n = (pair / SPOTS) as i64;
                let (start, end) = slot(n);
                let response = client
                    .post(format!("{at}/reservations"))
                    .bearer_auth(&token)
                    .json(&json!({
                        "lot_id": lot.as_uuid(),
                        "spot_id": spot.as_uuid(),
                        "start_time": start,
                        "end_time": end,
                    }))
                    .send()
                    .await
                    .expect("booking request");
                let status = response.status();
                let body: Value = response.json().await.expect("json body");
                let outcome = match status {
                    StatusCode::CREATED => Outcome::Created {
                        id: body["id"].as_str().expect("id").parse().expect("uuid"),
                    },
                    StatusCode::CONFLICT => Outcome::Conflict,
                    other => panic!("unexpected {other}: {body}"),
                };
                seen.push((spot, n, outcome));
            }
            seen
        }));
    }
    eprintln!("load starts at {:?}", began.elapsed());
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.extend(t.await.expect("client task"));
    }
    eprintln!("load done at {:?}", began.elapsed());
    let created: Vec<_> = outcomes
        .iter()
        .filter_map(|(s, n, o)| match o {
            Outcome::Created { id } => Some((*s, *n, *id)),
            Outcome::Conflict => None,
        })
        .collect();
    let conflicts = outcomes.len() - created.len();
    eprintln!(
        "{} requests: {} created, {conflicts} conflicts",
        outcomes.len(),
        created.len()
    );
    assert!(
        !created.is_empty() && conflicts > 0,
        "the load had both outcomes"
    );

    let db = sql(city.db.url()).await;
    let overlaps: i64 = db
        .query_one(
            "SELECT COUNT(*) FROM reservations x JOIN reservations y
               ON x.spot_id = y.spot_id AND x.id < y.id
              AND tstzrange(x.start_time, x.end_time) && tstzrange(y.start_time, y.end_time)
             WHERE x.status IN ('held', 'confirmed', 'checked_in')
               AND y.status IN ('held', 'confirmed', 'checked_in')",
            &[],
        )
        .await
        .expect("overlap check")
        .get(0);
    assert_eq!(overlaps, 0, "no two blocking reservations overlap");
    let stored: i64 = db
        .query_one(
            "SELECT COUNT(*) FROM reservations WHERE status = 'confirmed'",
            &[],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(stored as usize, created.len(), "every 201, and only those");
    for (spot, n, id) in &created {
        let (start, end) = slot(*n);
        let row = db
            .query_opt(
                "SELECT 1 FROM reservations WHERE id = $1 AND spot_id = $2 AND status = 'confirmed'
                   AND start_time = $3 AND end_time = $4",
                &[id, &spot.as_uuid(), &start, &end],
            )
            .await
            .expect("lookup");
        assert!(
            row.is_some(),
            "acknowledged booking {id} is in the database"
        );
    }
    let mut by_pair: HashMap<(Uuid, i64), usize> = HashMap::new();
    for (spot, n, _) in &created {
        *by_pair.entry((spot.as_uuid(), *n)).or_default() += 1;
    }
    for (spot, n, outcome) in &outcomes {
        if matches!(outcome, Outcome::Conflict) {
            assert_eq!(
                by_pair.get(&(spot.as_uuid(), *n)),
                Some(&1),
                "a 409 for spot {spot} slot {n} had a real conflicting booking"
            );
        }
    }

    // Each instance's memory holds the other's bookings…
    let client = reqwest::Client::new();
    for n in 0..SLOTS {
        let (start, end) = slot(n);
        let taken = created.iter().filter(|(_, m, _)| *m == n).count() as i64;
        converge(&client, &[&a, &b], start, end, SPOTS as i64 - taken).await;
    }
    eprintln!("converged at {:?}", began.elapsed());
    // …and a cancellation on one frees the spot on the other.
    let (spot, n, id) = created[0];
    let owner = outcomes
        .iter()
        .position(|(s, m, o)| *s == spot && *m == n && matches!(o, Outcome::Created { .. }))
        .expect("the booking's client");
    let owner_token = &tokens[(owner / REQUESTS_PER_CLIENT) % tokens.len()];
    let cancelled = client
        .delete(a.api(&format!("/reservations/{id}")))
        .bearer_auth(owner_token)
        .send()
        .await
        .expect("cancel");
    assert_eq!(cancelled.status(), StatusCode::OK);
    let (start, end) = slot(n);
    let taken = created.iter().filter(|(_, m, _)| *m == n).count() as i64 - 1;
    converge(&client, &[&a, &b], start, end, SPOTS as i64 - taken).await;
    // The spot is bookable again through the other instance.
    let again = client
        .post(b.api("/reservations"))
        .bearer_auth(owner_token)
        .json(&json!({
            "lot_id": city.lot.as_uuid(), "spot_id": spot.as_uuid(),
            "start_time": start, "end_time": end,
        }))
        .send()
        .await
        .expect("rebook");
    assert_eq!(again.status(), StatusCode::CREATED);

    eprintln!("rebooked at {:?}", began.elapsed());
    // The sweeps run on one instance only (within its first tick, 5 s).
    let deadline = Instant::now() + Duration::from_secs(15);
    let leaders = loop {
        let leaders = [&a, &b]
            .iter()
            .filter(|i| {
                i.stderr()
                    .contains("this instance now runs the background jobs")
            })
            .count();
        if leaders > 0 || Instant::now() > deadline {
            break leaders;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(leaders, 1, "exactly one instance leads the jobs");

    a.stop();
    b.stop();
}

/// The other instance's subscribers (WebSocket sessions read the same bus)
/// get a booking made on this one, in order, and its memory holds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_booking_on_one_instance_reaches_the_other_instances_subscribers() {
    let Some(admin) = postgres_admin_url() else {
        return;
    };
    let city = seed_city(&admin, 2, 1).await;
    let dir = tempfile::tempdir().expect("data dir");
    let config = parkd::config::Config {
        listen: "127.0.0.1:0".parse().expect("address"),
        data_dir: dir.path().to_owned(),
        database_url: Some(city.db.url().parse().expect("url")),
        rate_limits: parkd::config::RateLimits {
            enabled: false,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut servers = Vec::new();
    let mut states = Vec::new();
    for _ in 0..2 {
        let state = parkd::app::build(config.clone()).await.expect("builds");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(parkd::app::serve(listener, state.clone(), async {
            let _ = rx.await;
        }));
        servers.push((url, tx, server));
        states.push(state);
    }
    let mut on_b = states[1].events.subscribe();
    let token = token(dir.path(), city.drivers[0], Role::Driver);
    let start = tomorrow();
    let end = start + chrono::Duration::hours(1);
    let client = reqwest::Client::new();
    let response = client
        .post(format!("{}/api/v1/reservations", servers[0].0))
        .bearer_auth(&token)
        .json(&json!({
            "lot_id": city.lot.as_uuid(), "spot_id": city.spots[0].as_uuid(),
            "start_time": start, "end_time": end,
        }))
        .send()
        .await
        .expect("book on a");
    assert_eq!(response.status(), StatusCode::CREATED);
    let booked: Value = response.json().await.expect("json");
    let event = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let event = on_b.recv().await.expect("bus open");
            if event.lot_id.map(|l| l.as_uuid()) == Some(city.lot.as_uuid()) {
                return event;
            }
        }
    })
    .await
    .expect("b publishes a's booking within 5 s");
    assert_eq!(event.event_type, "parking_spot_booked");
    assert_eq!(event.lot_seq, Some(1));
    match &event.payload {
        parking_core::events::DomainEvent::ParkingSpotBooked { reservation_id, .. } => {
            assert_eq!(
                reservation_id.to_string(),
                booked["id"].as_str().expect("id")
            );
        }
        other => panic!("unexpected event {other:?}"),
    }
    // B's memory has it: the same spot and time through B is taken.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let taken = !states[1]
            .engine
            .read()
            .lot(city.lot)
            .expect("lot")
            .inventory
            .is_free(
                city.spots[0],
                &parking_core::model::Interval::new(start, end).expect("interval"),
                Utc::now(),
            );
        if taken {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "b's memory never held a's booking"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for (_, tx, server) in servers {
        let _ = tx.send(());
        server.await.expect("server task").expect("serve");
    }
}
