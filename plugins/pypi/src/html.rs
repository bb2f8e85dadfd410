//! Reads the anchors of an upstream simple page (PEP 503): each `<a>` with its
//! attributes and text, character references decoded, as an HTML5 tokenizer reads
//! them (quoted or bare attribute values, the first of repeated attributes, names in
//! any case). Comments, `<!…>` declarations and the raw text of `<script>`, `<style>`,
//! `<title>` and `<textarea>` are skipped, so an anchor written inside them does not
//! count.
//!
//! A scanner rather than a full HTML parser: simple pages are generated, flat lists of
//! anchors (PyPI's, pypiserver's, devpi's, Wharf's own), and only anchors matter, so
//! the tree building and the large entity tables of a parser crate would be dead
//! weight in the component.

/// One `<a>` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    /// Lower-case names and decoded values, in document order, without repeats.
    pub attributes: Vec<(String, String)>,
    /// The text inside, tags removed, references decoded, white space trimmed.
    pub text: String,
}

impl Anchor {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Elements whose content is text up to their end tag.
const RAW_TEXT: [&str; 4] = ["script", "style", "title", "textarea"];

/// The anchors of `html`, in document order.
pub fn anchors(html: &str) -> Vec<Anchor> {
    let mut found = Vec::new();
    // The open anchor and where its content starts.
    let mut open: Option<(Vec<(String, String)>, usize)> = None;
    let mut close = |open: &mut Option<(Vec<(String, String)>, usize)>, end: usize| {
        if let Some((attributes, start)) = open.take() {
            found.push(Anchor {
                attributes,
                text: decode(&strip_tags(&html[start..end])).trim().to_string(),
            });
        }
    };
    let mut at = 0;
    while let Some(offset) = html[at..].find('<') {
        let lt = at + offset;
        let rest = &html[lt..];
        if let Some(comment) = rest.strip_prefix("<!--") {
            at = comment
                .find("-->")
                .map_or(html.len(), |end| lt + 4 + end + 3);
        } else if rest.starts_with("<!") || rest.starts_with("<?") {
            at = rest.find('>').map_or(html.len(), |end| lt + end + 1);
        } else if let Some(after) = rest.strip_prefix("</") {
            let name = tag_name(after);
            if name == "a" {
                close(&mut open, lt);
            }
            at = rest.find('>').map_or(html.len(), |end| lt + end + 1);
        } else if rest[1..].starts_with(|c: char| c.is_ascii_alphabetic()) {
            let name = tag_name(&rest[1..]);
            let (attributes, end) = attributes(html, lt + 1 + name.len());
            at = end;
            if name == "a" {
                close(&mut open, lt);
                open = Some((attributes, end));
            } else if RAW_TEXT.contains(&name.as_str()) {
                at = raw_text_end(html, end, &name);
            }
        } else {
            at = lt + 1;
        }
    }
    close(&mut open, html.len());
    found
}

/// The lower-case name of the tag starting at `text`.
fn tag_name(text: &str) -> String {
    text.chars()
        .take_while(|c| !c.is_ascii_whitespace() && !matches!(c, '/' | '>'))
        .collect::<String>()
        .to_ascii_lowercase()
}

/// The attributes of the tag whose name ends at `at`, and where the tag ends.
fn attributes(html: &str, mut at: usize) -> (Vec<(String, String)>, usize) {
    let bytes = html.as_bytes();
    let mut found: Vec<(String, String)> = Vec::new();
    loop {
        while at < bytes.len() && (bytes[at].is_ascii_whitespace() || bytes[at] == b'/') {
            at += 1;
        }
        if at >= bytes.len() {
            return (found, bytes.len());
        }
        if bytes[at] == b'>' {
            return (found, at + 1);
        }
        let start = at;
        at += 1;
        while at < bytes.len() && !bytes[at].is_ascii_whitespace() && !b"/>=".contains(&bytes[at]) {
            at += 1;
        }
        let name = html[start..at].to_ascii_lowercase();
        while at < bytes.len() && bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        let mut value = String::new();
        if at < bytes.len() && bytes[at] == b'=' {
            at += 1;
            while at < bytes.len() && bytes[at].is_ascii_whitespace() {
                at += 1;
            }
            let (raw, end) = match bytes.get(at) {
                Some(&quote @ (b'"' | b'\'')) => match html[at + 1..].find(quote as char) {
                    Some(len) => (&html[at + 1..at + 1 + len], at + 1 + len + 1),
                    None => (&html[at + 1..], bytes.len()),
                },
                _ => {
                    let len = html[at..]
                        .find(|c: char| c.is_ascii_whitespace() || c == '>')
                        .unwrap_or(html.len() - at);
                    (&html[at..at + len], at + len)
                }
            };
            value = decode(raw);
            at = end;
        }
        if !found.iter().any(|(n, _)| *n == name) {
            found.push((name, value));
        }
    }
}

/// Where the raw text of element `name`, starting at `at`, ends (after its end tag).
fn raw_text_end(html: &str, at: usize, name: &str) -> usize {
    let lower = html[at..].to_ascii_lowercase();
    let end_tag = format!("</{name}");
    match lower.find(&end_tag) {
        Some(offset) => {
            let tag = at + offset;
            html[tag..]
                .find('>')
                .map_or(html.len(), |end| tag + end + 1)
        }
        None => html.len(),
    }
}

/// `text` without its tags (an anchor's content may hold markup).
fn strip_tags(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// Decodes character references: numeric ones and the named ones generated pages use;
/// any other `&` stays as it is, as HTML5 leaves unknown references.
pub fn decode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        match reference(rest) {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The character `&…;` at the start of `text` stands for, and its length.
fn reference(text: &str) -> Option<(char, usize)> {
    let end = text.find(';')?;
    let body = &text[1..end];
    let c = if let Some(number) = body.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => number.parse().ok()?,
        };
        char::from_u32(code)
            .filter(|c| *c != '\0')
            .unwrap_or('\u{fffd}')
    } else {
        match body {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            "nbsp" => '\u{a0}',
            _ => return None,
        }
    };
    Some((c, end + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(anchor: &Anchor) -> Vec<(&str, &str)> {
        anchor
            .attributes
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn anchors_with_their_attributes_and_text() {
        let html = "<!DOCTYPE html><html><head><title>Links for <a>x</a></title></head><body>\n\
            <h1>Links for frob</h1>\n\
            <A HREF=\"../../packages/frob-1.0.tar.gz#sha256=ab\" data-requires-python=\"&gt;=3.8, &lt;4\">frob-1.0.tar.gz</A><br/>\n\
            <a href='/f/frob-1.1.whl' data-yanked>frob-1.1.whl</a>\n\
            <a href=bare.whl data-dist-info-metadata=sha256=cd data-core-metadata=\"true\" href=\"ignored\"><span>bare</span>.whl</a>\n\
            </body></html>";
        let found = anchors(html);
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!(
            pairs(&found[0]),
            [
                ("href", "../../packages/frob-1.0.tar.gz#sha256=ab"),
                ("data-requires-python", ">=3.8, <4")
            ]
        );
        assert_eq!(found[0].text, "frob-1.0.tar.gz");
        assert_eq!(
            pairs(&found[1]),
            [("href", "/f/frob-1.1.whl"), ("data-yanked", "")]
        );
        assert_eq!(
            pairs(&found[2]),
            [
                ("href", "bare.whl"),
                ("data-dist-info-metadata", "sha256=cd"),
                ("data-core-metadata", "true")
            ]
        );
        assert_eq!(found[2].text, "bare.whl");
        assert_eq!(found[2].get("data-core-metadata"), Some("true"));
    }

    #[test]
    fn comments_scripts_and_broken_markup() {
        let html = "<!-- <a href=\"no\">no</a> --><script>var s = '<a href=\"no\">';</script>\
            <a href=\"yes\">one<a href=\"two\">two</a> 1 < 2 <a href=\"open";
        let found = anchors(html);
        let hrefs: Vec<_> = found.iter().map(|a| a.get("href").unwrap()).collect();
        assert_eq!(hrefs, ["yes", "two", "open"]);
        assert_eq!(found[0].text, "one");
        assert_eq!(anchors("<!-- unterminated <a href=x>"), []);
        assert_eq!(anchors(""), []);
        assert_eq!(
            anchors("<a"),
            [Anchor {
                attributes: vec![],
                text: String::new()
            }]
        );
    }

    #[test]
    fn references() {
        assert_eq!(
            decode("a&amp;b&lt;&gt;&quot;&apos;&#39;&#x27;&#X41;"),
            "a&b<>\"'''A"
        );
        assert_eq!(
            decode("&unknown; & &amp &#xZZ; &#0;"),
            "&unknown; & &amp &#xZZ; \u{fffd}"
        );
    }
}
