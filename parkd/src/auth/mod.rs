//! Security primitives for parkd, free of HTTP and storage concerns.
//!
//! - [`password`]: argon2id password hashing on tokio's blocking pool, bounded by a
//!   semaphore, plus the password policy ([`Password`]).
//! - [`tokens`]: short-lived JWT access tokens ([`TokenIssuer`]) and opaque
//!   rotating refresh tokens ([`RefreshToken`]), and the [`Role`]s they carry.
//! - [`pii`]: AES-256-GCM encryption of short personal values such as phone
//!   numbers ([`PiiCipher`]).
//! - [`secrets`]: the JWT signing key and the PII key, generated on first start and
//!   kept in the data directory with 0600 permissions ([`Secrets`]).
//!
//! Every secret in memory sits in a type whose `Debug` output is redacted, so a
//! stray `{:?}` or `#[instrument]` cannot leak it into the logs.

pub mod password;
pub mod pii;
pub mod secrets;
pub mod tokens;

pub use password::{Password, PasswordError, PasswordHasher, PasswordPolicyError};
pub use pii::{PiiCipher, PiiError};
pub use secrets::{SecretBytes, Secrets, SecretsError};
pub use tokens::{Claims, RefreshToken, Role, TokenError, TokenIssuer, refresh_token_hash};

/// Fills an array from the operating system's random number generator.
fn os_random<const N: usize>() -> Result<[u8; N], getrandom::Error> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)?;
    Ok(bytes)
}

/// Lower-case hexadecimal encoding.
fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}
