//! Account use cases: register, create users (admin CLI, bootstrap, demo), log
//! in, rotate refresh tokens, log out.
//!
//! Login answers unknown emails and wrong passwords the same way, after the same
//! amount of hashing work, so the answer reveals nothing about which emails exist.

use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use parking_api::auth::{RegisterRequest, TokenPair};
use parking_core::events::DomainEvent;
use parking_core::model::{TenantId, UserId};
use uuid::Uuid;

use crate::auth::{Password, RefreshToken, Role};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::interface::{RefreshRecord, RotateOutcome, UserRecord};

/// A new user's details, already validated for shape.
#[derive(Debug)]
pub struct NewUser {
    /// Email (unique ignoring case).
    pub email: String,
    /// Password (policy checked by [`Password::new`]).
    pub password: Password,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Phone number, stored encrypted.
    pub phone: Option<String>,
    /// Roles.
    pub roles: Vec<Role>,
    /// Tenant (operators).
    pub tenant_id: Option<TenantId>,
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

/// Stores a new user with a hashed password and encrypted phone; 409 if the
/// email is taken, 422 if the tenant does not exist.
pub async fn create_user(state: &AppState, new: NewUser) -> Result<UserRecord, ApiError> {
    if let Some(tenant) = new.tenant_id
        && state.store.tenant(tenant).await?.is_none()
    {
        return Err(ApiError::field("tenant_id", "no such tenant"));
    }
    let password_hash = state
        .passwords
        .hash(&new.password)
        .await
        .map_err(internal)?;
    let phone_enc = new
        .phone
        .as_deref()
        .map(|p| state.pii.encrypt(p))
        .transpose()
        .map_err(internal)?;
    let user = UserRecord {
        id: UserId::new(),
        email: new.email.trim().to_owned(),
        password_hash,
        first_name: new.first_name,
        last_name: new.last_name,
        phone_enc,
        roles: new.roles,
        tenant_id: new.tenant_id,
        created_at: Utc::now(),
    };
    let event = DomainEvent::UserRegistered {
        user_id: user.id,
        tenant_id: user.tenant_id,
    };
    match state.store.create_user(user.clone(), event).await {
        Ok(()) => Ok(user),
        Err(StoreError::Conflict(_)) => Err(ApiError::conflict("this email is already registered")),
        Err(e) => Err(e.into()),
    }
}

/// Self-service sign-up: a driver account.
pub async fn register(
    state: &AppState,
    ip: IpAddr,
    request: RegisterRequest,
) -> Result<UserRecord, ApiError> {
    state.limits.register(ip, &request.email)?;
    request.validate().map_err(ApiError::Validation)?;
    let password =
        Password::new(request.password).map_err(|e| ApiError::field("password", e.to_string()))?;
    create_user(
        state,
        NewUser {
            email: request.email,
            password,
            first_name: request.first_name,
            last_name: request.last_name,
            phone: request.phone,
            roles: vec![Role::Driver],
            tenant_id: None,
        },
    )
    .await
}

/// The decrypted phone number of a stored user.
pub fn phone_of(state: &AppState, user: &UserRecord) -> Result<Option<String>, ApiError> {
    user.phone_enc
        .as_deref()
        .map(|p| state.pii.decrypt(p))
        .transpose()
        .map_err(internal)
}

const BAD_LOGIN: &str = "invalid email or password";

/// Checks the password and issues a token pair (a new refresh family).
pub async fn login(
    state: &AppState,
    ip: IpAddr,
    email: &str,
    password: &str,
) -> Result<TokenPair, ApiError> {
    // Normalised before the limit too, so padding the email with spaces does
    // not make it a fresh key for the per-email limit.
    let email = email.trim();
    state.limits.login(ip, email)?;
    let Some(user) = state.store.user_by_email(email).await? else {
        // Same work as a real check, so timing does not reveal unknown emails.
        state
            .passwords
            .verify_dummy(password)
            .await
            .map_err(internal)?;
        return Err(ApiError::Unauthorized(BAD_LOGIN.into()));
    };
    if !state
        .passwords
        .verify(password, &user.password_hash)
        .await
        .map_err(internal)?
    {
        return Err(ApiError::Unauthorized(BAD_LOGIN.into()));
    }
    let refresh = RefreshToken::new_family().map_err(internal)?;
    issue(state, &user, refresh, None).await
}

/// Issues an access token for `user` with `refresh`; stores `refresh` as a new
/// family unless it was already stored by a rotation.
async fn issue(
    state: &AppState,
    user: &UserRecord,
    refresh: RefreshToken,
    stored: Option<()>,
) -> Result<TokenPair, ApiError> {
    let now = Utc::now();
    let (access, _) = state
        .tokens
        .issue(
            user.id.as_uuid(),
            &user.roles,
            user.tenant_id.map(|t| t.as_uuid()),
            now,
        )
        .map_err(internal)?;
    if stored.is_none() {
        state
            .store
            .insert_refresh(refresh_record(&refresh, user.id, now, state))
            .await?;
    }
    Ok(TokenPair::bearer(
        access,
        refresh.expose().to_owned(),
        state.tokens.access_ttl().as_secs(),
    ))
}

fn refresh_record(
    token: &RefreshToken,
    user: UserId,
    now: DateTime<Utc>,
    state: &AppState,
) -> RefreshRecord {
    let ttl = Duration::from_std(state.config.refresh_ttl()).unwrap_or(Duration::days(30));
    RefreshRecord {
        token_hash: hex(&token.hash()),
        family_id: token.family_id(),
        user_id: user,
        issued_at: now,
        expires_at: now + ttl,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Spends a refresh token and issues a new pair in its family. A spent token
/// presented again revokes the whole family (its newest token too): 401.
pub async fn refresh(state: &AppState, presented: &str) -> Result<TokenPair, ApiError> {
    let now = Utc::now();
    let next = RefreshToken::new_family().map_err(internal)?;
    // The store puts `next` in the presented token's family.
    let placeholder_user = UserId::from_uuid(Uuid::nil());
    let record = refresh_record(&next, placeholder_user, now, state);
    let presented_hash = hex(&crate::auth::refresh_token_hash(presented));
    match state
        .store
        .rotate_refresh(presented_hash, record, now)
        .await?
    {
        RotateOutcome::Rotated { user_id } => {
            let user = state
                .store
                .user_by_id(user_id)
                .await?
                .ok_or_else(|| ApiError::Unauthorized("the refresh token is invalid".into()))?;
            issue(state, &user, next, Some(())).await
        }
        RotateOutcome::Reused { family_id } => {
            tracing::warn!(%family_id, "refresh token reused; its family is revoked");
            Err(ApiError::Unauthorized(
                "the refresh token was already used; sign in again".into(),
            ))
        }
        RotateOutcome::Expired => Err(ApiError::Unauthorized(
            "the refresh token has expired".into(),
        )),
        RotateOutcome::Unknown => Err(ApiError::Unauthorized(
            "the refresh token is invalid".into(),
        )),
    }
}

/// Revokes the refresh token and, when the caller authenticated (`access`: their
/// user id, token id and expiry), refuses their access token until it expires. An
/// authenticated caller can only revoke their own refresh token.
pub async fn logout(
    state: &AppState,
    access: Option<(UserId, Uuid, DateTime<Utc>)>,
    refresh_token: &str,
) -> Result<(), ApiError> {
    let now = Utc::now();
    let hash = hex(&crate::auth::refresh_token_hash(refresh_token));
    let owner = access.map(|(user, _, _)| user);
    state.store.revoke_refresh(hash, owner, now).await?;
    if let Some((_, jti, expires_at)) = access {
        state.store.revoke_access(jti, expires_at).await?;
        state.revoked.revoke(jti, expires_at, now);
    }
    Ok(())
}
