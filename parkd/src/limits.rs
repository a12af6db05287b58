//! Rate limits (governor): a general per-IP budget on every route, and tighter
//! ones on login (per IP and per email) and registration (per IP). All off with
//! `rate_limits.enabled = false` / `PARKD_RATE_LIMITS=off`.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::RateLimits;
use crate::error::ApiError;

/// The limiters parkd applies.
#[derive(Debug)]
pub struct Limits {
    enabled: bool,
    general: DefaultKeyedRateLimiter<IpAddr>,
    login_ip: DefaultKeyedRateLimiter<IpAddr>,
    login_email: DefaultKeyedRateLimiter<String>,
    register_ip: DefaultKeyedRateLimiter<IpAddr>,
    register_email: DefaultKeyedRateLimiter<String>,
}

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

/// `n` per `period`, all of them usable at once.
fn per(n: u32, period: Duration) -> Quota {
    let n = nz(n);
    Quota::with_period(period / n.get())
        .unwrap_or_else(|| Quota::per_second(n))
        .allow_burst(n)
}

fn check<K>(limiter: &DefaultKeyedRateLimiter<K>, key: &K) -> Result<(), ApiError>
where
    K: Clone + std::hash::Hash + Eq,
{
    limiter.check_key(key).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        ApiError::TooManyRequests {
            retry_after_secs: wait.as_secs().max(1),
        }
    })
}

impl Limits {
    /// Limiters from the configuration.
    pub fn new(config: &RateLimits) -> Self {
        Limits {
            enabled: config.enabled,
            general: RateLimiter::keyed(
                Quota::per_second(nz(config.requests_per_second_per_ip))
                    .allow_burst(nz(config.burst)),
            ),
            login_ip: RateLimiter::keyed(per(
                config.login_per_minute_per_ip,
                Duration::from_secs(60),
            )),
            login_email: RateLimiter::keyed(per(
                config.login_per_minute_per_email,
                Duration::from_secs(60),
            )),
            register_ip: RateLimiter::keyed(per(
                config.register_per_hour_per_ip,
                Duration::from_secs(3600),
            )),
            register_email: RateLimiter::keyed(per(
                config.register_per_hour_per_email,
                Duration::from_secs(3600),
            )),
        }
    }

    /// The general per-IP budget.
    pub fn request(&self, ip: IpAddr) -> Result<(), ApiError> {
        if !self.enabled {
            return Ok(());
        }
        check(&self.general, &ip)
    }

    /// A login attempt from `ip` for `email`.
    pub fn login(&self, ip: IpAddr, email: &str) -> Result<(), ApiError> {
        if !self.enabled {
            return Ok(());
        }
        check(&self.login_ip, &ip)?;
        check(&self.login_email, &email.to_lowercase())
    }

    /// A registration from `ip` for `email`.
    pub fn register(&self, ip: IpAddr, email: &str) -> Result<(), ApiError> {
        if !self.enabled {
            return Ok(());
        }
        check(&self.register_ip, &ip)?;
        check(&self.register_email, &email.trim().to_lowercase())
    }

    /// Forgets keys whose limits have fully recovered, so memory does not grow
    /// with every address ever seen. Called periodically.
    pub fn shrink(&self) {
        self.general.retain_recent();
        self.login_ip.retain_recent();
        self.login_email.retain_recent();
        self.register_ip.retain_recent();
        self.register_email.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(enabled: bool) -> RateLimits {
        RateLimits {
            enabled,
            login_per_minute_per_ip: 4,
            login_per_minute_per_email: 2,
            register_per_hour_per_ip: 1,
            register_per_hour_per_email: 1,
            requests_per_second_per_ip: 1,
            burst: 2,
        }
    }

    #[test]
    fn login_is_limited_per_email_and_answers_with_a_retry_time() {
        let limits = Limits::new(&config(true));
        let ip = IpAddr::from([127, 0, 0, 1]);
        assert!(limits.login(ip, "a@example.com").is_ok());
        assert!(limits.login(ip, "A@example.com").is_ok());
        match limits.login(ip, "a@example.com") {
            Err(ApiError::TooManyRequests { retry_after_secs }) => assert!(retry_after_secs >= 1),
            other => panic!("expected 429, got {other:?}"),
        }
        // Every attempt counts against the IP, refused ones too: the fourth is its last.
        assert!(limits.login(ip, "b@example.com").is_ok());
        assert!(
            limits.login(ip, "c@example.com").is_err(),
            "IP budget spent"
        );
    }

    #[test]
    fn the_general_budget_allows_its_burst_then_refuses() {
        let limits = Limits::new(&config(true));
        let ip = IpAddr::from([10, 0, 0, 1]);
        assert!(limits.request(ip).is_ok());
        assert!(limits.request(ip).is_ok());
        assert!(limits.request(ip).is_err());
        assert!(
            limits.request(IpAddr::from([10, 0, 0, 2])).is_ok(),
            "per IP"
        );
    }

    #[test]
    fn switched_off_nothing_is_limited() {
        let limits = Limits::new(&config(false));
        let ip = IpAddr::from([127, 0, 0, 1]);
        for _ in 0..100 {
            assert!(limits.request(ip).is_ok());
            assert!(limits.register(ip, "a@example.com").is_ok());
        }
    }
}
