//! Test support for crates that drive parkd over HTTP (enabled by the
//! `test-support` feature; parking-client's and parkctl's tests use it):
//! [`TestApp`]: a parkd on a random port over a temporary data directory, with
//! a tenant, an operator, a driver and one lot of spots, made directly
//! through parkd's state (no HTTP) so the client is what is under test; and
//! the functions that make them ([`create_user`], [`create_tenant`],
//! [`create_lot`]), which parkd's own integration tests call too.

use std::sync::Arc;

use crate::app;
use crate::auth::{Password, Role};
use crate::config::{Config, RateLimits, Secret};
use crate::fake_stripe::FakeStripe;
use crate::service::accounts::{self, NewUser};
use crate::state::AppState;
use crate::store::interface::{LotRecord, TenantRecord, UserRecord};
use crate::store::payments::PaymentMode;
use chrono::Utc;
use parking_core::model::{
    BookingRules, GeoPoint, Lot, LotId, OperatingHours, Spot, SpotId, SpotKind, TenantId,
};
use parking_core::pricing::RateCard;
use tokio::sync::oneshot;

/// The password of every test user.
pub const PASSWORD: &str = "correct horse battery";
/// The operator's login.
pub const OPERATOR: &str = "op@example.com";
/// The driver's login.
pub const DRIVER: &str = "driver@example.com";

/// The admin URL of the PostgreSQL test server (`PARKD_TEST_POSTGRES_URL`),
/// or `None` after saying the test is skipped; a failure instead with
/// `PARKING_REQUIRE_POSTGRES=1`, so CI cannot pass a PostgreSQL test that ran
/// nothing.
pub fn postgres_admin_url() -> Option<String> {
    match std::env::var("PARKD_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("PARKING_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "PARKING_REQUIRE_POSTGRES=1 but PARKD_TEST_POSTGRES_URL is not set"
            );
            eprintln!("skipped: PARKD_TEST_POSTGRES_URL not set");
            None
        }
    }
}

/// A running parkd with one lot.
#[derive(Debug)]
pub struct TestApp {
    /// Its base URL, `http://127.0.0.1:PORT`.
    pub url: String,
    /// Its state, for setting up data directly.
    pub state: AppState,
    /// The seeded lot.
    pub lot: LotId,
    /// The seeded lot's spots.
    pub spots: Vec<SpotId>,
    /// The fake Stripe, for a parkd made by [`TestApp::spawn_prepaid`].
    pub stripe: Option<FakeStripe>,
    _dir: tempfile::TempDir,
    _shutdown: oneshot::Sender<()>,
}

impl TestApp {
    /// parkd with rate limits off, a tenant, an operator, a driver and a lot
    /// of two regular spots priced by the example card.
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(None).await
    }

    /// As [`TestApp::spawn`], with parkd paying through a fake Stripe and the
    /// seeded lot prepaid. Webhooks are delivered by [`TestApp::settle`].
    pub async fn spawn_prepaid() -> TestApp {
        let stripe = FakeStripe::start("sk_test_testing", "whsec_testing").await;
        let mut app = TestApp::spawn_with(Some(&stripe)).await;
        crate::service::lots::set_payment_mode(&app.state, app.lot, PaymentMode::Prepaid)
            .await
            .expect("prepaid lot");
        app.stripe = Some(stripe);
        app
    }

    /// The payer's app completes `intent_id` at the fake Stripe, and its
    /// `payment_intent.succeeded` webhook is delivered; returns the webhook's
    /// status.
    pub async fn settle(&self, intent_id: &str) -> u16 {
        let stripe = self.stripe.as_ref().expect("a prepaid TestApp");
        stripe.complete(intent_id);
        let event = stripe
            .events()
            .into_iter()
            .rev()
            .find(|e| e.kind == "payment_intent.succeeded")
            .expect("success event");
        let url = format!("{}/api/v1/payments/webhook", self.url);
        stripe
            .post_event(&url, &event, Utc::now().timestamp())
            .await
    }

    async fn spawn_with(stripe: Option<&FakeStripe>) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config {
            listen: "127.0.0.1:0".parse().expect("valid address"),
            data_dir: dir.path().to_owned(),
            sync_full: false,
            rate_limits: RateLimits {
                enabled: false,
                ..RateLimits::default()
            },
            ..Config::default()
        };
        if let Some(stripe) = stripe {
            config.stripe.secret_key = Some(Secret::new("sk_test_testing"));
            config.stripe.webhook_secret = Some(Secret::new("whsec_testing"));
            config.stripe.api_base = stripe.url.clone();
        }
        let state = app::build(config).await.expect("parkd starts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(app::serve(listener, state.clone(), async {
            let _ = rx.await;
        }));
        let tenant = create_tenant(&state, "Test tenant").await;
        create_user(&state, OPERATOR, Role::Operator, Some(tenant)).await;
        create_user(&state, DRIVER, Role::Driver, None).await;
        let (lot, spots) = create_lot(
            &state,
            tenant,
            &[SpotKind::Regular, SpotKind::Regular],
            BookingRules::default(),
        )
        .await;
        TestApp {
            url,
            state,
            lot,
            spots,
            stripe: None,
            _dir: dir,
            _shutdown: tx,
        }
    }
}

/// Creates `email` with `role` (and `tenant`) directly, with [`PASSWORD`].
pub async fn create_user(
    state: &AppState,
    email: &str,
    role: Role,
    tenant: Option<TenantId>,
) -> UserRecord {
    accounts::create_user(
        state,
        NewUser {
            email: email.into(),
            password: Password::new(PASSWORD.into()).expect("valid password"),
            first_name: "Test".into(),
            last_name: role.to_string(),
            phone: None,
            roles: vec![role],
            tenant_id: tenant,
        },
    )
    .await
    .expect("user created")
}

/// A tenant called `name`, put in the store directly.
pub async fn create_tenant(state: &AppState, name: &str) -> TenantId {
    let tenant = TenantRecord {
        id: TenantId::new(),
        name: name.into(),
        created_at: Utc::now(),
    };
    state
        .store
        .create_tenant(tenant.clone())
        .await
        .expect("tenant");
    tenant.id
}

/// An always-open lot "Test lot" of `tenant` in Dresden with `rules` and
/// `kinds` spots, as [`insert_lot`] puts it.
pub async fn create_lot(
    state: &AppState,
    tenant: TenantId,
    kinds: &[SpotKind],
    rules: BookingRules,
) -> (LotId, Vec<SpotId>) {
    let lot = Lot {
        id: LotId::new(),
        tenant_id: tenant,
        name: "Test lot".into(),
        address: "Teststraße 1, Dresden".into(),
        location: GeoPoint::new(51.05, 13.74).expect("valid"),
        time_zone: chrono_tz::Europe::Berlin,
        hours: OperatingHours::always_open(),
        amenities: Default::default(),
        rules,
    };
    let id = lot.id;
    (id, insert_lot(state, lot, kinds).await)
}

/// `lot` with `kinds` spots (labels S1, S2, …) and the example rate card, put
/// in the store and the engine directly; the spots' ids.
pub async fn insert_lot(state: &AppState, lot: Lot, kinds: &[SpotKind]) -> Vec<SpotId> {
    let spots: Vec<Spot> = kinds
        .iter()
        .enumerate()
        .map(|(n, kind)| Spot {
            id: SpotId::new(),
            lot_id: lot.id,
            label: format!("S{}", n + 1),
            kind: *kind,
            zone: None,
            in_service: true,
        })
        .collect();
    let card = RateCard::example_eur();
    let store = Arc::clone(&state.store);
    store
        .insert_lot(LotRecord {
            lot: lot.clone(),
            external_id: None,
            payment_mode: PaymentMode::OnSite,
        })
        .await
        .expect("lot");
    store.insert_spots(spots.clone()).await.expect("spots");
    store
        .put_rate_card(lot.id, card.clone())
        .await
        .expect("rates");
    let mut city = state.engine.write();
    city.add_lot(lot, Some(card)).expect("engine lot");
    for spot in &spots {
        city.add_spot(spot.clone()).expect("engine spot");
    }
    spots.iter().map(|s| s.id).collect()
}
