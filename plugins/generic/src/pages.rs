//! What a generic package's page shows: how to upload and download its files with
//! curl, and its README when the publisher uploaded one as a file of the version (the
//! format has no metadata, so there are no fields).

use wharf_plugin_sdk::pages::file_named;
use wharf_plugin_sdk::upstream::encode_segment;
use wharf_plugin_sdk::{Markup, PackagePage, PageInput, PluginError, ReadmeSource};

/// File names taken as the version's README, in order of preference.
const READMES: &[&str] = &["README.md", "README.markdown", "README.txt", "README"];

/// Most files given a download command: a version may hold hundreds; the page lists
/// them all with their URLs anyway.
const MAX_DOWNLOADS: usize = 10;

pub fn describe(input: PageInput) -> Result<PackagePage, PluginError> {
    let version = &input.version;
    let dir = format!(
        "{}/{}/{}",
        input.base_url,
        encode_segment(&input.pkg.name),
        encode_segment(&version.version)
    );
    let downloads: Vec<String> = version
        .files
        .iter()
        .take(MAX_DOWNLOADS)
        .map(|f| format!("curl -fLO '{dir}/{}'", encode_segment(&f.name)))
        .collect();
    let readme = READMES
        .iter()
        .find_map(|name| file_named(version, name))
        .map(|name| ReadmeSource::file(name, Markup::of_file_name(name)));
    let mut page = PackagePage::new().setup(
        "Upload a file",
        "shell",
        format!("curl --user USER:TOKEN --upload-file ./FILE '{dir}/FILE'"),
    );
    if !downloads.is_empty() {
        page = page.install("Download", "shell", downloads.join("\n"));
    }
    Ok(page.readme(readme))
}

#[cfg(test)]
mod tests {
    use insta::assert_snapshot;
    use wharf_plugin_sdk::testing::{file, page_input, page_snapshot, version};

    #[test]
    fn page() {
        let files = vec![file("tool v1.tar.gz", 10, "ab"), file("readme.md", 3, "cd")];
        let input = page_input("generic", "tool", version("1.0", "{}", files));
        assert_snapshot!(page_snapshot(&super::describe(input).unwrap()));
    }
}
