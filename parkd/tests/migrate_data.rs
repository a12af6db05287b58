//! `parkd migrate-data --from sqlite:PATH --to postgres://…`: a single-lot
//! SQLite installation is copied into a city database that already holds
//! another lot; counts and checksums are verified; running it again copies
//! nothing, and after more bookings in the source copies only those; the
//! copied bookings still block their spots in PostgreSQL.
//!
//! Needs `PARKD_TEST_POSTGRES_URL` (see `store_conformance.rs`).

#![cfg(unix)]

mod cluster;

use std::process::Command;

use chrono::{Duration, Utc};
use cluster::{PARKD, seed_city, tomorrow};
use parkd::auth::Role;
use parkd::store::StoreError;
use parkd::store::cursors::CursorStore;
use parkd::store::interface::{LotRecord, Store, TenantRecord, UserRecord};
use parkd::store::payments::{
    ChangeOutcome, PaymentChange, PaymentMode, PaymentPurpose, PaymentRecord, PaymentStatus,
    PaymentStore, RefundRecord,
};
use parkd::store::postgres::{PgOptions, PgStore};
use parkd::store::sensors::{DeviceRecord, Reading, SensorStore};
use parkd::store::sqlite::store::SqliteStore;
use parkd::store::sqlite::{SqliteDb, SqliteOptions};
use parkd::testing::postgres_admin_url;
use parking_core::events::{DomainEvent, ReleaseReason};
use parking_core::model::{
    BookingRules, Currency, GeoPoint, Interval, Lot, LotId, Money, OperatingHours, PaymentId,
    Reservation, ReservationId, ReservationStatus, Spot, SpotId, SpotKind, TenantId, UserId,
};
use parking_core::pricing::{Quote, RateCard};

fn booking(lot: LotId, spot: SpotId, user: UserId, hour: i64) -> Reservation {
    let start = tomorrow() + Duration::hours(hour);
    Reservation {
        id: ReservationId::new(),
        lot_id: lot,
        spot_id: spot,
        user_id: user,
        interval: Interval::new(start, start + Duration::hours(1)).expect("interval"),
        status: ReservationStatus::Confirmed,
        hold_expires_at: None,
        total: Money::new(450, Currency::new("EUR").expect("EUR")),
        created_at: Utc::now(),
    }
}

async fn book(store: &dyn Store, r: &Reservation) {
    let quote = Quote {
        total: r.total,
        billed: r.interval,
        lines: Vec::new(),
        kind_factor_permille: 1000,
        demand_factor_permille: 1000,
    };
    let event = DomainEvent::ParkingSpotBooked {
        reservation_id: r.id,
        lot_id: r.lot_id,
        spot_id: r.spot_id,
        user_id: r.user_id,
        interval: r.interval,
        status: r.status,
        total: r.total,
    };
    store
        .insert_reservation(r.clone(), Some(quote), event, None)
        .await
        .expect("booking");
}

fn migrate(dir: &std::path::Path, url: &str) -> String {
    let output = Command::new(PARKD)
        .arg("migrate-data")
        .arg("--from")
        .arg(format!("sqlite:{}", dir.display()))
        .arg("--to")
        .arg(url)
        .env_remove("PARKD_DATABASE_URL")
        .output()
        .expect("parkd runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "migrate-data failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// `(source, copied)` of one table's line.
fn line(out: &str, table: &str) -> (usize, usize) {
    let l = out
        .lines()
        .find(|l| l.starts_with(table))
        .unwrap_or_else(|| panic!("no line for {table}: {out}"));
    assert!(l.ends_with("verified"), "{l}");
    let numbers: Vec<usize> = l
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    (numbers[0], numbers[1])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_lot_installation_moves_into_a_city_database() {
    let Some(admin) = postgres_admin_url() else {
        return;
    };
    // The city already has a lot of its own.
    let city = seed_city(&admin, 2, 1).await;

    // The single-lot installation.
    let dir = tempfile::tempdir().expect("data dir");
    let source = SqliteStore::new(
        SqliteDb::open(&dir.path().join("parkd.sqlite3"), SqliteOptions::default())
            .expect("sqlite"),
    );
    let tenant = TenantRecord {
        id: TenantId::new(),
        name: "Single lot operator".into(),
        created_at: Utc::now(),
    };
    source.create_tenant(tenant.clone()).await.expect("tenant");
    let mut drivers = Vec::new();
    for n in 0..3 {
        let user = UserRecord {
            id: UserId::new(),
            email: format!("single{n}@example.com"),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            first_name: "Single".into(),
            last_name: format!("{n}"),
            phone_enc: None,
            roles: vec![Role::Driver],
            tenant_id: None,
            created_at: Utc::now(),
        };
        let event = DomainEvent::UserRegistered {
            user_id: user.id,
            tenant_id: None,
        };
        source.create_user(user.clone(), event).await.expect("user");
        drivers.push(user.id);
    }
    let lot = Lot {
        id: LotId::new(),
        tenant_id: tenant.id,
        name: "Single".into(),
        address: "Einzelweg 2, Dresden".into(),
        location: GeoPoint::new(51.06, 13.75).expect("valid"),
        time_zone: chrono_tz::Europe::Berlin,
        hours: OperatingHours::always_open(),
        amenities: Default::default(),
        rules: BookingRules {
            turnover_buffer_minutes: 10,
            ..BookingRules::default()
        },
    };
    source
        .insert_lot(LotRecord {
            lot: lot.clone(),
            external_id: Some("EXT-1".into()),
            payment_mode: PaymentMode::OnSite,
        })
        .await
        .expect("lot");
    let spots: Vec<Spot> = (0..3)
        .map(|n| Spot {
            id: SpotId::new(),
            lot_id: lot.id,
            label: format!("P{n}"),
            kind: if n == 0 {
                SpotKind::Ev
            } else {
                SpotKind::Regular
            },
            zone: Some("north".into()),
            in_service: true,
        })
        .collect();
    source.insert_spots(spots.clone()).await.expect("spots");
    source
        .put_rate_card(lot.id, RateCard::example_eur())
        .await
        .expect("rates");
    let mut booked = Vec::new();
    for (n, spot) in spots.iter().enumerate() {
        let r = booking(lot.id, spot.id, drivers[n], n as i64);
        book(&source, &r).await;
        booked.push(r);
    }
    let mut cancelled = booked[2].clone();
    cancelled.status = ReservationStatus::Cancelled;
    source
        .update_reservation(
            cancelled,
            ReservationStatus::Confirmed,
            None,
            vec![DomainEvent::ParkingSpotReleased {
                reservation_id: booked[2].id,
                lot_id: lot.id,
                spot_id: booked[2].spot_id,
                reason: ReleaseReason::Cancelled,
            }],
        )
        .await
        .expect("cancel");
    // Sensors: a gateway, two spots' states, an unbooked arrival's alert
    // (acknowledged), and a Kafka publisher that had sent the first four events.
    let gateway = DeviceRecord {
        id: uuid::Uuid::new_v4(),
        lot_id: lot.id,
        name: "gateway".into(),
        key_hash: "0f".repeat(32),
        created_at: Utc::now(),
        revoked_at: None,
        last_seen_at: None,
    };
    let issued = DomainEvent::DeviceKeyIssued {
        device_id: gateway.id,
        lot_id: lot.id,
        name: gateway.name.clone(),
        by: UserId::new(),
    };
    source
        .insert_device(gateway.clone(), issued)
        .await
        .expect("device");
    let seen = Utc::now() - Duration::minutes(5);
    let batch = source
        .apply_readings(
            gateway.id,
            lot.id,
            vec![
                Reading {
                    spot_id: spots[0].id,
                    in_service: true,
                    occupied: false,
                    at: seen,
                },
                Reading {
                    spot_id: spots[1].id,
                    in_service: true,
                    occupied: true,
                    at: seen,
                },
            ],
            Utc::now(),
        )
        .await
        .expect("readings");
    assert_eq!(batch.alerts.len(), 1, "an unbooked arrival");
    source
        .acknowledge_alert(batch.alerts[0].id, drivers[0], Utc::now())
        .await
        .expect("acknowledge");
    source
        .set_consumer_cursor(parkd::kafka::CURSOR, 4)
        .await
        .expect("kafka cursor");
    source.close().await.expect("close");
    // The city's own publisher has sent everything the city has.
    let city_store = PgStore::connect(city.db.url(), None, PgOptions::default())
        .await
        .expect("city");
    let city_latest = city_store.latest_event_seq().await.expect("latest");
    city_store
        .set_consumer_cursor(parkd::kafka::CURSOR, city_latest)
        .await
        .expect("city cursor");
    city_store.close().await.expect("close");

    let out = migrate(dir.path(), city.db.url());
    assert!(out.contains("migration complete and verified"), "{out}");
    assert_eq!(line(&out, "tenants"), (1, 1));
    assert_eq!(line(&out, "users"), (3, 3));
    assert_eq!(line(&out, "lots"), (1, 1));
    assert_eq!(line(&out, "spots"), (3, 3));
    assert_eq!(line(&out, "rate_cards"), (1, 1));
    assert_eq!(line(&out, "reservations"), (3, 3));
    // Three users registered, three bookings, one release, a device key
    // issued, two sensor changes, one alert raised and acknowledged.
    assert_eq!(line(&out, "events"), (12, 12));
    assert_eq!(line(&out, "devices"), (1, 1));
    assert_eq!(line(&out, "spot_sensors"), (2, 2));
    assert_eq!(line(&out, "alerts"), (1, 1));
    assert_eq!(line(&out, "consumer_cursors"), (1, 1));
    {
        let target = PgStore::connect(city.db.url(), None, PgOptions::default())
            .await
            .expect("city");
        // The source's first four events follow the city's own.
        assert_eq!(
            target
                .consumer_cursor(parkd::kafka::CURSOR)
                .await
                .expect("cursor"),
            city_latest + 4,
            "the Kafka cursor maps onto the city's numbers"
        );
        assert_eq!(
            target
                .device_by_key_hash(gateway.key_hash.clone())
                .await
                .expect("device"),
            source_device_after(&dir).await,
        );
        target.close().await.expect("close");
    }

    // Again: nothing new.
    let again = migrate(dir.path(), city.db.url());
    for table in [
        "tenants",
        "users",
        "lots",
        "spots",
        "rate_cards",
        "reservations",
        "events",
        "devices",
        "spot_sensors",
        "alerts",
        "consumer_cursors",
    ] {
        assert_eq!(line(&again, table).1, 0, "{table} copied twice: {again}");
    }

    // More bookings in the source: only they travel.
    let source = SqliteStore::new(
        SqliteDb::open(&dir.path().join("parkd.sqlite3"), SqliteOptions::default())
            .expect("sqlite"),
    );
    let late = booking(lot.id, spots[0].id, drivers[0], 5);
    book(&source, &late).await;
    source.close().await.expect("close");
    let third = migrate(dir.path(), city.db.url());
    assert_eq!(line(&third, "reservations"), (4, 1));
    assert_eq!(line(&third, "events"), (13, 1));
    assert_eq!(line(&third, "users").1, 0);

    // In the city database the copies are live: they block their spots
    // (buffer included) and keep the lot's event numbers.
    let target = PgStore::connect(city.db.url(), None, PgOptions::default())
        .await
        .expect("connect");
    let mut clash = booking(lot.id, spots[0].id, drivers[1], 0);
    clash.interval = Interval::new(
        booked[0].interval.end() + Duration::minutes(5),
        booked[0].interval.end() + Duration::minutes(65),
    )
    .expect("interval");
    let refused = target
        .insert_reservation(
            clash.clone(),
            Some(Quote {
                total: clash.total,
                billed: clash.interval,
                lines: Vec::new(),
                kind_factor_permille: 1000,
                demand_factor_permille: 1000,
            }),
            DomainEvent::ParkingSpotBooked {
                reservation_id: clash.id,
                lot_id: lot.id,
                spot_id: clash.spot_id,
                user_id: clash.user_id,
                interval: clash.interval,
                status: clash.status,
                total: clash.total,
            },
            None,
        )
        .await;
    assert_eq!(
        refused,
        Err(StoreError::Conflict("reservation_overlap".into())),
        "the copied booking and its 10-minute buffer block the spot"
    );
    let events = target
        .events_after(0, Some(lot.id), None, 100)
        .await
        .expect("events");
    assert_eq!(
        events.iter().map(|e| e.lot_seq).collect::<Vec<_>>(),
        (1..=10).map(Some).collect::<Vec<_>>()
    );
    let states = target.sensor_states(lot.id).await.expect("sensor states");
    assert!(
        states
            .iter()
            .any(|s| s.spot_id == spots[1].id && s.occupied),
        "the copied sensor state is live: {states:?}"
    );
    let snapshot = target.snapshot(Utc::now()).await.expect("snapshot");
    assert_eq!(
        snapshot.lots.len(),
        2,
        "the city's own lot and the copied one"
    );
    target.close().await.expect("close");
    drop(city);
}

/// The payments part travels too: the lot's `prepaid` mode, its payments (the
/// client secret included), refunds and the Stripe event ids already acted on,
/// each verified by count and checksum; a re-run copies only what changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_refunds_and_webhook_ids_move_with_the_installation() {
    let Some(admin) = postgres_admin_url() else {
        return;
    };
    let city = seed_city(&admin, 1, 1).await;
    let dir = tempfile::tempdir().expect("data dir");
    let open = || {
        SqliteStore::new(
            SqliteDb::open(&dir.path().join("parkd.sqlite3"), SqliteOptions::default())
                .expect("sqlite"),
        )
    };
    let source = open();
    let tenant = TenantRecord {
        id: TenantId::new(),
        name: "Prepaid operator".into(),
        created_at: Utc::now(),
    };
    source.create_tenant(tenant.clone()).await.expect("tenant");
    let driver = UserRecord {
        id: UserId::new(),
        email: "payer@example.com".into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        first_name: "Pay".into(),
        last_name: "Er".into(),
        phone_enc: None,
        roles: vec![Role::Driver],
        tenant_id: None,
        created_at: Utc::now(),
    };
    let registered = DomainEvent::UserRegistered {
        user_id: driver.id,
        tenant_id: None,
    };
    source
        .create_user(driver.clone(), registered)
        .await
        .expect("user");
    let lot = Lot {
        id: LotId::new(),
        tenant_id: tenant.id,
        name: "Prepaid".into(),
        address: "Kassenweg 3, Dresden".into(),
        location: GeoPoint::new(51.07, 13.76).expect("valid"),
        time_zone: chrono_tz::Europe::Berlin,
        hours: OperatingHours::always_open(),
        amenities: Default::default(),
        rules: BookingRules::default(),
    };
    source
        .insert_lot(LotRecord {
            lot: lot.clone(),
            external_id: None,
            payment_mode: PaymentMode::Prepaid,
        })
        .await
        .expect("lot");
    let spot = Spot {
        id: SpotId::new(),
        lot_id: lot.id,
        label: "K1".into(),
        kind: SpotKind::Regular,
        zone: None,
        in_service: true,
    };
    source.insert_spots(vec![spot.clone()]).await.expect("spot");
    let r = booking(lot.id, spot.id, driver.id, 0);
    book(&source, &r).await;
    let now = Utc::now();
    let payment = PaymentRecord {
        id: PaymentId::new(),
        reservation_id: r.id,
        lot_id: lot.id,
        user_id: driver.id,
        purpose: PaymentPurpose::Booking,
        amount: r.total,
        refunded: 100,
        status: PaymentStatus::PartiallyRefunded,
        stripe_idempotency_key: "payment-key-1".into(),
        intent_id: Some("pi_moved".into()),
        client_secret: Some("pi_moved_secret".into()),
        failure_reason: None,
        created_at: now,
        updated_at: now,
    };
    let refund = |amount: i64, id: &str| RefundRecord {
        id: uuid::Uuid::new_v4(),
        payment_id: payment.id,
        stripe_refund_id: Some(id.into()),
        amount: Money::new(amount, r.total.currency),
        reason: "operator".into(),
        created_at: Utc::now(),
    };
    let first_refund = refund(100, "re_moved_1");
    source
        .apply_payment_change(PaymentChange {
            webhook_event: Some(("evt_moved".into(), "payment_intent.succeeded".into())),
            insert: Some(payment.clone()),
            refunds: vec![first_refund.clone()],
            ..PaymentChange::default()
        })
        .await
        .expect("payment");
    source.close().await.expect("close");

    let out = migrate(dir.path(), city.db.url());
    assert!(out.contains("migration complete and verified"), "{out}");
    // The lot's mode travels with the lot itself (one row); the modes step
    // only brings a mode changed after an earlier run up to date. "verified"
    // above includes the modes' checksum.
    assert_eq!(line(&out, "payment_modes"), (1, 0));
    assert_eq!(line(&out, "payments"), (1, 1));
    assert_eq!(line(&out, "refunds"), (1, 1));
    assert_eq!(line(&out, "webhook_events"), (1, 1));
    let again = migrate(dir.path(), city.db.url());
    for table in ["payment_modes", "payments", "refunds", "webhook_events"] {
        assert_eq!(line(&again, table).1, 0, "{table} copied twice: {again}");
    }

    // Refunded further in the source: the payment is brought up to date and
    // only the new refund travels.
    let source = open();
    let second_refund = refund(350, "re_moved_2");
    let mut refunded = payment.clone();
    refunded.refunded = 450;
    refunded.status = PaymentStatus::Refunded;
    refunded.updated_at = Utc::now();
    source
        .apply_payment_change(PaymentChange {
            updates: vec![(refunded.clone(), PaymentStatus::PartiallyRefunded)],
            refunds: vec![second_refund.clone()],
            ..PaymentChange::default()
        })
        .await
        .expect("refund the rest");
    source.close().await.expect("close");
    let third = migrate(dir.path(), city.db.url());
    assert_eq!(line(&third, "payments"), (1, 1));
    assert_eq!(line(&third, "refunds"), (2, 1));
    assert_eq!(line(&third, "webhook_events").1, 0);

    // In the city database: the lot is prepaid, the payment readable by its
    // intent, and the webhook already processed is not acted on again.
    let target = PgStore::connect(city.db.url(), None, PgOptions::default())
        .await
        .expect("connect");
    assert_eq!(target.prepaid_lots().await.expect("prepaid"), vec![lot.id]);
    let moved = target
        .payment_by_intent("pi_moved".into())
        .await
        .expect("read")
        .expect("moved");
    assert_eq!(moved.payment.status, PaymentStatus::Refunded);
    assert_eq!(moved.payment.refunded, 450);
    assert_eq!(
        moved.payment.client_secret.as_deref(),
        Some("pi_moved_secret")
    );
    assert_eq!(
        target.refunds_of(payment.id).await.expect("refunds").len(),
        2
    );
    let redelivered = target
        .apply_payment_change(PaymentChange {
            webhook_event: Some(("evt_moved".into(), "payment_intent.succeeded".into())),
            ..PaymentChange::default()
        })
        .await
        .expect("redelivery");
    assert_eq!(redelivered, ChangeOutcome::Duplicate);
    target.close().await.expect("close");
    drop(city);
}

/// The source's gateway as stored (last seen by its batch).
async fn source_device_after(dir: &tempfile::TempDir) -> Option<DeviceRecord> {
    let source = SqliteStore::new(
        SqliteDb::open(&dir.path().join("parkd.sqlite3"), SqliteOptions::default())
            .expect("sqlite"),
    );
    let device = source
        .device_by_key_hash("0f".repeat(32))
        .await
        .expect("device");
    source.close().await.expect("close");
    device
}
