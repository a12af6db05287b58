//! A city: many lots with their inventories and rate cards, and the spatial index
//! over them. This is where a search's filters — a spot kind free for a window, a
//! maximum quoted price — are answered, and where a booking is priced and placed
//! in one step.
//!
//! Filters are applied lazily in distance order (see [`LotIndex::search`]), so a
//! search that needs 20 lots looks at availability and prices for about 20 lots,
//! however many are inside the radius.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use thiserror::Error;

use crate::conflict::{Booked, BookingError, BookingRequest, LotInventory, SpotChoice, SpotError};
use crate::model::{GeoPoint, Interval, Lot, LotId, Money, Spot, SpotKind};
use crate::pricing::{Occupancy, PricingError, Quote, RateCard, quote};
use crate::spatial::{LotIndex, Radius};

/// Errors of city-level operations.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum CityError {
    /// No such lot.
    #[error("lot {0} does not exist")]
    UnknownLot(LotId),
    /// The lot id is taken.
    #[error("lot {0} already exists")]
    DuplicateLot(LotId),
    /// The lot has no rate card, so it cannot quote.
    #[error("lot {0} has no rate card")]
    NoRateCard(LotId),
    /// A price limit needs a window to price.
    #[error("a maximum price needs a time window to quote")]
    PriceNeedsWindow,
    /// A spot operation failed.
    #[error(transparent)]
    Spot(#[from] SpotError),
    /// The booking was refused.
    #[error(transparent)]
    Booking(#[from] BookingError),
    /// Pricing failed (invalid card, overflow).
    #[error(transparent)]
    Pricing(#[from] PricingError),
}

/// One lot's state: what it is, its spots and bookings, and its prices.
#[derive(Clone, Debug)]
pub struct LotState {
    /// The lot.
    pub lot: Lot,
    /// Its spots and blocking reservations.
    pub inventory: LotInventory,
    /// Its rate card, if it sells time.
    pub rates: Option<RateCard>,
}

impl LotState {
    /// Occupancy now, for demand-responsive pricing: spots held now over spots in
    /// service.
    pub fn occupancy_now(&self, now: DateTime<Utc>) -> Occupancy {
        let capacity = self.inventory.capacity().total();
        let free = self.inventory.availability_now_cached(now).total();
        Occupancy::from_counts(capacity.saturating_sub(free), capacity)
    }

    /// Quotes a stay of `kind` at this lot at today's occupancy.
    pub fn quote(
        &self,
        kind: SpotKind,
        interval: &Interval,
        now: DateTime<Utc>,
    ) -> Result<Quote, CityError> {
        let card = self
            .rates
            .as_ref()
            .ok_or(CityError::NoRateCard(self.lot.id))?;
        Ok(quote(
            card,
            self.lot.time_zone,
            kind,
            interval,
            self.occupancy_now(now),
        )?)
    }
}

/// A search for somewhere to park.
#[derive(Clone, Debug)]
pub struct SearchQuery {
    /// Where the driver wants to be.
    pub center: GeoPoint,
    /// How far they will walk.
    pub radius: Radius,
    /// At most this many results.
    pub limit: usize,
    /// Only lots with a free spot of this kind (`None`: any kind).
    pub kind: Option<SpotKind>,
    /// Only lots free for the whole window (`None`: free now — counted at most
    /// once per second per lot, see [`LotInventory::availability_now_cached`]).
    pub window: Option<Interval>,
    /// Only lots whose quote for `window` is at most this.
    pub max_price: Option<Money>,
    /// The current time.
    pub now: DateTime<Utc>,
}

/// One lot found by a search.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchResult {
    /// The lot.
    pub lot_id: LotId,
    /// Great-circle distance from the search centre in metres.
    pub distance_m: f64,
    /// Spots in service (of the kind asked for, or all).
    pub total_spots: u32,
    /// Of those, free for the window (or now).
    pub available_spots: u32,
    /// The price for the window, when a window was given and the lot has rates.
    pub quote: Option<Quote>,
}

/// Lots, their inventories and prices, and where they are.
#[derive(Clone, Debug, Default)]
pub struct City {
    lots: HashMap<LotId, LotState>,
    index: LotIndex,
}

impl City {
    /// An empty city.
    pub fn new() -> Self {
        City::default()
    }

    /// Number of lots.
    pub fn len(&self) -> usize {
        self.lots.len()
    }

    /// True if there are no lots.
    pub fn is_empty(&self) -> bool {
        self.lots.is_empty()
    }

    /// Adds a lot with no spots yet.
    pub fn add_lot(&mut self, lot: Lot, rates: Option<RateCard>) -> Result<(), CityError> {
        if self.lots.contains_key(&lot.id) {
            return Err(CityError::DuplicateLot(lot.id));
        }
        if let Some(card) = &rates {
            card.validate().map_err(PricingError::from)?;
        }
        self.index.insert(lot.id, lot.location);
        let inventory = LotInventory::new(&lot);
        self.lots.insert(
            lot.id,
            LotState {
                lot,
                inventory,
                rates,
            },
        );
        Ok(())
    }

    /// Replaces a lot's description (name, place, hours, rules); its spots and
    /// bookings stay, and a move updates the spatial index.
    pub fn update_lot(&mut self, lot: Lot) -> Result<(), CityError> {
        let state = self
            .lots
            .get_mut(&lot.id)
            .ok_or(CityError::UnknownLot(lot.id))?;
        state.inventory.update_lot(&lot);
        self.index.insert(lot.id, lot.location);
        state.lot = lot;
        Ok(())
    }

    /// Sets a lot's rate card, validated.
    pub fn set_rates(&mut self, lot_id: LotId, card: RateCard) -> Result<(), CityError> {
        card.validate().map_err(PricingError::from)?;
        self.lot_mut(lot_id)?.rates = Some(card);
        Ok(())
    }

    /// Removes a lot and everything in it.
    pub fn remove_lot(&mut self, lot_id: LotId) -> Option<LotState> {
        self.index.remove(lot_id);
        self.lots.remove(&lot_id)
    }

    /// One lot.
    pub fn lot(&self, lot_id: LotId) -> Result<&LotState, CityError> {
        self.lots.get(&lot_id).ok_or(CityError::UnknownLot(lot_id))
    }

    /// One lot, to change its inventory.
    pub fn lot_mut(&mut self, lot_id: LotId) -> Result<&mut LotState, CityError> {
        self.lots
            .get_mut(&lot_id)
            .ok_or(CityError::UnknownLot(lot_id))
    }

    /// Every lot, in no particular order.
    pub fn lots(&self) -> impl Iterator<Item = &LotState> + '_ {
        self.lots.values()
    }

    /// The spatial index over the lots, for callers that need only places and
    /// distances (e.g. counting the lots within a radius without evaluating
    /// their availability).
    pub fn index(&self) -> &LotIndex {
        &self.index
    }

    /// Adds a spot to its lot.
    pub fn add_spot(&mut self, spot: Spot) -> Result<(), CityError> {
        self.lot_mut(spot.lot_id)?.inventory.add_spot(spot)?;
        Ok(())
    }

    /// Prices and books in one step: the quote is computed first (at the occupancy
    /// before the booking), then the inventory books; on any error nothing changes.
    /// Returns what was booked and its quote (`None` for a lot without rates).
    pub fn book(
        &mut self,
        lot_id: LotId,
        request: BookingRequest,
        now: DateTime<Utc>,
    ) -> Result<(Booked, Option<Quote>), CityError> {
        let state = self.lot_mut(lot_id)?;
        let kind = match request.choice {
            SpotChoice::Kind(kind) => kind,
            SpotChoice::Spot(spot) => state
                .inventory
                .spot(spot)
                .map(|s| s.kind)
                .ok_or(BookingError::UnknownSpot(spot))?,
        };
        let quote = match state.rates {
            Some(_) => Some(state.quote(kind, &request.interval, now)?),
            None => None,
        };
        let booked = state.inventory.book(request, now)?;
        Ok((booked, quote))
    }

    /// Lots near `query.center` that pass its filters, nearest first (ties by lot
    /// id), at most `query.limit` of them.
    /// Availability (and, for a window, the quote) of one lot found at
    /// `distance_m`, without any filter: for callers that walked the spatial index
    /// themselves (e.g. to count a page's total and evaluate only the page).
    pub fn evaluate(
        &self,
        lot_id: LotId,
        distance_m: f64,
        query: &SearchQuery,
    ) -> Option<SearchResult> {
        let unfiltered = SearchQuery {
            max_price: None,
            ..query.clone()
        };
        self.lots
            .get(&lot_id)
            .and_then(|state| evaluate(state, &unfiltered, distance_m))
    }

    pub fn search(&self, query: &SearchQuery) -> Result<Vec<SearchResult>, CityError> {
        if query.max_price.is_some() && query.window.is_none() {
            return Err(CityError::PriceNeedsWindow);
        }
        let filtered = query.kind.is_some() || query.window.is_some();
        let mut results = Vec::with_capacity(query.limit.min(64));
        self.index
            .search(query.center, query.radius, query.limit, |hit| {
                let Some(state) = self.lots.get(&hit.lot_id) else {
                    return false;
                };
                let Some(result) = evaluate(state, query, hit.distance_m) else {
                    return false;
                };
                if filtered && result.available_spots == 0 {
                    return false;
                }
                results.push(result);
                true
            });
        Ok(results)
    }
}

/// Availability and price of one lot for a query; `None` if it fails the price
/// limit (or cannot be priced in the limit's currency).
fn evaluate(state: &LotState, query: &SearchQuery, distance_m: f64) -> Option<SearchResult> {
    let capacity = state.inventory.capacity();
    let free = match &query.window {
        Some(window) => state.inventory.availability(window, query.now),
        None => state.inventory.availability_now_cached(query.now),
    };
    let (total_spots, available_spots) = match query.kind {
        Some(kind) => (capacity.get(kind), free.get(kind)),
        None => (capacity.total(), free.total()),
    };
    let quote = match (&query.window, &state.rates) {
        (Some(window), Some(_)) => state
            .quote(query.kind.unwrap_or(SpotKind::Regular), window, query.now)
            .ok(),
        _ => None,
    };
    if let Some(max) = query.max_price {
        let within = quote
            .as_ref()
            .is_some_and(|q| q.total.currency == max.currency && q.total.amount <= max.amount);
        if !within {
            return None;
        }
    }
    Some(SearchResult {
        lot_id: state.lot.id,
        distance_m,
        total_spots,
        available_spots,
        quote,
    })
}
