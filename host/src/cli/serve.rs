//! `wharf serve` (the default): startup report, first-start admin, signals.

use crate::audit::{self, Via};
use std::net::SocketAddr;

use anyhow::Context;
use clap::Args;

use super::GlobalArgs;
use crate::config::{Config, Overrides};
use crate::registry::{Registry, accounts, bootstrap};

#[derive(Debug, Args, Default)]
pub(super) struct ServeArgs {
    /// Address to listen on.
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// URL clients reach the server at (for absolute URLs and auth challenges).
    #[arg(long)]
    pub public_url: Option<String>,
}

pub(super) fn serve(global: &GlobalArgs, args: ServeArgs) -> anyhow::Result<()> {
    let overrides = Overrides {
        listen: args.listen,
        data_dir: global.data_dir.clone(),
        public_url: args.public_url,
    };
    let config = Config::load(global.config.as_deref(), &overrides)?;
    // Checked before anything is created, so a refused password leaves no registry.
    let admin_password = admin_password()?;
    log_startup(&config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let registry = Registry::open(config)?;
        print_bootstrap(&registry, admin_password)?;
        let listener = tokio::net::TcpListener::bind(registry.config.server.listen)
            .await
            .with_context(|| format!("cannot listen on {}", registry.config.server.listen))?;
        tracing::info!(addr = %listener.local_addr()?, public_url = %registry.public_url, "wharf is listening");
        crate::http::serve(registry, listener, shutdown_signal()).await?;
        Ok(())
    })
}

/// What an operator needs to know a server runs as they meant: the version, the config
/// it read, where its data lives, and the warnings. Formats are logged as they load.
fn log_startup(config: &Config) {
    let data_dir = std::path::absolute(&config.storage.data_dir)
        .unwrap_or_else(|_| config.storage.data_dir.clone());
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        config = %config.source(),
        data_dir = %data_dir.display(),
        "starting wharf"
    );
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }
}

/// `WHARF_ADMIN_PASSWORD`, held to the rule every password follows.
fn admin_password() -> anyhow::Result<Option<String>> {
    checked_admin_password(std::env::var("WHARF_ADMIN_PASSWORD").ok())
}

fn checked_admin_password(value: Option<String>) -> anyhow::Result<Option<String>> {
    let Some(password) = value.filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    accounts::check_password(&password).context("WHARF_ADMIN_PASSWORD")?;
    Ok(Some(password))
}

/// Said when `WHARF_ADMIN_PASSWORD` is set on a start that creates no admin.
const ADMIN_PASSWORD_IGNORED: &str = "WHARF_ADMIN_PASSWORD is ignored: it only sets the \
    password of the admin a first start creates, and this registry has users; change a \
    password with `wharf user passwd`";

fn print_bootstrap(registry: &Registry, password: Option<String>) -> anyhow::Result<()> {
    let from_env = password.is_some();
    match bootstrap::ensure_admin(&registry.db, password)? {
        Some(created) => {
            audit::user_created("admin", true, Via::Bootstrap);
            println!("Created the administrator account (shown once):");
            println!("  user:     admin");
            match created.password {
                Some(password) => println!("  password: {password}"),
                None => println!("  password: (from WHARF_ADMIN_PASSWORD)"),
            }
            println!("  token:    {}", created.token);
        }
        None if from_env => tracing::warn!("{ADMIN_PASSWORD_IGNORED}"),
        None => {}
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_admin_password_follows_the_password_rule() {
        let err = checked_admin_password(Some("short".into())).unwrap_err();
        assert!(
            format!("{err:#}").contains("WHARF_ADMIN_PASSWORD"),
            "{err:#}"
        );
        assert!(format!("{err:#}").contains("at least 8"), "{err:#}");
        assert_eq!(checked_admin_password(Some(String::new())).unwrap(), None);
        assert_eq!(checked_admin_password(None).unwrap(), None);
        assert_eq!(
            checked_admin_password(Some("long enough".into())).unwrap(),
            Some("long enough".into())
        );
    }

    /// A second start with the variable set creates nothing and says why.
    #[test]
    fn a_later_start_ignores_the_admin_password_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.storage.data_dir = dir.path().to_path_buf();
        config.formats.clear();
        let registry = Registry::open(config).unwrap();
        assert!(
            bootstrap::ensure_admin(&registry.db, None)
                .unwrap()
                .is_some()
        );
        print_bootstrap(&registry, Some("another-password".into())).unwrap();
        let admin = crate::registry::accounts::sign_in(&registry.db, "admin", "another-password");
        assert!(admin.is_err(), "the password was not changed");
        assert!(ADMIN_PASSWORD_IGNORED.contains("wharf user passwd"));
    }
}
