//! What a crate's page shows: the `~/.cargo/config.toml` registry entry for this
//! owner's index, `cargo add` and the `Cargo.toml` line for the version, the fields
//! cargo published, and the README cargo sent with the publish, which `publish` keeps
//! as the version's file [`README_FILE`].

use wharf_plugin_sdk::{
    FileSource, Markup, PackagePage, PageInput, PlanFile, PluginError, ReadmeSource,
};

use crate::metadata::VersionMetadata;

/// The name of the file holding a version's README (not a lead file: downloads and
/// the index count and name the `.crate` only).
pub const README_FILE: &str = "README";

/// The largest README kept: what the host shows at most.
const MAX_README: usize = 1 << 20;

/// The README file a publish adds, when cargo sent a README that is not too large.
pub fn readme_file(readme: Option<String>) -> Option<PlanFile> {
    let readme = readme.filter(|r| !r.trim().is_empty() && r.len() <= MAX_README)?;
    Some(PlanFile {
        name: README_FILE.into(),
        source: FileSource::Inline(readme.into_bytes()),
        content_type: "text/plain; charset=utf-8".into(),
        lead: false,
        overwrite: false,
        expect: None,
    })
}

pub fn describe(input: PageInput) -> Result<PackagePage, PluginError> {
    let meta = VersionMetadata::parse(&input.version.metadata);
    let (name, version) = (&input.pkg.name, &input.version.version);
    // The name cargo knows this registry by, in the user's config: cargo takes letters,
    // digits, `-` and `_` only, and a `.` would split the TOML table name besides.
    let registry = format!("wharf-{}", input.pkg.owner.replace('.', "-"));
    let config = format!(
        "[registries.{registry}]\nindex = \"sparse+{}/\"\ncredential-provider = \"cargo:token\"",
        input.base_url
    );
    let mut page = PackagePage::new()
        .setup("~/.cargo/config.toml", "toml", config)
        .setup(
            "Sign in",
            "shell",
            format!("cargo login --registry {registry}"),
        )
        .install(
            "Add it",
            "shell",
            format!("cargo add {name}@{version} --registry {registry}"),
        )
        .install(
            "Cargo.toml",
            "toml",
            format!("{name} = {{ version = \"{version}\", registry = \"{registry}\" }}"),
        );
    let readme_markup = match &meta {
        Some(VersionMetadata {
            readme_file: Some(file),
            ..
        }) => Markup::of_file_name(file),
        _ => Markup::Markdown,
    };
    if let Some(meta) = meta {
        let dependencies = meta
            .deps
            .iter()
            .filter(|d| d.kind == "normal")
            .map(|d| (d.package.clone().unwrap_or(d.name.clone()), d.req.clone()))
            .collect();
        page = page
            .text("Description", meta.description.as_deref())
            .text("License", meta.license.as_deref())
            .text("Rust version", meta.rust_version.as_deref())
            .link("Homepage", meta.homepage.as_deref())
            .link("Repository", meta.repository.as_deref())
            .link("Documentation", meta.documentation.as_deref())
            .items("Keywords", meta.keywords)
            .items("Categories", meta.categories)
            .items("Authors", meta.authors)
            .pairs("Dependencies", dependencies);
    }
    let has_readme = input.version.files.iter().any(|f| f.name == README_FILE);
    Ok(page.readme(has_readme.then(|| ReadmeSource::file(README_FILE, readme_markup))))
}

#[cfg(test)]
mod tests {
    use insta::assert_snapshot;
    use wharf_plugin_sdk::testing::{file, page_input, page_snapshot, version};

    use super::*;

    #[test]
    fn page() {
        let metadata = r#"{"name":"wharf-demo","vers":"1.2.3","deps":[{"name":"serde","req":"^1","features":[],"optional":false,"default_features":true,"target":null,"kind":"normal"},{"name":"json","req":"^1","features":[],"optional":false,"default_features":true,"target":null,"kind":"normal","package":"serde_json"},{"name":"insta","req":"^1","features":[],"optional":false,"default_features":true,"target":null,"kind":"dev"}],"features":{},"links":null,"rust_version":"1.80","description":"A demo crate","authors":["Alice"],"license":"MIT OR Apache-2.0","license_file":null,"repository":"https://example.com/demo","homepage":null,"documentation":null,"readme_file":"README.md","keywords":["demo"],"categories":[]}"#;
        let files = vec![
            file("wharf-demo-1.2.3.crate", 10, "ab"),
            file(README_FILE, 5, "cd"),
        ];
        let input = page_input("cargo", "wharf-demo", version("1.2.3", metadata, files));
        assert_snapshot!(page_snapshot(&describe(input).unwrap()));
    }

    #[test]
    fn a_dotted_owner_gets_a_registry_name_cargo_takes() {
        let mut input = page_input("cargo", "demo", version("1.0.0", "{}", Vec::new()));
        input.pkg.owner = "my.org".into();
        let page = describe(input).unwrap();
        assert!(
            page.setup[0]
                .code
                .starts_with("[registries.wharf-my-org]\n")
        );
        assert_eq!(
            page.install[0].code,
            "cargo add demo@1.0.0 --registry wharf-my-org"
        );
    }

    #[test]
    fn only_a_readme_cargo_sent_is_kept() {
        assert_eq!(readme_file(None), None);
        assert_eq!(readme_file(Some(" \n".into())), None);
        assert_eq!(readme_file(Some("x".repeat(MAX_README + 1))), None);
        let kept = readme_file(Some("# Demo".into())).unwrap();
        assert_eq!(
            (kept.name.as_str(), kept.lead, kept.source),
            (README_FILE, false, FileSource::Inline(b"# Demo".to_vec()))
        );
    }
}
