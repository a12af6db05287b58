//! Login, logout, the automatic refresh, and errors that name the server.

use std::sync::{Arc, Mutex};

use chrono::{Duration, Utc};
use parkd::auth::Role;
use parking_api::TokenPair;
use parking_client::{AuthError, Client, ClientError, MemoryTokens, TokenStore};

use crate::helpers::{DRIVER, PASSWORD, TestApp};

/// A store that records every pair it is given, as parkctl's config would.
#[derive(Debug, Clone, Default)]
struct Recording {
    inner: Arc<MemoryTokens>,
    saved: Arc<Mutex<Vec<Option<TokenPair>>>>,
}

impl TokenStore for Recording {
    fn load(&self) -> Option<TokenPair> {
        self.inner.load()
    }
    fn save(&self, pair: Option<&TokenPair>) {
        self.saved.lock().expect("lock").push(pair.cloned());
        self.inner.save(pair);
    }
}

#[tokio::test]
async fn login_me_logout() {
    let app = TestApp::spawn().await;
    let client = Client::new(&app.url);
    let error = client.me().await.expect_err("not logged in");
    assert!(matches!(error, ClientError::Auth(AuthError::NotLoggedIn)));
    let wrong = client
        .login(DRIVER, "not the password")
        .await
        .expect_err("bad password");
    assert_eq!(wrong.status(), Some(401));
    client.login(DRIVER, PASSWORD).await.expect("login");
    let me = client.me().await.expect("me");
    assert_eq!(me.email, DRIVER);
    client.logout().await.expect("logout");
    assert!(client.tokens().is_none());
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_once_and_the_new_pair_saved() {
    let app = TestApp::spawn().await;
    let store = Recording::default();
    let client = Client::new(&app.url).with_tokens(store.clone());
    let pair = client.login(DRIVER, PASSWORD).await.expect("login");
    let me = client.me().await.expect("me");
    // Sign an access token that expired an hour ago, keeping the real refresh token.
    let (expired, _) = app
        .state
        .tokens
        .issue(
            me.id,
            &[Role::Driver],
            None,
            Utc::now() - Duration::hours(1),
        )
        .expect("token");
    client.set_tokens(Some(&TokenPair::bearer(
        expired,
        pair.refresh_token.clone(),
        900,
    )));
    let again = client.me().await.expect("refreshed and retried");
    assert_eq!(again.id, me.id);
    let current = client.tokens().expect("a pair");
    assert_ne!(current.refresh_token, pair.refresh_token, "rotated");
    let saved = store.saved.lock().expect("lock").clone();
    assert_eq!(
        saved.last(),
        Some(&Some(current)),
        "the store got the new pair"
    );
}

#[tokio::test]
async fn a_refused_refresh_is_an_expired_session() {
    let app = TestApp::spawn().await;
    let client = Client::new(&app.url);
    client.login(DRIVER, PASSWORD).await.expect("login");
    let me = client.me().await.expect("me");
    let (expired, _) = app
        .state
        .tokens
        .issue(
            me.id,
            &[Role::Driver],
            None,
            Utc::now() - Duration::hours(1),
        )
        .expect("token");
    client.set_tokens(Some(&TokenPair::bearer(
        expired,
        "not-a-refresh-token".into(),
        900,
    )));
    let error = client.me().await.expect_err("cannot refresh");
    assert!(
        matches!(error, ClientError::Auth(AuthError::SessionExpired(_))),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_connection_error_names_the_server() {
    // Bind and drop to get a port nobody listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    drop(listener);
    let error = Client::new(&url).health().await.expect_err("nobody there");
    assert!(matches!(error, ClientError::Connect { .. }), "{error:?}");
    assert!(error.to_string().contains(&url), "{error}");
}
