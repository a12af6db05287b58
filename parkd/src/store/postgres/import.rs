//! `parkd migrate-data`: copies a single-lot installation (any [`Store`],
//! SQLite in practice) into a city database, then verifies it.
//!
//! What is copied: tenants, users, lots, spots, rate cards, reservations (with
//! their quotes), the outbox's events, the payments part (lots' payment
//! modes, payments, refunds, processed Stripe webhook ids), and the sensors
//! part: devices (key hashes), spot sensor states, alerts and the outbox
//! consumers' cursors (mapped onto the target's event numbers, see
//! [`copy_cursors`]); both in blocks at the end. Not copied: refresh tokens (users
//! log in again), revoked access tokens (they expire within minutes) and
//! stored idempotent answers (a retry after a migration books anew only if the
//! spot is still free).
//!
//! Everything is written in one transaction, so a failed run leaves nothing.
//! Each row is inserted only if its key is not there yet, so a re-run after a
//! success (or after more bookings in the source) copies only what is new. The
//! source's events keep their per-lot numbers and are numbered after the
//! target's newest event, under the sequencer's lock (see `events.rs`).
//!
//! Verification reads every copied record back from the target and compares,
//! per table, the count and a SHA-256 checksum over the records in domain
//! terms (the same value on both sides, whatever the storage format).

use std::collections::BTreeSet;
use std::fmt::Debug;

use chrono::Utc;
use deadpool_postgres::GenericClient;
use parking_core::model::{LotId, ReservationId};
use parking_core::pricing::Quote;
use sha2::{Digest, Sha256};

use super::events::SEQUENCER_LOCK;
use super::rows::PAYMENT_COLUMNS;
use super::rows::to_json;
use super::sql::{execute, query, query_one, query_opt};
use super::{Failure, PgStore, events, in_transaction, lots, payments, reservations, rows, users};
use crate::store::StoreError;
use crate::store::cursors::CursorStore;
use crate::store::interface::{
    LotRecord, PageRequest, ReservationFilter, ReservationRecord, Scope, Store, StoredEvent,
    UserRecord,
};
use crate::store::payments::{
    PaymentFilter, PaymentMode, PaymentRecord, PaymentStore, ProcessedWebhook, RefundRecord,
};
use crate::store::sensors::{AlertFilter, AlertRecord, DeviceRecord, SensorStore, SpotSensor};

/// What one table's copy did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableReport {
    /// The table.
    pub table: &'static str,
    /// Rows in the source.
    pub source: usize,
    /// Rows written by this run.
    pub copied: usize,
    /// The source's checksum.
    pub source_checksum: String,
    /// The same records read back from the target.
    pub target_checksum: String,
}

impl TableReport {
    /// Whether the target holds exactly what the source does.
    pub fn verified(&self) -> bool {
        self.source_checksum == self.target_checksum
    }
}

/// Everything the source holds, in domain terms.
struct Source {
    tenants: Vec<crate::store::interface::TenantRecord>,
    users: Vec<UserRecord>,
    snapshot: crate::store::interface::Snapshot,
    reservations: Vec<ReservationRecord>,
    events: Vec<StoredEvent>,
    payments: PaymentsSource,
    sensors: SensorSource,
}

const PAGE: u32 = 500;

async fn read_source(source: &dyn Store) -> Result<Source, StoreError> {
    let tenants = source.list_tenants().await?;
    let mut users = Vec::new();
    for page in 1.. {
        let (batch, total) = source
            .list_users(PageRequest {
                page,
                per_page: PAGE,
            })
            .await?;
        let done = batch.is_empty() || users.len() + batch.len() >= total as usize;
        users.extend(batch);
        if done {
            break;
        }
    }
    let mut reservations = Vec::new();
    for page in 1.. {
        let (batch, total) = source
            .list_reservations(
                Scope::All,
                ReservationFilter::default(),
                PageRequest {
                    page,
                    per_page: PAGE,
                },
            )
            .await?;
        let done = batch.is_empty() || reservations.len() + batch.len() >= total as usize;
        reservations.extend(batch);
        if done {
            break;
        }
    }
    // Oldest first, so that a reservation's own history is written in order.
    reservations.sort_by_key(|r| (r.reservation.created_at, r.reservation.id.as_uuid()));
    let mut events = Vec::new();
    loop {
        let after = events.last().map_or(0, |e: &StoredEvent| e.seq);
        let batch = source.events_after(after, None, None, PAGE).await?;
        if batch.is_empty() {
            break;
        }
        events.extend(batch);
    }
    let snapshot = source.snapshot(Utc::now()).await?;
    let sensors = read_sensor_source(source, &snapshot.lots).await?;
    Ok(Source {
        tenants,
        users,
        snapshot,
        reservations,
        events,
        payments: read_payments(source).await?,
        sensors,
    })
}

/// A checksum over records' canonical (Debug) forms, in a stable order.
fn checksum<T: Debug>(records: impl IntoIterator<Item = T>) -> String {
    let lines: BTreeSet<String> = records.into_iter().map(|r| format!("{r:?}")).collect();
    let mut hasher = Sha256::new();
    for line in &lines {
        hasher.update(line.as_bytes());
        hasher.update(b"\n");
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A reservation as compared: the quote parsed, not its JSON text.
fn comparable(r: &ReservationRecord) -> String {
    let quote: Option<Quote> = r
        .quote_json
        .as_deref()
        .and_then(|q| serde_json::from_str(q).ok());
    format!(
        "{:?} {} {} {:?}",
        r.reservation, r.spot_label, r.tenant_id, quote
    )
}

/// An event as compared: its global number is the target's.
fn comparable_event(e: &StoredEvent) -> String {
    format!(
        "{:?} {:?} {} {:?} {}",
        e.lot_id, e.lot_seq, e.event_type, e.payload, e.occurred_at
    )
}

async fn exists<C: GenericClient>(c: &C, sql: &str, id: uuid::Uuid) -> Result<bool, Failure> {
    Ok(query_opt(c, sql, &[&id]).await?.is_some())
}

/// Copies `source` into `target` and verifies the copy.
pub async fn migrate_data(
    source: &dyn Store,
    target: &PgStore,
) -> Result<Vec<TableReport>, StoreError> {
    let data = read_source(source).await?;
    let now = Utc::now();
    let source_lots: Vec<LotId> = data.snapshot.lots.iter().map(|l| l.lot.id).collect();
    let (copied, copied_payments, sensors_copied, cursors_expected) = in_transaction!(target.pool(), tx => {
        let mut copied = [0usize; 7];
        for t in &data.tenants {
            if !exists(&tx, "SELECT 1 FROM tenants WHERE id = $1", t.id.as_uuid()).await? {
                users::insert_tenant(&tx, t).await?;
                copied[0] += 1;
            }
        }
        for u in &data.users {
            if !exists(&tx, "SELECT 1 FROM users WHERE id = $1", u.id.as_uuid()).await? {
                users::insert_user(&tx, u).await?;
                copied[1] += 1;
            }
        }
        for l in &data.snapshot.lots {
            if !exists(&tx, "SELECT 1 FROM lots WHERE id = $1", l.lot.id.as_uuid()).await? {
                lots::insert_lot(&tx, l, now).await?;
                copied[2] += 1;
            }
        }
        for s in &data.snapshot.spots {
            if !exists(&tx, "SELECT 1 FROM spots WHERE id = $1", s.id.as_uuid()).await? {
                lots::insert_spots(&tx, std::slice::from_ref(s)).await?;
                copied[3] += 1;
            }
        }
        for (lot, card) in &data.snapshot.rates {
            let same: Option<bool> = query_opt(
                &tx,
                "SELECT card = $2::text::jsonb FROM rate_cards WHERE lot_id = $1",
                &[&lot.as_uuid(), &to_json(card)?],
            )
            .await?
            .map(|row| row.try_get(0))
            .transpose()?;
            if same != Some(true) {
                lots::put_rate_card(&tx, *lot, card, now).await?;
                copied[4] += 1;
            }
        }
        for r in &data.reservations {
            let res = &r.reservation;
            let stored = query_opt(
                &tx,
                "SELECT status FROM reservations WHERE id = $1",
                &[&res.id.as_uuid()],
            )
            .await?;
            let quote: Option<Quote> = r
                .quote_json
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| Failure::Store(StoreError::Internal(format!(
                    "reservation {}: stored quote is not a quote: {e}", res.id
                ))))?;
            match stored {
                None => {
                    reservations::insert(&tx, res, quote.as_ref(), now, true).await?;
                    copied[5] += 1;
                }
                Some(row) => {
                    // Changed in the source since the last run (cancelled,
                    // checked in, …): bring the copy up to date.
                    let status = super::rows::status(&row.try_get::<_, String>(0)?)?;
                    let current = reservations::by_id(&tx, res.id).await?;
                    if current.as_ref().map(|c| &c.reservation) != Some(res) {
                        reservations::update(&tx, res, status, quote.as_ref(), now, true).await?;
                        copied[5] += 1;
                    }
                }
            }
        }
        let mut sensors_copied = copy_sensor_rows(&tx, &data.sensors).await?;
        execute(&tx, "SELECT pg_advisory_xact_lock($1)", &[&SEQUENCER_LOCK]).await?;
        // Number anything committed meanwhile first, so the copies come after.
        events::sequence_pending(&tx).await?;
        let mut next_seq = i64::try_from(events::max_seq(&tx).await?)
            .map_err(|_| Failure::Store(StoreError::Internal("seq out of range".into())))?;
        for e in &data.events {
            let lot_seq = e.lot_seq.map(i64::try_from).transpose().map_err(|_| {
                Failure::Store(StoreError::Internal("lot_seq out of range".into()))
            })?;
            let payload = to_json(&e.payload)?;
            let present = match (e.lot_id, lot_seq) {
                (Some(lot), Some(n)) => query_opt(
                    &tx,
                    "SELECT 1 FROM events WHERE lot_id = $1 AND lot_seq = $2",
                    &[&lot.as_uuid(), &n],
                )
                .await?
                .is_some(),
                _ => query_opt(
                    &tx,
                    "SELECT 1 FROM events WHERE lot_id IS NULL AND payload_json = $1 AND occurred_at = $2",
                    &[&payload, &e.occurred_at],
                )
                .await?
                .is_some(),
            };
            if present {
                continue;
            }
            next_seq += 1;
            execute(
                &tx,
                "INSERT INTO events (seq, lot_id, lot_seq, type, payload_json, occurred_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &next_seq,
                    &e.lot_id.map(|l| l.as_uuid()),
                    &lot_seq,
                    &e.event_type,
                    &payload,
                    &e.occurred_at,
                ],
            )
            .await?;
            copied[6] += 1;
        }
        // After the reservations: payments reference them.
        let copied_payments = copy_payments(&tx, &data.payments, &data.snapshot.lots).await?;
        let (cursors_expected, moved) = copy_cursors(&tx, &data.sensors, &data.events).await?;
        sensors_copied[3] = moved;
        (copied, copied_payments, sensors_copied, cursors_expected)
    })?;
    let mut reports = verify(&data, target, copied).await?;
    reports.extend(
        verify_payments(&data.payments, target, &data.snapshot.lots, copied_payments).await?,
    );
    reports.extend(
        verify_sensors(
            &data.sensors,
            &cursors_expected,
            target,
            &source_lots,
            sensors_copied,
        )
        .await?,
    );
    Ok(reports)
}

/// Reads every source record back from the target and compares.
async fn verify(
    data: &Source,
    target: &PgStore,
    copied: [usize; 7],
) -> Result<Vec<TableReport>, StoreError> {
    let client = target
        .pool()
        .get()
        .await
        .map_err(|e| Failure::from(e).into_store())?;
    let mut reports = Vec::new();
    let mut report = |table, source: usize, copied, a: String, b: String| {
        reports.push(TableReport {
            table,
            source,
            copied,
            source_checksum: a,
            target_checksum: b,
        });
    };

    let mut tenants = Vec::new();
    for t in &data.tenants {
        tenants.extend(target.tenant(t.id).await?);
    }
    report(
        "tenants",
        data.tenants.len(),
        copied[0],
        checksum(&data.tenants),
        checksum(&tenants),
    );
    let mut users_back = Vec::new();
    for u in &data.users {
        users_back.extend(target.user_by_id(u.id).await?);
    }
    report(
        "users",
        data.users.len(),
        copied[1],
        checksum(&data.users),
        checksum(&users_back),
    );
    let lot_ids: Vec<_> = data.snapshot.lots.iter().map(|l| l.lot.id).collect();
    let mut lots_back = Vec::new();
    let mut spots_back = Vec::new();
    let mut rates_back = Vec::new();
    for lot in &lot_ids {
        lots_back.extend(
            lots::lots(&client, Some(*lot))
                .await
                .map_err(Failure::into_store)?,
        );
        spots_back.extend(
            lots::spots(&client, Some(*lot))
                .await
                .map_err(Failure::into_store)?,
        );
        rates_back.extend(
            lots::rate_cards(&client, Some(*lot))
                .await
                .map_err(Failure::into_store)?,
        );
    }
    report(
        "lots",
        data.snapshot.lots.len(),
        copied[2],
        checksum(&data.snapshot.lots),
        checksum(&lots_back),
    );
    report(
        "spots",
        data.snapshot.spots.len(),
        copied[3],
        checksum(&data.snapshot.spots),
        checksum(&spots_back),
    );
    report(
        "rate_cards",
        data.snapshot.rates.len(),
        copied[4],
        checksum(&data.snapshot.rates),
        checksum(&rates_back),
    );
    let mut reservations_back = Vec::new();
    for r in &data.reservations {
        let id: ReservationId = r.reservation.id;
        reservations_back.extend(target.reservation(id).await?);
    }
    report(
        "reservations",
        data.reservations.len(),
        copied[5],
        checksum(data.reservations.iter().map(comparable)),
        checksum(reservations_back.iter().map(comparable)),
    );
    let mut events_back = Vec::new();
    for lot in &lot_ids {
        let mut after = 0;
        loop {
            let batch = events::after(&client, after, Some(*lot), None, PAGE)
                .await
                .map_err(Failure::into_store)?;
            let Some(last) = batch.last().map(|e| e.seq) else {
                break;
            };
            after = last;
            events_back.extend(batch);
        }
    }
    let user_events: Vec<&StoredEvent> =
        data.events.iter().filter(|e| e.lot_id.is_none()).collect();
    for e in &user_events {
        let found = query_one(
            &client,
            "SELECT COUNT(*) FROM events WHERE lot_id IS NULL AND payload_json = $1 AND occurred_at = $2",
            &[&to_json(&e.payload).map_err(Failure::into_store)?, &e.occurred_at],
        )
        .await
        .map_err(Failure::into_store)?;
        let n: i64 = found.try_get(0).map_err(|e| super::map_err(&e))?;
        if n >= 1 {
            events_back.push((*e).clone());
        }
    }
    report(
        "events",
        data.events.len(),
        copied[6],
        checksum(data.events.iter().map(comparable_event)),
        checksum(events_back.iter().map(comparable_event)),
    );
    Ok(reports)
}

// --- payments (migration 0004) -------------------------------------------------
//
// Lots' payment modes, payments, refunds and processed webhook ids. Copied in
// the same transaction, after the reservations; verified like the other
// tables (count and checksum of what the target reads back).

/// The payments part of the source.
struct PaymentsSource {
    payments: Vec<PaymentRecord>,
    refunds: Vec<RefundRecord>,
    webhooks: Vec<ProcessedWebhook>,
}

async fn read_payments(source: &dyn Store) -> Result<PaymentsSource, StoreError> {
    let mut payments = Vec::new();
    for page in 1.. {
        let (batch, total) = source
            .list_payments(
                Scope::All,
                PaymentFilter::default(),
                PageRequest {
                    page,
                    per_page: PAGE,
                },
            )
            .await?;
        let done = batch.is_empty() || payments.len() + batch.len() >= total as usize;
        payments.extend(batch.into_iter().map(|v| v.payment));
        if done {
            break;
        }
    }
    payments.sort_by_key(|p| (p.created_at, p.id.as_uuid()));
    let mut refunds = Vec::new();
    for p in &payments {
        refunds.extend(source.refunds_of(p.id).await?);
    }
    let mut webhooks: Vec<ProcessedWebhook> = Vec::new();
    loop {
        let after = webhooks.last().map(|w| w.event_id.clone());
        let batch = source.processed_webhooks(after, PAGE).await?;
        if batch.is_empty() {
            break;
        }
        webhooks.extend(batch);
    }
    Ok(PaymentsSource {
        payments,
        refunds,
        webhooks,
    })
}

/// A payment as compared: every field (the client secret too, which its
/// `Debug` redacts; only a hash of it is ever shown).
fn comparable_payment(p: &PaymentRecord) -> String {
    format!(
        "{} {} {} {} {:?} {:?} {} {:?} {} {:?} {:?} {:?} {} {}",
        p.id,
        p.reservation_id,
        p.lot_id,
        p.user_id,
        p.purpose,
        p.amount,
        p.refunded,
        p.status,
        p.stripe_idempotency_key,
        p.intent_id,
        p.client_secret,
        p.failure_reason,
        p.created_at,
        p.updated_at
    )
}

/// Copies the payments part; returns what was written per table: modes,
/// payments, refunds, webhook ids.
async fn copy_payments<C: GenericClient>(
    c: &C,
    data: &PaymentsSource,
    source_lots: &[LotRecord],
) -> Result<[usize; 4], Failure> {
    let mut copied = [0usize; 4];
    for lot in source_lots {
        copied[0] += usize::try_from(
            execute(
                c,
                "UPDATE lots SET payment_mode = $2 WHERE id = $1 AND payment_mode <> $2",
                &[&lot.lot.id.as_uuid(), &lot.payment_mode.as_str()],
            )
            .await?,
        )
        .unwrap_or(usize::MAX);
    }
    for p in &data.payments {
        let stored = query_opt(
            c,
            &format!(
                "SELECT {PAYMENT_COLUMNS} FROM payments p JOIN lots l ON l.id = p.lot_id
                 WHERE p.id = $1"
            ),
            &[&p.id.as_uuid()],
        )
        .await?
        .as_ref()
        .map(super::rows::payment)
        .transpose()?;
        match stored {
            None => {
                payments::insert_payment(c, p).await?;
                copied[1] += 1;
            }
            // Changed in the source since the last run (settled, refunded…).
            Some(view) if view.payment != *p => {
                execute(
                    c,
                    "UPDATE payments SET refunded_amount = $2, status = $3, intent_id = $4,
                         client_secret = $5, failure_reason = $6, updated_at = $7
                     WHERE id = $1",
                    &[
                        &p.id.as_uuid(),
                        &p.refunded,
                        &p.status.as_str(),
                        &p.intent_id,
                        &p.client_secret,
                        &p.failure_reason,
                        &p.updated_at,
                    ],
                )
                .await?;
                copied[1] += 1;
            }
            Some(_) => {}
        }
    }
    for r in &data.refunds {
        if !exists(c, "SELECT 1 FROM refunds WHERE id = $1", r.id).await? {
            payments::insert_refund(c, r).await?;
            copied[2] += 1;
        }
    }
    for w in &data.webhooks {
        let inserted = execute(
            c,
            "INSERT INTO processed_webhook_events (event_id, event_type, processed_at)
             VALUES ($1, $2, $3) ON CONFLICT (event_id) DO NOTHING",
            &[&w.event_id, &w.event_type, &w.processed_at],
        )
        .await?;
        copied[3] += usize::try_from(inserted).unwrap_or(usize::MAX);
    }
    Ok(copied)
}

/// Reads the payments part back from the target and compares.
async fn verify_payments(
    data: &PaymentsSource,
    target: &PgStore,
    source_lots: &[LotRecord],
    copied: [usize; 4],
) -> Result<Vec<TableReport>, StoreError> {
    let mut reports = Vec::new();
    let target_prepaid: BTreeSet<LotId> = target.prepaid_lots().await?.into_iter().collect();
    let target_mode = |lot: LotId| {
        if target_prepaid.contains(&lot) {
            PaymentMode::Prepaid
        } else {
            PaymentMode::OnSite
        }
    };
    reports.push(TableReport {
        table: "payment_modes",
        source: source_lots.len(),
        copied: copied[0],
        source_checksum: checksum(
            source_lots
                .iter()
                .map(|l| format!("{} {:?}", l.lot.id, l.payment_mode)),
        ),
        target_checksum: checksum(
            source_lots
                .iter()
                .map(|l| format!("{} {:?}", l.lot.id, target_mode(l.lot.id))),
        ),
    });
    let mut payments_back = Vec::new();
    let mut refunds_back = Vec::new();
    for p in &data.payments {
        payments_back.extend(target.payment(p.id).await?.map(|v| v.payment));
        refunds_back.extend(target.refunds_of(p.id).await?);
    }
    reports.push(TableReport {
        table: "payments",
        source: data.payments.len(),
        copied: copied[1],
        source_checksum: checksum(data.payments.iter().map(comparable_payment)),
        target_checksum: checksum(payments_back.iter().map(comparable_payment)),
    });
    reports.push(TableReport {
        table: "refunds",
        source: data.refunds.len(),
        copied: copied[2],
        source_checksum: checksum(&data.refunds),
        target_checksum: checksum(&refunds_back),
    });
    let client = target
        .pool()
        .get()
        .await
        .map_err(|e| Failure::from(e).into_store())?;
    let ids: Vec<String> = data.webhooks.iter().map(|w| w.event_id.clone()).collect();
    let webhooks_back = query(
        &client,
        "SELECT event_id, event_type, processed_at FROM processed_webhook_events
         WHERE event_id = ANY($1)",
        &[&ids],
    )
    .await
    .map_err(Failure::into_store)?
    .iter()
    .map(|row| {
        Ok(ProcessedWebhook {
            event_id: row.try_get(0)?,
            event_type: row.try_get(1)?,
            processed_at: row.try_get(2)?,
        })
    })
    .collect::<Result<Vec<_>, Failure>>()
    .map_err(Failure::into_store)?;
    reports.push(TableReport {
        table: "webhook_events",
        source: data.webhooks.len(),
        copied: copied[3],
        source_checksum: checksum(&data.webhooks),
        target_checksum: checksum(&webhooks_back),
    });
    Ok(reports)
}

// --- sensors, alerts and consumer cursors ------------------------------------------

/// The source's sensor data and consumer cursors, in domain terms.
struct SensorSource {
    devices: Vec<DeviceRecord>,
    states: Vec<SpotSensor>,
    /// Oldest first: an acknowledgement is copied before a newer open alert
    /// of the same spot (the schema allows one open one per spot).
    alerts: Vec<AlertRecord>,
    /// `(name, seq)` of every known consumer with a cursor above 0.
    cursors: Vec<(String, u64)>,
}

/// The named outbox consumers parkd has.
const CONSUMERS: &[&str] = &[crate::kafka::CURSOR];

async fn read_sensor_source(
    source: &dyn Store,
    lots: &[LotRecord],
) -> Result<SensorSource, StoreError> {
    let mut devices = Vec::new();
    let mut states = Vec::new();
    for lot in lots {
        devices.extend(source.list_devices(lot.lot.id).await?);
        states.extend(source.sensor_states(lot.lot.id).await?);
    }
    let mut alerts = Vec::new();
    for page in 1.. {
        let (batch, total) = source
            .list_alerts(
                Scope::All,
                AlertFilter::default(),
                PageRequest {
                    page,
                    per_page: PAGE,
                },
            )
            .await?;
        let done = batch.is_empty() || alerts.len() + batch.len() >= total as usize;
        alerts.extend(batch);
        if done {
            break;
        }
    }
    alerts.sort_by_key(|a| (a.raised_at, a.id.as_uuid()));
    let mut cursors = Vec::new();
    for name in CONSUMERS {
        let seq = source.consumer_cursor(name).await?;
        if seq > 0 {
            cursors.push(((*name).to_owned(), seq));
        }
    }
    Ok(SensorSource {
        devices,
        states,
        alerts,
        cursors,
    })
}

/// Rows written per table: devices, spot sensors, alerts, consumer cursors.
type SensorCopied = [usize; 4];

/// Copies devices, sensor states and alerts (after users, lots, spots and
/// reservations, which they refer to). A row already there is brought up to
/// date when the source changed it since (a revoked key, a newer state, an
/// acknowledgement); an unchanged one is not written.
///
/// The source's newest-reading instant is not part of the storage interface:
/// a copied state's newest reading is the reading that set it.
async fn copy_sensor_rows<C: GenericClient>(
    tx: &C,
    data: &SensorSource,
) -> Result<SensorCopied, Failure> {
    let mut copied = [0usize; 4];
    for d in &data.devices {
        copied[0] += usize::try_from(
            execute(
                tx,
                "INSERT INTO devices (id, lot_id, name, key_hash, created_at, revoked_at, last_seen_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (id) DO UPDATE SET revoked_at = excluded.revoked_at,
                     last_seen_at = excluded.last_seen_at
                 WHERE (devices.revoked_at, devices.last_seen_at)
                       IS DISTINCT FROM (excluded.revoked_at, excluded.last_seen_at)",
                &[
                    &d.id,
                    &d.lot_id.as_uuid(),
                    &d.name,
                    &d.key_hash,
                    &d.created_at,
                    &d.revoked_at,
                    &d.last_seen_at,
                ],
            )
            .await?,
        )
        .unwrap_or(1);
    }
    for s in &data.states {
        copied[1] += usize::try_from(
            execute(
                tx,
                "INSERT INTO spot_sensors (spot_id, occupied, since, reading_at) VALUES ($1, $2, $3, $3)
                 ON CONFLICT (spot_id) DO UPDATE SET occupied = excluded.occupied,
                     since = excluded.since, reading_at = excluded.reading_at
                 WHERE (spot_sensors.occupied, spot_sensors.since)
                       IS DISTINCT FROM (excluded.occupied, excluded.since)",
                &[&s.spot_id.as_uuid(), &s.occupied, &s.since],
            )
            .await?,
        )
        .unwrap_or(1);
    }
    for a in &data.alerts {
        copied[2] += usize::try_from(
            execute(
                tx,
                "INSERT INTO alerts (id, lot_id, spot_id, kind, reservation_id, raised_at, detail,
                                     acknowledged_at, acknowledged_by)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (id) DO UPDATE SET acknowledged_at = excluded.acknowledged_at,
                     acknowledged_by = excluded.acknowledged_by
                 WHERE (alerts.acknowledged_at, alerts.acknowledged_by)
                       IS DISTINCT FROM (excluded.acknowledged_at, excluded.acknowledged_by)",
                &[
                    &a.id.as_uuid(),
                    &a.lot_id.as_uuid(),
                    &a.spot_id.as_uuid(),
                    &alert_kind_name(a.kind),
                    &a.reservation_id.map(|r| r.as_uuid()),
                    &a.raised_at,
                    &a.detail,
                    &a.acknowledged_at,
                    &a.acknowledged_by.map(|u| u.as_uuid()),
                ],
            )
            .await?,
        )
        .unwrap_or(1);
    }
    Ok(copied)
}

fn alert_kind_name(kind: parking_core::events::AlertKind) -> &'static str {
    use parking_core::events::AlertKind;
    match kind {
        AlertKind::UnexpectedOccupancy => "unexpected_occupancy",
        AlertKind::NoShowCandidate => "no_show_candidate",
        AlertKind::Overstay => "overstay",
    }
}

/// The target's `seq` of a source event, once copied.
async fn target_seq<C: GenericClient>(c: &C, e: &StoredEvent) -> Result<Option<i64>, Failure> {
    let row = match (e.lot_id, e.lot_seq) {
        (Some(lot), Some(n)) => {
            let n = i64::try_from(n)
                .map_err(|_| Failure::Store(StoreError::Internal("lot_seq out of range".into())))?;
            query_opt(
                c,
                "SELECT seq FROM events WHERE lot_id = $1 AND lot_seq = $2",
                &[&lot.as_uuid(), &n],
            )
            .await?
        }
        _ => {
            query_opt(
                c,
                "SELECT MIN(seq) FROM events WHERE lot_id IS NULL AND payload_json = $1 AND occurred_at = $2
                 HAVING COUNT(*) > 0",
                &[&to_json(&e.payload)?, &e.occurred_at],
            )
            .await?
        }
    };
    Ok(row
        .map(|r| r.try_get::<_, Option<i64>>(0))
        .transpose()?
        .flatten())
}

/// Carries the consumer cursors over, after the events were copied (and hold
/// the target's numbers). A source cursor at `seq = c` becomes the target's
/// number of the source's event `c`, but only where that skips nothing the
/// target's consumer has not published: every target event between the
/// target's cursor and that number must be a copied source event at or
/// before `c`. Otherwise the target's cursor stays, and the copied events
/// are published again from the target (consumers skip what they have seen
/// by `lot_seq`). Returns the cursors the target must hold afterwards (for
/// verification) and how many moved.
async fn copy_cursors<C: GenericClient>(
    tx: &C,
    data: &SensorSource,
    events_copied: &[StoredEvent],
) -> Result<(Vec<(String, u64)>, usize), Failure> {
    let mut expected = Vec::new();
    let mut moved = 0;
    for (name, c) in &data.cursors {
        let current: i64 = query_opt(
            tx,
            "SELECT seq FROM consumer_cursors WHERE name = $1",
            &[name],
        )
        .await?
        .map(|r| r.try_get(0))
        .transpose()?
        .unwrap_or(0);
        let published: Vec<&StoredEvent> = events_copied.iter().filter(|e| e.seq <= *c).collect();
        let mapped = match published.last() {
            Some(last) => target_seq(tx, last).await?.unwrap_or(0),
            None => 0,
        };
        if mapped > current {
            let (lots, lot_seqs): (Vec<uuid::Uuid>, Vec<i64>) = published
                .iter()
                .filter_map(|e| {
                    Some((
                        e.lot_id?.as_uuid(),
                        i64::try_from(e.lot_seq?).unwrap_or(i64::MAX),
                    ))
                })
                .unzip();
            let mut payloads = Vec::new();
            let mut times = Vec::new();
            for e in published.iter().filter(|e| e.lot_id.is_none()) {
                payloads.push(to_json(&e.payload)?);
                times.push(e.occurred_at);
            }
            let safe: bool = query_one(
                tx,
                "SELECT NOT EXISTS (
                     SELECT 1 FROM events e WHERE e.seq > $1 AND e.seq <= $2
                       AND NOT EXISTS (SELECT 1 FROM unnest($3::uuid[], $4::bigint[]) AS p (lot_id, lot_seq)
                                        WHERE p.lot_id = e.lot_id AND p.lot_seq = e.lot_seq)
                       AND NOT EXISTS (SELECT 1 FROM unnest($5::text[], $6::timestamptz[]) AS u (payload, at)
                                        WHERE e.lot_id IS NULL AND u.payload = e.payload_json
                                          AND u.at = e.occurred_at))",
                &[&current, &mapped, &lots, &lot_seqs, &payloads, &times],
            )
            .await?
            .try_get(0)?;
            if safe {
                execute(
                    tx,
                    "INSERT INTO consumer_cursors (name, seq) VALUES ($1, $2)
                     ON CONFLICT (name) DO UPDATE SET seq = GREATEST(consumer_cursors.seq, excluded.seq)",
                    &[name, &mapped],
                )
                .await?;
                moved += 1;
                expected.push((name.clone(), rows::sequence(mapped)?));
                continue;
            }
        }
        expected.push((name.clone(), rows::sequence(current)?));
    }
    Ok((expected, moved))
}

/// Reads the sensor rows and cursors back from the target and compares.
async fn verify_sensors(
    data: &SensorSource,
    cursors_expected: &[(String, u64)],
    target: &PgStore,
    lots: &[LotId],
    copied: SensorCopied,
) -> Result<Vec<TableReport>, StoreError> {
    let mut devices_back = Vec::new();
    let mut states_back = Vec::new();
    for lot in lots {
        devices_back.extend(target.list_devices(*lot).await?);
        states_back.extend(target.sensor_states(*lot).await?);
    }
    let mut alerts_back = Vec::new();
    for a in &data.alerts {
        alerts_back.extend(target.alert(a.id).await?.map(|(alert, _)| alert));
    }
    let mut cursors_back = Vec::new();
    for (name, _) in cursors_expected {
        cursors_back.push((name.clone(), target.consumer_cursor(name).await?));
    }
    let report = |table, source: usize, copied, a: String, b: String| TableReport {
        table,
        source,
        copied,
        source_checksum: a,
        target_checksum: b,
    };
    Ok(vec![
        report(
            "devices",
            data.devices.len(),
            copied[0],
            checksum(&data.devices),
            checksum(&devices_back),
        ),
        report(
            "spot_sensors",
            data.states.len(),
            copied[1],
            checksum(&data.states),
            checksum(&states_back),
        ),
        report(
            "alerts",
            data.alerts.len(),
            copied[2],
            checksum(&data.alerts),
            checksum(&alerts_back),
        ),
        report(
            "consumer_cursors",
            data.cursors.len(),
            copied[3],
            checksum(cursors_expected),
            checksum(&cursors_back),
        ),
    ])
}
