//! [`Context`]: what every command gets — the selected profile, the output
//! format, and a client for the profile's server with its tokens.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use parking_client::{Client, ClientError};
use uuid::Uuid;

use crate::config::{Config, FileTokens};
use crate::error::CtlError;
use crate::output::Format;
use crate::time::resolve_echo;

/// The state of one run.
#[derive(Debug)]
pub struct Context {
    /// The config file's contents.
    pub config: Arc<Mutex<Config>>,
    /// The profile in use.
    pub profile: String,
    /// `--server` / `PARKCTL_SERVER`, overriding the profile's server.
    pub server_override: Option<String>,
    /// `-o`.
    pub format: Format,
}

impl Context {
    /// The server to talk to: the flag, else the profile's.
    pub fn server(&self) -> Result<String, CtlError> {
        if let Some(server) = &self.server_override {
            return Ok(server.clone());
        }
        let config = self.config.lock().unwrap_or_else(PoisonError::into_inner);
        config
            .profiles
            .get(&self.profile)
            .map(|p| p.server.clone())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                CtlError::Usage(format!(
                    "profile '{}' has no server: run parkctl login --server URL --email EMAIL, or set PARKCTL_SERVER",
                    self.profile
                ))
            })
    }

    /// A client for the server, with the profile's tokens (saved back when
    /// refreshed).
    pub fn client(&self) -> Result<Client, CtlError> {
        Ok(Client::new(self.server()?).with_tokens(FileTokens::new(
            Arc::clone(&self.config),
            self.profile.clone(),
        )))
    }

    /// Wraps a client error with this profile.
    pub fn fail(&self, error: ClientError) -> CtlError {
        CtlError::client(error, &self.profile)
    }

    /// The lot's time zone (for wall-clock times).
    pub async fn lot_zone(&self, client: &Client, lot: Uuid) -> Result<Tz, CtlError> {
        let lot = client.get_lot(lot).await.map_err(|e| self.fail(e))?;
        lot.timezone.parse::<Tz>().map_err(|_| {
            CtlError::Config(format!("the lot's time zone '{}' is unknown", lot.timezone))
        })
    }

    /// Resolves a time given on the command line, in `lot`'s zone when the
    /// form needs one, echoing it on stderr.
    pub async fn time(
        &self,
        client: &Client,
        lot: Option<Uuid>,
        label: &str,
        text: &str,
    ) -> Result<DateTime<Utc>, CtlError> {
        let spec = crate::time::TimeSpec::parse(text, Utc::now())?;
        let zone = match (spec.needs_zone(), lot) {
            (true, Some(lot)) => self.lot_zone(client, lot).await?,
            _ => chrono_tz::UTC,
        };
        resolve_echo(label, text, zone)
    }

    /// [`Context::time`] of an optional flag; `None` when it was not given.
    pub async fn optional_time(
        &self,
        client: &Client,
        lot: Option<Uuid>,
        label: &str,
        text: Option<&str>,
    ) -> Result<Option<DateTime<Utc>>, CtlError> {
        match text {
            Some(text) => Ok(Some(self.time(client, lot, label, text).await?)),
            None => Ok(None),
        }
    }
}

/// Parses a UUID argument.
pub fn parse_id(what: &str, text: &str) -> Result<Uuid, CtlError> {
    text.parse()
        .map_err(|_| CtlError::Usage(format!("bad {what} id '{text}': expected a UUID")))
}
