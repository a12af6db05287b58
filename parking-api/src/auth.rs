//! Accounts, tokens, users and tenants: `/auth/*`, `/users*`, `/tenants`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::common::{Checks, FieldError, double_option};

/// The shortest password accepted at registration, in characters.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// The longest email address accepted (RFC 5321 path limit).
pub const MAX_EMAIL_CHARS: usize = 254;
/// The longest token string accepted in a body (JWTs are far shorter).
pub const MAX_TOKEN_CHARS: usize = 4096;

/// What a user may do.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Books and manages their own reservations.
    Driver,
    /// Manages their own tenant's lots, spots, rates and analytics.
    Operator,
    /// Sees and manages everything.
    Admin,
}

impl Role {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Driver => "driver",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Role::Driver, Role::Operator, Role::Admin]
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role {s:?}: expected driver, operator or admin"))
    }
}

/// `POST /auth/register`: a new driver account.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// The login name; at most 254 characters.
    #[schema(example = "ada@example.com", max_length = 254)]
    pub email: String,
    /// At least 10 characters.
    #[schema(min_length = 10, format = Password)]
    pub password: String,
    /// 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100)]
    pub first_name: String,
    /// 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100)]
    pub last_name: String,
    /// Digits, `+`, spaces and `-`; at most 32 characters. Encrypted at rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 32, example = "+49 30 1234567")]
    pub phone: Option<String>,
}

impl std::fmt::Debug for RegisterRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterRequest")
            .field("email", &self.email)
            .field("password", &"<redacted>")
            .field("first_name", &self.first_name)
            .field("last_name", &self.last_name)
            .field("phone", &self.phone.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl RegisterRequest {
    /// Checks email shape and length, password length, names and phone.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut checks = Checks::new();
        check_email(&mut checks, "email", &self.email);
        if self.password.chars().count() < MIN_PASSWORD_CHARS {
            checks.push(
                "password",
                format!("must be at least {MIN_PASSWORD_CHARS} characters"),
            );
        }
        checks.length("first_name", &self.first_name, 1, 100);
        checks.length("last_name", &self.last_name, 1, 100);
        if let Some(phone) = &self.phone {
            check_phone(&mut checks, "phone", phone);
        }
        checks.finish()
    }
}

/// `POST /auth/login`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The account's email.
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// The account's password.
    #[schema(format = Password)]
    pub password: String,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("email", &self.email)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl LoginRequest {
    /// Only bounds the sizes: a wrong login is a 401, not a 422, so that the
    /// answer does not tell which part was wrong.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut checks = Checks::new();
        checks.length("email", &self.email, 1, MAX_EMAIL_CHARS);
        checks.length("password", &self.password, 1, MAX_TOKEN_CHARS);
        checks.finish()
    }
}

/// An access token and the refresh token that renews it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenPair {
    /// A JWT for the `Authorization: Bearer` header; short-lived.
    pub access_token: String,
    /// Spent by `POST /auth/refresh` for a new pair; long-lived, single use.
    pub refresh_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: String,
    /// Seconds until the access token expires.
    #[schema(example = 900)]
    pub expires_in: u64,
}

impl std::fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenPair")
            .field("access_token", &"<redacted>")
            .field("refresh_token", &"<redacted>")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

impl TokenPair {
    /// A pair with `token_type` `Bearer`.
    pub fn bearer(access_token: String, refresh_token: String, expires_in: u64) -> Self {
        TokenPair {
            access_token,
            refresh_token,
            token_type: "Bearer".to_owned(),
            expires_in,
        }
    }
}

/// `POST /auth/refresh`: the refresh token to spend.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token of the current pair.
    pub refresh_token: String,
}

/// `POST /auth/logout`: the refresh token to revoke.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {
    /// The refresh token of the current pair.
    pub refresh_token: String,
}

macro_rules! redacted_token_request {
    ($name:ident) => {
        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("refresh_token", &"<redacted>")
                    .finish()
            }
        }

        impl $name {
            /// Bounds the token's size.
            pub fn validate(&self) -> Result<(), Vec<FieldError>> {
                let mut checks = Checks::new();
                checks.length("refresh_token", &self.refresh_token, 1, MAX_TOKEN_CHARS);
                checks.finish()
            }
        }
    };
}

redacted_token_request!(RefreshRequest);
redacted_token_request!(LogoutRequest);

/// A user account as the API shows it (never the password hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct User {
    /// The user's id.
    pub id: Uuid,
    /// The login name.
    pub email: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Phone number, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// What the user may do.
    pub roles: Vec<Role>,
    /// The operator organisation an operator belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<Uuid>,
    /// When the account was made.
    pub created_at: DateTime<Utc>,
}

/// `PATCH /users/{id}` (admin): change roles and tenant. An absent field is left
/// as it is; `"tenant_id": null` removes the tenant.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    /// The new roles (replacing the old ones); at least one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<Role>>,
    /// The new tenant; `null` removes it.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<Uuid>, nullable = true)]
    pub tenant_id: Option<Option<Uuid>>,
}

impl UpdateUserRequest {
    /// Refuses an empty role list and an operator without a tenant when both
    /// are given here.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut checks = Checks::new();
        if let Some(roles) = &self.roles {
            if roles.is_empty() {
                checks.push("roles", "must name at least one role");
            }
            if roles.contains(&Role::Operator) && matches!(self.tenant_id, Some(None)) {
                checks.push("tenant_id", "an operator needs a tenant");
            }
        }
        checks.finish()
    }
}

/// An operator organisation; lots belong to exactly one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Tenant {
    /// The tenant's id.
    pub id: Uuid,
    /// Display name.
    pub name: String,
}

/// `POST /tenants` (admin).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenantRequest {
    /// 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
}

impl CreateTenantRequest {
    /// Checks the name's length.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut checks = Checks::new();
        checks.length("name", &self.name, 1, 200);
        checks.finish()
    }
}

/// Checks length (≤ 254) and a plain `local@domain.tld` shape: one `@`, no
/// whitespace, a dot inside the domain. Deliverability is not our business.
pub(crate) fn check_email(checks: &mut Checks, field: &str, email: &str) {
    if email.chars().count() > MAX_EMAIL_CHARS {
        checks.push(
            field,
            format!("must be at most {MAX_EMAIL_CHARS} characters"),
        );
        return;
    }
    let shaped = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains("..")
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    if !shaped {
        checks.push(field, "must be an email address such as ada@example.com");
    }
}

/// Checks a phone number: 1 to 32 characters of digits, `+`, spaces and `-`,
/// with at least one digit.
pub(crate) fn check_phone(checks: &mut Checks, field: &str, phone: &str) {
    let len = phone.chars().count();
    let allowed = phone
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-'));
    if len > 32 {
        checks.push(field, "must be at most 32 characters");
    } else if !allowed || !phone.chars().any(|c| c.is_ascii_digit()) {
        checks.push(field, "may hold only digits, +, spaces and -");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::tests::fields;
    use serde_json::json;

    fn register() -> RegisterRequest {
        serde_json::from_value(json!({
            "email": "ada@example.com",
            "password": "correct horse",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "phone": "+44 20-7946 0958"
        }))
        .expect("the issue's register body parses")
    }

    #[test]
    fn register_body_parses_and_validates() {
        let r = register();
        assert_eq!(r.validate(), Ok(()));
        let no_phone: RegisterRequest = serde_json::from_value(json!({
            "email": "a@b.co", "password": "0123456789", "first_name": "A", "last_name": "B"
        }))
        .expect("phone is optional");
        assert_eq!(no_phone.validate(), Ok(()));
        assert!(
            serde_json::from_value::<RegisterRequest>(json!({
                "email": "a@b.co", "password": "0123456789", "first_name": "A",
                "last_name": "B", "role": "admin"
            }))
            .is_err(),
            "a driver cannot pick a role at registration"
        );
    }

    #[test]
    fn register_limits_name_their_fields() {
        for (email, ok) in [
            ("ada@example.com", true),
            ("ada@example", false),
            ("@example.com", false),
            ("ada@@example.com", false),
            ("ada @example.com", false),
            ("ada@.example.com", false),
            ("ada@example.com.", false),
            ("ada.example.com", false),
        ] {
            let r = RegisterRequest {
                email: email.to_owned(),
                ..register()
            };
            assert_eq!(r.validate().is_ok(), ok, "{email}");
        }
        let long_email = format!("{}@example.com", "a".repeat(243));
        assert_eq!(long_email.len(), 255);
        let r = RegisterRequest {
            email: long_email,
            password: "short".to_owned(),
            first_name: String::new(),
            last_name: "x".repeat(101),
            phone: Some("call me".to_owned()),
        };
        assert_eq!(
            fields(r.validate()),
            ["email", "password", "first_name", "last_name", "phone"]
        );
        let r = RegisterRequest {
            phone: Some("1".repeat(33)),
            password: "ten chars!".to_owned(),
            ..register()
        };
        assert_eq!(fields(r.validate()), ["phone"]);
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let text = format!("{:?}", register());
        assert!(!text.contains("correct horse") && !text.contains("7946"));
        let pair = TokenPair::bearer("aaa.bbb.ccc".to_owned(), "rrr".to_owned(), 900);
        let text = format!("{pair:?}");
        assert!(!text.contains("aaa.bbb") && !text.contains("rrr"));
        assert_eq!(
            serde_json::to_value(&pair).expect("serialise"),
            json!({"access_token": "aaa.bbb.ccc", "refresh_token": "rrr",
                   "token_type": "Bearer", "expires_in": 900})
        );
    }

    #[test]
    fn token_bodies_refuse_unknown_fields() {
        let r: RefreshRequest =
            serde_json::from_value(json!({"refresh_token": "x"})).expect("parses");
        assert_eq!(r.validate(), Ok(()));
        assert!(
            serde_json::from_value::<LogoutRequest>(json!({"refresh_token": "x", "all": true}))
                .is_err()
        );
        let empty = LogoutRequest {
            refresh_token: String::new(),
        };
        assert_eq!(fields(empty.validate()), ["refresh_token"]);
        assert!(
            serde_json::from_value::<LoginRequest>(
                json!({"email": "a@b.co", "password": "p", "remember": true})
            )
            .is_err()
        );
    }

    #[test]
    fn user_patch_tells_absent_from_null() {
        let keep: UpdateUserRequest =
            serde_json::from_value(json!({"roles": ["operator"]})).expect("parses");
        assert_eq!(keep.tenant_id, None);
        assert_eq!(keep.validate(), Ok(()));
        let clear: UpdateUserRequest =
            serde_json::from_value(json!({"tenant_id": null})).expect("parses");
        assert_eq!(clear.tenant_id, Some(None));
        let bad: UpdateUserRequest =
            serde_json::from_value(json!({"roles": ["operator"], "tenant_id": null}))
                .expect("parses");
        assert_eq!(fields(bad.validate()), ["tenant_id"]);
        let none: UpdateUserRequest = serde_json::from_value(json!({"roles": []})).expect("parses");
        assert_eq!(fields(none.validate()), ["roles"]);
        assert!(serde_json::from_value::<UpdateUserRequest>(json!({"roles": ["root"]})).is_err());
        assert_eq!("admin".parse::<Role>(), Ok(Role::Admin));
    }

    #[test]
    fn tenant_names_are_bounded() {
        let t: CreateTenantRequest =
            serde_json::from_value(json!({"name": "Dresden Parken GmbH"})).expect("parses");
        assert_eq!(t.validate(), Ok(()));
        let long = CreateTenantRequest {
            name: "x".repeat(201),
        };
        assert_eq!(fields(long.validate()), ["name"]);
    }
}
