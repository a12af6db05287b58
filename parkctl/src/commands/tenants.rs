//! `parkctl tenants create|list` (admin).

use clap::Subcommand;
use parking_api::{CreateTenantRequest, Tenant};

use crate::context::Context;
use crate::error::CtlError;
use crate::output;

/// `parkctl tenants …`.
#[derive(Debug, Subcommand)]
pub enum TenantsCommand {
    /// Create a tenant (an operator organisation).
    Create {
        /// Its display name.
        name: String,
    },
    /// All tenants.
    List,
}

const HEADERS: &[&str] = &["ID", "NAME"];

fn row(t: &Tenant) -> Vec<String> {
    vec![t.id.to_string(), t.name.clone()]
}

/// Runs a tenants command.
pub async fn run(ctx: &Context, command: TenantsCommand) -> Result<(), CtlError> {
    let client = ctx.client()?;
    match command {
        TenantsCommand::Create { name } => {
            let tenant = client
                .create_tenant(&CreateTenantRequest { name })
                .await
                .map_err(|e| ctx.fail(e))?;
            output::print(ctx.format, HEADERS, vec![row(&tenant)], &tenant)
        }
        TenantsCommand::List => {
            let tenants = client.list_tenants().await.map_err(|e| ctx.fail(e))?;
            output::print(
                ctx.format,
                HEADERS,
                tenants.iter().map(row).collect(),
                &tenants,
            )
        }
    }
}
