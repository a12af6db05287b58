//! Test support for crates that drive parkd over HTTP (enabled by the
//! `test-support` feature; parking-client's and parkctl's tests use it):
//! [`TestApp`]: a parkd on a random port over a temporary data directory, with
//! a tenant, an operator, a driver and one lot of spots, made directly
//! through parkd's state (no HTTP) so the client is what is under test.

use std::sync::Arc;

use crate::app;
use crate::auth::{Password, Role};
use crate::config::{Config, RateLimits};
use crate::service::accounts::{self, NewUser};
use crate::state::AppState;
use crate::store::interface::{LotRecord, TenantRecord};
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
    _dir: tempfile::TempDir,
    _shutdown: oneshot::Sender<()>,
}

impl TestApp {
    /// parkd with rate limits off, a tenant, an operator, a driver and a lot
    /// of two regular spots priced by the example card.
    pub async fn spawn() -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = Config {
            listen: "127.0.0.1:0".parse().expect("valid address"),
            data_dir: dir.path().to_owned(),
            sync_full: false,
            rate_limits: RateLimits {
                enabled: false,
                ..RateLimits::default()
            },
            ..Config::default()
        };
        let state = app::build(config).await.expect("parkd starts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(app::serve(listener, state.clone(), async {
            let _ = rx.await;
        }));
        let tenant = TenantRecord {
            id: TenantId::new(),
            name: "Test tenant".into(),
            created_at: Utc::now(),
        };
        state
            .store
            .create_tenant(tenant.clone())
            .await
            .expect("tenant");
        user(&state, OPERATOR, Role::Operator, Some(tenant.id)).await;
        user(&state, DRIVER, Role::Driver, None).await;
        let (lot, spots) = lot(&state, tenant.id, &[SpotKind::Regular, SpotKind::Regular]).await;
        TestApp {
            url,
            state,
            lot,
            spots,
            _dir: dir,
            _shutdown: tx,
        }
    }
}

async fn user(state: &AppState, email: &str, role: Role, tenant: Option<TenantId>) {
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
    .expect("user created");
}

async fn lot(state: &AppState, tenant: TenantId, kinds: &[SpotKind]) -> (LotId, Vec<SpotId>) {
    let lot = Lot {
        id: LotId::new(),
        tenant_id: tenant,
        name: "Test lot".into(),
        address: "Teststraße 1, Dresden".into(),
        location: GeoPoint::new(51.05, 13.74).expect("valid"),
        time_zone: chrono_tz::Europe::Berlin,
        hours: OperatingHours::always_open(),
        amenities: Default::default(),
        rules: BookingRules::default(),
    };
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
        })
        .await
        .expect("lot");
    store.insert_spots(spots.clone()).await.expect("spots");
    store
        .put_rate_card(lot.id, card.clone())
        .await
        .expect("rates");
    let mut city = state.engine.write();
    city.add_lot(lot.clone(), Some(card)).expect("engine lot");
    for spot in &spots {
        city.add_spot(spot.clone()).expect("engine spot");
    }
    (lot.id, spots.iter().map(|s| s.id).collect())
}
