//! Operations: `GET /health` (liveness) and `GET /ready` (readiness).
//! `GET /metrics` is Prometheus text and has no JSON type.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The outcome of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// Fine.
    Ok,
    /// Not fine; the answer's status code is 503.
    Fail,
}

/// `GET /health`: the process is up and answering.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// Always `ok` when there is an answer at all.
    pub status: CheckStatus,
}

impl Health {
    /// The only answer.
    pub const fn ok() -> Self {
        Health {
            status: CheckStatus::Ok,
        }
    }
}

/// `GET /ready`: the daemon can serve traffic (200) or not (503).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Ready {
    /// `ok` only if every check is.
    pub status: CheckStatus,
    /// The store accepts writes.
    pub storage: CheckStatus,
    /// The schema is at the version this binary expects.
    pub migrations: MigrationsStatus,
}

impl Ready {
    /// Builds the answer; `status` is the conjunction of the checks.
    pub fn new(storage_writable: bool, applied: u32, expected: u32) -> Self {
        let check = |ok: bool| {
            if ok {
                CheckStatus::Ok
            } else {
                CheckStatus::Fail
            }
        };
        let migrations = MigrationsStatus {
            status: check(applied == expected),
            applied,
            expected,
        };
        Ready {
            status: check(storage_writable && migrations.status == CheckStatus::Ok),
            storage: check(storage_writable),
            migrations,
        }
    }

    /// True if the daemon is ready (answer 200, else 503).
    pub fn is_ready(&self) -> bool {
        self.status == CheckStatus::Ok
    }
}

/// Schema version of the store against the binary's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MigrationsStatus {
    /// `ok` when `applied == expected`.
    pub status: CheckStatus,
    /// The newest migration applied to the store.
    pub applied: u32,
    /// The newest migration this binary ships.
    pub expected: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn health_and_readiness_shapes() {
        assert_eq!(
            serde_json::to_value(Health::ok()).expect("serialise"),
            json!({"status": "ok"})
        );
        let ready = Ready::new(true, 3, 3);
        assert!(ready.is_ready());
        assert_eq!(
            serde_json::to_value(&ready).expect("serialise"),
            json!({"status": "ok", "storage": "ok",
                   "migrations": {"status": "ok", "applied": 3, "expected": 3}})
        );
        assert!(!Ready::new(true, 2, 3).is_ready());
        let down = Ready::new(false, 3, 3);
        assert_eq!(
            (down.status, down.storage),
            (CheckStatus::Fail, CheckStatus::Fail)
        );
    }
}
