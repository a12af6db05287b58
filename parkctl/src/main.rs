//! parkctl — the operators' command line for parkd.
//!
//! Built under its own issue; this binary only reports its version so that the
//! workspace builds end to end.

fn main() {
    println!(
        "parkctl {} (the command set is not built yet)",
        env!("CARGO_PKG_VERSION")
    );
}
