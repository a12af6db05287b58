//! Embedding parking-core: build a lot, book, quote, search. (Filled in with the
//! conflict, pricing and spatial modules.)

fn main() {
    println!("parking-core {}", env!("CARGO_PKG_VERSION"));
}
