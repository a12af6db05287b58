//! One conformance suite for the storage interface, run against every backend:
//! SQLite always, PostgreSQL when `PARKD_TEST_POSTGRES_URL` names a server
//! (an admin URL; each test creates its own database there and drops it).
//! Without it the PostgreSQL half prints why it was skipped, unless
//! `PARKING_REQUIRE_POSTGRES=1`, which makes it fail instead (CI sets it).
//!
//! Each test is an async function over `Arc<dyn Store>`; the `conformance!`
//! macro instantiates it once per backend, so both provably answer alike.

use std::sync::Arc;

use chrono::{DateTime, Duration, DurationRound, Utc};
use parkd::auth::Role;
use parkd::store::StoreError;
use parkd::store::interface::{
    IdempotencyRecord, LotRecord, PageRequest, RefreshRecord, ReservationFilter, RotateOutcome,
    Scope, Snapshot, Store, TenantRecord, UserRecord,
};
use parkd::store::payments::{
    ChangeOutcome, PaidStay, PaymentChange, PaymentFilter, PaymentMode, PaymentPurpose,
    PaymentRecord, PaymentStatus, RefundRecord, ReservationChange,
};
use parkd::store::postgres::scratch::ScratchDatabase;
use parkd::store::postgres::{PgOptions, PgStore};
use parkd::store::sensors::{AckOutcome, AlertFilter, DeviceRecord, Reading, SpotSensor};
use parkd::store::sqlite::store::SqliteStore;
use parkd::store::sqlite::{SqliteDb, SqliteOptions};
use parking_core::events::{AlertKind, DomainEvent, ReleaseReason};
use parking_core::model::{
    BookingRules, Currency, GeoPoint, Interval, Lot, LotId, Money, OperatingHours, PaymentId,
    Reservation, ReservationId, ReservationStatus, Spot, SpotId, SpotKind, TenantId, UserId,
};
use parking_core::pricing::{Quote, RateCard};
use uuid::Uuid;

/// A store under test and what keeps it alive.
struct Backend {
    store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
    _db: Option<ScratchDatabase>,
}

impl Backend {
    async fn sqlite() -> Backend {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = SqliteDb::open(&dir.path().join("c.db"), SqliteOptions::default()).expect("open");
        Backend {
            store: Arc::new(SqliteStore::new(db)),
            _dir: Some(dir),
            _db: None,
        }
    }

    /// `None` (after saying why) when no PostgreSQL server is configured.
    async fn postgres() -> Option<Backend> {
        let admin = parkd::testing::postgres_admin_url()?;
        let db = ScratchDatabase::create(&admin)
            .await
            .expect("create a scratch database");
        let store = PgStore::connect(db.url(), None, PgOptions::default())
            .await
            .expect("connect and migrate");
        Some(Backend {
            store: Arc::new(store),
            _dir: None,
            _db: Some(db),
        })
    }
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let backend = super::Backend::sqlite().await;
                    super::$name(backend.store.clone()).await;
                    backend.store.close().await.expect("close");
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(backend) = super::Backend::postgres().await else { return };
                    super::$name(backend.store.clone()).await;
                    backend.store.close().await.expect("close");
                }
            )*
        }
    };
}

conformance!(
    users_are_unique_by_email_ignoring_case,
    tenants_and_user_access,
    refresh_tokens_rotate_and_detect_reuse,
    lots_spots_and_rates_round_trip,
    overlapping_blocking_bookings_are_refused,
    turnover_buffer_and_non_blocking_rows,
    updates_expect_the_status_they_read,
    a_refused_booking_leaves_no_idempotent_answer,
    listings_are_scoped_in_the_query,
    sweeps_find_due_holds_and_no_shows,
    events_are_numbered_per_lot_and_scoped,
    concurrent_bookings_of_one_spot_admit_exactly_one,
    schema_is_current,
    payments_record_intents_and_list_in_scope,
    payments_of_each_reads_a_listing_page_at_once,
    a_lot_keeps_its_payment_mode_across_updates,
    a_lot_is_created_with_its_payment_mode,
    settling_is_idempotent_by_webhook_event_id,
    a_stale_payment_step_writes_nothing,
    refunds_are_bounded_by_the_amount_paid,
    revenue_is_what_payments_took_net_of_refunds,
    a_webhook_delivered_twice_at_once_acts_once,
    sensor_batches_keep_the_newest_reading_and_dedupe_alerts,
    reconciliation_raises_each_alert_once_and_spares_occupied_spots,
    consumer_cursors_never_move_back,
    lot_event_sequences_serve_resuming_clients,
    concurrent_batches_of_one_lot_see_each_other,
);

// --- fixtures -----------------------------------------------------------------

/// Microsecond instants: both backends store microseconds.
fn now() -> DateTime<Utc> {
    Utc::now()
        .duration_trunc(Duration::microseconds(1))
        .expect("truncate to microseconds")
}

fn eur(amount: i64) -> Money {
    Money::new(amount, Currency::new("EUR").expect("EUR"))
}

struct Fixture {
    tenant: TenantId,
    user: UserId,
    /// Buffer 0, spots a..e.
    lot: LotId,
    spots: Vec<SpotId>,
    /// Buffer 15 minutes, one spot.
    buffered: LotId,
    buffered_spot: SpotId,
    /// A whole hour a day from now.
    base: DateTime<Utc>,
}

fn user_record(email: &str, roles: Vec<Role>, tenant: Option<TenantId>) -> UserRecord {
    UserRecord {
        id: UserId::new(),
        email: email.into(),
        password_hash: "$argon2id$fake".into(),
        first_name: "Test".into(),
        last_name: "User".into(),
        phone_enc: Some("c2VjcmV0".into()),
        roles,
        tenant_id: tenant,
        created_at: now(),
    }
}

fn registered(user: &UserRecord) -> DomainEvent {
    DomainEvent::UserRegistered {
        user_id: user.id,
        tenant_id: user.tenant_id,
    }
}

fn lot_record(tenant: TenantId, buffer: u32) -> LotRecord {
    LotRecord {
        lot: Lot {
            id: LotId::new(),
            tenant_id: tenant,
            name: format!("Lot with buffer {buffer}"),
            address: "Teststraße 1, Dresden".into(),
            location: GeoPoint::new(51.05, 13.74).expect("valid"),
            time_zone: chrono_tz::Europe::Berlin,
            hours: OperatingHours::always_open(),
            amenities: Default::default(),
            rules: BookingRules {
                turnover_buffer_minutes: buffer,
                ..BookingRules::default()
            },
        },
        external_id: None,
        payment_mode: PaymentMode::OnSite,
    }
}

fn spot(lot: LotId, label: &str, kind: SpotKind) -> Spot {
    Spot {
        id: SpotId::new(),
        lot_id: lot,
        label: label.into(),
        kind,
        zone: None,
        in_service: true,
    }
}

async fn seed(store: &dyn Store) -> Fixture {
    let tenant = TenantRecord {
        id: TenantId::new(),
        name: "Tenant".into(),
        created_at: now(),
    };
    store.create_tenant(tenant.clone()).await.expect("tenant");
    let user = user_record("driver@example.com", vec![Role::Driver], None);
    store
        .create_user(user.clone(), registered(&user))
        .await
        .expect("user");
    let lot = lot_record(tenant.id, 0);
    let buffered = lot_record(tenant.id, 15);
    store.insert_lot(lot.clone()).await.expect("lot");
    store.insert_lot(buffered.clone()).await.expect("lot");
    let spots: Vec<Spot> = ["A", "B", "C", "D", "E"]
        .iter()
        .map(|l| spot(lot.lot.id, l, SpotKind::Regular))
        .collect();
    store.insert_spots(spots.clone()).await.expect("spots");
    let z = spot(buffered.lot.id, "Z", SpotKind::Motorcycle);
    store.insert_spots(vec![z.clone()]).await.expect("spot z");
    let base = now()
        .duration_trunc(Duration::hours(1))
        .expect("whole hour")
        + Duration::hours(24);
    Fixture {
        tenant: tenant.id,
        user: user.id,
        lot: lot.lot.id,
        spots: spots.iter().map(|s| s.id).collect(),
        buffered: buffered.lot.id,
        buffered_spot: z.id,
        base,
    }
}

impl Fixture {
    /// A reservation of `spot` over `[base + start h, base + end h)`.
    fn reservation(
        &self,
        spot: SpotId,
        start_min: i64,
        end_min: i64,
        status: ReservationStatus,
    ) -> Reservation {
        let lot = if spot == self.buffered_spot {
            self.buffered
        } else {
            self.lot
        };
        Reservation {
            id: ReservationId::new(),
            lot_id: lot,
            spot_id: spot,
            user_id: self.user,
            interval: Interval::new(
                self.base + Duration::minutes(start_min),
                self.base + Duration::minutes(end_min),
            )
            .expect("valid interval"),
            status,
            hold_expires_at: (status == ReservationStatus::Held)
                .then(|| now() + Duration::minutes(10)),
            total: eur(500),
            created_at: now(),
        }
    }
}

fn quote_for(r: &Reservation) -> Quote {
    Quote {
        total: r.total,
        billed: r.interval,
        lines: Vec::new(),
        kind_factor_permille: 1000,
        demand_factor_permille: 1000,
    }
}

fn booked(r: &Reservation) -> DomainEvent {
    DomainEvent::ParkingSpotBooked {
        reservation_id: r.id,
        lot_id: r.lot_id,
        spot_id: r.spot_id,
        user_id: r.user_id,
        interval: r.interval,
        status: r.status,
        total: r.total,
    }
}

async fn book(store: &dyn Store, r: &Reservation) -> Result<(), StoreError> {
    store
        .insert_reservation(r.clone(), Some(quote_for(r)), booked(r), None)
        .await
}

fn is_overlap(result: Result<(), StoreError>) -> bool {
    matches!(result, Err(StoreError::Conflict(ref m)) if m == "reservation_overlap")
}

const H: i64 = 60;

// --- the tests ------------------------------------------------------------------

async fn users_are_unique_by_email_ignoring_case(store: Arc<dyn Store>) {
    let ada = user_record("Ada@Example.com", vec![Role::Driver], None);
    store
        .create_user(ada.clone(), registered(&ada))
        .await
        .expect("first");
    let twin = user_record("ada@EXAMPLE.com", vec![Role::Driver], None);
    let err = store
        .create_user(twin.clone(), registered(&twin))
        .await
        .expect_err("same email in another case");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let found = store
        .user_by_email("ADA@example.COM")
        .await
        .expect("lookup")
        .expect("found in any case");
    assert_eq!(found, ada);
    assert_eq!(store.user_by_id(ada.id).await.expect("by id"), Some(ada));
    assert_eq!(
        store
            .user_by_email("nobody@example.com")
            .await
            .expect("lookup"),
        None
    );
    // The refused user's event was not written either.
    let events = store
        .events_after(0, None, None, 100)
        .await
        .expect("events");
    assert_eq!(events.len(), 1, "{events:?}");
}

async fn tenants_and_user_access(store: Arc<dyn Store>) {
    let mut names = Vec::new();
    for name in ["Zeta", "Alpha", "Mid"] {
        let t = TenantRecord {
            id: TenantId::new(),
            name: name.into(),
            created_at: now(),
        };
        store.create_tenant(t.clone()).await.expect("tenant");
        names.push(t);
    }
    let dup = TenantRecord {
        id: TenantId::new(),
        name: "Alpha".into(),
        created_at: now(),
    };
    assert!(matches!(
        store.create_tenant(dup).await,
        Err(StoreError::Conflict(_))
    ));
    let listed: Vec<String> = store
        .list_tenants()
        .await
        .expect("list")
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(listed, ["Alpha", "Mid", "Zeta"]);
    assert_eq!(
        store.tenant(names[0].id).await.expect("one"),
        Some(names[0].clone())
    );

    let mut users = Vec::new();
    for n in 0..5 {
        let u = user_record(&format!("u{n}@example.com"), vec![Role::Driver], None);
        store
            .create_user(u.clone(), registered(&u))
            .await
            .expect("user");
        users.push(u);
    }
    assert_eq!(store.count_admins().await.expect("count"), 0);
    let changed = store
        .set_user_access(
            users[1].id,
            vec![Role::Operator, Role::Admin],
            Some(names[1].id),
        )
        .await
        .expect("set access");
    assert_eq!(changed.roles, vec![Role::Operator, Role::Admin]);
    assert_eq!(changed.tenant_id, Some(names[1].id));
    assert_eq!(store.count_admins().await.expect("count"), 1);
    assert_eq!(
        store
            .set_user_access(UserId::new(), vec![Role::Admin], None)
            .await,
        Err(StoreError::NotFound)
    );
    let (page, total) = store
        .list_users(PageRequest {
            page: 2,
            per_page: 2,
        })
        .await
        .expect("page");
    assert_eq!(total, 5);
    assert_eq!(
        page.iter().map(|u| u.id).collect::<Vec<_>>(),
        [users[2].id, users[3].id]
    );
}

async fn refresh_tokens_rotate_and_detect_reuse(store: Arc<dyn Store>) {
    let u = user_record("t@example.com", vec![Role::Driver], None);
    store
        .create_user(u.clone(), registered(&u))
        .await
        .expect("user");
    let t = now();
    let token = |hash: &str, family: Uuid, expires: DateTime<Utc>| RefreshRecord {
        token_hash: hash.into(),
        family_id: family,
        user_id: u.id,
        issued_at: t,
        expires_at: expires,
    };
    let family = Uuid::new_v4();
    store
        .insert_refresh(token("first", family, t + Duration::days(1)))
        .await
        .expect("insert");
    let next = token("second", Uuid::new_v4(), t + Duration::days(1));
    assert_eq!(
        store
            .rotate_refresh("first".into(), next.clone(), t)
            .await
            .expect("rotate"),
        RotateOutcome::Rotated { user_id: u.id }
    );
    // Presenting the spent token again revokes the family, newest included.
    let again = token("third", Uuid::new_v4(), t + Duration::days(1));
    assert_eq!(
        store
            .rotate_refresh("first".into(), again.clone(), t)
            .await
            .expect("replay"),
        RotateOutcome::Reused { family_id: family }
    );
    assert!(matches!(
        store
            .rotate_refresh("second".into(), again.clone(), t)
            .await,
        Ok(RotateOutcome::Reused { .. })
    ));
    assert_eq!(
        store
            .rotate_refresh("unknown".into(), again.clone(), t)
            .await
            .expect("unknown"),
        RotateOutcome::Unknown
    );
    store
        .insert_refresh(token("old", Uuid::new_v4(), t - Duration::seconds(1)))
        .await
        .expect("expired token");
    assert_eq!(
        store
            .rotate_refresh("old".into(), again, t)
            .await
            .expect("expired"),
        RotateOutcome::Expired
    );
    store
        .insert_refresh(token("live", Uuid::new_v4(), t + Duration::days(1)))
        .await
        .expect("live");
    assert_eq!(
        store
            .revoke_refresh("live".into(), Some(UserId::new()), t)
            .await
            .expect("someone else's"),
        None
    );
    assert_eq!(
        store
            .revoke_refresh("live".into(), Some(u.id), t)
            .await
            .expect("own"),
        Some(u.id)
    );
    let jti = Uuid::new_v4();
    store
        .revoke_access(jti, t + Duration::minutes(5))
        .await
        .expect("revoke access");
    store
        .revoke_access(jti, t + Duration::minutes(5))
        .await
        .expect("twice is fine");
    let snapshot = store.snapshot(t).await.expect("snapshot");
    assert_eq!(
        snapshot.revoked_access,
        vec![(jti, t + Duration::minutes(5))]
    );
}

async fn lots_spots_and_rates_round_trip(store: Arc<dyn Store>) {
    let f = seed(store.as_ref()).await;
    let snapshot = store.snapshot(now()).await.expect("snapshot");
    assert_eq!(snapshot.lots.len(), 2);
    let lot = snapshot
        .lots
        .iter()
        .find(|l| l.lot.id == f.lot)
        .expect("the lot")
        .clone();
    assert_eq!(lot.lot.rules.turnover_buffer_minutes, 0);
    assert_eq!(
        snapshot
            .spots
            .iter()
            .filter(|s| s.lot_id == f.lot)
            .map(|s| s.id)
            .collect::<Vec<_>>(),
        f.spots,
        "spots in the order they were added"
    );
    let dup = spot(f.lot, "A", SpotKind::Ev);
    assert!(matches!(
        store.insert_spots(vec![dup]).await,
        Err(StoreError::Conflict(_))
    ));
    let mut changed = lot.lot.clone();
    changed.name = "Renamed".into();
    changed.rules.hold_minutes = 25;
    store
        .update_lot(changed.clone(), None)
        .await
        .expect("update");
    let mut missing = changed.clone();
    missing.id = LotId::new();
    assert_eq!(
        store.update_lot(missing, None).await,
        Err(StoreError::NotFound)
    );
    let card = RateCard::example_eur();
    store
        .put_rate_card(f.lot, card.clone())
        .await
        .expect("rates");
    store
        .put_rate_card(f.lot, card.clone())
        .await
        .expect("rates again replace");
    let event = DomainEvent::SpotStatusChanged {
        lot_id: f.lot,
        spot_id: f.spots[0],
        occupied: None,
        in_service: false,
    };
    let out = store
        .set_spot_in_service(f.lot, f.spots[0], false, event)
        .await
        .expect("out of service");
    assert!(!out.in_service);
    let snapshot = store.snapshot(now()).await.expect("snapshot");
    let stored = snapshot
        .lots
        .iter()
        .find(|l| l.lot.id == f.lot)
        .expect("lot");
    assert_eq!(stored.lot, changed);
    assert_eq!(snapshot.rates, vec![(f.lot, card)]);
    assert!(
        !snapshot
            .spots
            .iter()
            .find(|s| s.id == f.spots[0])
            .expect("spot")
            .in_service
    );
    // A lot with a future booking cannot be deleted; once cancelled it can.
    let r = f.reservation(f.spots[1], 0, H, ReservationStatus::Confirmed);
    book(store.as_ref(), &r).await.expect("book");
    assert!(matches!(
        store.delete_lot(f.lot, now()).await,
        Err(StoreError::Conflict(_))
    ));
    let mut cancelled = r.clone();
    cancelled.status = ReservationStatus::Cancelled;
    store
        .update_reservation(cancelled, ReservationStatus::Confirmed, None, vec![])
        .await
        .expect("cancel");
    store.delete_lot(f.lot, now()).await.expect("delete");
    assert_eq!(
        store.delete_lot(f.lot, now()).await,
        Err(StoreError::NotFound)
    );
    let snapshot = store.snapshot(now()).await.expect("snapshot");
    assert_eq!(snapshot.lots.len(), 1);
    assert!(snapshot.spots.iter().all(|s| s.lot_id != f.lot));
}

async fn overlapping_blocking_bookings_are_refused(store: Arc<dyn Store>) {
    let f = seed(store.as_ref()).await;
    let a = f.spots[0];
    use ReservationStatus::{CheckedIn, Confirmed, Held};
    book(store.as_ref(), &f.reservation(a, 10 * H, 12 * H, Confirmed))
        .await
        .expect("first");
    assert!(is_overlap(
        book(store.as_ref(), &f.reservation(a, 11 * H, 13 * H, Confirmed)).await
    ));
    assert!(is_overlap(
        book(store.as_ref(), &f.reservation(a, 9 * H, 13 * H, Confirmed)).await
    ));
    assert!(is_overlap(
        book(
            store.as_ref(),
            &f.reservation(a, 10 * H + 1, 11 * H, CheckedIn)
        )
        .await
    ));
    assert!(is_overlap(
        book(store.as_ref(), &f.reservation(a, 11 * H, 12 * H, Held)).await
    ));
    book(
        store.as_ref(),
        &f.reservation(f.spots[1], 11 * H, 13 * H, Confirmed),
    )
    .await
    .expect("another spot is free");
    // Half-open: touching bookings are fine without a buffer.
    book(store.as_ref(), &f.reservation(a, 12 * H, 14 * H, Confirmed))
        .await
        .expect("starts when the first ends");
    book(store.as_ref(), &f.reservation(a, 8 * H, 10 * H, Confirmed))
        .await
        .expect("ends when the first starts");
    let blocking = store.snapshot(now()).await.expect("snapshot").blocking;
    assert_eq!(blocking.len(), 4);
}

async fn turnover_buffer_and_non_blocking_rows(store: Arc<dyn Store>) {
    let f = seed(store.as_ref()).await;
    use ReservationStatus::{Cancelled, Confirmed, Expired, Held};
    let z = f.buffered_spot;
    book(store.as_ref(), &f.reservation(z, 10 * H, 12 * H, Confirmed))
        .await
        .expect("first");
    assert!(is_overlap(
        book(store.as_ref(), &f.reservation(z, 12 * H, 14 * H, Confirmed)).await
    ));
    assert!(is_overlap(
        book(
            store.as_ref(),
            &f.reservation(z, 12 * H + 14, 14 * H, Confirmed)
        )
        .await
    ));
    book(
        store.as_ref(),
        &f.reservation(z, 12 * H + 15, 14 * H, Confirmed),
    )
    .await
    .expect("a full buffer after");
    assert!(is_overlap(
        book(
            store.as_ref(),
            &f.reservation(z, 8 * H, 9 * H + 50, Confirmed)
        )
        .await
    ));
    book(
        store.as_ref(),
        &f.reservation(z, 8 * H, 9 * H + 45, Confirmed),
    )
    .await
    .expect("a full buffer before");

    let c = f.spots[2];
    book(store.as_ref(), &f.reservation(c, 10 * H, 12 * H, Cancelled))
        .await
        .expect("cancelled row");
    book(store.as_ref(), &f.reservation(c, 10 * H, 12 * H, Expired))
        .await
        .expect("expired row");
    let mut lapsed = f.reservation(c, 10 * H, 12 * H, Held);
    lapsed.hold_expires_at = Some(now() - Duration::minutes(1));
    book(store.as_ref(), &lapsed)
        .await
        .expect("a hold that already lapsed");
    book(store.as_ref(), &f.reservation(c, 10 * H, 12 * H, Confirmed))
        .await
        .expect("none of those block");
    book(store.as_ref(), &f.reservation(c, 11 * H, 13 * H, Cancelled))
        .await
        .expect("a cancelled row is never refused");

    // A live hold blocks until it lapses, even with its status still `held`.
    let d = f.spots[3];
    let mut hold = f.reservation(d, 14 * H, 16 * H, Held);
    hold.hold_expires_at = Some(now() + Duration::milliseconds(1500));
    book(store.as_ref(), &hold).await.expect("live hold");
    assert!(is_overlap(
        book(store.as_ref(), &f.reservation(d, 15 * H, 17 * H, Confirmed)).await
    ));
    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
    book(store.as_ref(), &f.reservation(d, 15 * H, 17 * H, Confirmed))
        .await
        .expect("the lapsed hold no longer blocks");
}

async fn updates_expect_the_status_they_read(store: Arc<dyn Store>) {
    let f = seed(store.as_ref()).await;
    use ReservationStatus::{Cancelled, Confirmed, Held};
    let e = f.spots[4];
    let r1 = f.reservation(e, 10 * H, 12 * H, Confirmed);
    let r2 = f.reservation(e, 13 * H, 14 * H, Held);
    book(store.as_ref(), &r1).await.expect("r1");
    book(store.as_ref(), &r2).await.expect("r2");
    // Moving r2 into r1 is refused; within its own free time it is fine.
    let mut moved = r2.clone();
    moved.interval =
        Interval::new(f.base + Duration::minutes(11 * H), r2.interval.end()).expect("interval");
    assert!(is_overlap(
        store.update_reservation(moved, Held, None, vec![]).await
    ));
    let mut longer = r2.clone();
    longer.interval =
        Interval::new(r2.interval.start(), f.base + Duration::minutes(15 * H)).expect("interval");
    longer.status = Confirmed;
    longer.hold_expires_at = None;
    store
        .update_reservation(
            longer.clone(),
            Held,
            Some(quote_for(&longer)),
            vec![booked(&longer)],
        )
        .await
        .expect("extend and confirm");
    // The stored status is now confirmed: an update expecting `held` is refused.
    let mut stale = longer.clone();
    stale.status = Cancelled;
    assert!(matches!(
        store.update_reservation(stale, Held, None, vec![]).await,
        Err(StoreError::Conflict(ref m)) if m != "reservation_overlap"
    ));
    let mut ghost = longer.clone();
    ghost.id = ReservationId::new();
    assert_eq!(
        store
            .update_reservation(ghost, Confirmed, None, vec![])
            .await,
        Err(StoreError::NotFound)
    );
    let stored = store
        .reservation(longer.id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(stored.reservation, longer);
    assert_eq!(stored.spot_label, "E");
    assert_eq!(stored.tenant_id, f.tenant);
    let quote: Quote =
        serde_json::from_str(stored.quote_json.as_deref().expect("quote")).expect("quote json");
    assert_eq!(quote, quote_for(&longer));
}

async fn a_refused_booking_leaves_no_idempotent_answer(store: Arc<dyn Store>) {
    let f = seed(store.as_ref()).await;
    let a = f.spots[0];
    let answer = |key: &str| IdempotencyRecord {
        user_id: f.user,
        key: key.into(),
        request_hash: "hash".into(),
        status: 201,
        response_json: r#"{ "id" : "x",  "spacing": "kept" }"#.into(),
        created_at: now(),
    };
    let first = f.reservation(a, 10 * H, 12 * H, ReservationStatus::Confirmed);
    store
        .insert_reservation(
            first.clone(),
            Some(quote_for(&first)),
            booked(&first),
            Some(answer("k1")),
        )
        .await
        .expect("booked with a key");
    let stored = store
        .idempotent_response(f.user, "k1".into())
        .await
        .expect("read")
        .expect("stored with the booking");
    assert_eq!(stored, answer("k1").clone_with_time(stored.created_at));
    let clash = f.reservation(a, 11 * H, 12 * H, ReservationStatus::Confirmed);
    let refused = store
        .insert_reservation(
            clash.clone(),
            Some(quote_for(&clash)),
            booked(&clash),
            Some(answer("k2")),
        )
        .await;
    assert!(is_overlap(refused));
    assert_eq!(
        store
            .idempotent_response(f.user, "k2".into())
            .await
            .expect("read"),
        None,
        "nothing of the refused booking's transaction survives"
    );
    assert_eq!(store.reservation(clash.id).await.expect("read"), None);
    let events = store
        .events_after(0, Some(f.lot), None, 100)
        .await
        .expect("events");
    assert_eq!(events.len(), 1, "only the first booking's event");
}

trait WithTime {
    fn clone_with_time(&self, at: DateTime<Utc>) -> Self;
}

impl WithTime for IdempotencyRecord {
    fn clone_with_time(&self, at: DateTime<Utc>) -> Self {
        IdempotencyRecord {
            created_at: at,
            ..self.clone()
        }
    }
}

async fn listings_are_scoped_in_the_query(store: Arc<dyn Store>) {
    let f = seed(store.as_ref()).await;
    let other_tenant = TenantRecord {
        id: TenantId::new(),
        name: "Other".into(),
        created_at: now(),
    };
    store
        .create_tenant(other_tenant.clone())
        .await
        .expect("tenant");
    let other_lot = lot_record(other_tenant.id, 0);
    store.insert_lot(other_lot.clone()).await.expect("lot");
    let other_spot = spot(other_lot.lot.id, "O", SpotKind::Regular);
    store
        .insert_spots(vec![other_spot.clone()])
        .await
        .expect("spot");
    let stranger = user_record("s@example.com", vec![Role::Driver], None);
    store
        .create_user(stranger.clone(), registered(&stranger))
        .await
        .expect("user");

    let mut mine = Vec::new();
    for n in 0..3 {
        let r = f.reservation(f.spots[n], 10 * H, 11 * H, ReservationStatus::Confirmed);
        book(store.as_ref(), &r).await.expect("mine");
        mine.push(r);
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let mut theirs = f.reservation(f.spots[3], 20 * H, 21 * H, ReservationStatus::Held);
    theirs.user_id = stranger.id;
    book(store.as_ref(), &theirs).await.expect("theirs");
    let mut elsewhere = f.reservation(f.spots[0], 10 * H, 11 * H, ReservationStatus::Confirmed);
    elsewhere.lot_id = other_lot.lot.id;
    elsewhere.spot_id = other_spot.id;
    book(store.as_ref(), &elsewhere)
        .await
        .expect("other tenant");

    let all = PageRequest {
        page: 1,
        per_page: 50,
    };
    let (list, total) = store
        .list_reservations(Scope::User(f.user), ReservationFilter::default(), all)
        .await
        .expect("mine");
    assert_eq!(total, 4);
    assert_eq!(list.len(), 4);
    assert!(list.iter().all(|r| r.reservation.user_id == f.user));
    let (list, total) = store
        .list_reservations(Scope::Tenant(f.tenant), ReservationFilter::default(), all)
        .await
        .expect("tenant");
    assert_eq!(total, 4);
    assert!(list.iter().all(|r| r.tenant_id == f.tenant));
    let (_, total) = store
        .list_reservations(Scope::All, ReservationFilter::default(), all)
        .await
        .expect("all");
    assert_eq!(total, 5);
    let (list, total) = store
        .list_reservations(
            Scope::Tenant(f.tenant),
            ReservationFilter {
                status: Some(ReservationStatus::Held),
                ..ReservationFilter::default()
            },
            all,
        )
        .await
        .expect("held");
    assert_eq!((total, list[0].reservation.id), (1, theirs.id));
    let (list, total) = store
        .list_reservations(
            Scope::User(f.user),
            ReservationFilter {
                from: Some(f.base + Duration::minutes(10 * H + 30)),
                to: Some(f.base + Duration::minutes(10 * H + 40)),
                lot_id: Some(f.lot),
                ..ReservationFilter::default()
            },
            PageRequest {
                page: 2,
                per_page: 2,
            },
        )
        .await
        .expect("window, page 2");
    assert_eq!(total, 3);
    // Newest first: page 2 of 2 holds the oldest.
    assert_eq!(
        list.iter().map(|r| r.reservation.id).collect::<Vec<_>>(),
        [mine[0].id]
    );
    let window = Interval::new(
        f.base + Duration::minutes(9 * H),
        f.base + Duration::minutes(10 * H + 1),
    )
    .expect("window");
    let in_window = store.reservations_in(f.lot, window).await.expect("window");
    assert_eq!(in_window.len(), 3);
}

async fn sweeps_find_due_holds_and_no_shows(store: Arc<dyn Store>) {
    let f = seed(store.as_ref()).await;
    let t = now();
    let mut lapsed = f.reservation(f.spots[0], 10 * H, 11 * H, ReservationStatus::Held);
    lapsed.hold_expires_at = Some(t - Duration::minutes(1));
    book(store.as_ref(), &lapsed).await.expect("lapsed hold");
    let live = f.reservation(f.spots[1], 10 * H, 11 * H, ReservationStatus::Held);
    book(store.as_ref(), &live).await.expect("live hold");
    let due = store.due_holds(t, 10).await.expect("due holds");
    assert_eq!(due.iter().map(|r| r.id).collect::<Vec<_>>(), [lapsed.id]);

    // A confirmed booking that started 20 minutes ago (grace 15) is a no-show.
    let mut started = f.reservation(f.spots[2], 0, 60, ReservationStatus::Confirmed);
    started.interval =
        Interval::new(t - Duration::minutes(20), t + Duration::minutes(40)).expect("interval");
    book(store.as_ref(), &started).await.expect("started");
    let mut recent = f.reservation(f.spots[3], 0, 60, ReservationStatus::Confirmed);
    recent.interval =
        Interval::new(t - Duration::minutes(5), t + Duration::minutes(40)).expect("interval");
    book(store.as_ref(), &recent).await.expect("recent");
    let candidates = store.no_show_candidates(t, 10).await.expect("no-shows");
    assert_eq!(
        candidates.iter().map(|r| r.id).collect::<Vec<_>>(),
        [started.id]
    );
}

async fn events_are_numbered_per_lot_and_scoped(store: Arc<dyn Store>) {
    let f = seed(store.as_ref()).await;
    let before = store
        .events_after(0, None, None, 1000)
        .await
        .expect("events");
    let base_seq = before.last().map_or(0, |e| e.seq);
    let r1 = f.reservation(f.spots[0], 10 * H, 11 * H, ReservationStatus::Confirmed);
    let r2 = f.reservation(
        f.buffered_spot,
        10 * H,
        11 * H,
        ReservationStatus::Confirmed,
    );
    let r3 = f.reservation(f.spots[1], 10 * H, 11 * H, ReservationStatus::Confirmed);
    for r in [&r1, &r2, &r3] {
        book(store.as_ref(), r).await.expect("book");
    }
    let mut done = r1.clone();
    done.status = ReservationStatus::Cancelled;
    let released = DomainEvent::ParkingSpotReleased {
        reservation_id: r1.id,
        lot_id: r1.lot_id,
        spot_id: r1.spot_id,
        reason: ReleaseReason::Cancelled,
    };
    store
        .update_reservation(
            done,
            ReservationStatus::Confirmed,
            None,
            vec![released.clone()],
        )
        .await
        .expect("cancel");
    let all = store
        .events_after(base_seq, None, None, 100)
        .await
        .expect("all");
    assert_eq!(
        all.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (base_seq + 1..=base_seq + 4).collect::<Vec<_>>()
    );
    let lot = store
        .events_after(0, Some(f.lot), None, 100)
        .await
        .expect("lot");
    assert_eq!(
        lot.iter().map(|e| e.lot_seq).collect::<Vec<_>>(),
        [Some(1), Some(2), Some(3)]
    );
    assert_eq!(lot[2].payload, released);
    assert_eq!(lot[2].event_type, "parking_spot_released");
    let other = store
        .events_after(0, Some(f.lot), Some(TenantId::new()), 100)
        .await
        .expect("another tenant's view");
    assert!(other.is_empty());
    let limited = store
        .events_after(0, None, Some(f.tenant), 2)
        .await
        .expect("tenant, limit 2");
    assert_eq!(limited.len(), 2);
    assert!(limited.iter().all(|e| e.lot_id.is_some()));
    let users = store.events_after(0, None, None, 100).await.expect("users");
    assert_eq!((users[0].lot_id, users[0].lot_seq), (None, None));

    assert_eq!(store.published_cursor().await.expect("cursor"), 0);
    store.set_published_cursor(3).await.expect("set");
    store
        .set_published_cursor(2)
        .await
        .expect("a late, smaller update");
    assert_eq!(store.published_cursor().await.expect("cursor"), 3);
}

async fn concurrent_bookings_of_one_spot_admit_exactly_one(store: Arc<dyn Store>) {
    let f = Arc::new(seed(store.as_ref()).await);
    let tasks: Vec<_> = (0..24)
        .map(|n| {
            let store = Arc::clone(&store);
            let f = Arc::clone(&f);
            tokio::spawn(async move {
                // Overlapping windows of different lengths on one spot.
                let start = 10 * H + (n % 4) * 15;
                let r = f.reservation(
                    f.spots[0],
                    start,
                    start + 2 * H,
                    ReservationStatus::Confirmed,
                );
                book(store.as_ref(), &r).await
            })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        match t.await.expect("task") {
            Ok(()) => won += 1,
            Err(e) => assert!(is_overlap(Err(e.clone())), "{e:?}"),
        }
    }
    assert_eq!(won, 1, "every window overlaps every other");
    assert_eq!(
        store
            .snapshot(now())
            .await
            .expect("snapshot")
            .blocking
            .len(),
        1
    );
}

async fn schema_is_current(store: Arc<dyn Store>) {
    let (applied, expected) = store.schema_status().await.expect("status");
    assert_eq!(applied, expected);
    assert!(expected >= 2);
    store.check_writable().await.expect("writable");
}

/// PostgreSQL only (SQLite's twin is a unit test of its migrator): a database
/// written by a newer parkd is refused, not touched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_refuses_a_newer_schema() {
    let Some(backend) = Backend::postgres().await else {
        return;
    };
    let db = backend._db.as_ref().expect("a scratch database");
    let (client, connection) = tokio_postgres::connect(db.url(), tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client
        .batch_execute("INSERT INTO schema_migrations (version, name) VALUES (999, 'future')")
        .await
        .expect("pretend a newer parkd migrated");
    let err = PgStore::connect(db.url(), None, PgOptions::default())
        .await
        .expect_err("refused");
    assert!(
        matches!(err, StoreError::SchemaTooNew { found: 999, .. }),
        "{err:?}"
    );
    backend.store.close().await.expect("close");
}

/// PostgreSQL only: the queries the API makes on large tables have an index
/// to use (`EXPLAIN` with sequential scans discouraged, since on a tiny test
/// table the planner rightly prefers them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_hot_queries_have_indexes() {
    let Some(backend) = Backend::postgres().await else {
        return;
    };
    let db = backend._db.as_ref().expect("a scratch database");
    let (client, connection) = tokio_postgres::connect(db.url(), tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client
        .batch_execute("SET enable_seqscan = off")
        .await
        .expect("discourage sequential scans");
    let queries = [
        (
            "a reservation by id",
            "SELECT * FROM reservations WHERE id = '00000000-0000-4000-8000-000000000001'::uuid",
        ),
        (
            "a driver's reservations, newest first",
            "SELECT * FROM reservations WHERE user_id = '00000000-0000-4000-8000-000000000001'::uuid ORDER BY created_at DESC LIMIT 20",
        ),
        (
            "a lot's window",
            "SELECT * FROM reservations WHERE lot_id = '00000000-0000-4000-8000-000000000001'::uuid AND start_time < now() AND end_time > now() - interval '1 day'",
        ),
        (
            "due holds",
            "SELECT * FROM reservations WHERE status = 'held' AND hold_expires_at <= now() ORDER BY hold_expires_at LIMIT 500",
        ),
        (
            "no-show candidates",
            "SELECT * FROM reservations WHERE status = 'confirmed' AND start_time <= now() ORDER BY start_time LIMIT 500",
        ),
        (
            "a spot's live holds",
            "SELECT * FROM reservations WHERE lot_id = '00000000-0000-4000-8000-000000000001'::uuid AND spot_id = '00000000-0000-4000-8000-000000000001'::uuid AND blocking AND status = 'held'",
        ),
        (
            "blocking rows of a lot",
            "SELECT * FROM reservations WHERE blocking AND lot_id = '00000000-0000-4000-8000-000000000001'::uuid",
        ),
        (
            "events after a cursor",
            "SELECT * FROM events WHERE seq > 10 ORDER BY seq LIMIT 500",
        ),
        (
            "a lot's newest event number",
            "SELECT MAX(lot_seq) FROM events WHERE lot_id = '00000000-0000-4000-8000-000000000001'::uuid",
        ),
        (
            "unnumbered events",
            "SELECT id FROM events WHERE seq IS NULL ORDER BY id LIMIT 100",
        ),
        (
            "a user by email",
            "SELECT * FROM users WHERE lower(email) = lower('a@example.com')",
        ),
        (
            "a device by key hash",
            "SELECT * FROM devices WHERE key_hash = 'ab'",
        ),
        (
            "a spot's sensor state",
            "SELECT * FROM spot_sensors WHERE spot_id = '00000000-0000-4000-8000-000000000001'::uuid",
        ),
        (
            "the booking covering a reading",
            "SELECT 1 FROM reservations WHERE lot_id = '00000000-0000-4000-8000-000000000001'::uuid AND spot_id = '00000000-0000-4000-8000-000000000001'::uuid AND end_time > now() AND start_time <= now()",
        ),
        (
            "a spot's open alert",
            "SELECT 1 FROM alerts WHERE spot_id = '00000000-0000-4000-8000-000000000001'::uuid AND kind = 'unexpected_occupancy' AND reservation_id IS NULL AND acknowledged_at IS NULL",
        ),
        (
            "a booking's alerts",
            "SELECT 1 FROM alerts WHERE reservation_id = '00000000-0000-4000-8000-000000000001'::uuid AND kind = 'overstay'",
        ),
        (
            "alerts, newest first",
            "SELECT * FROM alerts ORDER BY raised_at DESC, id DESC LIMIT 20",
        ),
    ];
    for (what, sql) in queries {
        let plan: Vec<String> = client
            .query(&format!("EXPLAIN {sql}"), &[])
            .await
            .expect("explain")
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect();
        let text = plan.join("\n");
        assert!(
            text.contains("Index") && !text.contains("Seq Scan"),
            "{what} has no index:\n{text}"
        );
    }
    backend.store.close().await.expect("close");
}

/// PostgreSQL only: two stores on one database (two instances) hear each
/// other's lot changes and logouts, not their own; one job leader at a time,
/// and another takes over when it goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_instances_hear_each_other_and_elect_one_leader() {
    use parkd::store::ClusterChange;
    let Some(backend) = Backend::postgres().await else {
        return;
    };
    let url = backend
        ._db
        .as_ref()
        .expect("a scratch database")
        .url()
        .to_owned();
    let a = backend.store.clone();
    let b = PgStore::connect(&url, None, PgOptions::default())
        .await
        .expect("second instance");
    let a_cluster = a.cluster().expect("postgres is a cluster store");
    let mut heard_by_a = a_cluster.changes();
    let mut heard_by_b = b.cluster().expect("cluster").changes();
    // Both listeners are connected once a notification round-trips.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    let tenant = TenantRecord {
        id: TenantId::new(),
        name: "T".into(),
        created_at: now(),
    };
    a.create_tenant(tenant.clone()).await.expect("tenant");
    let lot = lot_record(tenant.id, 0);
    a.insert_lot(lot.clone()).await.expect("lot");
    let change = tokio::time::timeout(std::time::Duration::from_secs(5), heard_by_b.recv())
        .await
        .expect("b hears within 5 s")
        .expect("a change");
    assert_eq!(change, ClusterChange::Lot(lot.lot.id));
    let stored = b
        .cluster()
        .expect("cluster")
        .lot_snapshot(lot.lot.id, now())
        .await
        .expect("lot snapshot")
        .expect("the lot");
    assert_eq!(stored.lot, lot);

    let jti = Uuid::new_v4();
    let expires = now() + Duration::minutes(10);
    b.revoke_access(jti, expires).await.expect("logout on b");
    let change = tokio::time::timeout(std::time::Duration::from_secs(5), heard_by_a.recv())
        .await
        .expect("a hears within 5 s")
        .expect("a change");
    assert_eq!(
        change,
        ClusterChange::AccessRevoked {
            jti,
            expires_at: expires
        }
    );
    // Neither heard its own change.
    assert!(heard_by_a.try_recv().is_err());
    assert!(heard_by_b.try_recv().is_err());

    let a_leads = a_cluster.try_lead().await.expect("a tries");
    let b_leads = b
        .cluster()
        .expect("cluster")
        .try_lead()
        .await
        .expect("b tries");
    assert!(
        a_leads ^ b_leads,
        "exactly one leads: a {a_leads}, b {b_leads}"
    );
    let (leader, other): (&dyn Store, &dyn Store) = if a_leads {
        (a.as_ref(), &b)
    } else {
        (&b, a.as_ref())
    };
    assert!(
        leader
            .cluster()
            .expect("cluster")
            .try_lead()
            .await
            .expect("again")
    );
    assert!(
        !other
            .cluster()
            .expect("cluster")
            .try_lead()
            .await
            .expect("again")
    );
    leader.close().await.expect("the leader goes away");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !other
        .cluster()
        .expect("cluster")
        .try_lead()
        .await
        .expect("take over")
    {
        assert!(std::time::Instant::now() < deadline, "nobody took over");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    b.close().await.expect("close");
    a.close().await.expect("close");
}

/// PostgreSQL only: a transaction that meets a serialization failure or a
/// deadlock runs again, anything else does not; a statement over the timeout
/// is cancelled and reported as unavailable (503), not as a bug.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_retries_serialization_failures_and_times_statements_out() {
    let Some(backend) = Backend::postgres().await else {
        return;
    };
    let url = backend
        ._db
        .as_ref()
        .expect("a scratch database")
        .url()
        .to_owned();
    let store = PgStore::connect(
        &url,
        None,
        PgOptions {
            statement_timeout: std::time::Duration::from_millis(200),
            ..PgOptions::default()
        },
    )
    .await
    .expect("connect");
    for (code, expect_runs, expect_ok) in
        [("40001", 2, true), ("40P01", 2, true), ("23505", 1, false)]
    {
        let runs = std::sync::atomic::AtomicU32::new(0);
        let result: Result<(), StoreError> = parkd::pg_transaction!(store.pool(), tx => {
            let run = runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if run == 0 {
                tx.batch_execute(&format!(
                    "DO $$ BEGIN RAISE EXCEPTION 'injected' USING ERRCODE = '{code}'; END $$"
                ))
                .await?;
            }
        });
        assert_eq!(
            runs.load(std::sync::atomic::Ordering::SeqCst),
            expect_runs,
            "SQLSTATE {code}"
        );
        assert_eq!(result.is_ok(), expect_ok, "SQLSTATE {code}: {result:?}");
    }
    let client = store.pool().get().await.expect("connection");
    let slow = client
        .batch_execute("SELECT pg_sleep(2)")
        .await
        .expect_err("cancelled by the statement timeout");
    assert!(
        matches!(
            parkd::store::postgres::map_err(&slow),
            StoreError::Unavailable(_)
        ),
        "{slow:?}"
    );
    drop(client);
    store.close().await.expect("close");
    backend.store.close().await.expect("close");
}

// --- payments -------------------------------------------------------------------

/// A `pending` payment of `amount` for `r`.
fn pending_payment(r: &Reservation, purpose: PaymentPurpose, amount: i64) -> PaymentRecord {
    let id = PaymentId::new();
    PaymentRecord {
        id,
        reservation_id: r.id,
        lot_id: r.lot_id,
        user_id: r.user_id,
        purpose,
        amount: eur(amount),
        refunded: 0,
        status: PaymentStatus::Pending,
        stripe_idempotency_key: format!("payment-{id}"),
        intent_id: None,
        client_secret: None,
        failure_reason: None,
        created_at: now(),
        updated_at: now(),
    }
}

fn processed(p: &PaymentRecord) -> DomainEvent {
    DomainEvent::PaymentProcessed {
        payment_id: p.id,
        reservation_id: p.reservation_id,
        lot_id: p.lot_id,
        amount: p.amount,
    }
}

/// A held booking of `r` with its pending payment (one transaction).
async fn hold_with_payment(store: &dyn Store, r: &Reservation, p: &PaymentRecord) {
    store
        .insert_reservation_with_payment(r.clone(), Some(quote_for(r)), booked(r), p.clone())
        .await
        .expect("hold with payment");
}

/// The step a `payment_intent.succeeded` webhook writes: the payment succeeds,
/// the hold is confirmed, `PaymentProcessed` is written.
fn settle_change(event_id: &str, r: &Reservation, p: &PaymentRecord) -> PaymentChange {
    let mut paid = p.clone();
    paid.status = PaymentStatus::Succeeded;
    paid.updated_at = now();
    let mut confirmed = r.clone();
    confirmed.status = ReservationStatus::Confirmed;
    confirmed.hold_expires_at = None;
    PaymentChange {
        webhook_event: Some((event_id.into(), "payment_intent.succeeded".into())),
        updates: vec![(paid.clone(), PaymentStatus::Pending)],
        reservation: Some(ReservationChange {
            reservation: confirmed,
            expected: ReservationStatus::Held,
            quote: None,
        }),
        events: vec![processed(&paid)],
        ..PaymentChange::default()
    }
}

async fn event_count(store: &dyn Store) -> usize {
    store
        .events_after(0, None, None, 1000)
        .await
        .expect("events")
        .len()
}

async fn payments_record_intents_and_list_in_scope(store: Arc<dyn Store>) {
    let f = seed(store.as_ref()).await;
    let r = f.reservation(f.spots[0], 0, 2 * H, ReservationStatus::Held);
    let p = pending_payment(&r, PaymentPurpose::Booking, 500);
    let before = event_count(store.as_ref()).await;
    hold_with_payment(store.as_ref(), &r, &p).await;
    assert_eq!(event_count(store.as_ref()).await, before + 1);
    let view = store.payment(p.id).await.expect("read").expect("stored");
    assert_eq!(view.payment, p);
    assert_eq!(view.tenant_id, f.tenant);
    assert_eq!(
        store
            .reservation(r.id)
            .await
            .expect("read")
            .map(|x| x.reservation),
        Some(r.clone())
    );

    // Stripe answered: the intent and the idempotent answer, together.
    let answer = IdempotencyRecord {
        user_id: f.user,
        key: "pay-1".into(),
        request_hash: "h".into(),
        status: 201,
        response_json: "{}".into(),
        created_at: now(),
    };
    store
        .attach_intent(
            p.id,
            "pi_1".into(),
            Some("pi_1_secret".into()),
            Some(answer.clone()),
        )
        .await
        .expect("attach");
    let by_intent = store
        .payment_by_intent("pi_1".into())
        .await
        .expect("read")
        .expect("found by intent");
    assert_eq!(by_intent.payment.id, p.id);
    assert_eq!(by_intent.payment.intent_id.as_deref(), Some("pi_1"));
    assert_eq!(
        by_intent.payment.client_secret.as_deref(),
        Some("pi_1_secret")
    );
    assert_eq!(by_intent.payment.status, PaymentStatus::Pending);
    assert_eq!(
        store
            .idempotent_response(f.user, "pay-1".into())
            .await
            .expect("read"),
        Some(answer)
    );
    // The same intent again is fine (a retried answer); another one is not.
    store
        .attach_intent(p.id, "pi_1".into(), None, None)
        .await
        .expect("same intent again");
    let err = store
        .attach_intent(p.id, "pi_2".into(), None, None)
        .await
        .expect_err("a second intent");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(
        store.payment_by_intent("pi_2".into()).await.expect("read"),
        None
    );

    // A hold refused for overlap leaves no payment behind.
    let clash = f.reservation(f.spots[0], H, 3 * H, ReservationStatus::Held);
    let orphan = pending_payment(&clash, PaymentPurpose::Booking, 500);
    let refused = store
        .insert_reservation_with_payment(
            clash.clone(),
            Some(quote_for(&clash)),
            booked(&clash),
            orphan.clone(),
        )
        .await;
    assert!(is_overlap(refused));
    assert_eq!(store.payment(orphan.id).await.expect("read"), None);

    // A second payment (an extension's) is listed after the first.
    let mut extension = pending_payment(&r, PaymentPurpose::Extension, 120);
    extension.created_at = p.created_at + Duration::seconds(1);
    let outcome = store
        .apply_payment_change(PaymentChange {
            insert: Some(extension.clone()),
            ..PaymentChange::default()
        })
        .await
        .expect("insert");
    assert_eq!(outcome, ChangeOutcome::Applied);
    let of: Vec<PaymentId> = store
        .payments_of(r.id)
        .await
        .expect("payments of")
        .iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(of, vec![p.id, extension.id]);

    let page = PageRequest {
        page: 1,
        per_page: 10,
    };
    let listed = |scope: Scope, filter: PaymentFilter| {
        let store = Arc::clone(&store);
        async move {
            let (rows, total) = store
                .list_payments(scope, filter, page)
                .await
                .expect("list");
            (
                rows.into_iter().map(|v| v.payment.id).collect::<Vec<_>>(),
                total,
            )
        }
    };
    // Newest first.
    assert_eq!(
        listed(Scope::Tenant(f.tenant), PaymentFilter::default()).await,
        (vec![extension.id, p.id], 2)
    );
    assert_eq!(
        listed(Scope::User(f.user), PaymentFilter::default()).await,
        (vec![extension.id, p.id], 2)
    );
    assert_eq!(
        listed(Scope::Tenant(TenantId::new()), PaymentFilter::default()).await,
        (vec![], 0)
    );
    assert_eq!(
        listed(Scope::User(UserId::new()), PaymentFilter::default()).await,
        (vec![], 0)
    );
    let only_lot = |lot| PaymentFilter {
        lot_id: Some(lot),
        ..PaymentFilter::default()
    };
    assert_eq!(listed(Scope::All, only_lot(f.buffered)).await, (vec![], 0));
    assert_eq!(listed(Scope::All, only_lot(f.lot)).await.1, 2);
    let paid = PaymentFilter {
        status: Some(PaymentStatus::Succeeded),
        ..PaymentFilter::default()
    };
    assert_eq!(listed(Scope::All, paid).await, (vec![], 0));
    let since = PaymentFilter {
        from: Some(extension.created_at),
        ..PaymentFilter::default()
    };
    assert_eq!(listed(Scope::All, since).await, (vec![extension.id], 1));
    let before_ext = PaymentFilter {
        to: Some(extension.created_at),
        ..PaymentFilter::default()
    };
    assert_eq!(listed(Scope::All, before_ext).await, (vec![p.id], 1));
    let second_page = store
        .list_payments(
            Scope::All,
            PaymentFilter::default(),
            PageRequest {
                page: 2,
                per_page: 1,
            },
        )
        .await
        .expect("page 2");
    assert_eq!(
        second_page
            .0
            .iter()
            .map(|v| v.payment.id)
            .collect::<Vec<_>>(),
        vec![p.id]
    );
    assert_eq!(second_page.1, 2);
}

async fn payments_of_each_reads_a_listing_page_at_once(store: Arc<dyn Store>) {
    let f = seed(store.as_ref()).await;
    let first = f.reservation(f.spots[0], 0, H, ReservationStatus::Held);
    let second = f.reservation(f.spots[1], 0, H, ReservationStatus::Held);
    let unpaid = f.reservation(f.spots[0], 2 * H, 3 * H, ReservationStatus::Confirmed);
    let other = f.reservation(f.spots[1], 2 * H, 3 * H, ReservationStatus::Held);
    let booking = pending_payment(&first, PaymentPurpose::Booking, 500);
    hold_with_payment(store.as_ref(), &first, &booking).await;
    let extension = PaymentRecord {
        created_at: booking.created_at + Duration::seconds(1),
        ..pending_payment(&first, PaymentPurpose::Extension, 200)
    };
    store
        .apply_payment_change(PaymentChange {
            insert: Some(extension.clone()),
            ..PaymentChange::default()
        })
        .await
        .expect("extension payment");
    let second_payment = pending_payment(&second, PaymentPurpose::Booking, 700);
    hold_with_payment(store.as_ref(), &second, &second_payment).await;
    store
        .insert_reservation(
            unpaid.clone(),
            Some(quote_for(&unpaid)),
            booked(&unpaid),
            None,
        )
        .await
        .expect("unpaid booking");
    hold_with_payment(
        store.as_ref(),
        &other,
        &pending_payment(&other, PaymentPurpose::Booking, 900),
    )
    .await;

    let found = store
        .payments_of_each(vec![first.id, second.id, unpaid.id])
        .await
        .expect("read");
    let ids: Vec<PaymentId> = found.iter().map(|p| p.id).collect();
    // Every payment of the named reservations, oldest first, and nothing else.
    assert_eq!(ids.len(), 3, "{found:?}");
    assert!(ids.contains(&second_payment.id));
    let position = |id| ids.iter().position(|x| *x == id).expect("listed");
    assert!(position(booking.id) < position(extension.id));
    assert!(found.iter().all(|p| p.reservation_id != other.id));
    assert_eq!(
        store.payments_of_each(Vec::new()).await.expect("read"),
        vec![]
    );
}

async fn a_lot_keeps_its_payment_mode_across_updates(store: Arc<dyn Store>) {
    let f = seed(store.as_ref()).await;
    assert_eq!(store.prepaid_lots().await.expect("prepaid"), vec![]);
    let stored = |snapshot: &Snapshot| {
        snapshot
            .lots
            .iter()
            .find(|l| l.lot.id == f.lot)
            .expect("the lot")
            .clone()
    };
    let record = stored(&store.snapshot(now()).await.expect("snapshot"));
    assert_eq!(record.payment_mode, PaymentMode::OnSite);
    store
        .update_lot(record.lot.clone(), Some(PaymentMode::Prepaid))
        .await
        .expect("prepaid");
    assert_eq!(store.prepaid_lots().await.expect("prepaid"), vec![f.lot]);
    // Editing the lot without naming a mode does not reset it.
    let mut lot = record.lot.clone();
    lot.name = "Renamed".into();
    store.update_lot(lot.clone(), None).await.expect("update");
    assert_eq!(store.prepaid_lots().await.expect("prepaid"), vec![f.lot]);
    let reloaded = stored(&store.snapshot(now()).await.expect("snapshot"));
    assert_eq!(
        (reloaded.lot.name.as_str(), reloaded.payment_mode),
        ("Renamed", PaymentMode::Prepaid)
    );
    store
        .update_lot(lot.clone(), Some(PaymentMode::OnSite))
        .await
        .expect("on site");
    assert_eq!(store.prepaid_lots().await.expect("prepaid"), vec![]);
    let mut missing = lot;
    missing.id = LotId::new();
    let err = store
        .update_lot(missing, Some(PaymentMode::Prepaid))
        .await
        .expect_err("no such lot");
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
}

async fn a_lot_is_created_with_its_payment_mode(store: Arc<dyn Store>) {
    let f = seed(store.as_ref()).await;
    let mut record = lot_record(f.tenant, 0);
    record.payment_mode = PaymentMode::Prepaid;
    store.insert_lot(record.clone()).await.expect("prepaid lot");
    assert_eq!(
        store.prepaid_lots().await.expect("prepaid"),
        vec![record.lot.id]
    );
    let snapshot = store.snapshot(now()).await.expect("snapshot");
    let stored = snapshot
        .lots
        .iter()
        .find(|l| l.lot.id == record.lot.id)
        .expect("the lot");
    assert_eq!(stored, &record);
}

async fn settling_is_idempotent_by_webhook_event_id(store: Arc<dyn Store>) {
    let f = seed(store.as_ref()).await;
    let r = f.reservation(f.spots[1], 0, H, ReservationStatus::Held);
    let p = pending_payment(&r, PaymentPurpose::Booking, 500);
    hold_with_payment(store.as_ref(), &r, &p).await;
    let before = event_count(store.as_ref()).await;

    let outcome = store
        .apply_payment_change(settle_change("evt_1", &r, &p))
        .await
        .expect("settle");
    assert_eq!(outcome, ChangeOutcome::Applied);
    let stored = store.payment(p.id).await.expect("read").expect("payment");
    assert_eq!(stored.payment.status, PaymentStatus::Succeeded);
    assert_eq!(
        store
            .reservation(r.id)
            .await
            .expect("read")
            .expect("res")
            .reservation
            .status,
        ReservationStatus::Confirmed
    );
    let events = store
        .events_after(0, None, None, 1000)
        .await
        .expect("events");
    assert_eq!(events.len(), before + 1);
    assert_eq!(
        events.last().map(|e| e.event_type.as_str()),
        Some(processed(&p).type_name())
    );

    // The same Stripe event again, in any form: nothing is written, not even
    // a step that would otherwise conflict.
    let again = store
        .apply_payment_change(settle_change("evt_1", &r, &p))
        .await
        .expect("a redelivery is no error");
    assert_eq!(again, ChangeOutcome::Duplicate);
    let mut refund_all = stored.payment.clone();
    refund_all.refunded = 500;
    refund_all.status = PaymentStatus::Refunded;
    let other_step = PaymentChange {
        webhook_event: Some(("evt_1".into(), "charge.refunded".into())),
        updates: vec![(refund_all, PaymentStatus::Succeeded)],
        events: vec![processed(&p)],
        ..PaymentChange::default()
    };
    assert_eq!(
        store.apply_payment_change(other_step).await.expect("dup"),
        ChangeOutcome::Duplicate
    );
    assert_eq!(store.payment(p.id).await.expect("read"), Some(stored));
    assert_eq!(event_count(store.as_ref()).await, before + 1);
}

/// Two deliveries of one Stripe event at the same moment (two instances):
/// exactly one acts.
async fn a_webhook_delivered_twice_at_once_acts_once(store: Arc<dyn Store>) {
    let f = seed(store.as_ref()).await;
    let r = f.reservation(f.spots[4], 0, H, ReservationStatus::Held);
    let p = pending_payment(&r, PaymentPurpose::Booking, 500);
    hold_with_payment(store.as_ref(), &r, &p).await;
    let before = event_count(store.as_ref()).await;
    let deliveries: Vec<_> = (0..2)
        .map(|_| {
            let store = Arc::clone(&store);
            let change = settle_change("evt_twice", &r, &p);
            tokio::spawn(async move { store.apply_payment_change(change).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for delivery in deliveries {
        outcomes.push(delivery.await.expect("task").expect("no error"));
    }
    outcomes.sort_by_key(|o| *o == ChangeOutcome::Duplicate);
    assert_eq!(
        outcomes,
        vec![ChangeOutcome::Applied, ChangeOutcome::Duplicate]
    );
    assert_eq!(event_count(store.as_ref()).await, before + 1);
    assert_eq!(
        store
            .payment(p.id)
            .await
            .expect("read")
            .map(|v| v.payment.status),
        Some(PaymentStatus::Succeeded)
    );
}

async fn a_stale_payment_step_writes_nothing(store: Arc<dyn Store>) {
    let f = seed(store.as_ref()).await;
    let r = f.reservation(f.spots[2], 0, H, ReservationStatus::Held);
    let p = pending_payment(&r, PaymentPurpose::Booking, 500);
    hold_with_payment(store.as_ref(), &r, &p).await;
    let before = event_count(store.as_ref()).await;

    // The reservation is no longer held: the whole step is refused, the
    // webhook id included, so a later delivery is still acted on.
    let mut stale = settle_change("evt_stale", &r, &p);
    if let Some(change) = stale.reservation.as_mut() {
        change.expected = ReservationStatus::Confirmed;
    }
    let err = store
        .apply_payment_change(stale)
        .await
        .expect_err("the reservation changed");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    // The payment is not the one expected either.
    let mut wrong = settle_change("evt_stale", &r, &p);
    wrong.updates[0].1 = PaymentStatus::Failed;
    let err = store
        .apply_payment_change(wrong)
        .await
        .expect_err("the payment changed");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(
        store.payment(p.id).await.expect("read").map(|v| v.payment),
        Some(p.clone())
    );
    assert_eq!(
        store
            .reservation(r.id)
            .await
            .expect("read")
            .map(|x| x.reservation),
        Some(r.clone())
    );
    assert_eq!(event_count(store.as_ref()).await, before);
    assert_eq!(
        store
            .apply_payment_change(settle_change("evt_stale", &r, &p))
            .await
            .expect("now it applies"),
        ChangeOutcome::Applied
    );
}

fn refund_of(p: &PaymentRecord, amount: i64, stripe_id: &str) -> RefundRecord {
    RefundRecord {
        id: Uuid::new_v4(),
        payment_id: p.id,
        stripe_refund_id: Some(stripe_id.into()),
        amount: eur(amount),
        reason: "operator".into(),
        created_at: now(),
    }
}

/// The payment after refunding `total` in all.
fn refunded_to(p: &PaymentRecord, total: i64) -> PaymentRecord {
    let mut next = p.clone();
    next.refunded = total;
    next.status = p.status_after_refunds(total);
    next.updated_at = now();
    next
}

async fn refunds_are_bounded_by_the_amount_paid(store: Arc<dyn Store>) {
    let f = seed(store.as_ref()).await;
    let r = f.reservation(f.spots[3], 0, H, ReservationStatus::Held);
    let p = pending_payment(&r, PaymentPurpose::Booking, 500);
    hold_with_payment(store.as_ref(), &r, &p).await;
    store
        .apply_payment_change(settle_change("evt_paid", &r, &p))
        .await
        .expect("settle");
    let paid = store.payment(p.id).await.expect("read").expect("p").payment;
    assert_eq!(paid.refundable(), 500);

    let part = refund_of(&paid, 200, "re_1");
    let partly = refunded_to(&paid, 200);
    store
        .apply_payment_change(PaymentChange {
            updates: vec![(partly.clone(), PaymentStatus::Succeeded)],
            refunds: vec![part.clone()],
            ..PaymentChange::default()
        })
        .await
        .expect("partial refund");
    let stored = store.payment(p.id).await.expect("read").expect("p").payment;
    assert_eq!(stored.status, PaymentStatus::PartiallyRefunded);
    assert_eq!(stored.refunded, 200);
    assert_eq!(stored.refundable(), 300);
    assert_eq!(
        store.refunds_of(p.id).await.expect("refunds"),
        vec![part.clone()]
    );

    // More than was paid: refused by the store, and nothing is written.
    let mut too_much = refund_of(&stored, 400, "re_2");
    too_much.created_at = now() + Duration::seconds(1);
    let err = store
        .apply_payment_change(PaymentChange {
            updates: vec![(refunded_to(&stored, 600), PaymentStatus::PartiallyRefunded)],
            refunds: vec![too_much.clone()],
            ..PaymentChange::default()
        })
        .await
        .expect_err("refunded beyond the amount");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(
        store.payment(p.id).await.expect("read").map(|v| v.payment),
        Some(stored.clone())
    );
    assert_eq!(
        store.refunds_of(p.id).await.expect("refunds"),
        vec![part.clone()]
    );

    // The same Stripe refund twice is refused.
    let err = store
        .apply_payment_change(PaymentChange {
            updates: vec![(refunded_to(&stored, 300), PaymentStatus::PartiallyRefunded)],
            refunds: vec![refund_of(&stored, 100, "re_1")],
            ..PaymentChange::default()
        })
        .await
        .expect_err("a Stripe refund id once");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

    // The rest, exactly.
    let rest = RefundRecord {
        created_at: now() + Duration::seconds(2),
        ..refund_of(&stored, 300, "re_3")
    };
    store
        .apply_payment_change(PaymentChange {
            updates: vec![(refunded_to(&stored, 500), PaymentStatus::PartiallyRefunded)],
            refunds: vec![rest.clone()],
            ..PaymentChange::default()
        })
        .await
        .expect("refund the rest");
    let done = store.payment(p.id).await.expect("read").expect("p").payment;
    assert_eq!(done.status, PaymentStatus::Refunded);
    assert_eq!(done.refundable(), 0);
    assert_eq!(
        store.refunds_of(p.id).await.expect("refunds"),
        vec![part, rest]
    );
}

async fn revenue_is_what_payments_took_net_of_refunds(store: Arc<dyn Store>) {
    let f = seed(store.as_ref()).await;
    // Paid 500, refunded 200, then an extension of 120 paid: net 420.
    let a = f.reservation(f.spots[0], 0, H, ReservationStatus::Held);
    let pa = pending_payment(&a, PaymentPurpose::Booking, 500);
    hold_with_payment(store.as_ref(), &a, &pa).await;
    store
        .apply_payment_change(settle_change("evt_a", &a, &pa))
        .await
        .expect("settle a");
    let paid_a = store
        .payment(pa.id)
        .await
        .expect("read")
        .expect("a")
        .payment;
    store
        .apply_payment_change(PaymentChange {
            updates: vec![(refunded_to(&paid_a, 200), PaymentStatus::Succeeded)],
            refunds: vec![refund_of(&paid_a, 200, "re_a")],
            ..PaymentChange::default()
        })
        .await
        .expect("refund a");
    let mut ext = pending_payment(&a, PaymentPurpose::Extension, 120);
    ext.status = PaymentStatus::Succeeded;
    store
        .apply_payment_change(PaymentChange {
            insert: Some(ext),
            ..PaymentChange::default()
        })
        .await
        .expect("extension paid");
    // Still pending: not revenue.
    let b = f.reservation(f.spots[1], 2 * H, 3 * H, ReservationStatus::Held);
    hold_with_payment(
        store.as_ref(),
        &b,
        &pending_payment(&b, PaymentPurpose::Booking, 700),
    )
    .await;
    // Paid, but the stay starts after the window.
    let c = f.reservation(f.spots[2], 30 * H, 31 * H, ReservationStatus::Held);
    let pc = pending_payment(&c, PaymentPurpose::Booking, 900);
    hold_with_payment(store.as_ref(), &c, &pc).await;
    store
        .apply_payment_change(settle_change("evt_c", &c, &pc))
        .await
        .expect("settle c");
    // Refunded in full: counted as 0.
    let d = f.reservation(f.spots[3], 4 * H, 5 * H, ReservationStatus::Held);
    let pd = pending_payment(&d, PaymentPurpose::Booking, 300);
    hold_with_payment(store.as_ref(), &d, &pd).await;
    store
        .apply_payment_change(settle_change("evt_d", &d, &pd))
        .await
        .expect("settle d");
    let paid_d = store
        .payment(pd.id)
        .await
        .expect("read")
        .expect("d")
        .payment;
    store
        .apply_payment_change(PaymentChange {
            updates: vec![(refunded_to(&paid_d, 300), PaymentStatus::Succeeded)],
            refunds: vec![refund_of(&paid_d, 300, "re_d")],
            ..PaymentChange::default()
        })
        .await
        .expect("refund d");

    let window = Interval::new(f.base, f.base + Duration::hours(24)).expect("window");
    let stays = store.paid_stays(f.lot, window).await.expect("paid stays");
    assert_eq!(
        stays,
        vec![
            PaidStay {
                reservation_id: a.id,
                interval: a.interval,
                net: eur(420),
            },
            PaidStay {
                reservation_id: d.id,
                interval: d.interval,
                net: eur(0),
            },
        ]
    );
    // Another lot's window holds none of them.
    assert_eq!(
        store.paid_stays(f.buffered, window).await.expect("none"),
        vec![]
    );
}

/// PostgreSQL only: the payment store's lookups use an index (as
/// `postgres_hot_queries_have_indexes`, for migration 0004).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_payment_queries_have_indexes() {
    let Some(backend) = Backend::postgres().await else {
        return;
    };
    let db = backend._db.as_ref().expect("a scratch database");
    let (client, connection) = tokio_postgres::connect(db.url(), tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client
        .batch_execute("SET enable_seqscan = off")
        .await
        .expect("discourage sequential scans");
    let id = "'00000000-0000-4000-8000-000000000001'::uuid";
    let queries = [
        (
            "a payment by id",
            format!("SELECT * FROM payments WHERE id = {id}"),
        ),
        (
            "a payment by intent (webhooks)",
            "SELECT * FROM payments WHERE intent_id = 'pi_1'".to_owned(),
        ),
        (
            "a reservation's payments",
            format!("SELECT * FROM payments WHERE reservation_id = {id} ORDER BY created_at"),
        ),
        (
            "a driver's payments, newest first",
            format!(
                "SELECT * FROM payments WHERE user_id = {id} ORDER BY created_at DESC LIMIT 20"
            ),
        ),
        (
            "a lot's payments, newest first",
            format!("SELECT * FROM payments WHERE lot_id = {id} ORDER BY created_at DESC LIMIT 20"),
        ),
        (
            "a payment's refunds",
            format!("SELECT * FROM refunds WHERE payment_id = {id} ORDER BY created_at"),
        ),
        (
            "a processed webhook event",
            "SELECT * FROM processed_webhook_events WHERE event_id = 'evt_1'".to_owned(),
        ),
        (
            "the prepaid lots",
            "SELECT id FROM lots WHERE payment_mode = 'prepaid'".to_owned(),
        ),
    ];
    for (what, sql) in queries {
        let plan: Vec<String> = client
            .query(&format!("EXPLAIN {sql}"), &[])
            .await
            .expect("explain")
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect();
        let text = plan.join("\n");
        assert!(
            text.contains("Index") && !text.contains("Seq Scan"),
            "{what} has no index:\n{text}"
        );
    }
    backend.store.close().await.expect("close");
}

// --- sensors, alerts, consumer cursors, per-lot event reads ----------------------

fn device(lot: LotId, key_hash: &str) -> DeviceRecord {
    DeviceRecord {
        id: Uuid::new_v4(),
        lot_id: lot,
        name: "gateway".into(),
        key_hash: key_hash.into(),
        created_at: now(),
        revoked_at: None,
        last_seen_at: None,
    }
}

/// The event that goes with issuing `d`.
fn issued(d: &DeviceRecord) -> DomainEvent {
    DomainEvent::DeviceKeyIssued {
        device_id: d.id,
        lot_id: d.lot_id,
        name: d.name.clone(),
        by: UserId::new(),
    }
}

/// The event that goes with revoking `d`.
fn revoked(d: &DeviceRecord) -> DomainEvent {
    DomainEvent::DeviceKeyRevoked {
        device_id: d.id,
        lot_id: d.lot_id,
        by: UserId::new(),
    }
}

/// The types of a lot's events after `seq`.
async fn event_types_after(store: &dyn Store, lot: LotId, seq: u64) -> Vec<String> {
    store
        .events_after(seq, Some(lot), None, 1000)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.event_type)
        .collect()
}

fn reading(spot: SpotId, occupied: bool, at: DateTime<Utc>) -> Reading {
    Reading {
        spot_id: spot,
        in_service: true,
        occupied,
        at,
    }
}

async fn sensor_batches_keep_the_newest_reading_and_dedupe_alerts(store: Arc<dyn Store>) {
    let f = seed(store.as_ref()).await;
    let gw = device(f.lot, "hash-1");
    let issuing = store.latest_event_seq().await.expect("latest");
    store
        .insert_device(gw.clone(), issued(&gw))
        .await
        .expect("device");
    let taken = device(f.lot, "hash-1");
    assert!(matches!(
        store.insert_device(taken.clone(), issued(&taken)).await,
        Err(StoreError::Conflict(_))
    ));
    // The key and its event commit together; the refused one wrote neither.
    assert_eq!(
        event_types_after(store.as_ref(), f.lot, issuing).await,
        ["device_key_issued"]
    );
    assert_eq!(
        store
            .device_by_key_hash("hash-1".into())
            .await
            .expect("by hash"),
        Some(gw.clone())
    );
    assert_eq!(
        store.list_devices(f.lot).await.expect("devices"),
        vec![gw.clone()]
    );
    let before = store.latest_event_seq().await.expect("latest");

    let (a, b) = (f.spots[0], f.spots[1]);
    let t = f.base - Duration::hours(2);
    let outcome = store
        .apply_readings(
            gw.id,
            f.lot,
            vec![
                reading(a, true, t + Duration::minutes(2)),
                reading(a, false, t),
                reading(a, true, t + Duration::minutes(2)),
                reading(a, false, t + Duration::minutes(1)),
            ],
            t + Duration::minutes(3),
        )
        .await
        .expect("batch");
    // Sorted: empty@0 (applied), empty@1 (repeat), occupied@2 (applied), occupied@2 (equal).
    assert_eq!((outcome.applied, outcome.stale), (2, 2));
    assert_eq!(outcome.alerts.len(), 1, "an unbooked arrival: {outcome:?}");
    let first = outcome.alerts[0].clone();
    assert_eq!(
        (first.kind, first.spot_id, first.spot_label.as_str()),
        (AlertKind::UnexpectedOccupancy, a, "A")
    );
    assert_eq!(
        store.sensor_states(f.lot).await.expect("states"),
        vec![SpotSensor {
            spot_id: a,
            occupied: true,
            since: t + Duration::minutes(2)
        }]
    );
    let seen = store
        .list_devices(f.lot)
        .await
        .expect("devices")
        .remove(0)
        .last_seen_at;
    assert_eq!(seen, Some(t + Duration::minutes(3)));

    // A late, older reading never wins.
    let late = store
        .apply_readings(
            gw.id,
            f.lot,
            vec![reading(a, false, t)],
            t + Duration::minutes(4),
        )
        .await
        .expect("late");
    assert_eq!((late.applied, late.stale), (0, 1));

    // Leaving and coming back while the first alert is open raises no second one.
    let again = store
        .apply_readings(
            gw.id,
            f.lot,
            vec![
                reading(a, false, t + Duration::minutes(5)),
                reading(a, true, t + Duration::minutes(6)),
            ],
            t + Duration::minutes(7),
        )
        .await
        .expect("again");
    assert_eq!((again.applied, again.alerts.len()), (2, 0));

    // An arrival a booking covers raises nothing.
    let covered = f.reservation(b, 0, H, ReservationStatus::Confirmed);
    book(store.as_ref(), &covered).await.expect("book b");
    let arrival = store
        .apply_readings(
            gw.id,
            f.lot,
            vec![reading(b, true, f.base + Duration::minutes(5))],
            f.base + Duration::minutes(5),
        )
        .await
        .expect("covered arrival");
    assert_eq!((arrival.applied, arrival.alerts.len()), (1, 0));

    // Acknowledging writes its event once; the next unbooked arrival is a new alert.
    let staff = user_record("staff@example.com", vec![Role::Operator], Some(f.tenant));
    store
        .create_user(staff.clone(), registered(&staff))
        .await
        .expect("staff");
    let acked = store
        .acknowledge_alert(first.id, staff.id, now())
        .await
        .expect("ack");
    let AckOutcome::Acknowledged(acked) = acked else {
        panic!("first acknowledgement: {acked:?}");
    };
    assert_eq!(acked.acknowledged_by, Some(staff.id));
    assert!(matches!(
        store.acknowledge_alert(first.id, staff.id, now()).await,
        Ok(AckOutcome::AlreadyAcknowledged(ref a)) if *a == acked
    ));
    assert!(matches!(
        store
            .acknowledge_alert(parking_core::model::AlertId::new(), staff.id, now())
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store.alert(first.id).await.expect("alert"),
        Some((acked.clone(), f.tenant))
    );
    let third = store
        .apply_readings(
            gw.id,
            f.lot,
            vec![
                reading(a, false, t + Duration::minutes(8)),
                reading(a, true, t + Duration::minutes(9)),
            ],
            t + Duration::minutes(10),
        )
        .await
        .expect("third arrival");
    assert_eq!(
        third.alerts.len(),
        1,
        "a new alert once the old one was acknowledged"
    );

    // The events: status changes, two raised alerts and one acknowledgement,
    // numbered consecutively in the lot after the booking's.
    let events = store
        .events_after(before, Some(f.lot), None, 100)
        .await
        .expect("events");
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types
            .iter()
            .filter(|t| **t == "spot_status_changed")
            .count(),
        7,
        "{types:?}"
    );
    assert_eq!(types.iter().filter(|t| **t == "alert_raised").count(), 2);
    assert_eq!(
        types.iter().filter(|t| **t == "alert_acknowledged").count(),
        1
    );
    let lot_seqs: Vec<u64> = events.iter().filter_map(|e| e.lot_seq).collect();
    let first_seq = lot_seqs[0];
    assert_eq!(
        lot_seqs,
        (first_seq..first_seq + lot_seqs.len() as u64).collect::<Vec<_>>()
    );

    // Listing: newest first, filtered, scoped to the tenant.
    let open = store
        .list_alerts(
            Scope::Tenant(f.tenant),
            AlertFilter {
                acknowledged: Some(false),
                ..AlertFilter::default()
            },
            PageRequest {
                page: 1,
                per_page: 10,
            },
        )
        .await
        .expect("open alerts");
    assert_eq!(open.1, 1);
    assert_eq!(open.0[0].id, third.alerts[0].id);
    let all = store
        .list_alerts(
            Scope::All,
            AlertFilter::default(),
            PageRequest {
                page: 1,
                per_page: 10,
            },
        )
        .await
        .expect("all alerts");
    assert_eq!(all.1, 2);
    let foreign = store
        .list_alerts(
            Scope::Tenant(TenantId::new()),
            AlertFilter::default(),
            PageRequest {
                page: 1,
                per_page: 10,
            },
        )
        .await
        .expect("another tenant");
    assert_eq!(foreign.1, 0);

    // A revoked key is refused and writes nothing; revoking again keeps the first time.
    let revoking = store.latest_event_seq().await.expect("latest");
    let first = store
        .revoke_device(f.lot, gw.id, t + Duration::minutes(20), revoked(&gw))
        .await
        .expect("revoke");
    assert_eq!(first.revoked_at, Some(t + Duration::minutes(20)));
    let twice = store
        .revoke_device(f.lot, gw.id, t + Duration::minutes(30), revoked(&gw))
        .await
        .expect("revoke again");
    assert_eq!(twice.revoked_at, Some(t + Duration::minutes(20)));
    assert!(matches!(
        store
            .revoke_device(f.buffered, gw.id, now(), revoked(&gw))
            .await,
        Err(StoreError::NotFound)
    ));
    // Only the first revocation is an event.
    assert_eq!(
        event_types_after(store.as_ref(), f.lot, revoking).await,
        ["device_key_revoked"]
    );
    let latest = store.latest_event_seq().await.expect("latest");
    assert!(matches!(
        store
            .apply_readings(
                gw.id,
                f.lot,
                vec![reading(a, false, t + Duration::minutes(40))],
                t + Duration::minutes(40)
            )
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.latest_event_seq().await.expect("latest"), latest);
    assert!(
        store
            .sensor_states(f.lot)
            .await
            .expect("states")
            .iter()
            .any(|s| s.spot_id == a && s.occupied),
        "the refused batch changed nothing"
    );
}

async fn reconciliation_raises_each_alert_once_and_spares_occupied_spots(store: Arc<dyn Store>) {
    let f = seed(store.as_ref()).await;
    let gw = device(f.lot, "hash-2");
    store
        .insert_device(gw.clone(), issued(&gw))
        .await
        .expect("device");
    let (empty, parked, stayed) = (f.spots[0], f.spots[1], f.spots[2]);
    // Two bookings from base to base + 2 h (grace 15 minutes): one spot stays
    // empty, on the other the car is there without checking in.
    let no_show = f.reservation(empty, 0, 2 * H, ReservationStatus::Confirmed);
    let arrived = f.reservation(parked, 0, 2 * H, ReservationStatus::Confirmed);
    // A booking that ended at base + 1 h while its car stays.
    let overstay = f.reservation(stayed, 0, H, ReservationStatus::CheckedIn);
    for r in [&no_show, &arrived, &overstay] {
        book(store.as_ref(), r).await.expect("book");
    }
    store
        .apply_readings(
            gw.id,
            f.lot,
            vec![
                reading(empty, false, f.base - Duration::hours(1)),
                reading(parked, true, f.base + Duration::minutes(1)),
                reading(stayed, true, f.base + Duration::minutes(2)),
            ],
            f.base + Duration::minutes(3),
        )
        .await
        .expect("readings");

    let at = f.base + Duration::minutes(90);
    // The booking sweep spares the spot whose sensor reads occupied.
    let candidates = store.no_show_candidates(at, 10).await.expect("no-shows");
    assert_eq!(
        candidates.iter().map(|r| r.id).collect::<Vec<_>>(),
        [no_show.id]
    );
    let raised = store.reconcile(at, 10).await.expect("reconcile");
    let mut kinds: Vec<(AlertKind, Option<ReservationId>)> =
        raised.iter().map(|a| (a.kind, a.reservation_id)).collect();
    kinds.sort_by_key(|(k, _)| format!("{k:?}"));
    assert_eq!(
        kinds,
        [
            (AlertKind::NoShowCandidate, Some(no_show.id)),
            (AlertKind::Overstay, Some(overstay.id)),
        ]
    );
    assert!(
        store
            .reconcile(at + Duration::minutes(5), 10)
            .await
            .expect("again")
            .is_empty(),
        "each booking gets one alert of a kind"
    );
    // Acknowledged, an overstay does not come back.
    let staff = user_record("ops@example.com", vec![Role::Operator], Some(f.tenant));
    store
        .create_user(staff.clone(), registered(&staff))
        .await
        .expect("staff");
    let overstay_alert = raised
        .iter()
        .find(|a| a.kind == AlertKind::Overstay)
        .expect("overstay alert");
    store
        .acknowledge_alert(overstay_alert.id, staff.id, at)
        .await
        .expect("ack");
    assert!(
        store
            .reconcile(at + Duration::minutes(10), 10)
            .await
            .expect("after ack")
            .is_empty()
    );
    let overstays = store
        .list_alerts(
            Scope::All,
            AlertFilter {
                kind: Some(AlertKind::Overstay),
                lot_id: Some(f.lot),
                acknowledged: Some(true),
            },
            PageRequest {
                page: 1,
                per_page: 10,
            },
        )
        .await
        .expect("overstays");
    assert_eq!(overstays.1, 1);
    assert_eq!(overstays.0[0].id, overstay_alert.id);
}

async fn consumer_cursors_never_move_back(store: Arc<dyn Store>) {
    let f = seed(store.as_ref()).await;
    assert_eq!(store.consumer_cursor("kafka").await.expect("cursor"), 0);
    store.set_consumer_cursor("kafka", 5).await.expect("set");
    store
        .set_consumer_cursor("kafka", 3)
        .await
        .expect("a late, smaller update");
    assert_eq!(store.consumer_cursor("kafka").await.expect("cursor"), 5);
    assert_eq!(
        store.consumer_cursor("other").await.expect("other"),
        0,
        "each consumer has its own"
    );
    assert!(
        store.set_consumer_cursor("", 1).await.is_err(),
        "a consumer has a name"
    );
    let r = f.reservation(f.spots[0], 0, H, ReservationStatus::Confirmed);
    book(store.as_ref(), &r).await.expect("book");
    let all = store
        .events_after(0, None, None, 1000)
        .await
        .expect("events");
    assert_eq!(
        store.latest_event_seq().await.expect("latest"),
        all.last().map(|e| e.seq).expect("some events")
    );
}

async fn lot_event_sequences_serve_resuming_clients(store: Arc<dyn Store>) {
    let f = seed(store.as_ref()).await;
    let quiet = LotId::new();
    for (i, spot) in f.spots.iter().take(3).enumerate() {
        let r = f.reservation(
            *spot,
            i64::try_from(i).expect("small") * H,
            4 * H,
            ReservationStatus::Confirmed,
        );
        book(store.as_ref(), &r).await.expect("book");
    }
    let z = f.reservation(f.buffered_spot, 0, H, ReservationStatus::Confirmed);
    book(store.as_ref(), &z).await.expect("book z");
    assert_eq!(
        store
            .latest_lot_seqs(vec![f.buffered, quiet, f.lot])
            .await
            .expect("latest"),
        vec![1, 0, 3]
    );
    let between = store
        .lot_events_between(f.lot, 1, 3, 10)
        .await
        .expect("between");
    assert_eq!(
        between.iter().map(|e| e.lot_seq).collect::<Vec<_>>(),
        [Some(2), Some(3)]
    );
    assert!(between.iter().all(|e| e.lot_id == Some(f.lot)));
    let limited = store
        .lot_events_between(f.lot, 0, 3, 1)
        .await
        .expect("limited");
    assert_eq!(
        limited.iter().map(|e| e.lot_seq).collect::<Vec<_>>(),
        [Some(1)]
    );
}

async fn concurrent_batches_of_one_lot_see_each_other(store: Arc<dyn Store>) {
    let f = seed(store.as_ref()).await;
    let (one, two) = (device(f.lot, "hash-a"), device(f.lot, "hash-b"));
    store
        .insert_device(one.clone(), issued(&one))
        .await
        .expect("device one");
    store
        .insert_device(two.clone(), issued(&two))
        .await
        .expect("device two");
    let before = store.latest_event_seq().await.expect("latest");
    let t = f.base - Duration::hours(1);
    // Two gateways report the same arrival on every spot at once, a second
    // apart: whichever batch goes first applies it, the other finds it there.
    let batch = |dev: Uuid, at: DateTime<Utc>| {
        let store = Arc::clone(&store);
        let readings: Vec<Reading> = f.spots.iter().map(|s| reading(*s, true, at)).collect();
        let lot = f.lot;
        tokio::spawn(async move { store.apply_readings(dev, lot, readings, at).await })
    };
    let first = batch(one.id, t);
    let second = batch(two.id, t + Duration::seconds(1));
    let first = first.await.expect("task").expect("first batch");
    let second = second.await.expect("task").expect("second batch");
    let spots = u32::try_from(f.spots.len()).expect("few spots");
    assert_eq!(
        first.applied + second.applied,
        spots,
        "{first:?} {second:?}"
    );
    assert_eq!(first.stale + second.stale, spots);
    assert_eq!(first.alerts.len() + second.alerts.len(), f.spots.len());
    let events = store
        .events_after(before, Some(f.lot), None, 100)
        .await
        .expect("events");
    assert_eq!(
        events.len(),
        2 * f.spots.len(),
        "one change and one alert per spot"
    );
}
