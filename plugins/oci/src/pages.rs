//! What an OCI repository's page shows for one manifest: `docker login` for this
//! registry's host, `docker pull` by tag (when a tag points at the manifest) and by
//! digest (a snippet each), and the manifest's standard annotations
//! (`org.opencontainers.image.*`). Images carry no README.

use wharf_plugin_sdk::pages::{Metadata, authority};
use wharf_plugin_sdk::{PackagePage, PageInput, PluginError};

/// The annotation keys of the image spec worth showing, and their labels.
const ANNOTATIONS: &[(&str, &str)] = &[
    ("org.opencontainers.image.title", "Title"),
    ("org.opencontainers.image.description", "Description"),
    ("org.opencontainers.image.licenses", "License"),
    ("org.opencontainers.image.version", "Image version"),
    ("org.opencontainers.image.created", "Created"),
    ("org.opencontainers.image.authors", "Authors"),
    ("org.opencontainers.image.vendor", "Vendor"),
];

/// Annotations that are URLs, and their labels.
const LINKS: &[(&str, &str)] = &[
    ("org.opencontainers.image.url", "Homepage"),
    ("org.opencontainers.image.source", "Source"),
    ("org.opencontainers.image.documentation", "Documentation"),
];

pub fn describe(input: PageInput) -> Result<PackagePage, PluginError> {
    let host = authority(&input.registry_url);
    let image = format!("{host}/{}/{}", input.pkg.owner, input.pkg.name);
    let digest = &input.version.version;
    let tags: Vec<String> = input
        .tags
        .iter()
        .filter(|(_, version)| version == digest)
        .map(|(tag, _)| tag.clone())
        .collect();
    // `latest` is what a pull without a tag gets, so it is the one to show when it fits.
    let tag = tags
        .iter()
        .find(|t| *t == "latest")
        .or_else(|| tags.first());
    let manifest = Metadata::parse(&input.version.metadata);
    let annotation = |key: &str| {
        manifest
            .value()
            .get("annotations")
            .and_then(|a| a.get(key))
            .and_then(|v| v.as_str())
    };
    // One command a snippet, so each copies alone: by tag to follow the tag, by digest
    // to get exactly this manifest.
    let mut page = PackagePage::new().setup("Sign in", "shell", format!("docker login {host}"));
    if let Some(tag) = tag {
        page = page.install("Pull by tag", "shell", format!("docker pull {image}:{tag}"));
    }
    page = page
        .install(
            "Pull by digest",
            "shell",
            format!("docker pull {image}@{digest}"),
        )
        .items("Tags", tags.clone())
        .text("Media type", manifest.text("mediaType"))
        .text("Artifact type", manifest.text("artifactType"));
    for (key, label) in ANNOTATIONS {
        page = page.text(label, annotation(key));
    }
    for (key, label) in LINKS {
        page = page.link(label, annotation(key));
    }
    Ok(page)
}

#[cfg(test)]
mod tests {
    use insta::assert_snapshot;
    use wharf_plugin_sdk::testing::{file, page_input, page_snapshot, version};

    #[test]
    fn tagged_manifest_page() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let manifest = r#"{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":420,"annotations":{"org.opencontainers.image.description":"A small app","org.opencontainers.image.licenses":"MIT","org.opencontainers.image.source":"https://example.com/app.git"}}"#;
        let stored = version(
            &digest,
            manifest,
            vec![file("manifest", 420, &"a".repeat(64))],
        );
        let mut input = page_input("oci", "team/app", stored);
        input.registry_url = "https://pkgs.example.com:8443".into();
        input.base_url = "https://pkgs.example.com:8443/v2".into();
        input.tags = vec![
            ("1.0".into(), digest.clone()),
            ("latest".into(), digest),
            ("old".into(), format!("sha256:{}", "b".repeat(64))),
        ];
        assert_snapshot!(page_snapshot(&super::describe(input).unwrap()));
    }
}
