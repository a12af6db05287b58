//! `GET /events`: the event log (the outbox) for operators and admins, paged by
//! sequence number so a consumer can replay what it missed.

use axum::Json;
use axum::extract::State;
use parking_api::common::Problem;
use parking_api::events::{EventItem, EventPage, EventsQuery};
use parking_core::model::LotId;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Actor, ApiQuery};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::interface::StoredEvent;

/// The routes of this resource.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

fn item(e: StoredEvent) -> EventItem {
    EventItem {
        seq: e.seq,
        lot_id: e.lot_id.map(|l| l.as_uuid()),
        lot_seq: e.lot_seq,
        event_type: e.event_type,
        occurred_at: e.occurred_at,
        event: e.payload,
    }
}

/// Events after `after` in sequence order: an operator sees the events of
/// their tenant's lots, an admin every event.
#[utoipa::path(
    get,
    path = "/events",
    tag = "events",
    params(EventsQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = EventPage),
        (status = 401, body = Problem),
        (status = 403, body = Problem, description = "Neither an operator nor an admin"),
        (status = 422, body = Problem)
    )
)]
pub async fn list(
    State(state): State<AppState>,
    actor: Actor,
    ApiQuery(query): ApiQuery<EventsQuery>,
) -> Result<Json<EventPage>, ApiError> {
    actor.require_staff()?;
    query.validate().map_err(ApiError::Validation)?;
    let tenant = actor.staff_tenant()?;
    let after = query.after.unwrap_or(0);
    let events = state
        .store
        .events_after(
            after,
            query.lot_id.map(LotId::from_uuid),
            tenant,
            query.limit(),
        )
        .await?;
    let next_after = events.last().map_or(after, |e| e.seq);
    Ok(Json(EventPage {
        items: events.into_iter().map(item).collect(),
        next_after,
    }))
}
