//! [`PgStore`]: the [`Store`] interface over a PostgreSQL connection pool.
//!
//! Every write is one transaction ([`in_transaction!`]) holding the change,
//! its outbox event and, for a booking, the idempotent answer. Reads go to the
//! primary (read-your-writes), except analytics' window reads, which go to the
//! read pool (a replica when `--read-database` is given).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Pool};
use parking_core::events::DomainEvent;
use parking_core::model::{
    Interval, Lot, LotId, Reservation, ReservationId, ReservationStatus, Spot, SpotId, TenantId,
    UserId,
};
use parking_core::pricing::{Quote, RateCard};
use tokio::sync::{Notify, broadcast};
use tokio_postgres::IsolationLevel;
use uuid::Uuid;

use super::cluster::{self, LOTS_CHANNEL, Leader, REVOKED_CHANNEL};
use super::sql::execute;
use super::{Failure, PgOptions, events, in_transaction, lots, migrate, reservations, users};
use crate::auth::Role;
use crate::store::interface::{
    IdempotencyRecord, LotRecord, PageRequest, RefreshRecord, ReservationFilter, ReservationRecord,
    RotateOutcome, Scope, Snapshot, Store, StoredEvent, TenantRecord, UserRecord,
};
use crate::store::payments::PaymentMode;
use crate::store::{Cluster, ClusterChange, LotSnapshot, StoreError};

/// The PostgreSQL backend.
#[derive(Debug)]
pub struct PgStore {
    pool: Pool,
    /// Analytics reads: the replica's pool, or `pool` again.
    read_pool: Pool,
    /// This instance, to tell its own notifications from the others'.
    instance: Uuid,
    /// Poked after each committed write that appended to the outbox.
    events_written: Arc<Notify>,
    /// Poked likewise, to tell the other instances (coalesced NOTIFY).
    tell_others: Arc<Notify>,
    changes: broadcast::Sender<ClusterChange>,
    leader: Leader,
    /// See [`Cluster::snapshot_seq`].
    snapshot_seq: AtomicU64,
    /// Numbers of events this instance wrote, read back but not yet asked
    /// about by [`Cluster::is_own_event`] (bounded).
    own_events: std::sync::Mutex<std::collections::BTreeSet<u64>>,
    closed: Arc<AtomicBool>,
    stop: Arc<Notify>,
}

impl PgStore {
    /// Connects to `url` (and `read_url` for analytics reads), applies the
    /// migrations, and starts listening for the other instances' changes.
    /// Must run inside the tokio runtime.
    pub async fn connect(
        url: &str,
        read_url: Option<&str>,
        options: PgOptions,
    ) -> Result<PgStore, StoreError> {
        let pool = super::pool(url, &options)?;
        let read_pool = match read_url {
            Some(read_url) => super::pool(read_url, &options)?,
            None => pool.clone(),
        };
        {
            let mut client = pool
                .get()
                .await
                .map_err(|e| Failure::from(e).into_store())?;
            migrate::migrate(&mut client).await?;
        }
        let config = super::connection_config(url, &options)?;
        let store = PgStore {
            pool,
            read_pool,
            instance: Uuid::new_v4(),
            events_written: Arc::new(Notify::new()),
            tell_others: Arc::new(Notify::new()),
            changes: broadcast::channel(1024).0,
            leader: Leader::new(config.clone()),
            snapshot_seq: AtomicU64::new(0),
            own_events: std::sync::Mutex::new(std::collections::BTreeSet::new()),
            closed: Arc::new(AtomicBool::new(false)),
            stop: Arc::new(Notify::new()),
        };
        cluster::spawn_listener(
            config,
            store.instance,
            Arc::clone(&store.events_written),
            store.changes.clone(),
            Arc::clone(&store.closed),
            Arc::clone(&store.stop),
        );
        cluster::spawn_notifier(
            store.pool.clone(),
            store.instance,
            Arc::clone(&store.tell_others),
            Arc::clone(&store.closed),
            Arc::clone(&store.stop),
        );
        Ok(store)
    }

    /// This instance's id, the `origin` of the events it writes.
    pub(super) fn instance(&self) -> Uuid {
        self.instance
    }

    /// The connection pool (for tools such as `migrate-data`).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The pool analytics reads go to (a replica's, or the primary's).
    pub(super) fn read_pool(&self) -> &Pool {
        &self.read_pool
    }

    /// Wakes this instance's dispatcher and tells the others, after a write
    /// with events committed.
    pub(super) fn committed_events<T>(
        &self,
        result: Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if result.is_ok() {
            self.wrote_events();
        }
        result
    }

    /// Wakes this instance's dispatcher and tells the others: events were
    /// committed.
    pub(super) fn wrote_events(&self) {
        self.events_written.notify_one();
        self.tell_others.notify_one();
    }

    /// Tells the other instances that `lot` changed, when the transaction
    /// commits (NOTIFY is transactional). Lot changes are rare: the commit
    /// serialisation NOTIFY brings costs nothing here.
    pub(super) async fn notify_lot<C: GenericClient>(
        &self,
        c: &C,
        lot: LotId,
    ) -> Result<(), Failure> {
        execute(
            c,
            "SELECT pg_notify($1, $2)",
            &[&LOTS_CHANNEL, &format!("{} {}", self.instance, lot)],
        )
        .await?;
        Ok(())
    }
}

#[async_trait]
impl Store for PgStore {
    async fn create_user(&self, user: UserRecord, event: DomainEvent) -> Result<(), StoreError> {
        let result = in_transaction!(self.pool, tx => {
            users::insert_user(&tx, &user).await?;
            events::append(&tx, &event, user.created_at, self.instance).await?;
        });
        self.committed_events(result)
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError> {
        let client = self.client().await?;
        users::user_by_email(&client, email)
            .await
            .map_err(Failure::into_store)
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<UserRecord>, StoreError> {
        let client = self.client().await?;
        users::user_by_id(&client, id)
            .await
            .map_err(Failure::into_store)
    }

    async fn list_users(&self, page: PageRequest) -> Result<(Vec<UserRecord>, u64), StoreError> {
        let client = self.client().await?;
        users::list_users(&client, page)
            .await
            .map_err(Failure::into_store)
    }

    async fn set_user_access(
        &self,
        id: UserId,
        roles: Vec<Role>,
        tenant_id: Option<TenantId>,
    ) -> Result<UserRecord, StoreError> {
        in_transaction!(self.pool, tx => users::set_user_access(&tx, id, &roles, tenant_id).await?)
    }

    async fn count_admins(&self) -> Result<u64, StoreError> {
        let client = self.client().await?;
        users::count_admins(&client)
            .await
            .map_err(Failure::into_store)
    }

    async fn create_tenant(&self, tenant: TenantRecord) -> Result<(), StoreError> {
        in_transaction!(self.pool, tx => users::insert_tenant(&tx, &tenant).await?)
    }

    async fn list_tenants(&self) -> Result<Vec<TenantRecord>, StoreError> {
        let client = self.client().await?;
        users::list_tenants(&client)
            .await
            .map_err(Failure::into_store)
    }

    async fn tenant(&self, id: TenantId) -> Result<Option<TenantRecord>, StoreError> {
        let client = self.client().await?;
        users::tenant(&client, id)
            .await
            .map_err(Failure::into_store)
    }

    async fn insert_refresh(&self, token: RefreshRecord) -> Result<(), StoreError> {
        in_transaction!(self.pool, tx => users::insert_refresh(&tx, &token).await?)
    }

    async fn rotate_refresh(
        &self,
        presented_hash: String,
        next: RefreshRecord,
        now: DateTime<Utc>,
    ) -> Result<RotateOutcome, StoreError> {
        in_transaction!(self.pool, tx => {
            users::rotate_refresh(&tx, &presented_hash, next.clone(), now).await?
        })
    }

    async fn revoke_refresh(
        &self,
        token_hash: String,
        owner: Option<UserId>,
        now: DateTime<Utc>,
    ) -> Result<Option<UserId>, StoreError> {
        in_transaction!(self.pool, tx => users::revoke_refresh(&tx, &token_hash, owner, now).await?)
    }

    async fn revoke_access(&self, jti: Uuid, expires_at: DateTime<Utc>) -> Result<(), StoreError> {
        let now = Utc::now();
        let payload = format!("{} {jti} {}", self.instance, expires_at.to_rfc3339());
        in_transaction!(self.pool, tx => {
            users::revoke_access(&tx, jti, expires_at, now).await?;
            execute(&tx, "SELECT pg_notify($1, $2)", &[&REVOKED_CHANNEL, &payload]).await?;
        })
    }

    async fn snapshot(&self, now: DateTime<Utc>) -> Result<Snapshot, StoreError> {
        // Everything numbered before the snapshot starts is in it; what is
        // numbered later has a larger seq (see Cluster::snapshot_seq).
        in_transaction!(self.pool, tx => events::sequence_pending(&tx).await?)?;
        let mut client = self.client().await?;
        let high_water = events::max_seq(&client)
            .await
            .map_err(Failure::into_store)?;
        let result: Result<Snapshot, Failure> = async {
            // One read-only snapshot: every part from one moment.
            let tx = client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await?;
            let snapshot = Snapshot {
                lots: lots::lots(&tx, None).await?,
                spots: lots::spots(&tx, None).await?,
                rates: lots::rate_cards(&tx, None).await?,
                blocking: reservations::blocking(&tx, now, None).await?,
                revoked_access: users::revoked_access(&tx, now).await?,
            };
            tx.commit().await?;
            Ok(snapshot)
        }
        .await;
        let snapshot = result.map_err(Failure::into_store)?;
        self.snapshot_seq.store(high_water, Ordering::Release);
        Ok(snapshot)
    }

    async fn insert_lot(&self, lot: LotRecord) -> Result<(), StoreError> {
        let now = Utc::now();
        in_transaction!(self.pool, tx => {
            lots::insert_lot(&tx, &lot, now).await?;
            self.notify_lot(&tx, lot.lot.id).await?;
        })
    }

    async fn update_lot(
        &self,
        lot: Lot,
        payment_mode: Option<PaymentMode>,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        in_transaction!(self.pool, tx => {
            lots::update_lot(&tx, &lot, payment_mode, now).await?;
            self.notify_lot(&tx, lot.id).await?;
        })
    }

    async fn delete_lot(&self, id: LotId, now: DateTime<Utc>) -> Result<(), StoreError> {
        in_transaction!(self.pool, tx => {
            lots::delete_lot(&tx, id, now).await?;
            self.notify_lot(&tx, id).await?;
        })
    }

    async fn insert_spots(&self, spots: Vec<Spot>) -> Result<(), StoreError> {
        let mut lots_touched: Vec<LotId> = spots.iter().map(|s| s.lot_id).collect();
        lots_touched.sort_by_key(|l| l.as_uuid());
        lots_touched.dedup();
        in_transaction!(self.pool, tx => {
            lots::insert_spots(&tx, &spots).await?;
            for lot in &lots_touched {
                self.notify_lot(&tx, *lot).await?;
            }
        })
    }

    async fn set_spot_in_service(
        &self,
        lot_id: LotId,
        spot_id: SpotId,
        in_service: bool,
        event: DomainEvent,
    ) -> Result<Spot, StoreError> {
        let now = Utc::now();
        let result = in_transaction!(self.pool, tx => {
            let spot = lots::set_spot_in_service(&tx, lot_id, spot_id, in_service).await?;
            events::append(&tx, &event, now, self.instance).await?;
            spot
        });
        self.committed_events(result)
    }

    async fn put_rate_card(&self, lot_id: LotId, card: RateCard) -> Result<(), StoreError> {
        let now = Utc::now();
        in_transaction!(self.pool, tx => {
            lots::put_rate_card(&tx, lot_id, &card, now).await?;
            self.notify_lot(&tx, lot_id).await?;
        })
    }

    async fn insert_reservation(
        &self,
        reservation: Reservation,
        quote: Option<Quote>,
        event: DomainEvent,
        idempotency: Option<IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        let mut result = Ok(());
        for release_lapsed in [false, true] {
            result = in_transaction!(self.pool, tx => {
                // Pipelined: the three statements go out together and their
                // answers come back in order (the hot path, one round trip
                // instead of three); if the first fails the others fail with
                // it, and its error is the one reported.
                let (inserted, appended, remembered) = tokio::join!(
                    reservations::insert(&tx, &reservation, quote.as_ref(), now, release_lapsed),
                    events::append(&tx, &event, now, self.instance),
                    async {
                        match &idempotency {
                            Some(record) => reservations::put_idempotent(&tx, record).await,
                            None => Ok(()),
                        }
                    }
                );
                inserted?;
                appended?;
                remembered?;
            });
            if !is_overlap(&result) {
                break;
            }
        }
        self.committed_events(result)
    }

    async fn update_reservation(
        &self,
        reservation: Reservation,
        expected: ReservationStatus,
        quote: Option<Quote>,
        events_out: Vec<DomainEvent>,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        let mut result = Ok(());
        for release_lapsed in [false, true] {
            result = in_transaction!(self.pool, tx => {
                reservations::update(&tx, &reservation, expected, quote.as_ref(), now, release_lapsed)
                    .await?;
                for event in &events_out {
                    events::append(&tx, event, now, self.instance).await?;
                }
            });
            if !is_overlap(&result) {
                break;
            }
        }
        self.committed_events(result)
    }

    async fn reservation(
        &self,
        id: ReservationId,
    ) -> Result<Option<ReservationRecord>, StoreError> {
        let client = self.client().await?;
        reservations::by_id(&client, id)
            .await
            .map_err(Failure::into_store)
    }

    async fn list_reservations(
        &self,
        scope: Scope,
        filter: ReservationFilter,
        page: PageRequest,
    ) -> Result<(Vec<ReservationRecord>, u64), StoreError> {
        let client = self.client().await?;
        reservations::list(&client, scope, &filter, page)
            .await
            .map_err(Failure::into_store)
    }

    async fn reservations_in(
        &self,
        lot_id: LotId,
        window: Interval,
    ) -> Result<Vec<Reservation>, StoreError> {
        let client = self
            .read_pool
            .get()
            .await
            .map_err(|e| Failure::from(e).into_store())?;
        reservations::in_window(&client, lot_id, window)
            .await
            .map_err(Failure::into_store)
    }

    async fn due_holds(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Reservation>, StoreError> {
        let client = self.client().await?;
        reservations::due_holds(&client, now, limit)
            .await
            .map_err(Failure::into_store)
    }

    async fn no_show_candidates(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Reservation>, StoreError> {
        let client = self.client().await?;
        reservations::no_show_candidates(&client, now, limit)
            .await
            .map_err(Failure::into_store)
    }

    async fn idempotent_response(
        &self,
        user_id: UserId,
        key: String,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let client = self.client().await?;
        reservations::idempotent(&client, user_id, &key)
            .await
            .map_err(Failure::into_store)
    }

    async fn events_after(
        &self,
        after_seq: u64,
        lot_id: Option<LotId>,
        tenant: Option<TenantId>,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        // Number what has committed first (see events.rs), then read.
        in_transaction!(self.pool, tx => events::sequence_pending(&tx).await?)?;
        let client = self.client().await?;
        let rows = events::after_with_origin(&client, after_seq, lot_id, tenant, limit)
            .await
            .map_err(Failure::into_store)?;
        let mut own = self
            .own_events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut read = Vec::with_capacity(rows.len());
        for (event, origin) in rows {
            if origin == Some(self.instance) {
                own.insert(event.seq);
            }
            read.push(event);
        }
        while own.len() > OWN_EVENTS_KEPT {
            own.pop_first();
        }
        Ok(read)
    }

    async fn published_cursor(&self) -> Result<u64, StoreError> {
        let client = self.client().await?;
        events::cursor(&client).await.map_err(Failure::into_store)
    }

    async fn set_published_cursor(&self, seq: u64) -> Result<(), StoreError> {
        in_transaction!(self.pool, tx => events::set_cursor(&tx, seq).await?)
    }

    fn events_written(&self) -> Arc<Notify> {
        Arc::clone(&self.events_written)
    }

    async fn schema_status(&self) -> Result<(u32, u32), StoreError> {
        let client = self.client().await?;
        let applied = migrate::current_version(&client)
            .await
            .map_err(Failure::into_store)?;
        Ok((applied, migrate::latest_version()))
    }

    async fn check_writable(&self) -> Result<(), StoreError> {
        let client = self.client().await?;
        let standby: bool = client
            .query_one("SELECT pg_is_in_recovery()", &[])
            .await
            .map_err(|e| super::map_err(&e))?
            .try_get(0)
            .map_err(|e| super::map_err(&e))?;
        if standby {
            return Err(StoreError::Unavailable(
                "the database is a read-only standby".into(),
            ));
        }
        Ok(())
    }

    async fn close(&self) -> Result<(), StoreError> {
        self.closed.store(true, Ordering::Release);
        self.stop.notify_waiters();
        self.leader.release().await;
        self.pool.close();
        self.read_pool.close();
        Ok(())
    }

    fn cluster(&self) -> Option<&dyn Cluster> {
        Some(self)
    }
}

/// Own event numbers remembered for [`Cluster::is_own_event`].
const OWN_EVENTS_KEPT: usize = 100_000;

/// Whether the no-overlap constraint refused the write.
pub(super) fn is_overlap<T>(result: &Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::Conflict(m)) if m == "reservation_overlap")
}

impl PgStore {
    /// A pooled connection of the primary.
    pub(super) async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        self.pool
            .get()
            .await
            .map_err(|e| Failure::from(e).into_store())
    }
}

#[async_trait]
impl Cluster for PgStore {
    fn changes(&self) -> broadcast::Receiver<ClusterChange> {
        self.changes.subscribe()
    }

    async fn lot_snapshot(
        &self,
        lot: LotId,
        now: DateTime<Utc>,
    ) -> Result<Option<LotSnapshot>, StoreError> {
        let mut client = self.client().await?;
        let result: Result<Option<LotSnapshot>, Failure> = async {
            let tx = client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await?;
            let Some(record) = lots::lots(&tx, Some(lot)).await?.into_iter().next() else {
                return Ok(None);
            };
            let snapshot = LotSnapshot {
                lot: record,
                spots: lots::spots(&tx, Some(lot)).await?,
                rates: lots::rate_cards(&tx, Some(lot))
                    .await?
                    .into_iter()
                    .next()
                    .map(|(_, card)| card),
                blocking: reservations::blocking(&tx, now, Some(lot)).await?,
            };
            tx.commit().await?;
            Ok(Some(snapshot))
        }
        .await;
        result.map_err(Failure::into_store)
    }

    fn is_own_event(&self, seq: u64) -> bool {
        self.own_events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&seq)
    }

    fn snapshot_seq(&self) -> u64 {
        self.snapshot_seq.load(Ordering::Acquire)
    }

    async fn try_lead(&self) -> Result<bool, StoreError> {
        if self.closed.load(Ordering::Acquire) {
            return Ok(false);
        }
        self.leader.try_lead().await
    }
}
