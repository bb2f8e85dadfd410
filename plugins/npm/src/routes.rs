//! Which operation each npm request is. Paths arrive still percent-encoded, so the
//! three spellings of a scoped name (`@s%2fn`, `@s%2Fn`, `@s/n`) all reach one package.

use serde_json::json;
use wharf_plugin_sdk::{
    DeleteTarget, FileRef, IndexSpec, Method, Operation, PackageFile, PackageRef, PluginError,
    ReplyTemplate, Request, Response, Route, Selector, TagRef, TokenRequest, VersionRef,
};

use crate::names;
use crate::render::ABBREVIATED;

/// A dist-tag body is one JSON string; anything longer is not one.
const MAX_TAG_BODY: u64 = 4096;

/// Upload parameter: which upload this is, [`PUBLISH`], [`UPDATE`] or [`DIST_TAG`].
pub const KIND: &str = "kind";
pub const PUBLISH: &str = "publish";
pub const UPDATE: &str = "update";
pub const DIST_TAG: &str = "dist-tag";
/// Upload parameter of a [`DIST_TAG`] upload: the tag the path names.
pub const TAG: &str = "tag";

/// The index views: what `render-index` renders for a hosted owner and `rewrite`
/// makes of an upstream document for a proxy.
pub mod view {
    /// The full packument (`npm view`, `npm publish` checks).
    pub const PACKUMENT: &str = "packument";
    /// The abbreviated packument installs ask for (`Accept: application/vnd.npm.install-v1+json`).
    pub const ABBREVIATED: &str = "abbreviated";
    /// One version, by number or tag (`/{pkg}/{version-or-tag}`).
    pub const VERSION: &str = "version";
    pub const DIST_TAGS: &str = "dist-tags";
    /// `npm search` results (an owner-wide listing).
    pub const SEARCH: &str = "search";
}

/// Index parameter of the `version` view: the version or tag the path names.
pub const VERSION: &str = "version";

/// What npm reads after a write the host executes: any JSON object.
fn ok() -> ReplyTemplate {
    ReplyTemplate::json(r#"{"ok":true}"#)
}

pub fn match_route(request: &Request) -> Result<Route, PluginError> {
    let owner = request.mount_owner()?;
    let raw: Vec<&str> = request
        .path
        .trim_start_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    if raw.first() == Some(&"-") {
        return registry_route(request, &owner, &raw[1..]);
    }
    let Some((name, rest)) = names::split_package(&raw)? else {
        return Ok(Route::not_found());
    };
    let pkg = PackageRef { owner, name };
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    package_route(request, pkg, &rest)
}

/// Routes below `/{pkg}`.
fn package_route(request: &Request, pkg: PackageRef, rest: &[&str]) -> Result<Route, PluginError> {
    let method = &request.method;
    let route = match (method, rest) {
        (Method::Get | Method::Head, []) => {
            let install = request
                .header("accept")
                .is_some_and(|a| a.contains(ABBREVIATED))
                && request.query_param("write") != Some("true");
            Route::read(index(
                &pkg,
                if install {
                    view::ABBREVIATED
                } else {
                    view::PACKUMENT
                },
                &[],
            ))
        }
        (Method::Put, []) => Route::write(Operation::accept_upload(pkg, &[(KIND, PUBLISH)], 0)),
        (Method::Put, ["-rev", _]) => {
            Route::write(Operation::accept_upload(pkg, &[(KIND, UPDATE)], 0))
        }
        (Method::Delete, ["-rev", _]) => {
            Route::write(Operation::Delete(DeleteTarget::Package(pkg))).reply(ok())
        }
        // Wharf names tarballs `{name}-{version}.tgz`, so the version is in the URL and
        // the host can look the file up directly; other names are searched across versions.
        (Method::Get | Method::Head, ["-", file]) => {
            match names::version_of_tarball(&pkg.name, file) {
                Some(version) => Route::read(Operation::serve(Selector::File(FileRef {
                    version: VersionRef {
                        pkg: pkg.clone(),
                        version: version.to_string(),
                    },
                    name: file.to_ascii_lowercase(),
                }))),
                None => Route::read(Operation::serve(Selector::PackageFile(PackageFile {
                    pkg,
                    name: file.to_ascii_lowercase(),
                }))),
            }
        }
        (Method::Get | Method::Head, ["-", version, file]) => {
            Route::read(Operation::serve(Selector::File(FileRef {
                version: VersionRef {
                    pkg,
                    version: (*version).to_string(),
                },
                name: file.to_ascii_lowercase(),
            })))
        }
        (Method::Delete, ["-", file] | ["-", file, "-rev", _]) => {
            let Some(version) = names::version_of_tarball(&pkg.name, file) else {
                return Ok(Route::not_found());
            };
            let version = version.to_string();
            Route::write(Operation::Delete(DeleteTarget::Version(VersionRef {
                pkg,
                version,
            })))
            .reply(ok())
        }
        (Method::Delete, ["-", version, _] | ["-", version, _, "-rev", _]) => {
            let version = (*version).to_string();
            Route::write(Operation::Delete(DeleteTarget::Version(VersionRef {
                pkg,
                version,
            })))
            .reply(ok())
        }
        (Method::Get | Method::Head, [version_or_tag]) => {
            Route::read(index(&pkg, view::VERSION, &[(VERSION, version_or_tag)]))
        }
        _ => Route::not_found(),
    };
    Ok(route)
}

/// Routes below `/-/`: the registry's own endpoints.
fn registry_route(request: &Request, owner: &str, rest: &[&str]) -> Result<Route, PluginError> {
    let method = &request.method;
    let route = match (method, rest) {
        (Method::Get | Method::Head, ["ping"]) => Route::public(respond(json!({}))),
        (Method::Get, ["whoami"]) => {
            Route::authenticated(respond(json!({ "username": request.user })))
        }
        (Method::Get, ["v1", "search"]) => Route::read(Operation::RenderIndex(IndexSpec {
            pkg: None,
            view: view::SEARCH.into(),
            params: crate::search::params(request),
            digest_of: None,
            listing: None,
        })),
        (_, ["package", tail @ ..]) => return dist_tag_route(request, owner, tail),
        (_, ["user", user, tail @ ..]) => return user_route(request, user, tail),
        _ => Route::not_found(),
    };
    Ok(route)
}

/// `/-/package/{pkg}/dist-tags[/{tag}]`.
fn dist_tag_route(request: &Request, owner: &str, tail: &[&str]) -> Result<Route, PluginError> {
    let Some((name, rest)) = names::split_package(tail)? else {
        return Ok(Route::not_found());
    };
    let pkg = PackageRef {
        owner: owner.to_string(),
        name,
    };
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    let route = match (&request.method, rest.as_slice()) {
        (Method::Get, ["dist-tags"]) => Route::read(index(&pkg, view::DIST_TAGS, &[])),
        (Method::Put | Method::Post, ["dist-tags", tag]) => {
            names::validate_tag(tag)?;
            Route::write(Operation::accept_upload(
                pkg,
                &[(KIND, DIST_TAG), (TAG, tag)],
                MAX_TAG_BODY,
            ))
        }
        (Method::Delete, ["dist-tags", tag]) => {
            Route::write(Operation::Delete(DeleteTarget::Tag(TagRef {
                pkg,
                tag: (*tag).to_string(),
            })))
            .reply(ok())
        }
        _ => Route::not_found(),
    };
    Ok(route)
}

/// The CouchDB user document npm's legacy login uses. Passwords never reach the
/// plugin: the first PUT (carrying the password in its body) gets a 409, which makes
/// npm fetch the document and retry with HTTP Basic, checked by the host.
fn user_route(request: &Request, user: &str, tail: &[&str]) -> Result<Route, PluginError> {
    let Some(name) = wharf_plugin_sdk::percent_decode(user)
        .and_then(|u| u.strip_prefix("org.couchdb.user:").map(str::to_string))
    else {
        return Ok(Route::not_found());
    };
    let route = match (&request.method, tail) {
        // CouchDB's sign-up. Wharf has none, and routing cannot know whether `name`
        // exists. `npm adduser` (which says so in `npm-command`) is told so; a login
        // (npm, pnpm, yarn) needs the 409 to go on to `-rev` with the password.
        (Method::Put, []) => {
            let no_sign_up = format!(
                "Wharf has no self sign-up: an administrator creates accounts \
                 (`wharf user create {name}`)"
            );
            if request.header("npm-command") == Some("adduser") {
                return Err(PluginError::new(
                    403,
                    format!("{no_sign_up}; an existing user signs in with `npm login`"),
                ));
            }
            return Err(PluginError::conflict(format!(
                "{no_sign_up}; an existing user signs in with its password or a token"
            )));
        }
        (Method::Get, []) => Route::public(respond(json!({
            "_id": format!("org.couchdb.user:{name}"),
            "name": name,
            "type": "user",
            "roles": [],
            "_rev": "1-wharf",
        }))),
        (Method::Put, ["-rev", _]) => {
            let reply = ReplyTemplate::new(
                201,
                "application/json",
                &json!({
                    "ok": true,
                    "id": format!("org.couchdb.user:{name}"),
                    "rev": "1-wharf",
                    "token": "{token}",
                })
                .to_string(),
            );
            Route::public(Operation::IssueToken(TokenRequest {
                name: "npm login".into(),
                persistent: true,
                user: Some(name),
            }))
            .reply(reply)
        }
        _ => Route::not_found(),
    };
    Ok(route)
}

/// The `render-index` operation of a package's `view`.
pub fn index(pkg: &PackageRef, view: &str, params: &[(&str, &str)]) -> Operation {
    Operation::RenderIndex(IndexSpec {
        pkg: Some(pkg.clone()),
        view: view.into(),
        params: wharf_plugin_sdk::params::owned(params),
        digest_of: None,
        listing: None,
    })
}

fn respond(body: serde_json::Value) -> Operation {
    Operation::Respond(Response::json(body.to_string()))
}

#[cfg(test)]
mod tests {
    use wharf_plugin_sdk::testing::request;
    use wharf_plugin_sdk::{Access, UploadSpec, params};

    use super::*;

    fn route(method: Method, path: &str) -> Route {
        match_route(&request(method, path)).expect("route")
    }

    fn spec(route: Route) -> IndexSpec {
        match route.operation {
            Operation::RenderIndex(spec) => spec,
            other => panic!("expected an index, got {other:?}"),
        }
    }

    fn upload(route: Route) -> UploadSpec {
        assert_eq!(route.access, Access::Write);
        match route.operation {
            Operation::AcceptUpload(spec) => spec,
            other => panic!("expected an upload, got {other:?}"),
        }
    }

    #[test]
    fn the_version_view_names_its_version_or_tag_as_a_param() {
        let one = spec(route(Method::Get, "/@s%2fapp/1.0.0"));
        assert_eq!(one.view, "version");
        assert_eq!(one.pkg.map(|p| p.name).as_deref(), Some("@s/app"));
        assert_eq!(one.params, params::owned(&[(VERSION, "1.0.0")]));
        let tagged = spec(route(Method::Get, "/app/latest"));
        assert_eq!(tagged.params, params::owned(&[(VERSION, "latest")]));
        // The whole document needs no parameter.
        assert!(spec(route(Method::Get, "/app")).params.is_empty());
    }

    #[test]
    fn uploads_say_what_they_are_in_params() {
        let publish = upload(route(Method::Put, "/app"));
        assert_eq!(publish.params, params::owned(&[(KIND, PUBLISH)]));
        let update = upload(route(Method::Put, "/app/-rev/3-abc"));
        assert_eq!(update.params, params::owned(&[(KIND, UPDATE)]));
        let tag = upload(route(Method::Put, "/-/package/app/dist-tags/beta"));
        assert_eq!(
            tag.params,
            params::owned(&[(KIND, DIST_TAG), (TAG, "beta")])
        );
        assert_eq!(tag.max_size, MAX_TAG_BODY);
    }

    #[test]
    fn tarballs_are_served_by_version_or_by_name() {
        let served = |path| match route(Method::Get, path).operation {
            Operation::Serve(spec) => spec.selector,
            other => panic!("expected a serve, got {other:?}"),
        };
        assert!(matches!(served("/app/-/app-1.0.0.tgz"),
            Selector::File(f) if f.version.version == "1.0.0" && f.name == "app-1.0.0.tgz"));
        assert!(matches!(served("/app/-/Other.tgz"),
            Selector::PackageFile(f) if f.pkg.name == "app" && f.name == "other.tgz"));
    }
}
