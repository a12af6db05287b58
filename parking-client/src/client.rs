//! [`Client`]: the transport under every resource method — URL building,
//! bearer tokens, problem+json decoding, error mapping, and the automatic
//! refresh of an expired access token (one refresh, one retry).

use std::sync::Arc;
use std::time::Duration;

use parking_api::{Problem, RefreshRequest, TokenPair};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{AuthError, ClientError};
use crate::tokens::{MemoryTokens, TokenStore};

/// Whether a call sends the bearer token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Auth {
    /// Never (login, register, refresh, health).
    None,
    /// When logged in (search, logout).
    Optional,
    /// Always; refused locally when not logged in.
    Required,
}

/// A typed client for one parkd.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    tokens: Arc<dyn TokenStore>,
    /// Serialises refreshes: parkd rotates refresh tokens, so two concurrent
    /// refreshes with one token would log the second caller out.
    refreshing: Arc<tokio::sync::Mutex<()>>,
}

/// One request, kept so it can be sent again after a refresh.
pub(crate) struct Call<'a> {
    pub method: Method,
    pub path: String,
    pub auth: Auth,
    pub query: Option<&'a (dyn erased::Query + Sync)>,
    pub body: Option<serde_json::Value>,
    pub headers: Vec<(&'static str, String)>,
}

/// Object-safe serialisation of a query string.
pub(crate) mod erased {
    /// Anything reqwest can turn into a query string.
    pub trait Query {
        /// Adds `self` to the request's query string.
        fn apply(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder;
    }

    impl<T: serde::Serialize> Query for T {
        fn apply(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
            request.query(self)
        }
    }
}

impl<'a> Call<'a> {
    pub(crate) fn new(method: Method, path: impl Into<String>, auth: Auth) -> Self {
        Call {
            method,
            path: path.into(),
            auth,
            query: None,
            body: None,
            headers: Vec::new(),
        }
    }

    pub(crate) fn query(mut self, query: &'a (dyn erased::Query + Sync)) -> Self {
        self.query = Some(query);
        self
    }

    pub(crate) fn json(mut self, body: &impl Serialize) -> Result<Self, ClientError> {
        self.body = Some(serde_json::to_value(body).map_err(|e| ClientError::Decode {
            message: format!("cannot encode the request body: {e}"),
        })?);
        Ok(self)
    }

    pub(crate) fn header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }
}

impl Client {
    /// A client for the parkd at `base_url` (e.g. `http://127.0.0.1:8080`),
    /// not logged in, with a 30-second timeout per request.
    pub fn new(base_url: impl Into<String>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("parking-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Client {
            http,
            base: base_url.into().trim_end_matches('/').to_owned(),
            tokens: Arc::new(MemoryTokens::default()),
            refreshing: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// Uses `store` for the token pair: it is read before each authenticated
    /// call and given every new pair (login, refresh) to persist.
    pub fn with_tokens(mut self, store: impl TokenStore + 'static) -> Self {
        self.tokens = Arc::new(store);
        self
    }

    /// The base URL this client talks to.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The current token pair, if logged in.
    pub fn tokens(&self) -> Option<TokenPair> {
        self.tokens.load()
    }

    /// Replaces the token pair (and persists it through the store).
    pub fn set_tokens(&self, pair: Option<&TokenPair>) {
        self.tokens.save(pair);
    }

    /// Sends `call` and decodes a JSON answer.
    pub(crate) async fn json<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<T, ClientError> {
        let bytes = self.send(&call).await?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode {
            message: format!("{} {}: {e}", call.method, call.path),
        })
    }

    /// Sends `call` and ignores the answer's body.
    pub(crate) async fn empty(&self, call: Call<'_>) -> Result<(), ClientError> {
        self.send(&call).await.map(drop)
    }

    /// Sends `call`; on a 401 to an authenticated call with a refresh token
    /// known, refreshes once and sends it again.
    async fn send(&self, call: &Call<'_>) -> Result<Vec<u8>, ClientError> {
        let pair = match call.auth {
            Auth::None => None,
            Auth::Optional => self.tokens.load(),
            Auth::Required => Some(self.tokens.load().ok_or(AuthError::NotLoggedIn)?),
        };
        let access = pair.as_ref().map(|p| p.access_token.clone());
        match self.attempt(call, access.as_deref()).await {
            Err(ClientError::Api { status: 401, .. }) if pair.is_some() => {
                let Some(pair) = pair else {
                    return Err(AuthError::NotLoggedIn.into());
                };
                let fresh = self.refresh_after(&pair).await?;
                self.attempt(call, Some(&fresh.access_token)).await
            }
            other => other,
        }
    }

    /// Renews the pair `stale` (unless another call already did) and stores
    /// the new one.
    async fn refresh_after(&self, stale: &TokenPair) -> Result<TokenPair, ClientError> {
        let _guard = self.refreshing.lock().await;
        if let Some(current) = self.tokens.load()
            && current.access_token != stale.access_token
        {
            return Ok(current);
        }
        let body = RefreshRequest {
            refresh_token: stale.refresh_token.clone(),
        };
        let call = Call::new(Method::POST, "/api/v1/auth/refresh", Auth::None).json(&body)?;
        match self.attempt(&call, None).await {
            Ok(bytes) => {
                let pair: TokenPair =
                    serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode {
                        message: format!("POST /auth/refresh: {e}"),
                    })?;
                self.tokens.save(Some(&pair));
                Ok(pair)
            }
            Err(ClientError::Api {
                status: 400 | 401 | 403 | 422,
                problem,
            }) => Err(AuthError::SessionExpired(problem).into()),
            Err(other) => Err(other),
        }
    }

    /// One HTTP exchange.
    async fn attempt(&self, call: &Call<'_>, token: Option<&str>) -> Result<Vec<u8>, ClientError> {
        let url = format!("{}{}", self.base, call.path);
        let mut request: RequestBuilder = self.http.request(call.method.clone(), url);
        if let Some(query) = call.query {
            request = query.apply(request);
        }
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        for (name, value) in &call.headers {
            request = request.header(*name, value);
        }
        if let Some(body) = &call.body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| self.transport(e))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| self.transport(e))?;
        if status.is_success() {
            return Ok(bytes.to_vec());
        }
        Err(ClientError::Api {
            status: status.as_u16(),
            problem: Box::new(problem_from(status, &bytes)),
        })
    }

    fn transport(&self, error: reqwest::Error) -> ClientError {
        if error.is_timeout() {
            ClientError::Timeout {
                server: self.base.clone(),
            }
        } else if error.is_connect() {
            ClientError::Connect {
                server: self.base.clone(),
                source: error,
            }
        } else {
            ClientError::Transport(error)
        }
    }
}

/// The problem in an error answer, or one made from the status and the start
/// of the body when the answer is not problem+json (a proxy's error page).
fn problem_from(status: StatusCode, bytes: &[u8]) -> Problem {
    if let Ok(problem) = serde_json::from_slice::<Problem>(bytes) {
        return problem;
    }
    let reason = status.canonical_reason().unwrap_or("error");
    let text: String = String::from_utf8_lossy(bytes).chars().take(200).collect();
    let detail = if text.trim().is_empty() {
        format!("the server answered {} {reason}", status.as_u16())
    } else {
        format!(
            "the server answered {} {reason}: {}",
            status.as_u16(),
            text.trim()
        )
    };
    Problem::new(status.as_u16(), reason, detail)
}
