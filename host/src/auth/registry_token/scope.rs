//! The Docker token scope grammar (`repository:owner/name:pull,push`), what a token
//! grants, and what the caller's permissions let the token endpoint grant.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rusqlite::Connection;

use super::AccessEntry;
use crate::auth::{Access, Principal};
use crate::db::owners;
use crate::error::Error;

/// A repository action of the Docker token grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    Pull,
    Push,
    Delete,
}

impl Action {
    const ALL: [Action; 3] = [Action::Pull, Action::Push, Action::Delete];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pull => "pull",
            Self::Push => "push",
            Self::Delete => "delete",
        }
    }

    /// The actions one word names (`*` is all three); unknown words name none.
    fn parse(word: &str) -> &'static [Action] {
        match word {
            "pull" => &[Action::Pull],
            "push" => &[Action::Push],
            "delete" => &[Action::Delete],
            "*" => &Action::ALL,
            _ => &[],
        }
    }
}

/// One scope a client asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requested {
    /// `repository:owner/name:pull,push`; the name in lower case.
    Repository {
        name: String,
        actions: BTreeSet<Action>,
    },
    /// `registry:catalog:*`.
    Catalog,
}

/// Parses `scope` values: each is a space-separated list of `type[(class)]:name:actions`
/// (the name may itself contain `:`, e.g. a port). Unknown types and actions and
/// malformed items are ignored: the Docker spec grants a subset, it never fails.
pub fn parse_scopes<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<Requested> {
    let mut repositories: BTreeMap<String, BTreeSet<Action>> = BTreeMap::new();
    let mut catalog = false;
    for item in values.into_iter().flat_map(str::split_whitespace) {
        let Some((kind, rest)) = item.split_once(':') else {
            continue;
        };
        let Some((name, actions)) = rest.rsplit_once(':') else {
            continue;
        };
        let kind = kind.split_once('(').map_or(kind, |(k, _)| k);
        match kind {
            "repository" => {
                let name = name.to_ascii_lowercase();
                if !valid_repository(&name) {
                    continue;
                }
                let actions: BTreeSet<Action> = actions
                    .split(',')
                    .flat_map(|a| Action::parse(a.trim()))
                    .copied()
                    .collect();
                if !actions.is_empty() {
                    repositories.entry(name).or_default().extend(actions);
                }
            }
            "registry" if name == "catalog" && actions.split(',').any(|a| a == "*") => {
                catalog = true;
            }
            _ => {}
        }
    }
    let mut requested: Vec<Requested> = repositories
        .into_iter()
        .map(|(name, actions)| Requested::Repository { name, actions })
        .collect();
    if catalog {
        requested.push(Requested::Catalog);
    }
    requested
}

/// The distribution-spec name grammar, with at least `owner/name`:
/// components `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` joined by `/`, 255 characters at most.
pub fn valid_repository(name: &str) -> bool {
    fn component(c: &str) -> bool {
        let edges =
            |ch: Option<char>| ch.is_some_and(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit());
        if !edges(c.chars().next()) || !edges(c.chars().last()) {
            return false;
        }
        c.split(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit())
            .all(|sep| matches!(sep, "" | "." | "_" | "__") || sep.chars().all(|ch| ch == '-'))
    }
    name.len() <= 255 && name.split('/').count() >= 2 && name.split('/').all(component)
}

/// What a token allows, by repository (`owner/name`, lower case).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grant {
    repositories: BTreeMap<String, BTreeSet<Action>>,
    catalog: bool,
}

impl Grant {
    pub fn allows(&self, repository: &str, action: Action) -> bool {
        self.repositories
            .get(&repository.to_ascii_lowercase())
            .is_some_and(|actions| actions.contains(&action))
    }

    /// The granted `scope` values, space-separated (the token endpoint's POST reply).
    pub fn scope_string(&self) -> String {
        self.to_access()
            .iter()
            .map(|e| format!("{}:{}:{}", e.kind, e.name, e.actions.join(",")))
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub(super) fn to_access(&self) -> Vec<AccessEntry> {
        let mut access: Vec<AccessEntry> = self
            .repositories
            .iter()
            .map(|(name, actions)| AccessEntry {
                kind: "repository".to_string(),
                name: name.clone(),
                actions: actions.iter().map(|a| a.as_str().to_string()).collect(),
            })
            .collect();
        if self.catalog {
            access.push(AccessEntry {
                kind: "registry".to_string(),
                name: "catalog".to_string(),
                actions: vec!["*".to_string()],
            });
        }
        access
    }

    /// The grant a verified token carries (entries it does not know are dropped).
    pub fn from_access(access: &[AccessEntry]) -> Self {
        let scopes = access
            .iter()
            .map(|e| format!("{}:{}:{}", e.kind, e.name, e.actions.join(",")))
            .collect::<Vec<_>>();
        let mut grant = Self::default();
        for requested in parse_scopes(scopes.iter().map(String::as_str)) {
            match requested {
                Requested::Repository { name, actions } => {
                    grant.repositories.insert(name, actions);
                }
                Requested::Catalog => grant.catalog = true,
            }
        }
        grant
    }
}

/// What `principal` may have of what it asked for: the owner is the name's first
/// segment (unknown owners grant nothing); read access on it grants `pull`, write
/// access `pull`, `push` and `delete`, each only if asked for. The credential's scope
/// is applied (a read token never gets `push`). Owners decide, so a repository that
/// does not exist yet is granted like any other of its owner. `writes_to` maps a
/// group (lower-case name) to the member its writes go to (`write_to`): write access
/// on that member grants `push` and `delete` on the group's repositories, whose writes
/// run as the member's.
pub fn grant(
    conn: &Connection,
    principal: &Principal,
    requested: &[Requested],
    writes_to: &HashMap<String, String>,
) -> Result<Grant, Error> {
    let mut grant = Grant::default();
    for item in requested {
        match item {
            Requested::Catalog => grant.catalog = true,
            Requested::Repository { name, actions } => {
                let owner_name = name.split('/').next().unwrap_or_default();
                let Some(owner) = owners::by_name(conn, owner_name)? else {
                    continue;
                };
                let mut allowed: &[Action] =
                    match crate::auth::granted_access(conn, principal, &owner)? {
                        Access::None => &[],
                        Access::Read => &[Action::Pull],
                        Access::Write => &Action::ALL,
                    };
                let member = writes_to.get(&owner.name.to_ascii_lowercase());
                if let Some(member) = member
                    && let Some(member) = owners::by_name(conn, member)?
                    && crate::auth::granted_access(conn, principal, &member)? == Access::Write
                {
                    allowed = match allowed {
                        [] => &[Action::Push, Action::Delete],
                        _ => &Action::ALL,
                    };
                }
                let granted: BTreeSet<Action> = actions
                    .iter()
                    .filter(|a| allowed.contains(a))
                    .copied()
                    .collect();
                if !granted.is_empty() {
                    grant.repositories.insert(name.clone(), granted);
                }
            }
        }
    }
    Ok(grant)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::registry_token::tests::claims;
    use crate::db::tokens::Scope;

    fn repo(name: &str, actions: &[Action]) -> Requested {
        Requested::Repository {
            name: name.into(),
            actions: actions.iter().copied().collect(),
        }
    }

    #[test]
    fn scopes_parse_like_the_docker_grammar() {
        use Action::*;
        assert_eq!(
            parse_scopes(["repository:alice/img:pull,push"]),
            vec![repo("alice/img", &[Pull, Push])]
        );
        // Several values, several items per value, merged per repository.
        assert_eq!(
            parse_scopes([
                "repository:alice/img:pull repository:bob/team/app:*",
                "repository:alice/img:delete",
            ]),
            vec![
                repo("alice/img", &[Pull, Delete]),
                repo("bob/team/app", &[Pull, Push, Delete]),
            ]
        );
        // Class suffix, upper case, catalog; unknown types, actions and names ignored.
        assert_eq!(
            parse_scopes(["repository(plugin):Alice/Img:pull,fly registry:catalog:* \
                 foo:bar:pull repository:single:pull repository:a/b:fly \
                 repository:a/-b:pull nonsense repository:a/b"]),
            vec![repo("alice/img", &[Pull]), Requested::Catalog]
        );
        assert!(parse_scopes([""]).is_empty());
    }

    #[test]
    fn repository_names_follow_the_distribution_grammar() {
        for good in [
            "a/b",
            "alice/team/app",
            "a/b.c",
            "a/b_c",
            "a/b__c",
            "a/b---c",
            "0/9",
        ] {
            assert!(valid_repository(good), "{good}");
        }
        for bad in [
            "a", "a/", "/a", "a//b", "a/B", "a/-b", "a/b-", "a/b..c", "a/b___c", "a/b_.c", "a/b:c",
        ] {
            assert!(!valid_repository(bad), "{bad}");
        }
        assert!(!valid_repository(&format!("a/{}", "b".repeat(254))));
    }

    #[test]
    fn grants_round_trip_through_claims() {
        let grant = Grant::from_access(&claims(0).access);
        assert!(grant.allows("alice/img", Action::Push));
        assert!(grant.allows("Alice/Img", Action::Pull));
        assert!(!grant.allows("alice/img", Action::Delete));
        assert!(!grant.allows("alice/other", Action::Pull));
        assert_eq!(grant.to_access(), claims(0).access);
        assert_eq!(grant.scope_string(), "repository:alice/img:pull,push");
    }

    #[test]
    fn grants_follow_owner_permissions_and_credential_scope() {
        use crate::db::owners::{OwnerKind, Role};
        use Action::*;
        let dir = tempfile::tempdir().unwrap();
        let db = crate::db::Db::open(&dir.path().join("t.db")).unwrap();
        let (alice, bob) = db
            .write_sync(|tx| {
                let alice = owners::create(tx, "alice", OwnerKind::User, None, false, false)?;
                let bob = owners::create(tx, "bob", OwnerKind::User, None, false, false)?;
                let team = owners::create(tx, "team", OwnerKind::Org, None, false, true)?;
                owners::set_member(tx, team, bob, Role::Read)?;
                Ok((alice, bob))
            })
            .unwrap();
        let user = |id: i64, name: &str, scope: Scope| {
            Principal::User(crate::auth::User {
                id,
                name: name.into(),
                is_admin: false,
                scope,
                grant: None,
                source: crate::auth::registry_token::Minted::Token { id: 1 },
            })
        };
        let asked = parse_scopes([
            "repository:alice/img:pull,push repository:team/app:pull,push,delete \
             repository:nobody/x:pull registry:catalog:*",
        ]);
        let granted = |principal: &Principal| {
            db.read_sync(|conn| grant(conn, principal, &asked, &HashMap::new()))
                .unwrap()
        };
        let expect = |entries: &[(&str, &[Action])], catalog: bool| Grant {
            repositories: entries
                .iter()
                .map(|(n, a)| (n.to_string(), a.iter().copied().collect()))
                .collect(),
            catalog,
        };
        // The owner: everything asked on her own; nothing on the private org.
        assert_eq!(
            granted(&user(alice, "alice", Scope::Write)),
            expect(&[("alice/img", &[Pull, Push])], true)
        );
        // A read token of the owner: pull only.
        assert_eq!(
            granted(&user(alice, "alice", Scope::Read)),
            expect(&[("alice/img", &[Pull])], true)
        );
        // A read member of the private org: pull there, pull on the public user.
        assert_eq!(
            granted(&user(bob, "bob", Scope::Write)),
            expect(&[("alice/img", &[Pull]), ("team/app", &[Pull])], true)
        );
        // A guest: public owners only.
        assert_eq!(
            granted(&Principal::Anonymous),
            expect(&[("alice/img", &[Pull])], true)
        );

        // Were team a group whose writes go to alice, her write access there would
        // grant push and delete on team's repositories (pull stays team's: none).
        let writes_to = HashMap::from([("team".to_string(), "alice".to_string())]);
        let through = |principal: &Principal| {
            db.read_sync(|conn| grant(conn, principal, &asked, &writes_to))
                .unwrap()
        };
        assert_eq!(
            through(&user(alice, "alice", Scope::Write)),
            expect(
                &[("alice/img", &[Pull, Push]), ("team/app", &[Push, Delete])],
                true
            )
        );
        assert_eq!(
            through(&user(alice, "alice", Scope::Read)),
            expect(&[("alice/img", &[Pull])], true),
            "a read token writes nowhere"
        );
        assert_eq!(
            through(&user(bob, "bob", Scope::Write)),
            expect(&[("alice/img", &[Pull]), ("team/app", &[Pull])], true)
        );
    }
}
