//! The daemon's long-lived keys, kept in the data directory.
//!
//! parkd has no default secret: on first start [`Secrets::load_or_create`]
//! draws the JWT signing key ([`JWT_KEY_FILE`], 64 bytes) and the PII encryption
//! key ([`PII_KEY_FILE`], 32 bytes) from the operating system's random number
//! generator and writes them as raw bytes with mode 0600. Later starts read them
//! back and refuse a file of the wrong length or one that group or other users may
//! access, naming the path and the fix.
//!
//! A new key file is written to a private temporary file, synced, then hard-linked
//! into place: the link fails if the name already exists, so two processes
//! starting at once cannot overwrite each other's key, and no reader ever sees a
//! half-written or world-readable key file.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// File name of the JWT signing key inside the data directory.
pub const JWT_KEY_FILE: &str = "jwt.key";
/// File name of the PII encryption key inside the data directory.
pub const PII_KEY_FILE: &str = "pii.key";
/// Length of the JWT (HS256) signing key in bytes.
pub const JWT_KEY_LEN: usize = 64;
/// Length of the PII (AES-256-GCM) key in bytes.
pub const PII_KEY_LEN: usize = 32;

/// Permission bits a key file must not have: any access by group or other.
const GROUP_OTHER_BITS: u32 = 0o077;

/// Secret key material of a fixed length whose `Debug` output is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretBytes<const N: usize>([u8; N]);

impl<const N: usize> SecretBytes<N> {
    /// Wraps key material.
    pub fn new(bytes: [u8; N]) -> Self {
        Self(bytes)
    }

    /// Draws a fresh key from the operating system's random number generator.
    pub fn generate() -> Result<Self, getrandom::Error> {
        super::os_random().map(Self)
    }

    /// The key bytes; keep them out of logs and error messages.
    pub fn expose(&self) -> &[u8; N] {
        &self.0
    }
}

impl<const N: usize> fmt::Debug for SecretBytes<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes<{N}>([redacted])")
    }
}

/// Why the keys in the data directory could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// The data directory does not exist and could not be created.
    #[error("cannot create the data directory {path}: {source}")]
    CreateDir {
        /// The data directory.
        path: PathBuf,
        /// The underlying I/O error.
        source: io::Error,
    },
    /// An existing key file could not be opened or read.
    #[error("cannot read the key file {path}: {source}")]
    Read {
        /// The key file.
        path: PathBuf,
        /// The underlying I/O error.
        source: io::Error,
    },
    /// A new key file could not be written.
    #[error("cannot write the key file {path}: {source}")]
    Write {
        /// The file being written.
        path: PathBuf,
        /// The underlying I/O error.
        source: io::Error,
    },
    /// A key file holds the wrong number of bytes.
    #[error(
        "the key file {path} holds {actual} bytes, expected {expected}: it is damaged or not a \
         parkd key; restore it from a backup, or delete it to have parkd generate a new one \
         ({consequence})"
    )]
    WrongLength {
        /// The key file.
        path: PathBuf,
        /// The length the key must have.
        expected: usize,
        /// The length found (counting at most one byte past `expected`).
        actual: usize,
        /// What deleting the file costs.
        consequence: &'static str,
    },
    /// A key file may be accessed by users other than its owner.
    #[error(
        "the key file {path} has mode {mode:03o}, which lets group or other users access it; \
         run `chmod 600 {path}` (and consider the key exposed if others could read it)"
    )]
    InsecurePermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed: {0}")]
    Random(#[from] getrandom::Error),
}

/// The keys parkd keeps in its data directory. `Debug` is redacted.
#[derive(Clone, Debug)]
pub struct Secrets {
    jwt_signing_key: SecretBytes<JWT_KEY_LEN>,
    pii_key: SecretBytes<PII_KEY_LEN>,
}

impl Secrets {
    /// Loads the keys from `data_dir`, generating and saving any that are missing.
    ///
    /// Creates `data_dir` (mode 0700) if it does not exist. Refuses a key file
    /// with the wrong length or with any group/other permission bit set.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, SecretsError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(data_dir)
            .map_err(|source| SecretsError::CreateDir {
                path: data_dir.to_path_buf(),
                source,
            })?;
        Ok(Self {
            jwt_signing_key: load_or_create_key(
                data_dir,
                JWT_KEY_FILE,
                "every issued access token stops working and every user must log in again",
            )?,
            pii_key: load_or_create_key(
                data_dir,
                PII_KEY_FILE,
                "every encrypted phone number already stored becomes unreadable",
            )?,
        })
    }

    /// Builds secrets from key material held elsewhere (tests, a secret manager).
    pub fn from_keys(
        jwt_signing_key: SecretBytes<JWT_KEY_LEN>,
        pii_key: SecretBytes<PII_KEY_LEN>,
    ) -> Self {
        Self {
            jwt_signing_key,
            pii_key,
        }
    }

    /// Generates fresh in-memory secrets that are never written anywhere (tests).
    pub fn generate() -> Result<Self, SecretsError> {
        Ok(Self::from_keys(
            SecretBytes::generate()?,
            SecretBytes::generate()?,
        ))
    }

    /// The HS256 key that signs and verifies access tokens.
    pub fn jwt_signing_key(&self) -> &SecretBytes<JWT_KEY_LEN> {
        &self.jwt_signing_key
    }

    /// The AES-256-GCM key that encrypts personal data at rest.
    pub fn pii_key(&self) -> &SecretBytes<PII_KEY_LEN> {
        &self.pii_key
    }
}

/// Reads `data_dir/name`, or creates it with a fresh random key if it does not exist.
fn load_or_create_key<const N: usize>(
    data_dir: &Path,
    name: &str,
    consequence: &'static str,
) -> Result<SecretBytes<N>, SecretsError> {
    let path = data_dir.join(name);
    match read_key(&path, consequence) {
        Err(SecretsError::Read { source, .. }) if source.kind() == io::ErrorKind::NotFound => {}
        other => return other,
    }
    let key = SecretBytes::<N>::generate()?;
    if create_key_file(data_dir, name, key.expose())? {
        Ok(key)
    } else {
        // Another process created the file between our read and our link: use its key.
        read_key(&path, consequence)
    }
}

/// Reads a key file, checking its permissions on the open handle and its exact length.
fn read_key<const N: usize>(
    path: &Path,
    consequence: &'static str,
) -> Result<SecretBytes<N>, SecretsError> {
    let read_err = |source| SecretsError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(read_err)?;
    let mode = file.metadata().map_err(read_err)?.permissions().mode() & 0o777;
    if mode & GROUP_OTHER_BITS != 0 {
        return Err(SecretsError::InsecurePermissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    // Read one byte more than needed so an over-long file is noticed without
    // reading an arbitrarily large one.
    let mut bytes = Vec::with_capacity(N + 1);
    let limit = u64::try_from(N + 1).unwrap_or(u64::MAX);
    file.take(limit).read_to_end(&mut bytes).map_err(read_err)?;
    let key = <[u8; N]>::try_from(bytes.as_slice()).map_err(|_| SecretsError::WrongLength {
        path: path.to_path_buf(),
        expected: N,
        actual: bytes.len(),
        consequence,
    })?;
    Ok(SecretBytes::new(key))
}

/// Writes `key` to `data_dir/name` atomically with mode 0600.
///
/// Returns `false` when the file already exists (another process won the race).
fn create_key_file(data_dir: &Path, name: &str, key: &[u8]) -> Result<bool, SecretsError> {
    let path = data_dir.join(name);
    let suffix: [u8; 8] = super::os_random()?;
    let tmp = data_dir.join(format!(".{name}.{}.tmp", super::to_hex(&suffix)));
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SecretsError::Write { path, source }
    };

    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(write_err(&tmp))?;
    let written = file.write_all(key).and_then(|()| file.sync_all());
    drop(file);
    if let Err(source) = written {
        let _ = fs::remove_file(&tmp);
        return Err(write_err(&tmp)(source));
    }

    let linked = fs::hard_link(&tmp, &path);
    // The temporary name is no longer needed whether or not the link succeeded.
    let removed = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(false),
        Err(source) => return Err(write_err(&path)(source)),
    }
    removed.map_err(write_err(&tmp))?;
    // Make the new directory entry durable before the key is used for anything.
    File::open(data_dir)
        .and_then(|dir| dir.sync_all())
        .map_err(write_err(data_dir))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path)
            .expect("key file exists")
            .permissions()
            .mode()
            & 0o777
    }

    #[test]
    fn first_start_creates_key_files_with_mode_0600() {
        let dir = tempfile::tempdir().expect("temp dir");
        let secrets = Secrets::load_or_create(dir.path()).expect("keys created");

        for name in [JWT_KEY_FILE, PII_KEY_FILE] {
            assert_eq!(mode_of(&dir.path().join(name)), 0o600, "{name}");
        }
        assert_eq!(
            fs::read(dir.path().join(JWT_KEY_FILE)).expect("jwt key"),
            secrets.jwt_signing_key().expose()
        );
        assert_eq!(
            fs::read(dir.path().join(PII_KEY_FILE)).expect("pii key"),
            secrets.pii_key().expose()
        );
        // No temporary files are left behind.
        let names: Vec<_> = fs::read_dir(dir.path())
            .expect("list dir")
            .map(|e| e.expect("dir entry").file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn missing_data_dir_is_created_private() {
        let dir = tempfile::tempdir().expect("temp dir");
        let data_dir = dir.path().join("nested").join("parkd-data");
        Secrets::load_or_create(&data_dir).expect("keys created");
        assert_eq!(mode_of(&data_dir), 0o700);
    }

    #[test]
    fn second_load_returns_the_same_keys() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = Secrets::load_or_create(dir.path()).expect("first start");
        let second = Secrets::load_or_create(dir.path()).expect("second start");
        assert_eq!(first.jwt_signing_key(), second.jwt_signing_key());
        assert_eq!(first.pii_key(), second.pii_key());
    }

    #[test]
    fn fresh_keys_differ_between_data_dirs() {
        let a = tempfile::tempdir().expect("temp dir");
        let b = tempfile::tempdir().expect("temp dir");
        let a = Secrets::load_or_create(a.path()).expect("keys a");
        let b = Secrets::load_or_create(b.path()).expect("keys b");
        assert_ne!(a.jwt_signing_key(), b.jwt_signing_key());
        assert_ne!(a.pii_key(), b.pii_key());
        assert_ne!(
            a.jwt_signing_key().expose()[..PII_KEY_LEN],
            a.pii_key().expose()[..]
        );
    }

    #[test]
    fn world_readable_key_file_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        Secrets::load_or_create(dir.path()).expect("first start");
        let path = dir.path().join(JWT_KEY_FILE);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");

        let err = Secrets::load_or_create(dir.path()).expect_err("0644 must be refused");
        match &err {
            SecretsError::InsecurePermissions { path: p, mode } => {
                assert_eq!(p, &path);
                assert_eq!(*mode, 0o644);
            }
            other => panic!("unexpected error: {other:?}"),
        }
        let message = err.to_string();
        assert!(message.contains("chmod 600"), "{message}");
        assert!(message.contains(JWT_KEY_FILE), "{message}");
    }

    #[test]
    fn group_readable_key_file_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        Secrets::load_or_create(dir.path()).expect("first start");
        let path = dir.path().join(PII_KEY_FILE);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).expect("chmod");
        assert!(matches!(
            Secrets::load_or_create(dir.path()),
            Err(SecretsError::InsecurePermissions { mode: 0o640, .. })
        ));
    }

    #[test]
    fn short_key_file_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(PII_KEY_FILE);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .expect("create short key");
        file.write_all(&[7u8; 16]).expect("write short key");
        drop(file);

        let err = Secrets::load_or_create(dir.path()).expect_err("short key must be refused");
        match &err {
            SecretsError::WrongLength {
                path: p,
                expected,
                actual,
                ..
            } => {
                assert_eq!(p, &path);
                assert_eq!((*expected, *actual), (PII_KEY_LEN, 16));
            }
            other => panic!("unexpected error: {other:?}"),
        }
        let message = err.to_string();
        assert!(message.contains("delete it"), "{message}");
    }

    #[test]
    fn long_key_file_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        Secrets::load_or_create(dir.path()).expect("first start");
        let path = dir.path().join(JWT_KEY_FILE);
        let mut file = OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("open key");
        file.write_all(b"\n").expect("append newline");
        drop(file);
        assert!(matches!(
            Secrets::load_or_create(dir.path()),
            Err(SecretsError::WrongLength {
                expected: JWT_KEY_LEN,
                actual: 65,
                ..
            })
        ));
    }

    #[test]
    fn debug_output_is_redacted() {
        let secrets = Secrets::from_keys(
            SecretBytes::new([0xab; JWT_KEY_LEN]),
            SecretBytes::new([0xcd; PII_KEY_LEN]),
        );
        let debug = format!("{secrets:?}");
        assert!(debug.contains("redacted"), "{debug}");
        assert!(!debug.contains("171"), "{debug}"); // 0xab as decimal
        assert!(!debug.to_lowercase().contains("ab, "), "{debug}");
    }
}
