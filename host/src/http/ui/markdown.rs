//! A package's README as HTML: Markdown rendered by pulldown-cmark, then everything
//! (Markdown may carry raw HTML) cleaned by ammonia's allow-list, which drops scripts,
//! event handlers, styles and `javascript:` links, and marks links `noopener
//! noreferrer`. Plain text is escaped into a `<pre>`. The text is the package's, so
//! nothing of it is trusted.

use pulldown_cmark::{Options, Parser, html};

/// READMEs longer than this are cut (a page is not the place for a book, and the
/// render time stays bounded).
const MAX_CHARS: usize = 256 * 1024;

fn capped(text: &str) -> &str {
    match text.char_indices().nth(MAX_CHARS) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

/// Safe HTML for a README; `markdown` says whether the text is Markdown.
pub fn readme_html(text: &str, markdown: bool) -> String {
    let text = capped(text);
    if !markdown {
        return format!("<pre>{}</pre>", ammonia::clean_text(text));
    }
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES;
    let mut unsafe_html = String::with_capacity(text.len() * 3 / 2);
    html::push_html(&mut unsafe_html, Parser::new_ext(text, options));
    ammonia::Builder::default()
        .link_rel(Some("noopener noreferrer nofollow"))
        .clean(&unsafe_html)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_is_rendered_and_its_html_sanitized() {
        let html = readme_html(
            "# Title\n\n**bold** [ok](https://example.org) [bad](javascript:alert(1))\n\n\
             <script>alert(1)</script><img src=x onerror=alert(1)>\n\n| a |\n|---|\n| 1 |\n",
            true,
        );
        assert!(html.contains("<h1>Title</h1>"), "{html}");
        assert!(html.contains("<strong>bold</strong>"), "{html}");
        assert!(html.contains(r#"href="https://example.org""#), "{html}");
        assert!(html.contains("noopener"), "{html}");
        assert!(html.contains("<table>"), "{html}");
        for banned in ["<script", "onerror", "javascript:"] {
            assert!(!html.contains(banned), "{banned} in {html}");
        }
    }

    #[test]
    fn plain_text_is_escaped_and_long_text_cut() {
        assert_eq!(
            readme_html("<b>hi</b> & bye", false),
            "<pre>&lt;b&gt;hi&lt;&#47;b&gt;&#32;&amp;&#32;bye</pre>"
        );
        let long = "a".repeat(MAX_CHARS + 10);
        assert_eq!(capped(&long).len(), MAX_CHARS);
    }
}
