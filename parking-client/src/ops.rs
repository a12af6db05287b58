//! `/health` and `/ready`.

use parking_api::{Health, Ready};
use reqwest::Method;

use crate::client::{Auth, Call};
use crate::{Client, ClientError};

impl Client {
    /// `GET /health`: the process is up.
    pub async fn health(&self) -> Result<Health, ClientError> {
        self.json(Call::new(Method::GET, "/health", Auth::None))
            .await
    }

    /// `GET /ready`: storage and migrations. A parkd that is not ready
    /// answers 503, returned as [`ClientError::Api`] whose detail carries
    /// the body.
    pub async fn ready(&self) -> Result<Ready, ClientError> {
        self.json(Call::new(Method::GET, "/ready", Auth::None))
            .await
    }
}
