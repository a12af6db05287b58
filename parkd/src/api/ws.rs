//! `GET /ws`: the WebSocket endpoint for live availability, reservation
//! events and alerts. The protocol is `parking_api::ws`; the session is
//! [`crate::realtime::session`].

use axum::extract::State;
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::response::Response;
use futures::StreamExt;
use parking_api::common::Problem;
use parking_api::ws::{ClientMessage, ServerMessage};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::realtime::session;
use crate::state::AppState;

/// Bytes read from a connection's socket at a time (tungstenite allocates it
/// up front: its default of 128 KiB times 10,000 connections is 1.3 GB).
const READ_BUFFER_BYTES: usize = 4 * 1024;
/// Outgoing bytes gathered before a socket write.
const WRITE_BUFFER_BYTES: usize = 8 * 1024;
/// Outgoing bytes one connection may have unwritten before writes fail.
const MAX_WRITE_BUFFER_BYTES: usize = 1024 * 1024;

/// The routes of this resource.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(connect))
}

/// Live updates over a WebSocket (JSON text frames tagged by `type`).
///
/// The server greets with `welcome`. A client may send
/// `{"type":"auth","token":"…"}` with its access token (never in the URL) to
/// also receive its own reservations' events (`reservation`) or, as an
/// operator or admin, its lots' alerts (`alert`). It watches lots with
/// `{"type":"subscribe","lots":[…]}` or
/// `{"type":"subscribe","near":{"lat":…,"lng":…,"radius":…}}` (radius at most
/// 50,000 m) and gets a `snapshot` per lot, then `availability_update`s
/// carrying the lot's `seq`. A reconnecting client adds `"since":{lot: seq}`
/// and gets the events it missed (`missed`) then the state now, or a fresh
/// snapshot when it is too far behind. The server pings every
/// `heartbeat_secs`; a connection silent for `idle_timeout_secs` is closed
/// with 4000. Close codes: 4000 idle, 4001 slow consumer (resume from the
/// last `seq`), 4002 protocol error, 4003 bad or expired token, 1001 server
/// shutting down.
#[utoipa::path(
    get,
    path = "/ws",
    tag = "realtime",
    operation_id = "websocket",
    request_body(
        content = ClientMessage,
        description = "Not a body: the messages a client sends as WebSocket text frames"
    ),
    responses(
        (status = 101, body = ServerMessage, description = "Switching protocols; the server then sends these messages as text frames"),
        (status = 400, body = Problem, description = "Not a WebSocket upgrade request"),
        (status = 503, body = Problem, description = "Too many WebSocket connections; retry later")
    )
)]
pub async fn connect(
    State(state): State<AppState>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let upgrade = upgrade.map_err(|e| {
        ApiError::BadRequest(format!(
            "{e}: /api/v1/ws speaks WebSocket; connect with a WebSocket client"
        ))
    })?;
    let admission = state.realtime.admit().ok_or_else(|| {
        ApiError::Unavailable("too many WebSocket connections; retry later".into())
    })?;
    let max_frame = state.realtime.limits.max_frame_bytes;
    Ok(upgrade
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_write_buffer_size(MAX_WRITE_BUFFER_BYTES)
        .max_message_size(max_frame)
        .max_frame_size(max_frame)
        .on_upgrade(move |socket| async move {
            let (sink, stream) = socket.split();
            session::run(state, admission, sink, stream).await;
        }))
}
