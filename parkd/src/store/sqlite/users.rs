//! Users, tenants and tokens in SQLite.

use chrono::{DateTime, Utc};
use parking_core::model::{TenantId, UserId};
use rusqlite::{Connection, OptionalExtension, Row, params};
use uuid::Uuid;

use super::map_err;
use super::rows::{from_json, instant, to_json, us, uuid};
use crate::auth::Role;
use crate::store::StoreError;
use crate::store::interface::{
    PageRequest, RefreshRecord, RotateOutcome, TenantRecord, UserRecord,
};

const USER_COLUMNS: &str =
    "id, email, password_hash, first_name, last_name, phone_enc, roles, tenant_id, created_us";

fn user_row(row: &Row) -> Result<UserRecord, rusqlite::Error> {
    let tenant: Option<String> = row.get(7)?;
    Ok(UserRecord {
        id: UserId::from_uuid(uuid(&row.get::<_, String>(0)?)?),
        email: row.get(1)?,
        password_hash: row.get(2)?,
        first_name: row.get(3)?,
        last_name: row.get(4)?,
        phone_enc: row.get(5)?,
        roles: from_json(&row.get::<_, String>(6)?)?,
        tenant_id: tenant
            .as_deref()
            .map(uuid)
            .transpose()?
            .map(TenantId::from_uuid),
        created_at: instant(row.get(8)?)?,
    })
}

/// Stores a new user.
pub fn insert_user(tx: &Connection, u: &UserRecord) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO users (id, email, password_hash, first_name, last_name, phone_enc, roles, tenant_id, created_us)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            u.id.to_string(),
            u.email,
            u.password_hash,
            u.first_name,
            u.last_name,
            u.phone_enc,
            to_json(&u.roles)?,
            u.tenant_id.map(|t| t.to_string()),
            us(u.created_at)
        ],
    )
    .map_err(map_err)?;
    Ok(())
}

/// The user with this email, ignoring case.
pub fn user_by_email(conn: &Connection, email: &str) -> Result<Option<UserRecord>, StoreError> {
    conn.query_row(
        &format!("SELECT {USER_COLUMNS} FROM users WHERE email = ?1 COLLATE NOCASE"),
        params![email],
        user_row,
    )
    .optional()
    .map_err(map_err)
}

/// The user with this id.
pub fn user_by_id(conn: &Connection, id: UserId) -> Result<Option<UserRecord>, StoreError> {
    conn.query_row(
        &format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"),
        params![id.to_string()],
        user_row,
    )
    .optional()
    .map_err(map_err)
}

/// One page of users by sign-up time, and the total.
pub fn list_users(
    conn: &Connection,
    page: PageRequest,
) -> Result<(Vec<UserRecord>, u64), StoreError> {
    let total: i64 = conn
        .query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))
        .map_err(map_err)?;
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY created_us, id LIMIT ?1 OFFSET ?2"
        ))
        .map_err(map_err)?;
    let users = stmt
        .query_map(params![page.per_page, page.offset() as i64], user_row)
        .map_err(map_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(map_err)?;
    Ok((users, total.max(0) as u64))
}

/// Replaces a user's roles and tenant.
pub fn set_user_access(
    tx: &Connection,
    id: UserId,
    roles: &[Role],
    tenant: Option<TenantId>,
) -> Result<UserRecord, StoreError> {
    let changed = tx
        .execute(
            "UPDATE users SET roles = ?2, tenant_id = ?3 WHERE id = ?1",
            params![
                id.to_string(),
                to_json(&roles)?,
                tenant.map(|t| t.to_string())
            ],
        )
        .map_err(map_err)?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    user_by_id(tx, id)?.ok_or(StoreError::NotFound)
}

/// Users holding the admin role.
pub fn count_admins(conn: &Connection) -> Result<u64, StoreError> {
    let n: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM users WHERE EXISTS (SELECT 1 FROM json_each(users.roles) WHERE value = 'admin')",
            [],
            |r| r.get(0),
        )
        .map_err(map_err)?;
    Ok(n.max(0) as u64)
}

fn tenant_row(row: &Row) -> Result<TenantRecord, rusqlite::Error> {
    Ok(TenantRecord {
        id: TenantId::from_uuid(uuid(&row.get::<_, String>(0)?)?),
        name: row.get(1)?,
        created_at: instant(row.get(2)?)?,
    })
}

/// Stores a new tenant.
pub fn insert_tenant(tx: &Connection, t: &TenantRecord) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO tenants (id, name, created_us) VALUES (?1, ?2, ?3)",
        params![t.id.to_string(), t.name, us(t.created_at)],
    )
    .map_err(map_err)?;
    Ok(())
}

/// Every tenant by name.
pub fn list_tenants(conn: &Connection) -> Result<Vec<TenantRecord>, StoreError> {
    let mut stmt = conn
        .prepare("SELECT id, name, created_us FROM tenants ORDER BY name")
        .map_err(map_err)?;
    stmt.query_map([], tenant_row)
        .map_err(map_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(map_err)
}

/// One tenant.
pub fn tenant(conn: &Connection, id: TenantId) -> Result<Option<TenantRecord>, StoreError> {
    conn.query_row(
        "SELECT id, name, created_us FROM tenants WHERE id = ?1",
        params![id.to_string()],
        tenant_row,
    )
    .optional()
    .map_err(map_err)
}

/// Stores a refresh token.
pub fn insert_refresh(tx: &Connection, r: &RefreshRecord) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO refresh_tokens (token_hash, family_id, user_id, issued_us, expires_us) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            r.token_hash,
            r.family_id.to_string(),
            r.user_id.to_string(),
            us(r.issued_at),
            us(r.expires_at)
        ],
    )
    .map_err(map_err)?;
    Ok(())
}

/// Spends a presented refresh token and stores its successor, or applies the reuse
/// rule.
pub fn rotate_refresh(
    tx: &Connection,
    presented: &str,
    mut next: RefreshRecord,
    now: DateTime<Utc>,
) -> Result<RotateOutcome, StoreError> {
    type Found = (String, String, i64, Option<i64>, Option<i64>);
    let found: Option<Found> = tx
        .query_row(
            "SELECT family_id, user_id, expires_us, spent_us, revoked_us FROM refresh_tokens WHERE token_hash = ?1",
            params![presented],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()
        .map_err(map_err)?;
    let Some((family, user, expires, spent, revoked)) = found else {
        return Ok(RotateOutcome::Unknown);
    };
    let family_id = uuid(&family).map_err(map_err)?;
    if spent.is_some() || revoked.is_some() {
        // A replay: someone holds a token that was already used. Revoke the whole
        // family so the legitimate holder's newest token stops working too.
        tx.execute(
            "UPDATE refresh_tokens SET revoked_us = ?2 WHERE family_id = ?1 AND revoked_us IS NULL",
            params![family, us(now)],
        )
        .map_err(map_err)?;
        return Ok(RotateOutcome::Reused { family_id });
    }
    if expires <= us(now) {
        return Ok(RotateOutcome::Expired);
    }
    tx.execute(
        "UPDATE refresh_tokens SET spent_us = ?2 WHERE token_hash = ?1",
        params![presented, us(now)],
    )
    .map_err(map_err)?;
    let user_id = UserId::from_uuid(uuid(&user).map_err(map_err)?);
    next.family_id = family_id;
    next.user_id = user_id;
    insert_refresh(tx, &next)?;
    Ok(RotateOutcome::Rotated { user_id })
}

/// Revokes one refresh token; its owner if it was live.
pub fn revoke_refresh(
    tx: &Connection,
    hash: &str,
    only_owner: Option<UserId>,
    now: DateTime<Utc>,
) -> Result<Option<UserId>, StoreError> {
    let owner: Option<String> = tx
        .query_row(
            "UPDATE refresh_tokens SET revoked_us = ?2
             WHERE token_hash = ?1 AND revoked_us IS NULL AND spent_us IS NULL AND (?3 IS NULL OR user_id = ?3)
             RETURNING user_id",
            params![hash, us(now), only_owner.map(|u| u.to_string())],
            |r| r.get(0),
        )
        .optional()
        .map_err(map_err)?;
    owner
        .map(|u| uuid(&u).map(UserId::from_uuid).map_err(map_err))
        .transpose()
}

/// Refuses an access token id until it expires; expired entries are swept.
pub fn revoke_access(
    tx: &Connection,
    jti: Uuid,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.execute(
        "DELETE FROM revoked_access WHERE expires_us <= ?1",
        params![us(now)],
    )
    .map_err(map_err)?;
    tx.execute(
        "INSERT OR IGNORE INTO revoked_access (jti, expires_us) VALUES (?1, ?2)",
        params![jti.to_string(), us(expires_at)],
    )
    .map_err(map_err)?;
    Ok(())
}

/// Revoked access-token ids that have not expired.
pub fn revoked_access(
    conn: &Connection,
    now: DateTime<Utc>,
) -> Result<Vec<(Uuid, DateTime<Utc>)>, StoreError> {
    let mut stmt = conn
        .prepare("SELECT jti, expires_us FROM revoked_access WHERE expires_us > ?1")
        .map_err(map_err)?;
    stmt.query_map(params![us(now)], |r| {
        Ok((uuid(&r.get::<_, String>(0)?)?, instant(r.get(1)?)?))
    })
    .map_err(map_err)?
    .collect::<Result<Vec<_>, _>>()
    .map_err(map_err)
}
