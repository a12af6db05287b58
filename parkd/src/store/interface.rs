//! The storage interface in domain terms: what parkd's services ask of a
//! database. One implementation per backend (`sqlite` now, PostgreSQL later)
//! maps rows and turns constraint violations into [`StoreError::Conflict`]; no
//! SQL type crosses this boundary.
//!
//! Every write that changes state takes the domain event it produces, and the
//! backend writes both in one transaction (the outbox invariant).

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

use super::StoreError;
use super::cursors::CursorStore;
use super::payments::PaymentMode;
use crate::auth::Role;

/// A user as stored, with the password hash and the encrypted phone number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRecord {
    /// The user's id.
    pub id: UserId,
    /// Email address, unique ignoring case.
    pub email: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// The phone number, AES-GCM encrypted (see `auth::pii`).
    pub phone_enc: Option<String>,
    /// Roles; never empty.
    pub roles: Vec<Role>,
    /// The operator organisation the user belongs to.
    pub tenant_id: Option<TenantId>,
    /// Sign-up time.
    pub created_at: DateTime<Utc>,
}

/// A tenant (operator organisation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantRecord {
    /// The tenant's id.
    pub id: TenantId,
    /// Unique name.
    pub name: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// A refresh token as stored: only its hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshRecord {
    /// SHA-256 of the token, hex.
    pub token_hash: String,
    /// All tokens rotated from one login share a family.
    pub family_id: Uuid,
    /// Whose token it is.
    pub user_id: UserId,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// What presenting a refresh token did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The token was live: it is now spent and the new one is stored in its family.
    Rotated {
        /// The token's owner.
        user_id: UserId,
    },
    /// The token had been spent or revoked before: a replay. Its whole family is
    /// now revoked, the newest token included.
    Reused {
        /// The family that was revoked.
        family_id: Uuid,
    },
    /// The token has expired.
    Expired,
    /// No such token.
    Unknown,
}

/// A stored answer to a request made with an `Idempotency-Key`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// Who made the request (keys are per user).
    pub user_id: UserId,
    /// The client's key.
    pub key: String,
    /// Hash of the request (method, path, body), to refuse a key reused for a
    /// different request.
    pub request_hash: String,
    /// The HTTP status of the first answer.
    pub status: u16,
    /// The JSON body of the first answer.
    pub response_json: String,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

/// A lot as stored: the core lot plus what only storage keeps.
#[derive(Clone, Debug, PartialEq)]
pub struct LotRecord {
    /// The lot.
    pub lot: Lot,
    /// The id in an imported data set (e.g. ParkAPI's), for idempotent imports.
    pub external_id: Option<String>,
    /// How its bookings are paid: stored with the lot, in the same write, so a
    /// lot never exists without the mode it was created with.
    pub payment_mode: PaymentMode,
}

/// A reservation with what listing and showing it needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReservationRecord {
    /// The reservation.
    pub reservation: Reservation,
    /// The spot's label.
    pub spot_label: String,
    /// The tenant owning the lot (for operator scoping).
    pub tenant_id: TenantId,
    /// The quote the price came from, as stored JSON.
    pub quote_json: Option<String>,
}

/// Who is asking for a list: every query is scoped, never filtered afterwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// A driver: their own reservations.
    User(UserId),
    /// An operator: their tenant's lots.
    Tenant(TenantId),
    /// An admin: everything.
    All,
}

/// Filters of a reservation listing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReservationFilter {
    /// Only this status.
    pub status: Option<ReservationStatus>,
    /// Only reservations ending after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Only reservations starting before this instant.
    pub to: Option<DateTime<Utc>>,
    /// Only this lot.
    pub lot_id: Option<LotId>,
}

/// One page of a listing: 1-based page number and page size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    /// 1-based page.
    pub page: u32,
    /// Items per page.
    pub per_page: u32,
}

impl PageRequest {
    /// Rows to skip.
    pub fn offset(&self) -> u64 {
        u64::from(self.page.saturating_sub(1)) * u64::from(self.per_page)
    }
}

/// An event as read back from the outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    /// Position in the whole log; strictly increasing in commit order.
    pub seq: u64,
    /// The lot it belongs to; `None` for events about users.
    pub lot_id: Option<LotId>,
    /// Position in its lot's sequence (1, 2, 3, …); `None` without a lot.
    pub lot_seq: Option<u64>,
    /// The event's type name (`parking_spot_booked`, …).
    pub event_type: String,
    /// The event.
    pub payload: DomainEvent,
    /// When the change happened.
    pub occurred_at: DateTime<Utc>,
}

/// Everything the in-memory engine needs at start-up.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Every lot.
    pub lots: Vec<LotRecord>,
    /// Every spot.
    pub spots: Vec<Spot>,
    /// Rate cards by lot.
    pub rates: Vec<(LotId, RateCard)>,
    /// Reservations that block (held, confirmed, checked in), however old.
    pub blocking: Vec<Reservation>,
    /// Access-token ids revoked by logout that have not expired yet.
    pub revoked_access: Vec<(Uuid, DateTime<Utc>)>,
}

impl Snapshot {
    /// The lots whose bookings are paid online (each lot carries its mode).
    pub fn prepaid_lots(&self) -> Vec<LotId> {
        self.lots
            .iter()
            .filter(|l| l.payment_mode == PaymentMode::Prepaid)
            .map(|l| l.lot.id)
            .collect()
    }
}

/// The storage parkd runs on.
#[async_trait]
pub trait Store:
    super::sensors::SensorStore
    + super::payments::PaymentStore
    + CursorStore
    + super::realtime::RealtimeStore
    + Send
    + Sync
    + 'static
{
    // --- users and tenants ---------------------------------------------------

    /// Stores a new user; `Conflict` if the email is taken.
    async fn create_user(&self, user: UserRecord, event: DomainEvent) -> Result<(), StoreError>;
    /// The user with this email (any case).
    async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError>;
    /// The user with this id.
    async fn user_by_id(&self, id: UserId) -> Result<Option<UserRecord>, StoreError>;
    /// Users by sign-up time, one page, with the total count.
    async fn list_users(&self, page: PageRequest) -> Result<(Vec<UserRecord>, u64), StoreError>;
    /// Replaces a user's roles and tenant; `NotFound` if there is no such user.
    async fn set_user_access(
        &self,
        id: UserId,
        roles: Vec<Role>,
        tenant_id: Option<TenantId>,
    ) -> Result<UserRecord, StoreError>;
    /// Number of users with the admin role.
    async fn count_admins(&self) -> Result<u64, StoreError>;
    /// Stores a new tenant; `Conflict` if the name is taken.
    async fn create_tenant(&self, tenant: TenantRecord) -> Result<(), StoreError>;
    /// Every tenant, by name.
    async fn list_tenants(&self) -> Result<Vec<TenantRecord>, StoreError>;
    /// One tenant.
    async fn tenant(&self, id: TenantId) -> Result<Option<TenantRecord>, StoreError>;

    // --- tokens --------------------------------------------------------------

    /// Stores the first refresh token of a new family (at login).
    async fn insert_refresh(&self, token: RefreshRecord) -> Result<(), StoreError>;
    /// Spends `presented` and stores `next` in its family, atomically; applies the
    /// reuse rule (see [`RotateOutcome`]). `next.family_id` and `next.user_id` are
    /// taken from the presented token.
    async fn rotate_refresh(
        &self,
        presented_hash: String,
        next: RefreshRecord,
        now: DateTime<Utc>,
    ) -> Result<RotateOutcome, StoreError>;
    /// Revokes one refresh token (logout) — only if it belongs to `owner`, when
    /// given; its owner, if a live token was revoked.
    async fn revoke_refresh(
        &self,
        token_hash: String,
        owner: Option<UserId>,
        now: DateTime<Utc>,
    ) -> Result<Option<UserId>, StoreError>;
    /// Refuses an access token's id until it expires (logout).
    async fn revoke_access(&self, jti: Uuid, expires_at: DateTime<Utc>) -> Result<(), StoreError>;

    // --- lots, spots, rates --------------------------------------------------

    /// Everything the engine loads at start-up.
    async fn snapshot(&self, now: DateTime<Utc>) -> Result<Snapshot, StoreError>;
    /// Stores a new lot.
    async fn insert_lot(&self, lot: LotRecord) -> Result<(), StoreError>;
    /// Replaces a lot's description and, when given, its payment mode, in one
    /// write; `NotFound` for no such lot.
    async fn update_lot(
        &self,
        lot: Lot,
        payment_mode: Option<PaymentMode>,
    ) -> Result<(), StoreError>;
    /// Deletes a lot with its spots and rates; `Conflict` while a blocking
    /// reservation ends after `now`.
    async fn delete_lot(&self, id: LotId, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// Stores new spots; `Conflict` if a label is taken in its lot.
    async fn insert_spots(&self, spots: Vec<Spot>) -> Result<(), StoreError>;
    /// Puts a spot in or out of service.
    async fn set_spot_in_service(
        &self,
        lot_id: LotId,
        spot_id: SpotId,
        in_service: bool,
        event: DomainEvent,
    ) -> Result<Spot, StoreError>;
    /// Sets a lot's rate card.
    async fn put_rate_card(&self, lot_id: LotId, card: RateCard) -> Result<(), StoreError>;

    // --- reservations ----------------------------------------------------------

    /// Stores a new reservation with its quote and event, and the idempotent
    /// answer when the request carried a key — all in one transaction.
    /// `Conflict` if the database's no-overlap rule refuses it.
    async fn insert_reservation(
        &self,
        reservation: Reservation,
        quote: Option<Quote>,
        event: DomainEvent,
        idempotency: Option<IdempotencyRecord>,
    ) -> Result<(), StoreError>;
    /// Stores a changed reservation (status, times, price) if its stored status
    /// is still `expected`; `Conflict` otherwise or on overlap.
    async fn update_reservation(
        &self,
        reservation: Reservation,
        expected: ReservationStatus,
        quote: Option<Quote>,
        events: Vec<DomainEvent>,
    ) -> Result<(), StoreError>;
    /// One reservation.
    async fn reservation(&self, id: ReservationId)
    -> Result<Option<ReservationRecord>, StoreError>;
    /// Reservations visible in `scope`, newest first, one page, with the total.
    async fn list_reservations(
        &self,
        scope: Scope,
        filter: ReservationFilter,
        page: PageRequest,
    ) -> Result<(Vec<ReservationRecord>, u64), StoreError>;
    /// Reservations of a lot overlapping `window` (any status), for analytics.
    async fn reservations_in(
        &self,
        lot_id: LotId,
        window: Interval,
    ) -> Result<Vec<Reservation>, StoreError>;
    /// Held reservations whose hold expired at or before `now` (at most `limit`).
    async fn due_holds(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Reservation>, StoreError>;
    /// Confirmed reservations not checked in within their lot's grace period after
    /// their start (at most `limit`).
    async fn no_show_candidates(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Reservation>, StoreError>;
    /// The stored answer for `(user, key)`, if any.
    async fn idempotent_response(
        &self,
        user_id: UserId,
        key: String,
    ) -> Result<Option<IdempotencyRecord>, StoreError>;

    // --- the outbox --------------------------------------------------------------

    /// Outbox events with `seq > after_seq`, in `seq` order, at most `limit`;
    /// only of `lot_id` when given; only of the lots of `tenant` when given.
    async fn events_after(
        &self,
        after_seq: u64,
        lot_id: Option<LotId>,
        tenant: Option<TenantId>,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError>;
    /// The highest `seq` the dispatcher has published (0 before any).
    async fn published_cursor(&self) -> Result<u64, StoreError>;
    /// Records that every event up to `seq` was published; never moves back.
    async fn set_published_cursor(&self, seq: u64) -> Result<(), StoreError>;
    /// Signalled (`notify_one`) after every committed write that carried an
    /// event, so the dispatcher wakes without polling.
    fn events_written(&self) -> Arc<Notify>;

    // --- operations ------------------------------------------------------------

    /// `(applied, expected)` schema versions (for `/ready`).
    async fn schema_status(&self) -> Result<(u32, u32), StoreError>;
    /// Proves the database takes writes (for `/ready`).
    async fn check_writable(&self) -> Result<(), StoreError>;
    /// Finishes queued writes and closes (graceful shutdown).
    async fn close(&self) -> Result<(), StoreError>;

    // --- several instances -------------------------------------------------------

    /// The backend's support for several parkd instances on one database;
    /// `None` for a backend only one process uses (SQLite).
    fn cluster(&self) -> Option<&dyn super::Cluster> {
        None
    }
}
