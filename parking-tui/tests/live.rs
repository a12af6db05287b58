//! The WebSocket client over real sockets, against a peer that speaks the
//! protocol of `parking_api::ws` by the book (parkd's own endpoint is built
//! on another branch): the handshake, resuming with `since`, forwarding,
//! close codes, and the 404 that means "poll instead".

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use futures_util::{SinkExt, StreamExt};
use parking_api::ws::{ClientMessage, ServerMessage};
use parking_api::{KindCountsDto, Role, SpotKindDto};
use parking_tui::app::{LiveEvent, Msg};
use parking_tui::live::{LiveRequest, run};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use uuid::Uuid;

async fn next(rx: &mut mpsc::UnboundedReceiver<Msg>) -> Msg {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("an event in time")
        .expect("the task reports")
}

fn text(message: &ServerMessage) -> Message {
    Message::text(serde_json::to_string(message).expect("json"))
}

fn client_message(frame: Message) -> ClientMessage {
    let Message::Text(text) = frame else {
        panic!("expected a text frame, got {frame:?}");
    };
    serde_json::from_str(&text).expect("a protocol message")
}

#[tokio::test]
async fn authenticates_resumes_forwards_and_reports_the_close_code() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let server = format!("http://{}", listener.local_addr().expect("addr"));
    let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
    let peer = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        let mut ws = tokio_tungstenite::accept_async(stream)
            .await
            .expect("upgrade");
        ws.send(text(&ServerMessage::Welcome {
            heartbeat_secs: 30,
            idle_timeout_secs: 90,
            max_subscriptions: 1000,
        }))
        .await
        .expect("welcome");
        let auth = client_message(ws.next().await.expect("auth").expect("frame"));
        assert_eq!(
            auth,
            ClientMessage::Auth {
                token: "tok".into()
            }
        );
        ws.send(text(&ServerMessage::Authenticated {
            user_id: Uuid::from_u128(9),
            role: Role::Operator,
        }))
        .await
        .expect("authenticated");
        let subscribe = client_message(ws.next().await.expect("subscribe").expect("frame"));
        ws.send(Message::Ping(Default::default()))
            .await
            .expect("ping");
        let mut available = KindCountsDto::new();
        available.insert(SpotKindDto::Regular, 3);
        ws.send(text(&ServerMessage::AvailabilityUpdate {
            lot_id: a,
            seq: 8,
            capacity: available.clone(),
            available,
            at: Utc
                .with_ymd_and_hms(2026, 11, 26, 8, 0, 0)
                .single()
                .expect("valid"),
        }))
        .await
        .expect("update");
        ws.send(Message::text("{\"type\":\"from_the_future\"}"))
            .await
            .expect("unknown message");
        ws.send(Message::Close(Some(CloseFrame {
            code: CloseCode::from(4001),
            reason: "queue full".into(),
        })))
        .await
        .expect("close");
        subscribe
    });

    let (tx, mut rx) = mpsc::unbounded_channel();
    let since = BTreeMap::from([(a, 7)]);
    tokio::spawn(run(
        LiveRequest {
            server,
            token: Some("tok".into()),
            lots: vec![a, b],
            since,
        },
        tx,
    ));
    assert_eq!(next(&mut rx).await, Msg::Live(LiveEvent::Opened));
    assert_eq!(next(&mut rx).await, Msg::Live(LiveEvent::Heartbeat));
    let Msg::Live(LiveEvent::Message(update)) = next(&mut rx).await else {
        panic!("expected the update");
    };
    assert!(matches!(
        *update,
        ServerMessage::AvailabilityUpdate { seq: 8, .. }
    ));
    assert_eq!(
        next(&mut rx).await,
        Msg::Live(LiveEvent::Closed(
            "too slow to keep up (4001: queue full)".into()
        )),
        "the unknown message was skipped, the close code named"
    );
    let subscribe = peer.await.expect("peer");
    assert_eq!(
        subscribe,
        ClientMessage::Subscribe {
            lots: vec![a, b],
            near: None,
            since: BTreeMap::from([(a, 7)]),
        },
        "resumes lot a after seq 7; lot b gets a snapshot"
    );
}

#[tokio::test]
async fn a_server_without_the_endpoint_means_polling() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let server = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let mut request = [0_u8; 2048];
        let _ = stream.read(&mut request).await.expect("request");
        stream
            .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .await
            .expect("answer");
    });
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(run(
        LiveRequest {
            server,
            token: None,
            lots: vec![Uuid::from_u128(1)],
            since: BTreeMap::new(),
        },
        tx,
    ));
    assert_eq!(
        next(&mut rx).await,
        Msg::Live(LiveEvent::Unavailable("HTTP 404 on /api/v1/ws".into()))
    );
}

#[tokio::test]
async fn an_unreachable_server_is_a_closed_feed_to_retry() {
    // Bind and drop: nothing listens on the port any more.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(run(
        LiveRequest {
            server: format!("http://127.0.0.1:{port}"),
            token: None,
            lots: Vec::new(),
            since: BTreeMap::new(),
        },
        tx,
    ));
    assert!(matches!(
        next(&mut rx).await,
        Msg::Live(LiveEvent::Closed(_))
    ));
}
