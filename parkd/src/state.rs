//! The state every request handler shares.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::auth::password::PasswordHasher;
use crate::auth::pii::PiiCipher;
use crate::auth::tokens::TokenIssuer;
use crate::config::Config;
use crate::engine::Engine;
use crate::limits::Limits;
use crate::outbox::EventBus;
use crate::service::payments::Payments;
use crate::store::interface::Store;

/// Shared, cheaply cloned application state.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// What [`AppState`] holds.
pub struct Inner {
    /// The configuration parkd started with.
    pub config: Config,
    /// Persistent storage.
    pub store: Arc<dyn Store>,
    /// In-memory inventories, prices and the spatial index.
    pub engine: Engine,
    /// Access-token signing and verification.
    pub tokens: TokenIssuer,
    /// Password hashing with bounded concurrency.
    pub passwords: PasswordHasher,
    /// Encryption of personal data at rest.
    pub pii: PiiCipher,
    /// Access tokens refused after logout.
    pub revoked: RevokedTokens,
    /// Rate limits.
    pub limits: Limits,
    /// Where the outbox dispatcher publishes events.
    pub events: EventBus,
    /// Online payments: the Stripe client and the prepaid lots.
    pub payments: Payments,
    /// WebSocket subscriptions and their limits.
    pub realtime: crate::realtime::Realtime,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("listen", &self.0.config.listen)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Wraps the parts.
    pub fn new(inner: Inner) -> Self {
        AppState(Arc::new(inner))
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Access-token ids revoked by logout, until they expire. Checked on every
/// authenticated request, so kept in memory (loaded from the store at start-up,
/// written through on logout).
#[derive(Debug, Default)]
pub struct RevokedTokens {
    inner: Mutex<HashMap<Uuid, DateTime<Utc>>>,
}

impl RevokedTokens {
    /// Starts from the store's list.
    pub fn from_list(list: &[(Uuid, DateTime<Utc>)]) -> Self {
        RevokedTokens {
            inner: Mutex::new(list.iter().copied().collect()),
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, DateTime<Utc>>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Refuses `jti` until `expires_at`; forgets entries that have expired.
    pub fn revoke(&self, jti: Uuid, expires_at: DateTime<Utc>, now: DateTime<Utc>) {
        let mut map = self.map();
        map.retain(|_, exp| *exp > now);
        map.insert(jti, expires_at);
    }

    /// True if `jti` was revoked.
    pub fn is_revoked(&self, jti: Uuid) -> bool {
        self.map().contains_key(&jti)
    }
}
