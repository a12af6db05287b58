//! The login profiles shared by parkctl and parking-tui: named profiles
//! (server, email, token pair) and the current one, in `$PARKCTL_CONFIG_DIR`
//! or `$XDG_CONFIG_HOME/parkctl` or `~/.config/parkctl`, as `config.toml`
//! written with mode 0600. [`FileTokens`] is the client's token store: a
//! refreshed pair is saved straight away, because parkd rotates refresh tokens.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use parking_api::TokenPair;
use serde::{Deserialize, Serialize};

use crate::TokenStore;

/// The config file could not be found, read, parsed or written; the message
/// names the file and the cause.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ProfileError(pub String);

/// The profile used when none is named or current.
pub const DEFAULT_PROFILE: &str = "default";

/// The whole file.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Config {
    /// The profile used when none is named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    /// Profiles by name.
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// One server and the login on it.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Profile {
    /// parkd's base URL.
    pub server: String,
    /// The login used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The access token, while logged in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    /// The refresh token, while logged in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("server", &self.server)
            .field("email", &self.email)
            .field("logged_in", &self.access_token.is_some())
            .finish()
    }
}

impl Profile {
    /// The stored token pair, if logged in.
    pub fn tokens(&self) -> Option<TokenPair> {
        match (&self.access_token, &self.refresh_token) {
            (Some(access), Some(refresh)) => {
                Some(TokenPair::bearer(access.clone(), refresh.clone(), 0))
            }
            _ => None,
        }
    }

    /// Stores `pair` (or forgets the tokens).
    pub fn set_tokens(&mut self, pair: Option<&TokenPair>) {
        self.access_token = pair.map(|p| p.access_token.clone());
        self.refresh_token = pair.map(|p| p.refresh_token.clone());
    }
}

/// The config directory.
pub fn config_dir() -> Result<PathBuf, ProfileError> {
    if let Some(dir) = std::env::var_os("PARKCTL_CONFIG_DIR") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("parkctl"));
    }
    std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".config").join("parkctl"))
        .ok_or_else(|| {
            ProfileError("no config directory: set PARKCTL_CONFIG_DIR or HOME".to_owned())
        })
}

impl Config {
    /// The file's path.
    pub fn path() -> Result<PathBuf, ProfileError> {
        Ok(config_dir()?.join("config.toml"))
    }

    /// Reads the file; a missing file is an empty config.
    pub fn load() -> Result<Config, ProfileError> {
        let path = Config::path()?;
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                toml::from_str(&text).map_err(|e| ProfileError(format!("{}: {e}", path.display())))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(e) => Err(ProfileError(format!("{}: {e}", path.display()))),
        }
    }

    /// Writes the file (mode 0600, through a temporary file and a rename).
    pub fn save(&self) -> Result<(), ProfileError> {
        let path = Config::path()?;
        let text = toml::to_string_pretty(self)
            .map_err(|e| ProfileError(format!("cannot encode the config: {e}")))?;
        write_private(&path, &text).map_err(|e| ProfileError(format!("{}: {e}", path.display())))
    }

    /// The profile to use: the flag or `PARKCTL_PROFILE`, else the current
    /// one, else `default`.
    pub fn selected(&self, flag: Option<&str>) -> String {
        flag.map(str::to_owned)
            .or_else(|| self.current.clone())
            .unwrap_or_else(|| DEFAULT_PROFILE.to_owned())
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("toml.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// The client's token store over one profile of the config file.
#[derive(Clone, Debug)]
pub struct FileTokens {
    config: Arc<Mutex<Config>>,
    profile: String,
}

impl FileTokens {
    /// A store over `profile` of `config`.
    pub fn new(config: Arc<Mutex<Config>>, profile: String) -> Self {
        FileTokens { config, profile }
    }
}

impl TokenStore for FileTokens {
    fn load(&self) -> Option<TokenPair> {
        let config = self.config.lock().unwrap_or_else(PoisonError::into_inner);
        config.profiles.get(&self.profile).and_then(Profile::tokens)
    }

    fn save(&self, pair: Option<&TokenPair>) {
        let mut config = self.config.lock().unwrap_or_else(PoisonError::into_inner);
        config
            .profiles
            .entry(self.profile.clone())
            .or_default()
            .set_tokens(pair);
        if let Err(e) = config.save() {
            // The call itself succeeded; the next run will have to log in.
            eprintln!("warning: could not save the new tokens: {e}");
        }
    }
}
