//! Proxy and group owners (issue 21): made from `[proxies.NAME]` / `[groups.NAME]` at
//! startup, and looked up per request.
//!
//! Each is an organization row (no password) marked in `virtual_owners`, so its name
//! is taken for users and organizations alike, and a proxy's cached packages are
//! ordinary packages of its owner. `private` and `readers` are written to the owner
//! row and its `org_members` at every start: the config is the truth.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::bail;
use rusqlite::Transaction;

use super::FormatEntry;
use crate::config::{Config, GroupConfig, ProxyConfig};
use crate::db::Db;
use crate::db::owners::{self, OwnerKind};
use crate::db::virtual_owners::{self, VirtualKind};
use crate::error::Error;

/// What a configured proxy or group owner is.
#[derive(Debug, Clone)]
pub enum VirtualOwner {
    Proxy(Arc<ProxyConfig>),
    Group(Arc<GroupConfig>),
}

impl VirtualOwner {
    /// The one format the proxy or group serves.
    pub fn format(&self) -> &str {
        match self {
            Self::Proxy(config) => &config.format,
            Self::Group(config) => &config.format,
        }
    }
}

/// The configured proxies and groups by lower-case name.
#[derive(Debug, Default)]
pub struct VirtualOwners {
    by_name: HashMap<String, VirtualOwner>,
}

impl VirtualOwners {
    /// The configured ones; a proxy or group whose table was removed is not among them.
    pub fn from_config(config: &Config) -> Self {
        let proxies = config.proxies.iter().map(|(name, proxy)| {
            let owner = VirtualOwner::Proxy(Arc::new(proxy.clone()));
            (name.to_ascii_lowercase(), owner)
        });
        let groups = config.groups.iter().map(|(name, group)| {
            let owner = VirtualOwner::Group(Arc::new(group.clone()));
            (name.to_ascii_lowercase(), owner)
        });
        Self {
            by_name: proxies.chain(groups).collect(),
        }
    }

    /// The proxy or group named `owner` (any case), if it is one.
    pub fn get(&self, owner: &str) -> Option<&VirtualOwner> {
        if self.by_name.is_empty() {
            return None;
        }
        self.by_name.get(&owner.to_ascii_lowercase())
    }
}

/// Makes or updates the owner rows of the configured proxies and groups, and refuses
/// what cannot work: a name a user or organization has, a proxy of a format whose
/// plugin has no proxy support, a group member that does not exist, a reader that
/// does not exist.
pub fn set_up(config: &Config, db: &Db, formats: &[FormatEntry]) -> anyhow::Result<VirtualOwners> {
    if config.proxies.is_empty() && config.groups.is_empty() {
        return Ok(VirtualOwners::default());
    }
    for (name, proxy) in &config.proxies {
        let entry = formats.iter().find(|f| f.name == proxy.format);
        if let Some(entry) = entry
            && !entry.plugin.supports_proxy()
        {
            bail!(
                "proxies.{name}.format: the {} plugin does not support proxy repositories \
                 (its supports-proxy answers false; contract {})",
                proxy.format,
                entry.plugin.descriptor.contract
            );
        }
    }
    db.write_sync(|tx| {
        let tables = (config.proxies.iter())
            .map(|(n, p)| (n, VirtualKind::Proxy, p.private, &p.readers))
            .chain(
                (config.groups.iter()).map(|(n, g)| (n, VirtualKind::Group, g.private, &g.readers)),
            );
        for (name, kind, private, readers) in tables {
            set_up_owner(tx, name, kind, private, readers)?;
        }
        for (name, group) in &config.groups {
            check_members(tx, config, name, group)?;
        }
        Ok(())
    })?;
    Ok(VirtualOwners::from_config(config))
}

/// The config table a virtual owner comes from, for messages.
fn table(kind: VirtualKind) -> &'static str {
    match kind {
        VirtualKind::Proxy => "proxies",
        VirtualKind::Group => "groups",
    }
}

fn set_up_owner(
    tx: &Transaction<'_>,
    name: &str,
    kind: VirtualKind,
    private: bool,
    readers: &[String],
) -> Result<(), Error> {
    let key = format!("{}.{name}", table(kind));
    let id = match owners::by_name(tx, name)? {
        Some(owner) if virtual_owners::kind_of(tx, owner.id)?.is_none() => {
            return Err(Error::Conflict(format!(
                "{key}: the name belongs to the existing {} {:?} (owner names are \
                 case-insensitive); rename the {} in registry.toml",
                account(owner.kind),
                owner.name,
                kind.as_str()
            )));
        }
        Some(owner) => owner.id,
        None => {
            tracing::info!(
                owner = name,
                kind = kind.as_str(),
                "creating a virtual owner"
            );
            owners::create(tx, name, OwnerKind::Org, None, false, private)?
        }
    };
    virtual_owners::set(tx, id, kind)?;
    owners::set_private(tx, id, private)?;
    let mut ids = Vec::new();
    for reader in readers {
        match real_owner(tx, reader)? {
            Some(reader) => ids.push(reader.id),
            None => {
                return Err(Error::NotFound(format!(
                    "{key}.readers: no user or organization named {reader:?}"
                )));
            }
        }
    }
    virtual_owners::set_readers(tx, id, &ids)
}

/// Every member is a configured proxy (the config check matched formats) or a user or
/// organization; `write_to` (a member, not a proxy) is then a hosted one.
fn check_members(
    tx: &Transaction<'_>,
    config: &Config,
    name: &str,
    group: &GroupConfig,
) -> Result<(), Error> {
    for member in &group.members {
        let configured = config
            .proxies
            .keys()
            .any(|p| p.eq_ignore_ascii_case(member));
        if configured {
            continue;
        }
        if real_owner(tx, member)?.is_some() {
            continue;
        }
        if owners::by_name(tx, member)?.is_some() {
            return Err(Error::NotFound(format!(
                "groups.{name}.members: {member:?} was a proxy or group whose table is gone"
            )));
        }
        // A member made later (`wharf org create`, the first start's admin) joins the
        // group as it appears; reads skip members that do not exist.
        tracing::warn!(
            group = %name,
            member = %member,
            "group member does not exist (yet): skipped until it does"
        );
    }
    Ok(())
}

/// The user or organization `name`, if it is one (not a proxy or group).
fn real_owner(tx: &Transaction<'_>, name: &str) -> Result<Option<owners::Owner>, Error> {
    Ok(match owners::by_name(tx, name)? {
        Some(owner) if virtual_owners::kind_of(tx, owner.id)?.is_none() => Some(owner),
        _ => None,
    })
}

fn account(kind: OwnerKind) -> &'static str {
    match kind {
        OwnerKind::User => "user",
        OwnerKind::Org => "organization",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::registry_token::Minted;
    use crate::auth::{Access, Principal, User, granted_access};
    use crate::db::owners::Role;
    use crate::db::tokens::Scope;
    use crate::registry::testing::TestRegistry;

    /// `text` as the config file, on top of the defaults.
    fn config(text: &str) -> Config {
        let config = Config::parse(text).unwrap();
        config.validate().unwrap();
        config
    }

    const TABLES: &str = "[proxies.npm-public]\nformat = \"npm\"\nupstreams = [\"https://u.example\"]\n\
        [groups.npm-all]\nformat = \"npm\"\nmembers = [\"acme\", \"npm-public\"]\n\
        private = true\nreaders = [\"ops\", \"carol\"]\n";

    /// A registry with users alice, bob (in ops) and carol, and organizations acme and ops.
    fn registry() -> TestRegistry {
        let t = TestRegistry::open();
        for user in ["alice", "bob", "carol"] {
            t.user(user, Scope::Read);
        }
        t.registry
            .db
            .write_sync(|tx| {
                owners::create(tx, "acme", OwnerKind::Org, None, false, false)?;
                let ops = owners::create(tx, "ops", OwnerKind::Org, None, false, false)?;
                let bob = owners::by_name(tx, "bob")?.unwrap();
                owners::set_member(tx, ops, bob.id, Role::Read)
            })
            .unwrap();
        t
    }

    fn owner(t: &TestRegistry, name: &str) -> owners::Owner {
        let name = name.to_string();
        t.registry
            .db
            .read_sync(move |c| owners::by_name(c, &name))
            .unwrap()
            .unwrap()
    }

    /// No proxy-capable bundled plugin exists yet, so these set up without formats:
    /// the plugin check is [`the_format_must_support_proxies`]'s.
    #[test]
    fn proxies_and_groups_become_owners_that_requests_look_up() {
        let t = registry();
        let db = &t.registry.db;
        let found = set_up(&config(TABLES), db, &[]).unwrap();
        assert!(
            matches!(found.get("NPM-Public"), Some(VirtualOwner::Proxy(p)) if p.format == "npm")
        );
        assert!(
            matches!(found.get("npm-all"), Some(VirtualOwner::Group(g)) if g.members.len() == 2)
        );
        assert!(found.get("acme").is_none());
        let (proxy, group) = (owner(&t, "npm-public"), owner(&t, "npm-all"));
        assert!(proxy.kind == OwnerKind::Org && proxy.password_hash.is_none() && !proxy.private);
        assert!(group.private);
        let kind = |id| {
            db.read_sync(move |c| virtual_owners::kind_of(c, id))
                .unwrap()
        };
        assert_eq!(kind(proxy.id), Some(VirtualKind::Proxy));
        assert_eq!(kind(group.id), Some(VirtualKind::Group));

        // A restart finds its owners; the config wins for visibility.
        let public = TABLES.replace("private = true\nreaders = [\"ops\", \"carol\"]\n", "");
        set_up(&config(&public), db, &[]).unwrap();
        assert!(!owner(&t, "npm-all").private);
        assert_eq!(owner(&t, "npm-all").id, group.id);

        // Nobody can take the names later (409, as for any taken name).
        let taken = crate::registry::accounts::create_user(
            db,
            "NPM-public",
            "a-long-password-1",
            false,
            false,
        );
        assert!(matches!(taken, Err(Error::Conflict(_))), "{taken:?}");
        let taken = crate::registry::accounts::create_org(db, "npm-all", "alice", false);
        assert!(matches!(taken, Err(Error::Conflict(_))), "{taken:?}");

        // A table removed from the config keeps its owner row but is no proxy any more,
        // and cannot be a group member.
        let without =
            config("[groups.npm-all]\nformat = \"npm\"\nmembers = [\"acme\", \"npm-public\"]\n");
        let err = set_up(&without, db, &[]).unwrap_err().to_string();
        assert!(
            err.contains(
                "groups.npm-all.members: \"npm-public\" was a proxy or group whose table is gone"
            ),
            "{err}"
        );
        let found = set_up(
            &config("[groups.npm-all]\nformat = \"npm\"\nmembers = [\"acme\"]\n"),
            db,
            &[],
        )
        .unwrap();
        assert!(found.get("npm-public").is_none());
        assert_eq!(owner(&t, "npm-public").id, proxy.id);
    }

    #[test]
    fn readers_read_a_private_group_and_others_do_not() {
        let t = registry();
        let db = &t.registry.db;
        set_up(&config(TABLES), db, &[]).unwrap();
        let group = owner(&t, "npm-all");
        let access = |name: &str| {
            let user = owner(&t, name);
            let principal = Principal::User(User {
                id: user.id,
                name: user.name,
                is_admin: false,
                scope: Scope::Write,
                grant: None,
                source: Minted::Token { id: 0 },
            });
            let group = group.clone();
            db.read_sync(move |c| granted_access(c, &principal, &group))
                .unwrap()
        };
        assert_eq!(access("carol"), Access::Read, "a reader");
        assert_eq!(access("bob"), Access::Read, "a member of the reader ops");
        assert_eq!(access("alice"), Access::None);
        let anonymous = db.read_sync(|c| granted_access(c, &Principal::Anonymous, &group));
        assert_eq!(anonymous.unwrap(), Access::None);
    }

    #[test]
    fn startup_refuses_what_cannot_work() {
        let t = registry();
        let db = &t.registry.db;
        let proxy = |name: &str, rest: &str| {
            format!(
                "[proxies.{name}]\nformat = \"npm\"\nupstreams = [\"https://u.example\"]\n{rest}"
            )
        };
        for (text, expected) in [
            (
                proxy("Alice", ""),
                "proxies.Alice: the name belongs to the existing user \"alice\"",
            ),
            (
                "[groups.acme]\nformat = \"npm\"\nmembers = [\"alice\"]\n".into(),
                "groups.acme: the name belongs to the existing organization \"acme\"",
            ),
            (
                proxy("p", "private = true\nreaders = [\"nobody\"]\n"),
                "proxies.p.readers: no user or organization named \"nobody\"",
            ),
        ] {
            let err = format!("{:#}", set_up(&config(&text), db, &[]).unwrap_err());
            assert!(err.contains(expected), "{text}\n→ {err}");
        }
        // A member that does not exist yet is skipped, not refused: it may be made
        // after the group (an organization, the first start's admin).
        let later = "[groups.g]\nformat = \"npm\"\nmembers = [\"acme\", \"ghost\"]\n";
        assert!(set_up(&config(later), db, &[]).is_ok());
    }

    /// `write_to` names the hosted member that receives the group's writes; requests
    /// find it in the group's table.
    #[test]
    fn a_group_may_write_to_a_hosted_member() {
        let t = registry();
        let text = "[groups.g]\nformat = \"npm\"\nmembers = [\"acme\"]\nwrite_to = \"acme\"\n";
        let found = set_up(&config(text), &t.registry.db, &[]).unwrap();
        let Some(VirtualOwner::Group(group)) = found.get("G") else {
            panic!("g is a group");
        };
        assert_eq!(group.write_to.as_deref(), Some("acme"));
    }

    /// A generic plugin built against contract 0.3.0 has no `proxy` export.
    #[test]
    fn the_format_must_support_proxies() {
        let fixture = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/contract-0.3.0/generic.wasm");
        let t = TestRegistry::with(|config| {
            let generic = config.formats.get_mut("generic").unwrap();
            generic.plugin = crate::config::PluginSource::Path(fixture);
        });
        let text = "[proxies.files]\nformat = \"generic\"\nupstreams = [\"https://u.example\"]\n";
        let err = set_up(&config(text), &t.registry.db, &t.registry.formats).unwrap_err();
        let err = err.to_string();
        assert!(
            err.contains(
                "proxies.files.format: the generic plugin does not support proxy repositories"
            ),
            "{err}"
        );
        assert!(owner_missing(&t, "files"), "nothing was created");
    }

    fn owner_missing(t: &TestRegistry, name: &str) -> bool {
        let name = name.to_string();
        t.registry
            .db
            .read_sync(move |c| owners::by_name(c, &name))
            .unwrap()
            .is_none()
    }

    /// The first start of a registry with proxies still makes its admin.
    #[test]
    fn virtual_owners_do_not_stand_in_for_the_first_user() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db")).unwrap();
        let text = "[proxies.p]\nformat = \"npm\"\nupstreams = [\"https://u.example\"]\n";
        set_up(&config(text), &db, &[]).unwrap();
        let admin =
            super::super::bootstrap::ensure_admin(&db, Some("a-long-password-1".into())).unwrap();
        assert!(admin.is_some());
    }
}
