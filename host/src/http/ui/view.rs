//! The format's part of a package page, as the templates show it: setup and install
//! snippets, the fields the plugin picked, and the README turned into safe HTML. The
//! plugin describes it through the contract (`registry::presentation`); everything in
//! it comes from the package's publisher, so text is escaped by the templates and the
//! README sanitized here. A plugin that fails is shown as "not available", never as
//! a failed page.

use super::markdown;
pub use crate::registry::presentation::{Field, FieldValue, PackageView, Snippet};

/// What the format says about one version.
#[derive(Default)]
pub struct Section {
    pub setup: Vec<Snippet>,
    pub install: Vec<Snippet>,
    /// The plugin's "Description" field, shown under the title instead of beside it.
    pub description: Option<String>,
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
}

impl From<PackageView> for Section {
    fn from(view: PackageView) -> Self {
        let mut fields = view.fields;
        let described = fields.iter().position(|f| {
            f.label.eq_ignore_ascii_case("description") && matches!(f.value, FieldValue::Text(_))
        });
        let description = described.map(|at| match fields.remove(at).value {
            FieldValue::Text(text) => text,
            _ => unreachable!("matched as text above"),
        });
        Self {
            setup: view.setup,
            install: view.install,
            description,
            fields,
            readme: view
                .readme
                .map(|r| markdown::readme_html(&r.text, r.markdown)),
            unavailable: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::presentation::Readme;

    #[test]
    fn the_description_leaves_the_fields_and_the_readme_is_sanitized() {
        let text = |label: &str, value: &str| Field {
            label: label.into(),
            value: FieldValue::Text(value.into()),
        };
        let view = PackageView {
            version: "1.0".into(),
            setup: vec![],
            install: vec![],
            fields: vec![text("License", "MIT"), text("Description", "<b>hi</b>")],
            readme: Some(Readme {
                markdown: true,
                text: "# T\n<script>x()</script>".into(),
            }),
        };
        let section = Section::from(view);
        assert_eq!(
            section.description.as_deref(),
            Some("<b>hi</b>"),
            "raw: escaped later"
        );
        assert_eq!(section.fields.len(), 1);
        let readme = section.readme.unwrap();
        assert!(
            readme.contains("<h3>T</h3>") && !readme.contains("<script"),
            "{readme}"
        );
    }
}
