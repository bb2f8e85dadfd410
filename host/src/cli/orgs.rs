//! `wharf org …`.

use crate::audit::{self, Via};
use clap::{Subcommand, ValueEnum};

use super::Io;
use crate::db::Db;
use crate::db::owners::Role;
use crate::registry::accounts;

#[derive(Debug, Subcommand)]
pub(super) enum OrgCommand {
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
    /// Remove a member from an organization.
    RemoveMember { org: String, user: String },
    /// List organizations: name, visibility, packages, members with their roles.
    List,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum RoleArg {
    Read,
    Write,
    Admin,
}

pub(super) fn org_command(db: &Db, command: OrgCommand, io: &mut Io<'_>) -> anyhow::Result<()> {
    match command {
        OrgCommand::Create {
            name,
            owner,
            private,
        } => {
            accounts::create_org(db, &name, &owner, private)?;
            audit::org_created(&name, &owner, Via::Cli);
            eprintln!("created organization {name} with {owner} as admin");
        }
        OrgCommand::AddMember { org, user, role } => {
            let role = match role {
                RoleArg::Read => Role::Read,
                RoleArg::Write => Role::Write,
                RoleArg::Admin => Role::Admin,
            };
            accounts::set_member(db, &org, &user, role)?;
            audit::member_set(&org, &user, role.as_str(), Via::Cli);
            eprintln!("{user} is now a {} member of {org}", role.as_str());
        }
        OrgCommand::RemoveMember { org, user } => {
            accounts::remove_member(db, &org, &user)?;
            audit::member_removed(&org, &user, Via::Cli);
            eprintln!("{user} is no longer a member of {org}");
        }
        OrgCommand::List => {
            writeln!(io.out, "NAME\tVISIBILITY\tPACKAGES\tMEMBERS")?;
            for org in accounts::list_orgs(db)? {
                let members: Vec<String> = org
                    .members
                    .iter()
                    .map(|(name, role)| format!("{name}:{}", role.as_str()))
                    .collect();
                writeln!(
                    io.out,
                    "{}\t{}\t{}\t{}",
                    org.name,
                    if org.private { "private" } else { "public" },
                    org.packages,
                    members.join(",")
                )?;
            }
        }
    }
    Ok(())
}
