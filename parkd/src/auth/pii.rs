//! Encryption at rest for short personal values (phone numbers).
//!
//! AES-256-GCM with the 32-byte key from [`Secrets`](super::Secrets) and a fresh
//! random 96-bit nonce for every value, so equal phone numbers do not produce equal
//! ciphertexts. The stored form is standard base64 (with padding) of
//! `nonce (12 bytes) || ciphertext || tag (16 bytes)`. GCM authenticates the
//! value: a changed byte, a truncated value or the wrong key is an error, never
//! garbage plaintext.
//!
//! Random nonces are safe for far more values than parkd will ever encrypt under
//! one key (the usual bound is 2^32 encryptions).

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Nonce};
use aes_gcm::{Aes256Gcm, Key};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::secrets::{PII_KEY_LEN, SecretBytes};

/// Length of the random nonce prefixed to each stored value (96 bits).
const NONCE_LEN: usize = 12;
/// Length of the GCM authentication tag appended to the ciphertext.
const TAG_LEN: usize = 16;

/// Why a value could not be encrypted or decrypted.
#[derive(Debug, thiserror::Error)]
pub enum PiiError {
    /// The stored value is not valid base64.
    #[error("the encrypted value is not valid base64: {0}")]
    NotBase64(#[from] base64::DecodeError),
    /// The stored value is too short to hold a nonce and a tag.
    #[error("the encrypted value is {0} bytes, too short to be one")]
    TooShort(usize),
    /// Authentication failed: the value was altered or encrypted under another key.
    #[error("the encrypted value failed authentication (altered, or encrypted under another key)")]
    Decrypt,
    /// Encryption failed (the plaintext is beyond AES-GCM's length limit).
    #[error("encryption failed")]
    Encrypt,
    /// The decrypted bytes are not UTF-8 (cannot happen for values this type encrypted).
    #[error("the decrypted value is not UTF-8")]
    NotUtf8(#[from] std::string::FromUtf8Error),
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed: {0}")]
    Random(#[from] getrandom::Error),
}

/// Encrypts and decrypts short strings with AES-256-GCM. `Debug` is redacted.
#[derive(Clone)]
pub struct PiiCipher {
    cipher: Aes256Gcm,
}

impl fmt::Debug for PiiCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PiiCipher([redacted])")
    }
}

impl PiiCipher {
    /// A cipher using `key`.
    pub fn new(key: &SecretBytes<PII_KEY_LEN>) -> Self {
        let key = Key::<Aes256Gcm>::from(*key.expose());
        Self {
            cipher: Aes256Gcm::new(&key),
        }
    }

    /// Encrypts `plaintext` under a fresh random nonce, returning the stored form.
    ///
    /// Fails only if the operating system's random number generator does.
    pub fn encrypt(&self, plaintext: &str) -> Result<String, PiiError> {
        let nonce_bytes: [u8; NONCE_LEN] = super::os_random()?;
        let nonce = Nonce::<Aes256Gcm>::from(nonce_bytes);
        let ciphertext = self
            .cipher
            .encrypt(&nonce, plaintext.as_bytes())
            .map_err(|_| PiiError::Encrypt)?;
        let mut stored = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        stored.extend_from_slice(&nonce_bytes);
        stored.extend_from_slice(&ciphertext);
        Ok(STANDARD.encode(stored))
    }

    /// Decrypts a value produced by [`PiiCipher::encrypt`] under the same key.
    pub fn decrypt(&self, stored: &str) -> Result<String, PiiError> {
        let bytes = STANDARD.decode(stored)?;
        if bytes.len() < NONCE_LEN + TAG_LEN {
            return Err(PiiError::TooShort(bytes.len()));
        }
        let (nonce_bytes, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::<Aes256Gcm>::try_from(nonce_bytes)
            .map_err(|_| PiiError::TooShort(bytes.len()))?;
        let plaintext = self
            .cipher
            .decrypt(&nonce, ciphertext)
            .map_err(|_| PiiError::Decrypt)?;
        Ok(String::from_utf8(plaintext)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> PiiCipher {
        PiiCipher::new(&SecretBytes::generate().expect("random key"))
    }

    #[test]
    fn round_trip() {
        let cipher = cipher();
        for phone in ["+44 7700 900123", "", "+1 (555) 010-9999 ext. 42", "☎ 0123"] {
            let stored = cipher.encrypt(phone).expect("encrypt");
            assert!(!stored.contains(phone) || phone.is_empty());
            assert_eq!(cipher.decrypt(&stored).expect("decrypt"), phone);
        }
    }

    #[test]
    fn stored_form_is_nonce_then_ciphertext_and_tag() {
        let cipher = cipher();
        let phone = "+44 7700 900123";
        let stored = STANDARD
            .decode(cipher.encrypt(phone).expect("encrypt"))
            .expect("base64");
        assert_eq!(stored.len(), NONCE_LEN + phone.len() + TAG_LEN);
    }

    #[test]
    fn nonce_differs_per_encryption() {
        let cipher = cipher();
        let a = cipher.encrypt("+44 7700 900123").expect("a");
        let b = cipher.encrypt("+44 7700 900123").expect("b");
        assert_ne!(a, b);
        let nonce = |s: &str| STANDARD.decode(s).expect("base64")[..NONCE_LEN].to_vec();
        assert_ne!(nonce(&a), nonce(&b));
    }

    #[test]
    fn tampering_is_detected() {
        let cipher = cipher();
        let stored = STANDARD
            .decode(cipher.encrypt("+44 7700 900123").expect("encrypt"))
            .expect("base64");
        // Flip one bit in each position: nonce, ciphertext and tag alike.
        for i in 0..stored.len() {
            let mut tampered = stored.clone();
            tampered[i] ^= 0x01;
            assert!(
                matches!(
                    cipher.decrypt(&STANDARD.encode(&tampered)),
                    Err(PiiError::Decrypt)
                ),
                "byte {i}"
            );
        }
        let truncated = STANDARD.encode(&stored[..stored.len() - 1]);
        assert!(matches!(cipher.decrypt(&truncated), Err(PiiError::Decrypt)));
    }

    #[test]
    fn wrong_key_fails() {
        let stored = cipher().encrypt("+44 7700 900123").expect("encrypt");
        assert!(matches!(cipher().decrypt(&stored), Err(PiiError::Decrypt)));
    }

    #[test]
    fn malformed_stored_values_are_errors() {
        let cipher = cipher();
        assert!(matches!(
            cipher.decrypt("not base64!"),
            Err(PiiError::NotBase64(_))
        ));
        assert!(matches!(
            cipher.decrypt(&STANDARD.encode([0u8; 27])),
            Err(PiiError::TooShort(27))
        ));
    }

    #[test]
    fn debug_output_is_redacted() {
        assert_eq!(format!("{:?}", cipher()), "PiiCipher([redacted])");
    }
}
