//! The analytics screen for the selected lot: occupancy over the last 24 h or
//! 7 days with the forecast for the next 24 h drawn after it, revenue by day
//! as bars, and the peak hours as a weekday × hour heat map.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Bar, BarChart, BarGroup, Block, Borders, Chart, Dataset, GraphType, Paragraph,
};

use crate::app::App;
use crate::model::{Analytics, Span as Range, money};
use crate::theme::Theme;

/// Draws the analytics screen into `area`.
pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let theme = app.theme;
    let Some(data) = &app.analytics.data else {
        let text = match (
            &app.analytics.error,
            app.analytics.loading,
            app.selected_lot,
        ) {
            (Some(e), _, _) => format!("Could not load analytics: {e}"),
            (None, Some(_), _) => "Loading…".to_owned(),
            (None, None, None) => "No lot selected: pick one on the overview (1).".to_owned(),
            (None, None, Some(_)) => "Press r to load analytics.".to_owned(),
        };
        frame.render_widget(
            Paragraph::new(text).block(Block::default().borders(Borders::TOP).title(" Analytics ")),
            area,
        );
        return;
    };
    let span_label = match app.analytics.span {
        Range::Day => "last 24 h",
        Range::Week => "last 7 days",
    };
    let title = Line::from(vec![
        Span::styled(format!(" {} ", data.lot_name), theme.header()),
        Span::styled(
            format!("occupancy {span_label} + forecast 24 h · w: 24 h/7 days "),
            theme.dim(),
        ),
    ]);
    let block = Block::default().borders(Borders::TOP).title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [chart, bottom] =
        Layout::vertical([Constraint::Percentage(55), Constraint::Min(9)]).areas(inner);
    draw_chart(app, data, frame, chart);
    let [revenue, heat] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Min(30)]).areas(bottom);
    draw_revenue(theme, data, frame, revenue);
    draw_heat(theme, data, frame, heat);
}

/// Hours from now (negative: past) and percent occupied.
fn points(
    series: &[(chrono::DateTime<chrono::Utc>, f64)],
    now: chrono::DateTime<chrono::Utc>,
    from_hours: f64,
) -> Vec<(f64, f64)> {
    series
        .iter()
        .map(|&(t, r)| {
            (
                (t - now).num_minutes() as f64 / 60.0,
                (r * 100.0).clamp(0.0, 100.0),
            )
        })
        .filter(|&(h, _)| h >= from_hours)
        .collect()
}

fn draw_chart(app: &App, data: &Analytics, frame: &mut Frame, area: Rect) {
    let theme = app.theme;
    let from = match app.analytics.span {
        Range::Day => -24.0,
        Range::Week => -168.0,
    };
    let past = points(&data.occupancy, app.now, from);
    let forecast = points(&data.forecast, app.now, 0.0);
    let (past_style, forecast_style) = if theme.color {
        (
            Style::default().fg(ratatui::style::Color::Cyan),
            Style::default().fg(ratatui::style::Color::Magenta),
        )
    } else {
        (Style::default(), theme.dim())
    };
    let datasets = vec![
        Dataset::default()
            .name("occupied %")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(past_style)
            .data(&past),
        Dataset::default()
            .name("forecast")
            .marker(Marker::Dot)
            .graph_type(GraphType::Scatter)
            .style(forecast_style)
            .data(&forecast),
    ];
    let x_labels = match app.analytics.span {
        Range::Day => vec!["-24 h", "-12 h", "now", "+12 h", "+24 h"],
        Range::Week => vec!["-7 d", "-4 d", "-1 d", "now", "+1 d"],
    };
    let chart = Chart::new(datasets)
        .x_axis(
            Axis::default()
                .bounds([from, 24.0])
                .labels(x_labels.into_iter().map(Line::from).collect::<Vec<_>>())
                .style(theme.dim()),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, 100.0])
                .labels(
                    ["0%", "50%", "100%"]
                        .into_iter()
                        .map(Line::from)
                        .collect::<Vec<_>>(),
                )
                .style(theme.dim()),
        );
    frame.render_widget(chart, area);
}

fn draw_revenue(theme: Theme, data: &Analytics, frame: &mut Frame, area: Rect) {
    let currency = data
        .revenue
        .first()
        .map(|d| d.amount.currency.clone())
        .unwrap_or_default();
    let total: i64 = data.revenue.iter().map(|d| d.amount.amount).sum();
    let title = if data.revenue.is_empty() {
        " Revenue/day · none ".to_owned()
    } else {
        format!(" Revenue/day · {} ", money(total, &currency))
    };
    let bars: Vec<Bar> = data
        .revenue
        .iter()
        .map(|d| {
            Bar::default()
                .value(u64::try_from(d.amount.amount).unwrap_or(0))
                .label(Line::from(d.date.format("%a").to_string()))
                .text_value(format!("{}", d.amount.amount / 100))
        })
        .collect();
    let style = if theme.color {
        Style::default().fg(ratatui::style::Color::Green)
    } else {
        Style::default()
    };
    let chart = BarChart::default()
        .block(Block::default().borders(Borders::TOP).title(title))
        .data(BarGroup::default().bars(&bars))
        .bar_width(3)
        .bar_gap(1)
        .bar_style(style)
        .value_style(theme.selected());
    frame.render_widget(chart, area);
}

/// Glyph for a share 0–1, readable without colour.
fn heat_glyph(share: Option<f64>) -> &'static str {
    match share {
        None => " ",
        Some(s) if s >= 0.85 => "█",
        Some(s) if s >= 0.6 => "▓",
        Some(s) if s >= 0.35 => "▒",
        Some(s) if s > 0.1 => "░",
        Some(_) => "·",
    }
}

fn draw_heat(theme: Theme, data: &Analytics, frame: &mut Frame, area: Rect) {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let mut lines = vec![Line::styled("    0     6     12    18   ", theme.dim())];
    for (day, row) in DAYS.iter().zip(data.heat.iter()) {
        let mut spans = vec![Span::styled(format!("{day} "), theme.dim())];
        for share in row {
            spans.push(Span::styled(
                heat_glyph(*share),
                share.map(|s| theme.heat(s)).unwrap_or_default(),
            ));
        }
        lines.push(Line::from(spans));
    }
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::TOP)
                .title(" Peak hours (local) "),
        ),
        area,
    );
}
