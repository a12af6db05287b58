//! [`ClientError`]: what can go wrong talking to parkd, each variant one line
//! when displayed, so a CLI can print it as it is.

use parking_api::Problem;

/// A failed call.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// parkd answered with an error status and a problem (RFC 9457) body.
    #[error("{}", problem_line(problem))]
    Api {
        /// The HTTP status.
        status: u16,
        /// The problem parkd sent (or one made up from a non-problem body);
        /// boxed to keep `Result`s small.
        problem: Box<Problem>,
    },
    /// The server could not be reached.
    #[error("cannot connect to {server}: {}", root_cause(source))]
    Connect {
        /// The base URL that was tried.
        server: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The server did not answer in time.
    #[error("{server} did not answer in time")]
    Timeout {
        /// The base URL that was tried.
        server: String,
    },
    /// The answer was not the JSON expected.
    #[error("unexpected answer from the server: {message}")]
    Decode {
        /// What did not parse, and why.
        message: String,
    },
    /// Not logged in, or the session could not be renewed.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Any other transport failure (bad URL, broken body).
    #[error("request failed: {}", root_cause(.0))]
    Transport(#[source] reqwest::Error),
}

/// Why an authenticated call could not be made.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No token pair is known.
    #[error("not logged in")]
    NotLoggedIn,
    /// The access token expired and the refresh token was refused.
    #[error("the session has expired ({})", problem_line(.0))]
    SessionExpired(Box<Problem>),
}

impl ClientError {
    /// The HTTP status of an API error; 401 for a local auth failure.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            ClientError::Auth(_) => Some(401),
            _ => None,
        }
    }

    /// The problem parkd sent, if any.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            ClientError::Api { problem, .. } => Some(problem),
            ClientError::Auth(AuthError::SessionExpired(problem)) => Some(problem),
            _ => None,
        }
    }
}

/// `detail (field: message)`, noting how many more field errors there are.
fn problem_line(problem: &Problem) -> String {
    let detail = if problem.detail.is_empty() {
        problem.title.as_str()
    } else {
        problem.detail.as_str()
    };
    match problem.errors.as_slice() {
        [] => detail.to_owned(),
        [first] => format!("{detail} ({}: {})", first.field, first.message),
        [first, rest @ ..] => format!(
            "{detail} ({}: {}; {} more)",
            first.field,
            first.message,
            rest.len()
        ),
    }
}

/// The innermost cause, which for connection errors is the useful part
/// ("Connection refused").
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use parking_api::FieldError;

    #[test]
    fn api_errors_are_one_line_with_the_first_field() {
        let problem = Problem::validation(vec![
            FieldError::new("end_time", "must be after start_time"),
            FieldError::new("spot_type", "unknown"),
        ]);
        let error = ClientError::Api {
            status: 422,
            problem: Box::new(problem),
        };
        let text = error.to_string();
        assert!(
            text.contains("(end_time: must be after start_time; 1 more)"),
            "{text}"
        );
        assert!(!text.contains('\n'));
        assert_eq!(error.status(), Some(422));
    }
}
