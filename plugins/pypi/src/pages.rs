//! What a PyPI project's page shows: the `pip.conf` index and the `~/.pypirc` entry
//! that point pip and twine at this owner's mount, `pip install name==version`, the
//! core metadata twine sent, and the long description as the README (Markdown when
//! its content type says so; reStructuredText and plain text are shown as text).

use wharf_plugin_sdk::pages::Metadata;
use wharf_plugin_sdk::{Markup, PackagePage, PageInput, PluginError, ReadmeSource};

pub fn describe(input: PageInput) -> Result<PackagePage, PluginError> {
    let meta = Metadata::parse(&input.version.metadata);
    let base = &input.base_url;
    let index = format!("{base}/simple/");
    let markup = match meta.text("description_content_type") {
        Some(t) if t.trim().to_ascii_lowercase().starts_with("text/markdown") => Markup::Markdown,
        _ => Markup::Plain,
    };
    let license = meta
        .text("license_expression")
        .or_else(|| meta.text("license"));
    let keywords: Vec<String> = meta
        .text("keywords")
        .unwrap_or_default()
        .split(',')
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty())
        .collect();
    let mut page = PackagePage::new()
        .setup(
            "pip.conf",
            "ini",
            format!("[global]\nextra-index-url = {index}"),
        )
        .setup(
            "~/.pypirc",
            "ini",
            format!(
                "[distutils]\nindex-servers = wharf\n\n[wharf]\nrepository = {base}\n\
                 username = USER\npassword = TOKEN"
            ),
        )
        .install(
            "Install",
            "shell",
            format!(
                "pip install --index-url {index} {}=={}",
                input.pkg.name, input.version.version
            ),
        )
        .text("Summary", meta.text("summary"))
        .text("License", license)
        .text("Requires Python", meta.text("requires_python"))
        .text("Author", meta.text("author").or(meta.text("author_email")))
        .link("Homepage", meta.text("home_page"))
        .items("Keywords", keywords);
    // `Label, https://…` per PEP 345's Project-URL.
    for entry in meta.strings("project_urls") {
        if let Some((label, url)) = entry.split_once(',') {
            page = page.link(label.trim(), Some(url));
        }
    }
    let requirements = meta
        .strings("requires_dist")
        .iter()
        .map(|r| requirement(r))
        .collect();
    Ok(page
        .pairs("Dependencies", requirements)
        .readme(ReadmeSource::text(markup, meta.text("description"))))
}

/// `idna (>=3) ; extra == "socks"` as the project name and the rest.
fn requirement(spec: &str) -> (String, String) {
    let end = spec
        .find(|c: char| !(c.is_ascii_alphanumeric() || "._-".contains(c)))
        .unwrap_or(spec.len());
    (spec[..end].to_string(), spec[end..].trim().to_string())
}

#[cfg(test)]
mod tests {
    use insta::assert_snapshot;
    use wharf_plugin_sdk::testing::{file, page_input, page_snapshot, version};

    #[test]
    fn page() {
        let metadata = r##"{"name":"Wharf_Base","version":"1.0","summary":"A base","description":"# Base\n\nSays hello.","description_content_type":"text/markdown; charset=UTF-8","license_expression":"MIT","keywords":"wharf, base","home_page":"https://example.com/base","requires_python":">=3.9","project_urls":["Source, https://example.com/base.git"],"requires_dist":["idna>=3","requests[socks] (>=2) ; extra == \"net\""]}"##;
        let stored = version(
            "1.0",
            metadata,
            vec![file("wharf_base-1.0.tar.gz", 10, "ab")],
        );
        let input = page_input("pypi", "wharf-base", stored);
        assert_snapshot!(page_snapshot(&super::describe(input).unwrap()));
    }

    #[test]
    fn rst_descriptions_are_plain_text() {
        let metadata = r#"{"description":"Base\n====","description_content_type":"text/x-rst"}"#;
        let input = page_input("pypi", "base", version("1.0", metadata, Vec::new()));
        let page = super::describe(input).unwrap();
        assert_snapshot!(page_snapshot(&page));
    }
}
