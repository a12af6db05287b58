//! `/auth/*`: registration, login, refresh-token rotation and logout.
//!
//! Bodies here carry passwords, tokens and phone numbers: handlers never log
//! them (the wire types' `Debug` is redacted as a second line of defence).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use parking_api::auth::{
    LoginRequest, LogoutRequest, RefreshRequest, RegisterRequest, TokenPair, User,
};
use parking_api::common::Problem;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiJson, ClientIp, MaybeActor};
use super::users::user_dto;
use crate::error::ApiError;
use crate::service::accounts;
use crate::state::AppState;

/// The routes of this resource.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
}

/// Signs up a driver.
#[utoipa::path(
    post,
    path = "/auth/register",
    tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, body = User),
        (status = 409, body = Problem, description = "The email is already registered"),
        (status = 422, body = Problem, description = "Invalid fields (email shape, password under 10 characters, …), each named"),
        (status = 429, body = Problem, description = "Too many registrations from this address; see `Retry-After`")
    )
)]
pub async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(request): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let phone = request.phone.clone();
    let user = accounts::register(&state, ip, request).await?;
    tracing::info!(user_id = %user.id, "user registered");
    Ok((StatusCode::CREATED, Json(user_dto(&user, phone))))
}

/// Exchanges email and password for a token pair. Unknown emails and wrong
/// passwords get the same answer.
#[utoipa::path(
    post,
    path = "/auth/login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, body = TokenPair),
        (status = 401, body = Problem, description = "Unknown email or wrong password (the same answer for both)"),
        (status = 422, body = Problem, description = "An empty or oversized field"),
        (status = 429, body = Problem, description = "Too many attempts from this address or for this email; see `Retry-After`")
    )
)]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(request): ApiJson<LoginRequest>,
) -> Result<Json<TokenPair>, ApiError> {
    request.validate().map_err(ApiError::Validation)?;
    let pair = accounts::login(&state, ip, &request.email, &request.password).await?;
    Ok(Json(pair))
}

/// Spends a refresh token for a new pair. Presenting a spent token again
/// revokes its whole family, the newest token included.
#[utoipa::path(
    post,
    path = "/auth/refresh",
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, body = TokenPair),
        (status = 401, body = Problem, description = "Unknown, expired, revoked or already spent (the family is then revoked)"),
        (status = 422, body = Problem)
    )
)]
pub async fn refresh(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<RefreshRequest>,
) -> Result<Json<TokenPair>, ApiError> {
    request.validate().map_err(ApiError::Validation)?;
    let pair = accounts::refresh(&state, &request.refresh_token).await?;
    Ok(Json(pair))
}

/// Revokes the refresh token; with a bearer token, that access token is refused
/// from now until it expires.
#[utoipa::path(
    post,
    path = "/auth/logout",
    tag = "auth",
    request_body = LogoutRequest,
    security((), ("bearer" = [])),
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, body = Problem, description = "The bearer token sent is invalid"),
        (status = 422, body = Problem)
    )
)]
pub async fn logout(
    State(state): State<AppState>,
    MaybeActor(actor): MaybeActor,
    ApiJson(request): ApiJson<LogoutRequest>,
) -> Result<StatusCode, ApiError> {
    request.validate().map_err(ApiError::Validation)?;
    let access = actor.as_ref().map(|a| (a.user_id, a.jti, a.expires_at));
    accounts::logout(&state, access, &request.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}
