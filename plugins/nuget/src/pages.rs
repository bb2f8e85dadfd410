//! What a NuGet package's page shows: the `dotnet nuget add source` command for this
//! owner's feed, `dotnet add package` and the `<PackageReference>` for the version, the
//! nuspec's descriptive fields, and the README the nuspec names, which a push keeps as
//! the version's file [`README_FILE`].

use wharf_plugin_sdk::{Markup, PackagePage, PageInput, PluginError, ReadmeSource};

use crate::metadata::Metadata;

/// The name of the file holding a version's README (not a lead file: feeds and
/// download counts name the `.nupkg` only). NuGet READMEs are Markdown.
pub const README_FILE: &str = "readme.md";

pub fn describe(input: PageInput) -> Result<PackagePage, PluginError> {
    let meta = Metadata::from_stored(&input.version.metadata);
    // The id with the case it was pushed with; the stored name may be another spelling.
    let id = match meta.id.is_empty() {
        true => input.pkg.name.as_str(),
        false => meta.id.as_str(),
    };
    let version = &input.version.version;
    let source = format!(
        "dotnet nuget add source {}/index.json --name wharf-{} --username USER \\\n  \
         --password TOKEN --store-password-in-clear-text",
        input.base_url, input.pkg.owner
    );
    let license = match &meta.license {
        Some(license) if license.kind == "expression" => Some(license.value.as_str()),
        _ => None,
    };
    let dependencies = meta
        .dependency_groups
        .iter()
        .flat_map(|group| {
            group.dependencies.iter().map(|d| {
                let mut requirement = d.range.clone();
                if !group.target_framework.is_empty() {
                    requirement = format!("{requirement} ({})", group.target_framework);
                }
                (d.id.clone(), requirement.trim().to_string())
            })
        })
        .collect();
    let repository = meta.repository.as_ref().map(|r| r.url.as_str());
    let has_readme = input.version.files.iter().any(|f| f.name == README_FILE);
    Ok(PackagePage::new()
        .setup("Add the feed", "shell", source)
        .install(
            "Install",
            "shell",
            format!("dotnet add package {id} --version {version}"),
        )
        .install(
            "Project file",
            "xml",
            format!("<PackageReference Include=\"{id}\" Version=\"{version}\" />"),
        )
        .text("Title", Some(&meta.title))
        .text("Description", Some(&meta.description))
        .text("Authors", Some(&meta.authors))
        .text("License", license)
        .link("License URL", Some(&meta.license_url))
        .link("Project URL", Some(&meta.project_url))
        .link("Repository", repository)
        .items(
            "Tags",
            meta.tags.split_whitespace().map(str::to_string).collect(),
        )
        .pairs("Dependencies", dependencies)
        .readme(has_readme.then(|| ReadmeSource::file(README_FILE, Markup::Markdown))))
}

#[cfg(test)]
mod tests {
    use insta::assert_snapshot;
    use wharf_plugin_sdk::testing::{file, page_input, page_snapshot, version};

    use super::*;

    #[test]
    fn page() {
        let metadata = r#"{"id":"Wharf.Demo","version":"1.2.0","title":"Wharf demo","authors":"Alice, Bob","description":"Says hello.","tags":"demo hello","projectUrl":"https://example.com/demo","license":{"type":"expression","value":"MIT"},"readme":"docs/README.md","repository":{"type":"git","url":"https://example.com/demo.git","branch":"","commit":""},"dependencyGroups":[{"targetFramework":"net8.0","dependencies":[{"id":"Newtonsoft.Json","range":"[13.0.1, )","exclude":"","include":""}]}]}"#;
        let files = vec![
            file("wharf.demo.1.2.0.nupkg", 10, "ab"),
            file("wharf.demo.nuspec", 5, "cd"),
            file(README_FILE, 5, "ef"),
        ];
        let input = page_input("nuget", "wharf.demo", version("1.2.0", metadata, files));
        assert_snapshot!(page_snapshot(&describe(input).unwrap()));
    }
}
