//! The throughput ceiling on this machine: an axum handler that returns a fixed
//! 1 KB JSON body, nothing else. `parkd/bench/run.sh` measures it beside parkd in
//! the same run, so parkd's figures can be read as a share of what the machine
//! and the HTTP stack allow.
//!
//! `cargo run --release -p parkd --example ceiling -- 127.0.0.1:18090`

use std::net::SocketAddr;

use axum::Router;
use axum::http::header;
use axum::routing::get;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 18090)));
    // About 1 KB of JSON, built once.
    let items: Vec<String> = (0..20)
        .map(|i| {
            format!(
                "{{\"id\":{i},\"name\":\"lot number {i:03}\",\"free\":{}}}",
                i * 7 % 13
            )
        })
        .collect();
    let body: &'static str =
        Box::leak(format!("{{\"items\":[{}]}}", items.join(",")).into_boxed_str());
    let app = Router::new().route(
        "/ceiling",
        get(move || async move { ([(header::CONTENT_TYPE, "application/json")], body) }),
    );
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!(
        "ceiling listening on http://{addr}/ceiling ({} bytes)",
        body.len()
    );
    axum::serve(listener, app).await
}
