//! The format's part of a package page, as the templates show it: setup and install
//! snippets, the fields the plugin picked, and the README turned into safe HTML. The
//! plugin describes it through the contract (`registry::presentation`); everything in
//! it comes from the package's publisher, so text is escaped by the templates and the
//! README sanitized here. A plugin that fails is shown as "not available", never as
//! a failed page.

use super::markdown;

/// A block of text to copy.
pub struct Snippet {
    pub title: String,
    pub language: String,
    pub code: String,
}

/// One field's value as shown.
pub enum Value {
    Text(String),
    /// An `http(s)` URL, shown as a link to itself.
    Link(String),
    Items(Vec<String>),
    /// (name, requirement) pairs, such as dependencies.
    Pairs(Vec<(String, String)>),
}

pub struct Field {
    pub label: String,
    pub value: Value,
}

/// What the format says about one version.
#[derive(Default)]
pub struct Section {
    pub setup: Vec<Snippet>,
    pub install: Vec<Snippet>,
    pub fields: Vec<Field>,
    /// Sanitized HTML.
    pub readme: Option<String>,
    /// Why the format's part is missing, when it failed.
    pub unavailable: Option<String>,
}

impl Section {
    /// The page's section when the plugin could not describe the package.
    pub fn unavailable(why: &str) -> Self {
        Self {
            unavailable: Some(why.to_string()),
            ..Self::default()
        }
    }

    /// Sets the README from the package's raw text.
    pub fn with_readme(mut self, text: &str, is_markdown: bool) -> Self {
        self.readme = Some(markdown::readme_html(text, is_markdown));
        self
    }

    /// The field labelled `label` (any case), as text: the page's summary line.
    pub fn text_of(&self, label: &str) -> Option<&str> {
        self.fields.iter().find_map(|f| match &f.value {
            Value::Text(text) if f.label.eq_ignore_ascii_case(label) => Some(text.as_str()),
            _ => None,
        })
    }
}
