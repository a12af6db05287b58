//! [`TokenStore`]: where the client keeps its token pair. parkd rotates the
//! refresh token on every refresh, so a store that persists (parkctl's config
//! file) must save every new pair or the next run is logged out.

use std::sync::Mutex;

use parking_api::TokenPair;

/// Holds the current token pair and persists a new one.
pub trait TokenStore: Send + Sync + std::fmt::Debug {
    /// The current pair, if logged in.
    fn load(&self) -> Option<TokenPair>;
    /// Keeps a new pair (after login or a refresh); `None` after logout.
    fn save(&self, pair: Option<&TokenPair>);
}

/// A store in memory only; the default for a [`Client`](crate::Client).
#[derive(Debug, Default)]
pub struct MemoryTokens {
    pair: Mutex<Option<TokenPair>>,
}

impl MemoryTokens {
    /// A store holding `pair`.
    pub fn new(pair: Option<TokenPair>) -> Self {
        MemoryTokens {
            pair: Mutex::new(pair),
        }
    }
}

impl TokenStore for MemoryTokens {
    fn load(&self) -> Option<TokenPair> {
        // A poisoned lock still holds a usable pair.
        self.pair
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn save(&self, pair: Option<&TokenPair>) {
        *self
            .pair
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = pair.cloned();
    }
}
