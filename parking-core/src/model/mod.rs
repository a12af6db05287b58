//! The domain model: ids, money, intervals, places, lots, spots, reservations.

pub mod geo;
pub mod hours;
pub mod ids;
pub mod interval;
pub mod local_time;
pub mod lot;
pub mod money;
pub mod reservation;
pub mod spot;

pub use geo::{EARTH_RADIUS_M, GeoError, GeoPoint};
pub use hours::{ClosedError, Closure, HoursError, OpenWindow, OperatingHours};
pub use ids::{AlertId, LotId, PaymentId, ReservationId, SpotId, TenantId, UserId};
pub use interval::{EmptyInterval, Interval};
pub use lot::{Amenity, BookingRules, CancellationPolicy, Lot, WindowError};
pub use money::{Currency, Money, MoneyError};
pub use reservation::{LifecycleError, Reservation, ReservationStatus};
pub use spot::{KindCounts, Spot, SpotKind, UnknownSpotKind};
