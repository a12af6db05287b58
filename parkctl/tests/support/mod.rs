#![allow(dead_code)] // not every test uses every helper
//! The seeded parkd of `parkd::testing`, and [`Ctl`] to run the parkctl binary
//! against it.

mod ctl;
#[allow(unused_imports)] // not every test binary drives the parkctl binary
pub use ctl::{Ctl, text};
#[allow(unused_imports)] // each test binary uses some of them
pub use parkd::testing::{DRIVER, OPERATOR, PASSWORD, TestApp};

/// The admin's login (made by [`add_admin`]; `TestApp` has none).
pub const ADMIN: &str = "admin@example.com";

/// Adds the admin [`ADMIN`], with the test password, to `app`.
pub async fn add_admin(app: &TestApp) {
    parkd::testing::create_user(&app.state, ADMIN, parkd::auth::Role::Admin, None).await;
}
