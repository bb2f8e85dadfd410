//! A package's README as HTML: Markdown rendered by pulldown-cmark, then everything
//! (Markdown may carry raw HTML) cleaned by ammonia's allow-list, which drops scripts,
//! event handlers, styles and `javascript:` links, and marks links `noopener
//! noreferrer`. Plain text is escaped into a `<pre>`. The text is the package's, so
//! nothing of it is trusted.
//!
//! The README sits under the page's own `h2`, so its headings move down to start at
//! `h3`: the page keeps one `h1` and its outline in order for screen readers.

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
        .clean(&nested_headings(&unsafe_html))
        .to_string()
}

/// The level the README's top headings take on the page.
const TOP_LEVEL: u8 = 3;

/// `html` with its headings' levels shifted so the highest one is [`TOP_LEVEL`]
/// (`h1`–`h6` of Markdown and of raw HTML alike, kept within `h1`–`h6`). A plain text
/// pass over the tags: what it may garble, ammonia's parse after it cleans.
fn nested_headings(html: &str) -> String {
    let tags = || heading_tags(html);
    let Some(top) = tags().map(|(_, level)| level).min() else {
        return html.to_string();
    };
    let mut out = String::with_capacity(html.len());
    let mut copied = 0;
    for (at, level) in tags() {
        let level = (level + TOP_LEVEL).saturating_sub(top).clamp(1, 6);
        out.push_str(&html[copied..at]);
        out.push((b'0' + level) as char);
        copied = at + 1;
    }
    out.push_str(&html[copied..]);
    out
}

/// Where the level digit of each `<hN` and `</hN` tag is, and the level.
fn heading_tags(html: &str) -> impl Iterator<Item = (usize, u8)> + '_ {
    let bytes = html.as_bytes();
    html.match_indices('<').filter_map(move |(at, _)| {
        let name = at + 1 + usize::from(bytes.get(at + 1) == Some(&b'/'));
        let digit = *bytes.get(name + 1)?;
        let ends = bytes
            .get(name + 2)
            .is_none_or(|b| !b.is_ascii_alphanumeric());
        let heading = bytes[name].eq_ignore_ascii_case(&b'h') && (b'1'..=b'6').contains(&digit);
        (heading && ends).then(|| (name + 1, digit - b'0'))
    })
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
        assert!(html.contains("<h3>Title</h3>"), "{html}");
        assert!(html.contains("<strong>bold</strong>"), "{html}");
        assert!(html.contains(r#"href="https://example.org""#), "{html}");
        assert!(html.contains("noopener"), "{html}");
        assert!(html.contains("<table>"), "{html}");
        for banned in ["<script", "onerror", "javascript:"] {
            assert!(!html.contains(banned), "{banned} in {html}");
        }
    }

    #[test]
    fn headings_nest_under_the_page_keeping_their_order() {
        let html = readme_html(
            "## Usage\n\n### Options\n\n<H2 align=\"center\">Raw</H2>\n\n\
             `<h2>` <hr>\n\n###### Deep\n",
            true,
        );
        for expected in [
            "<h3>Usage</h3>",
            "<h4>Options</h4>",
            "<h3>Raw</h3>",
            "<h6>Deep</h6>",
        ] {
            assert!(html.contains(expected), "{expected} in {html}");
        }
        assert!(
            html.contains("<code>&lt;h2&gt;</code>"),
            "code is text: {html}"
        );
        assert_eq!(nested_headings("<p>no headings</p>"), "<p>no headings</p>");
        assert_eq!(
            nested_headings("<h1>a</h1><h6>b</h6>"),
            "<h3>a</h3><h6>b</h6>"
        );
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
