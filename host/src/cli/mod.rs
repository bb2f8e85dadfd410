//! The `wharf` command line: serving (the default, also without the word `serve`) and
//! the admin commands, which work on the data dir of a registry while its server runs
//! (SQLite serializes the writes) and never create one.
//!
//! Commands print what scripts capture (tokens, tables) to the `out` writer and notes
//! for people to stderr, so tests run them in-process through [`run_from`].

mod maintenance;
mod migrate;
mod orgs;
mod serve;
mod tokens;
mod users;

use std::ffi::OsString;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{Config, Overrides};
use crate::db::Db;

#[derive(Debug, Parser)]
#[command(
    name = "wharf",
    version,
    about = "A multi-format package registry with WebAssembly format plugins"
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    /// Serving is the default: `wharf --listen ADDR` is `wharf serve --listen ADDR`.
    #[command(flatten)]
    serve: serve::ServeArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Args, Clone, Default)]
struct GlobalArgs {
    /// Config file (default: ./registry.toml if present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Data directory (database, blobs, caches).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the registry server (the default).
    Serve(serve::ServeArgs),
    /// Manage users.
    #[command(subcommand)]
    User(users::UserCommand),
    /// Manage organizations.
    #[command(subcommand)]
    Org(orgs::OrgCommand),
    /// Settings of any owner (user or organization).
    #[command(subcommand)]
    Owner(users::OwnerCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(tokens::TokenCommand),
    /// Inspect format plugins.
    #[command(subcommand)]
    Plugin(maintenance::PluginCommand),
    /// Proxy caches.
    #[command(subcommand)]
    Cache(maintenance::CacheCommand),
    /// Collect garbage now: delete blobs nothing references and expired upload
    /// sessions (safe while the server runs).
    Gc(maintenance::GcArgs),
    /// Copy the registry (database and blobs) into a new directory, consistently, while
    /// the server runs.
    Backup(maintenance::BackupArgs),
    /// Bring a backup back into an empty data dir (with the server stopped).
    Restore(maintenance::RestoreArgs),
    /// Copy this (embedded) registry into PostgreSQL and an object store, for several
    /// nodes (with the server stopped; resumable; verifies every blob).
    Migrate(migrate::MigrateArgs),
}

/// Where a command writes what scripts read, and reads what it is given on stdin.
pub struct Io<'a> {
    pub out: &'a mut dyn Write,
    pub input: &'a mut dyn BufRead,
    /// Whether stdin is a terminal one can prompt on.
    pub interactive: bool,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let log = crate::logging::init();
    let (mut stdout, stdin) = (std::io::stdout().lock(), std::io::stdin());
    let interactive = std::io::IsTerminal::is_terminal(&stdin);
    let mut io = Io {
        out: &mut stdout,
        input: &mut stdin.lock(),
        interactive,
    };
    let result = run(cli, &mut io);
    // What was logged comes before the final error line.
    drop(log);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a command line as `wharf` would (tests; `args` starts with the program name).
pub fn run_from<I, T>(args: I, io: &mut Io<'_>) -> anyhow::Result<()>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    run(Cli::try_parse_from(args)?, io)
}

fn run(cli: Cli, io: &mut Io<'_>) -> anyhow::Result<()> {
    let Cli {
        global,
        serve,
        command,
    } = cli;
    let config = || {
        let overrides = Overrides {
            data_dir: global.data_dir.clone(),
            ..Overrides::default()
        };
        Config::load(global.config.as_deref(), &overrides)
    };
    // Admin commands never create a registry.
    let existing_db = || -> anyhow::Result<Db> { crate::registry::open_existing_db(&config()?) };
    if command
        .as_ref()
        .is_some_and(|c| !matches!(c, Command::Serve(_)))
        && (serve.listen.is_some() || serve.public_url.is_some())
    {
        anyhow::bail!(
            "--listen and --public-url are for serving; leave them out of admin commands"
        );
    }
    match command {
        None => serve::serve(&global, serve),
        Some(Command::Serve(args)) => serve::serve(&global, args),
        Some(Command::User(c)) => users::user_command(&existing_db()?, c, io),
        Some(Command::Owner(c)) => users::owner_command(&existing_db()?, c),
        Some(Command::Org(c)) => orgs::org_command(&existing_db()?, c, io),
        Some(Command::Token(c)) => tokens::token_command(&existing_db()?, c, io),
        Some(Command::Cache(c)) => maintenance::cache(&existing_db()?, c, io),
        Some(Command::Gc(args)) => maintenance::gc(config()?, args, io),
        Some(Command::Backup(args)) => maintenance::backup(&config()?, args, io),
        Some(Command::Restore(args)) => maintenance::restore(&config()?, args, io),
        Some(Command::Migrate(args)) => migrate::migrate(&config()?, args, io),
        Some(Command::Plugin(maintenance::PluginCommand::Check { file })) => {
            write!(
                io.out,
                "{}",
                crate::plugins::check::check(&file, &config()?)?
            )?;
            Ok(())
        }
    }
}

/// Seconds since the epoch as RFC 3339 (UTC, whole seconds), or `-` for none.
fn time(at: Option<i64>) -> String {
    match at {
        Some(secs) => humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs.max(0) as u64),
        )
        .to_string(),
        None => "-".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serve_flags_work_without_the_word_serve() {
        let cli = Cli::try_parse_from(["wharf", "--listen", "0.0.0.0:9000"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.serve.listen, Some("0.0.0.0:9000".parse().unwrap()));
        let cli = Cli::try_parse_from(["wharf", "serve", "--public-url", "https://x"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Serve(_))));
        // Serve flags before an admin command are a mistake, not silently dropped.
        let mut io = Io {
            out: &mut Vec::new(),
            input: &mut std::io::empty(),
            interactive: false,
        };
        let err = run_from(["wharf", "--listen", "0.0.0.0:1", "user", "list"], &mut io);
        assert!(err.unwrap_err().to_string().contains("for serving"));
        let cli = Cli::try_parse_from(["wharf", "--data-dir", "/d", "user", "list"]).unwrap();
        assert_eq!(cli.global.data_dir, Some("/d".into()));
    }

    #[test]
    fn version_is_printed() {
        let err = Cli::try_parse_from(["wharf", "--version"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::DisplayVersion);
        assert!(err.to_string().contains(env!("CARGO_PKG_VERSION")));
    }
}
