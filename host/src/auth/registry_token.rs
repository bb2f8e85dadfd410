//! Short-lived signed registry tokens (Docker token authentication, OCI `/v2/token`).
//!
//! A token is JWT-shaped — `base64url(header).base64url(claims).base64url(HMAC-SHA256)` —
//! so operators recognise it, but only this host issues and checks it: no key leaves
//! the database and no other algorithm is accepted. It names the user (or nobody, for a
//! guest) and the repository actions granted when it was issued. The host enforces the
//! grant on top of the live permission checks, so a token never outlives a revoked
//! membership, and it never carries more than its credential could do. It also names
//! the credential it was minted from (an API token's id, or a tag of the password
//! hash), which must still be valid whenever the token is presented: revoking the API
//! token, its expiry or a password change ends the registry token too.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Access, Principal, secrets};
use crate::db::owners;
use crate::db::tokens::Scope;
use crate::error::Error;

/// Seconds a token is valid.
pub const LIFETIME_SECS: i64 = 600;

/// Name of the key's row in `host_secrets`.
pub const KEY_NAME: &str = "registry-token-hmac";

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT","kid":"wharf-1"}"#;

/// The HMAC key tokens are signed with (32 random bytes, kept in the database).
#[derive(Clone)]
pub struct TokenKey([u8; 32]);

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

impl TokenKey {
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("the OS random source is available");
        Self(bytes)
    }

    /// The stored key; anything but 32 bytes is a damaged row.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    fn mac(&self, signed: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(signed.as_bytes());
        mac
    }
}

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The public URL of the issuing registry.
    pub iss: String,
    /// The service of the challenge the token answers.
    pub aud: String,
    /// The user name; empty for a guest.
    pub sub: String,
    /// The user id; none for a guest.
    pub uid: Option<i64>,
    /// The scope of the credential the token was issued for: `read` or `write`.
    pub cs: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub access: Vec<AccessEntry>,
    /// What the user presented to get the token; none for a guest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<Minted>,
}

/// The credential a registry token was minted from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Minted {
    /// A stored API token, by id.
    Token { id: i64 },
    /// A password: a tag of its stored hash (see [`password_tag`]).
    Password { hash: String },
}

/// A short tag of a stored password hash: it changes with every new password (the
/// salt is new), and tells nothing about the password.
pub fn password_tag(phc: &str) -> String {
    hex::encode(&Sha256::digest(phc.as_bytes())[..12])
}

/// One granted resource, in the Docker token format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessEntry {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

impl Claims {
    /// Claims for a token issued now to `principal` with `grant`.
    pub fn new(
        principal: &Principal,
        grant: &Grant,
        issuer: &str,
        service: &str,
        now: i64,
    ) -> Self {
        let user = principal.user();
        Self {
            iss: issuer.to_string(),
            aud: service.to_string(),
            sub: user.map(|u| u.name.clone()).unwrap_or_default(),
            uid: user.map(|u| u.id),
            cs: user.map_or(Scope::Read, |u| u.scope).as_str().to_string(),
            iat: now,
            nbf: now,
            exp: now + LIFETIME_SECS,
            access: grant.to_access(),
            src: user.map(|u| u.source.clone()),
        }
    }

    /// The credential scope; anything unknown reads as the weaker `read`.
    pub fn credential_scope(&self) -> Scope {
        if self.cs == "write" {
            Scope::Write
        } else {
            Scope::Read
        }
    }
}

/// Why a presented token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    Malformed,
    BadSignature,
    Expired,
}

/// Whether `token` has the shape of a registry token (and so is never looked up as a
/// stored one). Stored tokens carry the `wharf_` prefix and no dots.
pub fn looks_like(token: &str) -> bool {
    !token.starts_with(secrets::TOKEN_PREFIX) && token.split('.').count() == 3
}

pub fn sign(key: &TokenKey, claims: &Claims) -> String {
    let claims = serde_json::to_vec(claims).expect("claims serialize");
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(HEADER),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let signature = key.mac(&signed).finalize().into_bytes();
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// The claims of a token this key signed that is valid at `now`.
pub fn verify(key: &TokenKey, token: &str, now: i64) -> Result<Claims, Invalid> {
    let (signed, signature) = token.rsplit_once('.').ok_or(Invalid::Malformed)?;
    let (header, claims) = signed.split_once('.').ok_or(Invalid::Malformed)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| Invalid::Malformed)?;
    // Constant-time comparison: the signature is checked before anything is parsed.
    key.mac(signed)
        .verify_slice(&signature)
        .map_err(|_| Invalid::BadSignature)?;
    let header: serde_json::Value = decode_json(header)?;
    if header.get("alg").and_then(|a| a.as_str()) != Some("HS256") {
        return Err(Invalid::Malformed);
    }
    let claims: Claims = decode_json(claims)?;
    if claims.nbf > now || now >= claims.exp {
        return Err(Invalid::Expired);
    }
    Ok(claims)
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, Invalid> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| Invalid::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| Invalid::Malformed)
}

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

    fn to_access(&self) -> Vec<AccessEntry> {
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
/// does not exist yet is granted like any other of its owner.
pub fn grant(
    conn: &Connection,
    principal: &Principal,
    requested: &[Requested],
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
                let allowed: &[Action] = match super::granted_access(conn, principal, &owner)? {
                    Access::None => &[],
                    Access::Read => &[Action::Pull],
                    Access::Write => &Action::ALL,
                };
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

    fn claims(now: i64) -> Claims {
        Claims {
            iss: "http://registry".into(),
            aud: "wharf".into(),
            sub: "alice".into(),
            uid: Some(2),
            cs: "write".into(),
            iat: now,
            nbf: now,
            exp: now + LIFETIME_SECS,
            access: vec![AccessEntry {
                kind: "repository".into(),
                name: "alice/img".into(),
                actions: vec!["pull".into(), "push".into()],
            }],
            src: Some(Minted::Token { id: 7 }),
        }
    }

    #[test]
    fn signed_tokens_verify_until_they_expire() {
        let key = TokenKey::generate();
        let token = sign(&key, &claims(1000));
        assert!(looks_like(&token));
        assert!(token.starts_with("eyJ") && !token.starts_with(secrets::TOKEN_PREFIX));
        assert_eq!(verify(&key, &token, 1000), Ok(claims(1000)));
        assert_eq!(verify(&key, &token, 1599), Ok(claims(1000)));
        assert_eq!(verify(&key, &token, 1600), Err(Invalid::Expired));
        assert_eq!(verify(&key, &token, 999), Err(Invalid::Expired));
    }

    #[test]
    fn tampered_or_foreign_tokens_fail() {
        let key = TokenKey::generate();
        let token = sign(&key, &claims(1000));
        assert_eq!(
            verify(&TokenKey::generate(), &token, 1000),
            Err(Invalid::BadSignature)
        );
        // Claims rewritten to grant more, with the old signature.
        let mut more = claims(1000);
        more.access[0].actions.push("delete".into());
        let forged = sign(&TokenKey::generate(), &more);
        let (_, forged_claims, _) = split3(&forged);
        let (header, _, signature) = split3(&token);
        assert_eq!(
            verify(&key, &format!("{header}.{forged_claims}.{signature}"), 1000),
            Err(Invalid::BadSignature)
        );
        // A flipped signature character.
        let mut flipped = token.clone().into_bytes();
        let last = flipped.len() - 2;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(verify(&key, &flipped, 1000), Err(Invalid::BadSignature));
        for garbage in ["", "a.b", "a.b.c", "wharf_abc", "a.b.!!"] {
            assert!(verify(&key, garbage, 1000).is_err(), "{garbage}");
        }
        assert!(!looks_like("wharf_0123"));
        assert!(!looks_like("a.b"));
    }

    #[test]
    fn a_validly_signed_token_with_another_algorithm_is_refused() {
        let key = TokenKey::generate();
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#);
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(1000)).unwrap());
        let signed = format!("{header}.{body}");
        let signature = URL_SAFE_NO_PAD.encode(key.mac(&signed).finalize().into_bytes());
        assert_eq!(
            verify(&key, &format!("{signed}.{signature}"), 1000),
            Err(Invalid::Malformed)
        );
    }

    fn split3(token: &str) -> (&str, &str, &str) {
        let mut parts = token.split('.');
        (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        )
    }

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
            Principal::User(super::super::User {
                id,
                name: name.into(),
                is_admin: false,
                scope,
                grant: None,
                source: Minted::Token { id: 1 },
            })
        };
        let asked = parse_scopes([
            "repository:alice/img:pull,push repository:team/app:pull,push,delete \
             repository:nobody/x:pull registry:catalog:*",
        ]);
        let granted =
            |principal: &Principal| db.read_sync(|conn| grant(conn, principal, &asked)).unwrap();
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
    }
}
