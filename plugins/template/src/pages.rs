//! The package page (the optional `pages` export): what the web UI shows of a version
//! besides what the host stores. Snippets are text with this registry's URLs filled in
//! from `input.base_url`; fields come from the metadata `parse-upload` stored; the
//! README is either text or, as here, a file of the version the host reads itself.

use wharf_plugin_sdk::pages::Metadata;
use wharf_plugin_sdk::upstream::encode_segment;
use wharf_plugin_sdk::{Markup, PackagePage, PageInput, PluginError, ReadmeSource};

pub fn describe(input: PageInput) -> Result<PackagePage, PluginError> {
    let url = format!(
        "{}/{}/{}",
        input.base_url,
        encode_segment(&input.pkg.name),
        encode_segment(&input.version.version)
    );
    // A version holds one file: a text file is what the page shows as the README.
    let file = input.version.files.first().map(|f| f.name.clone());
    let metadata = Metadata::parse(&input.version.metadata);
    let mut page = PackagePage::new()
        .setup(
            "Publish",
            "shell",
            format!("curl --user USER:TOKEN --upload-file ./notes.txt '{url}/notes.txt'"),
        )
        .text("Summary", metadata.text("summary"));
    if let Some(file) = file {
        let download = format!("curl -fLO '{url}/{}'", encode_segment(&file));
        page = page.install("Download", "shell", download);
        // A bundle is an archive, no text to show.
        if !crate::bundle::is_bundle(&file) {
            page = page.readme(Some(ReadmeSource::file(&file, Markup::Plain)));
        }
    }
    Ok(page)
}

#[cfg(test)]
mod tests {
    use wharf_plugin_sdk::testing::{file, page_input, version};
    use wharf_plugin_sdk::{FieldValue, ReadmeSource};

    #[test]
    fn the_page_shows_the_summary_and_the_file() {
        let stored = version(
            "1.0",
            r#"{"summary":"Hello"}"#,
            vec![file("a b.txt", 6, "ab")],
        );
        let page = super::describe(page_input("template", "notes", stored)).unwrap();
        assert_eq!(
            page.install[0].code,
            "curl -fLO 'http://wharf.test/api/packages/alice/template/notes/1.0/a%20b.txt'"
        );
        assert_eq!(page.fields[0].value, FieldValue::Text("Hello".into()));
        assert!(matches!(page.readme, Some(ReadmeSource::File(f)) if f.name == "a b.txt"));
    }
}
