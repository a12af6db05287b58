//! `parkctl login` and `parkctl logout`.

use std::io::{BufRead, IsTerminal};

use clap::Args;

use crate::context::Context;
use crate::error::CtlError;

/// `parkctl login` (the server comes from the global `--server`, kept in
/// the profile).
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The account's email.
    #[arg(long)]
    pub email: String,
    /// Read the password from the first line of stdin (for scripts).
    #[arg(long)]
    pub password_stdin: bool,
}

/// Logs in and keeps the server, email and tokens in the profile.
pub async fn login(ctx: &Context, args: LoginArgs) -> Result<(), CtlError> {
    let server = ctx.server()?;
    let password = read_password(args.password_stdin)?;
    let client = ctx.client()?;
    {
        let mut config = ctx
            .config
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let profile = config.profiles.entry(ctx.profile.clone()).or_default();
        profile.server = server.clone();
        profile.email = Some(args.email.clone());
        if config.current.is_none() {
            config.current = Some(ctx.profile.clone());
        }
    }
    // login() saves the pair (and with it the profile) through the store.
    client
        .login(&args.email, &password)
        .await
        .map_err(|e| ctx.fail(e))?;
    eprintln!(
        "logged in to {server} as {} (profile '{}')",
        args.email, ctx.profile
    );
    Ok(())
}

fn read_password(from_stdin: bool) -> Result<String, CtlError> {
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| CtlError::Usage(format!("cannot read the password from stdin: {e}")))?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else if std::io::stdin().is_terminal() {
        rpassword::prompt_password("Password: ")
            .map_err(|e| CtlError::Usage(format!("cannot read the password: {e}")))?
    } else {
        return Err(CtlError::Usage(
            "stdin is not a terminal: pass --password-stdin and pipe the password".to_owned(),
        ));
    };
    if password.is_empty() {
        return Err(CtlError::Usage("the password is empty".to_owned()));
    }
    Ok(password)
}

/// Revokes the session and forgets the tokens.
pub async fn logout(ctx: &Context) -> Result<(), CtlError> {
    let client = ctx.client()?;
    if client.tokens().is_none() {
        eprintln!("not logged in (profile '{}')", ctx.profile);
        return Ok(());
    }
    let result = client.logout().await;
    // Forgotten locally whatever the server said.
    client.set_tokens(None);
    result.map_err(|e| ctx.fail(e))?;
    eprintln!("logged out (profile '{}')", ctx.profile);
    Ok(())
}
