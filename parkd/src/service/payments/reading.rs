//! Reading payments: a reservation's latest payment, listings, revenue, and
//! the wire forms.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use parking_api::common::Page;
use parking_api::payments::{
    Payment, PaymentPurposeDto, PaymentStatusDto, PaymentsQuery, Refund, ReservationPayment,
};
use parking_core::model::local_time::local_date;
use parking_core::model::{Currency, Interval, LotId, Money, ReservationId};

use crate::api::extract::Actor;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::interface::{PageRequest, Scope};
use crate::store::payments::{
    PaymentFilter, PaymentPurpose, PaymentRecord, PaymentStatus, RefundRecord,
};

/// A reservation's latest payment.
pub async fn latest(
    state: &AppState,
    reservation: ReservationId,
) -> Result<Option<PaymentRecord>, ApiError> {
    Ok(state.store.payments_of(reservation).await?.pop())
}

/// The latest payment of each of `reservations` that has one (a listing's
/// page): one store read for the page, not one per row.
pub async fn latest_of_each(
    state: &AppState,
    reservations: Vec<ReservationId>,
) -> Result<HashMap<ReservationId, PaymentRecord>, ApiError> {
    let payments = state.store.payments_of_each(reservations).await?;
    // Oldest first: a later payment of the same reservation replaces an earlier one.
    Ok(payments
        .into_iter()
        .map(|p| (p.reservation_id, p))
        .collect())
}

fn status_dto(s: PaymentStatus) -> PaymentStatusDto {
    match s {
        PaymentStatus::Pending => PaymentStatusDto::Pending,
        PaymentStatus::Succeeded => PaymentStatusDto::Succeeded,
        PaymentStatus::Failed => PaymentStatusDto::Failed,
        PaymentStatus::Refunded => PaymentStatusDto::Refunded,
        PaymentStatus::PartiallyRefunded => PaymentStatusDto::PartiallyRefunded,
    }
}

fn status_of(s: PaymentStatusDto) -> PaymentStatus {
    match s {
        PaymentStatusDto::Pending => PaymentStatus::Pending,
        PaymentStatusDto::Succeeded => PaymentStatus::Succeeded,
        PaymentStatusDto::Failed => PaymentStatus::Failed,
        PaymentStatusDto::Refunded => PaymentStatus::Refunded,
        PaymentStatusDto::PartiallyRefunded => PaymentStatus::PartiallyRefunded,
    }
}

fn purpose_dto(p: PaymentPurpose) -> PaymentPurposeDto {
    match p {
        PaymentPurpose::Booking => PaymentPurposeDto::Booking,
        PaymentPurpose::Extension => PaymentPurposeDto::Extension,
    }
}

/// The payment part of a reservation answer; the client secret only for the
/// payer.
pub fn reservation_payment(p: &PaymentRecord, actor: &Actor) -> ReservationPayment {
    ReservationPayment {
        id: p.id.as_uuid(),
        intent_id: p.intent_id.clone(),
        client_secret: if actor.user_id == p.user_id && p.status == PaymentStatus::Pending {
            p.client_secret.clone()
        } else {
            None
        },
        amount: p.amount.amount,
        currency: p.amount.currency.code().to_owned(),
        refunded_amount: p.refunded,
        status: status_dto(p.status),
        purpose: purpose_dto(p.purpose),
    }
}

/// The operators' view of a payment.
pub fn payment_dto(p: &PaymentRecord) -> Payment {
    Payment {
        id: p.id.as_uuid(),
        reservation_id: p.reservation_id.as_uuid(),
        lot_id: p.lot_id.as_uuid(),
        user_id: p.user_id.as_uuid(),
        purpose: purpose_dto(p.purpose),
        amount: p.amount.amount,
        currency: p.amount.currency.code().to_owned(),
        refunded_amount: p.refunded,
        status: status_dto(p.status),
        intent_id: p.intent_id.clone(),
        failure_reason: p.failure_reason.clone(),
        created_at: p.created_at,
        updated_at: p.updated_at,
    }
}

pub(super) fn refund_dto(r: &RefundRecord) -> Refund {
    Refund {
        id: r.id,
        payment_id: r.payment_id.as_uuid(),
        stripe_refund_id: r.stripe_refund_id.clone(),
        amount: r.amount.amount,
        currency: r.amount.currency.code().to_owned(),
        reason: r.reason.clone(),
        created_at: r.created_at,
    }
}

/// Payments of the caller's lots (operators: their tenant's; admin: all).
pub async fn list(
    state: &AppState,
    actor: &Actor,
    query: &PaymentsQuery,
) -> Result<Page<Payment>, ApiError> {
    actor.require_staff()?;
    query.validate().map_err(ApiError::Validation)?;
    let scope = actor.staff_tenant()?.map_or(Scope::All, Scope::Tenant);
    let page = query.page_query();
    let (rows, total) = state
        .store
        .list_payments(
            scope,
            PaymentFilter {
                lot_id: query.lot_id.map(LotId::from_uuid),
                status: query.status.map(status_of),
                from: query.from,
                to: query.to,
            },
            PageRequest {
                page: page.page,
                per_page: page.per_page,
            },
        )
        .await?;
    let items = rows.iter().map(|v| payment_dto(&v.payment)).collect();
    Ok(Page::new(items, total, page.page, page.per_page))
}

/// Revenue of a prepaid lot per lot-local day from its payments: what each
/// stay starting in `window` took, net of refunds, on the day it starts. This is
/// what the revenue report shows for prepaid lots, so it reconciles with
/// `GET /payments` to the minor unit.
pub async fn revenue_by_local_day(
    state: &AppState,
    lot: LotId,
    tz: chrono_tz::Tz,
    window: Interval,
    currency: Currency,
) -> Result<Vec<(NaiveDate, Money)>, ApiError> {
    let stays = state.store.paid_stays(lot, window).await?;
    let mut days: BTreeMap<NaiveDate, Money> = BTreeMap::new();
    for stay in stays.iter().filter(|s| s.net.amount != 0) {
        let day = days
            .entry(local_date(tz, stay.interval.start()))
            .or_insert(Money::zero(currency));
        *day = day
            .checked_add(stay.net)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
    }
    Ok(days.into_iter().collect())
}
