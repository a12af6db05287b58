//! `/users` and `/tenants`: the caller, user administration, tenants.

use parking_api::{CreateTenantRequest, Page, PageQuery, Tenant, UpdateUserRequest, User};
use reqwest::Method;
use uuid::Uuid;

use crate::client::{Auth, Call};
use crate::{Client, ClientError};

impl Client {
    /// `GET /users/me`: the logged-in user.
    pub async fn me(&self) -> Result<User, ClientError> {
        self.json(Call::new(Method::GET, "/api/v1/users/me", Auth::Required))
            .await
    }

    /// `GET /users` (admin): one page of users.
    pub async fn list_users(&self, page: &PageQuery) -> Result<Page<User>, ClientError> {
        self.json(Call::new(Method::GET, "/api/v1/users", Auth::Required).query(page))
            .await
    }

    /// `PATCH /users/{id}` (admin): roles and tenant.
    pub async fn set_access(
        &self,
        user: Uuid,
        request: &UpdateUserRequest,
    ) -> Result<User, ClientError> {
        self.json(
            Call::new(
                Method::PATCH,
                format!("/api/v1/users/{user}"),
                Auth::Required,
            )
            .json(request)?,
        )
        .await
    }

    /// `POST /tenants` (admin).
    pub async fn create_tenant(
        &self,
        request: &CreateTenantRequest,
    ) -> Result<Tenant, ClientError> {
        self.json(Call::new(Method::POST, "/api/v1/tenants", Auth::Required).json(request)?)
            .await
    }

    /// `GET /tenants` (admin).
    pub async fn list_tenants(&self) -> Result<Vec<Tenant>, ClientError> {
        self.json(Call::new(Method::GET, "/api/v1/tenants", Auth::Required))
            .await
    }
}
