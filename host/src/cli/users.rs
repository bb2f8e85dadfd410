//! `wharf user …` and `wharf owner …`.

use crate::audit::{self, Via};
use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};

use super::{Io, time};
use crate::db::Db;
use crate::registry::accounts;

#[derive(Debug, Subcommand)]
pub(super) enum UserCommand {
    /// Create a user.
    Create {
        name: String,
        #[command(flatten)]
        password: PasswordArgs,
        /// Site administrator: full access to every owner.
        #[arg(long)]
        admin: bool,
        /// Packages readable only by the user (and admins).
        #[arg(long)]
        private: bool,
    },
    /// List users: name, admin, visibility, packages, tokens, created.
    List,
    /// Delete a user with their tokens and memberships. Refused while they own
    /// packages, unless --transfer-to names the owner who gets them.
    Delete {
        name: String,
        /// The user or organization that gets the user's packages.
        #[arg(long)]
        transfer_to: Option<String>,
    },
    /// Set a user's password (prompted for, or read from stdin).
    Passwd {
        name: String,
        #[command(flatten)]
        password: PasswordArgs,
    },
}

/// Where a password comes from: a prompt on a terminal (the default), one line of stdin,
/// or the command line (which the shell history and `ps` show to others).
#[derive(Debug, Args)]
pub(super) struct PasswordArgs {
    /// Read the password from the first line of stdin.
    #[arg(long, conflicts_with = "password")]
    password_stdin: bool,
    /// The password itself, for scripts. It ends up in the shell history and is visible
    /// in the process list while the command runs: prefer --password-stdin.
    #[arg(long)]
    password: Option<String>,
}

impl PasswordArgs {
    fn read(self, io: &mut Io<'_>) -> anyhow::Result<String> {
        if let Some(password) = self.password {
            return Ok(password);
        }
        if self.password_stdin {
            let mut line = String::new();
            io.input.read_line(&mut line).context("cannot read stdin")?;
            return Ok(line.trim_end_matches(['\r', '\n']).to_string());
        }
        if !io.interactive {
            bail!("no password given: use --password-stdin (or run in a terminal to be asked)");
        }
        let password = rpassword::prompt_password("Password: ")?;
        if rpassword::prompt_password("Again: ")? != password {
            bail!("the passwords differ");
        }
        Ok(password)
    }
}

#[derive(Debug, Subcommand)]
pub(super) enum OwnerCommand {
    /// Make an owner's packages readable by anyone (public) or only by the owner, its
    /// members and admins (private).
    Visibility {
        name: String,
        visibility: Visibility,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum Visibility {
    Public,
    Private,
}

pub(super) fn user_command(db: &Db, command: UserCommand, io: &mut Io<'_>) -> anyhow::Result<()> {
    match command {
        UserCommand::Create {
            name,
            password,
            admin,
            private,
        } => {
            let password = password.read(io)?;
            accounts::create_user(db, &name, &password, admin, private)?;
            audit::user_created(&name, admin, Via::Cli);
            eprintln!("created user {name}");
        }
        UserCommand::List => {
            writeln!(io.out, "NAME\tADMIN\tVISIBILITY\tPACKAGES\tTOKENS\tCREATED")?;
            for u in accounts::list_users(db)? {
                writeln!(
                    io.out,
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    u.name,
                    if u.is_admin { "yes" } else { "no" },
                    if u.private { "private" } else { "public" },
                    u.packages,
                    u.tokens,
                    time(Some(u.created))
                )?;
            }
        }
        UserCommand::Delete { name, transfer_to } => {
            let deleted = accounts::delete_user(db, &name, transfer_to.as_deref())?;
            audit::user_deleted(&name, Via::Cli);
            eprintln!(
                "deleted user {name} and {} token(s){}",
                deleted.tokens,
                match transfer_to {
                    Some(heir) => format!(
                        "; {} package(s) now belong to {heir}",
                        deleted.packages_moved
                    ),
                    None => String::new(),
                }
            );
        }
        UserCommand::Passwd { name, password } => {
            let password = password.read(io)?;
            accounts::set_password(db, &name, &password)?;
            audit::password_changed(&name, Via::Cli);
            eprintln!("changed the password of {name}");
        }
    }
    Ok(())
}

pub(super) fn owner_command(db: &Db, command: OwnerCommand) -> anyhow::Result<()> {
    let OwnerCommand::Visibility { name, visibility } = command;
    let private = matches!(visibility, Visibility::Private);
    accounts::set_private(db, &name, private)?;
    audit::visibility_changed(&name, private, Via::Cli);
    eprintln!(
        "the packages of {name} are now {}",
        match visibility {
            Visibility::Public => "public",
            Visibility::Private => "private",
        }
    );
    Ok(())
}
