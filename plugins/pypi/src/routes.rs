//! Which operation each request is, from the request alone.
//!
//! Below `/api/packages/{owner}/pypi` (Gitea's paths, plus what Gitea lacks):
//!
//! | Request | Operation |
//! |---|---|
//! | `POST /` | twine's upload (`accept-upload`) |
//! | `GET /simple/` | the projects the caller may read (PEP 503 / 691) |
//! | `GET /simple/{name}/` | a project's files; a non-normalized name redirects |
//! | `GET /files/{name}/{version}/{file}` | a distribution, or a wheel's `.metadata` |
//! | `DELETE /files/{name}/{version}` | delete a version and its files |
//! | `POST /yank/{name}/{version}`, `DELETE …` | yank, unyank (see [`crate::yank`]) |

use wharf_plugin_sdk::{
    DeleteTarget, FileRef, IndexSpec, Method, Operation, PackageRef, PluginError, Request,
    Response, Route, Selector, VersionRef, params,
};

use crate::accept::{self, Flavor};
use crate::{names, version, yank};

/// Index views, as `render-index` receives them; the [`FLAVOR`] param names the
/// [`Flavor`].
pub mod view {
    /// `/simple/`: every readable project.
    pub const PROJECTS: &str = "projects";
    /// `/simple/{name}/`: one project's files.
    pub const PROJECT: &str = "project";
}

/// The index param naming the page's [`Flavor`]: what `Accept` and `?format=` chose,
/// put into the spec because it is part of the cache key.
pub const FLAVOR: &str = "flavor";

/// The upload param saying which upload a request is: [`UPLOAD`] or one of the
/// yank actions of [`yank`], which also name the [`VERSION`].
pub const ACTION: &str = "action";
pub const VERSION: &str = "version";
/// The action of twine's uploads.
pub const UPLOAD: &str = "upload";

pub fn match_route(request: &Request) -> Result<Route, PluginError> {
    let owner = request.mount_owner()?;
    let Some(mut segments) = request.segments() else {
        return Err(PluginError::bad_request("malformed path"));
    };
    // `/simple/` and `/simple` are one page, as are `/simple/{name}/` and Gitea's form.
    if segments.last().is_some_and(String::is_empty) {
        segments.pop();
    }
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let get = matches!(request.method, Method::Get | Method::Head);
    let route = match (&request.method, segments.as_slice()) {
        // The project is only known from the form inside the body.
        (Method::Post, []) => Route::write(Operation::accept_upload(
            package(&owner, ""),
            &[(ACTION, UPLOAD)],
            0,
        )),
        (_, ["simple"]) if get => index(&owner, None, view::PROJECTS, request),
        (_, ["simple", name]) if get => match names::normalized(name) {
            Some(normalized) if normalized == *name => {
                index(&owner, Some(name), view::PROJECT, request)
            }
            // pip normalizes names itself; other clients are sent to the one URL.
            Some(normalized) => Route::read(Operation::Respond(
                Response::new(301, "text/plain", Vec::new()).header(
                    "location",
                    format!("{}/simple/{normalized}/", request.base_url),
                ),
            )),
            None => Route::not_found(),
        },
        (_, ["files", name, version, file]) if get => match version_ref(&owner, name, version) {
            Some(version) => Route::read(Operation::serve(Selector::File(FileRef {
                version,
                name: file.to_string(),
            }))),
            None => Route::not_found(),
        },
        (Method::Delete, ["files", name, version]) => match version_ref(&owner, name, version) {
            Some(version) => Route::write(Operation::Delete(DeleteTarget::Version(version))),
            None => Route::not_found(),
        },
        (Method::Post | Method::Delete, ["yank", name, version]) => {
            let Some(version) = version_ref(&owner, name, version) else {
                return Ok(Route::not_found());
            };
            let action = match request.method {
                Method::Post => yank::YANK,
                _ => yank::UNYANK,
            };
            Route::write(Operation::accept_upload(
                version.pkg,
                &[(ACTION, action), (VERSION, &version.version)],
                yank::MAX_REASON,
            ))
        }
        (_, ["simple"] | ["simple", _] | ["files", _, _, _] | ["files", _, _] | ["yank", _, _])
        | (_, []) => return Err(PluginError::new(405, "method not allowed")),
        _ => Route::not_found(),
    };
    Ok(route)
}

fn package(owner: &str, name: &str) -> PackageRef {
    PackageRef {
        owner: owner.to_string(),
        name: name.to_string(),
    }
}

/// A version named in a path, in the stored form (normalized name and version).
fn version_ref(owner: &str, name: &str, version: &str) -> Option<VersionRef> {
    Some(VersionRef {
        pkg: package(owner, &names::normalized(name)?),
        version: version::normalize(version)?,
    })
}

fn index(owner: &str, name: Option<&str>, view: &str, request: &Request) -> Route {
    let flavor: Flavor = accept::choose(request.query_param("format"), request.header("accept"));
    Route::read(Operation::RenderIndex(IndexSpec {
        pkg: name.map(|n| package(owner, n)),
        view: view.into(),
        params: params::owned(&[(FLAVOR, flavor.as_str())]),
        digest_of: None,
        listing: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_plugin_sdk::testing;
    use wharf_plugin_sdk::{Access, ServeSpec};

    fn request(method: Method, path: &str, headers: &[(&str, &str)]) -> Request {
        let request =
            testing::request(method, path).with_base_url("http://x/api/packages/alice/pypi");
        headers
            .iter()
            .fold(request, |r, (k, v)| r.with_header(k, v))
    }

    fn route(method: Method, path: &str) -> Route {
        match_route(&request(method, path, &[])).expect("a route")
    }

    #[test]
    fn uploads_go_to_the_mount_root() {
        for path in ["/", ""] {
            let r = route(Method::Post, path);
            assert_eq!(r.access, Access::Write);
            match r.operation {
                Operation::AcceptUpload(u) => {
                    assert_eq!((u.pkg.owner.as_str(), u.pkg.name.as_str()), ("alice", ""));
                    assert_eq!(u.params, params::owned(&[("action", "upload")]));
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn simple_pages_negotiate_their_flavor() {
        let json = [("accept", "application/vnd.pypi.simple.v1+json")];
        for (path, headers, view, flavor, pkg) in [
            ("/simple/", &[][..], view::PROJECTS, "html", None),
            ("/simple", &json[..], view::PROJECTS, "json", None),
            (
                "/simple/wharf-base/",
                &[][..],
                view::PROJECT,
                "html",
                Some("wharf-base"),
            ),
            (
                "/simple/wharf-base",
                &json[..],
                view::PROJECT,
                "json",
                Some("wharf-base"),
            ),
        ] {
            let r = match_route(&request(Method::Get, path, headers)).unwrap();
            assert_eq!(r.access, Access::Read, "{path}");
            let Operation::RenderIndex(spec) = r.operation else {
                panic!("{path}: not an index");
            };
            assert_eq!(spec.view, view, "{path}");
            assert_eq!(spec.params, params::owned(&[("flavor", flavor)]), "{path}");
            assert_eq!(spec.pkg.map(|p| p.name).as_deref(), pkg, "{path}");
        }
    }

    #[test]
    fn unnormalized_project_names_redirect_and_invalid_ones_are_missing() {
        let r = route(Method::Get, "/simple/Wharf_Base/");
        let Operation::Respond(response) = r.operation else {
            panic!("a redirect");
        };
        assert_eq!(response.status, 301);
        assert_eq!(
            response.headers,
            [(
                "location".to_string(),
                "http://x/api/packages/alice/pypi/simple/wharf-base/".to_string()
            )]
        );
        assert!(matches!(
            route(Method::Get, "/simple/-bad-/").operation,
            Operation::NotFound
        ));
    }

    #[test]
    fn files_are_addressed_by_normalized_name_and_version() {
        let r = route(
            Method::Get,
            "/files/Wharf_Base/1.0.0-RC1/wharf_base-1.0.0rc1.tar.gz",
        );
        let Operation::Serve(ServeSpec {
            selector: Selector::File(f),
            digest_of: None,
        }) = r.operation
        else {
            panic!("a file");
        };
        assert_eq!(f.version.pkg.name, "wharf-base");
        assert_eq!(f.version.version, "1.0.0rc1");
        assert_eq!(f.name, "wharf_base-1.0.0rc1.tar.gz");
        assert!(matches!(
            route(Method::Get, "/files/x/notaversion/x.whl").operation,
            Operation::NotFound
        ));
        let r = route(Method::Delete, "/files/Wharf.Base/1.0");
        assert_eq!(r.access, Access::Write);
        assert!(
            matches!(r.operation, Operation::Delete(DeleteTarget::Version(v)) if v.pkg.name == "wharf-base" && v.version == "1.0")
        );
    }

    #[test]
    fn yanks_are_small_uploads_naming_the_version() {
        for (method, action) in [(Method::Post, "yank"), (Method::Delete, "unyank")] {
            let r = route(method, "/yank/Wharf_Base/1.1.0");
            assert_eq!(r.access, Access::Write);
            let Operation::AcceptUpload(u) = r.operation else {
                panic!("an upload");
            };
            assert_eq!(u.pkg.name, "wharf-base");
            assert_eq!(
                u.params,
                params::owned(&[("action", action), ("version", "1.1.0")])
            );
            assert_eq!(u.max_size, yank::MAX_REASON);
        }
    }

    #[test]
    fn other_methods_and_paths() {
        for (method, path) in [
            (Method::Put, "/"),
            (Method::Delete, "/simple/x/"),
            (Method::Put, "/files/x/1.0/x-1.0.tar.gz"),
        ] {
            let err = match_route(&request(method, path, &[])).unwrap_err();
            assert_eq!(err.status, 405, "{path}");
        }
        for path in ["/nope", "/simple/a/b", "/files/x"] {
            assert!(
                matches!(route(Method::Get, path).operation, Operation::NotFound),
                "{path}"
            );
        }
    }
}
