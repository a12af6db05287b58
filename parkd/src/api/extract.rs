//! Extractors: JSON bodies and query strings whose rejections are problem+json,
//! and the authenticated caller.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use parking_core::model::{TenantId, UserId};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::auth::Role;
use crate::auth::tokens::TokenError;
use crate::error::ApiError;
use crate::state::AppState;

/// A JSON body; malformed JSON is 400, JSON of the wrong shape (unknown or
/// missing fields, wrong types) is 422, both as problem+json.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(JsonRejection::JsonDataError(e)) => Err(field_error(&e.body_text())),
            Err(JsonRejection::BytesRejection(e))
                if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE =>
            {
                Err(ApiError::PayloadTooLarge)
            }
            Err(other) => Err(ApiError::BadRequest(other.body_text())),
        }
    }
}

/// A 422 naming the field serde stopped at: axum's text is "Failed to deserialize
/// the JSON body into the target type: <path>: <what> at line L column C".
fn field_error(text: &str) -> ApiError {
    let detail = text
        .split_once("target type: ")
        .map_or(text, |(_, rest)| rest);
    match detail.split_once(": ") {
        Some((path, message)) if !path.contains(' ') => ApiError::field(path, message),
        _ => ApiError::field("body", detail),
    }
}

/// A query string; a bad one is a 422 naming the problem.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => {
                Err(ApiError::field("query", e.body_text()))
            }
            Err(other) => Err(ApiError::BadRequest(other.body_text())),
        }
    }
}

/// The authenticated caller, from a valid, unrevoked bearer access token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    /// The user.
    pub user_id: UserId,
    /// Their roles (as of the token).
    pub roles: Vec<Role>,
    /// Their tenant.
    pub tenant_id: Option<TenantId>,
    /// The token's id (for logout).
    pub jti: Uuid,
    /// When the token expires.
    pub expires_at: DateTime<Utc>,
}

impl Actor {
    /// True for admins.
    pub fn is_admin(&self) -> bool {
        self.roles.contains(&Role::Admin)
    }

    /// True for operators (of some tenant).
    pub fn is_operator(&self) -> bool {
        self.roles.contains(&Role::Operator)
    }

    /// True if the caller may manage lots of `tenant`: an admin, or an operator
    /// of that tenant.
    pub fn manages(&self, tenant: TenantId) -> bool {
        self.is_admin() || (self.is_operator() && self.tenant_id == Some(tenant))
    }

    /// Refuses callers who are neither operators nor admins.
    pub fn require_staff(&self) -> Result<(), ApiError> {
        if self.is_admin() || self.is_operator() {
            Ok(())
        } else {
            Err(ApiError::Forbidden("operators and admins only".into()))
        }
    }

    /// Whose rows a staff listing shows: `None` for an admin (every tenant's),
    /// an operator's own tenant. Refuses drivers and operators without a tenant.
    pub fn staff_tenant(&self) -> Result<Option<TenantId>, ApiError> {
        self.require_staff()?;
        if self.is_admin() {
            return Ok(None);
        }
        self.tenant_id
            .map(Some)
            .ok_or_else(|| ApiError::Forbidden("this operator belongs to no tenant".into()))
    }

    /// Refuses callers who are not admins.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::Forbidden("admins only".into()))
        }
    }
}

/// The credential of an `Authorization: <scheme> <credential>` header
/// (the scheme in any case).
pub(super) fn credential<'a>(parts: &'a Parts, scheme: &str) -> Option<&'a str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (given, credential) = value.split_once(' ')?;
    given
        .eq_ignore_ascii_case(scheme)
        .then_some(credential.trim())
}

fn authenticate(parts: &Parts, state: &AppState) -> Result<Option<Actor>, ApiError> {
    let Some(token) = credential(parts, "bearer") else {
        return Ok(None);
    };
    let claims = state.tokens.verify(token).map_err(|e| match e {
        TokenError::Expired => ApiError::Unauthorized("the access token has expired".into()),
        _ => ApiError::Unauthorized("the access token is invalid".into()),
    })?;
    if state.revoked.is_revoked(claims.jti) {
        return Err(ApiError::Unauthorized(
            "the access token was revoked".into(),
        ));
    }
    let expires_at = claims
        .expires_at()
        .ok_or_else(|| ApiError::Unauthorized("the access token is invalid".into()))?;
    Ok(Some(Actor {
        user_id: UserId::from_uuid(claims.sub),
        roles: claims.roles,
        tenant_id: claims.tenant.map(TenantId::from_uuid),
        jti: claims.jti,
        expires_at,
    }))
}

impl FromRequestParts<AppState> for Actor {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        authenticate(parts, state)?
            .ok_or_else(|| ApiError::Unauthorized("a bearer access token is required".into()))
    }
}

/// The caller if a token was sent (a bad token is still refused); anonymous
/// otherwise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaybeActor(pub Option<Actor>);

impl FromRequestParts<AppState> for MaybeActor {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        authenticate(parts, state).map(MaybeActor)
    }
}

/// The peer's IP address, for per-IP rate limits: the connection's address when
/// parkd is served with connect info, loopback otherwise (requests driven
/// through the router in tests). Never fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub std::net::IpAddr);

impl<S> FromRequestParts<S> for ClientIp
where
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map_or(std::net::IpAddr::from([127, 0, 0, 1]), |c| c.0.ip()),
        ))
    }
}
