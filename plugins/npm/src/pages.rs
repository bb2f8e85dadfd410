//! What an npm package's page shows: the `.npmrc` lines that point npm (and pnpm and
//! yarn, which read the same file) at this owner's mount, `npm install name@version`,
//! the manifest's descriptive fields, and the README npm sent with the publish (kept in
//! the version's manifest, as the packument shows it).

use wharf_plugin_sdk::pages::Metadata;
use wharf_plugin_sdk::{Markup, PackagePage, PageInput, PluginError, ReadmeSource};

pub fn describe(input: PageInput) -> Result<PackagePage, PluginError> {
    let name = &input.pkg.name;
    let manifest = Metadata::parse(&input.version.metadata);
    // A scoped package is routed by its scope, so other packages keep their registry.
    let registry_line = match name.split_once('/') {
        Some((scope, _)) if scope.starts_with('@') => format!("{scope}:registry="),
        _ => "registry=".to_string(),
    };
    // The token line names the mount without its scheme, as npm matches it.
    let unschemed = input
        .base_url
        .split_once("://")
        .map_or(input.base_url.as_str(), |(_, rest)| rest);
    let npmrc = format!(
        "{registry_line}{}/\n//{unschemed}/:_authToken=${{NPM_TOKEN}}",
        input.base_url
    );
    let readme_markup = match manifest.text("readmeFilename") {
        Some(file) if !file.is_empty() => Markup::of_file_name(file),
        _ => Markup::Markdown,
    };
    Ok(PackagePage::new()
        .setup(".npmrc", "ini", npmrc)
        .install(
            "Install",
            "shell",
            format!("npm install {name}@{}", input.version.version),
        )
        .text("Description", manifest.text("description"))
        .text("Deprecated", manifest.text("deprecated"))
        .text("License", manifest.text("license"))
        .link("Homepage", manifest.text("homepage"))
        .link("Repository", repository(&manifest).as_deref())
        .items("Keywords", manifest.strings("keywords"))
        .pairs("Dependencies", manifest.pairs("dependencies"))
        .pairs("Peer dependencies", manifest.pairs("peerDependencies"))
        .readme(ReadmeSource::text(readme_markup, manifest.text("readme"))))
}

/// `repository` as a browsable URL: a string or `{type, url}`, without the `git+`
/// prefix and `.git` suffix npm's own pages drop too.
fn repository(manifest: &Metadata) -> Option<String> {
    let value = manifest.value().get("repository")?;
    let url = value.as_str().or_else(|| value.get("url")?.as_str())?;
    let url = url.strip_prefix("git+").unwrap_or(url);
    Some(url.strip_suffix(".git").unwrap_or(url).to_string())
}

#[cfg(test)]
mod tests {
    use insta::assert_snapshot;
    use wharf_plugin_sdk::testing::{file, page_input, page_snapshot, version};

    use super::describe;

    fn page(name: &str, manifest: &str) -> String {
        let stored = version("1.0.0", manifest, vec![file("app-1.0.0.tgz", 1234, "ab")]);
        page_snapshot(&describe(page_input("npm", name, stored)).unwrap())
    }

    #[test]
    fn scoped_package_page() {
        assert_snapshot!(page(
            "@acme/app",
            r##"{"name":"@acme/app","version":"1.0.0","description":"An example app","license":"MIT","homepage":"https://example.com/app","repository":{"type":"git","url":"git+https://github.com/acme/app.git"},"keywords":["example","app"],"dependencies":{"left-pad":"^1.3.0","lodash":"4.x"},"readme":"# app\n\nUse it.","readmeFilename":"README.md"}"##
        ));
    }

    #[test]
    fn bare_package_page() {
        assert_snapshot!(page("left-pad", r#"{"name":"left-pad","version":"1.0.0"}"#));
    }
}
