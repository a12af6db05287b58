//! parking-tui — the live monitoring dashboard for parkd.
//!
//! Built under its own issue; this binary only reports its version so that the
//! workspace builds end to end.

fn main() {
    println!(
        "parking-tui {} (the dashboard is not built yet)",
        env!("CARGO_PKG_VERSION")
    );
}
