//! `parkctl completions SHELL` and `parkctl man`: generated from the clap
//! definition, so they never drift from the real flags.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use clap_complete::Shell;

use crate::error::CtlError;

/// `parkctl completions SHELL`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish (also elvish, powershell).
    pub shell: Shell,
}

/// `parkctl man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write one page per command and subcommand (`parkctl.1`,
    /// `parkctl-lots-list.1`, …) here instead of printing parkctl(1).
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

/// Prints the completion script for `args.shell` on stdout.
pub fn completions(mut command: clap::Command, args: CompletionsArgs) -> Result<(), CtlError> {
    let name = command.get_name().to_owned();
    // Into a buffer first: clap_complete panics when its writer fails.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, name, &mut script);
    write_stdout(&script)
}

/// Prints parkctl(1) in roff on stdout, or writes every page to `--out-dir`.
pub fn man(command: clap::Command, args: ManArgs) -> Result<(), CtlError> {
    match args.out_dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .and_then(|()| clap_mangen::generate_to(command, &dir))
                .map_err(|e| CtlError::Config(format!("{}: {e}", dir.display())))?;
            eprintln!("man pages written to {}", dir.display());
            Ok(())
        }
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(command)
                .render(&mut page)
                .map_err(|e| CtlError::Config(format!("cannot render the man page: {e}")))?;
            write_stdout(&page)
        }
    }
}

/// Writes `bytes` to stdout; a reader that stops early (`| head`) is fine.
fn write_stdout(bytes: &[u8]) -> Result<(), CtlError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CtlError::Config(format!("cannot write to stdout: {e}")))
        }
        _ => Ok(()),
    }
}
