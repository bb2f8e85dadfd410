//! The generic format: arbitrary files grouped as `{name}/{version}/{filename}`,
//! wire-compatible with Gitea's generic package registry.
//!
//! Routes (below `/api/packages/{owner}/generic`):
//! `PUT|GET|HEAD|DELETE /{name}/{version}/{file}` and `DELETE /{name}/{version}`.
//!
//! Proxies (issue 21): a file missing from a proxy is fetched from the same path below
//! the upstream's URL (another Wharf's or Gitea's generic mount, or any server laid
//! out as `{name}/{version}/{file}`), with no digest to check: the format has no
//! metadata that would state one. There are no documents, so nothing to rewrite or
//! merge: a group serves each file from its first member that has it.
//!
//! Pages (`pages.rs`): curl commands, and a README the publisher uploaded as a file.

mod pages;

use wharf_plugin_sdk::upstream::upstream_get;
use wharf_plugin_sdk::{
    DeleteTarget, Descriptor, FetchPlan, FileRef, FileSource, IndexInput, Method, Operation,
    PackageRef, PlanFile, PlanVersion, Plugin, PluginError, Proxy, PublishPlan, Request, Response,
    RewriteInput, Rewritten, Route, Selector, ServeSpec, Upload, UploadSpec, VersionMode,
    VersionRef, params,
};

struct Generic;

impl Plugin for Generic {
    fn describe() -> Descriptor {
        Descriptor::basic("generic")
    }

    fn match_route(request: Request) -> Result<Route, PluginError> {
        let owner = request.mount_owner()?;
        let Some(segments) = request.segments() else {
            return Err(PluginError::bad_request("invalid percent-encoding in path"));
        };
        match segments.as_slice() {
            [name, version, file] => {
                let file = file_ref(&owner, name, version, file)?;
                match request.method {
                    Method::Get | Method::Head => {
                        Ok(Route::read(Operation::serve(Selector::File(file))))
                    }
                    Method::Put => Ok(Route::write(Operation::accept_upload(
                        file.version.pkg,
                        &[("version", &file.version.version), ("file", &file.name)],
                        0,
                    ))),
                    Method::Delete => Ok(Route::write(Operation::Delete(DeleteTarget::File(file)))),
                    _ => Err(method_not_allowed()),
                }
            }
            [name, version] => {
                let version = version_ref(&owner, name, version)?;
                match request.method {
                    Method::Delete => Ok(Route::write(Operation::Delete(DeleteTarget::Version(
                        version,
                    )))),
                    _ => Err(method_not_allowed()),
                }
            }
            _ => Ok(Route::not_found()),
        }
    }

    fn parse_upload(
        _request: Request,
        spec: UploadSpec,
        _body: &Upload,
    ) -> Result<PublishPlan, PluginError> {
        let (version, file) = upload_target(&spec)?;
        Ok(PublishPlan {
            pkg: spec.pkg,
            versions: vec![PlanVersion {
                references: Vec::new(),
                version,
                mode: VersionMode::CreateOrExtend,
                metadata: "{}".to_string(),
                files: vec![PlanFile {
                    name: file,
                    source: FileSource::Whole,
                    content_type: "application/octet-stream".to_string(),
                    lead: true,
                    overwrite: false,
                    expect: None,
                }],
                tags: Vec::new(),
                properties: Vec::new(),
            }],
            reply: Response::created(),
        })
    }

    fn render_index(_input: IndexInput) -> Result<Response, PluginError> {
        // No route of this format asks for an index.
        Err(PluginError::not_found("the generic format has no indexes"))
    }
}

impl Proxy for Generic {
    fn supports_proxy() -> bool {
        true
    }

    fn plan(operation: Operation, request: Request) -> Result<FetchPlan, PluginError> {
        Ok(match operation {
            Operation::Serve(ServeSpec {
                selector: Selector::File(file),
                digest_of: None,
                // The path as the client sent it, still percent-encoded: the same file
                // below the upstream's mount.
            }) => FetchPlan::fetch(file, true, upstream_get(request.path, None), Vec::new()),
            _ => FetchPlan::NotFound,
        })
    }

    fn rewrite(_input: RewriteInput) -> Result<Rewritten, PluginError> {
        // `plan` never asks for a document.
        Err(PluginError::internal("the generic format has no documents"))
    }
}

wharf_plugin_sdk::impl_pages!(Generic, pages::describe);

wharf_plugin_sdk::export!(Generic with Proxy, Pages);

fn method_not_allowed() -> PluginError {
    PluginError::new(405, "method not allowed")
}

fn version_ref(owner: &str, name: &str, version: &str) -> Result<VersionRef, PluginError> {
    if !valid_package_name(name) {
        return Err(PluginError::bad_request("invalid package name"));
    }
    if !valid_version(version) {
        return Err(PluginError::bad_request("invalid package version"));
    }
    Ok(VersionRef {
        pkg: PackageRef {
            owner: owner.to_string(),
            name: name.to_string(),
        },
        version: version.to_string(),
    })
}

fn file_ref(owner: &str, name: &str, version: &str, file: &str) -> Result<FileRef, PluginError> {
    let version = version_ref(owner, name, version)?;
    if !valid_filename(file) {
        return Err(PluginError::bad_request("invalid filename"));
    }
    Ok(FileRef {
        version,
        name: file.to_string(),
    })
}

/// Version and file name of an upload, as `match-route` put them into the params: the
/// path names them, the body is only the file's bytes.
fn upload_target(spec: &UploadSpec) -> Result<(String, String), PluginError> {
    let value = |name| {
        params::get(&spec.params, name)
            .map(str::to_string)
            // `match-route` always sets both: missing ones are this plugin's bug.
            .ok_or_else(|| PluginError::internal(format!("upload without the {name} parameter")))
    };
    Ok((value("version")?, value("file")?))
}

/// Go's `\w`: ASCII letters, digits and underscore (Gitea's rules use Go regexps).
fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Gitea: `\A[-_+.\w]+\z`, not `..`, and a one-character name is a letter or digit.
fn valid_package_name(name: &str) -> bool {
    let mut chars = name.chars();
    match (chars.next(), chars.next()) {
        (None, _) => false,
        (Some(c), None) => c.is_ascii_alphanumeric(),
        _ => name != ".." && name.chars().all(|c| is_word(c) || "-_+.".contains(c)),
    }
}

/// Gitea accepts any version without surrounding white space; dot segments are refused
/// too so a version can never read as a path step.
fn valid_version(version: &str) -> bool {
    !version.is_empty()
        && version == version.trim()
        && version != "."
        && version != ".."
        && !version.chars().any(char::is_control)
}

/// Gitea: `\A[-_+=:;.()\[\]{}~!@#$%^& \w]+\z`, no surrounding spaces, not `.` or `..`.
fn valid_filename(name: &str) -> bool {
    !name.is_empty()
        && name == name.trim()
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| is_word(c) || "-_+=:;.()[]{}~!@#$%^& ".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_plugin_sdk::{ArtifactSource, UpstreamFetch, UpstreamRequest};

    #[test]
    fn package_names_follow_gitea() {
        for ok in ["a", "7", "my-lib", "lib_1.2+x", "A.b"] {
            assert!(valid_package_name(ok), "{ok}");
        }
        for bad in ["", "..", "-", ".", "a/b", "a b", "ü", "a%"] {
            assert!(!valid_package_name(bad), "{bad}");
        }
    }

    #[test]
    fn versions_refuse_surrounding_space_and_dot_segments() {
        for ok in ["1.0.0", "v2", "2024 build 7", "1.0-rc1"] {
            assert!(valid_version(ok), "{ok}");
        }
        for bad in ["", " 1.0", "1.0 ", ".", "..", "1\n0"] {
            assert!(!valid_version(bad), "{bad}");
        }
    }

    #[test]
    fn filenames_follow_gitea() {
        for ok in ["a.tar.gz", "file (1).zip", "x=y;z", "[a]{b}~!@#$%^&"] {
            assert!(valid_filename(ok), "{ok}");
        }
        for bad in [
            "", ".", "..", " a", "a ", "a/b", "a\\b", "a?b", "a\"b", "a<b",
        ] {
            assert!(!valid_filename(bad), "{bad}");
        }
    }

    fn put(path: &str) -> UploadSpec {
        let request = wharf_plugin_sdk::testing::request(Method::Put, path);
        match Generic::match_route(request).unwrap().operation {
            Operation::AcceptUpload(spec) => spec,
            other => panic!("not an upload: {other:?}"),
        }
    }

    #[test]
    fn upload_params_carry_version_and_file_from_the_path() {
        let spec = put("/lib/1.0%20beta/f%20(1).bin");
        assert_eq!(spec.pkg.name, "lib");
        assert_eq!(
            upload_target(&spec).unwrap(),
            ("1.0 beta".into(), "f (1).bin".into())
        );
    }

    fn plan(method: Method, path: &str) -> FetchPlan {
        let request = wharf_plugin_sdk::testing::request(method, path);
        let route = Generic::match_route(request.clone()).unwrap();
        Generic::plan(route.operation, request).unwrap()
    }

    #[test]
    fn proxies_fetch_the_same_path_upstream() {
        let FetchPlan::Artifact(artifact) = plan(Method::Get, "/lib/1.0%20beta/f%20(1).bin") else {
            panic!("not an artifact");
        };
        assert_eq!(
            (
                artifact.file.version.pkg.name.as_str(),
                artifact.file.version.version.as_str(),
                artifact.file.name.as_str()
            ),
            ("lib", "1.0 beta", "f (1).bin")
        );
        assert!(artifact.lead);
        assert_eq!(
            artifact.source,
            ArtifactSource::Fetch(UpstreamFetch {
                request: UpstreamRequest {
                    path: "/lib/1.0%20beta/f%20(1).bin".into(),
                    accept: None,
                    head_validator: None,
                },
                digests: Vec::new(),
            })
        );
        assert!(matches!(
            plan(Method::Head, "/lib/1/f"),
            FetchPlan::Artifact(_)
        ));
        assert!(Generic::supports_proxy());
    }

    #[test]
    fn proxies_have_no_documents() {
        assert_eq!(
            Generic::plan(
                Operation::NotFound,
                wharf_plugin_sdk::testing::request(Method::Get, "/")
            )
            .unwrap(),
            FetchPlan::NotFound
        );
        let request = wharf_plugin_sdk::testing::request(Method::Get, "/a/1/f");
        let input = wharf_plugin_sdk::testing::rewrite_input(
            request,
            Operation::NotFound,
            "/a/1/f",
            "",
            "",
        );
        assert_eq!(Generic::rewrite(input).unwrap_err().status, 500);
    }

    #[test]
    fn upload_without_params_is_an_internal_error() {
        let mut spec = put("/lib/1.0/f.bin");
        spec.params.retain(|(n, _)| n != "file");
        assert_eq!(upload_target(&spec).unwrap_err().status, 500);
    }
}
