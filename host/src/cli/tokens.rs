//! `wharf token …`.

use crate::audit::{self, Via};
use clap::{Subcommand, ValueEnum};

use super::{Io, time};
use crate::db::Db;
use crate::db::tokens::Scope;
use crate::registry::accounts::{self, TokenNames, TokenRef};

#[derive(Debug, Clone, Copy, ValueEnum, Default)]
pub(super) enum ScopeArg {
    Read,
    #[default]
    Write,
}

#[derive(Debug, Subcommand)]
pub(super) enum TokenCommand {
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
    /// List tokens (never their secrets): id, user, name, scope, last eight characters,
    /// created, last used (recorded at most once a minute), expires.
    List {
        /// Only this user's tokens.
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke a token by its id (from `wharf token list`); it stops working at once,
    /// with the registry tokens issued for it.
    Revoke { id: i64 },
}

pub(super) fn token_command(db: &Db, command: TokenCommand, io: &mut Io<'_>) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create {
            user,
            name,
            scope,
            expires_days,
        } => {
            let scope = match scope {
                ScopeArg::Read => Scope::Read,
                ScopeArg::Write => Scope::Write,
            };
            let token =
                accounts::create_token(db, &user, &name, scope, expires_days, TokenNames::Any)?;
            audit::token_created(&user, &name, scope.as_str(), Via::Cli);
            writeln!(io.out, "{}", token.secret)?;
        }
        TokenCommand::List { user } => {
            writeln!(
                io.out,
                "ID\tUSER\tNAME\tSCOPE\tLAST8\tCREATED\tLAST-USED\tEXPIRES"
            )?;
            for t in accounts::list_tokens(db, user.as_deref())? {
                writeln!(
                    io.out,
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    t.id,
                    t.user,
                    t.name,
                    t.scope.as_str(),
                    if t.last_eight.is_empty() {
                        "-"
                    } else {
                        &t.last_eight
                    },
                    time(Some(t.created)),
                    time(t.last_used),
                    time(t.expires)
                )?;
            }
        }
        TokenCommand::Revoke { id } => {
            accounts::revoke_token(db, &TokenRef::Id(id), None)?;
            audit::token_revoked("", &id.to_string(), Via::Cli);
            eprintln!("revoked token {id}");
        }
    }
    Ok(())
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

#[cfg(test)]
mod expiry_tests {
    use super::super::Cli;
    use clap::Parser;

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
