//! Cross-site request forgery checks for every form the UI posts.
//!
//! - Signed in: a synchronizer token, random per session and stored with it, is put in
//!   each form and must come back with each POST.
//! - The sign-in form (no session yet): a double-submit token, a random value in an
//!   `HttpOnly` cookie of its own that the form repeats; another site can make a
//!   browser send the cookie but can neither read it nor set it, so it cannot fill in
//!   the form's copy.
//!
//! The session cookie's `SameSite=Lax` already keeps other sites' POSTs unsigned-in;
//! the tokens are the defence that does not depend on the browser.

use http::HeaderMap;
use sha2::{Digest, Sha256};

use super::session::{self, SignedIn, cookie_value};
use crate::error::Error;

/// The cookie carrying the sign-in form's token.
pub const LOGIN_COOKIE: &str = "wharf_login_csrf";

fn refused() -> Error {
    Error::Forbidden(
        "the form has expired or did not come from this site; reload the page and try again".into(),
    )
}

/// Whether `presented` is `expected`, without the time taken telling how much of it
/// matched: the digests of both are compared, so a timing difference says something
/// about a hash, nothing about the token.
fn same(expected: &str, presented: &str) -> bool {
    !expected.is_empty() && Sha256::digest(expected) == Sha256::digest(presented)
}

/// Checks a signed-in visitor's form token.
pub fn verify(session: &SignedIn, presented: &str) -> Result<(), Error> {
    if same(&session.csrf, presented) {
        Ok(())
    } else {
        Err(refused())
    }
}

/// The sign-in form's token: the one in the visitor's cookie, or a new one with the
/// `Set-Cookie` value that gives it to them.
pub fn login_token(headers: &HeaderMap, secure: bool) -> (String, Option<String>) {
    match cookie_value(headers, LOGIN_COOKIE).filter(|t| t.len() == 64) {
        Some(token) => (token, None),
        None => {
            let token = session::random_secret();
            let cookie = session::set_cookie(LOGIN_COOKIE, &token, secure, 3_600);
            (token, Some(cookie))
        }
    }
}

/// Checks the sign-in form's token against the visitor's cookie.
pub fn verify_login(headers: &HeaderMap, presented: &str) -> Result<(), Error> {
    match cookie_value(headers, LOGIN_COOKIE) {
        Some(expected) if same(&expected, presented) => Ok(()),
        _ => Err(refused()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(cookie: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::COOKIE, cookie.parse().unwrap());
        headers
    }

    #[test]
    fn only_the_token_that_was_handed_out_passes() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("", ""), "no token is never a match");
        let (token, cookie) = login_token(&HeaderMap::new(), false);
        let cookie = cookie.expect("a new visitor gets the cookie");
        assert!(cookie.starts_with(&format!("{LOGIN_COOKIE}={token}")));
        let sent = headers(&format!("{LOGIN_COOKIE}={token}"));
        assert_eq!(login_token(&sent, false), (token.clone(), None), "kept");
        assert!(verify_login(&sent, &token).is_ok());
        assert!(verify_login(&sent, "forged").is_err());
        assert!(
            verify_login(&HeaderMap::new(), &token).is_err(),
            "no cookie"
        );
    }
}
