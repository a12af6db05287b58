//! The PostgreSQL backend: a city's database, shared by several parkd
//! instances.
//!
//! Layout:
//! - [`migrate`]: `migrations/postgres/NNNN_*.sql` compiled in, applied in
//!   order under an advisory lock, recorded in `schema_migrations`; a newer
//!   schema is refused.
//! - [`rows`]: the one place where rows become domain values.
//! - `users`, `lots`, `reservations`, `events`, `payments`: the SQL of each part, as
//!   functions over a [`tokio_postgres::GenericClient`].
//! - [`store`]: [`PgStore`], the [`Store`](super::interface::Store) over a
//!   connection pool, with a transaction helper ([`in_transaction!`]) that
//!   retries serialization failures and deadlocks.
//! - [`cluster`]: what several instances need: `LISTEN/NOTIFY`, the job lock.
//! - [`scratch`]: throwaway databases for tests.
//! - [`import`]: `parkd migrate-data`, a single-lot installation into a city.
//!
//! # Errors
//!
//! [`Failure`] carries either a driver error or a domain [`StoreError`] through
//! `?`; [`Failure::into_store`] is where SQLSTATEs become domain errors: an
//! exclusion violation (`23P01`, the no-overlap constraint) and unique, foreign
//! key and check violations are conflicts, a lost connection or a statement
//! timeout is `Unavailable` (the API answers 503 with `Retry-After`).
//!
//! # Durability
//!
//! An acknowledged write has committed with `synchronous_commit` as the server
//! has it (on by default: flushed to the WAL), so it survives a crash of parkd
//! and of PostgreSQL.

pub mod cluster;
pub mod import;
pub mod migrate;
pub mod rows;
pub mod scratch;
pub mod store;

mod cursors;
mod events;
mod lots;
mod payments;
mod realtime;
mod reservations;
mod sensors;
mod users;

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Config as PgConfig, NoTls};

pub use store::PgStore;

use super::StoreError;

/// Tuning for [`PgStore::connect`]. `Default` is what parkd ships with.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Connections in the pool of each instance.
    pub pool_size: usize,
    /// Longest a statement may run before the server cancels it.
    pub statement_timeout: Duration,
    /// Longest a request waits for a pooled connection or for a new one.
    pub connect_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            pool_size: 16,
            statement_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// Whether `url` names a PostgreSQL database (`postgres://` or `postgresql://`).
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Parses a connection URL and applies the options every parkd connection
/// carries (statement timeout, UTC, application name).
pub fn connection_config(url: &str, options: &PgOptions) -> Result<PgConfig, StoreError> {
    let mut config: PgConfig = url
        .parse()
        .map_err(|e| StoreError::Internal(format!("invalid PostgreSQL URL: {e}")))?;
    config.options(format!(
        "-c statement_timeout={} -c TimeZone=UTC",
        options.statement_timeout.as_millis()
    ));
    config.application_name("parkd");
    config.connect_timeout(options.connect_timeout);
    Ok(config)
}

/// A pool over `url`. Connections are made lazily; a broken one is dropped at
/// its next checkout, so the pool heals when the database comes back.
pub fn pool(url: &str, options: &PgOptions) -> Result<Pool, StoreError> {
    let config = connection_config(url, options)?;
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            // `Fast` costs no round trip at checkout: a connection the server
            // closed (a restart) is already marked closed and is replaced; a
            // request that still meets a dead one gets a 503 and the pool
            // drops it.
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(options.pool_size.max(1))
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(options.connect_timeout))
        .create_timeout(Some(options.connect_timeout))
        .recycle_timeout(Some(options.connect_timeout))
        .build()
        .map_err(|e| StoreError::Internal(format!("building the connection pool: {e}")))
}

/// An error inside a store operation: the driver's, or a domain answer.
#[derive(Debug)]
pub enum Failure {
    /// From PostgreSQL or the connection.
    Pg(tokio_postgres::Error),
    /// A domain answer (not found, a changed row) or a pool failure.
    Store(StoreError),
}

impl From<tokio_postgres::Error> for Failure {
    fn from(e: tokio_postgres::Error) -> Self {
        Failure::Pg(e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e)
    }
}

impl From<deadpool_postgres::PoolError> for Failure {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => Failure::Pg(e),
            other => Failure::Store(StoreError::Unavailable(format!(
                "no database connection: {other}"
            ))),
        }
    }
}

impl Failure {
    /// A transient failure worth running the whole transaction again for.
    pub fn retryable(&self) -> bool {
        matches!(self, Failure::Pg(e) if matches!(
            e.code(),
            Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
        ))
    }

    /// The domain error.
    pub fn into_store(self) -> StoreError {
        match self {
            Failure::Store(e) => e,
            Failure::Pg(e) => map_err(&e),
        }
    }
}

/// The one place where a driver error becomes a [`StoreError`].
pub fn map_err(e: &tokio_postgres::Error) -> StoreError {
    let Some(db) = e.as_db_error() else {
        // No server answer: the connection is gone or could not be made.
        return StoreError::Unavailable(format!("database connection: {e}"));
    };
    let code = db.code();
    if *code == SqlState::EXCLUSION_VIOLATION {
        // The same message as SQLite's trigger, so callers see one conflict.
        return StoreError::Conflict("reservation_overlap".into());
    }
    if *code == SqlState::UNIQUE_VIOLATION
        || *code == SqlState::FOREIGN_KEY_VIOLATION
        || *code == SqlState::CHECK_VIOLATION
        || *code == SqlState::NOT_NULL_VIOLATION
    {
        let what = db.constraint().unwrap_or(db.message());
        return StoreError::Conflict(format!("{}: {what}", db.message()));
    }
    if *code == SqlState::QUERY_CANCELED
        || *code == SqlState::ADMIN_SHUTDOWN
        || *code == SqlState::CRASH_SHUTDOWN
        || *code == SqlState::CANNOT_CONNECT_NOW
        || *code == SqlState::TOO_MANY_CONNECTIONS
        || *code == SqlState::READ_ONLY_SQL_TRANSACTION
        || *code == SqlState::T_R_SERIALIZATION_FAILURE
        || *code == SqlState::T_R_DEADLOCK_DETECTED
        || code.code().starts_with("08")
        || code.code().starts_with("53")
        || code.code().starts_with("57P")
    {
        return StoreError::Unavailable(format!("database: {}", db.message()));
    }
    StoreError::Internal(format!("database error {}: {}", code.code(), db.message()))
}

/// Runs `$body` in a transaction on a connection of `$pool`, bound to `$tx`,
/// and commits; the whole transaction runs again (at most three more times,
/// with a short back-off) on a serialization failure or a deadlock. `$body`
/// may use `?` on driver and store errors; the result is
/// `Result<T, StoreError>`.
#[macro_export]
#[doc(hidden)]
macro_rules! pg_transaction {
    ($pool:expr, $tx:ident => $body:expr) => {{
        let mut attempt: u32 = 0;
        loop {
            let result: Result<_, $crate::store::postgres::Failure> = async {
                let mut client = $pool.get().await?;
                let $tx = client.transaction().await?;
                let value = $body;
                $tx.commit().await?;
                Ok(value)
            }
            .await;
            match result {
                Err(failure) if failure.retryable() && attempt < 3 => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(5 * u64::from(attempt)))
                        .await;
                }
                other => break other.map_err($crate::store::postgres::Failure::into_store),
            }
        }
    }};
}

pub use pg_transaction as in_transaction;

/// Statements go through each connection's statement cache: the hot paths
/// (booking, reading a reservation) then cost one round trip each.
pub(crate) mod sql {
    use deadpool_postgres::GenericClient;
    use tokio_postgres::Row;
    use tokio_postgres::types::ToSql;

    use super::Failure;
    use crate::store::interface::PageRequest;

    /// Parameters of a statement.
    pub type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

    /// Every row.
    pub async fn query<C: GenericClient>(
        c: &C,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Vec<Row>, Failure> {
        let statement = c.prepare_cached(sql).await?;
        Ok(c.query(&statement, params).await?)
    }

    /// At most one row.
    pub async fn query_opt<C: GenericClient>(
        c: &C,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Option<Row>, Failure> {
        let statement = c.prepare_cached(sql).await?;
        Ok(c.query_opt(&statement, params).await?)
    }

    /// Exactly one row.
    pub async fn query_one<C: GenericClient>(
        c: &C,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Row, Failure> {
        let statement = c.prepare_cached(sql).await?;
        Ok(c.query_one(&statement, params).await?)
    }

    /// Rows changed.
    pub async fn execute<C: GenericClient>(
        c: &C,
        sql: &str,
        params: Params<'_>,
    ) -> Result<u64, Failure> {
        let statement = c.prepare_cached(sql).await?;
        Ok(c.execute(&statement, params).await?)
    }

    /// The conditions of a filtered, paged listing; each condition's `?`
    /// becomes the next numbered parameter.
    #[derive(Default)]
    pub struct Listing {
        clauses: Vec<String>,
        args: Vec<Box<dyn ToSql + Sync + Send>>,
    }

    impl Listing {
        /// Adds a condition whose `?` is `value`.
        pub fn bind<T: ToSql + Sync + Send + 'static>(&mut self, clause: &str, value: T) {
            self.args.push(Box::new(value));
            self.clauses
                .push(clause.replace('?', &format!("${}", self.args.len())));
        }

        /// Adds a condition without a parameter.
        pub fn plain(&mut self, clause: &str) {
            self.clauses.push(clause.to_owned());
        }

        /// One page of `SELECT {columns} {from}` under the conditions,
        /// ordered by `order`, and the count of all the rows they match.
        pub async fn page<C: GenericClient>(
            &self,
            c: &C,
            columns: &str,
            from: &str,
            order: &str,
            page: PageRequest,
        ) -> Result<(Vec<Row>, i64), Failure> {
            let condition = if self.clauses.is_empty() {
                String::new()
            } else {
                format!("WHERE {}", self.clauses.join(" AND "))
            };
            let mut params: Vec<&(dyn ToSql + Sync)> = self
                .args
                .iter()
                .map(|a| a.as_ref() as &(dyn ToSql + Sync))
                .collect();
            let total: i64 = query_one(c, &format!("SELECT COUNT(*) {from} {condition}"), &params)
                .await?
                .try_get(0)?;
            let limit = i64::from(page.per_page);
            let offset = i64::try_from(page.offset()).unwrap_or(i64::MAX);
            let n = params.len();
            params.push(&limit);
            params.push(&offset);
            let rows = query(
                c,
                &format!(
                    "SELECT {columns} {from} {condition} ORDER BY {order} LIMIT ${} OFFSET ${}",
                    n + 1,
                    n + 2
                ),
                &params,
            )
            .await?;
            Ok((rows, total))
        }
    }
}
