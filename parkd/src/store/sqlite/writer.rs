//! The group-commit writer.
//!
//! One dedicated OS thread owns the only read-write connection. Callers hand it
//! operations over a bounded channel ([`Writer::run`]); the thread blocks for
//! the first operation, drains whatever else is already waiting (up to
//! `max_batch`), and runs the lot inside ONE transaction, each operation inside
//! its own `SAVEPOINT`. An operation that fails is rolled back to its savepoint
//! and released, so it does not fail its batch-mates. The thread then commits
//! once — one fsync for the whole batch — and only after the commit answers
//! every caller, so an `Ok` always means "committed". If the commit fails,
//! every operation in the batch gets the error.
//!
//! A dedicated thread rather than `spawn_blocking`: the connection is used
//! continuously, must never be shared, and a long-lived thread keeps the
//! statement cache warm.
//!
//! Shutdown: [`Writer::shutdown`] refuses new operations, lets the thread run
//! and commit everything already queued, and resolves once the thread has
//! exited. Dropping the [`Writer`] does the same without waiting.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU64, Ordering};
use std::time::Instant;

use rusqlite::{Connection, Transaction, TransactionBehavior};
use tokio::sync::{mpsc, oneshot, watch};

use super::{SqliteOptions, map_err};
use crate::store::StoreError;

/// Counters of the writer's work, for metrics and tests.
#[derive(Debug, Default)]
pub struct WriterStats {
    batches: AtomicU64,
    ops: AtomicU64,
    failed_ops: AtomicU64,
    failed_commits: AtomicU64,
    max_batch: AtomicU64,
}

impl WriterStats {
    /// Transactions committed (or attempted).
    pub fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }

    /// Operations run, successful or not.
    pub fn ops(&self) -> u64 {
        self.ops.load(Ordering::Relaxed)
    }

    /// Operations that returned an error (and were rolled back to their
    /// savepoint).
    pub fn failed_ops(&self) -> u64 {
        self.failed_ops.load(Ordering::Relaxed)
    }

    /// Batches whose `BEGIN` or `COMMIT` failed.
    pub fn failed_commits(&self) -> u64 {
        self.failed_commits.load(Ordering::Relaxed)
    }

    /// The largest batch so far.
    pub fn max_batch(&self) -> u64 {
        self.max_batch.load(Ordering::Relaxed)
    }

    fn record(&self, size: usize, failed: usize) {
        let size = size as u64;
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.ops.fetch_add(size, Ordering::Relaxed);
        self.failed_ops.fetch_add(failed as u64, Ordering::Relaxed);
        self.max_batch.fetch_max(size, Ordering::Relaxed);
    }
}

/// An operation waiting for the writer thread, with its reply channel.
trait Job: Send {
    /// Runs the operation inside the batch's transaction (the caller wraps it
    /// in a savepoint). The answer is held back until the commit.
    fn run(self: Box<Self>, tx: &Transaction<'_>) -> Box<dyn Finished>;
    /// Answers the caller without running the operation.
    fn reject(self: Box<Self>, err: StoreError);
}

/// An operation that has run and waits for its batch to commit.
trait Finished: Send {
    /// Whether the operation itself returned an error.
    fn failed(&self) -> bool;
    /// Sends the answer: the operation's own result once `commit` is `Ok`;
    /// otherwise the commit's error (a failed operation keeps its own error).
    fn deliver(self: Box<Self>, commit: Result<(), &StoreError>);
}

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

struct OpJob<F, T> {
    op: F,
    reply: Reply<T>,
}

impl<F, T> Job for OpJob<F, T>
where
    F: FnOnce(&Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    T: Send + 'static,
{
    fn run(self: Box<Self>, tx: &Transaction<'_>) -> Box<dyn Finished> {
        let OpJob { op, reply } = *self;
        // A panicking operation must not take the writer thread (and every
        // future write) down with it.
        let result = catch_unwind(AssertUnwindSafe(|| op(tx)))
            .unwrap_or_else(|_| Err(StoreError::Internal("store operation panicked".into())));
        Box::new(Done { result, reply })
    }

    fn reject(self: Box<Self>, err: StoreError) {
        // The caller may have stopped waiting; nothing to do then.
        let _ = self.reply.send(Err(err));
    }
}

struct Done<T> {
    result: Result<T, StoreError>,
    reply: Reply<T>,
}

impl<T: Send> Finished for Done<T> {
    fn failed(&self) -> bool {
        self.result.is_err()
    }

    fn deliver(self: Box<Self>, commit: Result<(), &StoreError>) {
        let answer = match (self.result, commit) {
            (Ok(_), Err(e)) => Err(e.clone()),
            (result, _) => result,
        };
        let _ = self.reply.send(answer);
    }
}

enum Msg {
    Op(Box<dyn Job>),
    Shutdown,
}

/// The handle to the writer thread. Not `Clone`: share it through the owning
/// [`super::SqliteDb`] (e.g. in an `Arc`).
#[derive(Debug)]
pub struct Writer {
    sender: mpsc::Sender<Msg>,
    closed: AtomicBool,
    stats: Arc<WriterStats>,
    /// Operations fully in the queue and not yet taken by the thread. Counted
    /// after `send` completes (not from the channel's free capacity, which
    /// also counts a send that has a slot but has not pushed yet), so that
    /// `queued() >= n` guarantees the next drain sees those `n` operations.
    /// Briefly negative when the thread takes an op before its sender counts it.
    pending: Arc<AtomicIsize>,
    exited: watch::Receiver<bool>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Msg::Op(_) => f.write_str("Op"),
            Msg::Shutdown => f.write_str("Shutdown"),
        }
    }
}

impl Writer {
    /// Starts the writer thread on `conn`, which must be the configured,
    /// migrated read-write connection.
    pub fn start(conn: Connection, options: &SqliteOptions) -> Result<Writer, StoreError> {
        let (sender, receiver) = mpsc::channel(options.queue_capacity.max(1));
        let stats = Arc::new(WriterStats::default());
        let (exited_tx, exited) = watch::channel(false);
        let thread_stats = Arc::clone(&stats);
        let pending = Arc::new(AtomicIsize::new(0));
        let thread_pending = Arc::clone(&pending);
        let max_batch = options.max_batch.max(1);
        std::thread::Builder::new()
            .name("parkd-sqlite-writer".into())
            .spawn(move || {
                // Signals exit even if the loop panics.
                let _exit = ExitSignal(exited_tx);
                writer_loop(conn, receiver, &thread_stats, &thread_pending, max_batch);
            })
            .map_err(|e| StoreError::Unavailable(format!("cannot start writer thread: {e}")))?;
        Ok(Writer {
            sender,
            closed: AtomicBool::new(false),
            stats,
            pending,
            exited,
        })
    }

    /// Runs `op` inside the writer's transaction and answers once its batch
    /// has committed: `Ok` means the write is durable (see the module docs of
    /// `sqlite` for what durable means under each `synchronous` setting).
    ///
    /// `op` runs on the writer thread inside its own savepoint; returning an
    /// error rolls back what it did and leaves its batch-mates alone. Keep it
    /// short and free of I/O other than the database: every other write waits
    /// for it. Dropping the returned future does not cancel a queued write.
    pub async fn run<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Unavailable("the writer is shut down".into()));
        }
        let (reply, answer) = oneshot::channel();
        self.sender
            .send(Msg::Op(Box::new(OpJob { op, reply })))
            .await
            .map_err(|_| StoreError::Unavailable("the writer is shut down".into()))?;
        self.pending.fetch_add(1, Ordering::AcqRel);
        answer.await.map_err(|_| {
            StoreError::Unavailable("the writer stopped before committing the operation".into())
        })?
    }

    /// The writer's counters.
    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }

    /// Operations (and a pending shutdown request) queued and not yet taken by
    /// the writer thread.
    pub fn queued(&self) -> usize {
        usize::try_from(self.pending.load(Ordering::Acquire)).unwrap_or(0)
    }

    /// Refuses new operations, lets the thread run and commit everything
    /// already queued, and resolves when the thread has exited. Calling it
    /// again (or concurrently) just waits for the same exit.
    pub async fn shutdown(&self) {
        self.closed.store(true, Ordering::Release);
        // Err means the thread is already gone.
        if self.sender.send(Msg::Shutdown).await.is_ok() {
            self.pending.fetch_add(1, Ordering::AcqRel);
        }
        let mut exited = self.exited.clone();
        // Err means the signal's sender is gone, i.e. the thread has exited.
        let _ = exited.wait_for(|done| *done).await;
    }

    /// Whether the writer thread has exited.
    pub fn has_exited(&self) -> bool {
        *self.exited.borrow()
    }
}

/// Tells waiters in [`Writer::shutdown`] that the thread is gone.
struct ExitSignal(watch::Sender<bool>);

impl Drop for ExitSignal {
    fn drop(&mut self) {
        self.0.send_replace(true);
    }
}

fn writer_loop(
    mut conn: Connection,
    mut receiver: mpsc::Receiver<Msg>,
    stats: &WriterStats,
    pending: &AtomicIsize,
    max_batch: usize,
) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(max_batch);
    // `blocking_recv` returns None once every sender is dropped (or the
    // channel is closed) *and* the queue is empty: queued work always runs.
    while let Some(first) = receiver.blocking_recv() {
        match first {
            Msg::Shutdown => {
                pending.fetch_sub(1, Ordering::AcqRel);
                receiver.close();
                continue;
            }
            Msg::Op(job) => {
                pending.fetch_sub(1, Ordering::AcqRel);
                batch.push(job);
            }
        }
        while batch.len() < max_batch {
            match receiver.try_recv() {
                Ok(Msg::Op(job)) => {
                    pending.fetch_sub(1, Ordering::AcqRel);
                    batch.push(job);
                }
                Ok(Msg::Shutdown) => {
                    pending.fetch_sub(1, Ordering::AcqRel);
                    receiver.close();
                }
                Err(_) => break,
            }
        }
        run_batch(&mut conn, &mut batch, stats);
    }
    tracing::debug!("sqlite writer thread exiting");
}

const SAVEPOINT: &str = "SAVEPOINT parkd_op";
const RELEASE: &str = "RELEASE parkd_op";
const ROLLBACK_TO: &str = "ROLLBACK TO parkd_op; RELEASE parkd_op";

/// Runs one batch in one transaction and answers every job in it.
fn run_batch(conn: &mut Connection, batch: &mut Vec<Box<dyn Job>>, stats: &WriterStats) {
    let size = batch.len();
    let started = Instant::now();
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let err = map_err(e);
            tracing::error!(error = %err, ops = size, "sqlite writer could not begin a transaction");
            stats.failed_commits.fetch_add(1, Ordering::Relaxed);
            stats.record(size, size);
            for job in batch.drain(..) {
                job.reject(err.clone());
            }
            return;
        }
    };
    let mut finished: Vec<Box<dyn Finished>> = Vec::with_capacity(size);
    let mut failed = 0;
    let mut jobs = batch.drain(..);
    let mut abort: Option<StoreError> = None;
    for job in jobs.by_ref() {
        if let Err(e) = tx.execute_batch(SAVEPOINT) {
            job.reject(map_err(e));
            failed += 1;
            continue;
        }
        let done = job.run(&tx);
        if tx.is_autocommit() {
            // SQLite rolled the whole transaction back under us (an I/O
            // error, a full disk, or an op that ran COMMIT/ROLLBACK itself):
            // nothing done so far in this batch survives.
            abort = Some(StoreError::Unavailable(
                "the transaction was rolled back by SQLite".into(),
            ));
            finished.push(done);
            break;
        }
        let cleanup = if done.failed() {
            failed += 1;
            ROLLBACK_TO
        } else {
            RELEASE
        };
        finished.push(done);
        if let Err(e) = tx.execute_batch(cleanup) {
            abort = Some(map_err(e));
            break;
        }
    }
    let outcome = match abort {
        Some(err) => {
            drop(tx);
            Err(err)
        }
        None => tx.commit().map_err(map_err),
    };
    stats.record(size, failed);
    match &outcome {
        Ok(()) => tracing::trace!(
            ops = size,
            failed,
            elapsed_us = started.elapsed().as_micros() as u64,
            "sqlite group commit"
        ),
        Err(err) => {
            stats.failed_commits.fetch_add(1, Ordering::Relaxed);
            tracing::error!(error = %err, ops = size, "sqlite group commit failed");
        }
    }
    for done in finished {
        done.deliver(outcome.as_ref().map(|_| ()));
    }
    if let Err(err) = &outcome {
        for job in jobs {
            job.reject(err.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader};
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::store::sqlite::{SqliteDb, SqliteOptions};

    fn open_db() -> (tempfile::TempDir, PathBuf, Arc<SqliteDb>) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("parkd.db");
        let db = SqliteDb::open(&path, SqliteOptions::default()).expect("open db");
        (dir, path, Arc::new(db))
    }

    fn insert_tenant(tx: &Transaction<'_>, name: &str) -> Result<(), StoreError> {
        tx.execute(
            "INSERT INTO tenants (id, name, created_us) VALUES (?1, ?1, 0)",
            [name],
        )
        .map(|_| ())
        .map_err(map_err)
    }

    /// Queues a write of tenant `name` and returns its pending answer.
    fn spawn_insert(
        db: &Arc<SqliteDb>,
        name: &str,
    ) -> tokio::task::JoinHandle<Result<(), StoreError>> {
        let db = Arc::clone(db);
        let name = name.to_owned();
        tokio::spawn(async move { db.writer().run(move |tx| insert_tenant(tx, &name)).await })
    }

    /// Occupies the writer thread until the returned sender is used (or
    /// dropped), so that everything queued meanwhile forms the next batch.
    async fn hold_writer(
        db: &Arc<SqliteDb>,
    ) -> (
        std::sync::mpsc::Sender<()>,
        tokio::task::JoinHandle<Result<(), StoreError>>,
    ) {
        let (open, gate) = std::sync::mpsc::channel::<()>();
        let (entered_tx, entered) = oneshot::channel::<()>();
        let db2 = Arc::clone(db);
        let held = tokio::spawn(async move {
            db2.writer()
                .run(move |_tx| {
                    let _ = entered_tx.send(());
                    let _ = gate.recv();
                    Ok(())
                })
                .await
        });
        entered.await.expect("writer thread entered the gate op");
        (open, held)
    }

    async fn wait_queued(db: &SqliteDb, n: usize) {
        for _ in 0..2000 {
            if db.writer().queued() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("only {} of {n} ops queued", db.writer().queued());
    }

    fn count_tenants_fresh(path: &Path) -> i64 {
        let conn = Connection::open(path).expect("fresh connection");
        conn.query_row("SELECT count(*) FROM tenants", [], |r| r.get(0))
            .expect("count tenants")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_writes_are_group_committed() {
        let (_dir, _path, db) = open_db();
        let handles: Vec<_> = (0..200)
            .map(|i| spawn_insert(&db, &format!("tenant-{i:03}")))
            .collect();
        for h in handles {
            h.await.expect("task").expect("insert committed");
        }
        let stats = db.writer().stats();
        eprintln!(
            "group commit: {} ops in {} batches (max batch {}, mean {:.1})",
            stats.ops(),
            stats.batches(),
            stats.max_batch(),
            stats.ops() as f64 / stats.batches() as f64
        );
        assert_eq!(stats.ops(), 200);
        assert!(
            stats.batches() < 200,
            "no batching: {} batches",
            stats.batches()
        );
        assert!(stats.max_batch() > 1);
        let names: Vec<String> = db
            .readers()
            .read(|conn| {
                let mut stmt = conn
                    .prepare("SELECT name FROM tenants ORDER BY name")
                    .map_err(map_err)?;
                let rows = stmt
                    .query_map([], |r| r.get(0))
                    .map_err(map_err)?
                    .collect::<Result<Vec<String>, _>>()
                    .map_err(map_err)?;
                Ok(rows)
            })
            .await
            .expect("read back");
        let expected: Vec<String> = (0..200).map(|i| format!("tenant-{i:03}")).collect();
        assert_eq!(names, expected);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn failing_op_does_not_fail_its_batch_mates() {
        let (_dir, path, db) = open_db();
        db.writer()
            .run(|tx| insert_tenant(tx, "taken"))
            .await
            .expect("seed");
        let (open, held) = hold_writer(&db).await;
        let mut good = Vec::new();
        for i in 0..8 {
            good.push(spawn_insert(&db, &format!("ok-{i}")));
            wait_queued(&db, good.len()).await;
        }
        // Writes a row, then hits the unique key: the whole op must vanish.
        let dup = {
            let db = Arc::clone(&db);
            tokio::spawn(async move {
                db.writer()
                    .run(|tx| {
                        insert_tenant(tx, "partial")?;
                        insert_tenant(tx, "taken")
                    })
                    .await
            })
        };
        wait_queued(&db, 9).await;
        let twin_a = spawn_insert(&db, "twin");
        wait_queued(&db, 10).await;
        let twin_b = spawn_insert(&db, "twin");
        wait_queued(&db, 11).await;
        let batches_before = db.writer().stats().batches();
        open.send(()).expect("open the gate");
        held.await.expect("task").expect("gate op");

        for g in good {
            g.await.expect("task").expect("batch-mate committed");
        }
        let err = dup.await.expect("task").expect_err("duplicate refused");
        assert_eq!(
            err,
            StoreError::Conflict("UNIQUE constraint failed: tenants.name".into())
        );
        twin_a.await.expect("task").expect("first twin wins");
        let err = twin_b
            .await
            .expect("task")
            .expect_err("second twin refused");
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

        let stats = db.writer().stats();
        // The gate op's batch, then the 11 queued ops together.
        assert_eq!(stats.batches() - batches_before, 2);
        assert_eq!(stats.max_batch(), 11);
        assert_eq!(stats.failed_ops(), 2);
        // seed + 8 + first twin; not "partial".
        assert_eq!(count_tenants_fresh(&path), 10);
        let partial: i64 = Connection::open(&path)
            .expect("fresh")
            .query_row(
                "SELECT count(*) FROM tenants WHERE name = 'partial'",
                [],
                |r| r.get(0),
            )
            .expect("count");
        assert_eq!(partial, 0, "the failed op was rolled back to its savepoint");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_panicking_op_is_an_internal_error_and_the_writer_lives_on() {
        let (_dir, path, db) = open_db();
        let (open, held) = hold_writer(&db).await;
        let before = spawn_insert(&db, "before");
        wait_queued(&db, 1).await;
        let boom = {
            let db = Arc::clone(&db);
            tokio::spawn(async move {
                db.writer()
                    .run(|tx| -> Result<(), StoreError> {
                        insert_tenant(tx, "boom")?;
                        panic!("op panics on purpose");
                    })
                    .await
            })
        };
        wait_queued(&db, 2).await;
        let after = spawn_insert(&db, "after");
        wait_queued(&db, 3).await;
        open.send(()).expect("open the gate");
        held.await.expect("task").expect("gate op");
        before.await.expect("task").expect("before committed");
        after.await.expect("task").expect("after committed");
        let err = boom.await.expect("task").expect_err("panic reported");
        assert!(matches!(err, StoreError::Internal(_)), "{err:?}");
        db.writer()
            .run(|tx| insert_tenant(tx, "later"))
            .await
            .expect("writer still serves");
        assert_eq!(count_tenants_fresh(&path), 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_batch_rolled_back_under_the_writer_acknowledges_nothing() {
        let (_dir, path, db) = open_db();
        let (open, held) = hold_writer(&db).await;
        let first = spawn_insert(&db, "first");
        wait_queued(&db, 1).await;
        // A misbehaving op ends the transaction itself.
        let rogue = {
            let db = Arc::clone(&db);
            tokio::spawn(async move {
                db.writer()
                    .run(|tx| tx.execute_batch("ROLLBACK").map_err(map_err))
                    .await
            })
        };
        wait_queued(&db, 2).await;
        let last = spawn_insert(&db, "last");
        wait_queued(&db, 3).await;
        open.send(()).expect("open the gate");
        held.await.expect("task").expect("gate op");
        for (which, h) in [("first", first), ("rogue", rogue), ("last", last)] {
            let answer = h.await.expect("task");
            assert!(
                matches!(answer, Err(StoreError::Unavailable(_))),
                "{which}: {answer:?}"
            );
        }
        assert_eq!(count_tenants_fresh(&path), 0);
        db.writer()
            .run(|tx| insert_tenant(tx, "recovered"))
            .await
            .expect("next batch works");
        assert_eq!(count_tenants_fresh(&path), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn acknowledged_write_is_visible_to_a_new_connection() {
        let (_dir, path, db) = open_db();
        db.writer()
            .run(|tx| insert_tenant(tx, "durable"))
            .await
            .expect("committed");
        // No shutdown, no checkpoint: a connection opened anew (as a new
        // process would) must see it.
        assert_eq!(count_tenants_fresh(&path), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn shutdown_drains_queued_ops_then_refuses() {
        let (_dir, path, db) = open_db();
        let (open, held) = hold_writer(&db).await;
        let queued: Vec<_> = (0..50)
            .map(|i| spawn_insert(&db, &format!("q-{i}")))
            .collect();
        wait_queued(&db, 50).await;
        let stopping = {
            let db = Arc::clone(&db);
            tokio::spawn(async move { db.shutdown().await })
        };
        wait_queued(&db, 51).await;
        assert!(!db.writer().has_exited());
        open.send(()).expect("open the gate");
        held.await.expect("task").expect("gate op");
        for h in queued {
            h.await.expect("task").expect("queued op committed");
        }
        stopping.await.expect("shutdown finished");
        assert!(db.writer().has_exited());
        let err = db
            .writer()
            .run(|tx| insert_tenant(tx, "too-late"))
            .await
            .expect_err("refused after shutdown");
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
        assert_eq!(count_tenants_fresh(&path), 50);
        // A second shutdown just returns.
        db.shutdown().await;
    }

    /// Throughput probe, not a pass/fail test: 64 concurrent writers, each
    /// op one insert, under both `synchronous` settings. Run with
    /// `cargo test --release -p parkd --lib throughput -- --ignored --nocapture`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "measurement; run by hand"]
    async fn throughput_probe() {
        use crate::store::sqlite::Synchronous;
        for sync in [Synchronous::Full, Synchronous::Normal] {
            let dir = tempfile::tempdir().expect("temp dir");
            let opts = SqliteOptions {
                synchronous: sync,
                ..SqliteOptions::default()
            };
            let db = Arc::new(SqliteDb::open(&dir.path().join("b.db"), opts).expect("open"));
            let per_task = 500;
            let started = Instant::now();
            let tasks: Vec<_> = (0..64)
                .map(|t| {
                    let db = Arc::clone(&db);
                    tokio::spawn(async move {
                        for i in 0..per_task {
                            let name = format!("t{t}-{i}");
                            db.writer()
                                .run(move |tx| insert_tenant(tx, &name))
                                .await
                                .expect("write");
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.expect("task");
            }
            let secs = started.elapsed().as_secs_f64();
            let stats = db.writer().stats();
            eprintln!(
                "{sync:?}: {} ops in {:.2}s = {:.0} ops/s; {} batches, mean {:.1}, max {}",
                stats.ops(),
                secs,
                stats.ops() as f64 / secs,
                stats.batches(),
                stats.ops() as f64 / stats.batches() as f64,
                stats.max_batch()
            );
        }
    }

    const CHILD_ENV: &str = "PARKD_TEST_KILL9_DB";

    /// Spawns this test binary as a child that writes until it is killed.
    #[test]
    fn kill_9_keeps_every_acknowledged_write() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("kill.db");
        let mut child = Command::new(std::env::current_exe().expect("test binary path"))
            .args([
                "--exact",
                "store::sqlite::writer::tests::kill_9_child_writes_until_killed",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("child stdout");
        let mut acked = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("read child output");
            if let Some(name) = line.strip_prefix("ack ") {
                acked.push(name.to_owned());
                if acked.len() >= 300 {
                    break;
                }
            }
        }
        // SIGKILL: no destructors, no shutdown, no checkpoint.
        child.kill().expect("kill -9 the child");
        let _ = child.wait();
        assert!(
            acked.len() >= 300,
            "child acknowledged only {}",
            acked.len()
        );

        let conn = Connection::open(&path).expect("reopen after kill");
        let mut stmt = conn
            .prepare("SELECT count(*) FROM tenants WHERE name = ?1")
            .expect("prepare");
        for name in &acked {
            let n: i64 = stmt.query_row([name], |r| r.get(0)).expect("query");
            assert_eq!(n, 1, "acknowledged write {name} lost by kill -9");
        }
    }

    /// The child half of `kill_9_keeps_every_acknowledged_write`.
    #[test]
    #[ignore = "runs only as the child process of kill_9_keeps_every_acknowledged_write"]
    fn kill_9_child_writes_until_killed() {
        let Some(path) = std::env::var_os(CHILD_ENV) else {
            return;
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let db =
                Arc::new(SqliteDb::open(Path::new(&path), SqliteOptions::default()).expect("open"));
            let deadline = Instant::now() + Duration::from_secs(30);
            let workers: Vec<_> = (0..16)
                .map(|w| {
                    let db = Arc::clone(&db);
                    tokio::spawn(async move {
                        let mut i = 0u64;
                        while Instant::now() < deadline {
                            let name = format!("w{w}-{i}");
                            let n = name.clone();
                            db.writer()
                                .run(move |tx| insert_tenant(tx, &n))
                                .await
                                .expect("child write");
                            // Only now is it acknowledged.
                            println!("ack {name}");
                            i += 1;
                        }
                    })
                })
                .collect();
            for w in workers {
                let _ = w.await;
            }
        });
    }
}
