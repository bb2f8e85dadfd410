//! What a Maven package's page shows: the `settings.xml` server and the `pom.xml`
//! repository that point Maven at this owner's mount, the `<dependency>` block (and
//! Gradle's line) for the version, and the POM's descriptive fields. Maven artifacts
//! carry no README.

use quick_xml::escape::escape;
use wharf_plugin_sdk::pages::Metadata;
use wharf_plugin_sdk::{PackagePage, PageInput, PluginError};

pub fn describe(input: PageInput) -> Result<PackagePage, PluginError> {
    let pom = Metadata::parse(&input.version.metadata);
    // The package name is `groupId:artifactId`; the POM's copy is the same when present.
    let (group, artifact) = input
        .pkg
        .name
        .split_once(':')
        .unwrap_or(("", input.pkg.name.as_str()));
    let version = &input.version.version;
    // One id ties the server's credentials to the repository that uses them.
    let id = format!("wharf-{}", input.pkg.owner);
    let (id, url) = (escape(&id), escape(&input.base_url));
    let settings = format!(
        "<servers>\n  <server>\n    <id>{id}</id>\n    <username>USER</username>\n    \
         <password>TOKEN</password>\n  </server>\n</servers>"
    );
    let repositories = format!(
        "<repositories>\n  <repository>\n    <id>{id}</id>\n    <url>{url}</url>\n  \
         </repository>\n</repositories>\n<distributionManagement>\n  <repository>\n    \
         <id>{id}</id>\n    <url>{url}</url>\n  </repository>\n</distributionManagement>"
    );
    // A POM-only artifact (a BOM, a parent) is depended on by its type.
    let kind = match pom.text("packaging") {
        Some("pom") => "\n  <type>pom</type>",
        _ => "",
    };
    let dependency = format!(
        "<dependency>\n  <groupId>{}</groupId>\n  <artifactId>{}</artifactId>\n  \
         <version>{}</version>{kind}\n</dependency>",
        escape(group),
        escape(artifact),
        escape(version)
    );
    Ok(PackagePage::new()
        .setup("~/.m2/settings.xml", "xml", settings)
        .setup("pom.xml", "xml", repositories)
        .install("pom.xml", "xml", dependency)
        .install(
            "build.gradle.kts",
            "kotlin",
            format!("implementation(\"{group}:{artifact}:{version}\")"),
        )
        .text("Name", pom.text("name"))
        .text("Description", pom.text("description"))
        .link("Homepage", pom.text("url"))
        .items("Licenses", names(&pom, "licenses", "name"))
        .pairs("Dependencies", dependencies(&pom)))
}

/// One member of each object of an array member (the licenses' names).
fn names(pom: &Metadata, list: &str, member: &str) -> Vec<String> {
    objects(pom, list)
        .filter_map(|o| o.get(member)?.as_str().map(str::to_string))
        .collect()
}

/// Dependencies as `groupId:artifactId` and their version, with a scope other than
/// the default `compile` and optionality noted.
fn dependencies(pom: &Metadata) -> Vec<(String, String)> {
    objects(pom, "dependencies")
        .map(|d| {
            let get = |key: &str| d.get(key).and_then(|v| v.as_str()).unwrap_or_default();
            let mut requirement = get("version").to_string();
            if !matches!(get("scope"), "" | "compile") {
                requirement.push_str(&format!(" ({})", get("scope")));
            }
            if get("optional") == "true" {
                requirement.push_str(" (optional)");
            }
            let name = format!("{}:{}", get("groupId"), get("artifactId"));
            (name, requirement.trim().to_string())
        })
        .collect()
}

fn objects<'a>(
    pom: &'a Metadata,
    list: &str,
) -> impl Iterator<Item = &'a serde_json::Map<String, serde_json::Value>> {
    let items = pom.value().get(list).and_then(|v| v.as_array());
    items.into_iter().flatten().filter_map(|v| v.as_object())
}

#[cfg(test)]
mod tests {
    use insta::assert_snapshot;
    use wharf_plugin_sdk::testing::{file, page_input, page_snapshot, version};

    #[test]
    fn page() {
        let pom = r#"{"groupId":"com.example","artifactId":"lib","version":"1.0","packaging":"jar","name":"Lib & friends","description":"Says <hello>","url":"https://example.com/lib","licenses":[{"name":"Apache-2.0","url":"https://www.apache.org/licenses/LICENSE-2.0"},{"name":"MIT"}],"dependencies":[{"groupId":"junit","artifactId":"junit","version":"4.13","scope":"test"},{"groupId":"org.example","artifactId":"natives","version":"2.1","optional":"true"}]}"#;
        let stored = version("1.0", pom, vec![file("lib-1.0.pom", 10, "ab")]);
        let input = page_input("maven", "com.example:lib", stored);
        assert_snapshot!(page_snapshot(&super::describe(input).unwrap()));
    }
}
