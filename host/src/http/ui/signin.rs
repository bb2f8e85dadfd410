//! Signing in with a user name and password, and signing out. The password goes
//! through `auth::Passwords` like every Basic password (bounded argon2, failed-login
//! limits per name and address, answered 429), and a failure is logged like a refused
//! `Authorization` header. A token is not a password here: a leaked token must not
//! open a session that can mint more tokens.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, StatusCode, header};
use serde::Deserialize;

use super::csrf;
use super::render::{self, Chrome};
use super::session::{self, Visitor};
use crate::auth::{Checked, Credentials};
use crate::error::Error;
use crate::registry::Registry;

#[derive(Template)]
#[template(path = "ui/sign_in.html")]
struct SignInPage<'a> {
    chrome: Chrome,
    csrf: &'a str,
    user: &'a str,
    problem: Option<String>,
}

/// Whether cookies must be `Secure`: the public URL is https.
pub fn secure(registry: &Registry) -> bool {
    registry.public_url.starts_with("https://")
}

/// The sign-in form with `status`, its token (and the cookie that carries it).
fn form(
    registry: &Registry,
    visitor: &Visitor,
    headers: &HeaderMap,
    status: StatusCode,
    user: &str,
    problem: Option<String>,
) -> Response {
    let (token, cookie) = csrf::login_token(headers, secure(registry));
    let page = SignInPage {
        chrome: Chrome::of(visitor),
        csrf: &token,
        user,
        problem,
    };
    let mut response = render::page(status, &page);
    if let Some(value) = cookie.and_then(|c| c.parse().ok()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

pub async fn show(
    State(registry): State<Arc<Registry>>,
    visitor: Visitor,
    headers: HeaderMap,
) -> Response {
    if visitor.session.is_some() {
        return render::see_other("/", &[]);
    }
    form(&registry, &visitor, &headers, StatusCode::OK, "", None)
}

#[derive(Deserialize)]
pub struct SignInForm {
    user: String,
    password: String,
    #[serde(default)]
    csrf: String,
}

pub async fn sign_in(
    State(registry): State<Arc<Registry>>,
    visitor: Visitor,
    headers: HeaderMap,
    extensions: http::Extensions,
    Form(input): Form<SignInForm>,
) -> Response {
    if let Err(e) = csrf::verify_login(&headers, &input.csrf) {
        return render::error(&visitor, e);
    }
    let user = input.user.trim().to_string();
    let credentials = Credentials::Basic {
        user: user.clone(),
        secret: input.password,
    };
    let checked = registry
        .passwords
        .check(&registry.db, credentials, super::super::peer(&extensions))
        .await;
    let problem = match checked {
        Ok(Checked::Password { user_id, phc }) => {
            return match session::start(&registry, user_id, &phc).await {
                Ok(secret) => {
                    let secure = secure(&registry);
                    let cookies = [
                        session::set_cookie(
                            session::COOKIE,
                            &secret,
                            secure,
                            session::LIFETIME_SECS,
                        ),
                        session::set_cookie(csrf::LOGIN_COOKIE, "", secure, 0),
                    ];
                    render::see_other("/", &cookies)
                }
                Err(e) => render::error(&visitor, e),
            };
        }
        Ok(_) => "sign in with your password; tokens are for clients".to_string(),
        Err(Error::Unauthorized(_)) => "invalid user name or password".to_string(),
        Err(e) => return render::error(&visitor, e),
    };
    let refused = Credentials::Basic {
        user: user.clone(),
        secret: String::new(),
    };
    super::super::log::login_failed(&refused, "invalid password (web sign-in)");
    form(
        &registry,
        &visitor,
        &headers,
        StatusCode::UNAUTHORIZED,
        &user,
        Some(problem),
    )
}

#[derive(Deserialize)]
pub struct Posted {
    #[serde(default)]
    pub csrf: String,
}

pub async fn sign_out(
    State(registry): State<Arc<Registry>>,
    visitor: Visitor,
    Form(input): Form<Posted>,
) -> Response {
    let result = async {
        let session = visitor.signed_in()?;
        csrf::verify(session, &input.csrf)?;
        session::end(&registry, session).await
    }
    .await;
    match result {
        Ok(()) => {
            let gone = session::set_cookie(session::COOKIE, "", secure(&registry), 0);
            render::see_other("/", &[gone])
        }
        Err(e) => render::error(&visitor, e),
    }
}
