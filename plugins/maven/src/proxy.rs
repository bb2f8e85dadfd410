//! Maven proxies: a repository laid out like Maven Central
//! (`/{group dirs}/{artifactId}/{version}/{file}`) behind a proxy owner.
//!
//! - The artifact-level `maven-metadata.xml` (what hosted owners render) is a document
//!   fetched from the same relative path and revalidated after the proxy's TTL; its
//!   `.sha1`/`.md5` are digests the host takes of the same document.
//! - Every other file is an artifact fetched from the same relative path and kept as a
//!   file of its version; its `.sha1`, `.md5`, `.sha256` and `.sha512` are the host's
//!   digests of the stored bytes, so a checksum request fetches the file itself.
//!   Releases and timestamped snapshot files never change upstream. Two kinds of file
//!   do: the version-level `maven-metadata.xml` of a `-SNAPSHOT` version and a
//!   non-unique snapshot file (`lib-1.0-SNAPSHOT.jar`, Maven 2's `uniqueVersion=false`).
//!   Hosted owners store both as files (`serve`), and the contract plans a `serve` only
//!   as an artifact, so a proxy keeps them as first fetched, until `wharf cache purge`.
//!
//! `maven-metadata.xml` holds no URLs: `rewrite` checks that the upstream sent Maven
//! metadata (no DTD, no entities: a 502 otherwise) and passes it through unchanged.

use wharf_plugin_sdk::upstream::{encode_segment, upstream_get};
use wharf_plugin_sdk::{
    FetchPlan, Operation, PluginError, Response, RewriteInput, Rewritten, Selector, ServeSpec,
};

use crate::metadata;
use crate::path::{Artifact, METADATA_FILE};
use crate::pom;
use crate::routes::METADATA_VIEW;

pub fn plan(operation: &Operation) -> Result<FetchPlan, PluginError> {
    Ok(match operation {
        Operation::RenderIndex(spec) if spec.view == METADATA_VIEW => {
            let Some(artifact) = spec.pkg.as_ref().and_then(|p| Artifact::from_name(&p.name))
            else {
                return Err(PluginError::internal("maven metadata without an artifact"));
            };
            let path = format!("{}/{METADATA_FILE}", directory(&artifact));
            FetchPlan::Document(upstream_get(path, None))
        }
        Operation::Serve(ServeSpec {
            selector: Selector::File(file),
            ..
        }) => {
            let Some(artifact) = Artifact::from_name(&file.version.pkg.name) else {
                return Err(PluginError::internal("a maven file without an artifact"));
            };
            let path = format!(
                "{}/{}/{}",
                directory(&artifact),
                encode_segment(&file.version.version),
                encode_segment(&file.name)
            );
            FetchPlan::fetch(
                file.clone(),
                pom::is_pom(&file.name),
                upstream_get(path, None),
                Vec::new(),
            )
        }
        _ => FetchPlan::NotFound,
    })
}

/// `/{group dirs}/{artifactId}`, each segment percent-encoded.
fn directory(artifact: &Artifact) -> String {
    let mut path = String::new();
    for segment in artifact
        .group
        .split('.')
        .chain([artifact.artifact.as_str()])
    {
        path.push('/');
        path.push_str(&encode_segment(segment));
    }
    path
}

pub fn rewrite(input: &RewriteInput) -> Result<Rewritten, PluginError> {
    let body = &input.upstream.body;
    metadata::read(body)
        .map_err(|e| PluginError::new(502, format!("{} is not Maven metadata: {e}", input.url)))?;
    let mut response = Response::new(200, "text/xml", body.clone());
    if let Some((_, modified)) = input
        .upstream
        .headers
        .iter()
        .find(|(name, _)| name == "last-modified")
    {
        response = response.header("last-modified", modified.clone());
    }
    Ok(Rewritten {
        response,
        declares: Vec::new(),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use wharf_plugin_sdk::testing::request;
    use wharf_plugin_sdk::{
        ArtifactPlan, ArtifactSource, HashAlgorithm, Method, Request, UpstreamFetch,
        UpstreamRequest,
    };

    use crate::routes::match_route;

    fn routed(path: &str) -> (Operation, Request) {
        let request = request(Method::Get, path);
        (match_route(&request).expect("route").operation, request)
    }

    fn planned(path: &str) -> FetchPlan {
        plan(&routed(path).0).expect("plan")
    }

    fn fetched(path: &str) -> UpstreamRequest {
        UpstreamRequest {
            path: path.into(),
            accept: None,
            head_validator: None,
        }
    }

    fn artifact_plan(path: &str) -> ArtifactPlan {
        match planned(path) {
            FetchPlan::Artifact(plan) => plan,
            other => panic!("{path}: {other:?}"),
        }
    }

    /// The upstream path the artifact a request names is fetched from.
    fn fetched_path(path: &str) -> String {
        fetch_of(&artifact_plan(path)).request.path.clone()
    }

    fn fetch_of(plan: &ArtifactPlan) -> &UpstreamFetch {
        match &plan.source {
            ArtifactSource::Fetch(fetch) => fetch,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn artifact_metadata_and_its_checksums_are_the_upstream_document() {
        for path in [
            "/com/example/lib/maven-metadata.xml",
            "/com/example/lib/maven-metadata.xml.sha1",
            "/com/example/lib/maven-metadata.xml.md5",
        ] {
            let FetchPlan::Document(request) = planned(path) else {
                panic!("{path}: not a document");
            };
            assert_eq!(
                format!("{request:?}"),
                format!("{:?}", fetched("/com/example/lib/maven-metadata.xml")),
                "{path}"
            );
        }
    }

    #[test]
    fn files_are_artifacts_at_the_same_path_with_poms_leading() {
        let plan = artifact_plan("/com/example/lib/1.0/lib-1.0.jar");
        assert_eq!(plan.file.version.pkg.name, "com.example:lib");
        assert_eq!(plan.file.version.version, "1.0");
        assert_eq!(plan.file.name, "lib-1.0.jar");
        assert!(!plan.lead);
        let fetch = fetch_of(&plan);
        assert_eq!(fetch.request.path, "/com/example/lib/1.0/lib-1.0.jar");
        assert!(fetch.digests.is_empty() && fetch.request.accept.is_none());
        assert!(artifact_plan("/com/example/lib/1.0/lib-1.0.pom").lead);
    }

    #[test]
    fn a_checksum_fetches_the_file_it_is_of() {
        for (suffix, algorithm) in [
            ("sha1", HashAlgorithm::Sha1),
            ("md5", HashAlgorithm::Md5),
            ("sha256", HashAlgorithm::Sha256),
            ("sha512", HashAlgorithm::Sha512),
        ] {
            let path = format!("/com/example/lib/1.0/lib-1.0.pom.{suffix}");
            let (operation, _) = routed(&path);
            let Operation::Serve(spec) = &operation else {
                panic!("{path}");
            };
            assert_eq!(spec.digest_of, Some(algorithm));
            let plan = artifact_plan(&path);
            assert_eq!(plan.file.name, "lib-1.0.pom");
            assert_eq!(
                fetch_of(&plan).request.path,
                "/com/example/lib/1.0/lib-1.0.pom"
            );
        }
    }

    #[test]
    fn snapshot_files_and_snapshot_metadata_are_artifacts_too() {
        let meta = artifact_plan("/com/example/lib/1.0-SNAPSHOT/maven-metadata.xml");
        assert_eq!(
            (meta.file.version.version.as_str(), meta.file.name.as_str()),
            ("1.0-SNAPSHOT", "maven-metadata.xml")
        );
        for path in [
            "/com/example/lib/1.0-SNAPSHOT/maven-metadata.xml",
            "/com/example/lib/1.0-SNAPSHOT/lib-1.0-20240101.120000-3.jar",
            "/com/example/lib/1.0-SNAPSHOT/lib-1.0-SNAPSHOT.jar",
        ] {
            assert_eq!(fetched_path(path), path);
        }
    }

    #[test]
    fn path_segments_are_encoded_again() {
        let path = "/com/example/lib/1.0/lib%201.0.jar";
        assert_eq!(artifact_plan(path).file.name, "lib 1.0.jar");
        assert_eq!(fetched_path(path), path);
    }

    #[test]
    fn other_operations_are_not_found_upstream() {
        assert!(matches!(
            plan(&Operation::NotFound).unwrap(),
            FetchPlan::NotFound
        ));
        let deploy = match_route(&request(Method::Put, "/com/example/lib/1.0/lib-1.0.jar"))
            .unwrap()
            .operation;
        assert!(matches!(plan(&deploy).unwrap(), FetchPlan::NotFound));
    }

    fn rewrite_input(body: &str, headers: &[(&str, &str)]) -> RewriteInput {
        let (operation, request) = routed("/com/example/lib/maven-metadata.xml");
        let mut upstream = Response::new(200, "application/xml", body.as_bytes().to_vec());
        for (name, value) in headers {
            upstream = upstream.header(name, *value);
        }
        RewriteInput {
            base_url: request.base_url,
            owner: "central".into(),
            operation,
            url: "https://repo.test/maven2/com/example/lib/maven-metadata.xml".into(),
            upstream,
        }
    }

    pub(crate) const CENTRAL_METADATA: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata>\n  <groupId>com.example</groupId>\n  <artifactId>lib</artifactId>\n  <versioning>\n    <latest>1.10</latest>\n    <release>1.10</release>\n    <versions>\n      <version>1.9</version>\n      <version>1.10</version>\n    </versions>\n    <lastUpdated>20240102030405</lastUpdated>\n  </versioning>\n</metadata>\n";

    #[test]
    fn metadata_passes_through_unchanged_declaring_nothing() {
        let input = rewrite_input(
            CENTRAL_METADATA,
            &[("last-modified", "Tue, 02 Jan 2024 03:04:05 GMT")],
        );
        let rewritten = rewrite(&input).unwrap();
        assert_eq!(rewritten.response.body, CENTRAL_METADATA.as_bytes());
        assert_eq!(
            (
                rewritten.response.status,
                rewritten.response.content_type.as_str()
            ),
            (200, "text/xml")
        );
        assert_eq!(
            rewritten.response.headers,
            [(
                "last-modified".to_string(),
                "Tue, 02 Jan 2024 03:04:05 GMT".to_string()
            )]
        );
        assert!(rewritten.declares.is_empty());
        let plugins = "<metadata><plugins><plugin><prefix>x</prefix></plugin></plugins></metadata>";
        assert!(rewrite(&rewrite_input(plugins, &[])).is_ok());
    }

    #[test]
    fn what_is_not_maven_metadata_is_a_502() {
        for body in [
            "<html><body>Not here</body></html>",
            "{\"versions\":[]}",
            "<metadata><groupId>unclosed</metadata>",
            "<!DOCTYPE metadata [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><metadata>&x;</metadata>",
            "<metadata><groupId>&x;</groupId></metadata>",
            "",
        ] {
            let err = rewrite(&rewrite_input(body, &[])).unwrap_err();
            assert_eq!(err.status, 502, "{body}");
            assert!(
                err.message
                    .starts_with("https://repo.test/maven2/com/example/lib/maven-metadata.xml is not Maven metadata: "),
                "{}",
                err.message
            );
        }
    }
}
