//! [`CtlError`]: every failure parkctl reports, its exit code and its hint.

use parking_client::{AuthError, ClientError};

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: any other error (server down, server error, config).
pub const EXIT_ERROR: u8 = 1;
/// Exit code: bad usage (flags, times, files).
pub const EXIT_USAGE: u8 = 2;
/// Exit code: the server refused because of a conflict (409).
pub const EXIT_CONFLICT: u8 = 3;
/// Exit code: not found (404).
pub const EXIT_NOT_FOUND: u8 = 4;
/// Exit code: not logged in or not allowed (401/403).
pub const EXIT_AUTH: u8 = 5;

/// A failed command.
#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    /// Bad input that the server never saw.
    #[error("{0}")]
    Usage(String),
    /// The configuration file could not be read or written.
    #[error("{0}")]
    Config(String),
    /// A call to parkd failed.
    #[error("{error}")]
    Client {
        /// What went wrong.
        error: ClientError,
        /// The profile in use, named in hints.
        profile: String,
    },
    /// A rate card file the server refused; every field error is listed.
    #[error("{file}: {error}")]
    Rejected {
        /// The file sent.
        file: String,
        /// The 422 answer.
        error: ClientError,
    },
    /// A command that failed with its own exit code and hint (an import with
    /// rows the server refused, a lot that still has bookings).
    #[error("{message}")]
    Failed {
        /// The one line to print.
        message: String,
        /// The documented exit code.
        code: u8,
        /// What to do about it.
        hint: Option<String>,
    },
}

impl CtlError {
    /// Wraps a client error with the profile it happened under.
    pub fn client(error: ClientError, profile: &str) -> Self {
        CtlError::Client {
            error,
            profile: profile.to_owned(),
        }
    }

    /// The documented exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            CtlError::Usage(_) => EXIT_USAGE,
            CtlError::Config(_) => EXIT_ERROR,
            CtlError::Rejected { .. } => EXIT_USAGE,
            CtlError::Failed { code, .. } => *code,
            CtlError::Client { error, .. } => match error {
                ClientError::Auth(_) => EXIT_AUTH,
                ClientError::Api { status, .. } => match status {
                    401 | 403 => EXIT_AUTH,
                    404 => EXIT_NOT_FOUND,
                    409 => EXIT_CONFLICT,
                    _ => EXIT_ERROR,
                },
                _ => EXIT_ERROR,
            },
        }
    }

    /// What to do about it, if there is something to say.
    pub fn hint(&self) -> Option<String> {
        match self {
            CtlError::Usage(_) => Some("see parkctl --help".to_owned()),
            CtlError::Config(_) => None,
            CtlError::Rejected { .. } => Some("fix the file and run rates set again".to_owned()),
            CtlError::Failed { hint, .. } => hint.clone(),
            CtlError::Client { error, profile } => match error {
                ClientError::Connect { .. } | ClientError::Timeout { .. } => Some(format!(
                    "is parkd running? fix profile '{profile}' with parkctl login --server URL, or set PARKCTL_SERVER"
                )),
                ClientError::Auth(AuthError::NotLoggedIn) => Some(format!(
                    "run parkctl login --profile {profile} --server URL --email EMAIL"
                )),
                ClientError::Auth(AuthError::SessionExpired(_)) => {
                    Some("log in again with parkctl login".to_owned())
                }
                ClientError::Api { status, .. } => match status {
                    401 => Some("log in again with parkctl login".to_owned()),
                    403 => Some("this needs an operator or admin account".to_owned()),
                    404 => {
                        Some("check the id (parkctl lots list, parkctl bookings list)".to_owned())
                    }
                    409 => Some("pick another time or spot".to_owned()),
                    422 => Some("fix the field named and try again".to_owned()),
                    _ => None,
                },
                _ => None,
            },
        }
    }

    /// Further lines (all field errors of a rejected file).
    pub fn details(&self) -> Vec<String> {
        match self {
            CtlError::Rejected { file, error } => error
                .problem()
                .map(|p| {
                    p.errors
                        .iter()
                        .map(|e| format!("  {file}: {}: {}", e.field, e.message))
                        .collect()
                })
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }
}
