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
    /// Rate limits.
    pub rate_limits: RateLimits,
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
            rate_limits: RateLimits::default(),
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
        config.validate()?;
        Ok(config)
    }

    /// Every setting from its `PARKD_<NAME>` variable (rate limits as
    /// `PARKD_RATE_LIMITS_<NAME>`; `PARKD_RATE_LIMITS=on|off` is the switch).
    /// `PARKD_LISTEN`, `PARKD_DATA_DIR` and `PARKD_LOG_FORMAT` also arrive as
    /// flags' environment fallbacks; reading them here too keeps one rule.
    fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        fn parse<T: std::str::FromStr>(
            env: &impl Fn(&str) -> Option<String>,
            key: &'static str,
            target: &mut T,
        ) -> Result<(), ConfigError>
        where
            T::Err: std::fmt::Display,
        {
            if let Some(raw) = env(key) {
                *target = raw
                    .trim()
                    .parse()
                    .map_err(|e: T::Err| ConfigError::Invalid {
                        key,
                        message: format!("{raw:?}: {e}"),
                    })?;
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
        if !matches!(self.log_format.as_str(), "json" | "pretty") {
            return Err(invalid("log_format", "must be \"json\" or \"pretty\""));
        }
        self.validate_websocket()
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

[rate_limits]
# PARKD_RATE_LIMITS=off switches every limit off (load tests on loopback).
enabled = true
login_per_minute_per_ip = 20
login_per_minute_per_email = 5
register_per_hour_per_ip = 30
register_per_hour_per_email = 5
requests_per_second_per_ip = 100
burst = 200

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
