//! Lots, spots and rate cards: the nearby search, and the administration use
//! cases (create, change, delete a lot; add spots; take a spot in or out of
//! service; set the rate card) with their authorization.
//!
//! Administration commits to the store first and then applies the same change
//! to the engine (the city, and the lots' external ids beside it), so memory
//! never shows a lot, spot, price or external id the database does not hold. These writes are rare, so one lock ([`ADMIN_WRITES`]) puts them in
//! a single order: two concurrent changes of one lot cannot be applied to the
//! store in one order and to the engine in the other, nor lose each other's
//! fields.
//!
//! # Search: what is counted
//!
//! The page answer carries the true `total` of matching lots.
//! - Without a filter (no `spot_type`, no window), every lot within the radius
//!   matches: one walk of the spatial index gives `total`, and
//!   [`City::evaluate`] counts availability only for the asked page's lots (about
//!   20 for the common first page).
//! - With a filter (`spot_type`, a window, `max_price`), whether a lot matches
//!   depends on its availability (and price), so every lot within the radius is
//!   evaluated to count them exactly. That is the price of an exact `total`; the
//!   radius (at most 50 km) bounds it.

use chrono::{DateTime, Duration, Utc};
use parking_core::city::{City, SearchQuery, SearchResult};
use parking_core::events::DomainEvent;
use parking_core::model::{GeoPoint, Interval, Lot, LotId, Spot, SpotId, SpotKind, TenantId};
use parking_core::pricing::RateCard;
use parking_core::spatial::Radius;
use tokio::sync::Mutex;
use tracing::instrument;

use crate::api::extract::Actor;
use crate::error::ApiError;
use crate::service::payments;
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::interface::LotRecord;
use crate::store::payments::PaymentMode;

/// Serialises lot administration (see the module docs). Bookings never take it.
static ADMIN_WRITES: Mutex<()> = Mutex::const_new(());

/// A nearby search after parsing.
#[derive(Clone, Debug)]
pub struct Search {
    /// The search centre.
    pub center: GeoPoint,
    /// How far from it.
    pub radius: Radius,
    /// Only lots with a free spot of this kind.
    pub kind: Option<SpotKind>,
    /// Availability (and a price) for this window instead of now.
    pub window: Option<Interval>,
    /// Only lots whose quote for the window is at most this many minor units of
    /// the lot's own currency.
    pub max_price: Option<i64>,
    /// 1-based page.
    pub page: u32,
    /// Page size.
    pub per_page: u32,
}

/// One lot found, with what a summary shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Found {
    /// Distance, counts and quote.
    pub result: SearchResult,
    /// The lot's name.
    pub name: String,
    /// Its address.
    pub address: String,
    /// Where it is.
    pub location: GeoPoint,
}

/// One page of a search and the number of matching lots.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchPage {
    /// The page's lots, nearest first.
    pub items: Vec<Found>,
    /// How many lots match in all.
    pub total: u64,
}

/// Runs a search over `city` (see the module docs for what is evaluated).
pub fn search_city(
    city: &City,
    search: &Search,
    now: DateTime<Utc>,
) -> Result<SearchPage, ApiError> {
    let per_page = search.per_page as usize;
    let offset = (search.page.saturating_sub(1) as usize).saturating_mul(per_page);
    let filtered = search.kind.is_some() || search.window.is_some() || search.max_price.is_some();
    let query = SearchQuery {
        center: search.center,
        radius: search.radius,
        limit: usize::MAX,
        kind: search.kind,
        window: search.window,
        // Applied below: the limit is in each lot's own currency, the core's in one.
        max_price: None,
        now,
    };
    let (results, total) = if filtered {
        let mut results = city.search(&query).map_err(city_error)?;
        if let Some(max) = search.max_price {
            results.retain(|r| r.quote.as_ref().is_some_and(|q| q.total.amount <= max));
        }
        let total = results.len();
        (
            results.into_iter().skip(offset).take(per_page).collect(),
            total,
        )
    } else {
        // One walk of the spatial index: it gives the total, and only the page's
        // lots get their availability counted.
        let hits: Vec<_> = city.index().nearby(search.center, search.radius).collect();
        let page = hits
            .iter()
            .skip(offset)
            .take(per_page)
            .filter_map(|hit| city.evaluate(hit.lot_id, hit.distance_m, &query))
            .collect::<Vec<_>>();
        (page, hits.len())
    };
    let items = results
        .into_iter()
        .filter_map(|result| {
            let state = city.lot(result.lot_id).ok()?;
            Some(Found {
                name: state.lot.name.clone(),
                address: state.lot.address.clone(),
                location: state.lot.location,
                result,
            })
        })
        .collect();
    Ok(SearchPage {
        items,
        total: total as u64,
    })
}

/// Searches the engine.
pub fn search(state: &AppState, search: &Search) -> Result<SearchPage, ApiError> {
    let city = state.engine.read();
    search_city(&city, search, Utc::now())
}

fn city_error(e: parking_core::city::CityError) -> ApiError {
    match e {
        parking_core::city::CityError::PriceNeedsWindow => {
            ApiError::field("max_price", "needs start_time and end_time")
        }
        parking_core::city::CityError::UnknownLot(_) => ApiError::NotFound("lot"),
        other => ApiError::Internal(other.to_string()),
    }
}

/// A one-microsecond window at `now`: "free now" for a single spot.
pub fn instant(now: DateTime<Utc>) -> Result<Interval, ApiError> {
    Interval::new(now, now + Duration::microseconds(1))
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// The lot `id` if the caller may manage it. Callers who are not staff are
/// refused (403); a lot of another tenant is a 404, exactly like a lot that
/// does not exist, so operators learn nothing about other tenants.
pub fn managed_lot(state: &AppState, actor: &Actor, id: LotId) -> Result<Lot, ApiError> {
    actor.require_staff()?;
    let city = state.engine.read();
    match city.lot(id) {
        Ok(lot) if actor.manages(lot.lot.tenant_id) => Ok(lot.lot.clone()),
        _ => Err(ApiError::NotFound("lot")),
    }
}

/// Whose lots a managed-lots listing covers, decided from the caller alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LotScope {
    /// Every lot (an admin naming no tenant).
    All,
    /// One tenant's lots.
    Tenant(TenantId),
}

impl LotScope {
    fn covers(self, tenant: TenantId) -> bool {
        match self {
            LotScope::All => true,
            LotScope::Tenant(own) => own == tenant,
        }
    }
}

/// The scope of the caller's managed lots: an operator's own tenant (naming
/// another is a 403, as for [`owning_tenant`]); an admin's every lot, or the
/// named tenant's (an unknown tenant is a 404). Drivers are refused (403).
pub async fn managed_scope(
    state: &AppState,
    actor: &Actor,
    named: Option<TenantId>,
) -> Result<LotScope, ApiError> {
    actor.require_staff()?;
    if actor.is_admin() {
        return match named {
            None => Ok(LotScope::All),
            Some(tenant) => match state.store.tenant(tenant).await? {
                Some(_) => Ok(LotScope::Tenant(tenant)),
                None => Err(ApiError::NotFound("tenant")),
            },
        };
    }
    let own = actor
        .tenant_id
        .ok_or_else(|| ApiError::Forbidden("this operator belongs to no tenant".into()))?;
    match named {
        Some(other) if other != own => Err(ApiError::Forbidden(
            "operators see their own tenant's lots only".into(),
        )),
        _ => Ok(LotScope::Tenant(own)),
    }
}

/// One page of the lots in `scope`, by name then id, and how many there are in
/// all. The scope is applied before sorting and paging, so a page is never
/// short for lots of other tenants.
pub fn managed_lots(
    city: &City,
    scope: LotScope,
    page: u32,
    per_page: u32,
) -> (Vec<&parking_core::city::LotState>, u64) {
    let mut lots: Vec<_> = city
        .lots()
        .filter(|state| scope.covers(state.lot.tenant_id))
        .collect();
    let total = lots.len() as u64;
    lots.sort_unstable_by(|a, b| {
        (a.lot.name.as_str(), a.lot.id.as_uuid()).cmp(&(b.lot.name.as_str(), b.lot.id.as_uuid()))
    });
    let per_page = per_page as usize;
    let offset = (page.saturating_sub(1) as usize).saturating_mul(per_page);
    let items = lots.into_iter().skip(offset).take(per_page).collect();
    (items, total)
}

/// The tenant a new lot belongs to: an admin must name an existing one; an
/// operator's lots are their own tenant's (naming another is a 403).
pub async fn owning_tenant(
    state: &AppState,
    actor: &Actor,
    named: Option<TenantId>,
) -> Result<TenantId, ApiError> {
    actor.require_staff()?;
    if actor.is_admin() {
        let tenant = named.ok_or_else(|| {
            ApiError::field("tenant_id", "an admin must name the tenant owning the lot")
        })?;
        return match state.store.tenant(tenant).await? {
            Some(_) => Ok(tenant),
            None => Err(ApiError::field("tenant_id", "no such tenant")),
        };
    }
    let own = actor
        .tenant_id
        .ok_or_else(|| ApiError::Forbidden("this operator belongs to no tenant".into()))?;
    match named {
        Some(other) if other != own => Err(ApiError::Forbidden(
            "operators create lots for their own tenant only".into(),
        )),
        _ => Ok(own),
    }
}

/// The lot whose external id is `external_id`, if the caller may manage it:
/// 404 when there is none or it is another tenant's (see [`managed_lot`]).
#[instrument(skip_all)]
pub fn lot_by_external_id(
    state: &AppState,
    actor: &Actor,
    external_id: &str,
) -> Result<Lot, ApiError> {
    actor.require_staff()?;
    let id = state
        .engine
        .external_ids()
        .lot(external_id)
        .ok_or(ApiError::NotFound("lot"))?;
    managed_lot(state, actor, id)
}

/// The lot's external id, if it was given one.
pub fn external_id(state: &AppState, id: LotId) -> Option<String> {
    state.engine.external_ids().of_lot(id).map(str::to_owned)
}

/// Stores a new lot (no spots, no rates yet) with its external id and payment
/// mode in one write, and adds it to the engine. An external id another lot
/// has is a 409 — whichever tenant owns that lot, as external ids are unique
/// across the database. `prepaid` without Stripe keys is a 422.
#[instrument(skip_all, fields(lot = %lot.id, tenant = %lot.tenant_id))]
pub async fn create_lot(
    state: &AppState,
    lot: Lot,
    external_id: Option<String>,
    payment_mode: PaymentMode,
) -> Result<(), ApiError> {
    const TAKEN: &str = "another lot already has this external_id";
    payments::check_mode(state, payment_mode)?;
    let _serial = ADMIN_WRITES.lock().await;
    if let Some(taken) = &external_id
        && state.engine.external_ids().lot(taken).is_some()
    {
        return Err(ApiError::conflict(TAKEN));
    }
    state
        .store
        .insert_lot(LotRecord {
            lot: lot.clone(),
            external_id: external_id.clone(),
            payment_mode,
        })
        .await
        .map_err(|e| match e {
            // The database's UNIQUE rule, should memory ever lag behind it.
            StoreError::Conflict(_) if external_id.is_some() => ApiError::conflict(TAKEN),
            other => other.into(),
        })?;
    let id = lot.id;
    state
        .engine
        .write()
        .add_lot(lot, None)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    if let Some(external_id) = external_id {
        state.engine.external_ids_mut().insert(id, external_id);
    }
    state.payments.remember(id, payment_mode);
    Ok(())
}

/// Changes a managed lot with `change` (which validates) and, when given, its
/// payment mode: in the store in one write, then in memory; returns the lot as
/// it is now. `prepaid` without Stripe keys is a 422.
#[instrument(skip_all, fields(lot = %id))]
pub async fn update_lot(
    state: &AppState,
    actor: &Actor,
    id: LotId,
    change: impl FnOnce(&mut Lot) -> Result<(), ApiError>,
    payment_mode: Option<PaymentMode>,
) -> Result<Lot, ApiError> {
    if let Some(mode) = payment_mode {
        payments::check_mode(state, mode)?;
    }
    let _serial = ADMIN_WRITES.lock().await;
    let mut lot = managed_lot(state, actor, id)?;
    change(&mut lot)?;
    store_lot_change(state, lot, payment_mode).await
}

/// Sets a lot's payment mode, whoever asks (for embedders' and tests' set-up;
/// the API goes through [`update_lot`]). `prepaid` without Stripe keys is a 422.
pub async fn set_payment_mode(
    state: &AppState,
    id: LotId,
    payment_mode: PaymentMode,
) -> Result<(), ApiError> {
    payments::check_mode(state, payment_mode)?;
    let _serial = ADMIN_WRITES.lock().await;
    let lot = state
        .engine
        .read()
        .lot(id)
        .map(|lot| lot.lot.clone())
        .map_err(|_| ApiError::NotFound("lot"))?;
    store_lot_change(state, lot, Some(payment_mode)).await?;
    Ok(())
}

/// The one write of a changed lot: store, then engine, then payment mode.
async fn store_lot_change(
    state: &AppState,
    lot: Lot,
    payment_mode: Option<PaymentMode>,
) -> Result<Lot, ApiError> {
    state
        .store
        .update_lot(lot.clone(), payment_mode)
        .await
        .map_err(not_found("lot"))?;
    state
        .engine
        .write()
        .update_lot(lot.clone())
        .map_err(|_| ApiError::NotFound("lot"))?;
    if let Some(mode) = payment_mode {
        state.payments.remember(lot.id, mode);
    }
    Ok(lot)
}

/// Deletes a managed lot; 409 while it has current or future bookings.
#[instrument(skip_all, fields(lot = %id))]
pub async fn delete_lot(state: &AppState, actor: &Actor, id: LotId) -> Result<(), ApiError> {
    let _serial = ADMIN_WRITES.lock().await;
    managed_lot(state, actor, id)?;
    state
        .store
        .delete_lot(id, Utc::now())
        .await
        .map_err(not_found("lot"))?;
    state.engine.write().remove_lot(id);
    state.engine.external_ids_mut().remove_lot(id);
    Ok(())
}

/// Labels `prefix` + number of a batch start after the highest such number in
/// the lot, so a second batch with the same prefix continues the first.
pub fn next_number(existing: impl Iterator<Item = String>, prefix: &str) -> u32 {
    existing
        .filter_map(|label| {
            label
                .strip_prefix(prefix)
                .filter(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|rest| rest.parse::<u32>().ok())
        })
        .max()
        .map_or(1, |n| n.saturating_add(1))
}

/// Adds spots to a managed lot. `build` gets the labels the lot already has and
/// returns the new spots; a label already taken is a 409.
#[instrument(skip_all, fields(lot = %id))]
pub async fn add_spots(
    state: &AppState,
    actor: &Actor,
    id: LotId,
    build: impl FnOnce(Vec<String>) -> Vec<Spot>,
) -> Result<Vec<Spot>, ApiError> {
    let _serial = ADMIN_WRITES.lock().await;
    managed_lot(state, actor, id)?;
    let existing: Vec<String> = {
        let city = state.engine.read();
        let lot = city.lot(id).map_err(|_| ApiError::NotFound("lot"))?;
        lot.inventory.spots().map(|s| s.label.clone()).collect()
    };
    let spots = build(existing.clone());
    if let Some(taken) = spots.iter().find(|s| existing.contains(&s.label)) {
        return Err(ApiError::conflict(format!(
            "the label {} is taken in this lot",
            taken.label
        )));
    }
    state
        .store
        .insert_spots(spots.clone())
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => ApiError::conflict("a label is taken in this lot"),
            other => other.into(),
        })?;
    let mut city = state.engine.write();
    for spot in &spots {
        city.add_spot(spot.clone())
            .map_err(|e| ApiError::Internal(e.to_string()))?;
    }
    Ok(spots)
}

/// Takes a spot of a managed lot in or out of service, with its
/// `SpotStatusChanged` event. Out of service, it is never allocated; its
/// existing bookings stay.
#[instrument(skip_all, fields(lot = %lot_id, spot = %spot_id))]
pub async fn set_in_service(
    state: &AppState,
    actor: &Actor,
    lot_id: LotId,
    spot_id: SpotId,
    in_service: bool,
) -> Result<Spot, ApiError> {
    let _serial = ADMIN_WRITES.lock().await;
    managed_lot(state, actor, lot_id)?;
    let event = DomainEvent::SpotStatusChanged {
        lot_id,
        spot_id,
        occupied: None,
        in_service,
    };
    let spot = state
        .store
        .set_spot_in_service(lot_id, spot_id, in_service, event)
        .await
        .map_err(not_found("spot"))?;
    let mut city = state.engine.write();
    city.lot_mut(lot_id)
        .map_err(|_| ApiError::NotFound("lot"))?
        .inventory
        .set_in_service(spot_id, in_service)
        .map_err(|_| ApiError::NotFound("spot"))?;
    Ok(spot)
}

/// Sets a managed lot's rate card (already validated by the caller).
#[instrument(skip_all, fields(lot = %id))]
pub async fn put_rates(
    state: &AppState,
    actor: &Actor,
    id: LotId,
    card: RateCard,
) -> Result<(), ApiError> {
    let _serial = ADMIN_WRITES.lock().await;
    managed_lot(state, actor, id)?;
    state
        .store
        .put_rate_card(id, card.clone())
        .await
        .map_err(not_found("lot"))?;
    state
        .engine
        .write()
        .set_rates(id, card)
        .map_err(|e| ApiError::Internal(e.to_string()))
}

fn not_found(what: &'static str) -> impl Fn(StoreError) -> ApiError {
    move |e| match e {
        StoreError::NotFound => ApiError::NotFound(what),
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parking_core::model::{BookingRules, OperatingHours};

    fn lot(n: u128, lat: f64) -> Lot {
        Lot {
            id: LotId::from_u128(n),
            tenant_id: TenantId::from_u128(1),
            name: format!("P{n}"),
            address: "Street 1".into(),
            location: GeoPoint::new(lat, 13.74).expect("valid"),
            time_zone: chrono_tz::Europe::Berlin,
            hours: OperatingHours::always_open(),
            amenities: Default::default(),
            rules: BookingRules::default(),
        }
    }

    fn city(n: u128) -> City {
        let mut city = City::new();
        for i in 1..=n {
            // About 111 m apart, northwards.
            city.add_lot(
                lot(i, 51.05 + 0.001 * i as f64),
                Some(RateCard::example_eur()),
            )
            .expect("lot");
            city.add_spot(Spot {
                id: SpotId::from_u128(i),
                lot_id: LotId::from_u128(i),
                label: "A".into(),
                kind: if i % 2 == 0 {
                    SpotKind::Ev
                } else {
                    SpotKind::Regular
                },
                zone: None,
                in_service: true,
            })
            .expect("spot");
        }
        city
    }

    fn query(page: u32, per_page: u32) -> Search {
        Search {
            center: GeoPoint::new(51.05, 13.74).expect("valid"),
            radius: Radius::new(1_000.0).expect("valid"),
            kind: None,
            window: None,
            max_price: None,
            page,
            per_page,
        }
    }

    #[test]
    fn unfiltered_pages_count_every_lot_in_the_radius() {
        let city = city(12); // P1..P8 within 1 km (P9 is 1000.8 m away)
        let now = Utc::now();
        let first = search_city(&city, &query(1, 3), now).expect("search");
        assert_eq!(first.total, 8);
        let names: Vec<_> = first.items.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["P1", "P2", "P3"]);
        let last = search_city(&city, &query(3, 3), now).expect("search");
        let names: Vec<_> = last.items.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["P7", "P8"]);
        let beyond = search_city(&city, &query(4, 3), now).expect("search");
        assert!(beyond.items.is_empty());
        assert_eq!(beyond.total, 8);
    }

    #[test]
    fn filters_count_only_matching_lots() {
        let city = city(12);
        let now = Utc::now();
        let ev = Search {
            kind: Some(SpotKind::Ev),
            ..query(1, 20)
        };
        let page = search_city(&city, &ev, now).expect("search");
        assert_eq!(page.total, 4, "P2, P4, P6, P8");
        let start = now + Duration::hours(2);
        let window = Interval::new(start, start + Duration::hours(1)).expect("window");
        let free = Search {
            window: Some(window),
            max_price: Some(1_000_000),
            ..query(1, 20)
        };
        let page = search_city(&city, &free, now).expect("search");
        assert_eq!(page.total, 8);
        assert!(page.items.iter().all(|f| f.result.quote.is_some()));
        let none = Search {
            max_price: Some(0),
            ..free
        };
        assert_eq!(search_city(&city, &none, now).expect("search").total, 0);
    }

    #[test]
    fn batch_numbers_continue_after_the_highest() {
        let labels = ["B-001", "B-007", "B-x", "C-100", "B-"].map(String::from);
        assert_eq!(next_number(labels.into_iter(), "B-"), 8);
        assert_eq!(next_number(std::iter::empty(), "B-"), 1);
    }
}
