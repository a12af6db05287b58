//! `parkctl users list|set-role` (admin).

use clap::Subcommand;
use parking_api::{PageQuery, Role, UpdateUserRequest, User};
use uuid::Uuid;

use parking_client::Client;

use crate::context::{Context, parse_id};
use crate::error::CtlError;
use crate::output;

/// `parkctl users …`.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// One page of users.
    List {
        /// The page, counting from 1.
        #[arg(long, default_value_t = 1)]
        page: u32,
        /// Users per page, 1 to 100.
        #[arg(long, default_value_t = parking_api::DEFAULT_PER_PAGE)]
        per_page: u32,
    },
    /// Replace a user's roles (and optionally their tenant).
    SetRole {
        /// The user's id or email.
        user: String,
        /// The new role: admin, operator or driver (repeat for several).
        #[arg(long = "role", required = true, value_parser = role)]
        roles: Vec<Role>,
        /// Put the user in this tenant (operators need one).
        #[arg(long)]
        tenant: Option<String>,
        /// Take the user out of their tenant.
        #[arg(long, conflicts_with = "tenant")]
        no_tenant: bool,
    },
}

/// clap parser for a role.
fn role(text: &str) -> Result<Role, String> {
    super::wire_enum(text).map_err(|e| format!("{e}: admin, operator or driver"))
}

const HEADERS: &[&str] = &["ID", "EMAIL", "NAME", "ROLES", "TENANT", "CREATED"];

fn row(u: &User) -> Vec<String> {
    vec![
        u.id.to_string(),
        u.email.clone(),
        format!("{} {}", u.first_name, u.last_name),
        u.roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(","),
        u.tenant_id.map(|t| t.to_string()).unwrap_or_default(),
        output::time(&u.created_at),
    ]
}

/// Runs a users command.
pub async fn run(ctx: &Context, command: UsersCommand) -> Result<(), CtlError> {
    let client = ctx.client()?;
    match command {
        UsersCommand::List { page, per_page } => {
            let query = PageQuery { page, per_page };
            let page = client.list_users(&query).await.map_err(|e| ctx.fail(e))?;
            let rows = page.items.iter().map(row).collect();
            output::print(ctx.format, HEADERS, rows, &page)?;
            if ctx.format == output::Format::Table {
                eprintln!(
                    "page {} of {} users{}",
                    page.page,
                    page.total,
                    if page.has_next {
                        format!(" (next: --page {})", page.page + 1)
                    } else {
                        String::new()
                    }
                );
            }
            Ok(())
        }
        UsersCommand::SetRole {
            user,
            roles,
            tenant,
            no_tenant,
        } => {
            let tenant_id = match (tenant, no_tenant) {
                (Some(t), _) => Some(Some(parse_id("tenant", &t)?)),
                (None, true) => Some(None),
                (None, false) => None,
            };
            let id = user_id(ctx, &client, &user).await?;
            let request = UpdateUserRequest {
                roles: Some(roles),
                tenant_id,
            };
            let updated = client
                .set_access(id, &request)
                .await
                .map_err(|e| ctx.fail(e))?;
            output::print(ctx.format, HEADERS, vec![row(&updated)], &updated)
        }
    }
}

/// The id of the user named by id or email (emails are looked up page by
/// page, since the API has no search by email).
async fn user_id(ctx: &Context, client: &Client, user: &str) -> Result<Uuid, CtlError> {
    if let Ok(id) = user.parse() {
        return Ok(id);
    }
    if !user.contains('@') {
        return Err(CtlError::Usage(format!(
            "bad user '{user}': expected a UUID or an email"
        )));
    }
    let mut query = PageQuery {
        page: 1,
        per_page: parking_api::MAX_PER_PAGE,
    };
    loop {
        let page = client.list_users(&query).await.map_err(|e| ctx.fail(e))?;
        if let Some(found) = page
            .items
            .iter()
            .find(|u| u.email.eq_ignore_ascii_case(user))
        {
            return Ok(found.id);
        }
        if !page.has_next {
            return Err(CtlError::Usage(format!(
                "no user with email '{user}' (see parkctl users list)"
            )));
        }
        query.page += 1;
    }
}
