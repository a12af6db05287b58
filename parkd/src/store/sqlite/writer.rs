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
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
        let max_batch = options.max_batch.max(1);
        std::thread::Builder::new()
            .name("parkd-sqlite-writer".into())
            .spawn(move || {
                // Signals exit even if the loop panics.
                let _exit = ExitSignal(exited_tx);
                writer_loop(conn, receiver, &thread_stats, max_batch);
            })
            .map_err(|e| StoreError::Unavailable(format!("cannot start writer thread: {e}")))?;
        Ok(Writer {
            sender,
            closed: AtomicBool::new(false),
            stats,
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
        answer.await.map_err(|_| {
            StoreError::Unavailable("the writer stopped before committing the operation".into())
        })?
    }

    /// The writer's counters.
    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }

    /// Operations queued and not yet taken by the writer thread.
    pub fn queued(&self) -> usize {
        self.sender.max_capacity() - self.sender.capacity()
    }

    /// Refuses new operations, lets the thread run and commit everything
    /// already queued, and resolves when the thread has exited. Calling it
    /// again (or concurrently) just waits for the same exit.
    pub async fn shutdown(&self) {
        self.closed.store(true, Ordering::Release);
        // Err means the thread is already gone.
        let _ = self.sender.send(Msg::Shutdown).await;
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
    max_batch: usize,
) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(max_batch);
    // `blocking_recv` returns None once every sender is dropped (or the
    // channel is closed) *and* the queue is empty: queued work always runs.
    while let Some(first) = receiver.blocking_recv() {
        match first {
            Msg::Shutdown => {
                receiver.close();
                continue;
            }
            Msg::Op(job) => batch.push(job),
        }
        while batch.len() < max_batch {
            match receiver.try_recv() {
                Ok(Msg::Op(job)) => batch.push(job),
                Ok(Msg::Shutdown) => receiver.close(),
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
