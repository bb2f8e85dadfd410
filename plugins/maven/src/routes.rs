//! Which operation each Maven request is. Decided from the path alone (no lookups, see
//! the contract's rule 1); what a path names is `path`'s business.

use wharf_plugin_sdk::{
    FileRef, IndexSpec, Method, Operation, PackageRef, PluginError, Request, Route, Selector,
    VersionRef,
};

use crate::path::{self, Artifact, Target};
use crate::{checksum, pom, upload};

/// The view name of the artifact-level `maven-metadata.xml`.
pub const METADATA_VIEW: &str = "metadata";

pub fn match_route(request: &Request) -> Result<Route, PluginError> {
    // Maven reads with GET/HEAD and deploys with PUT; nothing else exists, and an
    // unknown method must not be told whether its path would have been valid.
    if !matches!(request.method, Method::Get | Method::Head | Method::Put) {
        return Ok(Route::not_found());
    }
    let owner = request.mount_owner()?;
    let Some(target) = path::parse_request(request)? else {
        return Ok(Route::not_found());
    };
    let reading = !matches!(request.method, Method::Put);
    let route = match target {
        Target::Metadata { artifact, checksum } if reading => {
            Route::read(Operation::RenderIndex(IndexSpec {
                pkg: Some(package(&owner, &artifact)),
                view: METADATA_VIEW.into(),
                params: Vec::new(),
                digest_of: checksum,
                listing: None,
            }))
        }
        // Wharf renders this file from the stored versions, so a client's copy (and its
        // checksums) is accepted and dropped. Write access, so that anonymous callers
        // cannot learn from the answer whether the owner exists.
        Target::Metadata { .. } => Route::write(Operation::Respond(upload::acknowledged())),
        Target::File {
            artifact,
            version,
            file,
            checksum,
        } => {
            let file = FileRef {
                version: VersionRef {
                    pkg: package(&owner, &artifact),
                    version,
                },
                name: file,
            };
            match (reading, checksum) {
                (true, None) => Route::read(Operation::serve(Selector::File(file))),
                (true, Some(algorithm)) => {
                    Route::read(Operation::serve_digest(Selector::File(file), algorithm))
                }
                (false, None) => Route::write(deploy(file)),
                (false, Some(_)) => Route::write(deploy_checksum(file)),
            }
        }
    };
    Ok(route)
}

fn package(owner: &str, artifact: &Artifact) -> PackageRef {
    PackageRef {
        owner: owner.to_string(),
        name: artifact.name(),
    }
}

/// A file upload. A POM is read whole by the plugin, so its limit applies before the
/// body is even sent.
fn deploy(file: FileRef) -> Operation {
    let max_size = if pom::is_pom(&file.name) {
        pom::MAX_SIZE
    } else {
        0
    };
    Operation::accept_upload(file.version.pkg, &[(upload::KIND, upload::FILE)], max_size)
}

/// A checksum upload: compared with the stored file, never stored. The path is parsed
/// again in `parse-upload`, so the params only say which kind of upload it is.
fn deploy_checksum(file: FileRef) -> Operation {
    Operation::accept_upload(
        file.version.pkg,
        &[(upload::KIND, upload::CHECKSUM)],
        checksum::MAX_BODY,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_plugin_sdk::testing;
    use wharf_plugin_sdk::{Access, HashAlgorithm, UploadSpec, params};

    /// The generated types have no `PartialEq`; their `Debug` forms compare the same.
    fn same<T: std::fmt::Debug>(a: &T, b: &T) -> bool {
        format!("{a:?}") == format!("{b:?}")
    }

    fn request(method: Method, path: &str) -> Request {
        testing::request(method, path).with_base_url("http://x/api/packages/alice/maven")
    }

    fn route(method: Method, path: &str) -> Route {
        match_route(&request(method, path)).unwrap()
    }

    fn pkg() -> PackageRef {
        PackageRef {
            owner: "alice".into(),
            name: "com.example:lib".into(),
        }
    }

    fn file_ref(version: &str, name: &str) -> FileRef {
        FileRef {
            version: VersionRef {
                pkg: pkg(),
                version: version.into(),
            },
            name: name.into(),
        }
    }

    #[test]
    fn reads_serve_files_and_computed_checksums() {
        for method in [Method::Get, Method::Head] {
            let r = route(method.clone(), "/com/example/lib/1.0/lib-1.0.jar");
            assert_eq!(r.access, Access::Read);
            let serve = Operation::serve(Selector::File(file_ref("1.0", "lib-1.0.jar")));
            assert!(same(&r.operation, &serve));
            let r = route(method, "/com/example/lib/1.0/lib-1.0.jar.sha256");
            let digest = Operation::serve_digest(
                Selector::File(file_ref("1.0", "lib-1.0.jar")),
                HashAlgorithm::Sha256,
            );
            assert!(same(&r.operation, &digest));
        }
        let r = route(
            Method::Get,
            "/com/example/lib/1.0-SNAPSHOT/maven-metadata.xml",
        );
        let serve = Operation::serve(Selector::File(file_ref(
            "1.0-SNAPSHOT",
            "maven-metadata.xml",
        )));
        assert!(same(&r.operation, &serve));
    }

    #[test]
    fn artifact_metadata_is_rendered_with_optional_digest() {
        let r = route(Method::Get, "/com/example/lib/maven-metadata.xml");
        assert_eq!(r.access, Access::Read);
        let spec = |digest_of| {
            Operation::RenderIndex(IndexSpec {
                pkg: Some(pkg()),
                view: "metadata".into(),
                params: Vec::new(),
                digest_of,
                listing: None,
            })
        };
        assert!(same(&r.operation, &spec(None)));
        let r = route(Method::Head, "/com/example/lib/maven-metadata.xml.sha1");
        assert!(same(&r.operation, &spec(Some(HashAlgorithm::Sha1))));
    }

    #[test]
    fn artifact_metadata_uploads_are_acknowledged_and_dropped() {
        for path in [
            "/com/example/lib/maven-metadata.xml",
            "/com/example/lib/maven-metadata.xml.md5",
        ] {
            let r = route(Method::Put, path);
            assert_eq!(r.access, Access::Write);
            let Operation::Respond(response) = r.operation else {
                panic!("{path}: not a respond");
            };
            assert_eq!((response.status, response.body.len()), (200, 0));
        }
    }

    #[test]
    fn deploys_accept_uploads_with_the_right_limits() {
        let upload = |path| match route(Method::Put, path) {
            Route {
                operation: Operation::AcceptUpload(spec),
                access: Access::Write,
                ..
            } => spec,
            other => panic!("{path}: {other:?}"),
        };
        let jar = upload("/com/example/lib/1.0/lib-1.0.jar");
        assert!(same(&jar.pkg, &pkg()));
        let kind = |spec: &UploadSpec| params::text(&spec.params, "kind").to_string();
        assert_eq!((kind(&jar).as_str(), jar.max_size), ("file", 0));
        let pom = upload("/com/example/lib/1.0/lib-1.0.pom");
        assert_eq!((kind(&pom).as_str(), pom.max_size), ("file", 4 << 20));
        let sum = upload("/com/example/lib/1.0/lib-1.0.pom.sha1");
        assert_eq!((kind(&sum).as_str(), sum.max_size), ("checksum", 1024));
        let snapshot_meta = upload("/com/example/lib/1.0-SNAPSHOT/maven-metadata.xml");
        assert_eq!(kind(&snapshot_meta), "file");
        assert_eq!(snapshot_meta.params.len(), 1, "the path says the rest");
    }

    #[test]
    fn other_methods_and_the_bare_mount_are_not_found() {
        for (method, path) in [
            (Method::Delete, "/com/example/lib/1.0/lib-1.0.jar"),
            (Method::Post, "/com/example/lib/1.0/lib-1.0.jar"),
            (Method::Other("MKCOL".into()), "/com/example/lib/1.0/"),
            (Method::Delete, "/.."),
            (Method::Get, "/"),
            (Method::Get, ""),
        ] {
            let r = route(method, path);
            assert!(matches!(r.operation, Operation::NotFound), "{path}");
        }
    }

    #[test]
    fn bad_paths_are_400() {
        for path in [
            "/lib/1.0/a.jar",
            "/com/../lib/1.0/a.jar",
            "/com/x/lib/1.0/a%2fb",
        ] {
            let err = match_route(&request(Method::Get, path)).unwrap_err();
            assert_eq!(err.status, 400, "{path}");
        }
    }
}
