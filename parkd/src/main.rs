//! parkd — the self-hostable parking daemon (REST + WebSocket over `parking-core`).
//!
//! The daemon is built under its own issue; this binary only reports its version
//! so that the workspace builds end to end.

fn main() {
    println!(
        "parkd {} (parking-core linked; the HTTP daemon is not built yet)",
        env!("CARGO_PKG_VERSION")
    );
}
