//! parkd — the self-hostable parking daemon (REST + WebSocket over `parking-core`).
//!
//! Layout: `store` holds persistence (the SQLite backend: migrations, the
//! group-commit writer and the read pool).

pub mod store;
