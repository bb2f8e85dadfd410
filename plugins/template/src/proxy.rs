//! Proxy repositories: packages pulled through from another registry of this format
//! (another Wharf's `template` mount, say). The host fetches, caches, verifies and
//! revalidates; the plugin only says what to fetch (`plan`) and makes the upstream's
//! index this registry's (`rewrite`): download URLs pointing back here, and each file
//! declared with its upstream URL and digest, which the host fetches and checks the
//! first time a client asks for the file.

use wharf_plugin_sdk::upstream::upstream_get;
use wharf_plugin_sdk::{
    DeclaredArtifact, Digest, FetchPlan, HashAlgorithm, IndexSpec, Operation, PluginError,
    RewriteInput, Rewritten, Selector, ServeSpec, json,
};

use crate::index::{self, Versions};

pub fn plan(operation: &Operation) -> FetchPlan {
    match operation {
        // The package's index, from the same path upstream (`match-route` checked the
        // name, so it needs no escaping).
        Operation::RenderIndex(IndexSpec {
            pkg: Some(pkg),
            view,
            ..
        }) if view == index::VERSIONS => FetchPlan::Document(upstream_get(
            format!("/{}", pkg.name),
            Some("application/json"),
        )),
        // A file: where it is and its digest come from the package's index.
        Operation::Serve(ServeSpec {
            selector: Selector::File(file),
            digest_of: None,
        }) => FetchPlan::declared(
            file.clone(),
            true,
            crate::versions_index(file.version.pkg.clone()),
        ),
        // The owner's listing and `/-/{file}` name no package to ask the upstream for.
        _ => FetchPlan::NotFound,
    }
}

pub fn rewrite(input: &RewriteInput) -> Result<Rewritten, PluginError> {
    let Operation::RenderIndex(IndexSpec { pkg: Some(pkg), .. }) = &input.operation else {
        return Err(PluginError::internal("only package indexes are fetched"));
    };
    let malformed = |e: &dyn std::fmt::Display| {
        PluginError::new(502, format!("the upstream sent a malformed index: {e}"))
    };
    let mut upstream: Versions<'_> =
        serde_json::from_slice(&input.upstream.body).map_err(|e| malformed(&e))?;
    let mut declares = Vec::new();
    for version in &mut upstream.versions {
        for file in &mut version.files {
            // Only names this registry routes: an upstream's `../x` never becomes a URL.
            let checked = crate::file_ref(&input.owner, &pkg.name, &version.version, &file.name)
                .map_err(|e| malformed(&e.message))?;
            let here = index::file_url(&input.base_url, &pkg.name, &version.version, &file.name);
            declares.push(DeclaredArtifact {
                name: checked.name,
                version: checked.version.version,
                url: std::mem::replace(&mut file.url, here),
                digests: Digest::from_hex(HashAlgorithm::Sha256, &file.sha256)
                    .into_iter()
                    .collect(),
            });
        }
    }
    Ok(Rewritten {
        response: json::response(200, &upstream)?,
        declares,
    })
}

#[cfg(test)]
mod tests {
    use wharf_plugin_sdk::testing::{self, UPSTREAM};
    use wharf_plugin_sdk::{ArtifactSource, Method, Plugin, Request};

    use super::*;
    use crate::Template;

    fn client(path: &str) -> Request {
        testing::request(Method::Get, path).with_base_url("http://wharf.test/p/template")
    }

    fn operation(request: &Request) -> Operation {
        Template::match_route(request.clone()).unwrap().operation
    }

    #[test]
    fn indexes_and_files_are_fetched_from_the_upstream() {
        let FetchPlan::Document(index) = plan(&operation(&client("/notes"))) else {
            panic!("a document")
        };
        assert_eq!(index.path, "/notes");
        let FetchPlan::Artifact(file) = plan(&operation(&client("/notes/1.0/notes.txt"))) else {
            panic!("an artifact")
        };
        assert_eq!(
            (file.file.version.version.as_str(), file.lead),
            ("1.0", true)
        );
        assert_eq!(
            file.source,
            ArtifactSource::DeclaredIn(operation(&client("/notes")))
        );
        for path in ["/", "/-/notes.txt"] {
            assert_eq!(
                plan(&operation(&client(path))),
                FetchPlan::NotFound,
                "{path}"
            );
        }
    }

    fn rewritten(body: &str) -> Result<Rewritten, PluginError> {
        let request = client("/notes");
        let operation = operation(&request);
        rewrite(&testing::rewrite_input(
            request,
            operation,
            "/notes",
            "application/json",
            body,
        ))
    }

    #[test]
    fn urls_point_back_here_and_files_are_declared() {
        let body = format!(
            r#"{{"name":"notes","versions":[{{"version":"1.0","summary":"Hi","created":5,"downloads":2,
            "files":[{{"name":"notes.txt","size":3,"sha256":"{}","url":"{UPSTREAM}/notes/1.0/notes.txt"}}]}}]}}"#,
            "AB".repeat(32)
        );
        let out = rewritten(&body).unwrap();
        let index: serde_json::Value = serde_json::from_slice(&out.response.body).unwrap();
        let file = &index["versions"][0]["files"][0];
        assert_eq!(
            file["url"],
            "http://wharf.test/p/template/notes/1.0/notes.txt"
        );
        assert_eq!(index["versions"][0]["summary"], "Hi");
        let [declared] = &out.declares[..] else {
            panic!("one file")
        };
        assert_eq!(
            (declared.name.as_str(), declared.version.as_str()),
            ("notes.txt", "1.0")
        );
        assert_eq!(declared.url, format!("{UPSTREAM}/notes/1.0/notes.txt"));
        assert_eq!(declared.digests[0].hex, "ab".repeat(32));
    }

    #[test]
    fn malformed_indexes_and_unroutable_names_are_a_502() {
        let file = |name: &str| {
            format!(
                r#"{{"name":"notes","versions":[{{"version":"1.0","summary":"","created":0,"downloads":0,
                "files":[{{"name":"{name}","size":1,"sha256":"","url":"/x"}}]}}]}}"#
            )
        };
        for body in ["<html>".to_string(), "{}".to_string(), file("../etc")] {
            let err = rewritten(&body).unwrap_err();
            assert_eq!(err.status, 502, "{body}");
            assert!(
                err.message
                    .starts_with("the upstream sent a malformed index")
            );
        }
        assert!(rewritten(&file("notes.txt")).is_ok());
    }
}
