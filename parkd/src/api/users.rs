//! `/users*` and `/tenants`: the caller's own account, and the admin's view of
//! users (roles, tenant) and tenants.
//!
//! Role changes take effect at the user's next login (or refresh): access tokens
//! carry the roles they were issued with.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use parking_api::auth::{CreateTenantRequest, Tenant, UpdateUserRequest, User};
use parking_api::common::{Page, PageQuery, Problem};
use parking_core::model::{TenantId, UserId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::extract::{Actor, ApiJson, ApiQuery};
use crate::auth::Role;
use crate::error::ApiError;
use crate::service::accounts;
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::interface::{PageRequest, TenantRecord, UserRecord};

/// The routes of this resource.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me))
        .routes(routes!(list))
        .routes(routes!(update))
        .routes(routes!(create_tenant, list_tenants))
}

/// The wire name of a role.
pub(crate) fn role_to_wire(role: Role) -> parking_api::auth::Role {
    match role {
        Role::Driver => parking_api::auth::Role::Driver,
        Role::Operator => parking_api::auth::Role::Operator,
        Role::Admin => parking_api::auth::Role::Admin,
    }
}

fn role_from_wire(role: parking_api::auth::Role) -> Role {
    match role {
        parking_api::auth::Role::Driver => Role::Driver,
        parking_api::auth::Role::Operator => Role::Operator,
        parking_api::auth::Role::Admin => Role::Admin,
    }
}

/// A stored user as the API shows it; `phone` is the decrypted number, or
/// `None` where the answer should not carry it.
pub(crate) fn user_dto(user: &UserRecord, phone: Option<String>) -> User {
    User {
        id: user.id.as_uuid(),
        email: user.email.clone(),
        first_name: user.first_name.clone(),
        last_name: user.last_name.clone(),
        phone,
        roles: user.roles.iter().copied().map(role_to_wire).collect(),
        tenant_id: user.tenant_id.map(|t| t.as_uuid()),
        created_at: user.created_at,
    }
}

fn tenant_dto(tenant: &TenantRecord) -> Tenant {
    Tenant {
        id: tenant.id.as_uuid(),
        name: tenant.name.clone(),
    }
}

/// The caller's own account, phone number included.
#[utoipa::path(
    get,
    path = "/users/me",
    tag = "users",
    security(("bearer" = [])),
    responses((status = 200, body = User), (status = 401, body = Problem))
)]
pub async fn me(State(state): State<AppState>, actor: Actor) -> Result<Json<User>, ApiError> {
    // A valid token of a user who no longer exists is as good as no token.
    let user = state
        .store
        .user_by_id(actor.user_id)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("the account no longer exists".into()))?;
    let phone = accounts::phone_of(&state, &user)?;
    Ok(Json(user_dto(&user, phone)))
}

/// Every user by sign-up time (admin). Phone numbers stay encrypted and are
/// left out of the listing.
#[utoipa::path(
    get,
    path = "/users",
    tag = "users",
    params(PageQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Page<User>), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 422, body = Problem)
    )
)]
pub async fn list(
    State(state): State<AppState>,
    actor: Actor,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Page<User>>, ApiError> {
    actor.require_admin()?;
    query.validate().map_err(ApiError::Validation)?;
    let (users, total) = state
        .store
        .list_users(PageRequest {
            page: query.page,
            per_page: query.per_page,
        })
        .await?;
    let items = users.iter().map(|u| user_dto(u, None)).collect();
    Ok(Json(Page::new(items, total, query.page, query.per_page)))
}

/// Changes a user's roles and tenant (admin). Absent fields keep their value;
/// `"tenant_id": null` removes the tenant. An operator must have a tenant, the
/// tenant must exist, and the last admin cannot lose the admin role. Takes
/// effect at the user's next login.
#[utoipa::path(
    patch,
    path = "/users/{id}",
    tag = "users",
    params(("id" = Uuid, Path)),
    request_body = UpdateUserRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = User), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 409, body = Problem, description = "The last admin would lose the admin role"),
        (status = 422, body = Problem, description = "No roles, an unknown tenant, or an operator without a tenant")
    )
)]
pub async fn update(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    ApiJson(request): ApiJson<UpdateUserRequest>,
) -> Result<Json<User>, ApiError> {
    actor.require_admin()?;
    request.validate().map_err(ApiError::Validation)?;
    let id = UserId::from_uuid(id);
    let current = state
        .store
        .user_by_id(id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    let mut roles: Vec<Role> = match request.roles {
        Some(roles) => roles.into_iter().map(role_from_wire).collect(),
        None => current.roles.clone(),
    };
    roles.sort();
    roles.dedup();
    let tenant_id = match request.tenant_id {
        Some(tenant) => tenant.map(TenantId::from_uuid),
        None => current.tenant_id,
    };
    if let Some(tenant) = tenant_id
        && state.store.tenant(tenant).await?.is_none()
    {
        return Err(ApiError::field("tenant_id", "no such tenant"));
    }
    if roles.contains(&Role::Operator) && tenant_id.is_none() {
        return Err(ApiError::field("tenant_id", "an operator needs a tenant"));
    }
    if current.roles.contains(&Role::Admin)
        && !roles.contains(&Role::Admin)
        && state.store.count_admins().await? <= 1
    {
        return Err(ApiError::conflict(
            "the last admin cannot lose the admin role",
        ));
    }
    let updated = state
        .store
        .set_user_access(id, roles, tenant_id)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::NotFound("user"),
            other => other.into(),
        })?;
    tracing::info!(user_id = %updated.id, by = %actor.user_id, "user access changed");
    Ok(Json(user_dto(&updated, None)))
}

/// Creates a tenant (admin); names are unique.
#[utoipa::path(
    post,
    path = "/tenants",
    tag = "users",
    request_body = CreateTenantRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = Tenant), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem, description = "The name is taken"),
        (status = 422, body = Problem)
    )
)]
pub async fn create_tenant(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(request): ApiJson<CreateTenantRequest>,
) -> Result<(StatusCode, Json<Tenant>), ApiError> {
    actor.require_admin()?;
    let request = CreateTenantRequest {
        name: request.name.trim().to_owned(),
    };
    request.validate().map_err(ApiError::Validation)?;
    let tenant = TenantRecord {
        id: TenantId::new(),
        name: request.name,
        created_at: chrono::Utc::now(),
    };
    match state.store.create_tenant(tenant.clone()).await {
        Ok(()) => Ok((StatusCode::CREATED, Json(tenant_dto(&tenant)))),
        Err(StoreError::Conflict(_)) => {
            Err(ApiError::conflict("a tenant with this name already exists"))
        }
        Err(e) => Err(e.into()),
    }
}

/// Every tenant by name (admin).
#[utoipa::path(
    get,
    path = "/tenants",
    tag = "users",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<Tenant>), (status = 401, body = Problem), (status = 403, body = Problem)
    )
)]
pub async fn list_tenants(
    State(state): State<AppState>,
    actor: Actor,
) -> Result<Json<Vec<Tenant>>, ApiError> {
    actor.require_admin()?;
    let tenants = state.store.list_tenants().await?;
    Ok(Json(tenants.iter().map(tenant_dto).collect()))
}
