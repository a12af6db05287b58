//! How long one frame takes to draw into a `TestBackend`: the overview of a
//! city of 500 lots and the lot screen of a 2,000-spot lot, at 200×60 (a big
//! terminal: more cells to fill than at 80×24). Target: ≤ 5 ms per frame.

use criterion::{Criterion, criterion_group, criterion_main};
use parking_tui::app::{Fetched, Msg, Screen};
use parking_tui::update::update;
use parking_tui::view::view;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

#[path = "../tests/support/fixtures.rs"]
mod fixtures;

fn frames(c: &mut Criterion) {
    let mut group = c.benchmark_group("frame");

    let mut app = fixtures::overview_app(500);
    // Alerts on many lots, so the alerts column and sort do real work.
    let alerts = (0..200)
        .map(|n| {
            fixtures::alert(
                n,
                parking_api::AlertKind::Overstay,
                fixtures::lot_id(u32::try_from(n % 50).expect("small") * 7),
                fixtures::spot_id(u32::try_from(n).expect("small")),
                i64::try_from(n).expect("small"),
            )
        })
        .collect();
    update(&mut app, Msg::Alerts(Fetched::Ok(alerts)));
    app.selected_lot = Some(app.lots[250].id);
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).expect("terminal");
    group.bench_function("overview_500_lots_200x60", |b| {
        b.iter(|| {
            terminal.draw(|frame| view(&app, frame)).expect("draws");
        })
    });

    let mut lot_app = fixtures::overview_app(12);
    lot_app.screen = Screen::Lot;
    lot_app.lot.detail = Some(Box::new(fixtures::lot_detail(1000)));
    lot_app.lot.selected_spot = 1500;
    lot_app.size = (200, 60);
    group.bench_function("lot_2000_spots_200x60", |b| {
        b.iter(|| {
            terminal.draw(|frame| view(&lot_app, frame)).expect("draws");
        })
    });
    group.finish();
}

criterion_group!(benches, frames);
criterion_main!(benches);
