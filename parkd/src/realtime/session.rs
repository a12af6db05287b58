//! One WebSocket connection: reads client messages, writes what its
//! [`Mailbox`] collects, pings, and closes with a code that says why.
//!
//! Generic over `Sink`/`Stream` of messages, so it runs the same over a real
//! socket and over channels in tests. This task is the only writer of its
//! socket; every write is bounded by the write timeout, and nobody else ever
//! waits for it.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes};
use chrono::{DateTime, Utc};
use futures::{Sink, SinkExt, Stream, StreamExt};
use parking_api::lots::MAX_RADIUS_M;
use parking_api::ws::{Area, ClientMessage, ServerMessage, close_codes};
use parking_core::events::DomainEvent;
use parking_core::model::{GeoPoint, LotId, SpotId, TenantId, UserId};
use parking_core::spatial::Radius;
use tokio::time::{Instant, MissedTickBehavior};
use uuid::Uuid;

use super::frames::{Frame, render};
use super::mailbox::Mailbox;
use super::registry::{ConnId, Identity, Wanted};
use super::{Admission, Realtime};
use crate::auth::Role;
use crate::state::AppState;
use crate::store::interface::{PageRequest, ReservationFilter, Scope, StoredEvent};

/// Unreadable messages tolerated (each answered with an error) before the
/// connection is closed with `PROTOCOL_ERROR`.
const MAX_STRIKES: u32 = 5;
/// The longest token accepted in an `auth` message, bytes.
const MAX_TOKEN_BYTES: usize = 4096;
/// How long a close frame may take to write.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// Live reservations loaded for a driver when they authenticate.
const TRACKED_RESERVATIONS: u32 = 100;

/// Why a session ends.
#[derive(Debug)]
enum End {
    /// Close with this code and reason.
    Close(u16, &'static str),
    /// The client could not keep up.
    Slow(&'static str),
    /// The client closed or the socket failed: nothing more to write.
    Gone,
}

/// The lots a `subscribe` names that exist, and the ids that do not.
struct Resolved {
    found: Vec<LotId>,
    unknown: Vec<Uuid>,
}

/// A request refused: the error code and how to fix it.
type Refusal = (&'static str, String);

/// The token a connection authenticated with.
#[derive(Clone, Copy, Debug)]
struct Authenticated {
    jti: Uuid,
    expires_at: DateTime<Utc>,
}

/// Runs a connection until it ends. `admission` (the connection slot) is
/// held for the whole session.
pub async fn run<S, R, E>(state: AppState, admission: Admission, sink: S, stream: R)
where
    S: Sink<Message> + Unpin,
    S::Error: Display,
    R: Stream<Item = Result<Message, E>> + Unpin,
    E: Display,
{
    let realtime: &Realtime = &state.realtime;
    let mailbox = Arc::new(Mailbox::new(realtime.limits.queue_capacity));
    realtime
        .registry
        .connect(admission.id, Arc::clone(&mailbox));
    metrics::gauge!("parkd_ws_connections").increment(1.0);
    let mut session = Session {
        id: admission.id,
        state: state.clone(),
        mailbox,
        sink,
        stream,
        auth: None,
        strikes: 0,
    };
    let end = session.drive().await;
    session.state.realtime.registry.disconnect(session.id);
    session.finish(end).await;
    metrics::gauge!("parkd_ws_connections").decrement(1.0);
    drop(admission);
}

struct Session<S, R> {
    id: ConnId,
    state: AppState,
    mailbox: Arc<Mailbox>,
    sink: S,
    stream: R,
    auth: Option<Authenticated>,
    strikes: u32,
}

impl<S, R, E> Session<S, R>
where
    S: Sink<Message> + Unpin,
    S::Error: Display,
    R: Stream<Item = Result<Message, E>> + Unpin,
    E: Display,
{
    fn limits(&self) -> &crate::config::WebSocketLimits {
        &self.state.realtime.limits
    }

    async fn drive(&mut self) -> End {
        match self.serve().await {
            Ok(()) => End::Gone,
            Err(end) => end,
        }
    }

    async fn serve(&mut self) -> Result<(), End> {
        let limits = self.limits().clone();
        let heartbeat = Duration::from_secs(limits.heartbeat_secs);
        let idle = Duration::from_secs(limits.idle_timeout_secs);
        let mut shutdown = self.state.realtime.shutdown_signal();
        if *shutdown.borrow_and_update() {
            return Err(End::Close(
                close_codes::GOING_AWAY,
                "the server is shutting down",
            ));
        }
        self.reply(&ServerMessage::Welcome {
            heartbeat_secs: limits.heartbeat_secs,
            idle_timeout_secs: limits.idle_timeout_secs,
            max_subscriptions: limits.max_subscriptions,
        })
        .await?;
        let mut ping = tokio::time::interval_at(Instant::now() + heartbeat, heartbeat);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mailbox = Arc::clone(&self.mailbox);
        // One timer, pushed back on every frame heard (not a new timer per
        // loop: this loop turns once per message written).
        let idle_timer = tokio::time::sleep(idle);
        tokio::pin!(idle_timer);
        loop {
            tokio::select! {
                biased;
                _ = shutdown.changed() => {
                    return Err(End::Close(close_codes::GOING_AWAY, "the server is shutting down"));
                }
                () = mailbox.wait() => self.flush().await?,
                incoming = self.stream.next() => {
                    idle_timer.as_mut().reset(Instant::now() + idle);
                    match incoming {
                        Some(Ok(Message::Text(text))) => self.on_text(&text).await?,
                        Some(Ok(Message::Binary(_))) => {
                            self.strike("binary frames are not part of the protocol; send JSON text frames")
                                .await?;
                        }
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                        Some(Ok(Message::Close(_))) | None => return Ok(()),
                        Some(Err(e)) => {
                            tracing::debug!(conn = self.id, error = %e, "unreadable WebSocket frame");
                            return Err(End::Close(
                                close_codes::PROTOCOL_ERROR,
                                "unreadable or oversized frame",
                            ));
                        }
                    }
                }
                _ = ping.tick() => {
                    self.check_token()?;
                    self.write(vec![Message::Ping(Default::default())]).await?;
                }
                () = &mut idle_timer => {
                    return Err(End::Close(close_codes::IDLE_TIMEOUT, "nothing received for the idle timeout"));
                }
            }
        }
    }

    /// Writes the closing frame the end calls for.
    async fn finish(&mut self, end: End) {
        let (code, reason) = match end {
            End::Gone => {
                // Lets tungstenite send the reply to a client's close frame.
                let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.sink.flush()).await;
                return;
            }
            End::Close(code, reason) => (code, reason),
            End::Slow(reason) => {
                metrics::counter!("parkd_ws_slow_consumer_closes_total").increment(1);
                tracing::info!(conn = self.id, reason, "closing a slow WebSocket consumer");
                (close_codes::SLOW_CONSUMER, reason)
            }
        };
        let close = Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        }));
        if let Ok(Ok(())) = tokio::time::timeout(CLOSE_TIMEOUT, self.sink.send(close)).await {
            // The closing handshake: wait (briefly) for the client's close
            // frame rather than dropping the socket under a client that is
            // still writing (its writes would fail before it reads our code).
            let stream = &mut self.stream;
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, async move {
                while let Some(Ok(message)) = stream.next().await {
                    if matches!(message, Message::Close(_)) {
                        break;
                    }
                }
            })
            .await;
        }
    }

    /// Writes `messages` and flushes, within the write timeout.
    async fn write(&mut self, messages: Vec<Message>) -> Result<(), End> {
        if messages.is_empty() {
            return Ok(());
        }
        let count = messages.len();
        let timeout = Duration::from_secs(self.limits().write_timeout_secs);
        let sink = &mut self.sink;
        let written = tokio::time::timeout(timeout, async move {
            for message in messages {
                sink.feed(message).await?;
            }
            sink.flush().await
        })
        .await;
        match written {
            Ok(Ok(())) => {
                metrics::counter!("parkd_ws_messages_sent_total").increment(count as u64);
                Ok(())
            }
            Ok(Err(e)) => {
                tracing::debug!(conn = self.id, error = %e, "WebSocket write failed");
                Err(End::Gone)
            }
            Err(_) => Err(End::Slow("writes blocked for the write timeout")),
        }
    }

    async fn write_frames(&mut self, frames: Vec<Frame>) -> Result<(), End> {
        self.write(frames.into_iter().map(Message::Text).collect())
            .await
    }

    async fn reply(&mut self, message: &ServerMessage) -> Result<(), End> {
        self.write_frames(vec![render(message)]).await
    }

    async fn error(&mut self, code: &str, detail: String) -> Result<(), End> {
        self.reply(&ServerMessage::Error {
            code: code.to_owned(),
            detail,
        })
        .await
    }

    /// Writes whatever the mailbox collected.
    async fn flush(&mut self) -> Result<(), End> {
        let taken = self.mailbox.take();
        if taken.overflowed {
            return Err(End::Slow(
                "too many undelivered reservation events or alerts",
            ));
        }
        self.write_frames(taken.frames).await
    }

    async fn strike(&mut self, detail: &str) -> Result<(), End> {
        self.strikes += 1;
        if self.strikes >= MAX_STRIKES {
            return Err(End::Close(
                close_codes::PROTOCOL_ERROR,
                "too many unreadable messages",
            ));
        }
        self.error("bad_message", detail.to_owned()).await
    }

    fn check_token(&self) -> Result<(), End> {
        let Some(auth) = self.auth else {
            return Ok(());
        };
        if Utc::now() >= auth.expires_at {
            return Err(End::Close(
                close_codes::UNAUTHORIZED,
                "the access token expired; reconnect and authenticate with a fresh one",
            ));
        }
        if self.state.revoked.is_revoked(auth.jti) {
            return Err(End::Close(
                close_codes::UNAUTHORIZED,
                "the access token was revoked",
            ));
        }
        Ok(())
    }

    async fn on_text(&mut self, text: &str) -> Result<(), End> {
        let message = match serde_json::from_str::<ClientMessage>(text) {
            Ok(message) => message,
            Err(e) => {
                let detail = format!(
                    "{e}; expected {{\"type\":\"auth\",\"token\":…}}, {{\"type\":\"subscribe\",\"lots\":[…]}} or {{\"type\":\"unsubscribe\",\"lots\":[…]}}"
                );
                return self.strike(&detail).await;
            }
        };
        match message {
            ClientMessage::Auth { token } => self.authenticate(&token).await,
            ClientMessage::Subscribe { lots, near, since } => {
                self.subscribe(lots, near, since).await
            }
            ClientMessage::Unsubscribe { lots } => self.unsubscribe(lots).await,
        }
    }

    async fn authenticate(&mut self, token: &str) -> Result<(), End> {
        let invalid = End::Close(
            close_codes::UNAUTHORIZED,
            "the access token is invalid or expired",
        );
        if token.len() > MAX_TOKEN_BYTES {
            return Err(invalid);
        }
        let Ok(claims) = self.state.tokens.verify(token) else {
            return Err(invalid);
        };
        if self.state.revoked.is_revoked(claims.jti) {
            return Err(End::Close(
                close_codes::UNAUTHORIZED,
                "the access token was revoked",
            ));
        }
        let Some(expires_at) = claims.expires_at() else {
            return Err(invalid);
        };
        let user = UserId::from_uuid(claims.sub);
        let identity = Identity {
            user,
            admin: claims.has_role(Role::Admin),
            operator_of: claims
                .has_role(Role::Operator)
                .then_some(claims.tenant.map(TenantId::from_uuid))
                .flatten(),
        };
        self.state.realtime.registry.authenticate(self.id, identity);
        self.auth = Some(Authenticated {
            jti: claims.jti,
            expires_at,
        });
        let role = [Role::Admin, Role::Operator, Role::Driver]
            .into_iter()
            .find(|r| claims.has_role(*r))
            .unwrap_or(Role::Driver);
        self.reply(&ServerMessage::Authenticated {
            user_id: claims.sub,
            role: crate::api::users::role_to_wire(role),
        })
        .await?;
        // The user's live reservations, so that their later events reach this
        // connection (bookings made from now on are seen on the bus).
        let live = self
            .state
            .store
            .list_reservations(
                Scope::User(user),
                ReservationFilter {
                    from: Some(Utc::now()),
                    ..ReservationFilter::default()
                },
                PageRequest {
                    page: 1,
                    per_page: TRACKED_RESERVATIONS,
                },
            )
            .await;
        match live {
            Ok((records, _)) => self
                .state
                .realtime
                .registry
                .track(user, records.into_iter().map(|r| r.reservation)),
            Err(e) => {
                tracing::warn!(conn = self.id, error = %e, "loading a user's reservations for WebSocket events failed");
            }
        }
        Ok(())
    }

    /// The lots a `subscribe` names: known ids and the lots in its area, or
    /// the error to answer with.
    fn resolve(&self, lots: &[Uuid], near: Option<Area>) -> Result<Resolved, Refusal> {
        let max = self.limits().max_subscriptions;
        let area = match near {
            Some(area) => {
                let center = GeoPoint::new(area.lat, area.lng)
                    .map_err(|e| ("bad_area", format!("near: {e}")))?;
                if !(area.radius.is_finite() && area.radius >= 0.0) {
                    return Err((
                        "bad_area",
                        "near.radius must be a number of metres, at least 0".into(),
                    ));
                }
                if area.radius > f64::from(MAX_RADIUS_M) {
                    return Err((
                        "radius_too_large",
                        format!("near.radius is at most {MAX_RADIUS_M} metres"),
                    ));
                }
                let radius =
                    Radius::new(area.radius).map_err(|e| ("bad_area", format!("near: {e}")))?;
                Some((center, radius))
            }
            None => None,
        };
        let city = self.state.engine.read();
        let mut found: Vec<LotId> = Vec::new();
        let mut unknown = Vec::new();
        for id in lots {
            let lot = LotId::from_uuid(*id);
            if city.lot(lot).is_err() {
                unknown.push(*id);
            } else if !found.contains(&lot) {
                found.push(lot);
            }
        }
        if let Some((center, radius)) = area {
            // One more than the cap is enough to know the cap is passed.
            for hit in city.index().nearby(center, radius).take(max + 1) {
                if !found.contains(&hit.lot_id) {
                    found.push(hit.lot_id);
                }
            }
        }
        Ok(Resolved { found, unknown })
    }

    async fn subscribe(
        &mut self,
        lots: Vec<Uuid>,
        near: Option<Area>,
        since: BTreeMap<Uuid, u64>,
    ) -> Result<(), End> {
        let max = self.limits().max_subscriptions;
        let max_replay = self.limits().max_replay;
        if lots.len() > max || since.len() > max {
            return self
                .error(
                    "too_many_subscriptions",
                    format!("at most {max} lots per connection"),
                )
                .await;
        }
        if lots.is_empty() && near.is_none() {
            return self
                .error(
                    "bad_message",
                    "subscribe names lots (\"lots\":[id, …]) or an area (\"near\":{\"lat\",\"lng\",\"radius\"})".into(),
                )
                .await;
        }
        let Resolved { found, unknown } = match self.resolve(&lots, near) {
            Ok(resolved) => resolved,
            Err((code, detail)) => return self.error(code, detail).await,
        };
        if !unknown.is_empty() {
            let listed: Vec<String> = unknown.iter().take(10).map(Uuid::to_string).collect();
            self.error("unknown_lot", format!("no such lot: {}", listed.join(", ")))
                .await?;
        }
        let registry = &self.state.realtime.registry;
        let (new, watching) = registry.unwatched(self.id, &found);
        if watching + new.len() > max {
            return self
                .error(
                    "too_many_subscriptions",
                    format!(
                        "watching {watching} lots, {} more would pass the limit of {max}; unsubscribe first or narrow the area",
                        new.len()
                    ),
                )
                .await;
        }
        let stored = match self.state.store.latest_lot_seqs(new.clone()).await {
            Ok(seqs) => seqs,
            Err(e) => {
                tracing::warn!(conn = self.id, error = %e, "reading lot sequences failed");
                return self
                    .error("unavailable", "storage is unavailable; try again".into())
                    .await;
            }
        };
        let wanted: Vec<Wanted> = new
            .iter()
            .zip(stored)
            .map(|(lot, stored_seq)| Wanted {
                lot: *lot,
                stored_seq,
                since: since.get(&lot.as_uuid()).copied(),
            })
            .collect();
        let outcome = match self.state.realtime.registry.subscribe(
            &self.state.engine,
            self.id,
            &wanted,
            max,
            u64::from(max_replay),
            Utc::now(),
        ) {
            Ok(outcome) => outcome,
            Err(e) => return self.error("too_many_subscriptions", e.to_string()).await,
        };
        self.reply(&ServerMessage::Subscribed {
            lots: outcome.added.iter().map(|l| l.as_uuid()).collect(),
        })
        .await?;
        self.flush().await?;
        for replay in outcome.replays {
            let missed = self
                .state
                .store
                .lot_events_between(replay.lot, replay.after, replay.upto, max_replay)
                .await;
            let failed = match missed {
                Ok(events) => {
                    self.write_frames(events.iter().map(|e| missed_frame(replay.lot, e)).collect())
                        .await?;
                    false
                }
                Err(e) => {
                    tracing::warn!(conn = self.id, error = %e, "replaying missed events failed; sending a snapshot");
                    true
                }
            };
            self.state.realtime.registry.finish_replay(
                &self.state.engine,
                self.id,
                replay.lot,
                failed,
                Utc::now(),
            );
            self.flush().await?;
        }
        Ok(())
    }

    async fn unsubscribe(&mut self, lots: Vec<Uuid>) -> Result<(), End> {
        let max = self.limits().max_subscriptions;
        if lots.len() > max {
            return self
                .error(
                    "too_many_subscriptions",
                    format!("at most {max} lots per connection"),
                )
                .await;
        }
        let lots: Vec<LotId> = lots.into_iter().map(LotId::from_uuid).collect();
        let removed = self.state.realtime.registry.unsubscribe(self.id, &lots);
        self.reply(&ServerMessage::Unsubscribed {
            lots: removed.iter().map(|l| l.as_uuid()).collect(),
        })
        .await
    }
}

/// The spot an event is about, if any.
fn spot_of(event: &DomainEvent) -> Option<SpotId> {
    match event {
        DomainEvent::ParkingSpotBooked { spot_id, .. }
        | DomainEvent::ParkingSpotReleased { spot_id, .. }
        | DomainEvent::ReservationCheckedIn { spot_id, .. }
        | DomainEvent::ReservationCancelled { spot_id, .. }
        | DomainEvent::SpotStatusChanged { spot_id, .. }
        | DomainEvent::AlertRaised { spot_id, .. }
        | DomainEvent::AlertAcknowledged { spot_id, .. } => Some(*spot_id),
        DomainEvent::PaymentProcessed { .. }
        | DomainEvent::UserRegistered { .. }
        | DomainEvent::DeviceKeyIssued { .. }
        | DomainEvent::DeviceKeyRevoked { .. } => None,
    }
}

/// A missed event as the public may see it: what happened where, never who.
fn missed_frame(lot: LotId, event: &StoredEvent) -> Frame {
    render(&ServerMessage::Missed {
        lot_id: lot.as_uuid(),
        seq: event.lot_seq.unwrap_or_default(),
        event_type: event.event_type.clone(),
        spot_id: spot_of(&event.payload).map(|s| s.as_uuid()),
        occurred_at: event.occurred_at,
    })
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use futures::channel::mpsc;
    use parking_core::model::{Currency, Interval, Money, ReservationId, ReservationStatus};

    use super::*;
    use crate::config::Config;

    async fn state(
        tweak: impl FnOnce(&mut crate::config::WebSocketLimits),
    ) -> (AppState, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config {
            data_dir: dir.path().to_owned(),
            sync_full: false,
            ..Config::default()
        };
        tweak(&mut config.websocket);
        let state = crate::app::build(config).await.expect("state");
        (state, dir)
    }

    fn kind(message: &Message) -> String {
        match message {
            Message::Text(text) => serde_json::from_str::<serde_json::Value>(text.as_str())
                .expect("json")["type"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            Message::Close(Some(frame)) => format!("close {}", frame.code),
            other => format!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_write_blocked_past_the_write_timeout_closes_as_a_slow_consumer() {
        let (state, _dir) = state(|l| l.write_timeout_secs = 1).await;
        // Room for one frame (the welcome); then the reader stalls.
        let (sink, mut written) = mpsc::channel::<Message>(0);
        let (incoming, stream) = mpsc::unbounded::<Result<Message, Infallible>>();
        let admission = state.realtime.admit().expect("a slot");
        let session = tokio::spawn(run(state.clone(), admission, sink, stream));
        incoming
            .unbounded_send(Ok(Message::Text(
                r#"{"type":"unsubscribe","lots":[]}"#.into(),
            )))
            .expect("sent");
        // The session gives up on the blocked write after the timeout (it
        // leaves the registry), then tries its close frame for a second.
        while state.realtime.registry.connections() == 0 {
            tokio::task::yield_now().await;
        }
        let blocked = Instant::now();
        while state.realtime.registry.connections() > 0 {
            assert!(blocked.elapsed() < Duration::from_secs(10), "never gave up");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            blocked.elapsed() >= Duration::from_secs(1),
            "not before the write timeout"
        );
        let mut seen = Vec::new();
        while let Some(message) = written.next().await {
            seen.push(kind(&message));
        }
        assert_eq!(seen, vec!["welcome".to_owned(), "close 4001".to_owned()]);
        session.await.expect("session ends");
        assert_eq!(
            state.realtime.open_connections(),
            0,
            "the slot is free again"
        );
    }

    #[tokio::test]
    async fn overflowing_the_event_queue_closes_as_a_slow_consumer_without_blocking_the_hub() {
        let (state, _dir) = state(|l| l.queue_capacity = 2).await;
        let (sink, mut written) = mpsc::unbounded::<Message>();
        let (incoming, stream) = mpsc::unbounded::<Result<Message, Infallible>>();
        let user = UserId::new();
        let (token, _) = state
            .tokens
            .issue(user.as_uuid(), &[Role::Driver], None, Utc::now())
            .expect("token");
        let admission = state.realtime.admit().expect("a slot");
        let session = tokio::spawn(run(state.clone(), admission, sink, stream));
        let auth = serde_json::json!({"type": "auth", "token": token}).to_string();
        incoming
            .unbounded_send(Ok(Message::Text(auth.into())))
            .expect("sent");
        assert_eq!(kind(&written.next().await.expect("welcome")), "welcome");
        assert_eq!(
            kind(&written.next().await.expect("authenticated")),
            "authenticated"
        );
        // Let the session finish loading the driver's reservations.
        tokio::time::sleep(Duration::from_millis(100)).await;
        // Three events for a queue of two, with no chance for the session to
        // drain in between (this test runs on one thread and does not yield).
        let start = Utc::now() + chrono::Duration::hours(1);
        for _ in 0..3 {
            let event = DomainEvent::ParkingSpotBooked {
                reservation_id: ReservationId::new(),
                lot_id: LotId::new(),
                spot_id: SpotId::new(),
                user_id: user,
                interval: Interval::new(start, start + chrono::Duration::hours(1))
                    .expect("interval"),
                status: ReservationStatus::Confirmed,
                total: Money::new(100, Currency::EUR),
            };
            state.realtime.registry.reservation_event(&event, Some(1));
        }
        let rest: Vec<String> = written.map(|m| kind(&m)).collect().await;
        assert_eq!(
            rest,
            vec!["close 4001".to_owned()],
            "nothing queued is sent"
        );
        session.await.expect("session ends");
    }
}
