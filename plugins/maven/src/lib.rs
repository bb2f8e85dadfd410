//! The Maven format: a Maven 2 repository layout that `mvn deploy`, `mvn
//! dependency:get` and Gradle read and write, on Gitea's paths
//! (`/api/packages/{owner}/maven/…`).
//!
//! A package is `groupId:artifactId`, a version holds every file deployed under
//! `/{group dirs}/{artifactId}/{version}/`, and the `.pom` is the version's lead file
//! whose parsed coordinates, licenses and dependencies become the version metadata.
//! Checksum files are never stored: the host computes them from the stored bytes. The
//! artifact-level `maven-metadata.xml` is rendered from the database, so it always
//! lists exactly the stored versions.

mod checksum;
mod group;
mod metadata;
mod pages;
mod path;
mod pom;
mod proxy;
mod routes;
#[cfg(test)]
mod snapshots;
mod upload;
mod version;

use wharf_plugin_sdk::{
    Challenge, Descriptor, HashAlgorithm, IndexInput, PluginError, PublishPlan, Request, Response,
    Route, Upload, UploadSpec,
};

struct Maven;

impl wharf_plugin_sdk::Plugin for Maven {
    fn describe() -> Descriptor {
        Descriptor {
            response_headers: Vec::new(),
            challenge: Challenge::Basic("Wharf".into()),
            // A deploy PUTs `.md5` and `.sha1` beside every file and they are checked
            // against these; resolvers fetch them for every download.
            digests: vec![HashAlgorithm::Md5, HashAlgorithm::Sha1],
            // Maven coordinates are case-sensitive.
            case_insensitive_names: false,
            ..Descriptor::basic("maven")
        }
    }

    fn match_route(request: Request) -> Result<Route, PluginError> {
        routes::match_route(&request)
    }

    fn parse_upload(
        request: Request,
        spec: UploadSpec,
        body: &Upload,
    ) -> Result<PublishPlan, PluginError> {
        upload::parse(&request, spec, body)
    }

    fn render_index(input: IndexInput) -> Result<Response, PluginError> {
        metadata::render(&input)
    }
}

// Proxies of a repository laid out like Maven Central (see `proxy.rs`).
wharf_plugin_sdk::impl_proxy!(
    Maven,
    |operation, _request| proxy::plan(&operation),
    |input| proxy::rewrite(&input)
);

// Groups merge `maven-metadata.xml` into the union of their members' versions (see
// `group.rs`).
wharf_plugin_sdk::impl_group!(Maven, |input| group::merge(&input));

wharf_plugin_sdk::impl_pages!(Maven, pages::describe);

wharf_plugin_sdk::export!(Maven with Proxy, Group, Pages);
