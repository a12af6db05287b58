//! The I/O layer: terminal events, a one-second tick and the answers of
//! commands all become [`Msg`]s on one loop; each goes through
//! [`update`](crate::update::update) and the screen is drawn again only
//! after something happened (no busy loop: idle, the process wakes once a
//! second for the tick).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures_util::StreamExt;
use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{Event, EventStream};
use tokio::sync::mpsc::{self, UnboundedSender};
use tokio::task::JoinHandle;

use crate::app::{App, Command, Msg};
use crate::live::{self, LiveRequest};
use crate::source::Source;
use crate::update::update;
use crate::view::view;

/// Messages handled before one redraw at most, so a burst of live updates
/// costs one frame, not hundreds.
const MAX_BATCH: usize = 256;

/// Runs the dashboard until the user quits.
pub async fn run<S: Source>(
    terminal: &mut DefaultTerminal,
    mut app: App,
    source: Arc<S>,
) -> anyhow::Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let mut events = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut live_task: Option<JoinHandle<()>> = None;
    let size = terminal.size()?;
    app.size = (size.width, size.height);
    for command in app.init() {
        execute(&source, command, &tx, &mut live_task);
    }
    terminal.draw(|frame| view(&app, frame))?;
    loop {
        let msg = tokio::select! {
            event = events.next() => match event {
                Some(Ok(Event::Key(key))) => Msg::Key(key),
                Some(Ok(Event::Resize(w, h))) => Msg::Resize(w, h),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.into()),
                None => break,
            },
            Some(msg) = rx.recv() => msg,
            _ = tick.tick() => Msg::Tick(Utc::now()),
        };
        let mut pending = vec![msg];
        while pending.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(msg) => pending.push(msg),
                Err(_) => break,
            }
        }
        for msg in pending {
            for command in update(&mut app, msg) {
                execute(&source, command, &tx, &mut live_task);
            }
        }
        if app.quit {
            break;
        }
        terminal.draw(|frame| view(&app, frame))?;
    }
    if let Some(task) = live_task {
        task.abort();
    }
    Ok(())
}

/// Starts `command` in the background; its answer comes back on `tx`.
fn execute<S: Source>(
    source: &Arc<S>,
    command: Command,
    tx: &UnboundedSender<Msg>,
    live_task: &mut Option<JoinHandle<()>>,
) {
    let source = Arc::clone(source);
    let tx = tx.clone();
    if let Command::OpenLive { lots, since } = command {
        if let Some(old) = live_task.take() {
            old.abort();
        }
        *live_task = Some(tokio::spawn(async move {
            let request = LiveRequest {
                server: source.server(),
                token: source.access_token().await,
                lots,
                since,
            };
            live::run(request, tx).await;
        }));
        return;
    }
    tokio::spawn(async move {
        let msg = match command {
            Command::FetchLots => Msg::Lots(source.lots().await),
            Command::FetchCounts(lots) => Msg::Counts(source.counts(lots).await),
            Command::FetchAlerts => Msg::Alerts(source.alerts().await),
            Command::FetchLot(id) => Msg::LotLoaded(source.lot(id).await.map(Box::new)),
            Command::FetchBookings(query) => Msg::BookingsLoaded(source.bookings(query).await),
            Command::FetchAnalytics(id) => {
                Msg::AnalyticsLoaded(source.analytics(id).await.map(Box::new))
            }
            Command::Act(action) => source.act(action).await,
            Command::OpenLive { .. } => return,
        };
        let _ = tx.send(msg);
    });
}
