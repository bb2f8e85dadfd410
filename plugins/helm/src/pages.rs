//! What a chart's page shows: `helm repo add` for the owner's repository, how to pull
//! and install this version, and the fields of its `Chart.yaml`. A chart's README stays
//! inside its archive, so the page has none.

use serde_json::Value;
use wharf_plugin_sdk::pages::Metadata;
use wharf_plugin_sdk::{PackagePage, PageInput, PluginError};

pub fn describe(input: PageInput) -> Result<PackagePage, PluginError> {
    let (repo, base) = (&input.pkg.owner, &input.base_url);
    let (name, version) = (&input.pkg.name, &input.version.version);
    let m = Metadata::parse(&input.version.metadata);
    let list = |key| {
        m.value()
            .get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let field = |v: &Value, key| {
        v.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (maintainers, dependencies) = (list("maintainers"), list("dependencies"));
    let maintainers = maintainers
        .iter()
        .map(|p| match field(p, "email").as_str() {
            "" => field(p, "name"),
            email => format!("{} <{email}>", field(p, "name")),
        });
    let dependencies = dependencies
        .iter()
        .map(|d| (field(d, "name"), field(d, "version")));
    let deprecated = m.value().get("deprecated").and_then(Value::as_bool) == Some(true);
    Ok(PackagePage::new()
        .setup(
            "Add the repository",
            "shell",
            format!("helm repo add --username USER --password TOKEN {repo} {base}\nhelm repo update"),
        )
        .setup(
            "Upload a chart",
            "shell",
            format!("curl --user USER:TOKEN --data-binary @./CHART.tgz {base}/api/charts"),
        )
        .install(
            "Install",
            "shell",
            format!(
                "helm pull {repo}/{name} --version {version}\nhelm install RELEASE {repo}/{name} --version {version}"
            ),
        )
        .text("Description", m.text("description"))
        .text("App version", m.text("appVersion"))
        .text("Type", m.text("type"))
        .text("Kubernetes", m.text("kubeVersion"))
        .text("Deprecated", deprecated.then_some("yes"))
        .link("Home", m.text("home"))
        .items("Sources", m.strings("sources"))
        .items("Keywords", m.strings("keywords"))
        .items("Maintainers", maintainers.collect())
        .pairs("Dependencies", dependencies.collect()))
}

#[cfg(test)]
mod tests {
    use insta::assert_snapshot;
    use wharf_plugin_sdk::testing::{file, page_input, page_snapshot, version};

    #[test]
    fn page() {
        let metadata = r#"{"name":"my.app","version":"1.2","apiVersion":"v2","appVersion":"3.0",
            "description":"An app","home":"https://example.com","keywords":["web","db"],
            "maintainers":[{"name":"Jane","email":"jane@example.com"},{"name":"Joe"}],
            "dependencies":[{"name":"redis","version":"17.x","repository":"https://charts.example.com"}]}"#;
        let files = vec![file("my.app-1.2.tgz", 10, "ab")];
        let input = page_input("helm", "my.app", version("1.2", metadata, files));
        assert_snapshot!(page_snapshot(&super::describe(input).unwrap()));
    }
}
