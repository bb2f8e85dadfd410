//! XML helpers that refuse DTDs and entities.
//!
//! Package metadata in XML (a Maven POM, a NuGet nuspec) comes from any client, and
//! XML's dangerous parts are its DTD: entity declarations expand ("billion laughs")
//! and external entities read files or URLs (XXE). [`walk`] refuses them outright
//! instead of limiting them, which no real package document needs:
//!
//! - any `<!DOCTYPE …>` is an error ([`XmlError::Doctype`]), so nothing can declare
//!   an entity;
//! - only XML's five predefined entities (`&amp;` `&lt;` `&gt;` `&apos;` `&quot;`) and
//!   character references (`&#…;`) are resolved, in text and in attribute values; any
//!   other is an error ([`XmlError::Entity`]);
//! - elements nest at most [`MAX_DEPTH`] deep, so recursion in a handler is bounded;
//! - the document has exactly one root element, of the name the caller expects.
//!
//! The walk reports elements by their local names: a namespace's prefix and URI are
//! left out, so `<m:project xmlns:m="…">` and `<project xmlns="…">` read the same,
//! as do the schema versions of a format that differ only in namespace.
//!
//! Input is UTF-8; a UTF-8 byte order mark is skipped. A format that also allows
//! another encoding reads the declared one with [`declared_encoding`] and transcodes
//! before walking.
//!
//! Enable with the SDK's `xml` feature. A plugin implements [`Handler`] for a builder
//! of its format and maps an [`XmlError`] to its own 400:
//!
//! ```
//! use wharf_plugin_sdk::xml::{self, Attributes, Handler};
//!
//! #[derive(Default)]
//! struct Spec {
//!     id: String,
//!     dependencies: Vec<String>,
//! }
//!
//! impl Handler for Spec {
//!     fn start(&mut self, path: &[&str], attributes: &Attributes) {
//!         if let ["spec", "deps", "dep"] = path {
//!             self.dependencies.push(attributes.get("id").unwrap_or_default().to_string());
//!         }
//!     }
//!
//!     fn end(&mut self, path: &[&str], text: &str) {
//!         if let ["spec", "id"] = path {
//!             self.id = text.to_string();
//!         }
//!     }
//! }
//!
//! let doc = br#"<spec><id> demo </id><deps><dep id="a"/><dep id="b"/></deps></spec>"#;
//! let mut spec = Spec::default();
//! xml::walk(doc, "spec", &mut spec).unwrap();
//! assert_eq!(spec.id, "demo");
//! assert_eq!(spec.dependencies, ["a", "b"]);
//!
//! let bomb = br#"<!DOCTYPE spec [<!ENTITY x "xx">]><spec><id>&x;</id></spec>"#;
//! let err = xml::walk(bomb, "spec", &mut Spec::default()).unwrap_err();
//! assert_eq!(err, xml::XmlError::Doctype);
//! ```

use std::fmt;

use quick_xml::escape::{EscapeError, resolve_predefined_entity};
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::{Decoder, Reader};

/// Deepest element nesting [`walk`] accepts, the root counting as 1. Package metadata
/// needs a handful of levels; the bound keeps paths (and what handlers do with them)
/// small whatever the document.
pub const MAX_DEPTH: usize = 64;

/// Receives a document's elements from [`walk`], in document order.
///
/// `path` holds the local names of the open elements, root first and the element
/// itself last, so a handler matches exact places with slice patterns
/// (`["project", "dependencies", "dependency"]`) and an element of the same name
/// elsewhere does not count by mistake. Both methods do nothing by default.
pub trait Handler {
    /// An element opened, with its attributes.
    fn start(&mut self, _path: &[&str], _attributes: &Attributes) {}

    /// An element closed. `text` is its text with entities resolved and CDATA
    /// included, trimmed; for an element with children, only the text after its last
    /// child counts, as metadata formats keep text in leaf elements.
    fn end(&mut self, _path: &[&str], _text: &str) {}
}

/// An element's attributes by local name, values unescaped. Namespace declarations
/// (`xmlns`, `xmlns:…`) are left out: they bind prefixes, they are not data.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Attributes(Vec<(String, String)>);

impl Attributes {
    /// The value of the attribute with local name `name`, as written but unescaped
    /// (not trimmed). With the same local name under two prefixes, the first.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, value)| value)
    }

    /// (local name, value) pairs in document order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

/// Why [`walk`] refused a document. The `Display` text is a reason for the client,
/// meant to follow a prefix naming the document ("malformed POM: …").
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum XmlError {
    /// The document has a `<!DOCTYPE …>`, with or without entity declarations.
    Doctype,
    /// A reference to an entity other than the five predefined ones; the name.
    Entity(String),
    /// Not well-formed XML (or not UTF-8); what is wrong.
    Malformed(String),
    /// The document has no element at all.
    NoRoot { expected: String },
    /// The root element has another local name than the expected one.
    WrongRoot { expected: String, found: String },
    /// An element follows the root element.
    AfterRoot { root: String },
    /// Elements nest deeper than [`MAX_DEPTH`].
    TooDeep,
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Doctype => f.write_str("DTDs (<!DOCTYPE …>) are not allowed"),
            Self::Entity(name) => write!(f, "undeclared entity &{name};"),
            Self::Malformed(why) => f.write_str(why),
            Self::NoRoot { expected } => write!(f, "no <{expected}> element"),
            Self::WrongRoot { expected, found } => {
                write!(f, "the root element is <{found}>, not <{expected}>")
            }
            Self::AfterRoot { root } => write!(f, "content after the <{root}> element"),
            Self::TooDeep => write!(
                f,
                "elements are nested too deeply (more than {MAX_DEPTH} levels)"
            ),
        }
    }
}

impl std::error::Error for XmlError {}

/// Reads `bytes` as an XML document whose root element has local name `root`,
/// reporting its elements to `handler`; refuses what the [module](self) describes.
///
/// The handler may have seen part of a document that is then refused: discard what it
/// built when this returns an error.
pub fn walk(bytes: &[u8], root: &str, handler: &mut impl Handler) -> Result<(), XmlError> {
    let mut reader = Reader::from_reader(bytes);
    // `<a/>` then reaches the handler as a start and an end, like `<a></a>`.
    reader.config_mut().expand_empty_elements = true;
    let mut walker = Walker {
        root,
        handler,
        open: Vec::new(),
        text: String::new(),
        seen_root: false,
    };
    loop {
        let event = reader
            .read_event()
            .map_err(|e| syntax(e, reader.error_position()))?;
        // No catch-all arm: an event kind a later quick-xml adds must be judged here
        // before it compiles, not slip past the refusals.
        match event {
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::Start(start) => walker.start(&start, reader.decoder())?,
            Event::End(_) => walker.end(),
            Event::Text(text) => walker.push(&text.xml10_content().map_err(malformed)?),
            Event::CData(cdata) => walker.push(&cdata.decode().map_err(malformed)?),
            Event::GeneralRef(reference) => walker.push_reference(&reference)?,
            Event::Eof => return walker.finish(),
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::Empty(_) => {}
        }
    }
}

/// The encoding label of the XML declaration (`<?xml … encoding="…"?>`), as written;
/// `None` without a declaration or label. [`walk`] reads UTF-8 only, so a format that
/// accepts another encoding checks this first and transcodes.
pub fn declared_encoding(bytes: &[u8]) -> Option<String> {
    let Ok(Event::Decl(decl)) = Reader::from_reader(bytes).read_event() else {
        return None;
    };
    let label = decl.encoding()?.ok()?;
    String::from_utf8(label.into_owned()).ok()
}

/// The state of one [`walk`].
struct Walker<'a, H> {
    root: &'a str,
    handler: &'a mut H,
    /// Local names of the open elements, root first.
    open: Vec<String>,
    /// Text since the last tag: what [`Handler::end`] gets.
    text: String,
    seen_root: bool,
}

impl<H: Handler> Walker<'_, H> {
    fn start(&mut self, start: &BytesStart<'_>, decoder: Decoder) -> Result<(), XmlError> {
        let name = utf8(start.local_name().into_inner())?;
        if self.open.is_empty() {
            self.enter_root(name)?;
        }
        if self.open.len() == MAX_DEPTH {
            return Err(XmlError::TooDeep);
        }
        let attributes = attributes(start, decoder)?;
        self.open.push(name.to_string());
        self.handler.start(&path(&self.open), &attributes);
        self.text.clear();
        Ok(())
    }

    fn enter_root(&mut self, name: &str) -> Result<(), XmlError> {
        if self.seen_root {
            return Err(XmlError::AfterRoot {
                root: self.root.to_string(),
            });
        }
        if name != self.root {
            return Err(XmlError::WrongRoot {
                expected: self.root.to_string(),
                found: name.to_string(),
            });
        }
        self.seen_root = true;
        Ok(())
    }

    fn end(&mut self) {
        self.handler.end(&path(&self.open), self.text.trim());
        self.open.pop();
        self.text.clear();
    }

    fn push(&mut self, text: &str) {
        self.text.push_str(text);
    }

    /// Character references and the five predefined entities; any other entity would
    /// need a DTD to declare it, and DTDs are refused.
    fn push_reference(&mut self, reference: &BytesRef<'_>) -> Result<(), XmlError> {
        if let Some(c) = reference.resolve_char_ref().map_err(from_quick_xml)? {
            self.text.push(c);
            return Ok(());
        }
        let name = reference.decode().map_err(malformed)?;
        let value =
            resolve_predefined_entity(&name).ok_or_else(|| XmlError::Entity(name.into()))?;
        self.text.push_str(value);
        Ok(())
    }

    fn finish(self) -> Result<(), XmlError> {
        if !self.seen_root {
            return Err(XmlError::NoRoot {
                expected: self.root.to_string(),
            });
        }
        if !self.open.is_empty() {
            return Err(XmlError::Malformed(
                "the document ends inside an element".into(),
            ));
        }
        Ok(())
    }
}

/// The open elements as the `&[&str]` handlers match on.
fn path(open: &[String]) -> Vec<&str> {
    open.iter().map(String::as_str).collect()
}

fn attributes(start: &BytesStart<'_>, decoder: Decoder) -> Result<Attributes, XmlError> {
    let mut attributes = Vec::new();
    for attribute in start.attributes() {
        let attribute = attribute.map_err(malformed)?;
        if attribute.key.as_namespace_binding().is_some() {
            continue;
        }
        let name = utf8(attribute.key.local_name().into_inner())?;
        // Resolves the same references as text does and refuses any other entity.
        let value = attribute
            .decode_and_unescape_value(decoder)
            .map_err(from_quick_xml)?;
        attributes.push((name.to_string(), value.into_owned()));
    }
    Ok(Attributes(attributes))
}

fn utf8(name: &[u8]) -> Result<&str, XmlError> {
    std::str::from_utf8(name).map_err(|_| XmlError::Malformed("invalid UTF-8 in a name".into()))
}

/// A reader error, with where it stopped: the offset helps find it in a large file.
fn syntax(error: quick_xml::Error, position: u64) -> XmlError {
    XmlError::Malformed(format!("{error} (near byte {position})"))
}

fn from_quick_xml(error: quick_xml::Error) -> XmlError {
    match error {
        quick_xml::Error::Escape(EscapeError::UnrecognizedEntity(_, name)) => {
            XmlError::Entity(name)
        }
        other => malformed(other),
    }
}

fn malformed(error: impl fmt::Display) -> XmlError {
    XmlError::Malformed(error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every call, as text, to compare a walk with what is expected of it.
    #[derive(Default)]
    struct Log(Vec<String>);

    impl Handler for Log {
        fn start(&mut self, path: &[&str], attributes: &Attributes) {
            let attributes: Vec<String> = attributes
                .iter()
                .map(|(n, v)| format!(" {n}={v}"))
                .collect();
            self.0
                .push(format!("start {}{}", path.join("/"), attributes.concat()));
        }

        fn end(&mut self, path: &[&str], text: &str) {
            self.0.push(format!("end {} {text:?}", path.join("/")));
        }
    }

    fn log(doc: &str) -> Vec<String> {
        let mut log = Log::default();
        walk(doc.as_bytes(), "r", &mut log).unwrap();
        log.0
    }

    fn refused(doc: impl AsRef<[u8]>) -> XmlError {
        walk(doc.as_ref(), "r", &mut Log::default()).unwrap_err()
    }

    #[test]
    fn elements_reach_the_handler_with_paths_attributes_and_trimmed_text() {
        let doc = r#"<?xml version="1.0"?><!-- c --><?pi x?>
            <r a="1"> <x>  one &amp; &#x263A;&#65; <![CDATA[<two>]]> </x><y/>tail </r>"#;
        assert_eq!(
            log(doc),
            [
                "start r a=1",
                "start r/x",
                "end r/x \"one & \u{263A}A <two>\"",
                "start r/y",
                "end r/y \"\"",
                "end r \"tail\"",
            ]
        );
    }

    #[test]
    fn names_are_local_and_namespace_declarations_are_not_attributes() {
        let doc =
            r#"<p:r xmlns:p="urn:p" xmlns="urn:d"><p:x p:id="a" id="b" q="&lt;&#33;"/></p:r>"#;
        assert_eq!(
            log(doc),
            [
                "start r",
                "start r/x id=a id=b q=<!",
                "end r/x \"\"",
                "end r \"\""
            ]
        );
        let mut attributes = Attributes::default();
        attributes.0.push(("id".into(), " a ".into()));
        assert_eq!(attributes.get("id"), Some(" a "));
        assert_eq!(attributes.get("other"), None);
    }

    #[test]
    fn dtds_are_refused_whatever_they_declare() {
        let billion_laughs = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol9 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<r>&lol9;</r>"#;
        let xxe = r#"<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><r>&xxe;</r>"#;
        let parameter = r#"<!DOCTYPE r [<!ENTITY % p SYSTEM "http://example.com/p.dtd"> %p;]><r/>"#;
        for doc in [billion_laughs, xxe, parameter, "<!DOCTYPE r><r/>"] {
            assert_eq!(refused(doc), XmlError::Doctype, "{doc}");
        }
        assert!(XmlError::Doctype.to_string().contains("DTD"));
    }

    #[test]
    fn only_predefined_entities_and_character_references_are_resolved() {
        assert_eq!(
            log("<r>&lt;&gt;&amp;&apos;&quot;&#60;&#x3C;</r>")[1],
            "end r \"<>&'\\\"<<\""
        );
        let entity = XmlError::Entity("xxe".into());
        assert_eq!(refused("<r>&xxe;</r>"), entity);
        assert_eq!(refused(r#"<r a="&xxe;"/>"#), entity);
        assert_eq!(entity.to_string(), "undeclared entity &xxe;");
        // A declaration outside a DOCTYPE is not XML at all.
        assert!(matches!(
            refused(r#"<r><!ENTITY a "b"></r>"#),
            XmlError::Malformed(_)
        ));
    }

    #[test]
    fn nesting_is_bounded() {
        let nested = |depth: usize| {
            format!(
                "<r>{}{}</r>",
                "<a>".repeat(depth - 1),
                "</a>".repeat(depth - 1)
            )
        };
        assert_eq!(log(&nested(MAX_DEPTH)).len(), 2 * MAX_DEPTH);
        assert_eq!(refused(nested(MAX_DEPTH + 1)), XmlError::TooDeep);
        assert!(refused(nested(1000)).to_string().contains("too deeply"));
    }

    #[test]
    fn the_root_is_checked() {
        let no_root = XmlError::NoRoot {
            expected: "r".into(),
        };
        for doc in [
            "",
            "not xml",
            "<!-- only a comment -->",
            "<?xml version='1.0'?>",
        ] {
            assert_eq!(refused(doc), no_root, "{doc}");
        }
        assert_eq!(no_root.to_string(), "no <r> element");
        let wrong = refused("<s/>");
        assert_eq!(wrong.to_string(), "the root element is <s>, not <r>");
        let after = refused("<r/><r/>");
        assert_eq!(after, XmlError::AfterRoot { root: "r".into() });
        assert_eq!(after.to_string(), "content after the <r> element");
    }

    #[test]
    fn malformed_documents_say_why() {
        for doc in [
            "<r><a>x</b></r>",
            "<r><a>",
            "<r a='1' a='2'/>",
            "<r a=1/>",
            "<r>&#0;</r>",
            "<r>&bogus</r>",
            "</r>",
        ] {
            let XmlError::Malformed(why) = refused(doc) else {
                panic!("{doc}: not reported as malformed");
            };
            assert!(!why.is_empty(), "{doc}");
        }
        assert!(
            refused("<r><a>")
                .to_string()
                .contains("ends inside an element")
        );
        for invalid_utf8 in [&b"<r>\xff</r>"[..], b"<\xff/>", b"<r \xff='1'/>"] {
            assert!(matches!(refused(invalid_utf8), XmlError::Malformed(_)));
        }
    }

    #[test]
    fn a_utf8_byte_order_mark_is_skipped() {
        let mut doc = b"\xef\xbb\xbf".to_vec();
        doc.extend_from_slice(b"<?xml version='1.0'?><r>x</r>");
        let mut log = Log::default();
        walk(&doc, "r", &mut log).unwrap();
        assert_eq!(log.0, ["start r", "end r \"x\""]);
        assert_eq!(declared_encoding(&doc), None);
    }

    #[test]
    fn the_declared_encoding_is_read_as_written() {
        let declared = |doc: &str| declared_encoding(doc.as_bytes());
        assert_eq!(
            declared("<?xml version='1.0' encoding='ISO-8859-1'?><r/>").as_deref(),
            Some("ISO-8859-1")
        );
        assert_eq!(
            declared("\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><r/>").as_deref(),
            Some("utf-8")
        );
        assert_eq!(declared("<?xml version='1.0'?><r/>"), None);
        assert_eq!(declared("<r/>"), None);
        assert_eq!(
            declared(" <?xml version='1.0' encoding='latin1'?><r/>"),
            None
        );
    }
}
