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
        if let Some(url) = env("PARKD_DATABASE_URL").filter(|u| !u.trim().is_empty()) {
            self.database_url = Some(DatabaseUrl(url.trim().to_owned()));
        }
        if let Some(url) = env("PARKD_READ_DATABASE_URL").filter(|u| !u.trim().is_empty()) {
            self.read_database_url = Some(DatabaseUrl(url.trim().to_owned()));
        }
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
        Ok(())
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

[rate_limits]
# PARKD_RATE_LIMITS=off switches every limit off (load tests on loopback).
enabled = true
login_per_minute_per_ip = 20
login_per_minute_per_email = 5
register_per_hour_per_ip = 30
register_per_hour_per_email = 5
requests_per_second_per_ip = 100
burst = 200
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
