//! `parkctl devices create|list|revoke`: the device keys a lot's sensors send
//! their readings with.

use clap::Subcommand;
use parking_api::{CreatedDevice, Device};

use crate::context::{Context, parse_id};
use crate::error::CtlError;
use crate::output;

/// `parkctl devices …`.
#[derive(Debug, Subcommand)]
pub enum DevicesCommand {
    /// Create a device key for a lot; the key is printed this once.
    Create {
        /// The lot's id.
        lot: String,
        /// A name for people, e.g. "level 2 gateway".
        #[arg(long)]
        name: String,
    },
    /// The lot's device keys (never the keys themselves).
    List {
        /// The lot's id.
        lot: String,
    },
    /// Revoke a device key: its batches are refused from now on.
    Revoke {
        /// The lot's id.
        lot: String,
        /// The device's id.
        device: String,
    },
}

const HEADERS: [&str; 5] = ["ID", "NAME", "CREATED", "LAST SEEN", "REVOKED"];

fn instant(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "-".to_owned())
}

fn rows(devices: &[Device]) -> Vec<Vec<String>> {
    devices
        .iter()
        .map(|d| {
            vec![
                d.id.to_string(),
                d.name.clone(),
                instant(Some(d.created_at)),
                instant(d.last_seen_at),
                instant(d.revoked_at),
            ]
        })
        .collect()
}

fn created_rows(created: &CreatedDevice) -> Vec<Vec<String>> {
    vec![vec![
        created.device.id.to_string(),
        created.device.name.clone(),
        created.key.clone(),
    ]]
}

/// Runs a devices command.
pub async fn run(ctx: &Context, command: DevicesCommand) -> Result<(), CtlError> {
    let client = ctx.client()?;
    match command {
        DevicesCommand::Create { lot, name } => {
            let created = client
                .create_device(parse_id("lot", &lot)?, &name)
                .await
                .map_err(|e| ctx.fail(e))?;
            output::print(
                ctx.format,
                &["ID", "NAME", "KEY (shown once: store it now)"],
                created_rows(&created),
                &created,
            )
        }
        DevicesCommand::List { lot } => {
            let devices = client
                .list_devices(parse_id("lot", &lot)?)
                .await
                .map_err(|e| ctx.fail(e))?;
            output::print(ctx.format, &HEADERS, rows(&devices), &devices)
        }
        DevicesCommand::Revoke { lot, device } => {
            let device = client
                .revoke_device(parse_id("lot", &lot)?, parse_id("device", &device)?)
                .await
                .map_err(|e| ctx.fail(e))?;
            output::print(
                ctx.format,
                &HEADERS,
                rows(std::slice::from_ref(&device)),
                &device,
            )
        }
    }
}
