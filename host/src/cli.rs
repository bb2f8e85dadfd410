//! The `wharf` command line: `serve` (the default) and the admin commands, which work
//! on the same data dir while the server runs (SQLite serializes the writes).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::auth::secrets;
use crate::config::{Config, Overrides};
use crate::db::owners::{self, OwnerKind, Role};
use crate::db::tokens::{self, Scope};
use crate::registry::{self, Registry, bootstrap, gc};

#[derive(Debug, Parser)]
#[command(
    name = "wharf",
    version,
    about = "A multi-format package registry with WebAssembly format plugins"
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
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
    Serve(ServeArgs),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage organizations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Inspect format plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Collect garbage now: delete blobs nothing references and expired upload
    /// sessions (safe while the server runs).
    Gc(GcArgs),
}

#[derive(Debug, Args)]
struct GcArgs {
    /// Seconds to use for both grace periods instead of the configured ones (0 reclaims
    /// everything unreferenced right away, including layers of pushes still under way).
    #[arg(long)]
    grace_secs: Option<u64>,
}

#[derive(Debug, Subcommand)]
enum PluginCommand {
    /// Load a component as the server would (same engine, limits and checks) and print
    /// its name, contract version, error style, challenge, digests and limits. Exits
    /// non-zero, saying why, if the server would refuse it.
    Check {
        /// The `.wasm` component.
        file: PathBuf,
    },
}

#[derive(Debug, Args, Default)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// URL clients reach the server at (for absolute URLs and auth challenges).
    #[arg(long)]
    public_url: Option<String>,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user.
    Create {
        name: String,
        #[arg(long)]
        password: String,
        /// Site administrator: full access to every owner.
        #[arg(long)]
        admin: bool,
        /// Packages readable only by the user (and admins).
        #[arg(long)]
        private: bool,
    },
}

#[derive(Debug, Subcommand)]
enum OrgCommand {
    /// Create an organization with USER as its admin.
    Create {
        name: String,
        #[arg(long)]
        owner: String,
        /// Packages readable only by members.
        #[arg(long)]
        private: bool,
    },
    /// Add a member to an organization, or change their role.
    AddMember {
        org: String,
        user: String,
        #[arg(long, value_enum)]
        role: RoleArg,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RoleArg {
    Read,
    Write,
    Admin,
}

#[derive(Debug, Clone, Copy, ValueEnum, Default)]
enum ScopeArg {
    Read,
    #[default]
    Write,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token and print it (only the token, so scripts can capture it).
    Create {
        #[arg(long)]
        user: String,
        #[arg(long, default_value = "cli")]
        name: String,
        #[arg(long, value_enum, default_value = "write")]
        scope: ScopeArg,
        /// Days until the token expires, at least 1 (default: never).
        #[arg(long, value_parser = expiry_days)]
        expires_days: Option<u32>,
    },
}

/// `--expires-days`: 0 would print a token that is already expired.
fn expiry_days(value: &str) -> Result<u32, String> {
    match value.parse::<u32>() {
        Ok(0) => Err(
            "0 days would make a token that is already expired; give 1 or more, \
                      or leave --expires-days out for a token that does not expire"
                .to_string(),
        ),
        Ok(days) => Ok(days),
        Err(e) => Err(e.to_string()),
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WHARF_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,wasmtime=warn,cranelift=warn")
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let Cli { global, command } = cli;
    let admin_config = || {
        let overrides = Overrides {
            data_dir: global.data_dir.clone(),
            ..Overrides::default()
        };
        Config::load(global.config.as_deref(), &overrides)
    };
    match command.unwrap_or(Command::Serve(ServeArgs::default())) {
        Command::Serve(args) => {
            let overrides = Overrides {
                listen: args.listen,
                data_dir: global.data_dir.clone(),
                public_url: args.public_url,
            };
            serve(Config::load(global.config.as_deref(), &overrides)?)
        }
        Command::User(c) => user_command(&registry::open_db(&admin_config()?)?, c),
        Command::Org(c) => org_command(&registry::open_db(&admin_config()?)?, c),
        Command::Token(c) => token_command(&registry::open_db(&admin_config()?)?, c),
        Command::Gc(args) => gc_command(admin_config()?, args),
        Command::Plugin(PluginCommand::Check { file }) => {
            print!("{}", crate::plugins::check::check(&file, &admin_config()?)?);
            Ok(())
        }
    }
}

fn gc_command(config: Config, args: GcArgs) -> anyhow::Result<()> {
    let mut policy = gc::Policy::from(&config.gc);
    if let Some(secs) = args.grace_secs {
        policy.upload_grace = std::time::Duration::from_secs(secs);
        policy.orphan_grace = policy.upload_grace;
    }
    let registry = Registry::attach(config)?;
    let report = gc::collect(&registry, policy, std::time::SystemTime::now())?;
    println!(
        "deleted {} blobs ({} bytes) and {} upload sessions; dropped {} unused repository links; {} blobs newly unreferenced wait out the grace period",
        report.blobs, report.bytes, report.sessions, report.unused_links, report.newly_orphaned
    );
    Ok(())
}

fn serve(config: Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let registry = Registry::open(config)?;
        print_bootstrap(&registry)?;
        let listener = tokio::net::TcpListener::bind(registry.config.server.listen)
            .await
            .with_context(|| format!("cannot listen on {}", registry.config.server.listen))?;
        tracing::info!(addr = %listener.local_addr()?, public_url = %registry.public_url, "wharf is listening");
        crate::http::serve(registry, listener, shutdown_signal()).await?;
        Ok(())
    })
}

fn print_bootstrap(registry: &Registry) -> anyhow::Result<()> {
    let password = std::env::var("WHARF_ADMIN_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    if let Some(created) = bootstrap::ensure_admin(&registry.db, password)? {
        println!("Created the administrator account (shown once):");
        println!("  user:     admin");
        match created.password {
            Some(password) => println!("  password: {password}"),
            None => println!("  password: (from WHARF_ADMIN_PASSWORD)"),
        }
        println!("  token:    {}", created.token);
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

fn user_command(db: &crate::db::Db, command: UserCommand) -> anyhow::Result<()> {
    let UserCommand::Create {
        name,
        password,
        admin,
        private,
    } = command;
    if password.len() < 8 {
        bail!("the password must have at least 8 characters");
    }
    let hash = secrets::hash_password(&password);
    db.write_sync(|tx| owners::create(tx, &name, OwnerKind::User, Some(&hash), admin, private))?;
    eprintln!("created user {name}");
    Ok(())
}

fn org_command(db: &crate::db::Db, command: OrgCommand) -> anyhow::Result<()> {
    match command {
        OrgCommand::Create {
            name,
            owner,
            private,
        } => {
            db.write_sync(|tx| {
                let user = user_named(tx, &owner)?;
                let org = owners::create(tx, &name, OwnerKind::Org, None, false, private)?;
                owners::set_member(tx, org, user.id, Role::Admin)
            })?;
            eprintln!("created organization {name} with {owner} as admin");
        }
        OrgCommand::AddMember { org, user, role } => {
            let role = match role {
                RoleArg::Read => Role::Read,
                RoleArg::Write => Role::Write,
                RoleArg::Admin => Role::Admin,
            };
            db.write_sync(|tx| {
                let org_row = owners::by_name(tx, &org)?
                    .filter(|o| o.kind == OwnerKind::Org)
                    .ok_or_else(|| {
                        crate::error::Error::not_found(format!("no organization named {org:?}"))
                    })?;
                let member = user_named(tx, &user)?;
                owners::set_member(tx, org_row.id, member.id, role)
            })?;
            eprintln!("{user} is now a {} member of {org}", role.as_str());
        }
    }
    Ok(())
}

fn token_command(db: &crate::db::Db, command: TokenCommand) -> anyhow::Result<()> {
    let TokenCommand::Create {
        user,
        name,
        scope,
        expires_days,
    } = command;
    let token = secrets::new_token();
    let scope = match scope {
        ScopeArg::Read => Scope::Read,
        ScopeArg::Write => Scope::Write,
    };
    let expires = expires_days.map(|d| crate::db::now() + i64::from(d) * 86_400);
    db.write_sync(|tx| {
        let owner = user_named(tx, &user)?;
        tokens::insert(
            tx,
            owner.id,
            &name,
            &secrets::token_hash(&token),
            scope,
            expires,
        )
    })?;
    println!("{token}");
    Ok(())
}

fn user_named(
    conn: &rusqlite::Connection,
    name: &str,
) -> Result<owners::Owner, crate::error::Error> {
    owners::by_name(conn, name)?
        .filter(|o| o.kind == OwnerKind::User)
        .ok_or_else(|| crate::error::Error::not_found(format!("no user named {name:?}")))
}

#[cfg(test)]
mod expiry_tests {
    use super::*;

    #[test]
    fn a_token_cannot_be_made_already_expired() {
        let args = |days: &str| {
            Cli::try_parse_from([
                "wharf",
                "token",
                "create",
                "--user",
                "u",
                "--expires-days",
                days,
            ])
        };
        let refused = args("0").unwrap_err().to_string();
        assert!(refused.contains("already expired"), "{refused}");
        assert!(args("1").is_ok());
        assert!(args("-1").is_err());
    }
}
