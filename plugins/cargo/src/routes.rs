//! Which operation each cargo request is. The mount is the sparse index
//! (`sparse+{base}/`: `config.json` and the index files) and, below `api/v1/crates`,
//! the web API cargo's `dl` and `api` URLs point at, on Gitea's paths.

use wharf_plugin_sdk::{
    FileRef, IndexSpec, ListingSpec, Method, Operation, PackageRef, PluginError, Request, Route,
    Selector, VersionRef,
};

use crate::names;
use crate::render;

/// The upload params `parse-upload` receives: `action` is one of the three below, and
/// yank and unyank name their `version`.
pub const ACTION: &str = "action";
pub const VERSION: &str = "version";
pub const PUBLISH: &str = "publish";
pub const YANK: &str = "yank";
pub const UNYANK: &str = "unyank";

/// Yank and unyank carry no body; anything bigger than this is not one of them.
const MAX_YANK_BODY: u64 = 1024;

/// `cargo search` asks for 10 by default and at most 100 (crates.io's limit).
const DEFAULT_PER_PAGE: u32 = 10;
const MAX_PER_PAGE: u32 = 100;

pub fn match_route(request: &Request) -> Result<Route, PluginError> {
    let owner = request.mount_owner()?;
    let Some(segments) = request.segments() else {
        return Ok(Route::not_found());
    };
    let get = matches!(request.method, Method::Get | Method::Head);
    let route = match segments.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["config.json"] if get => Route::read(Operation::Respond(render::config(request))),
        ["api", "v1", "crates", ref rest @ ..] => return api_route(request, owner, rest),
        _ if get => match names::from_index_path(&segments) {
            Some(name) => Route::read(index(package(&owner, name), render::INDEX)),
            None => Route::not_found(),
        },
        _ => Route::not_found(),
    };
    Ok(route)
}

/// The web API below `/api/v1/crates`.
fn api_route(request: &Request, owner: String, rest: &[&str]) -> Result<Route, PluginError> {
    let route = match (&request.method, rest) {
        (Method::Get, []) => Route::read(search(request)),
        // The crate's name is in the body only: the plan names the package.
        (Method::Put, ["new"]) => Route::write(Operation::accept_upload(
            package(&owner, ""),
            &[(ACTION, PUBLISH)],
            0,
        )),
        (Method::Get | Method::Head, [name, version, "download"]) => {
            let pkg = crate_ref(&owner, name)?;
            let file = names::crate_file(name, version);
            Route::read(Operation::serve(Selector::File(FileRef {
                version: VersionRef {
                    pkg,
                    version: (*version).to_string(),
                },
                name: file,
            })))
        }
        (Method::Delete, [name, version, "yank"]) => {
            Route::write(yank(crate_ref(&owner, name)?, YANK, version))
        }
        (Method::Put, [name, version, "unyank"]) => {
            Route::write(yank(crate_ref(&owner, name)?, UNYANK, version))
        }
        (Method::Get, [name, "owners"]) => {
            Route::read(index(crate_ref(&owner, name)?, render::OWNERS))
        }
        (Method::Put | Method::Delete, [_, "owners"]) => {
            return Err(PluginError::bad_request(
                "crates here belong to the Wharf user or organization that holds them; \
                 add people to the organization instead of `cargo owner --add`",
            ));
        }
        _ => Route::not_found(),
    };
    Ok(route)
}

/// `GET /api/v1/crates?q=&per_page=[&page=]`: an owner-wide listing the host filters.
fn search(request: &Request) -> Operation {
    let number = |name| {
        request
            .query_param(name)
            .and_then(|v| v.parse::<u32>().ok())
    };
    let per_page = number("per_page")
        .unwrap_or(DEFAULT_PER_PAGE)
        .clamp(1, MAX_PER_PAGE);
    let page = number("page").unwrap_or(1).max(1);
    Operation::RenderIndex(IndexSpec {
        pkg: None,
        view: render::SEARCH.into(),
        params: Vec::new(),
        digest_of: None,
        listing: Some(ListingSpec {
            after: String::new(),
            filter: request
                .query_param("q")
                .unwrap_or_default()
                .trim()
                .to_string(),
            offset: (page - 1).saturating_mul(per_page),
            limit: per_page,
            // The newest version is not the highest one, nor maybe an unyanked one.
            all_versions: true,
        }),
    })
}

fn package(owner: &str, name: &str) -> PackageRef {
    PackageRef {
        owner: owner.to_string(),
        name: name.to_string(),
    }
}

/// A crate named in an API path, which must be a valid name.
fn crate_ref(owner: &str, name: &str) -> Result<PackageRef, PluginError> {
    names::validate(name)?;
    Ok(package(owner, name))
}

pub fn index(pkg: PackageRef, view: &str) -> Operation {
    Operation::RenderIndex(IndexSpec {
        pkg: Some(pkg),
        view: view.into(),
        params: Vec::new(),
        digest_of: None,
        listing: None,
    })
}

/// Yank and unyank go through `accept-upload` (with an empty body) because the host
/// changes version properties only as part of a publish plan.
fn yank(pkg: PackageRef, action: &str, version: &str) -> Operation {
    Operation::accept_upload(pkg, &[(ACTION, action), (VERSION, version)], MAX_YANK_BODY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_plugin_sdk::testing;
    use wharf_plugin_sdk::{Access, ServeSpec, params};

    fn request(method: Method, path: &str, query: &[(&str, &str)]) -> Request {
        let request =
            testing::request(method, path).with_base_url("http://h/api/packages/alice/cargo");
        query.iter().fold(request, |r, (k, v)| r.with_query(k, v))
    }

    fn route(method: Method, path: &str) -> Route {
        match_route(&request(method, path, &[])).unwrap()
    }

    #[test]
    fn index_files_render_the_crate() {
        for (path, name) in [
            ("/1/a", "a"),
            ("/3/s/syn", "syn"),
            ("/se/rd/serde_json", "serde_json"),
        ] {
            let r = route(Method::Get, path);
            assert_eq!(r.access, Access::Read);
            match r.operation {
                Operation::RenderIndex(spec) => {
                    assert_eq!(spec.pkg.unwrap().name, name);
                    assert_eq!(spec.view, render::INDEX);
                }
                other => panic!("{path}: {other:?}"),
            }
        }
        for path in ["/2/a", "/se/rd/tokio", "/", "/x"] {
            assert!(
                matches!(route(Method::Get, path).operation, Operation::NotFound),
                "{path}"
            );
        }
        assert!(matches!(
            route(Method::Put, "/1/a").operation,
            Operation::NotFound
        ));
    }

    #[test]
    fn config_json_is_readable_with_read_access() {
        let r = route(Method::Get, "/config.json");
        assert_eq!(r.access, Access::Read);
        let Operation::Respond(response) = r.operation else {
            panic!("{:?}", r.operation);
        };
        let body = String::from_utf8(response.body).unwrap();
        assert!(body.contains("\"dl\":\"http://h/api/packages/alice/cargo/api/v1/crates\""));
    }

    #[test]
    fn api_routes() {
        let r = route(Method::Put, "/api/v1/crates/new");
        assert_eq!(r.access, Access::Write);
        let Operation::AcceptUpload(u) = r.operation else {
            panic!("{:?}", r.operation);
        };
        assert_eq!(u.pkg.name, "", "the body names the crate");
        assert_eq!(u.params, params::owned(&[("action", "publish")]));

        let r = route(Method::Get, "/api/v1/crates/foo/1.0.0/download");
        assert_eq!(r.access, Access::Read);
        match r.operation {
            Operation::Serve(ServeSpec {
                selector: Selector::File(f),
                digest_of: None,
            }) => {
                assert_eq!(f.name, "foo-1.0.0.crate");
                assert_eq!(f.version.version, "1.0.0");
            }
            other => panic!("{other:?}"),
        }

        let r = route(Method::Delete, "/api/v1/crates/foo/1.0.0/yank");
        assert_eq!(r.access, Access::Write);
        let yank_params = |action| params::owned(&[("action", action), ("version", "1.0.0")]);
        assert!(
            matches!(r.operation, Operation::AcceptUpload(ref u) if u.params == yank_params("yank") && u.pkg.name == "foo")
        );
        let r = route(Method::Put, "/api/v1/crates/foo/1.0.0/unyank");
        assert!(
            matches!(r.operation, Operation::AcceptUpload(ref u) if u.params == yank_params("unyank"))
        );

        let r = route(Method::Get, "/api/v1/crates/foo/owners");
        assert!(matches!(r.operation, Operation::RenderIndex(ref s) if s.view == render::OWNERS));

        let e = match_route(&request(Method::Put, "/api/v1/crates/foo/owners", &[])).unwrap_err();
        assert_eq!(e.status, 400);
        let e = match_route(&request(Method::Get, "/api/v1/crates/1x/owners", &[])).unwrap_err();
        assert_eq!(e.status, 400);
        assert!(matches!(
            route(Method::Post, "/api/v1/crates/new").operation,
            Operation::NotFound
        ));
    }

    #[test]
    fn search_pages_through_an_owner_listing() {
        let r = match_route(&request(
            Method::Get,
            "/api/v1/crates",
            &[("q", " ser "), ("per_page", "500"), ("page", "3")],
        ))
        .unwrap();
        match r.operation {
            Operation::RenderIndex(spec) => {
                let listing = spec.listing.unwrap();
                assert_eq!(listing.filter, "ser");
                assert_eq!((listing.offset, listing.limit), (200, 100));
                assert!(listing.all_versions);
            }
            other => panic!("{other:?}"),
        }
        let r = route(Method::Get, "/api/v1/crates");
        match r.operation {
            Operation::RenderIndex(spec) => assert_eq!(spec.listing.unwrap().limit, 10),
            other => panic!("{other:?}"),
        }
    }
}
