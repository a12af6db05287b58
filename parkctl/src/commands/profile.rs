//! `parkctl profile list|use`.

use clap::Subcommand;

use crate::context::Context;
use crate::error::CtlError;
use crate::output;

/// `parkctl profile …`.
#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// List the profiles; `*` marks the current one.
    List,
    /// Make NAME the current profile.
    Use {
        /// The profile's name.
        name: String,
    },
}

/// Runs a profile command.
pub fn run(ctx: &Context, command: ProfileCommand) -> Result<(), CtlError> {
    let mut config = ctx
        .config
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match command {
        ProfileCommand::List => {
            let rows: Vec<Vec<String>> = config
                .profiles
                .iter()
                .map(|(name, p)| {
                    vec![
                        if config.current.as_deref() == Some(name) {
                            "*"
                        } else {
                            ""
                        }
                        .to_owned(),
                        name.clone(),
                        p.server.clone(),
                        p.email.clone().unwrap_or_default(),
                        if p.access_token.is_some() {
                            "yes"
                        } else {
                            "no"
                        }
                        .to_owned(),
                    ]
                })
                .collect();
            let json: Vec<serde_json::Value> = config
                .profiles
                .iter()
                .map(|(name, p)| {
                    serde_json::json!({
                        "name": name,
                        "current": config.current.as_deref() == Some(name),
                        "server": p.server,
                        "email": p.email,
                        "logged_in": p.access_token.is_some(),
                    })
                })
                .collect();
            output::print(
                ctx.format,
                &["", "PROFILE", "SERVER", "EMAIL", "LOGGED IN"],
                rows,
                &json,
            )
        }
        ProfileCommand::Use { name } => {
            if !config.profiles.contains_key(&name) {
                return Err(CtlError::Usage(format!(
                    "no profile '{name}': create it with parkctl login --profile {name} --server URL --email EMAIL"
                )));
            }
            config.current = Some(name.clone());
            config.save()?;
            eprintln!("now using profile '{name}'");
            Ok(())
        }
    }
}
