//! The live feed: one WebSocket connection to `/api/v1/ws` per
//! [`Command::OpenLive`](crate::app::Command::OpenLive), speaking the protocol
//! of [`parking_api::ws`]. It reports what happens as [`LiveEvent`]s and ends
//! when the connection does; reconnecting (with backoff, resuming from the
//! last `seq` per lot) is the update logic's decision, not this task's.
//!
//! A server without the endpoint answers the upgrade with 404: that is
//! reported as [`LiveEvent::Unavailable`] and the dashboard polls instead.
//!
//! An `https://` server is followed over `wss://`, trusting the system's root
//! certificates like the HTTP client does; `SSL_CERT_FILE` or `SSL_CERT_DIR`
//! name others (a private CA in front of parkd).

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use parking_api::ws::{ClientMessage, ServerMessage, close_codes};
use tokio::sync::mpsc::UnboundedSender;
use tokio_tungstenite::Connector;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use uuid::Uuid;

use crate::app::{LiveEvent, Msg};

/// A frame or message larger than this closes the connection: the server's
/// messages are a few hundred bytes.
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;
/// Lot ids per `subscribe` message.
const SUBSCRIBE_CHUNK: usize = 100;
/// How long to wait for the greeting and the answer to `auth`.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// `ws://host/api/v1/ws` for a base URL `http://host`, `wss://…` for
/// `https://host`; `None` for any other scheme.
pub fn ws_url(base: &str) -> Option<String> {
    let (scheme, rest) = match base.strip_prefix("https://") {
        Some(rest) => ("wss", rest),
        None => ("ws", base.strip_prefix("http://")?),
    };
    Some(format!(
        "{scheme}://{}/api/v1/ws",
        rest.trim_end_matches('/')
    ))
}

/// The TLS set-up of every `wss://` connection, made once: the system's
/// roots (with `SSL_CERT_FILE` / `SSL_CERT_DIR`), on aws-lc-rs.
fn tls() -> Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let mut roots = rustls::RootCertStore::empty();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(format!(
                    "no trusted root certificates found for wss:// ({} errors); \
                     set SSL_CERT_FILE to a PEM file of them",
                    found.errors.len()
                ));
            }
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map(|builder| {
                    Arc::new(builder.with_root_certificates(roots).with_no_client_auth())
                })
                .map_err(|e| format!("TLS set-up: {e}"))
        })
        .clone()
}

/// What to connect to and watch.
#[derive(Clone, Debug)]
pub struct LiveRequest {
    /// parkd's base URL.
    pub server: String,
    /// The access token, when logged in.
    pub token: Option<String>,
    /// Lots to watch.
    pub lots: Vec<Uuid>,
    /// The last `seq` seen per lot.
    pub since: BTreeMap<Uuid, u64>,
}

/// Runs one connection until it ends, sending its events to `tx`.
pub async fn run(request: LiveRequest, tx: UnboundedSender<Msg>) {
    let event = match connect(&request, &tx).await {
        Ok(why) => LiveEvent::Closed(why),
        Err(event) => event,
    };
    let _ = tx.send(Msg::Live(event));
}

/// Connects and forwards messages; `Ok(why)` when an open connection ended,
/// `Err(event)` when it could not be opened.
async fn connect(request: &LiveRequest, tx: &UnboundedSender<Msg>) -> Result<String, LiveEvent> {
    let Some(url) = ws_url(&request.server) else {
        return Err(LiveEvent::Unavailable(
            "the live feed speaks ws:// and wss:// only".to_owned(),
        ));
    };
    let connector = if url.starts_with("wss://") {
        Some(Connector::Rustls(tls().map_err(LiveEvent::Unavailable)?))
    } else {
        None
    };
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_MESSAGE_BYTES));
    let connecting =
        tokio_tungstenite::connect_async_tls_with_config(url, Some(config), true, connector);
    let (mut socket, _) = match tokio::time::timeout(HANDSHAKE_TIMEOUT, connecting).await {
        Err(_) => {
            return Err(LiveEvent::Closed(
                "the server did not answer the upgrade in time".to_owned(),
            ));
        }
        Ok(Ok(ok)) => ok,
        Ok(Err(WsError::Http(response)))
            if matches!(response.status().as_u16(), 404 | 405 | 501) =>
        {
            return Err(LiveEvent::Unavailable(format!(
                "HTTP {} on /api/v1/ws",
                response.status().as_u16()
            )));
        }
        Ok(Err(e)) => return Err(LiveEvent::Closed(e.to_string())),
    };

    let welcome = next_message(&mut socket).await?;
    let ServerMessage::Welcome {
        heartbeat_secs,
        max_subscriptions,
        ..
    } = welcome
    else {
        return Err(LiveEvent::Closed("the server did not greet".to_owned()));
    };
    if let Some(token) = &request.token {
        send(
            &mut socket,
            &ClientMessage::Auth {
                token: token.clone(),
            },
        )
        .await?;
        match next_message(&mut socket).await? {
            ServerMessage::Authenticated { .. } => {}
            ServerMessage::Error { code, detail } => {
                return Err(LiveEvent::Closed(format!("auth refused: {code}: {detail}")));
            }
            other => forward(tx, other),
        }
    }
    let lots: Vec<Uuid> = request
        .lots
        .iter()
        .copied()
        .take(max_subscriptions)
        .collect();
    for chunk in lots.chunks(SUBSCRIBE_CHUNK) {
        let since = chunk
            .iter()
            .filter_map(|lot| request.since.get(lot).map(|seq| (*lot, *seq)))
            .collect();
        send(
            &mut socket,
            &ClientMessage::Subscribe {
                lots: chunk.to_vec(),
                near: None,
                since,
            },
        )
        .await?;
    }
    let _ = tx.send(Msg::Live(LiveEvent::Opened));
    if request.lots.len() > lots.len() {
        let _ = tx.send(Msg::Warn(format!(
            "the live feed watches {} of {} lots (the server's limit)",
            lots.len(),
            request.lots.len()
        )));
    }

    // Silence for two heartbeats means the connection is dead even if TCP
    // has not noticed.
    let silence = Duration::from_secs(heartbeat_secs.clamp(1, 300) * 2 + 5);
    loop {
        let frame = match tokio::time::timeout(silence, socket.next()).await {
            Err(_) => {
                return Ok(format!(
                    "no word from the server for {} s",
                    silence.as_secs()
                ));
            }
            Ok(None) => return Ok("the server closed the connection".to_owned()),
            Ok(Some(Err(e))) => return Ok(e.to_string()),
            Ok(Some(Ok(frame))) => frame,
        };
        match frame {
            Message::Text(text) => {
                // A message type from a newer server does not parse: ignored.
                if let Ok(message) = serde_json::from_str::<ServerMessage>(&text) {
                    forward(tx, message);
                }
            }
            Message::Ping(_) | Message::Pong(_) => {
                let _ = tx.send(Msg::Live(LiveEvent::Heartbeat));
            }
            Message::Close(frame) => {
                return Ok(match frame {
                    Some(f) => close_reason(u16::from(f.code), &f.reason),
                    None => "the server closed the connection".to_owned(),
                });
            }
            Message::Binary(_) | Message::Frame(_) => {}
        }
    }
}

/// A close code in words.
pub fn close_reason(code: u16, reason: &str) -> String {
    let what = match code {
        close_codes::IDLE_TIMEOUT => "idle timeout",
        close_codes::SLOW_CONSUMER => "too slow to keep up",
        close_codes::UNAUTHORIZED => "token refused",
        close_codes::PROTOCOL_ERROR => "protocol error",
        close_codes::GOING_AWAY => "server going away",
        _ => "closed",
    };
    if reason.is_empty() {
        format!("{what} ({code})")
    } else {
        format!("{what} ({code}: {reason})")
    }
}

fn forward(tx: &UnboundedSender<Msg>, message: ServerMessage) {
    let _ = tx.send(Msg::Live(LiveEvent::Message(Box::new(message))));
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn send(socket: &mut Socket, message: &ClientMessage) -> Result<(), LiveEvent> {
    let text = serde_json::to_string(message)
        .map_err(|e| LiveEvent::Closed(format!("cannot encode a message: {e}")))?;
    socket
        .send(Message::text(text))
        .await
        .map_err(|e| LiveEvent::Closed(e.to_string()))
}

/// The next protocol message during the handshake (pings skipped).
async fn next_message(socket: &mut Socket) -> Result<ServerMessage, LiveEvent> {
    let deadline = tokio::time::Instant::now() + HANDSHAKE_TIMEOUT;
    loop {
        let frame = tokio::time::timeout_at(deadline, socket.next())
            .await
            .map_err(|_| LiveEvent::Closed("the server did not answer the handshake".to_owned()))?;
        match frame {
            None => return Err(LiveEvent::Closed("closed during the handshake".to_owned())),
            Some(Err(e)) => return Err(LiveEvent::Closed(e.to_string())),
            Some(Ok(Message::Text(text))) => {
                return serde_json::from_str(&text)
                    .map_err(|e| LiveEvent::Closed(format!("unreadable message: {e}")));
            }
            Some(Ok(Message::Close(frame))) => {
                return Err(LiveEvent::Closed(match frame {
                    Some(f) => close_reason(u16::from(f.code), &f.reason),
                    None => "closed during the handshake".to_owned(),
                }));
            }
            Some(Ok(_)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_close_reasons() {
        assert_eq!(
            ws_url("http://127.0.0.1:8080/").as_deref(),
            Some("ws://127.0.0.1:8080/api/v1/ws")
        );
        assert_eq!(
            ws_url("https://parking.example").as_deref(),
            Some("wss://parking.example/api/v1/ws")
        );
        assert_eq!(ws_url("ftp://parking.example"), None);
        assert_eq!(close_reason(4001, ""), "too slow to keep up (4001)");
        assert_eq!(
            close_reason(4003, "expired"),
            "token refused (4003: expired)"
        );
    }
}
