//! # parking-api
//!
//! The wire types of parkd's REST API (`/api/v1`): every request body, response
//! body and query string, written once and shared by `parkd` (server),
//! `parkctl` and `parking-tui` (clients). Each type derives `serde` and
//! `utoipa::ToSchema` (queries also `utoipa::IntoParams`), so the OpenAPI
//! document is generated from the same definitions the code uses. No HTTP
//! client or server dependency lives here.
//!
//! Layout, one module per resource:
//! - [`common`] — [`Page`], [`PageQuery`], RFC 9457 [`Problem`] with
//!   [`FieldError`]s, [`MoneyDto`], and the [`Checks`] validation helper;
//! - [`auth`] — registration, login, token pairs, users, tenants, [`Role`];
//! - [`lots`] — nearby search, lot detail, create and patch, [`Location`],
//!   [`AmenityDto`];
//! - [`spots`] — [`SpotKindDto`], spots, bulk creation, service changes;
//! - [`rates`] — the rate card ([`RateCardDto`]), quote queries, [`QuoteDto`];
//! - [`reservations`] — booking, changing, cancelling, listing,
//!   [`ReservationStatusDto`];
//! - [`events`] — the event log's query and page ([`EventPage`]);
//! - [`analytics`] — occupancy series, revenue per day, the lot summary;
//! - [`ops`] — health and readiness;
//! - [`payments`] — lot payment modes, a booking's payment, refunds;
//! - [`alerts`] — sensor readings, device keys, alerts;
//! - [`ws`] — the WebSocket protocol of `/ws`.
//!
//! Conventions: times are `DateTime<Utc>` (RFC 3339 on the wire); ids are
//! UUIDs; enums are snake_case strings; money is integer minor units with an
//! ISO-4217 code. Request bodies and queries refuse unknown fields, and each
//! request type has a `validate()` returning every bad field as a
//! [`FieldError`], which parkd answers with a 422 [`Problem`]. Enums of the
//! core (`SpotKind`, `ReservationStatus`, `Amenity`) have wire twins with
//! `From` both ways, so the schema lists their values without the core
//! depending on utoipa. Conversions from `parking-core` types live next to the
//! wire types; nothing here does I/O.

pub mod alerts;
pub mod analytics;
pub mod auth;
pub mod common;
pub mod events;
pub mod lots;
pub mod ops;
pub mod payments;
pub mod rates;
pub mod reservations;
pub mod spots;
pub mod ws;

pub use alerts::*;
pub use analytics::*;
pub use auth::*;
pub use common::*;
pub use events::*;
pub use lots::*;
pub use ops::*;
pub use payments::*;
pub use rates::*;
pub use reservations::*;
pub use spots::*;
pub use ws::*;

#[cfg(test)]
mod openapi_tests {
    use super::*;
    use utoipa::OpenApi;

    #[derive(OpenApi)]
    #[openapi(components(schemas(
        Page<LotSummary>,
        Page<Reservation>,
        Page<User>,
        PageQuery,
        Problem,
        FieldError,
        MoneyDto,
        Role,
        RegisterRequest,
        LoginRequest,
        TokenPair,
        RefreshRequest,
        LogoutRequest,
        User,
        UpdateUserRequest,
        Tenant,
        CreateTenantRequest,
        Location,
        AmenityDto,
        LotSearchQuery,
        ManagedLotsQuery,
        LotSummary,
        Lot,
        CreateLotRequest,
        UpdateLotRequest,
        SpotKindDto,
        Spot,
        CreateSpotsRequest,
        SpotBatch,
        SpotList,
        NewSpot,
        UpdateSpotRequest,
        SpotsQuery,
        RateCardDto,
        QuoteQuery,
        QuoteLineKind,
        QuoteLineDto,
        QuoteDto,
        ReservationStatusDto,
        CreateReservationRequest,
        ReserveSpotRequest,
        UpdateReservationRequest,
        Reservation,
        CancelResponse,
        ReservationsQuery,
        OccupancyQuery,
        OccupancyPoint,
        OccupancyReport,
        RevenueGrouping,
        RevenueQuery,
        RevenueDay,
        RevenueReport,
        SummaryQuery,
        Summary,
        CheckStatus,
        Health,
        Ready,
        MigrationsStatus,
    )))]
    struct Doc;

    #[test]
    fn every_schema_is_in_the_document() {
        let doc = Doc::openapi();
        let schemas = doc.components.as_ref().expect("components").schemas.clone();
        let mut names: Vec<&str> = schemas.keys().map(String::as_str).collect();
        names.sort_unstable();
        for expected in [
            "Page_LotSummary",
            "Page_Reservation",
            "Page_User",
            "PageQuery",
            "Problem",
            "FieldError",
            "MoneyDto",
            "Role",
            "RegisterRequest",
            "LoginRequest",
            "TokenPair",
            "RefreshRequest",
            "LogoutRequest",
            "User",
            "UpdateUserRequest",
            "Tenant",
            "CreateTenantRequest",
            "Location",
            "Amenity",
            "LotSearchQuery",
            "ManagedLotsQuery",
            "LotSummary",
            "Lot",
            "CreateLotRequest",
            "UpdateLotRequest",
            "SpotKind",
            "Spot",
            "CreateSpotsRequest",
            "SpotBatch",
            "SpotList",
            "NewSpot",
            "UpdateSpotRequest",
            "SpotsQuery",
            "RateCard",
            "QuoteQuery",
            "QuoteLineKind",
            "QuoteLineDto",
            "QuoteDto",
            "ReservationStatus",
            "CreateReservationRequest",
            "ReserveSpotRequest",
            "UpdateReservationRequest",
            "Reservation",
            "CancelResponse",
            "ReservationsQuery",
            "OccupancyQuery",
            "OccupancyPoint",
            "OccupancyReport",
            "RevenueGrouping",
            "RevenueQuery",
            "RevenueDay",
            "RevenueReport",
            "SummaryQuery",
            "Summary",
            "CheckStatus",
            "Health",
            "Ready",
            "MigrationsStatus",
        ] {
            assert!(
                names.contains(&expected),
                "{expected} missing from {names:?}"
            );
        }

        let json = serde_json::to_value(&doc).expect("serialise");
        let s = &json["components"]["schemas"];
        // Enum values come through, snake_case.
        assert_eq!(
            s["ReservationStatus"]["enum"],
            serde_json::json!([
                "held",
                "confirmed",
                "checked_in",
                "completed",
                "cancelled",
                "no_show",
                "expired"
            ])
        );
        // The problem's `type` keeps its wire name; optional fields are optional.
        let required = s["Problem"]["required"].as_array().expect("required");
        assert!(required.contains(&serde_json::json!("type")));
        assert!(!required.contains(&serde_json::json!("errors")));
        // Timestamps and ids are typed.
        assert_eq!(
            s["Reservation"]["properties"]["start_time"]["format"],
            "date-time"
        );
        assert_eq!(s["Reservation"]["properties"]["id"]["format"], "uuid");
        // The bulk body documents both shapes.
        assert_eq!(
            s["CreateSpotsRequest"]["oneOf"].as_array().map(Vec::len),
            Some(2),
            "{}",
            s["CreateSpotsRequest"]
        );
        // Request bodies advertise that unknown fields are refused.
        assert_eq!(
            s["CreateReservationRequest"]["additionalProperties"],
            serde_json::json!(false)
        );
    }

    #[test]
    fn query_types_describe_their_parameters() {
        use utoipa::IntoParams;
        let names = |params: Vec<utoipa::openapi::path::Parameter>| -> Vec<String> {
            params.into_iter().map(|p| p.name).collect()
        };
        assert_eq!(
            names(LotSearchQuery::into_params(|| None)),
            [
                "lat",
                "lng",
                "radius",
                "spot_type",
                "start_time",
                "end_time",
                "max_price",
                "page",
                "per_page"
            ]
        );
        assert_eq!(names(PageQuery::into_params(|| None)), ["page", "per_page"]);
        assert_eq!(
            names(ManagedLotsQuery::into_params(|| None)),
            ["tenant_id", "page", "per_page"]
        );
        assert_eq!(
            names(OccupancyQuery::into_params(|| None)),
            ["lot_id", "from", "to", "bucket"]
        );
    }
}

/// Query types as axum's `Query` extractor parses them (`serde_urlencoded`):
/// numbers, enums and times from strings, unknown parameters refused.
#[cfg(test)]
mod query_string_tests {
    use super::*;

    #[test]
    fn query_strings_parse() {
        let q: LotSearchQuery = serde_urlencoded::from_str(
            "lat=51.05&lng=13.74&radius=2000&spot_type=ev\
             &start_time=2026-05-01T08:00:00Z&end_time=2026-05-01T10:00:00Z&max_price=900&page=2",
        )
        .expect("search query");
        assert_eq!(q.radius_m(), 2000);
        assert_eq!(q.spot_type, Some(SpotKindDto::Ev));
        assert_eq!(q.page_query().offset(), 20);
        assert_eq!(q.validate(), Ok(()));
        assert!(serde_urlencoded::from_str::<LotSearchQuery>("lat=1&lng=2&radius_km=3").is_err());
        let q: ManagedLotsQuery = serde_urlencoded::from_str(
            "tenant_id=00000000-0000-0000-0000-000000000001&page=3&per_page=100",
        )
        .expect("managed lots query");
        assert_eq!(q.page_query().offset(), 200);
        assert_eq!(q.validate(), Ok(()));
        assert!(
            serde_urlencoded::from_str::<ManagedLotsQuery>("per_page=0")
                .expect("parses")
                .validate()
                .is_err()
        );
        assert!(serde_urlencoded::from_str::<ManagedLotsQuery>("lat=1").is_err());

        let q: ReservationsQuery =
            serde_urlencoded::from_str("status=checked_in&per_page=50").expect("list query");
        assert_eq!(q.status, Some(ReservationStatusDto::CheckedIn));
        let q: PageQuery = serde_urlencoded::from_str("").expect("defaults");
        assert_eq!(q, PageQuery::default());
        let q: OccupancyQuery = serde_urlencoded::from_str(
            "lot_id=00000000-0000-0000-0000-000000000001\
             &from=2026-05-01T00:00:00Z&to=2026-05-02T00:00:00Z&bucket=15m",
        )
        .expect("occupancy query");
        assert_eq!(q.bucket_minutes(), Ok(15));
        let q: RevenueQuery = serde_urlencoded::from_str(
            "lot_id=00000000-0000-0000-0000-000000000001\
             &from=2026-05-01T00:00:00Z&to=2026-05-02T00:00:00Z&group_by=day",
        )
        .expect("revenue query");
        assert_eq!(q.validate(), Ok(()));
        let q: QuoteQuery = serde_urlencoded::from_str(
            "start_time=2026-05-01T08:00:00%2B02:00&end_time=2026-05-01T10:00:00Z",
        )
        .expect("offset times are accepted and normalised to UTC");
        assert_eq!(q.start_time.to_rfc3339(), "2026-05-01T06:00:00+00:00");
        let q: SpotsQuery =
            serde_urlencoded::from_str("spot_type=motorcycle").expect("spots query");
        assert_eq!(q.spot_type, Some(SpotKindDto::Motorcycle));
    }
}
