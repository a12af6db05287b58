//! `Ctl`: the built parkctl binary with its own config directory, pointed at a
//! test parkd.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use super::PASSWORD;

/// parkctl with its own config directory.
pub struct Ctl {
    /// The config directory (`PARKCTL_CONFIG_DIR`).
    pub dir: tempfile::TempDir,
    /// The server (`PARKCTL_SERVER`).
    pub server: String,
}

impl Ctl {
    /// parkctl talking to `server`.
    pub fn new(server: &str) -> Ctl {
        Ctl {
            dir: tempfile::tempdir().expect("config dir"),
            server: server.to_owned(),
        }
    }

    /// Runs parkctl off the runtime's thread, so parkd keeps serving.
    pub async fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_parkctl"));
        command
            .args(args)
            .env("PARKCTL_CONFIG_DIR", self.dir.path())
            .env("PARKCTL_SERVER", &self.server)
            .env_remove("PARKCTL_PROFILE")
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let stdin = stdin.map(str::to_owned);
        tokio::task::spawn_blocking(move || {
            let mut child = command.spawn().expect("parkctl starts");
            if let (Some(mut pipe), Some(text)) = (child.stdin.take(), stdin) {
                pipe.write_all(text.as_bytes()).expect("stdin");
            }
            child.wait_with_output().expect("parkctl runs")
        })
        .await
        .expect("join")
    }

    /// Runs parkctl expecting exit `code`, and returns stdout.
    pub async fn out_exit(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args, None).await;
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}: {}",
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// Runs parkctl expecting success, and returns stdout.
    pub async fn ok(&self, args: &[&str]) -> String {
        self.out_exit(args, 0).await
    }

    /// Runs parkctl expecting exit `code`, and parses stdout as JSON.
    pub async fn json_exit(&self, args: &[&str], code: i32) -> Value {
        let stdout = self.out_exit(args, code).await;
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}): {stdout}"))
    }

    /// Runs parkctl expecting success, and parses stdout as JSON.
    pub async fn json(&self, args: &[&str]) -> Value {
        self.json_exit(args, 0).await
    }

    /// Logs `email` in under `profile` with the test password.
    pub async fn login(&self, profile: &str, email: &str) {
        let args = [
            "--profile",
            profile,
            "login",
            "--email",
            email,
            "--password-stdin",
        ];
        let out = self.run(&args, Some(&format!("{PASSWORD}\n"))).await;
        assert_eq!(out.status.code(), Some(0), "login: {}", text(&out.stderr));
    }

    /// The `driver` profile books `spot` of `lot` tomorrow 10:00–12:00 (the
    /// lot's time); the booking as parkctl printed it.
    pub async fn book_tomorrow(&self, lot: &str, spot: &str) -> Value {
        self.json(&[
            "--profile",
            "driver",
            "bookings",
            "create",
            "--lot",
            lot,
            "--spot",
            spot,
            "--from",
            "tomorrow 10:00",
            "--to",
            "tomorrow 12:00",
            "-o",
            "json",
        ])
        .await
    }

    /// The config file parkctl wrote, parsed.
    pub fn config(&self) -> toml::Table {
        let text = std::fs::read_to_string(self.dir.path().join("config.toml")).expect("config");
        toml::from_str(&text).expect("config is TOML")
    }
}

/// Bytes as (lossy) UTF-8.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
