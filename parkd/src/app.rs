//! Start-up and shutdown: open storage (SQLite in the data directory, or
//! PostgreSQL when `database_url` is set), load or create the secrets, build
//! the engine from the store, seed the demo city when asked, create the
//! bootstrap admin, start the background jobs; and `serve` with graceful
//! shutdown.
//!
//! On PostgreSQL several instances share the database: each keeps its engine
//! in step with the others' changes ([`spawn_cluster_sync`]), and only the
//! instance holding the job lock runs the sweeps.

use std::future::Future;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use chrono::Utc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::auth::password::PasswordHasher;
use crate::auth::pii::PiiCipher;
use crate::auth::secrets::Secrets;
use crate::auth::tokens::TokenIssuer;
use crate::config::Config;
use crate::engine::Engine;
use crate::limits::Limits;
use crate::outbox::EventBus;
use crate::service::payments::Payments;
use crate::state::{AppState, Inner, RevokedTokens};
use crate::store::interface::{Store, StoredEvent};
use crate::store::postgres::{PgOptions, PgStore};
use crate::store::sqlite::store::SqliteStore;
use crate::store::sqlite::{SqliteDb, SqliteOptions, Synchronous};
use crate::store::{ClusterChange, StoreError};

/// What can stop parkd from starting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database could not be opened or migrated.
    #[error("storage: {0}")]
    Store(#[from] crate::store::StoreError),
    /// The keys could not be loaded or created.
    #[error("secrets: {0}")]
    Secrets(#[from] crate::auth::secrets::SecretsError),
    /// The token issuer could not be built.
    #[error("tokens: {0}")]
    Tokens(#[from] crate::auth::tokens::TokenError),
    /// Stored data is inconsistent.
    #[error("engine: {0}")]
    Engine(#[from] crate::engine::EngineError),
    /// The configuration asks for something this build cannot do.
    #[error("config: {0}")]
    Config(#[from] crate::config::ConfigError),
    /// The demo city could not be seeded.
    #[error("demo: {0}")]
    Demo(String),
    /// Payments are misconfigured (e.g. a prepaid lot and no Stripe keys).
    #[error("payments: {0}")]
    Payments(String),
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// Opens the store (PostgreSQL at `config.database_url`, else SQLite in
/// `config.data_dir`) and builds the state over it.
pub async fn build(config: Config) -> Result<AppState, StartError> {
    let secrets = Secrets::load_or_create(&config.data_dir)?;
    let store = open_store(&config).await?;
    build_with_store(config, store, &secrets).await
}

/// Opens the configured store.
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, StoreError> {
    if let Some(url) = &config.database_url {
        let options = PgOptions {
            pool_size: config.pool_size,
            statement_timeout: Duration::from_millis(config.statement_timeout_ms),
            ..PgOptions::default()
        };
        let read = config.read_database_url.as_ref().map(|u| u.expose());
        let store = PgStore::connect(url.expose(), read, options).await?;
        return Ok(Arc::new(store));
    }
    let options = SqliteOptions {
        readers: config.read_connections,
        synchronous: if config.sync_full {
            Synchronous::Full
        } else {
            Synchronous::Normal
        },
        ..SqliteOptions::default()
    };
    let db_path = config.data_dir.join("parkd.sqlite3");
    let db = tokio::task::spawn_blocking(move || SqliteDb::open(&db_path, options))
        .await
        .map_err(|e| StoreError::Internal(e.to_string()))??;
    Ok(Arc::new(SqliteStore::new(db)))
}

/// Builds the state over an opened store.
pub async fn build_with_store(
    config: Config,
    store: Arc<dyn Store>,
    secrets: &Secrets,
) -> Result<AppState, StartError> {
    // Config files and flags were checked when loaded; a config built in code
    // (tests, embedders) must not ask for Kafka from a build without it either.
    config.validate_kafka()?;
    // Install the metrics recorder before anything counts.
    crate::metrics::recorder();
    let now = Utc::now();
    let snapshot = store.snapshot(now).await?;
    let engine = Engine::load(&snapshot, now)?;
    let tokens = TokenIssuer::new(secrets.jwt_signing_key(), config.access_ttl())?;
    let passwords = PasswordHasher::new(
        NonZeroUsize::new(config.hash_concurrency).unwrap_or(NonZeroUsize::MIN),
    );
    let limits = Limits::new(&config.rate_limits);
    let payments =
        Payments::new(&config.stripe, snapshot.prepaid_lots()).map_err(StartError::Payments)?;
    Ok(AppState::new(Inner {
        revoked: RevokedTokens::from_list(&snapshot.revoked_access),
        pii: PiiCipher::new(secrets.pii_key()),
        realtime: crate::realtime::Realtime::new(config.websocket.clone()),
        config,
        store,
        engine,
        tokens,
        passwords,
        limits,
        events: EventBus::default(),
        payments,
    }))
}

/// Background work: reconciling sensors with bookings, expiring holds, marking
/// no-shows, forgetting idle rate-limit keys. Runs until aborted. With several
/// instances on one database the sweeps run only on the instance holding the
/// job lock.
pub fn spawn_jobs(state: AppState) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut sweep = tokio::time::interval(Duration::from_secs(5));
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut ticks: u64 = 0;
        loop {
            sweep.tick().await;
            ticks += 1;
            if ticks.is_multiple_of(12) {
                state.limits.shrink();
            }
            if let Some(cluster) = state.store.cluster() {
                match cluster.try_lead().await {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(e) => {
                        warn!(error = %e, "cannot reach the job lock; will retry");
                        continue;
                    }
                }
            }
            // Before the booking sweep, so a booking whose grace just ended is
            // judged against its sensor while still confirmed.
            match crate::service::sensors::reconcile(&state, Utc::now()).await {
                Ok(raised) if raised.is_empty() => {}
                Ok(raised) => info!(alerts = raised.len(), "sensor reconciliation raised alerts"),
                Err(e) => warn!(error = %e, "sensor reconciliation failed; will retry"),
            }
            match crate::service::booking::sweep(&state, Utc::now()).await {
                Ok(0) => {}
                Ok(n) => info!(released = n, "expired holds and no-shows released"),
                Err(e) => warn!(error = %e, "sweep failed; will retry"),
            }
        }
    })
}

/// How often events that could not be applied yet are tried again.
const REAPPLY_INTERVAL: Duration = Duration::from_millis(200);
/// Recently applied events kept to re-apply on top of a reload.
const RECENT_EVENTS: usize = 20_000;

/// Keeps this instance's engine in step with the database when other
/// instances share it: applies every committed outbox event (the dispatcher
/// publishes all instances' events on the bus), reloads a lot when it changed,
/// and reloads everything when changes may have been missed (the listening
/// connection dropped, or the bus overflowed). Returns `None` for a store only
/// this process uses.
pub fn spawn_cluster_sync(state: AppState) -> Option<JoinHandle<()>> {
    let cluster = state.store.cluster()?;
    let mut changes = cluster.changes();
    let mut events = state.events.subscribe();
    Some(tokio::spawn(async move {
        // Events whose booking collided with one of this instance's bookings
        // still in flight (which will fail): applied again shortly.
        let mut pending: Vec<Arc<StoredEvent>> = Vec::new();
        // Applied events, newest last: a reload's snapshot may be older than
        // some of them, so they are applied again on top of it.
        let mut recent: std::collections::VecDeque<Arc<StoredEvent>> =
            std::collections::VecDeque::new();
        let mut retry = tokio::time::interval(REAPPLY_INTERVAL);
        retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut reload_all = false;
        loop {
            if reload_all {
                if !reload_everything(&state, &recent).await {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
                reload_all = false;
                pending.clear();
            }
            tokio::select! {
                event = events.recv() => match event {
                    Ok(event) => {
                        // This instance's own changes are in its memory
                        // already, and newer than their events may be.
                        let own = state
                            .store
                            .cluster()
                            .is_some_and(|c| c.is_own_event(event.seq));
                        if !own && state.engine.apply_event(&event, Utc::now()).is_err() {
                            pending.push(Arc::clone(&event));
                        }
                        if recent.len() >= RECENT_EVENTS {
                            recent.pop_front();
                        }
                        recent.push_back(event);
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => reload_all = true,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                },
                change = changes.recv() => match change {
                    Ok(ClusterChange::Lot(lot)) => {
                        let Some(cluster) = state.store.cluster() else { break };
                        match cluster.lot_snapshot(lot, Utc::now()).await {
                            Ok(stored) => {
                                if let Err(e) = state.engine.reload_lot(lot, stored.as_ref(), Utc::now()) {
                                    warn!(%lot, error = %e, "reloading a changed lot");
                                    reload_all = true;
                                }
                                // Its payment mode may be what changed: a lot made
                                // prepaid elsewhere must not take unpaid bookings here.
                                let mode = stored.as_ref().map(|s| s.lot.payment_mode);
                                state.payments.remember(lot, mode.unwrap_or_default());
                            }
                            Err(e) => {
                                warn!(%lot, error = %e, "cannot read a changed lot");
                                reload_all = true;
                            }
                        }
                    }
                    Ok(ClusterChange::AccessRevoked { jti, expires_at }) => {
                        state.revoked.revoke(jti, expires_at, Utc::now());
                    }
                    Ok(ClusterChange::Resync)
                    | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => reload_all = true,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                },
                _ = retry.tick(), if !pending.is_empty() => {
                    let now = Utc::now();
                    let before = pending.len();
                    pending.retain(|event| state.engine.apply_event(event, now).is_err());
                    if pending.len() == before {
                        // Still colliding after in-flight bookings had time to
                        // settle: memory disagrees with the database.
                        reload_all = true;
                    }
                }
            }
        }
    }))
}

/// Replaces the engine with the database's state and re-applies the recent
/// events the snapshot may not contain; false if the database could not be
/// read.
async fn reload_everything(
    state: &AppState,
    recent: &std::collections::VecDeque<Arc<StoredEvent>>,
) -> bool {
    let now = Utc::now();
    let Some(cluster) = state.store.cluster() else {
        return true;
    };
    match state.store.snapshot(now).await {
        Ok(snapshot) => {
            state.payments.replace_prepaid(snapshot.prepaid_lots());
            let covered = cluster.snapshot_seq();
            for (jti, expires_at) in &snapshot.revoked_access {
                state.revoked.revoke(*jti, *expires_at, now);
            }
            if let Err(e) = state.engine.reload(&snapshot, now) {
                warn!(error = %e, "stored data is inconsistent; keeping the old state");
            }
            for event in recent.iter().filter(|e| e.seq > covered) {
                let _ = state.engine.apply_event(event, now);
            }
            info!("in-memory state reloaded from the database");
            true
        }
        Err(e) => {
            warn!(error = %e, "cannot reload from the database yet; will retry");
            false
        }
    }
}

/// Serves `state` on `listener` until `shutdown` resolves, then finishes
/// in-flight requests and flushes the store.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let jobs = spawn_jobs(state.clone());
    // Subscribes to the bus before the dispatcher publishes anything.
    let cluster_sync = spawn_cluster_sync(state.clone());
    // Before the dispatcher, so the hub sees every event it publishes.
    let hub = crate::realtime::hub::spawn(&state);
    let dispatcher = crate::outbox::spawn_dispatcher(&state);
    let publishers = crate::outbox::spawn_publishers(&state);
    let app = crate::api::router(state.clone());
    // Upgraded WebSocket connections outlive axum's graceful shutdown: tell
    // their sessions to close (1001) and give them a moment to say so.
    let sessions = state.clone();
    let shutdown = async move {
        shutdown.await;
        sessions.realtime.shut_down();
    };
    // No Nagle delay: WebSocket sessions write small frames back to back, and
    // a frame held for the previous one's ACK arrives up to a delayed-ACK late.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set on a connection");
        }
    });
    let result = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    state.realtime.shut_down();
    state.realtime.closed(Duration::from_secs(2)).await;
    hub.abort();
    jobs.abort();
    dispatcher.abort();
    // An unacknowledged batch is sent again after the restart (at least once).
    for publisher in publishers {
        publisher.abort();
    }
    if let Some(sync) = cluster_sync {
        sync.abort();
    }
    if let Err(e) = state.store.close().await {
        warn!(error = %e, "closing the store");
    }
    result
}

/// Binds the configured address.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Listen { addr, source })
}

/// Resolves on SIGINT or SIGTERM.
///
/// The handlers are installed when this is *called*, not when the future is
/// first polled: parkd announces its address before `serve` polls the future,
/// and a SIGTERM sent right after the announcement must still shut down
/// gracefully (exit 0) rather than kill the process with the default action.
/// Must be called inside the tokio runtime.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let (interrupt, terminate) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let wait = |s: std::io::Result<tokio::signal::unix::Signal>| async move {
                match s {
                    Ok(mut s) => {
                        s.recv().await;
                    }
                    Err(_) => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(interrupt) => {},
                () = wait(terminate) => {},
            }
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        info!("shutting down: finishing in-flight requests");
    }
}

/// Creates the admin named by `PARKD_BOOTSTRAP_ADMIN_EMAIL` and
/// `PARKD_BOOTSTRAP_ADMIN_PASSWORD` if both are set and no admin exists yet.
pub async fn bootstrap_admin(state: &AppState) -> Result<(), crate::error::ApiError> {
    let (Ok(email), Ok(password)) = (
        std::env::var("PARKD_BOOTSTRAP_ADMIN_EMAIL"),
        std::env::var("PARKD_BOOTSTRAP_ADMIN_PASSWORD"),
    ) else {
        return Ok(());
    };
    if state.store.count_admins().await? > 0 {
        return Ok(());
    }
    check_account_fields(&email, "Admin", "Bootstrap").map_err(|_| {
        crate::error::ApiError::field(
            "PARKD_BOOTSTRAP_ADMIN_EMAIL",
            "must be an email address such as ada@example.com",
        )
    })?;
    let password = crate::auth::Password::new(password).map_err(|e| {
        crate::error::ApiError::field("PARKD_BOOTSTRAP_ADMIN_PASSWORD", e.to_string())
    })?;
    let user = crate::service::accounts::create_user(
        state,
        crate::service::accounts::NewUser {
            email,
            password,
            first_name: "Admin".into(),
            last_name: "Bootstrap".into(),
            phone: None,
            roles: vec![crate::auth::Role::Admin],
            tenant_id: None,
        },
    )
    .await?;
    info!(email = %user.email, "bootstrap admin created");
    Ok(())
}

/// Checks the shape of an account made outside `POST /auth/register` (the
/// bootstrap admin, `parkd admin create-user`) by the same rules: email shape and
/// length, name lengths. The password policy is [`crate::auth::Password::new`]'s.
pub fn check_account_fields(
    email: &str,
    first_name: &str,
    last_name: &str,
) -> Result<(), crate::error::ApiError> {
    parking_api::auth::RegisterRequest {
        email: email.to_owned(),
        // Only the other fields are checked here.
        password: "x".repeat(crate::auth::password::MIN_PASSWORD_CHARS),
        first_name: first_name.to_owned(),
        last_name: last_name.to_owned(),
        phone: None,
    }
    .validate()
    .map_err(crate::error::ApiError::Validation)
}
