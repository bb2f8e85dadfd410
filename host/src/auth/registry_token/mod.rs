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

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Principal, secrets};
use crate::db::tokens::Scope;

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

mod scope;
pub use scope::{Action, Grant, Requested, grant, parse_scopes, valid_repository};

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn claims(now: i64) -> Claims {
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
}
