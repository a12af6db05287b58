//! Access tokens (JWT) and refresh tokens (opaque, rotating).
//!
//! **Access tokens** are HS256 JWTs signed with the 64-byte key from
//! [`Secrets`](super::Secrets), carrying [`Claims`]: the user, their roles, their
//! tenant, the issue and expiry times and a unique `jti` (so that logout can refuse
//! a token before it expires). They live [`DEFAULT_ACCESS_TTL`] unless configured
//! otherwise, and are checked without touching storage.
//!
//! **Refresh tokens** are 256-bit random values sent to the client as base64url
//! without padding; storage keeps only their SHA-256 ([`refresh_token_hash`]), so
//! a leaked database does not hand out sessions. Each token belongs to a
//! *family*: logging in starts a new family ([`RefreshToken::new_family`]), and
//! every refresh spends the presented token and issues its successor in the same
//! family ([`RefreshToken::rotate`]). The storage layer applies the reuse rule:
//! presenting a token that was already spent means it was copied, so the whole
//! family is revoked — the thief's and the legitimate client's newest token alike.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::secrets::{JWT_KEY_LEN, SecretBytes};

/// How long an access token lives unless configured otherwise: 15 minutes.
pub const DEFAULT_ACCESS_TTL: Duration = Duration::from_secs(15 * 60);
/// How long a refresh token lives unless configured otherwise: 30 days.
///
/// Enforced by the storage layer, which records each token's expiry.
pub const DEFAULT_REFRESH_TTL: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// Entropy of a refresh token in bytes (256 bits).
pub const REFRESH_TOKEN_BYTES: usize = 32;

/// What a user may do. Serialized as `"driver"`, `"operator"`, `"admin"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Books parking for themselves and sees only their own reservations.
    Driver,
    /// Manages the lots of their own tenant.
    Operator,
    /// Sees and manages everything.
    Admin,
}

impl Role {
    /// Every role, in privilege order.
    pub const ALL: [Role; 3] = [Role::Driver, Role::Operator, Role::Admin];

    /// The wire name of the role.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Driver => "driver",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not `driver`, `operator` or `admin`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: expected driver, operator or admin")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

/// The claims of an access token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user the token was issued to.
    pub sub: Uuid,
    /// The user's roles when the token was issued.
    pub roles: Vec<Role>,
    /// The operator's tenant, if any.
    pub tenant: Option<Uuid>,
    /// Expiry, seconds since the Unix epoch; the token is valid while `now < exp`.
    pub exp: i64,
    /// Issue time, seconds since the Unix epoch.
    pub iat: i64,
    /// Unique token id, refused after logout until `exp`.
    pub jti: Uuid,
}

impl Claims {
    /// Whether the token carries `role`.
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// When the token expires.
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp(self.exp, 0)
    }
}

/// Why a token could not be issued or was refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The token's signature was valid but its `exp` has passed.
    #[error("the access token has expired")]
    Expired,
    /// The signature does not match (tampered, or signed with another key or algorithm).
    #[error("the access token's signature is invalid")]
    BadSignature,
    /// The token is not a well-formed JWT with our claims.
    #[error("the access token is malformed: {0}")]
    Malformed(#[source] jsonwebtoken::errors::Error),
    /// The access-token lifetime does not fit in a timestamp.
    #[error("the access-token lifetime {0:?} is out of range")]
    TtlOutOfRange(Duration),
    /// Signing failed.
    #[error("cannot sign the access token: {0}")]
    Sign(#[source] jsonwebtoken::errors::Error),
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed: {0}")]
    Random(#[from] getrandom::Error),
}

/// Issues and verifies access tokens with one HS256 key. `Debug` is redacted.
#[derive(Clone)]
pub struct TokenIssuer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    access_ttl: TimeDelta,
}

impl fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("key", &"[redacted]")
            .field("access_ttl", &self.access_ttl)
            .finish()
    }
}

impl TokenIssuer {
    /// An issuer signing with `key`, issuing tokens that live `access_ttl`.
    pub fn new(key: &SecretBytes<JWT_KEY_LEN>, access_ttl: Duration) -> Result<Self, TokenError> {
        let ttl = TimeDelta::from_std(access_ttl)
            .ok()
            .filter(|ttl| *ttl > TimeDelta::zero())
            .ok_or(TokenError::TtlOutOfRange(access_ttl))?;
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked by `verify_at` against the caller's clock, so that it is
        // exact and testable; the library only checks that `exp` is present (and
        // deserializing `Claims` requires every other claim).
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Ok(Self {
            encoding: EncodingKey::from_secret(key.expose()),
            decoding: DecodingKey::from_secret(key.expose()),
            validation,
            access_ttl: ttl,
        })
    }

    /// An issuer with the default lifetime ([`DEFAULT_ACCESS_TTL`]).
    pub fn with_default_ttl(key: &SecretBytes<JWT_KEY_LEN>) -> Result<Self, TokenError> {
        Self::new(key, DEFAULT_ACCESS_TTL)
    }

    /// How long the tokens this issuer signs live (the `expires_in` of a login answer).
    pub fn access_ttl(&self) -> Duration {
        self.access_ttl.to_std().unwrap_or(DEFAULT_ACCESS_TTL)
    }

    /// Signs a new access token for `user`, valid from `now` for the access lifetime.
    pub fn issue(
        &self,
        user: Uuid,
        roles: &[Role],
        tenant: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<(String, Claims), TokenError> {
        let expires = now
            .checked_add_signed(self.access_ttl)
            .ok_or(TokenError::TtlOutOfRange(self.access_ttl()))?;
        let claims = Claims {
            sub: user,
            roles: roles.to_vec(),
            tenant,
            exp: expires.timestamp(),
            iat: now.timestamp(),
            jti: Uuid::new_v4(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(TokenError::Sign)?;
        Ok((token, claims))
    }

    /// Verifies a token's signature and expiry against the system clock.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        self.verify_at(token, Utc::now())
    }

    /// Verifies a token's signature, then its expiry against `now`.
    ///
    /// A token with a bad signature is [`TokenError::BadSignature`] even if it has
    /// also expired: nothing in an unauthenticated token is trusted.
    pub fn verify_at(&self, token: &str, now: DateTime<Utc>) -> Result<Claims, TokenError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature
                | ErrorKind::InvalidAlgorithm
                | ErrorKind::MissingAlgorithm => TokenError::BadSignature,
                ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Malformed(e),
            })?;
        if data.claims.exp <= now.timestamp() {
            return Err(TokenError::Expired);
        }
        Ok(data.claims)
    }
}

/// A freshly issued refresh token: the secret value for the client and its family.
///
/// Only [`RefreshToken::hash`] is stored; the value itself is shown to the client
/// once. `Debug` is redacted.
#[derive(Clone)]
pub struct RefreshToken {
    value: String,
    family_id: Uuid,
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshToken")
            .field("value", &"[redacted]")
            .field("family_id", &self.family_id)
            .finish()
    }
}

impl RefreshToken {
    /// The first token of a new family (at login).
    pub fn new_family() -> Result<Self, TokenError> {
        Self::in_family(Uuid::new_v4())
    }

    /// A new token in `family_id` (the storage layer knows the family of a presented token).
    pub fn in_family(family_id: Uuid) -> Result<Self, TokenError> {
        let bytes: [u8; REFRESH_TOKEN_BYTES] = super::os_random()?;
        Ok(Self {
            value: URL_SAFE_NO_PAD.encode(bytes),
            family_id,
        })
    }

    /// The successor of this token, in the same family.
    pub fn rotate(&self) -> Result<Self, TokenError> {
        Self::in_family(self.family_id)
    }

    /// The value to hand to the client (base64url, no padding, 43 characters).
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// The family this token belongs to; revoking the family revokes every token in it.
    pub fn family_id(&self) -> Uuid {
        self.family_id
    }

    /// The SHA-256 of the value, which is what storage keeps.
    pub fn hash(&self) -> [u8; 32] {
        refresh_token_hash(&self.value)
    }
}

/// The SHA-256 of a presented refresh token, to look it up in storage.
///
/// A plain hash (no salt, no slow KDF) is right here: the token is 256 random
/// bits, so there is nothing to brute-force, and a lookup must be an index probe.
pub fn refresh_token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn issuer() -> TokenIssuer {
        let key = SecretBytes::generate().expect("random key");
        TokenIssuer::with_default_ttl(&key).expect("issuer")
    }

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(secs, 0)
            .single()
            .expect("valid timestamp")
    }

    #[test]
    fn token_round_trip() {
        let issuer = issuer();
        let user = Uuid::new_v4();
        let tenant = Uuid::new_v4();
        let now = Utc::now();
        let (token, claims) = issuer
            .issue(user, &[Role::Operator], Some(tenant), now)
            .expect("issue");
        assert_eq!(claims.sub, user);
        assert_eq!(claims.roles, vec![Role::Operator]);
        assert_eq!(claims.tenant, Some(tenant));
        assert_eq!(claims.iat, now.timestamp());
        assert_eq!(claims.exp - claims.iat, 15 * 60);
        assert!(claims.has_role(Role::Operator) && !claims.has_role(Role::Admin));

        assert_eq!(issuer.verify(&token).expect("valid token"), claims);
    }

    #[test]
    fn claims_use_the_documented_wire_names() {
        let issuer = issuer();
        let (token, _) = issuer
            .issue(
                Uuid::new_v4(),
                &[Role::Driver, Role::Admin],
                None,
                Utc::now(),
            )
            .expect("issue");
        let payload = token.split('.').nth(1).expect("payload segment");
        let json: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url"))
                .expect("json");
        assert_eq!(json["roles"], serde_json::json!(["driver", "admin"]));
        assert_eq!(json["tenant"], serde_json::Value::Null);
        for claim in ["sub", "exp", "iat", "jti"] {
            assert!(json.get(claim).is_some(), "missing {claim}: {json}");
        }
    }

    #[test]
    fn every_token_has_a_fresh_jti() {
        let issuer = issuer();
        let now = Utc::now();
        let (_, a) = issuer.issue(Uuid::new_v4(), &[], None, now).expect("a");
        let (_, b) = issuer.issue(a.sub, &[], None, now).expect("b");
        assert_ne!(a.jti, b.jti);
    }

    #[test]
    fn expired_token_is_refused() {
        let issuer = issuer();
        let issued = Utc::now() - TimeDelta::hours(1);
        let (token, _) = issuer
            .issue(Uuid::new_v4(), &[Role::Driver], None, issued)
            .expect("issue");
        assert!(matches!(issuer.verify(&token), Err(TokenError::Expired)));
    }

    #[test]
    fn expiry_boundary_is_exclusive() {
        let issuer = issuer();
        let (token, claims) = issuer
            .issue(Uuid::new_v4(), &[Role::Driver], None, at(1_000_000))
            .expect("issue");
        assert!(issuer.verify_at(&token, at(claims.exp - 1)).is_ok());
        assert!(matches!(
            issuer.verify_at(&token, at(claims.exp)),
            Err(TokenError::Expired)
        ));
    }

    #[test]
    fn configured_ttl_is_used() {
        let key = SecretBytes::generate().expect("key");
        let issuer = TokenIssuer::new(&key, Duration::from_secs(60)).expect("issuer");
        assert_eq!(issuer.access_ttl(), Duration::from_secs(60));
        let (_, claims) = issuer
            .issue(Uuid::new_v4(), &[], None, at(1_000))
            .expect("issue");
        assert_eq!(claims.exp, 1_060);
        assert!(matches!(
            TokenIssuer::new(&key, Duration::ZERO),
            Err(TokenError::TtlOutOfRange(_))
        ));
    }

    #[test]
    fn tampered_signature_is_refused() {
        let issuer = issuer();
        let (token, _) = issuer
            .issue(Uuid::new_v4(), &[Role::Driver], None, Utc::now())
            .expect("issue");
        let (rest, signature) = token.rsplit_once('.').expect("three segments");
        let mut sig = URL_SAFE_NO_PAD.decode(signature).expect("base64url");
        sig[0] ^= 0x01;
        let tampered = format!("{rest}.{}", URL_SAFE_NO_PAD.encode(sig));
        assert!(matches!(
            issuer.verify(&tampered),
            Err(TokenError::BadSignature)
        ));
    }

    #[test]
    fn tampered_claims_are_refused() {
        let issuer = issuer();
        let (token, _) = issuer
            .issue(Uuid::new_v4(), &[Role::Driver], None, Utc::now())
            .expect("issue");
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(&parts[1]).expect("b64"))
            .expect("utf8")
            .replace("\"driver\"", "\"admin\"");
        parts[1] = URL_SAFE_NO_PAD.encode(payload);
        assert!(matches!(
            issuer.verify(&parts.join(".")),
            Err(TokenError::BadSignature)
        ));
    }

    #[test]
    fn token_from_another_key_is_refused() {
        let (token, _) = issuer()
            .issue(Uuid::new_v4(), &[Role::Admin], None, Utc::now())
            .expect("issue");
        assert!(matches!(
            issuer().verify(&token),
            Err(TokenError::BadSignature)
        ));
    }

    #[test]
    fn unsigned_token_is_refused() {
        let issuer = issuer();
        let (token, _) = issuer
            .issue(Uuid::new_v4(), &[Role::Admin], None, Utc::now())
            .expect("issue");
        let payload = token.split('.').nth(1).expect("payload");
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let result = issuer.verify(&format!("{header}.{payload}."));
        assert!(
            matches!(
                result,
                Err(TokenError::BadSignature | TokenError::Malformed(_))
            ),
            "{result:?}"
        );
    }

    #[test]
    fn same_key_with_another_algorithm_is_refused() {
        let key = SecretBytes::generate().expect("key");
        let issuer = TokenIssuer::with_default_ttl(&key).expect("issuer");
        let (_, claims) = issuer
            .issue(Uuid::new_v4(), &[Role::Admin], None, Utc::now())
            .expect("issue");
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims,
            &EncodingKey::from_secret(key.expose()),
        )
        .expect("sign HS512");
        assert!(matches!(
            issuer.verify(&hs512),
            Err(TokenError::BadSignature)
        ));
    }

    #[test]
    fn correctly_signed_token_without_our_claims_is_malformed() {
        let key = SecretBytes::generate().expect("key");
        let issuer = TokenIssuer::with_default_ttl(&key).expect("issuer");
        let exp = Utc::now().timestamp() + 60;
        let foreign = serde_json::json!({ "sub": Uuid::new_v4(), "exp": exp });
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &foreign,
            &EncodingKey::from_secret(key.expose()),
        )
        .expect("sign");
        assert!(matches!(
            issuer.verify(&token),
            Err(TokenError::Malformed(_))
        ));
    }

    #[test]
    fn garbage_is_malformed() {
        let issuer = issuer();
        for garbage in ["", "abc", "a.b.c", "Bearer x.y.z"] {
            assert!(
                matches!(issuer.verify(garbage), Err(TokenError::Malformed(_))),
                "{garbage:?}"
            );
        }
    }

    #[test]
    fn roles_parse_and_print_snake_case() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            assert_eq!(
                serde_json::to_string(&role).expect("serialize"),
                format!("\"{role}\"")
            );
        }
        assert_eq!("root".parse::<Role>(), Err(UnknownRole("root".into())));
        assert!(serde_json::from_str::<Role>("\"Admin\"").is_err());
    }

    #[test]
    fn refresh_hash_is_stable_and_is_sha256() {
        let token = RefreshToken::new_family().expect("token");
        assert_eq!(token.hash(), refresh_token_hash(token.expose()));
        assert_eq!(refresh_token_hash("abc"), refresh_token_hash("abc"));
        // SHA-256("abc") from FIPS 180-2.
        assert_eq!(
            crate::auth::to_hex(&refresh_token_hash("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn refresh_tokens_are_unique_256_bit_base64url() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            let token = RefreshToken::new_family().expect("token");
            let value = token.expose();
            assert_eq!(value.len(), 43, "{value}");
            assert_eq!(
                URL_SAFE_NO_PAD.decode(value).expect("base64url").len(),
                REFRESH_TOKEN_BYTES
            );
            assert!(seen.insert(value.to_owned()), "duplicate token");
        }
    }

    #[test]
    fn rotation_keeps_the_family_and_changes_the_value() {
        let first = RefreshToken::new_family().expect("token");
        let second = first.rotate().expect("rotate");
        assert_eq!(first.family_id(), second.family_id());
        assert_ne!(first.expose(), second.expose());
        assert_ne!(first.hash(), second.hash());
        assert_ne!(
            first.family_id(),
            RefreshToken::new_family().expect("other").family_id()
        );
    }

    #[test]
    fn debug_output_is_redacted() {
        let token = RefreshToken::new_family().expect("token");
        let debug = format!("{token:?}");
        assert!(!debug.contains(token.expose()), "{debug}");
        let debug = format!("{:?}", issuer());
        assert!(debug.contains("redacted"), "{debug}");
    }
}
