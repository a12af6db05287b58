//! The config file: named profiles (server, email, token pair) and the
//! current one. The code lives in [`parking_client::profiles`] so that
//! parking-tui logs in with the same profiles; this module adapts its errors.

pub use parking_client::profiles::{Config, FileTokens, ProfileError};

use crate::error::CtlError;

impl From<ProfileError> for CtlError {
    fn from(error: ProfileError) -> Self {
        CtlError::Config(error.0)
    }
}
