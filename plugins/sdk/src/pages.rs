//! Writing the optional `pages` export (contract 0.3.2): what the web UI shows of a
//! package, in the format's own words. A format implements [`crate::Pages`] with
//! [`impl_pages!`](crate::impl_pages) and exports it with `export!(Fmt with Pages)`;
//! [`PackagePage`]'s builders keep a `describe` to the facts it shows.
//!
//! Everything here is text the host escapes; a README in Markdown is rendered and
//! sanitized by the host. Links must be absolute `http`/`https` URLs, or the host shows
//! them as text.

use crate::{
    Field, FieldValue, Markup, PackagePage, PageInput, Pages, PluginError, ReadmeFile,
    ReadmeSource, ReadmeText, Snippet, VersionDetail,
};

/// Implements [`Pages`](crate::Pages) for a format type: `supports-pages` answers true,
/// and `describe` calls `$describe`, a function or closure (without captures) taking
/// the contract's [`PageInput`]: `wharf_plugin_sdk::impl_pages!(Npm, pages::describe);`.
/// Like [`impl_proxy!`](crate::impl_proxy), it writes the impl block a format would
/// otherwise write by hand, no more.
#[macro_export]
macro_rules! impl_pages {
    ($ty:ty, $describe:expr $(,)?) => {
        impl $crate::Pages for $ty {
            fn supports_pages() -> bool {
                true
            }
            fn describe(
                input: $crate::PageInput,
            ) -> ::core::result::Result<$crate::PackagePage, $crate::PluginError> {
                let describe: fn(
                    $crate::PageInput,
                ) -> ::core::result::Result<
                    $crate::PackagePage,
                    $crate::PluginError,
                > = $describe;
                describe(input)
            }
        }
    };
}

/// The `pages` export of a format that does not describe its packages: their pages show
/// what the host stores only.
pub struct NoPages;

impl Pages for NoPages {
    fn supports_pages() -> bool {
        false
    }
    fn describe(_: PageInput) -> Result<PackagePage, PluginError> {
        Err(crate::not_supported("package pages"))
    }
}

#[expect(
    clippy::derivable_impls,
    reason = "a generated type: the bindings can derive Default for every type or none"
)]
impl Default for PackagePage {
    fn default() -> Self {
        Self {
            setup: Vec::new(),
            install: Vec::new(),
            fields: Vec::new(),
            readme: None,
        }
    }
}

/// Builders: each adds one part, and a field without a value is left out, so a
/// `describe` can name every field its metadata may have.
impl PackagePage {
    pub fn new() -> Self {
        Self::default()
    }

    /// A client setup snippet (`~/.npmrc`, `settings.xml`).
    pub fn setup(mut self, title: &str, language: &str, code: impl Into<String>) -> Self {
        self.setup.push(snippet(title, language, code));
        self
    }

    /// An install snippet (`npm install x@1.2.3`, a `<dependency>` block).
    pub fn install(mut self, title: &str, language: &str, code: impl Into<String>) -> Self {
        self.install.push(snippet(title, language, code));
        self
    }

    /// A text field, left out when the value is absent or blank.
    pub fn text(self, label: &str, value: Option<&str>) -> Self {
        match value.map(str::trim).filter(|v| !v.is_empty()) {
            Some(v) => self.field(label, FieldValue::Text(v.to_string())),
            None => self,
        }
    }

    /// A link field, left out when absent or blank; shown as text by the host unless it
    /// is an absolute `http`/`https` URL.
    pub fn link(self, label: &str, url: Option<&str>) -> Self {
        match url.map(str::trim).filter(|v| !v.is_empty()) {
            Some(v) => self.field(label, FieldValue::Link(v.to_string())),
            None => self,
        }
    }

    /// A list field (keywords, authors), left out when empty.
    pub fn items(self, label: &str, items: Vec<String>) -> Self {
        match items.is_empty() {
            true => self,
            false => self.field(label, FieldValue::Items(items)),
        }
    }

    /// A field of named values (dependencies and their requirements), left out when
    /// empty.
    pub fn pairs(self, label: &str, pairs: Vec<(String, String)>) -> Self {
        match pairs.is_empty() {
            true => self,
            false => self.field(label, FieldValue::Pairs(pairs)),
        }
    }

    pub fn field(mut self, label: &str, value: FieldValue) -> Self {
        self.fields.push(Field {
            label: label.to_string(),
            value,
        });
        self
    }

    pub fn readme(mut self, readme: Option<ReadmeSource>) -> Self {
        self.readme = readme;
        self
    }
}

fn snippet(title: &str, language: &str, code: impl Into<String>) -> Snippet {
    Snippet {
        title: title.to_string(),
        language: language.to_string(),
        code: code.into(),
    }
}

impl ReadmeSource {
    /// README text in `markup`; `None` when it is absent or blank.
    pub fn text(markup: Markup, text: Option<&str>) -> Option<Self> {
        let text = text.filter(|t| !t.trim().is_empty())?;
        Some(Self::Text(ReadmeText {
            markup,
            text: text.to_string(),
        }))
    }

    /// The version's file `name`, which holds the README whole.
    pub fn file(name: &str, markup: Markup) -> Self {
        Self::File(ReadmeFile {
            name: name.to_string(),
            markup,
        })
    }
}

impl Markup {
    /// Markdown for a name ending `.md` or `.markdown` (any case), else plain text.
    pub fn of_file_name(name: &str) -> Self {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".md") || lower.ends_with(".markdown") {
            Self::Markdown
        } else {
            Self::Plain
        }
    }
}

/// The version's file with this name, in any case (a README a publisher uploaded or a
/// plugin stored beside the package).
pub fn file_named<'a>(version: &'a VersionDetail, name: &str) -> Option<&'a str> {
    version
        .files
        .iter()
        .find(|f| f.name.eq_ignore_ascii_case(name))
        .map(|f| f.name.as_str())
}

/// The host and port of an absolute URL (`https://pkgs.example.com:8443/v2` →
/// `pkgs.example.com:8443`): what `docker login` and image references name. Anything
/// but an http(s) URL is returned as it is.
pub fn authority(url: &str) -> &str {
    crate::upstream::origin(url)
        .and_then(|origin| origin.split_once("://"))
        .map_or(url, |(_, authority)| authority)
}

/// A version's stored metadata JSON, read for a page: a damaged document reads as
/// empty, and a value of another type than asked for as absent, so a page shows what
/// it can instead of failing.
#[cfg(feature = "json")]
pub struct Metadata(serde_json::Value);

#[cfg(feature = "json")]
impl Metadata {
    pub fn parse(json: &str) -> Self {
        Self(serde_json::from_str(json).unwrap_or(serde_json::Value::Null))
    }

    /// The whole document.
    pub fn value(&self) -> &serde_json::Value {
        &self.0
    }

    /// A string member.
    pub fn text(&self, key: &str) -> Option<&str> {
        self.0.get(key)?.as_str()
    }

    /// The strings of an array member (other items skipped).
    pub fn strings(&self, key: &str) -> Vec<String> {
        let items = self.0.get(key).and_then(|v| v.as_array());
        items
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    }

    /// The members of an object member as (name, string value, else empty), in name
    /// order (npm's `dependencies`).
    pub fn pairs(&self, key: &str) -> Vec<(String, String)> {
        let members = self.0.get(key).and_then(|v| v.as_object());
        members
            .into_iter()
            .flatten()
            .map(|(name, v)| (name.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    #[test]
    fn blank_fields_are_left_out() {
        let page = PackagePage::new()
            .text("License", Some("MIT"))
            .text("Description", Some("  "))
            .link("Homepage", None)
            .items("Keywords", Vec::new())
            .pairs("Dependencies", vec![("a".into(), "^1".into())]);
        let labels: Vec<_> = page.fields.iter().map(|f| f.label.as_str()).collect();
        assert_eq!(labels, ["License", "Dependencies"]);
        assert_eq!(ReadmeSource::text(Markup::Markdown, Some("\n")), None);
    }

    #[test]
    fn urls_give_their_authority_and_files_their_markup() {
        assert_eq!(
            authority("https://pkgs.example.com:8443/v2"),
            "pkgs.example.com:8443"
        );
        assert_eq!(authority("http://wharf.test"), "wharf.test");
        assert_eq!(Markup::of_file_name("README.MD"), Markup::Markdown);
        assert_eq!(Markup::of_file_name("readme.txt"), Markup::Plain);
        let version = testing::version("1", "{}", vec![testing::file("ReadMe.md", 1, "ab")]);
        assert_eq!(file_named(&version, "readme.md"), Some("ReadMe.md"));
        assert_eq!(file_named(&version, "README"), None);
    }

    #[cfg(feature = "json")]
    #[test]
    fn metadata_reads_what_it_can() {
        let m = Metadata::parse(r#"{"a":"x","k":["p",1,"q"],"d":{"l":"^1","m":2},"n":3}"#);
        assert_eq!(
            (m.text("a"), m.text("n"), m.text("z")),
            (Some("x"), None, None)
        );
        assert_eq!(m.strings("k"), ["p", "q"]);
        assert_eq!(
            m.pairs("d"),
            [("l".into(), "^1".into()), ("m".into(), String::new())]
        );
        assert_eq!(Metadata::parse("not json").text("a"), None);
    }

    #[test]
    fn formats_without_pages_say_so() {
        assert!(!NoPages::supports_pages());
        let input = testing::page_input("test", "x", testing::version("1", "{}", Vec::new()));
        assert_eq!(NoPages::describe(input).unwrap_err().status, 501);
    }
}
