//! The UI through the whole router, in process: what a visitor sees and may not see,
//! escaping of package-supplied names, and the forms' session and CSRF checks.

use axum::body::Body;
use http::{Response, StatusCode, header};

use crate::db::owners::{self, OwnerKind};
use crate::db::packages::fixture::Pkg;
use crate::db::tokens::Scope;
use crate::registry::testing::TestRegistry;

const HOSTILE: &str = "<img src=x onerror=alert(1)>";

/// alice (public) with `widget` and a package named like markup, and the private
/// organization `vault` with `secret-lib`.
fn setup() -> TestRegistry {
    let t = TestRegistry::open();
    t.user("alice", Scope::Write);
    t.registry
        .db
        .write_sync(|tx| {
            let alice = owners::by_name(tx, "alice")?.unwrap().id;
            let vault = owners::create(tx, "vault", OwnerKind::Org, None, false, true)?;
            Pkg::new(alice, "generic", "widget").put(tx, "1.0", "w.txt", b"w");
            Pkg::new(alice, "generic", HOSTILE).put(tx, "1", "h.txt", b"h");
            Pkg::new(vault, "generic", "secret-lib").put(tx, "1", "s.txt", b"s");
            Ok(())
        })
        .unwrap();
    t
}

async fn get(t: &TestRegistry, path: &str, cookie: Option<&str>) -> Response<Body> {
    let mut request = TestRegistry::request("GET", path, None);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    t.send(request.body(Body::empty()).unwrap()).await
}

async fn post(t: &TestRegistry, path: &str, cookie: &str, form: &str) -> Response<Body> {
    let request = TestRegistry::request("POST", path, None)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form.to_string()))
        .unwrap();
    t.send(request).await
}

/// The first form token in a page.
fn csrf_of(html: &str) -> String {
    let start = html.find(r#"name="csrf" value=""#).expect("a form token") + 19;
    html[start..start + 64].to_string()
}

/// `name=value` of the response's cookie `name`.
fn cookie(response: &Response<Body>, name: &str) -> String {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .unwrap_or_else(|| panic!("no {name} cookie"))
        .to_string()
}

// Guards privacy and escaping: a visitor's home lists public packages only (and counts
// only those), a private owner's pages are 404 like a missing one, and a name that is
// markup is shown as text. Every page carries the CSP that runs the site's script file
// and nothing else.
#[tokio::test]
async fn visitors_see_public_packages_only_and_names_as_text() {
    let t = setup();
    let home = get(&t, "/", None).await;
    assert_eq!(home.status(), StatusCode::OK);
    let csp = home.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe"),
        "the site's own script file only: {csp}"
    );
    let html = TestRegistry::text(home).await;
    assert!(
        html.contains("widget") && html.contains("2 packages"),
        "{html}"
    );
    assert!(!html.contains("secret-lib"), "{html}");
    assert!(!html.contains(HOSTILE), "markup escaped");
    assert!(html.contains("&#60;img src=x onerror=alert(1)&#62;") || html.contains("&lt;img"));

    let searched = TestRegistry::text(get(&t, "/?q=secret", None).await).await;
    assert!(searched.contains("0 packages"), "{searched}");
    for path in [
        "/-/owners/vault",
        "/-/packages/vault/generic/secret-lib",
        "/-/owners/nobody",
    ] {
        let response = get(&t, path, None).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let page = get(&t, "/-/packages/alice/generic/widget", None).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = TestRegistry::text(page).await;
    assert!(page.contains("w.txt") && page.contains(&crate::db::packages::fixture::sha256(b"w")));
    let css = get(&t, "/-/static/wharf.css", None).await;
    assert_eq!(
        css.headers()[header::CONTENT_TYPE],
        "text/css; charset=utf-8"
    );
    let script = get(&t, "/-/static/wharf.js", None).await;
    assert_eq!(
        script.headers()[header::CONTENT_TYPE],
        "text/javascript; charset=utf-8"
    );
    assert!(!html.contains("<script>"), "no inline script");
}

// Guards the forms: sign-in needs the login cookie's token, a session then sees the
// private owner and its tokens page, token creation and sign-out need the session's
// token, and a signed-out cookie is anonymous again.
#[tokio::test]
async fn forms_need_their_tokens_and_sessions_end_at_sign_out() {
    let t = setup();
    let form = get(&t, "/-/sign-in", None).await;
    let login_cookie = cookie(&form, "wharf_login_csrf");
    let token = csrf_of(&TestRegistry::text(form).await);
    let credentials = "user=alice&password=alice-password";
    let forged = post(&t, "/-/sign-in", &login_cookie, credentials).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN, "no form token");
    let wrong = format!("user=alice&password=nope-nope&csrf={token}");
    let refused = post(&t, "/-/sign-in", &login_cookie, &wrong).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let good = format!("{credentials}&csrf={token}");
    let signed_in = post(&t, "/-/sign-in", &login_cookie, &good).await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let set = signed_in
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .count();
    assert_eq!(set, 2, "the session's cookie, and the login cookie removed");
    let session = cookie(&signed_in, "wharf_session");
    let raw = signed_in.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(
        raw.contains("HttpOnly") && raw.contains("SameSite=Lax"),
        "{raw}"
    );

    // alice is no member of vault, so it stays hidden even signed in.
    let vault = get(&t, "/-/owners/vault", Some(&session)).await;
    assert_eq!(vault.status(), StatusCode::NOT_FOUND);
    let page = TestRegistry::text(get(&t, "/-/tokens", Some(&session)).await).await;
    let csrf = csrf_of(&page);
    let no_token = post(&t, "/-/tokens", &session, "name=ci&scope=read&expires=30").await;
    assert_eq!(no_token.status(), StatusCode::FORBIDDEN);
    let made = format!("name=ci&scope=read&expires=30&csrf={csrf}");
    let created = post(&t, "/-/tokens", &session, &made).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    assert!(TestRegistry::text(created).await.contains("wharf_"));
    let again = post(&t, "/-/tokens", &session, &made).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST, "names are unique");
    let users = get(&t, "/-/admin/users", Some(&session)).await;
    assert_eq!(users.status(), StatusCode::FORBIDDEN, "alice is no admin");

    let out = post(&t, "/-/sign-out", &session, &format!("csrf={csrf}")).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let after = get(&t, "/-/tokens", Some(&session)).await;
    assert_eq!(
        after.status(),
        StatusCode::UNAUTHORIZED,
        "the session is gone"
    );
}
