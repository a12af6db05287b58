//! [`SqliteStore`]: the [`Store`] interface over [`SqliteDb`] — writes go through
//! the group-commit writer, reads through the read pool.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use parking_core::events::DomainEvent;
use parking_core::model::{
    Interval, Lot, LotId, Reservation, ReservationId, ReservationStatus, Spot, SpotId, TenantId,
    UserId,
};
use parking_core::pricing::{Quote, RateCard};
use tokio::sync::Notify;
use uuid::Uuid;

use super::{SqliteDb, events, lots, map_err, migrate, reservations, users};
use crate::auth::Role;
use crate::store::StoreError;
use crate::store::interface::{
    IdempotencyRecord, LotRecord, PageRequest, RefreshRecord, ReservationFilter, ReservationRecord,
    RotateOutcome, Scope, Snapshot, Store, StoredEvent, TenantRecord, UserRecord,
};
use crate::store::payments::PaymentMode;

/// The SQLite backend.
#[derive(Debug)]
pub struct SqliteStore {
    db: SqliteDb,
    /// Poked after each committed write that appended to the outbox.
    events_written: Arc<Notify>,
}

impl SqliteStore {
    /// Wraps an opened (and migrated) database.
    pub fn new(db: SqliteDb) -> Self {
        SqliteStore {
            db,
            events_written: Arc::new(Notify::new()),
        }
    }

    /// Wakes the dispatcher after a write with events committed. `notify_one`
    /// keeps a permit when nobody waits, so a wake-up is never lost.
    fn committed_events<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        if result.is_ok() {
            self.events_written.notify_one();
        }
        result
    }

    /// The database, for statistics.
    pub fn db(&self) -> &SqliteDb {
        &self.db
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_user(&self, user: UserRecord, event: DomainEvent) -> Result<(), StoreError> {
        let at = user.created_at;
        let result = self
            .db
            .writer()
            .run(move |tx| {
                users::insert_user(tx, &user)?;
                events::append(tx, &event, at)
            })
            .await;
        self.committed_events(result)
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError> {
        let email = email.to_owned();
        self.db
            .readers()
            .read(move |conn| users::user_by_email(conn, &email))
            .await
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<UserRecord>, StoreError> {
        self.db
            .readers()
            .read(move |conn| users::user_by_id(conn, id))
            .await
    }

    async fn list_users(&self, page: PageRequest) -> Result<(Vec<UserRecord>, u64), StoreError> {
        self.db
            .readers()
            .read(move |conn| users::list_users(conn, page))
            .await
    }

    async fn set_user_access(
        &self,
        id: UserId,
        roles: Vec<Role>,
        tenant_id: Option<TenantId>,
    ) -> Result<UserRecord, StoreError> {
        self.db
            .writer()
            .run(move |tx| users::set_user_access(tx, id, &roles, tenant_id))
            .await
    }

    async fn count_admins(&self) -> Result<u64, StoreError> {
        self.db.readers().read(users::count_admins).await
    }

    async fn create_tenant(&self, tenant: TenantRecord) -> Result<(), StoreError> {
        self.db
            .writer()
            .run(move |tx| users::insert_tenant(tx, &tenant))
            .await
    }

    async fn list_tenants(&self) -> Result<Vec<TenantRecord>, StoreError> {
        self.db.readers().read(users::list_tenants).await
    }

    async fn tenant(&self, id: TenantId) -> Result<Option<TenantRecord>, StoreError> {
        self.db
            .readers()
            .read(move |conn| users::tenant(conn, id))
            .await
    }

    async fn insert_refresh(&self, token: RefreshRecord) -> Result<(), StoreError> {
        self.db
            .writer()
            .run(move |tx| users::insert_refresh(tx, &token))
            .await
    }

    async fn rotate_refresh(
        &self,
        presented_hash: String,
        next: RefreshRecord,
        now: DateTime<Utc>,
    ) -> Result<RotateOutcome, StoreError> {
        self.db
            .writer()
            .run(move |tx| users::rotate_refresh(tx, &presented_hash, next, now))
            .await
    }

    async fn revoke_refresh(
        &self,
        token_hash: String,
        owner: Option<UserId>,
        now: DateTime<Utc>,
    ) -> Result<Option<UserId>, StoreError> {
        self.db
            .writer()
            .run(move |tx| users::revoke_refresh(tx, &token_hash, owner, now))
            .await
    }

    async fn revoke_access(&self, jti: Uuid, expires_at: DateTime<Utc>) -> Result<(), StoreError> {
        let now = Utc::now();
        self.db
            .writer()
            .run(move |tx| users::revoke_access(tx, jti, expires_at, now))
            .await
    }

    async fn snapshot(&self, now: DateTime<Utc>) -> Result<Snapshot, StoreError> {
        self.db
            .readers()
            .read(move |conn| {
                // One read transaction: every part of the snapshot from one moment.
                let tx = conn.unchecked_transaction().map_err(map_err)?;
                let snapshot = Snapshot {
                    lots: lots::all_lots(&tx)?,
                    spots: lots::all_spots(&tx)?,
                    rates: lots::all_rate_cards(&tx)?,
                    blocking: reservations::blocking(&tx, now)?,
                    revoked_access: users::revoked_access(&tx, now)?,
                };
                tx.finish().map_err(map_err)?;
                Ok(snapshot)
            })
            .await
    }

    async fn insert_lot(&self, lot: LotRecord) -> Result<(), StoreError> {
        let now = Utc::now();
        self.db
            .writer()
            .run(move |tx| lots::insert_lot(tx, &lot, now))
            .await
    }

    async fn update_lot(
        &self,
        lot: Lot,
        payment_mode: Option<PaymentMode>,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        self.db
            .writer()
            .run(move |tx| lots::update_lot(tx, &lot, payment_mode, now))
            .await
    }

    async fn delete_lot(&self, id: LotId, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.db
            .writer()
            .run(move |tx| lots::delete_lot(tx, id, now))
            .await
    }

    async fn insert_spots(&self, spots: Vec<Spot>) -> Result<(), StoreError> {
        self.db
            .writer()
            .run(move |tx| lots::insert_spots(tx, &spots))
            .await
    }

    async fn set_spot_in_service(
        &self,
        lot_id: LotId,
        spot_id: SpotId,
        in_service: bool,
        event: DomainEvent,
    ) -> Result<Spot, StoreError> {
        let now = Utc::now();
        let result = self
            .db
            .writer()
            .run(move |tx| {
                let spot = lots::set_spot_in_service(tx, lot_id, spot_id, in_service)?;
                events::append(tx, &event, now)?;
                Ok(spot)
            })
            .await;
        self.committed_events(result)
    }

    async fn put_rate_card(&self, lot_id: LotId, card: RateCard) -> Result<(), StoreError> {
        let now = Utc::now();
        self.db
            .writer()
            .run(move |tx| lots::put_rate_card(tx, lot_id, &card, now))
            .await
    }

    async fn insert_reservation(
        &self,
        reservation: Reservation,
        quote: Option<Quote>,
        event: DomainEvent,
        idempotency: Option<IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        let result = self
            .db
            .writer()
            .run(move |tx| {
                reservations::insert(tx, &reservation, quote.as_ref(), now)?;
                events::append(tx, &event, now)?;
                if let Some(record) = &idempotency {
                    reservations::put_idempotent(tx, record)?;
                }
                Ok(())
            })
            .await;
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
        let result = self
            .db
            .writer()
            .run(move |tx| {
                reservations::update(tx, &reservation, expected, quote.as_ref(), now)?;
                for event in &events_out {
                    events::append(tx, event, now)?;
                }
                Ok(())
            })
            .await;
        self.committed_events(result)
    }

    async fn reservation(
        &self,
        id: ReservationId,
    ) -> Result<Option<ReservationRecord>, StoreError> {
        self.db
            .readers()
            .read(move |conn| reservations::by_id(conn, id))
            .await
    }

    async fn list_reservations(
        &self,
        scope: Scope,
        filter: ReservationFilter,
        page: PageRequest,
    ) -> Result<(Vec<ReservationRecord>, u64), StoreError> {
        self.db
            .readers()
            .read(move |conn| reservations::list(conn, scope, &filter, page))
            .await
    }

    async fn reservations_in(
        &self,
        lot_id: LotId,
        window: Interval,
    ) -> Result<Vec<Reservation>, StoreError> {
        self.db
            .readers()
            .read(move |conn| reservations::in_window(conn, lot_id, window))
            .await
    }

    async fn due_holds(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Reservation>, StoreError> {
        self.db
            .readers()
            .read(move |conn| reservations::due_holds(conn, now, limit))
            .await
    }

    async fn no_show_candidates(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Reservation>, StoreError> {
        self.db
            .readers()
            .read(move |conn| reservations::no_show_candidates(conn, now, limit))
            .await
    }

    async fn idempotent_response(
        &self,
        user_id: UserId,
        key: String,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.db
            .readers()
            .read(move |conn| reservations::idempotent(conn, user_id, &key))
            .await
    }

    async fn events_after(
        &self,
        after_seq: u64,
        lot_id: Option<LotId>,
        tenant: Option<TenantId>,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.db
            .readers()
            .read(move |conn| events::after(conn, after_seq, lot_id, tenant, limit))
            .await
    }

    async fn published_cursor(&self) -> Result<u64, StoreError> {
        self.db.readers().read(events::cursor).await
    }

    async fn set_published_cursor(&self, seq: u64) -> Result<(), StoreError> {
        self.db
            .writer()
            .run(move |tx| events::set_cursor(tx, seq))
            .await
    }

    fn events_written(&self) -> Arc<Notify> {
        Arc::clone(&self.events_written)
    }

    async fn schema_status(&self) -> Result<(u32, u32), StoreError> {
        let applied = self.db.readers().read(migrate::current_version).await?;
        Ok((applied, migrate::latest_version()))
    }

    async fn check_writable(&self) -> Result<(), StoreError> {
        self.db
            .writer()
            .run(|tx| {
                tx.execute_batch(
                    "CREATE TEMP TABLE IF NOT EXISTS ready_probe (x); DELETE FROM ready_probe;",
                )
                .map_err(map_err)
            })
            .await
    }

    async fn close(&self) -> Result<(), StoreError> {
        self.db.shutdown().await;
        Ok(())
    }
}
