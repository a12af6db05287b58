//! Users, tenants and tokens in PostgreSQL (the same rules as SQLite's
//! `users.rs`).

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use parking_core::model::{TenantId, UserId};
use uuid::Uuid;

use super::Failure;
use super::rows::{self, USER_COLUMNS};
use super::sql::{execute, query, query_one, query_opt};
use crate::auth::Role;
use crate::store::StoreError;
use crate::store::interface::{
    PageRequest, RefreshRecord, RotateOutcome, TenantRecord, UserRecord,
};

fn role_names(roles: &[Role]) -> Vec<&'static str> {
    roles.iter().map(|r| r.as_str()).collect()
}

fn page_args(page: PageRequest) -> (i64, i64) {
    (
        i64::from(page.per_page),
        i64::try_from(page.offset()).unwrap_or(i64::MAX),
    )
}

/// Stores a new user.
pub async fn insert_user<C: GenericClient>(c: &C, u: &UserRecord) -> Result<(), Failure> {
    execute(
        c,
        "INSERT INTO users (id, email, password_hash, first_name, last_name, phone_enc, roles, tenant_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            &u.id.as_uuid(),
            &u.email,
            &u.password_hash,
            &u.first_name,
            &u.last_name,
            &u.phone_enc,
            &role_names(&u.roles),
            &u.tenant_id.map(|t| t.as_uuid()),
            &u.created_at,
        ],
    )
    .await?;
    Ok(())
}

/// The user with this email, ignoring case.
pub async fn user_by_email<C: GenericClient>(
    c: &C,
    email: &str,
) -> Result<Option<UserRecord>, Failure> {
    query_opt(
        c,
        &format!("SELECT {USER_COLUMNS} FROM users WHERE lower(email) = lower($1)"),
        &[&email],
    )
    .await?
    .as_ref()
    .map(rows::user)
    .transpose()
}

/// The user with this id.
pub async fn user_by_id<C: GenericClient>(
    c: &C,
    id: UserId,
) -> Result<Option<UserRecord>, Failure> {
    query_opt(
        c,
        &format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"),
        &[&id.as_uuid()],
    )
    .await?
    .as_ref()
    .map(rows::user)
    .transpose()
}

/// One page of users by sign-up time, and the total.
pub async fn list_users<C: GenericClient>(
    c: &C,
    page: PageRequest,
) -> Result<(Vec<UserRecord>, u64), Failure> {
    let total: i64 = query_one(c, "SELECT COUNT(*) FROM users", &[])
        .await?
        .try_get(0)?;
    let (limit, offset) = page_args(page);
    let users = query(
        c,
        &format!("SELECT {USER_COLUMNS} FROM users ORDER BY created_at, id LIMIT $1 OFFSET $2"),
        &[&limit, &offset],
    )
    .await?
    .iter()
    .map(rows::user)
    .collect::<Result<Vec<_>, _>>()?;
    Ok((users, rows::sequence(total)?))
}

/// Replaces a user's roles and tenant.
pub async fn set_user_access<C: GenericClient>(
    c: &C,
    id: UserId,
    roles: &[Role],
    tenant: Option<TenantId>,
) -> Result<UserRecord, Failure> {
    let row = query_opt(
        c,
        &format!(
            "UPDATE users SET roles = $2, tenant_id = $3 WHERE id = $1 RETURNING {USER_COLUMNS}"
        ),
        &[
            &id.as_uuid(),
            &role_names(roles),
            &tenant.map(|t| t.as_uuid()),
        ],
    )
    .await?
    .ok_or(Failure::Store(StoreError::NotFound))?;
    rows::user(&row)
}

/// Users holding the admin role.
pub async fn count_admins<C: GenericClient>(c: &C) -> Result<u64, Failure> {
    let n: i64 = query_one(
        c,
        "SELECT COUNT(*) FROM users WHERE 'admin' = ANY (roles)",
        &[],
    )
    .await?
    .try_get(0)?;
    rows::sequence(n)
}

/// Stores a new tenant.
pub async fn insert_tenant<C: GenericClient>(c: &C, t: &TenantRecord) -> Result<(), Failure> {
    execute(
        c,
        "INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)",
        &[&t.id.as_uuid(), &t.name, &t.created_at],
    )
    .await?;
    Ok(())
}

/// Every tenant by name.
pub async fn list_tenants<C: GenericClient>(c: &C) -> Result<Vec<TenantRecord>, Failure> {
    query(
        c,
        "SELECT id, name, created_at FROM tenants ORDER BY name",
        &[],
    )
    .await?
    .iter()
    .map(rows::tenant)
    .collect()
}

/// One tenant.
pub async fn tenant<C: GenericClient>(
    c: &C,
    id: TenantId,
) -> Result<Option<TenantRecord>, Failure> {
    query_opt(
        c,
        "SELECT id, name, created_at FROM tenants WHERE id = $1",
        &[&id.as_uuid()],
    )
    .await?
    .as_ref()
    .map(rows::tenant)
    .transpose()
}

/// Stores a refresh token.
pub async fn insert_refresh<C: GenericClient>(c: &C, r: &RefreshRecord) -> Result<(), Failure> {
    execute(
        c,
        "INSERT INTO refresh_tokens (token_hash, family_id, user_id, issued_at, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &r.token_hash,
            &r.family_id,
            &r.user_id.as_uuid(),
            &r.issued_at,
            &r.expires_at,
        ],
    )
    .await?;
    Ok(())
}

/// Spends a presented refresh token and stores its successor, or applies the
/// reuse rule. The row is locked (`FOR UPDATE`) so that two instances
/// presented the same token at once cannot both rotate it.
pub async fn rotate_refresh<C: GenericClient>(
    c: &C,
    presented: &str,
    mut next: RefreshRecord,
    now: DateTime<Utc>,
) -> Result<RotateOutcome, Failure> {
    let Some(row) = query_opt(
        c,
        "SELECT family_id, user_id, expires_at, spent_at, revoked_at FROM refresh_tokens
         WHERE token_hash = $1 FOR UPDATE",
        &[&presented],
    )
    .await?
    else {
        return Ok(RotateOutcome::Unknown);
    };
    let family_id: Uuid = row.try_get(0)?;
    let user: Uuid = row.try_get(1)?;
    let expires: DateTime<Utc> = row.try_get(2)?;
    let spent: Option<DateTime<Utc>> = row.try_get(3)?;
    let revoked: Option<DateTime<Utc>> = row.try_get(4)?;
    if spent.is_some() || revoked.is_some() {
        // A replay: revoke the whole family, the legitimate holder's newest
        // token included.
        execute(
            c,
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL",
            &[&family_id, &now],
        )
        .await?;
        return Ok(RotateOutcome::Reused { family_id });
    }
    if expires <= now {
        return Ok(RotateOutcome::Expired);
    }
    execute(
        c,
        "UPDATE refresh_tokens SET spent_at = $2 WHERE token_hash = $1",
        &[&presented, &now],
    )
    .await?;
    let user_id = UserId::from_uuid(user);
    next.family_id = family_id;
    next.user_id = user_id;
    insert_refresh(c, &next).await?;
    Ok(RotateOutcome::Rotated { user_id })
}

/// Revokes one refresh token; its owner if it was live.
pub async fn revoke_refresh<C: GenericClient>(
    c: &C,
    hash: &str,
    only_owner: Option<UserId>,
    now: DateTime<Utc>,
) -> Result<Option<UserId>, Failure> {
    let row = query_opt(
        c,
        "UPDATE refresh_tokens SET revoked_at = $2
         WHERE token_hash = $1 AND revoked_at IS NULL AND spent_at IS NULL
           AND ($3::uuid IS NULL OR user_id = $3)
         RETURNING user_id",
        &[&hash, &now, &only_owner.map(|u| u.as_uuid())],
    )
    .await?;
    Ok(row
        .map(|r| r.try_get::<_, Uuid>(0))
        .transpose()?
        .map(UserId::from_uuid))
}

/// Refuses an access token id until it expires; expired entries are swept.
pub async fn revoke_access<C: GenericClient>(
    c: &C,
    jti: Uuid,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), Failure> {
    execute(
        c,
        "DELETE FROM revoked_access WHERE expires_at <= $1",
        &[&now],
    )
    .await?;
    execute(
        c,
        "INSERT INTO revoked_access (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING",
        &[&jti, &expires_at],
    )
    .await?;
    Ok(())
}

/// Revoked access-token ids that have not expired.
pub async fn revoked_access<C: GenericClient>(
    c: &C,
    now: DateTime<Utc>,
) -> Result<Vec<(Uuid, DateTime<Utc>)>, Failure> {
    query(
        c,
        "SELECT jti, expires_at FROM revoked_access WHERE expires_at > $1",
        &[&now],
    )
    .await?
    .iter()
    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
    .collect()
}
