//! Who is looking at a page: the signed-in user behind the session cookie, or an
//! anonymous visitor. Sessions are rows of `db::web_sessions`, found by the sha256 of
//! the cookie's random secret; a session whose user's password changed since sign-in
//! no longer counts (like a registry token minted from that password).
//!
//! The cookie is `HttpOnly` (no script reads it), `SameSite=Lax` (other sites' forms
//! do not carry it; following a link to a page still shows the visitor signed in),
//! `Secure` when the public URL is https, and scoped to `/`.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use cookie::{Cookie, SameSite};
use http::HeaderMap;
use http::request::Parts;

use crate::auth::registry_token::{Minted, password_tag};
use crate::auth::{Principal, User, secrets};
use crate::db::owners::{self, OwnerKind};
use crate::db::tokens::Scope;
use crate::db::web_sessions::{self, WebSession};
use crate::error::Error;
use crate::registry::Registry;

/// The session cookie's name.
pub const COOKIE: &str = "wharf_session";

/// How long a session lasts after sign-in, in seconds (a week, as package registries'
/// web sessions commonly do); signing in again starts a new one.
pub const LIFETIME_SECS: i64 = 7 * 86_400;

/// A signed-in visitor's session.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub name: String,
    pub is_admin: bool,
    /// The session's form token (see `csrf`).
    pub csrf: String,
    /// The stored key of the session, to end it.
    id_hash: String,
}

/// The caller of a page, resolved from its session cookie.
#[derive(Debug, Clone)]
pub struct Visitor {
    pub principal: Principal,
    pub session: Option<SignedIn>,
}

impl Visitor {
    pub fn anonymous() -> Self {
        Self {
            principal: Principal::Anonymous,
            session: None,
        }
    }

    /// The visitor's session, or an error that sends them to sign in.
    pub fn signed_in(&self) -> Result<&SignedIn, Error> {
        self.session
            .as_ref()
            .ok_or_else(|| Error::Unauthorized("sign in to see this page".into()))
    }
}

/// The value of the cookie `name` in the request's `Cookie` headers.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

/// Resolves the session cookie; a missing, unknown, expired or outdated session is an
/// anonymous visitor (the pages then offer to sign in).
fn resolve(registry: &Registry, headers: &HeaderMap) -> Result<Visitor, Error> {
    let Some(secret) = cookie_value(headers, COOKIE) else {
        return Ok(Visitor::anonymous());
    };
    let id_hash = secrets::token_hash(&secret);
    let now = crate::db::now();
    let found = registry.db.read_now(|conn| {
        let Some(session) = web_sessions::find(conn, &id_hash, now)? else {
            return Ok(None);
        };
        let user = owners::by_id(conn, session.user_id)?.filter(|o| o.kind == OwnerKind::User);
        Ok(user.map(|user| (session, user)))
    })?;
    let Some((session, user)) = found else {
        return Ok(Visitor::anonymous());
    };
    let current_tag = user.password_hash.as_deref().map(password_tag);
    if current_tag.as_deref() != Some(session.password_tag.as_str()) {
        return Ok(Visitor::anonymous());
    }
    super::super::log::note_user(&user.name);
    Ok(Visitor {
        principal: Principal::User(User {
            id: user.id,
            name: user.name.clone(),
            is_admin: user.is_admin,
            scope: Scope::Write,
            grant: None,
            source: Minted::Password {
                hash: session.password_tag,
            },
        }),
        session: Some(SignedIn {
            name: user.name,
            is_admin: user.is_admin,
            csrf: session.csrf,
            id_hash,
        }),
    })
}

impl FromRequestParts<Arc<Registry>> for Visitor {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        registry: &Arc<Registry>,
    ) -> Result<Self, Self::Rejection> {
        Ok(resolve(registry, &parts.headers).unwrap_or_else(|e| {
            // A database failure must not show a page as someone else; anonymous is
            // the safe reading, and the cause is logged.
            tracing::error!(error = %e, "could not read the web session");
            Visitor::anonymous()
        }))
    }
}

/// 32 random bytes in hex: a session secret or a form token.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    hex::encode(bytes)
}

/// Starts a session for `user_id`, who signed in with the password whose stored hash is
/// `phc`; returns the cookie's secret. Expired sessions are swept on the way.
pub async fn start(registry: &Registry, user_id: i64, phc: &str) -> Result<String, Error> {
    let secret = random_secret();
    let id_hash = secrets::token_hash(&secret);
    let now = crate::db::now();
    let session = WebSession {
        user_id,
        password_tag: password_tag(phc),
        csrf: random_secret(),
        expires: now + LIFETIME_SECS,
    };
    registry
        .db
        .write(move |tx| {
            web_sessions::delete_expired(tx, now)?;
            web_sessions::insert(tx, &id_hash, &session, now)
        })
        .await?;
    Ok(secret)
}

/// Ends the visitor's session: the cookie stops working at once, wherever it is.
pub async fn end(registry: &Registry, session: &SignedIn) -> Result<(), Error> {
    let id_hash = session.id_hash.clone();
    registry
        .db
        .write(move |tx| web_sessions::delete(tx, &id_hash).map(|_| ()))
        .await
}

/// A `Set-Cookie` value for cookie `name` = `value` with the session cookie's
/// attributes, kept for `max_age` seconds (0 removes it).
pub fn set_cookie(name: &str, value: &str, secure: bool, max_age: i64) -> String {
    Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(max_age))
        .build()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::testing::TestRegistry;

    fn with_cookie(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::COOKIE, value.parse().unwrap());
        headers
    }

    #[test]
    fn the_cookie_is_http_only_same_site_and_secure_behind_https() {
        let plain = set_cookie(COOKIE, "abc", false, 60);
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Lax"));
        assert!(plain.contains("Path=/") && plain.contains("Max-Age=60"));
        assert!(!plain.contains("Secure"));
        assert!(set_cookie(COOKIE, "abc", true, 60).contains("Secure"));
        let headers = with_cookie("other=1; wharf_session=s3cret; x=y");
        assert_eq!(cookie_value(&headers, COOKIE).as_deref(), Some("s3cret"));
        assert_eq!(cookie_value(&HeaderMap::new(), COOKIE), None);
    }

    // Guards sessions: the cookie signs its user in until sign-out, an unknown cookie
    // is anonymous, and a password changed since sign-in ends the session.
    #[tokio::test]
    async fn a_session_lasts_until_sign_out_or_a_new_password() {
        let t = TestRegistry::open();
        t.user("alice", Scope::Read);
        let alice = t
            .registry
            .db
            .read_now(|conn| owners::by_name(conn, "alice"))
            .unwrap()
            .unwrap();
        let phc = alice.password_hash.clone().unwrap();
        let secret = start(&t.registry, alice.id, &phc).await.unwrap();
        let cookie = with_cookie(&format!("{COOKIE}={secret}"));
        let visitor = resolve(&t.registry, &cookie).unwrap();
        let session = visitor.session.clone().expect("signed in");
        assert_eq!(session.name, "alice");
        assert_eq!(session.csrf.len(), 64);
        assert_eq!(visitor.principal.user().unwrap().scope, Scope::Write);
        let forged = with_cookie(&format!("{COOKIE}={secret}0"));
        assert!(resolve(&t.registry, &forged).unwrap().session.is_none());

        end(&t.registry, &session).await.unwrap();
        assert!(resolve(&t.registry, &cookie).unwrap().session.is_none());

        let again = start(&t.registry, alice.id, &phc).await.unwrap();
        let cookie = with_cookie(&format!("{COOKIE}={again}"));
        assert!(resolve(&t.registry, &cookie).unwrap().session.is_some());
        crate::registry::accounts::set_password(&t.registry.db, "alice", "a-new-password").unwrap();
        assert!(resolve(&t.registry, &cookie).unwrap().session.is_none());
    }
}
