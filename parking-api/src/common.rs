//! Shapes shared by every resource: pagination ([`Page`], [`PageQuery`]),
//! RFC 9457 problem details ([`Problem`], [`FieldError`]), money ([`MoneyDto`]),
//! and the small validation toolkit ([`Checks`]) the request types use.

use chrono::{DateTime, Utc};
use parking_core::model::{Currency, Money, MoneyError};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The default page size of every list endpoint.
pub const DEFAULT_PER_PAGE: u32 = 20;
/// The largest page size any list endpoint serves.
pub const MAX_PER_PAGE: u32 = 100;

/// One page of a list: the items and where they sit in the whole result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    /// The items on this page.
    pub items: Vec<T>,
    /// How many items the whole result holds.
    pub total: u64,
    /// This page's number, counting from 1.
    pub page: u32,
    /// The page size asked for.
    pub per_page: u32,
    /// True if a later page holds items.
    pub has_next: bool,
    /// True if this is not the first page.
    pub has_prev: bool,
}

impl<T> Page<T> {
    /// A page of `items` out of `total`, being page `page` (from 1) of size
    /// `per_page`; `has_next` and `has_prev` follow from those.
    pub fn new(items: Vec<T>, total: u64, page: u32, per_page: u32) -> Self {
        let seen = u64::from(page) * u64::from(per_page);
        Page {
            items,
            total,
            page,
            per_page,
            has_next: seen < total,
            has_prev: page > 1,
        }
    }

    /// Converts every item, keeping the paging fields.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
            page: self.page,
            per_page: self.per_page,
            has_next: self.has_next,
            has_prev: self.has_prev,
        }
    }
}

/// `?page&per_page` of a list endpoint: page from 1 (default 1), size default
/// [`DEFAULT_PER_PAGE`], at most [`MAX_PER_PAGE`] (see [`PageQuery::validate`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// The page number, counting from 1.
    #[serde(default = "default_page")]
    #[param(default = 1, minimum = 1)]
    #[schema(default = 1, minimum = 1)]
    pub page: u32,
    /// The page size, 1 to 100.
    #[serde(default = "default_per_page")]
    #[param(default = 20, minimum = 1, maximum = 100)]
    #[schema(default = 20, minimum = 1, maximum = 100)]
    pub per_page: u32,
}

fn default_page() -> u32 {
    1
}

fn default_per_page() -> u32 {
    DEFAULT_PER_PAGE
}

impl Default for PageQuery {
    fn default() -> Self {
        PageQuery {
            page: 1,
            per_page: DEFAULT_PER_PAGE,
        }
    }
}

impl PageQuery {
    /// The paging of a query whose `page` and `per_page` are optional fields,
    /// defaults filled in.
    pub fn from_parts(page: Option<u32>, per_page: Option<u32>) -> Self {
        PageQuery {
            page: page.unwrap_or(1),
            per_page: per_page.unwrap_or(DEFAULT_PER_PAGE),
        }
    }

    /// Refuses page 0 and page sizes outside `1..=100`.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut checks = Checks::new();
        checks.page(*self);
        checks.finish()
    }

    /// How many items precede this page (for `OFFSET`).
    pub fn offset(&self) -> u64 {
        u64::from(self.page.saturating_sub(1)) * u64::from(self.per_page)
    }

    /// The page size as a `LIMIT`.
    pub fn limit(&self) -> u64 {
        u64::from(self.per_page)
    }
}

/// One rejected field of a request: which one and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldError {
    /// The field's path in the request, e.g. `email` or `spots[3].label`.
    pub field: String,
    /// What is wrong with it, for people.
    pub message: String,
}

impl FieldError {
    /// An error for `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// An error answer: RFC 9457 problem details, sent as `application/problem+json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem; `about:blank` when the status says it all.
    #[serde(rename = "type")]
    pub r#type: String,
    /// A short summary of the kind of problem, the same for every occurrence.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong this time, for people.
    pub detail: String,
    /// A URI of this occurrence (e.g. the request path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The rejected fields of a 422 answer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl Problem {
    /// The media type problem details are sent with.
    pub const CONTENT_TYPE: &'static str = "application/problem+json";

    /// A problem of type `about:blank`.
    pub fn new(status: u16, title: impl Into<String>, detail: impl Into<String>) -> Self {
        Problem {
            r#type: "about:blank".to_owned(),
            title: title.into(),
            status,
            detail: detail.into(),
            instance: None,
            errors: Vec::new(),
        }
    }

    /// A 422 listing the rejected fields.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.len() {
            1 => "1 field is invalid".to_owned(),
            n => format!("{n} fields are invalid"),
        };
        Problem {
            errors,
            ..Problem::new(422, "Unprocessable Content", detail)
        }
    }

    /// Sets the problem type URI.
    pub fn with_type(mut self, r#type: impl Into<String>) -> Self {
        self.r#type = r#type.into();
        self
    }

    /// Sets the occurrence URI.
    pub fn with_instance(mut self, instance: impl Into<String>) -> Self {
        self.instance = Some(instance.into());
        self
    }
}

/// An amount of money on the wire: integer minor units (cents) and an ISO-4217
/// code, e.g. `{"amount": 1250, "currency": "EUR"}` for 12.50 €.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"amount": 1250, "currency": "EUR"}))]
pub struct MoneyDto {
    /// Minor units; negative for reductions and refunds to the lot.
    pub amount: i64,
    /// Three upper-case letters (ISO 4217).
    #[schema(pattern = "^[A-Z]{3}$", example = "EUR")]
    pub currency: String,
}

impl From<Money> for MoneyDto {
    fn from(money: Money) -> Self {
        MoneyDto {
            amount: money.amount,
            currency: money.currency.code().to_owned(),
        }
    }
}

impl From<&Money> for MoneyDto {
    fn from(money: &Money) -> Self {
        MoneyDto::from(*money)
    }
}

impl TryFrom<MoneyDto> for Money {
    type Error = MoneyError;

    fn try_from(dto: MoneyDto) -> Result<Self, Self::Error> {
        Money::try_from(&dto)
    }
}

impl TryFrom<&MoneyDto> for Money {
    type Error = MoneyError;

    fn try_from(dto: &MoneyDto) -> Result<Self, Self::Error> {
        Ok(Money::new(dto.amount, Currency::new(&dto.currency)?))
    }
}

impl MoneyDto {
    /// Checks the currency code; `field` names this value in the request.
    pub fn check(&self, field: &str, checks: &mut Checks) {
        if Currency::new(&self.currency).is_err() {
            checks.push(
                format!("{field}.currency"),
                "must be three upper-case letters such as EUR",
            );
        }
    }
}

/// Deserialises a field that distinguishes "absent" (`None`, left unchanged)
/// from `null` (`Some(None)`, cleared) in PATCH bodies. Use with
/// `#[serde(default, deserialize_with = "double_option")]`.
pub fn double_option<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Collects [`FieldError`]s while a request is checked, so that one answer
/// names every bad field at once.
#[derive(Debug, Default)]
pub struct Checks {
    errors: Vec<FieldError>,
}

impl Checks {
    /// No errors yet.
    pub fn new() -> Self {
        Checks::default()
    }

    /// Records an error.
    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// `Ok` if nothing was recorded, else every error in the order found.
    pub fn finish(self) -> Result<(), Vec<FieldError>> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self.errors)
        }
    }

    /// A length in characters (not bytes) within `min..=max`.
    pub fn length(&mut self, field: &str, value: &str, min: usize, max: usize) {
        let len = value.chars().count();
        if len < min || len > max {
            let message = if min == 0 {
                format!("must be at most {max} characters")
            } else if min == max {
                format!("must be exactly {min} characters")
            } else {
                format!("must be {min} to {max} characters")
            };
            self.push(field, message);
        } else if min > 0 && value.trim().is_empty() {
            self.push(field, "must not be blank");
        }
    }

    /// A number within `min..=max`.
    pub fn range<N: PartialOrd + std::fmt::Display>(
        &mut self,
        field: &str,
        value: N,
        min: N,
        max: N,
    ) {
        if value < min || value > max {
            self.push(field, format!("must be between {min} and {max}"));
        }
    }

    /// A latitude and longitude in degrees, finite and on Earth.
    pub fn coordinates(&mut self, prefix: &str, lat: f64, lng: f64) {
        if !(lat.is_finite() && (-90.0..=90.0).contains(&lat)) {
            self.push(format!("{prefix}lat"), "must be between -90 and 90");
        }
        if !(lng.is_finite() && (-180.0..=180.0).contains(&lng)) {
            self.push(format!("{prefix}lng"), "must be between -180 and 180");
        }
    }

    /// `end > start`, reported on `end_field`.
    pub fn window(&mut self, end_field: &str, start: DateTime<Utc>, end: DateTime<Utc>) {
        if end <= start {
            self.push(end_field, "must be after the start");
        }
    }

    /// An optional window: both bounds or neither, and the end after the start.
    pub fn optional_window(
        &mut self,
        (start_field, start): (&str, Option<DateTime<Utc>>),
        (end_field, end): (&str, Option<DateTime<Utc>>),
    ) {
        match (start, end) {
            (Some(start), Some(end)) => self.window(end_field, start, end),
            (Some(_), None) => self.push(end_field, format!("is required with {start_field}")),
            (None, Some(_)) => self.push(start_field, format!("is required with {end_field}")),
            (None, None) => {}
        }
    }

    /// An IANA time-zone name that [`chrono_tz::Tz`] knows.
    pub fn timezone(&mut self, field: &str, value: &str) {
        if value.parse::<chrono_tz::Tz>().is_err() {
            self.push(
                field,
                "must be an IANA time-zone name such as Europe/Berlin",
            );
        }
    }

    /// Optional paging fields of a list query.
    pub fn page(&mut self, page: PageQuery) {
        if page.page < 1 {
            self.push("page", "must be at least 1");
        }
        if !(1..=MAX_PER_PAGE).contains(&page.per_page) {
            self.push("per_page", format!("must be between 1 and {MAX_PER_PAGE}"));
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// The field names of a failed validation, in order.
    pub(crate) fn fields(result: Result<(), Vec<FieldError>>) -> Vec<String> {
        result
            .expect_err("invalid")
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn page_flags_follow_from_the_counts() {
        let p = Page::new(vec![1, 2], 45, 1, 20);
        assert!(p.has_next && !p.has_prev);
        let p = Page::new(vec![1], 45, 3, 20);
        assert!(!p.has_next && p.has_prev, "page 3 of 45/20 is the last");
        let p = Page::new(vec![1], 40, 2, 20);
        assert!(!p.has_next && p.has_prev, "exactly full last page");
        let p = Page::<u8>::new(vec![], 0, 1, 20);
        assert!(!p.has_next && !p.has_prev);
        let p = Page::<u8>::new(vec![], 10, 9, 20);
        assert!(!p.has_next && p.has_prev, "past the end");
        let json =
            serde_json::to_value(Page::new(vec!["a"], 3, 2, 1).map(str::len)).expect("serialise");
        assert_eq!(
            json,
            json!({"items": [1], "total": 3, "page": 2, "per_page": 1,
                   "has_next": true, "has_prev": true})
        );
    }

    #[test]
    fn page_query_defaults_and_limits() {
        let q: PageQuery = serde_json::from_value(json!({})).expect("defaults");
        assert_eq!(q, PageQuery::default());
        assert_eq!((q.page, q.per_page, q.offset()), (1, 20, 0));
        assert_eq!(PageQuery::from_parts(Some(3), None).offset(), 40);
        assert!(PageQuery::from_parts(None, Some(100)).validate().is_ok());
        let errs = PageQuery::from_parts(Some(0), Some(101))
            .validate()
            .expect_err("invalid");
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["page", "per_page"]);
        assert!(PageQuery::from_parts(None, Some(0)).validate().is_err());
        assert!(serde_json::from_value::<PageQuery>(json!({"size": 3})).is_err());
    }

    #[test]
    fn money_round_trips_and_currency_is_checked() {
        let money = Money::new(1250, Currency::EUR);
        let dto = MoneyDto::from(money);
        assert_eq!(
            serde_json::to_value(&dto).expect("serialise"),
            json!({"amount": 1250, "currency": "EUR"})
        );
        assert_eq!(Money::try_from(&dto), Ok(money));
        let bad = MoneyDto {
            amount: 1,
            currency: "eur".to_owned(),
        };
        assert!(Money::try_from(bad.clone()).is_err());
        let mut checks = Checks::new();
        bad.check("expected_total", &mut checks);
        let errs = checks.finish().expect_err("bad currency");
        assert_eq!(errs[0].field, "expected_total.currency");
        assert!(
            serde_json::from_value::<MoneyDto>(json!({"amount": 1, "currency": "EUR", "x": 1}))
                .is_err()
        );
    }

    #[test]
    fn problems_serialise_as_rfc_9457() {
        let p = Problem::validation(vec![FieldError::new("email", "must be an email address")])
            .with_instance("/api/v1/auth/register");
        assert_eq!(
            serde_json::to_value(&p).expect("serialise"),
            json!({
                "type": "about:blank",
                "title": "Unprocessable Content",
                "status": 422,
                "detail": "1 field is invalid",
                "instance": "/api/v1/auth/register",
                "errors": [{"field": "email", "message": "must be an email address"}]
            })
        );
        let plain = serde_json::to_value(Problem::new(404, "Not Found", "no such reservation"))
            .expect("serialise");
        assert_eq!(
            plain,
            json!({"type": "about:blank", "title": "Not Found", "status": 404,
                   "detail": "no such reservation"})
        );
        let back: Problem = serde_json::from_value(plain).expect("parse");
        assert!(back.errors.is_empty());
    }

    #[test]
    fn checks_count_characters_not_bytes() {
        let mut checks = Checks::new();
        checks.length("name", &"é".repeat(100), 1, 100);
        checks.length("blank", "   ", 1, 100);
        checks.length("empty", "", 1, 100);
        let errs = checks.finish().expect_err("two bad");
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["blank", "empty"]);
    }
}
