//! parkd's configuration: documented defaults, then a TOML file, then `PARKD_*`
//! environment variables, then command-line flags — each later source wins.
//!
//! The file and the defaults are handled here; clap reads the environment and the
//! flags (`#[arg(env = …)]`), so a value given either way arrives as `Some` in
//! [`Overrides`] and beats the file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;

/// Why the configuration could not be loaded.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The config file is not valid TOML or has unknown keys.
    #[error("invalid config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the parser said (with line and column).
        message: String,
    },
    /// A value is out of its allowed range.
    #[error("invalid setting {key}: {message}")]
    Invalid {
        /// The setting's name.
        key: &'static str,
        /// What is wrong and how to fix it.
        message: String,
    },
}

/// Rate limits; all of them off with `rate_limits = "off"` or `PARKD_RATE_LIMITS=off`
/// (for load tests on loopback).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimits {
    /// Master switch.
    pub enabled: bool,
    /// Login attempts per minute from one IP address.
    pub login_per_minute_per_ip: u32,
    /// Login attempts per minute for one email address.
    pub login_per_minute_per_email: u32,
    /// Registrations per hour from one IP address.
    pub register_per_hour_per_ip: u32,
    /// Registration attempts per hour for one email address.
    pub register_per_hour_per_email: u32,
    /// Requests per second from one IP address, all routes.
    pub requests_per_second_per_ip: u32,
    /// Burst allowed above the per-second rate.
    pub burst: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            enabled: true,
            login_per_minute_per_ip: 20,
            login_per_minute_per_email: 5,
            register_per_hour_per_ip: 30,
            register_per_hour_per_email: 5,
            requests_per_second_per_ip: 100,
            burst: 200,
        }
    }
}

/// A secret setting (an API key): compared and cloned like a string, but its
/// `Debug` never shows it, so it cannot reach a log through the config.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that needs it (an HTTP header, an HMAC key).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A database connection URL. Its `Debug` hides the password, so the
/// configuration can be logged.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// The URL, password included.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

/// Stripe's API.
pub const STRIPE_API_BASE: &str = "https://api.stripe.com/";

/// Online payments through Stripe. Without both keys, `prepaid` lots are refused
/// (at start-up if one exists, and when a lot is made prepaid).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StripeConfig {
    /// The secret API key (`sk_…`); `PARKD_STRIPE_SECRET_KEY`.
    pub secret_key: Option<Secret>,
    /// A file holding the secret key; `PARKD_STRIPE_SECRET_KEY_FILE`.
    pub secret_key_file: Option<PathBuf>,
    /// The webhook endpoint's signing secret (`whsec_…`);
    /// `PARKD_STRIPE_WEBHOOK_SECRET`.
    pub webhook_secret: Option<Secret>,
    /// A file holding the signing secret; `PARKD_STRIPE_WEBHOOK_SECRET_FILE`.
    pub webhook_secret_file: Option<PathBuf>,
    /// Stripe's API base URL; tests point it at a local fake.
    pub api_base: String,
    /// Seconds to wait for one Stripe call.
    pub timeout_secs: u64,
}

impl Default for StripeConfig {
    fn default() -> Self {
        StripeConfig {
            secret_key: None,
            secret_key_file: None,
            webhook_secret: None,
            webhook_secret_file: None,
            api_base: STRIPE_API_BASE.into(),
            timeout_secs: 10,
        }
    }
}

/// Limits of the WebSocket endpoint `GET /api/v1/ws` (`[websocket]`,
/// `PARKD_WS_<NAME>`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebSocketLimits {
    /// How often the server pings each connection, seconds.
    pub heartbeat_secs: u64,
    /// A connection that sends nothing (not even a pong) for this long is
    /// closed, seconds.
    pub idle_timeout_secs: u64,
    /// The most lots one connection may watch.
    pub max_subscriptions: usize,
    /// The largest frame or message a client may send, bytes.
    pub max_frame_bytes: usize,
    /// Open WebSocket connections at once; more are refused with 503.
    pub max_connections: usize,
    /// Reservation events and alerts waiting for one slow connection; more and
    /// it is closed as a slow consumer (availability is coalesced, never queued).
    pub queue_capacity: usize,
    /// A write to one connection that takes longer than this closes it as a
    /// slow consumer, seconds.
    pub write_timeout_secs: u64,
    /// Missed events replayed to a resuming client per lot; further behind
    /// and it gets a fresh snapshot.
    pub max_replay: u32,
    /// How long before a hold lapses its driver is warned (`hold_expiring`), seconds.
    pub hold_warning_secs: u64,
    /// How often watched lots are re-counted for changes no event announces
    /// (a booking's start arriving), milliseconds.
    pub recount_interval_ms: u64,
}

impl Default for WebSocketLimits {
    fn default() -> Self {
        WebSocketLimits {
            heartbeat_secs: 20,
            idle_timeout_secs: 60,
            max_subscriptions: 200,
            max_frame_bytes: 64 * 1024,
            max_connections: 20_000,
            queue_capacity: 256,
            write_timeout_secs: 10,
            max_replay: 500,
            hold_warning_secs: 120,
            recount_interval_ms: 1000,
        }
    }
}

impl StripeConfig {
    /// True when both keys are set.
    pub fn enabled(&self) -> bool {
        self.secret_key.is_some() && self.webhook_secret.is_some()
    }

    /// Reads the `*_file` settings into the keys (a file beats an inline value,
    /// surrounding whitespace is trimmed), then checks the settings.
    fn resolve(&mut self) -> Result<(), ConfigError> {
        fn read(key: &'static str, path: &Path) -> Result<Secret, ConfigError> {
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Invalid {
                key,
                message: format!("cannot read {}: {e}", path.display()),
            })?;
            let value = text.trim();
            if value.is_empty() {
                return Err(ConfigError::Invalid {
                    key,
                    message: format!("{} is empty", path.display()),
                });
            }
            Ok(Secret::new(value))
        }
        if let Some(path) = &self.secret_key_file {
            self.secret_key = Some(read("stripe.secret_key_file", path)?);
        }
        if let Some(path) = &self.webhook_secret_file {
            self.webhook_secret = Some(read("stripe.webhook_secret_file", path)?);
        }
        if self.secret_key.is_some() != self.webhook_secret.is_some() {
            return Err(ConfigError::Invalid {
                key: "stripe",
                message: "set both PARKD_STRIPE_SECRET_KEY and PARKD_STRIPE_WEBHOOK_SECRET \
                          (or their _FILE variants), or neither"
                    .into(),
            });
        }
        for (key, secret) in [
            ("stripe.secret_key", &self.secret_key),
            ("stripe.webhook_secret", &self.webhook_secret),
        ] {
            if let Some(secret) = secret
                && (secret.expose().is_empty()
                    || secret.expose().bytes().any(|b| !b.is_ascii_graphic()))
            {
                return Err(ConfigError::Invalid {
                    key,
                    message: "must be printable ASCII without spaces".into(),
                });
            }
        }
        if !(self.api_base.starts_with("https://") || self.api_base.starts_with("http://")) {
            return Err(ConfigError::Invalid {
                key: "stripe.api_base",
                message: format!("{:?}: must be an http(s) URL", self.api_base),
            });
        }
        if !self.api_base.ends_with('/') {
            self.api_base.push('/');
        }
        if !(1..=120).contains(&self.timeout_secs) {
            return Err(ConfigError::Invalid {
                key: "stripe.timeout_secs",
                message: "must be between 1 and 120".into(),
            });
        }
        Ok(())
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // postgres://user:secret@host/db -> postgres://user:***@host/db
        let redacted = match (self.0.find("://"), self.0.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                let creds = &self.0[scheme + 3..at];
                match creds.find(':') {
                    Some(colon) => format!(
                        "{}{}:***{}",
                        &self.0[..scheme + 3],
                        &creds[..colon],
                        &self.0[at..]
                    ),
                    None => self.0.clone(),
                }
            }
            _ => self.0.clone(),
        };
        write!(f, "{redacted:?}")
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(DatabaseUrl(s.to_owned()))
    }
}

/// Everything parkd reads at start-up.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Directory for the SQLite database and the generated keys.
    pub data_dir: PathBuf,
    /// Access-token lifetime in seconds.
    pub access_token_ttl_secs: u64,
    /// Refresh-token lifetime in days.
    pub refresh_token_ttl_days: u64,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Read connections to the database.
    pub read_connections: usize,
    /// `true`: fsync on every commit (survives power loss); `false`: WAL with
    /// `synchronous=NORMAL` (survives a killed process, not a lost machine).
    pub sync_full: bool,
    /// Password hashes computed at once (argon2id uses ~19 MiB each).
    pub hash_concurrency: usize,
    /// Log format: `json` or `pretty`.
    pub log_format: String,
    /// PostgreSQL instead of SQLite: `postgres://user:password@host/db`.
    /// Several parkd instances may share one.
    pub database_url: Option<DatabaseUrl>,
    /// A replica for analytics reads (PostgreSQL only).
    pub read_database_url: Option<DatabaseUrl>,
    /// PostgreSQL connections per instance.
    pub pool_size: usize,
    /// Longest a PostgreSQL statement may run, in milliseconds.
    pub statement_timeout_ms: u64,
    /// Rate limits.
    pub rate_limits: RateLimits,
    /// Online payments.
    pub stripe: StripeConfig,
    /// Kafka bootstrap brokers (`host:port,host:port`); `None`: no Kafka
    /// publisher. Needs a parkd built with `--features kafka`.
    pub kafka_brokers: Option<String>,
    /// The topic every outbox event is published to.
    pub kafka_topic: String,
    /// The client id parkd's producer reports to the brokers.
    pub kafka_client_id: String,
    /// WebSocket limits.
    pub websocket: WebSocketLimits,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("parkd-data"),
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_days: 30,
            max_body_bytes: 64 * 1024,
            read_connections: 4,
            sync_full: true,
            hash_concurrency: 2,
            log_format: "json".into(),
            database_url: None,
            read_database_url: None,
            pool_size: 16,
            statement_timeout_ms: 5_000,
            rate_limits: RateLimits::default(),
            stripe: StripeConfig::default(),
            kafka_brokers: None,
            kafka_topic: "parking_events".into(),
            kafka_client_id: "parkd".into(),
            websocket: WebSocketLimits::default(),
        }
    }
}

/// Values from the environment or flags; `Some` wins over the file.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--listen` / `PARKD_LISTEN`.
    pub listen: Option<SocketAddr>,
    /// `--data-dir` / `PARKD_DATA_DIR`.
    pub data_dir: Option<PathBuf>,
    /// `PARKD_RATE_LIMITS=on|off`.
    pub rate_limits_enabled: Option<bool>,
    /// `--log-format` / `PARKD_LOG_FORMAT`.
    pub log_format: Option<String>,
    /// `--kafka-brokers` / `PARKD_KAFKA_BROKERS`.
    pub kafka_brokers: Option<String>,
    /// `--database` / `PARKD_DATABASE_URL`.
    pub database_url: Option<DatabaseUrl>,
    /// `--read-database` / `PARKD_READ_DATABASE_URL`.
    pub read_database_url: Option<DatabaseUrl>,
}

impl Config {
    /// Defaults, then the file at `path` (if given), then `overrides`.
    pub fn load(path: Option<&Path>, overrides: Overrides) -> Result<Config, ConfigError> {
        Config::load_with_env(path, overrides, |key| std::env::var(key).ok())
    }

    /// As [`load`](Self::load), reading `PARKD_*` variables through `env` (tests
    /// pass a map instead of the process environment).
    pub fn load_with_env(
        path: Option<&Path>,
        overrides: Overrides,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut config = match path {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        config.apply_env(env)?;
        if let Some(listen) = overrides.listen {
            config.listen = listen;
        }
        if let Some(dir) = overrides.data_dir {
            config.data_dir = dir;
        }
        if let Some(enabled) = overrides.rate_limits_enabled {
            config.rate_limits.enabled = enabled;
        }
        if let Some(format) = overrides.log_format {
            config.log_format = format;
        }
        config.stripe.resolve()?;
        if let Some(brokers) = overrides.kafka_brokers {
            config.kafka_brokers = Some(brokers);
        }
        // An empty broker list (`PARKD_KAFKA_BROKERS=` overriding a file) means off.
        if config
            .kafka_brokers
            .as_deref()
            .is_some_and(|b| b.trim().is_empty())
        {
            config.kafka_brokers = None;
        }
        if let Some(url) = overrides.database_url {
            config.database_url = Some(url);
        }
        if let Some(url) = overrides.read_database_url {
            config.read_database_url = Some(url);
        }
        config.validate()?;
        Ok(config)
    }

    /// Every setting from its `PARKD_<NAME>` variable (rate limits as
    /// `PARKD_RATE_LIMITS_<NAME>`; `PARKD_RATE_LIMITS=on|off` is the switch).
    /// `PARKD_LISTEN`, `PARKD_DATA_DIR` and `PARKD_LOG_FORMAT` also arrive as
    /// flags' environment fallbacks; reading them here too keeps one rule.
    fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        fn value<T: std::str::FromStr>(key: &'static str, raw: &str) -> Result<T, ConfigError>
        where
            T::Err: std::fmt::Display,
        {
            raw.trim()
                .parse()
                .map_err(|e: T::Err| ConfigError::Invalid {
                    key,
                    message: format!("{raw:?}: {e}"),
                })
        }
        fn parse<T: std::str::FromStr>(
            env: &impl Fn(&str) -> Option<String>,
            key: &'static str,
            target: &mut T,
        ) -> Result<(), ConfigError>
        where
            T::Err: std::fmt::Display,
        {
            if let Some(raw) = env(key) {
                *target = value(key, &raw)?;
            }
            Ok(())
        }
        /// As `parse`, for an optional setting a blank variable leaves as it is.
        fn parse_set<T: std::str::FromStr>(
            env: &impl Fn(&str) -> Option<String>,
            key: &'static str,
            target: &mut Option<T>,
        ) -> Result<(), ConfigError>
        where
            T::Err: std::fmt::Display,
        {
            if let Some(raw) = env(key).filter(|v| !v.trim().is_empty()) {
                *target = Some(value(key, &raw)?);
            }
            Ok(())
        }
        parse(&env, "PARKD_LISTEN", &mut self.listen)?;
        parse(&env, "PARKD_DATA_DIR", &mut self.data_dir)?;
        parse(
            &env,
            "PARKD_ACCESS_TOKEN_TTL_SECS",
            &mut self.access_token_ttl_secs,
        )?;
        parse(
            &env,
            "PARKD_REFRESH_TOKEN_TTL_DAYS",
            &mut self.refresh_token_ttl_days,
        )?;
        parse(&env, "PARKD_MAX_BODY_BYTES", &mut self.max_body_bytes)?;
        parse(&env, "PARKD_READ_CONNECTIONS", &mut self.read_connections)?;
        parse(&env, "PARKD_SYNC_FULL", &mut self.sync_full)?;
        parse(&env, "PARKD_HASH_CONCURRENCY", &mut self.hash_concurrency)?;
        parse(&env, "PARKD_LOG_FORMAT", &mut self.log_format)?;
        if let Some(brokers) = env("PARKD_KAFKA_BROKERS") {
            self.kafka_brokers = Some(brokers);
        }
        parse(&env, "PARKD_KAFKA_TOPIC", &mut self.kafka_topic)?;
        parse(&env, "PARKD_KAFKA_CLIENT_ID", &mut self.kafka_client_id)?;
        parse_set(&env, "PARKD_DATABASE_URL", &mut self.database_url)?;
        parse_set(&env, "PARKD_READ_DATABASE_URL", &mut self.read_database_url)?;
        parse(&env, "PARKD_POOL_SIZE", &mut self.pool_size)?;
        parse(
            &env,
            "PARKD_STATEMENT_TIMEOUT_MS",
            &mut self.statement_timeout_ms,
        )?;
        let limits = &mut self.rate_limits;
        if let Some(raw) = env("PARKD_RATE_LIMITS") {
            limits.enabled = match raw.trim().to_ascii_lowercase().as_str() {
                "on" | "true" | "1" => true,
                "off" | "false" | "0" => false,
                _ => {
                    return Err(ConfigError::Invalid {
                        key: "PARKD_RATE_LIMITS",
                        message: format!("{raw:?}: expected on or off"),
                    });
                }
            };
        }
        parse(
            &env,
            "PARKD_RATE_LIMITS_LOGIN_PER_MINUTE_PER_IP",
            &mut limits.login_per_minute_per_ip,
        )?;
        parse(
            &env,
            "PARKD_RATE_LIMITS_LOGIN_PER_MINUTE_PER_EMAIL",
            &mut limits.login_per_minute_per_email,
        )?;
        parse(
            &env,
            "PARKD_RATE_LIMITS_REGISTER_PER_HOUR_PER_IP",
            &mut limits.register_per_hour_per_ip,
        )?;
        parse(
            &env,
            "PARKD_RATE_LIMITS_REGISTER_PER_HOUR_PER_EMAIL",
            &mut limits.register_per_hour_per_email,
        )?;
        parse(
            &env,
            "PARKD_RATE_LIMITS_REQUESTS_PER_SECOND_PER_IP",
            &mut limits.requests_per_second_per_ip,
        )?;
        parse(&env, "PARKD_RATE_LIMITS_BURST", &mut limits.burst)?;
        let stripe = &mut self.stripe;
        parse_set(&env, "PARKD_STRIPE_SECRET_KEY", &mut stripe.secret_key)?;
        parse_set(
            &env,
            "PARKD_STRIPE_WEBHOOK_SECRET",
            &mut stripe.webhook_secret,
        )?;
        parse_set(
            &env,
            "PARKD_STRIPE_SECRET_KEY_FILE",
            &mut stripe.secret_key_file,
        )?;
        parse_set(
            &env,
            "PARKD_STRIPE_WEBHOOK_SECRET_FILE",
            &mut stripe.webhook_secret_file,
        )?;
        parse(&env, "PARKD_STRIPE_API_BASE", &mut stripe.api_base)?;
        parse(&env, "PARKD_STRIPE_TIMEOUT_SECS", &mut stripe.timeout_secs)?;
        let ws = &mut self.websocket;
        parse(&env, "PARKD_WS_HEARTBEAT_SECS", &mut ws.heartbeat_secs)?;
        parse(
            &env,
            "PARKD_WS_IDLE_TIMEOUT_SECS",
            &mut ws.idle_timeout_secs,
        )?;
        parse(
            &env,
            "PARKD_WS_MAX_SUBSCRIPTIONS",
            &mut ws.max_subscriptions,
        )?;
        parse(&env, "PARKD_WS_MAX_FRAME_BYTES", &mut ws.max_frame_bytes)?;
        parse(&env, "PARKD_WS_MAX_CONNECTIONS", &mut ws.max_connections)?;
        parse(&env, "PARKD_WS_QUEUE_CAPACITY", &mut ws.queue_capacity)?;
        parse(
            &env,
            "PARKD_WS_WRITE_TIMEOUT_SECS",
            &mut ws.write_timeout_secs,
        )?;
        parse(&env, "PARKD_WS_MAX_REPLAY", &mut ws.max_replay)?;
        parse(
            &env,
            "PARKD_WS_HOLD_WARNING_SECS",
            &mut ws.hold_warning_secs,
        )?;
        parse(
            &env,
            "PARKD_WS_RECOUNT_INTERVAL_MS",
            &mut ws.recount_interval_ms,
        )?;
        Ok(())
    }

    fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| ConfigError::Invalid {
            key,
            message: message.to_owned(),
        };
        if !(60..=86_400).contains(&self.access_token_ttl_secs) {
            return Err(invalid(
                "access_token_ttl_secs",
                "must be between 60 and 86400",
            ));
        }
        if !(1..=365).contains(&self.refresh_token_ttl_days) {
            return Err(invalid(
                "refresh_token_ttl_days",
                "must be between 1 and 365",
            ));
        }
        if !(1024..=16 * 1024 * 1024).contains(&self.max_body_bytes) {
            return Err(invalid(
                "max_body_bytes",
                "must be between 1024 and 16777216",
            ));
        }
        if !(1..=64).contains(&self.read_connections) {
            return Err(invalid("read_connections", "must be between 1 and 64"));
        }
        if !(1..=64).contains(&self.hash_concurrency) {
            return Err(invalid("hash_concurrency", "must be between 1 and 64"));
        }
        for (key, url) in [
            ("database_url", &self.database_url),
            ("read_database_url", &self.read_database_url),
        ] {
            if let Some(url) = url
                && !crate::store::postgres::is_postgres_url(url.expose())
            {
                return Err(invalid(
                    key,
                    "must be a PostgreSQL URL such as postgres://parkd:secret@127.0.0.1:5432/parkd \
                     (leave it unset for SQLite in the data directory)",
                ));
            }
        }
        if self.read_database_url.is_some() && self.database_url.is_none() {
            return Err(invalid(
                "read_database_url",
                "needs database_url: a read replica only exists beside a PostgreSQL primary",
            ));
        }
        if !(1..=512).contains(&self.pool_size) {
            return Err(invalid("pool_size", "must be between 1 and 512"));
        }
        if !(100..=600_000).contains(&self.statement_timeout_ms) {
            return Err(invalid(
                "statement_timeout_ms",
                "must be between 100 and 600000",
            ));
        }
        if !matches!(self.log_format.as_str(), "json" | "pretty") {
            return Err(invalid("log_format", "must be \"json\" or \"pretty\""));
        }
        self.validate_kafka()?;
        self.validate_websocket()
    }

    /// The Kafka settings: checked even while Kafka is off, so a typo in the
    /// topic shows before the day the brokers are set.
    pub fn validate_kafka(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: String| ConfigError::Invalid { key, message };
        let topic = &self.kafka_topic;
        // Kafka's own rule for topic names.
        if topic.is_empty()
            || topic.len() > 249
            || topic == "."
            || topic == ".."
            || !topic
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(invalid(
                "kafka_topic",
                format!(
                    "{topic:?}: a topic name is 1 to 249 of the characters a-z A-Z 0-9 . _ - \
                     (and not \".\" or \"..\")"
                ),
            ));
        }
        let client = &self.kafka_client_id;
        if client.is_empty() || client.len() > 255 || !client.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(invalid(
                "kafka_client_id",
                format!("{client:?}: must be 1 to 255 printable ASCII characters without spaces"),
            ));
        }
        let Some(brokers) = self.kafka_brokers.as_deref() else {
            return Ok(());
        };
        if !cfg!(feature = "kafka") {
            return Err(invalid(
                "kafka_brokers",
                "this parkd was built without Kafka support; rebuild it with \
                 `cargo build --release -p parkd --features kafka`, or unset kafka_brokers \
                 (PARKD_KAFKA_BROKERS, --kafka-brokers)"
                    .to_owned(),
            ));
        }
        let well_formed = |broker: &str| {
            broker.rsplit_once(':').is_some_and(|(host, port)| {
                !host.is_empty()
                    && !host.contains(char::is_whitespace)
                    && port.parse::<u16>().is_ok_and(|p| p > 0)
            })
        };
        if brokers.len() > 4096 || !brokers.split(',').map(str::trim).all(well_formed) {
            return Err(invalid(
                "kafka_brokers",
                format!("{brokers:?}: expected host:port[,host:port...], e.g. 127.0.0.1:9092"),
            ));
        }
        Ok(())
    }

    fn validate_websocket(&self) -> Result<(), ConfigError> {
        let ws = &self.websocket;
        let checks: [(&'static str, bool, &str); 10] = [
            (
                "websocket.heartbeat_secs",
                (1..=3600).contains(&ws.heartbeat_secs),
                "must be between 1 and 3600",
            ),
            (
                "websocket.idle_timeout_secs",
                ws.idle_timeout_secs > ws.heartbeat_secs && ws.idle_timeout_secs <= 86_400,
                "must be longer than heartbeat_secs and at most 86400",
            ),
            (
                "websocket.max_subscriptions",
                (1..=10_000).contains(&ws.max_subscriptions),
                "must be between 1 and 10000",
            ),
            (
                "websocket.max_frame_bytes",
                (1024..=16 * 1024 * 1024).contains(&ws.max_frame_bytes),
                "must be between 1024 and 16777216",
            ),
            (
                "websocket.max_connections",
                (1..=1_000_000).contains(&ws.max_connections),
                "must be between 1 and 1000000",
            ),
            (
                "websocket.queue_capacity",
                (1..=100_000).contains(&ws.queue_capacity),
                "must be between 1 and 100000",
            ),
            (
                "websocket.write_timeout_secs",
                (1..=600).contains(&ws.write_timeout_secs),
                "must be between 1 and 600",
            ),
            (
                "websocket.max_replay",
                (1..=10_000).contains(&ws.max_replay),
                "must be between 1 and 10000",
            ),
            (
                "websocket.hold_warning_secs",
                ws.hold_warning_secs <= 86_400,
                "must be at most 86400",
            ),
            (
                "websocket.recount_interval_ms",
                (10..=60_000).contains(&ws.recount_interval_ms),
                "must be between 10 and 60000",
            ),
        ];
        match checks.into_iter().find(|(_, ok, _)| !ok) {
            Some((key, _, message)) => Err(ConfigError::Invalid {
                key,
                message: message.to_owned(),
            }),
            None => Ok(()),
        }
    }

    /// The access-token lifetime.
    pub fn access_ttl(&self) -> Duration {
        Duration::from_secs(self.access_token_ttl_secs)
    }

    /// The refresh-token lifetime.
    pub fn refresh_ttl(&self) -> Duration {
        Duration::from_secs(self.refresh_token_ttl_days * 86_400)
    }
}

/// The commented configuration file `parkd default-config` prints.
pub const DEFAULT_CONFIG_TOML: &str = r#"# parkd configuration. Every setting is optional; shown with its default.
# Precedence: these defaults < this file < PARKD_* environment < command-line flags.
# Every key has a variable: PARKD_<KEY> (PARKD_READ_CONNECTIONS, PARKD_SYNC_FULL, ...),
# rate limits PARKD_RATE_LIMITS_<KEY>; PARKD_RATE_LIMITS=off switches them all off.

# Address to listen on (PARKD_LISTEN, --listen).
listen = "127.0.0.1:8080"
# SQLite database and generated keys live here (PARKD_DATA_DIR, --data-dir).
data_dir = "parkd-data"
# Access tokens live 15 minutes; refresh tokens 30 days.
access_token_ttl_secs = 900
refresh_token_ttl_days = 30
# Largest request body, bytes.
max_body_bytes = 65536
# Read connections to the database.
read_connections = 4
# true: fsync every commit (survives power loss). false: survives a killed
# process but may lose the last commits on a power cut.
sync_full = true
# Password hashes computed at once; each argon2id hash uses ~19 MiB.
hash_concurrency = 2
# "json" (one object per line) or "pretty" (PARKD_LOG_FORMAT, --log-format).
log_format = "json"
# PostgreSQL instead of SQLite in the data directory (PARKD_DATABASE_URL,
# --database); several parkd instances may share one database. Unset: SQLite.
# database_url = "postgres://parkd:secret@127.0.0.1:5432/parkd"
# A replica for analytics reads (PARKD_READ_DATABASE_URL, --read-database).
# read_database_url = "postgres://parkd:secret@replica:5432/parkd"
# PostgreSQL connections per instance, and the longest a statement may run.
pool_size = 16
statement_timeout_ms = 5000

# Kafka (a parkd built with --features kafka): with brokers set, every outbox
# event is also published to kafka_topic, keyed by lot id, as versioned JSON
# (README, "Kafka"). Off while unset (PARKD_KAFKA_BROKERS, --kafka-brokers).
# kafka_brokers = "127.0.0.1:9092"
kafka_topic = "parking_events"
kafka_client_id = "parkd"

[rate_limits]
# PARKD_RATE_LIMITS=off switches every limit off (load tests on loopback).
enabled = true
login_per_minute_per_ip = 20
login_per_minute_per_email = 5
register_per_hour_per_ip = 30
register_per_hour_per_email = 5
requests_per_second_per_ip = 100
burst = 200

[stripe]
# Online payments for `prepaid` lots. Without both keys such lots are refused.
# Keys are secrets: prefer the _file settings (PARKD_STRIPE_SECRET_KEY_FILE,
# PARKD_STRIPE_WEBHOOK_SECRET_FILE) or the PARKD_STRIPE_SECRET_KEY and
# PARKD_STRIPE_WEBHOOK_SECRET variables to writing them here.
# secret_key_file = "/run/secrets/stripe_secret_key"
# webhook_secret_file = "/run/secrets/stripe_webhook_secret"
# Stripe's API (PARKD_STRIPE_API_BASE); tests point it at a local server.
api_base = "https://api.stripe.com/"
# Seconds to wait for one Stripe call.
timeout_secs = 10

[websocket]
# GET /api/v1/ws; each key also as PARKD_WS_<KEY> (PARKD_WS_MAX_CONNECTIONS, ...).
# Ping period and the silence after which a connection is closed, seconds.
heartbeat_secs = 20
idle_timeout_secs = 60
# Lots one connection may watch.
max_subscriptions = 200
# Largest frame or message a client may send, bytes.
max_frame_bytes = 65536
# Open connections at once; more are refused with 503.
max_connections = 20000
# Reservation events and alerts queued for one slow reader before it is closed
# (code 4001); availability is coalesced to the newest state per lot instead.
queue_capacity = 256
# A write blocked this long closes the connection as a slow consumer, seconds.
write_timeout_secs = 10
# Missed events replayed per lot to a resuming client; further behind gets a snapshot.
max_replay = 500
# Drivers are warned this long before a hold lapses, seconds.
hold_warning_secs = 120
# Watched lots are re-counted this often for changes no event announces, ms.
recount_interval_ms = 1000
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_printed_default_config_is_the_default() {
        let parsed: Config = toml::from_str(DEFAULT_CONFIG_TOML).expect("valid toml");
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn file_then_overrides_win_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("parkd.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\ndata_dir = \"/tmp/x\"\n[rate_limits]\nenabled = true\n",
        )
        .expect("write");
        let from_file = Config::load(Some(&path), Overrides::default()).expect("valid");
        assert_eq!(from_file.listen.port(), 9000);
        let overridden = Config::load(
            Some(&path),
            Overrides {
                listen: Some(SocketAddr::from(([127, 0, 0, 1], 9100))),
                rate_limits_enabled: Some(false),
                ..Overrides::default()
            },
        )
        .expect("valid");
        assert_eq!(overridden.listen.port(), 9100);
        assert_eq!(overridden.data_dir, PathBuf::from("/tmp/x"));
        assert!(!overridden.rate_limits.enabled);
    }

    #[test]
    fn the_environment_sits_between_the_file_and_the_flags() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("parkd.toml");
        std::fs::write(&path, "read_connections = 2\nsync_full = true\n").expect("write");
        let env = |key: &str| match key {
            "PARKD_READ_CONNECTIONS" => Some("6".to_owned()),
            "PARKD_SYNC_FULL" => Some("false".to_owned()),
            "PARKD_LISTEN" => Some("127.0.0.1:9200".to_owned()),
            "PARKD_RATE_LIMITS_BURST" => Some("7".to_owned()),
            _ => None,
        };
        let flags = Overrides {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 9300))),
            ..Overrides::default()
        };
        let config = Config::load_with_env(Some(&path), flags, env).expect("valid");
        assert_eq!(config.read_connections, 6, "env beats the file");
        assert!(!config.sync_full);
        assert_eq!(config.rate_limits.burst, 7);
        assert_eq!(config.listen.port(), 9300, "flags beat the env");
        let bad = Config::load_with_env(None, Overrides::default(), |k| {
            (k == "PARKD_HASH_CONCURRENCY").then(|| "many".to_owned())
        });
        let err = bad.expect_err("not a number");
        assert!(err.to_string().contains("PARKD_HASH_CONCURRENCY"), "{err}");
    }

    #[test]
    fn stripe_keys_come_from_env_or_files_and_never_show_in_debug() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key_file = dir.path().join("sk");
        std::fs::write(&key_file, "sk_test_from_file\n").expect("write");
        let key_path = key_file.display().to_string();
        let env = |key: &str| match key {
            "PARKD_STRIPE_SECRET_KEY_FILE" => Some(key_path.clone()),
            "PARKD_STRIPE_WEBHOOK_SECRET" => Some("whsec_from_env".to_owned()),
            "PARKD_STRIPE_API_BASE" => Some("http://127.0.0.1:9".to_owned()),
            _ => None,
        };
        let config = Config::load_with_env(None, Overrides::default(), env).expect("valid");
        assert!(config.stripe.enabled());
        assert_eq!(
            config.stripe.secret_key.as_ref().map(Secret::expose),
            Some("sk_test_from_file")
        );
        assert_eq!(config.stripe.api_base, "http://127.0.0.1:9/");
        let debug = format!("{config:?}");
        assert!(!debug.contains("sk_test_from_file"), "{debug}");
        assert!(!debug.contains("whsec_from_env"), "{debug}");
        assert!(debug.contains("[redacted]"));

        let only_one = Config::load_with_env(None, Overrides::default(), |k| {
            (k == "PARKD_STRIPE_SECRET_KEY").then(|| "sk_test_x".to_owned())
        });
        let err = only_one.expect_err("half configured");
        assert!(
            err.to_string().contains("PARKD_STRIPE_WEBHOOK_SECRET"),
            "{err}"
        );
        let missing = Config::load_with_env(None, Overrides::default(), |k| match k {
            "PARKD_STRIPE_SECRET_KEY_FILE" => Some("/nonexistent/sk".to_owned()),
            "PARKD_STRIPE_WEBHOOK_SECRET" => Some("whsec_x".to_owned()),
            _ => None,
        });
        let err = missing.expect_err("unreadable file");
        assert!(err.to_string().contains("stripe.secret_key_file"), "{err}");
        let plain = Config::load_with_env(None, Overrides::default(), |_| None).expect("valid");
        assert!(!plain.stripe.enabled(), "no keys, no payments");
    }

    #[test]
    fn kafka_settings_come_from_the_file_the_environment_and_the_flag() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("parkd.toml");
        std::fs::write(&path, "kafka_topic = \"events.v1\"\n").expect("write");
        let env = |key: &str| match key {
            "PARKD_KAFKA_BROKERS" => Some("10.0.0.1:9092".to_owned()),
            "PARKD_KAFKA_CLIENT_ID" => Some("parkd-7".to_owned()),
            _ => None,
        };
        let flags = Overrides {
            kafka_brokers: Some("127.0.0.1:9092,[::1]:9093".to_owned()),
            ..Overrides::default()
        };
        let config = Config::load_with_env(Some(&path), flags, env);
        if cfg!(feature = "kafka") {
            let config = config.expect("valid");
            assert_eq!(
                config.kafka_brokers.as_deref(),
                Some("127.0.0.1:9092,[::1]:9093"),
                "the flag beats the environment"
            );
            assert_eq!(config.kafka_topic, "events.v1");
            assert_eq!(config.kafka_client_id, "parkd-7");
        } else {
            let err = config.expect_err("no Kafka in this build");
            assert!(err.to_string().contains("--features kafka"), "{err}");
        }
        // An empty list switches Kafka off, in any build.
        let off = Config::load_with_env(None, Overrides::default(), |k| {
            (k == "PARKD_KAFKA_BROKERS").then(String::new)
        })
        .expect("valid");
        assert_eq!(off.kafka_brokers, None);
    }

    #[test]
    fn bad_kafka_settings_are_refused_with_the_key() {
        let load = |key: &'static str, value: &str| {
            let value = value.to_owned();
            Config::load_with_env(None, Overrides::default(), move |k| {
                (k == key).then(|| value.clone())
            })
        };
        for topic in ["", "..", "has space", "ümlaut", &"t".repeat(250)] {
            let err = load("PARKD_KAFKA_TOPIC", topic).expect_err("bad topic");
            assert!(err.to_string().contains("kafka_topic"), "{topic:?}: {err}");
        }
        let err = load("PARKD_KAFKA_CLIENT_ID", "two words").expect_err("bad client id");
        assert!(err.to_string().contains("kafka_client_id"), "{err}");
        for brokers in ["localhost", "host:port", "host:0", ":9092", "a:1,,b:2"] {
            let err = load("PARKD_KAFKA_BROKERS", brokers).expect_err("bad brokers");
            assert!(
                err.to_string().contains("kafka_brokers"),
                "{brokers:?}: {err}"
            );
        }
    }

    #[test]
    fn websocket_limits_come_from_the_file_and_the_environment_and_are_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("parkd.toml");
        std::fs::write(&path, "[websocket]\nmax_subscriptions = 50\n").expect("write");
        let env = |key: &str| (key == "PARKD_WS_MAX_CONNECTIONS").then(|| "123".to_owned());
        let config = Config::load_with_env(Some(&path), Overrides::default(), env).expect("valid");
        assert_eq!(config.websocket.max_subscriptions, 50);
        assert_eq!(config.websocket.max_connections, 123);
        assert_eq!(config.websocket.heartbeat_secs, 20, "the default");
        std::fs::write(
            &path,
            "[websocket]\nheartbeat_secs = 30\nidle_timeout_secs = 30\n",
        )
        .expect("write");
        let err = Config::load(Some(&path), Overrides::default()).expect_err("idle <= heartbeat");
        assert!(
            err.to_string().contains("websocket.idle_timeout_secs"),
            "{err}"
        );
    }

    #[test]
    fn the_database_url_comes_from_env_or_flag_and_hides_its_password() {
        let env = |key: &str| {
            (key == "PARKD_DATABASE_URL").then(|| "postgres://parkd:hunter2@db/city".to_owned())
        };
        let config = Config::load_with_env(None, Overrides::default(), env).expect("valid");
        let url = config
            .database_url
            .clone()
            .expect("set from the environment");
        assert_eq!(url.expose(), "postgres://parkd:hunter2@db/city");
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("postgres://parkd:***@db/city"), "{shown}");
        let flag = Overrides {
            database_url: Some("postgresql://other@db2/x".parse().expect("url")),
            ..Overrides::default()
        };
        let config = Config::load_with_env(None, flag, env).expect("valid");
        assert_eq!(
            config.database_url.expect("flag").expose(),
            "postgresql://other@db2/x",
            "the flag beats the environment"
        );
        let err = Config::load_with_env(None, Overrides::default(), |k| {
            (k == "PARKD_DATABASE_URL").then(|| "mysql://x".to_owned())
        })
        .expect_err("not PostgreSQL");
        assert!(err.to_string().contains("database_url"), "{err}");
        let err = Config::load_with_env(None, Overrides::default(), |k| {
            (k == "PARKD_READ_DATABASE_URL").then(|| "postgres://replica/x".to_owned())
        })
        .expect_err("a replica without a primary");
        assert!(err.to_string().contains("read_database_url"), "{err}");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused_with_the_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("parkd.toml");
        std::fs::write(&path, "listen_addr = \"x\"\n").expect("write");
        let err = Config::load(Some(&path), Overrides::default()).expect_err("unknown key");
        assert!(err.to_string().contains("listen_addr"), "{err}");
        std::fs::write(&path, "read_connections = 0\n").expect("write");
        let err = Config::load(Some(&path), Overrides::default()).expect_err("out of range");
        assert!(err.to_string().contains("read_connections"), "{err}");
    }
}
