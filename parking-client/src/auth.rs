//! `/auth`: register, login, refresh, logout.

use parking_api::{LoginRequest, LogoutRequest, RefreshRequest, RegisterRequest, TokenPair, User};
use reqwest::Method;

use crate::client::{Auth, Call};
use crate::{Client, ClientError};

impl Client {
    /// `POST /auth/register`: a new driver account.
    pub async fn register(&self, request: &RegisterRequest) -> Result<User, ClientError> {
        self.json(Call::new(Method::POST, "/api/v1/auth/register", Auth::None).json(request)?)
            .await
    }

    /// `POST /auth/login`: a token pair, kept in the token store.
    pub async fn login(&self, email: &str, password: &str) -> Result<TokenPair, ClientError> {
        let body = LoginRequest {
            email: email.to_owned(),
            password: password.to_owned(),
        };
        let pair: TokenPair = self
            .json(Call::new(Method::POST, "/api/v1/auth/login", Auth::None).json(&body)?)
            .await?;
        self.set_tokens(Some(&pair));
        Ok(pair)
    }

    /// `POST /auth/refresh`: spends the stored refresh token for a new pair,
    /// kept in the token store.
    pub async fn refresh(&self) -> Result<TokenPair, ClientError> {
        let current = self.tokens().ok_or(crate::AuthError::NotLoggedIn)?;
        let body = RefreshRequest {
            refresh_token: current.refresh_token,
        };
        let pair: TokenPair = self
            .json(Call::new(Method::POST, "/api/v1/auth/refresh", Auth::None).json(&body)?)
            .await?;
        self.set_tokens(Some(&pair));
        Ok(pair)
    }

    /// `POST /auth/logout`: revokes the refresh token (and the access token)
    /// and forgets the pair. Not logged in is not an error.
    pub async fn logout(&self) -> Result<(), ClientError> {
        let Some(current) = self.tokens() else {
            return Ok(());
        };
        let body = LogoutRequest {
            refresh_token: current.refresh_token,
        };
        let result = self
            .empty(
                Call::new(Method::POST, "/api/v1/auth/logout", Auth::None)
                    .header("authorization", format!("Bearer {}", current.access_token))
                    .json(&body)?,
            )
            .await;
        self.set_tokens(None);
        match result {
            // An expired session is already as logged out as it gets.
            Err(ClientError::Api { status: 401, .. }) => Ok(()),
            other => other,
        }
    }
}
