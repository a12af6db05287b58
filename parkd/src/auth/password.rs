//! Password policy and argon2id hashing.
//!
//! [`Password`] enforces the policy (at least [`MIN_PASSWORD_CHARS`] characters, at
//! most [`MAX_PASSWORD_BYTES`] bytes) and keeps the value out of `Debug` output.
//!
//! [`PasswordHasher`] hashes with argon2id using OWASP's parameters (19 MiB, two
//! passes, one lane) into PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$…`). Each
//! hash takes tens of milliseconds of CPU and 19 MiB of memory, so it runs on
//! tokio's blocking pool, never on an async worker, and a semaphore bounds how many
//! run at once (default: the number of CPUs): a login storm then queues instead
//! of exhausting memory or starving every other request.
//!
//! An unknown email must cost as much as a wrong password, or response times
//! reveal which emails have accounts: [`PasswordHasher::verify_dummy`] runs a
//! full verification against a fixed hash made with the same parameters.

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Arc;
#[cfg(test)]
use std::sync::atomic::{AtomicUsize, Ordering};

use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as PHC_B64;
use tokio::sync::Semaphore;

/// The shortest password accepted, in characters (Unicode scalar values).
pub const MIN_PASSWORD_CHARS: usize = 10;
/// The longest password accepted, in bytes of UTF-8.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// OWASP's argon2id recommendation: memory in KiB (19 MiB).
pub const OWASP_M_COST_KIB: u32 = 19 * 1024;
/// OWASP's argon2id recommendation: passes over memory.
pub const OWASP_T_COST: u32 = 2;
/// OWASP's argon2id recommendation: lanes.
pub const OWASP_P_COST: u32 = 1;

/// A hash of 32 random bytes (since discarded) made once with the OWASP parameters,
/// for [`PasswordHasher::verify_dummy`]. Nothing typed at a login form verifies
/// against it; it only has to cost the same as a real verification.
const DUMMY_PHC_OWASP: &str = "$argon2id$v=19$m=19456,t=2,p=1$Rjqy9eLrmSbQG8qJR7QkeA$1YesD/h/9kQxYKZP/zbg4hF246E1qkEjzVAOc+5WDxg";

/// A password that satisfies the policy. `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Checks `password` against the policy.
    pub fn new(password: String) -> Result<Self, PasswordPolicyError> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(PasswordPolicyError::TooLong {
                max_bytes: MAX_PASSWORD_BYTES,
            });
        }
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(PasswordPolicyError::TooShort {
                min_chars: MIN_PASSWORD_CHARS,
            });
        }
        Ok(Self(password))
    }

    /// The password itself; keep it out of logs and error messages.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

impl TryFrom<String> for Password {
    type Error = PasswordPolicyError;

    fn try_from(password: String) -> Result<Self, Self::Error> {
        Self::new(password)
    }
}

/// A password the policy refuses (a 422 with a field error at the API).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordPolicyError {
    /// Fewer than the minimum number of characters.
    #[error("the password must be at least {min_chars} characters long")]
    TooShort {
        /// The minimum, in characters.
        min_chars: usize,
    },
    /// More than the maximum number of bytes.
    #[error("the password must be at most {max_bytes} bytes long")]
    TooLong {
        /// The maximum, in bytes.
        max_bytes: usize,
    },
}

/// Why hashing or verification failed (an internal error, not a wrong password).
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The stored hash is not an argon2id PHC string.
    #[error("the stored password hash is malformed: {0}")]
    MalformedHash(&'static str),
    /// argon2 failed (bad input lengths, out of memory).
    #[error("password hashing failed: {0}")]
    Hash(#[source] argon2::Error),
    /// No randomness for a salt.
    #[error("no randomness for a salt: {0}")]
    Random(#[source] getrandom::Error),
    /// The argon2 parameters are invalid.
    #[error("invalid argon2 parameters: {0}")]
    Params(#[source] argon2::Error),
    /// The blocking task running argon2 panicked or was cancelled.
    #[error("the password hashing task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The hasher's semaphore was closed (the daemon is shutting down).
    #[error("the password hasher is shut down")]
    Closed(#[from] tokio::sync::AcquireError),
}

/// The argon2id cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashCost {
    /// Memory in KiB.
    pub m_cost_kib: u32,
    /// Passes over memory.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl HashCost {
    /// OWASP's recommendation: 19 MiB, 2 passes, 1 lane.
    pub const OWASP: HashCost = HashCost {
        m_cost_kib: OWASP_M_COST_KIB,
        t_cost: OWASP_T_COST,
        p_cost: OWASP_P_COST,
    };
}

impl Default for HashCost {
    fn default() -> Self {
        Self::OWASP
    }
}

/// Hashes and verifies passwords on the blocking pool, a bounded number at a time.
///
/// Cheap to clone; clones share the bound.
#[derive(Clone, Debug)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    params: Params,
    permits: Arc<Semaphore>,
    max_concurrent: usize,
    /// The dummy hash made with `params`, for `verify_dummy`.
    dummy_phc: String,
    #[cfg(test)]
    running: AtomicUsize,
    #[cfg(test)]
    peak: AtomicUsize,
}

impl PasswordHasher {
    /// A hasher with the OWASP parameters, running at most `max_concurrent` hashes
    /// at once.
    pub fn new(max_concurrent: NonZeroUsize) -> Self {
        // The OWASP parameters are valid, so this cannot fail; fall back to argon2's
        // default (which is the same OWASP set) rather than panic.
        Self::with_cost(HashCost::OWASP, max_concurrent).unwrap_or_else(|_| Self {
            inner: Arc::new(Inner::new(Params::DEFAULT, max_concurrent, None)),
        })
    }

    /// A hasher with custom cost parameters (tests and benchmarks use cheap ones).
    ///
    /// With parameters other than OWASP's, the dummy hash for
    /// [`verify_dummy`](Self::verify_dummy) is computed here, synchronously.
    pub fn with_cost(cost: HashCost, max_concurrent: NonZeroUsize) -> Result<Self, PasswordError> {
        let params = Params::new(cost.m_cost_kib, cost.t_cost, cost.p_cost, None)
            .map_err(PasswordError::Params)?;
        let dummy = if cost == HashCost::OWASP {
            None
        } else {
            Some(hash_phc(
                &params,
                b"parkd dummy password",
                b"parkd-dummy-salt",
            )?)
        };
        Ok(Self {
            inner: Arc::new(Inner::new(params, max_concurrent, dummy)),
        })
    }

    /// How many hashes may run at once.
    pub fn max_concurrent(&self) -> usize {
        self.inner.max_concurrent
    }

    /// How many more hashes could start right now without waiting.
    pub fn available_permits(&self) -> usize {
        self.inner.permits.available_permits()
    }

    /// Hashes `password` with a random salt into a PHC string.
    pub async fn hash(&self, password: &Password) -> Result<String, PasswordError> {
        let password = password.expose().to_owned();
        self.run(move |inner| {
            let mut salt = [0u8; 16];
            getrandom::fill(&mut salt).map_err(PasswordError::Random)?;
            hash_phc(&inner.params, password.as_bytes(), &salt)
        })
        .await
    }

    /// Checks `password` against a stored PHC string.
    ///
    /// Takes any string, not a [`Password`]: a login attempt with a password the
    /// policy would refuse is simply wrong. One over [`MAX_PASSWORD_BYTES`] is
    /// refused without hashing, which does not depend on the account and so reveals
    /// nothing about it.
    pub async fn verify(&self, password: &str, phc: &str) -> Result<bool, PasswordError> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Ok(false);
        }
        let password = password.to_owned();
        let phc = phc.to_owned();
        self.run(move |_| verify_blocking(&password, &phc)).await
    }

    /// Spends the time of one verification against a fixed hash, for a login with
    /// an unknown email, so that it takes as long as a wrong password.
    pub async fn verify_dummy(&self, password: &str) -> Result<(), PasswordError> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Ok(());
        }
        let password = password.to_owned();
        self.run(move |inner| verify_blocking(&password, &inner.dummy_phc).map(|_| ()))
            .await
    }

    /// Runs `work` on the blocking pool once a permit is free.
    ///
    /// The permit moves into the blocking task, so it is held until argon2 is
    /// done even if the caller stops waiting (a client hanging up mid-login).
    async fn run<T, F>(&self, work: F) -> Result<T, PasswordError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T, PasswordError> + Send + 'static,
    {
        let permit = Arc::clone(&self.inner.permits).acquire_owned().await?;
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            #[cfg(test)]
            let _running = inner.enter();
            work(&inner)
        })
        .await?
    }
}

impl Default for PasswordHasher {
    /// OWASP parameters, as many concurrent hashes as the machine has CPUs.
    fn default() -> Self {
        let cpus = std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN);
        Self::new(cpus)
    }
}

impl Inner {
    fn new(params: Params, max_concurrent: NonZeroUsize, dummy_phc: Option<String>) -> Self {
        Self {
            params,
            permits: Arc::new(Semaphore::new(max_concurrent.get())),
            max_concurrent: max_concurrent.get(),
            dummy_phc: dummy_phc.unwrap_or_else(|| DUMMY_PHC_OWASP.to_owned()),
            #[cfg(test)]
            running: AtomicUsize::new(0),
            #[cfg(test)]
            peak: AtomicUsize::new(0),
        }
    }

    /// Counts a running hash and records the peak; the guard uncounts it.
    #[cfg(test)]
    fn enter(&self) -> RunningGuard<'_> {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        RunningGuard(&self.running)
    }
}

#[cfg(test)]
struct RunningGuard<'a>(&'a AtomicUsize);

#[cfg(test)]
impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn argon2(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

/// argon2's working memory for one run.
///
/// Reserved at no less than 32 MiB, glibc's ceiling for its dynamic mmap
/// threshold on 64-bit: such allocations are always served by `mmap` and handed
/// back to the OS when freed. A 19 MiB buffer would instead be carved from a
/// per-thread malloc arena once the threshold has risen, and kept there — under a
/// 64-connection login storm parkd grew to 2.8 GB resident that way (measured with
/// `parkd/bench/run.sh`). Only the pages argon2 touches count toward residency.
fn working_memory(blocks: usize) -> Vec<Block> {
    const ALWAYS_MMAPPED_BYTES: usize = 32 * 1024 * 1024 + 64 * 1024;
    let mut memory = Vec::with_capacity(blocks.max(ALWAYS_MMAPPED_BYTES / Block::SIZE));
    memory.resize(blocks, Block::default());
    memory
}

/// argon2id of `password` with `salt` into `out`, in memory of our own.
fn derive(
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), PasswordError> {
    let memory = working_memory(params.block_count());
    argon2(params)
        .hash_password_into_with_memory(password, salt, out, memory)
        .map_err(PasswordError::Hash)
}

/// A PHC string `$argon2id$v=19$m=…,t=…,p=…$salt$hash` (unpadded standard base64).
fn hash_phc(params: &Params, password: &[u8], salt: &[u8]) -> Result<String, PasswordError> {
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    derive(params, password, salt, &mut out)?;
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        PHC_B64.encode(salt),
        PHC_B64.encode(out)
    ))
}

/// The parameters, salt and hash of an argon2id PHC string.
fn parse_phc(phc: &str) -> Result<(Params, Vec<u8>, Vec<u8>), PasswordError> {
    let mut parts = phc.split('$');
    let malformed = PasswordError::MalformedHash;
    if parts.next() != Some("") || parts.next() != Some("argon2id") || parts.next() != Some("v=19")
    {
        return Err(malformed("not an argon2id v19 PHC string"));
    }
    let (mut m, mut t, mut p) = (None, None, None);
    for pair in parts
        .next()
        .ok_or(malformed("missing parameters"))?
        .split(',')
    {
        let (key, value) = pair.split_once('=').ok_or(malformed("bad parameter"))?;
        let value: u32 = value
            .parse()
            .map_err(|_| malformed("bad parameter value"))?;
        match key {
            "m" => m = Some(value),
            "t" => t = Some(value),
            "p" => p = Some(value),
            _ => return Err(malformed("unknown parameter")),
        }
    }
    let salt = PHC_B64
        .decode(parts.next().ok_or(malformed("missing salt"))?)
        .map_err(|_| malformed("bad salt encoding"))?;
    let hash = PHC_B64
        .decode(parts.next().ok_or(malformed("missing hash"))?)
        .map_err(|_| malformed("bad hash encoding"))?;
    if parts.next().is_some() {
        return Err(malformed("trailing fields"));
    }
    let (Some(m), Some(t), Some(p)) = (m, t, p) else {
        return Err(malformed("missing m, t or p"));
    };
    let params = Params::new(m, t, p, Some(hash.len())).map_err(PasswordError::Params)?;
    Ok((params, salt, hash))
}

/// Checks `password` against a PHC string, comparing in constant time.
fn verify_blocking(password: &str, phc: &str) -> Result<bool, PasswordError> {
    let (params, salt, expected) = parse_phc(phc)?;
    let mut actual = vec![0u8; expected.len()];
    derive(&params, password.as_bytes(), &salt, &mut actual)?;
    let difference = actual
        .iter()
        .zip(&expected)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    Ok(difference == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cheap parameters so the tests do not spend seconds in unoptimised argon2.
    const CHEAP: HashCost = HashCost {
        m_cost_kib: 64,
        t_cost: 1,
        p_cost: 1,
    };

    fn nz(n: usize) -> NonZeroUsize {
        NonZeroUsize::new(n).expect("non-zero")
    }

    fn password(s: &str) -> Password {
        Password::new(s.to_owned()).expect("valid password")
    }

    #[tokio::test]
    async fn owasp_hash_and_verify_round_trip() {
        let hasher = PasswordHasher::new(nz(2));
        let phc = hasher
            .hash(&password("correct horse battery"))
            .await
            .expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(
            hasher
                .verify("correct horse battery", &phc)
                .await
                .expect("verify")
        );
        assert!(
            !hasher
                .verify("correct horse batterx", &phc)
                .await
                .expect("verify")
        );
    }

    #[tokio::test]
    async fn same_password_gets_a_fresh_salt() {
        let hasher = PasswordHasher::with_cost(CHEAP, nz(2)).expect("hasher");
        let a = hasher.hash(&password("0123456789")).await.expect("a");
        let b = hasher.hash(&password("0123456789")).await.expect("b");
        assert_ne!(a, b);
        assert!(hasher.verify("0123456789", &a).await.expect("verify a"));
        assert!(hasher.verify("0123456789", &b).await.expect("verify b"));
    }

    #[tokio::test]
    async fn wrong_and_oversized_passwords_do_not_verify() {
        let hasher = PasswordHasher::with_cost(CHEAP, nz(2)).expect("hasher");
        let phc = hasher.hash(&password("0123456789")).await.expect("hash");
        assert!(!hasher.verify("0123456788", &phc).await.expect("verify"));
        assert!(!hasher.verify("", &phc).await.expect("verify"));
        let huge = "x".repeat(MAX_PASSWORD_BYTES + 1);
        assert!(!hasher.verify(&huge, &phc).await.expect("verify"));
    }

    #[tokio::test]
    async fn malformed_hash_is_an_error_not_a_mismatch() {
        let hasher = PasswordHasher::with_cost(CHEAP, nz(1)).expect("hasher");
        assert!(matches!(
            hasher.verify("0123456789", "not a phc string").await,
            Err(PasswordError::MalformedHash(_))
        ));
    }

    #[tokio::test]
    async fn dummy_verification_runs() {
        let hasher = PasswordHasher::new(nz(1));
        hasher
            .verify_dummy("whatever-password")
            .await
            .expect("dummy");
        let cheap = PasswordHasher::with_cost(CHEAP, nz(1)).expect("hasher");
        cheap
            .verify_dummy("whatever-password")
            .await
            .expect("dummy");
    }

    #[test]
    fn dummy_hash_uses_the_owasp_parameters() {
        let (params, salt, hash) = parse_phc(DUMMY_PHC_OWASP).expect("valid PHC string");
        assert_eq!(
            (params.m_cost(), params.t_cost(), params.p_cost()),
            (OWASP_M_COST_KIB, OWASP_T_COST, OWASP_P_COST)
        );
        assert_eq!((salt.len(), hash.len()), (16, 32));
    }

    #[test]
    fn our_phc_strings_match_the_reference_implementation() {
        // The same password, salt and parameters through argon2's own PHC path
        // and through ours (which only supplies its own working memory).
        use argon2::password_hash::PasswordHasher as _;
        let params = Params::new(64, 1, 1, None).expect("params");
        let reference = argon2(&params)
            .hash_password_with_salt(b"correct horse", b"0123456789abcdef")
            .expect("reference hash")
            .to_string();
        let ours = hash_phc(&params, b"correct horse", b"0123456789abcdef").expect("our hash");
        assert_eq!(ours, reference);
        assert!(verify_blocking("correct horse", &reference).expect("verifies"));
        assert!(!verify_blocking("correct horsE", &reference).expect("verifies"));
        assert!(matches!(
            verify_blocking("x", "$argon2id$v=19$m=64,t=1,p=1$bad$"),
            Err(PasswordError::MalformedHash(_))
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn semaphore_serialises_hashes_with_a_bound_of_one() {
        let hasher = PasswordHasher::with_cost(CHEAP, nz(1)).expect("hasher");
        assert_eq!(hasher.available_permits(), 1);
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let hasher = hasher.clone();
                tokio::spawn(
                    async move { hasher.hash(&password(&format!("password-{i:04}"))).await },
                )
            })
            .collect();
        for task in tasks {
            task.await.expect("join").expect("hash");
        }
        assert_eq!(hasher.inner.peak.load(Ordering::SeqCst), 1);
        assert_eq!(hasher.inner.running.load(Ordering::SeqCst), 0);
        assert_eq!(hasher.available_permits(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn semaphore_bounds_concurrency_at_the_configured_limit() {
        let hasher = PasswordHasher::with_cost(CHEAP, nz(3)).expect("hasher");
        let tasks: Vec<_> = (0..24)
            .map(|i| {
                let hasher = hasher.clone();
                tokio::spawn(async move { hasher.verify_dummy(&format!("password-{i:04}")).await })
            })
            .collect();
        for task in tasks {
            task.await.expect("join").expect("verify");
        }
        let peak = hasher.inner.peak.load(Ordering::SeqCst);
        assert!((1..=3).contains(&peak), "peak {peak}");
        assert_eq!(hasher.available_permits(), 3);
    }

    #[tokio::test]
    async fn a_held_permit_makes_callers_wait() {
        let hasher = PasswordHasher::with_cost(CHEAP, nz(1)).expect("hasher");
        // Take the only permit, as a running hash would.
        let permit = Arc::clone(&hasher.inner.permits)
            .acquire_owned()
            .await
            .expect("permit");
        assert_eq!(hasher.available_permits(), 0);
        let waiting = tokio::spawn({
            let hasher = hasher.clone();
            async move { hasher.hash(&password("0123456789")).await }
        });
        // Let the spawned task run until it blocks on the semaphore.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(!waiting.is_finished());
        drop(permit);
        waiting.await.expect("join").expect("hash");
        assert_eq!(hasher.available_permits(), 1);
    }

    #[test]
    fn default_bound_is_the_cpu_count() {
        let cpus = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        assert_eq!(PasswordHasher::default().max_concurrent(), cpus);
    }

    #[test]
    fn policy_counts_characters_and_bytes() {
        assert_eq!(
            Password::new("123456789".into()),
            Err(PasswordPolicyError::TooShort { min_chars: 10 })
        );
        assert!(Password::new("1234567890".into()).is_ok());
        // Ten characters, more than ten bytes.
        assert!(Password::new("ééééééééé".into()).is_err());
        assert!(Password::new("éééééééééé".into()).is_ok());
        assert!(Password::new("x".repeat(MAX_PASSWORD_BYTES)).is_ok());
        assert_eq!(
            Password::new("x".repeat(MAX_PASSWORD_BYTES + 1)),
            Err(PasswordPolicyError::TooLong { max_bytes: 1024 })
        );
    }

    #[test]
    fn password_debug_is_redacted() {
        let debug = format!("{:?}", password("hunter2hunter2"));
        assert_eq!(debug, "Password([redacted])");
    }
}
