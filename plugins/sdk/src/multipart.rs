//! Reading `multipart/form-data` bodies (RFC 7578, RFC 2046 §5.1) that the host has
//! already stored.
//!
//! An upload may be hundreds of MiB, so it is never copied into the guest: delimiters
//! are located with the host's search ([`UploadBody::find`]) and only part headers and the
//! small text fields a plugin asks for are read. A file part is a [`ByteRange`] of the
//! upload, which a publish plan hands back to the host as a
//! [`FileSource::Slice`](crate::FileSource::Slice), so its bytes go from the request
//! body to the blob store without passing through the plugin.
//!
//! [`Form::read`] is the usual entry point: every part without a file name becomes a
//! text field, every part with one a [`Part`] whose range the plugin keeps. [`parts`]
//! walks the parts one by one for plugins that want to decide per part, and
//! [`find_part`] finds a single named part (NuGet's `package`).

use crate::{ByteRange, PluginError, UploadBody};

/// RFC 2046 limits a boundary to 70 characters.
const MAX_BOUNDARY: usize = 70;

/// Largest header block of one part; real ones are two or three short lines.
const MAX_PART_HEADERS: u64 = 16 << 10;

/// The boundary of a multipart `content-type`, quoted or not; `None` when the body is
/// not multipart. A multipart type without a usable boundary is a 400: the body cannot
/// be split without it.
pub fn boundary(content_type: &str) -> Result<Option<String>, PluginError> {
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    if !media_type
        .get(.."multipart/".len())
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("multipart/"))
    {
        return Ok(None);
    }
    let Some(boundary) = parameter(content_type, "boundary") else {
        return Err(PluginError::bad_request(
            "the multipart content type names no boundary",
        ));
    };
    let usable = (1..=MAX_BOUNDARY).contains(&boundary.len())
        && !boundary.contains(['\r', '\n'])
        && !boundary.ends_with(' ');
    if !usable {
        return Err(PluginError::bad_request(format!(
            "the multipart boundary {boundary:?} is not valid"
        )));
    }
    Ok(Some(boundary))
}

/// One part of a multipart body: its `Content-Disposition` names and where its content is.
#[derive(Debug, Clone)]
pub struct Part {
    /// The form field (`name=`); empty when the part has none.
    pub name: String,
    /// The file name (`filename=`) of a file part; `None` for a text field.
    pub filename: Option<String>,
    /// The part's own `Content-Type`, if it has one.
    pub content_type: Option<String>,
    /// The content: after the blank line ending the part's headers, up to (not
    /// including) the CRLF before the next delimiter.
    pub range: ByteRange,
}

impl Part {
    /// The content as UTF-8 text; a 400 naming the field when it is longer than `max`
    /// bytes or not UTF-8.
    pub fn text<B: UploadBody + ?Sized>(&self, body: &B, max: u32) -> Result<String, PluginError> {
        if self.range.length > u64::from(max) {
            return Err(PluginError::bad_request(format!(
                "the form field \"{}\" is longer than {max} bytes",
                self.name
            )));
        }
        let bytes = read_exact(body, self.range.offset, self.range.length as u32)?;
        String::from_utf8(bytes).map_err(|_| {
            PluginError::bad_request(format!(
                "the form field \"{}\" is not UTF-8 text",
                self.name
            ))
        })
    }
}

/// The parts of a multipart body, in order. Each item is a part or the error that
/// ends the walk: a body that ends inside a part, or without its closing delimiter,
/// is malformed (a cut-off upload must not pass for a shorter one).
pub fn parts<'a, B: UploadBody + ?Sized>(body: &'a B, boundary: &str) -> Parts<'a, B> {
    Parts {
        body,
        delimiter: format!("--{boundary}").into_bytes(),
        next: None,
        done: false,
    }
}

/// Iterator returned by [`parts`].
pub struct Parts<'a, B: ?Sized> {
    body: &'a B,
    delimiter: Vec<u8>,
    /// Offset of the delimiter that opens the next part; `None` before the first.
    next: Option<u64>,
    done: bool,
}

impl<B: UploadBody + ?Sized> Parts<'_, B> {
    fn next_part(&mut self) -> Result<Option<Part>, PluginError> {
        let at = match self.next {
            Some(at) => at,
            None => self.first_delimiter()?,
        };
        let after = at + self.delimiter.len() as u64;
        if self.body.read(after, 2) == b"--" {
            return Ok(None); // the closing delimiter
        }
        // Transport padding (spaces, tabs) may follow a delimiter before its CRLF.
        let line_end = self.body.find(after, b"\r\n").ok_or_else(truncated)?;
        if line_end - after > 256
            || !self
                .body
                .read(after, (line_end - after) as u32)
                .iter()
                .all(|b| *b == b' ' || *b == b'\t')
        {
            return Err(malformed("a delimiter line has text after the boundary"));
        }
        // Searching from the delimiter line's own CRLF also finds an empty header block.
        let headers_end = self
            .body
            .find(line_end, b"\r\n\r\n")
            .ok_or_else(truncated)?;
        if headers_end - line_end > MAX_PART_HEADERS {
            return Err(malformed("the part headers are too long"));
        }
        let headers = self
            .body
            .read(line_end + 2, (headers_end - line_end) as u32);
        if contains(&headers, &self.delimiter) {
            return Err(malformed("a part has no blank line after its headers"));
        }
        let start = headers_end + 4;
        let mut closing = b"\r\n".to_vec();
        closing.extend_from_slice(&self.delimiter);
        let end = self.body.find(start, &closing).ok_or_else(truncated)?;
        self.next = Some(end + 2);
        let headers = String::from_utf8_lossy(&headers);
        let disposition = header(&headers, "content-disposition").unwrap_or_default();
        Ok(Some(Part {
            name: parameter(disposition, "name").unwrap_or_default(),
            filename: parameter(disposition, "filename"),
            content_type: header(&headers, "content-type").map(|v| v.trim().to_string()),
            range: ByteRange {
                offset: start,
                length: end - start,
            },
        }))
    }

    /// The first delimiter: at the very start, or after a preamble's CRLF.
    fn first_delimiter(&self) -> Result<u64, PluginError> {
        if self.body.read(0, self.delimiter.len() as u32) == self.delimiter {
            return Ok(0);
        }
        let mut line = b"\r\n".to_vec();
        line.extend_from_slice(&self.delimiter);
        self.body.find(0, &line).map(|at| at + 2).ok_or_else(|| {
            malformed(&format!(
                "no {} line",
                String::from_utf8_lossy(&self.delimiter)
            ))
        })
    }
}

impl<B: UploadBody + ?Sized> Iterator for Parts<'_, B> {
    type Item = Result<Part, PluginError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.next_part().transpose();
        if !matches!(item, Some(Ok(_))) {
            self.done = true;
        }
        item
    }
}

/// The content of the first part named `name`.
pub fn find_part<B: UploadBody + ?Sized>(
    body: &B,
    boundary: &str,
    name: &str,
) -> Result<ByteRange, PluginError> {
    for part in parts(body, boundary) {
        let part = part?;
        if part.name == name {
            return Ok(part.range);
        }
    }
    Err(PluginError::bad_request(format!(
        "the multipart body has no part named \"{name}\""
    )))
}

/// Limits of [`Form::read`]: what a form may make the plugin read.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most parts, text and file together.
    pub parts: usize,
    /// Longest text field, in bytes.
    pub field: u32,
    /// All text fields together, in bytes.
    pub total: u64,
}

impl Default for Limits {
    /// Room for a package upload's metadata (a long description, hundreds of
    /// classifiers) while bounding what a hostile body can make the guest hold.
    fn default() -> Self {
        Self {
            parts: 1024,
            field: 1 << 20,
            total: 4 << 20,
        }
    }
}

/// A `multipart/form-data` body: text fields read, file parts located.
#[derive(Debug, Default, Clone)]
pub struct Form {
    /// Text fields in body order; a name may repeat (lists such as `classifiers`).
    pub fields: Vec<(String, String)>,
    /// Parts with a file name, in body order; their bytes stay in the upload.
    pub files: Vec<Part>,
}

impl Form {
    /// Reads the form of a body whose request had `content_type`. A body that is not
    /// `multipart/*` is a 400 saying so.
    pub fn read<B: UploadBody + ?Sized>(
        body: &B,
        content_type: &str,
        limits: Limits,
    ) -> Result<Self, PluginError> {
        let Some(boundary) = boundary(content_type)? else {
            return Err(PluginError::bad_request(format!(
                "expected a multipart/form-data body, got content type {:?}",
                content_type
            )));
        };
        let mut form = Self::default();
        let mut text_bytes = 0;
        for (count, part) in parts(body, &boundary).enumerate() {
            let part = part?;
            if count >= limits.parts {
                return Err(PluginError::bad_request(format!(
                    "the form has more than {} parts",
                    limits.parts
                )));
            }
            if part.filename.is_some() {
                form.files.push(part);
                continue;
            }
            text_bytes += part.range.length;
            if text_bytes > limits.total {
                return Err(PluginError::bad_request(format!(
                    "the form's text fields are longer than {} bytes together",
                    limits.total
                )));
            }
            let value = part.text(body, limits.field)?;
            form.fields.push((part.name, value));
        }
        Ok(form)
    }

    /// The first text field named `name`.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every text field named `name`, in body order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.fields
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first file part named `name`.
    pub fn file(&self, name: &str) -> Option<&Part> {
        self.files.iter().find(|p| p.name == name)
    }
}

/// `len` bytes at `offset`, in as many host reads as the host's per-call cap needs.
fn read_exact<B: UploadBody + ?Sized>(
    body: &B,
    offset: u64,
    len: u32,
) -> Result<Vec<u8>, PluginError> {
    let mut out = Vec::with_capacity(len as usize);
    while out.len() < len as usize {
        let chunk = body.read(offset + out.len() as u64, len - out.len() as u32);
        if chunk.is_empty() {
            return Err(truncated());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// The value of the header `wanted` in a part's header block.
fn header<'a>(headers: &'a str, wanted: &str) -> Option<&'a str> {
    headers.split("\r\n").find_map(|line| {
        let (field, value) = line.split_once(':')?;
        field.trim().eq_ignore_ascii_case(wanted).then_some(value)
    })
}

/// A parameter of a header value (`type; a=b; c="d;e"`), its quotes and escapes
/// removed. Quoted strings may hold `;`, so the value is scanned, not split.
fn parameter(value: &str, wanted: &str) -> Option<String> {
    let mut rest = value.split_once(';')?.1;
    loop {
        let (name, after) = rest.split_once('=')?;
        let (parsed, remainder) = parameter_value(after.trim_start());
        if name.trim().eq_ignore_ascii_case(wanted) {
            return Some(parsed);
        }
        rest = remainder.split_once(';')?.1;
    }
}

/// A token or quoted string at the start of `text`, and what follows it.
fn parameter_value(text: &str) -> (String, &str) {
    let Some(quoted) = text.strip_prefix('"') else {
        let end = text.find(';').unwrap_or(text.len());
        return (text[..end].trim().to_string(), &text[end..]);
    };
    let mut value = String::new();
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return (value, &quoted[i + 1..]),
            '\\' => value.extend(chars.next().map(|(_, escaped)| escaped)),
            _ => value.push(c),
        }
    }
    // An unterminated quote runs to the end, as lenient parsers read it.
    (value, "")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn malformed(why: &str) -> PluginError {
    PluginError::bad_request(format!("malformed multipart body: {why}"))
}

fn truncated() -> PluginError {
    malformed("it ends inside a part (was the upload cut short?)")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body as requests-toolbelt (twine) writes it: quoted names, a file part with
    /// its own content type, the closing delimiter and a final CRLF.
    fn form_body(boundary: &str, fields: &[(&str, &str)], file: (&str, &[u8])) -> Vec<u8> {
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        }
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"content\"; \
                 filename=\"{}\"\r\nContent-Type: application/octet-stream\r\n\r\n",
                file.0
            )
            .as_bytes(),
        );
        body.extend_from_slice(file.1);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        body
    }

    fn content<'a>(body: &'a [u8], range: &ByteRange) -> &'a [u8] {
        &body[range.offset as usize..(range.offset + range.length) as usize]
    }

    const FORM: &str = "multipart/form-data; boundary=b0";

    #[test]
    fn boundaries_are_read_quoted_or_not() {
        for (content_type, expected) in [
            (
                r#"multipart/form-data; boundary="2d3a-b;c""#,
                Some("2d3a-b;c"),
            ),
            ("multipart/form-data; boundary=abc", Some("abc")),
            (
                "Multipart/Form-Data; charset=utf-8; BOUNDARY=abc ; x=y",
                Some("abc"),
            ),
            (r#"multipart/form-data; boundary="a\"b""#, Some("a\"b")),
            ("application/octet-stream", None),
            ("", None),
            ("multipart", None),
        ] {
            assert_eq!(
                boundary(content_type).unwrap().as_deref(),
                expected,
                "{content_type}"
            );
        }
    }

    #[test]
    fn multipart_without_a_usable_boundary_is_refused() {
        for content_type in [
            "multipart/form-data",
            "multipart/form-data; charset=utf-8",
            "multipart/form-data; boundary=",
            r#"multipart/form-data; boundary="""#,
            &format!("multipart/form-data; boundary={}", "x".repeat(71)),
        ] {
            let err = boundary(content_type).unwrap_err();
            assert_eq!(err.status, 400, "{content_type}");
            assert!(err.message.contains("boundary"), "{}", err.message);
        }
    }

    #[test]
    fn a_form_has_its_text_fields_read_and_its_file_located() {
        let wheel = b"PK\x03\x04 not really a zip, with \r\n--b1 almost a boundary";
        let body = form_body(
            "b0",
            &[
                (":action", "file_upload"),
                ("name", "Wharf_Base"),
                ("classifiers", "A :: B"),
                ("classifiers", "C :: D"),
                ("description", "line one\r\n\r\nline \u{e9}"),
                ("comment", ""),
            ],
            ("wharf_base-1.0-py3-none-any.whl", wheel),
        );
        let form = Form::read(&body[..], FORM, Limits::default()).unwrap();
        assert_eq!(form.field(":action"), Some("file_upload"));
        assert_eq!(form.field("name"), Some("Wharf_Base"));
        assert_eq!(
            form.all("classifiers").collect::<Vec<_>>(),
            ["A :: B", "C :: D"]
        );
        assert_eq!(
            form.field("description"),
            Some("line one\r\n\r\nline \u{e9}")
        );
        assert_eq!(form.field("comment"), Some(""));
        assert_eq!(form.field("missing"), None);
        let file = form.file("content").expect("the file part");
        assert_eq!(
            file.filename.as_deref(),
            Some("wharf_base-1.0-py3-none-any.whl")
        );
        assert_eq!(
            file.content_type.as_deref(),
            Some("application/octet-stream")
        );
        assert_eq!(content(&body, &file.range), wheel);
        let found = find_part(&body[..], "b0", "content").unwrap();
        assert_eq!(
            (found.offset, found.length),
            (file.range.offset, file.range.length)
        );
    }

    #[test]
    fn a_preamble_padding_unquoted_names_and_empty_headers_are_accepted() {
        let body = b"preamble\r\n--b\r\n\r\nno headers\r\n--b \t\r\n\
            content-disposition: form-data; name=comment\r\n\r\nhello\r\n--b\r\n\
            Content-Disposition: form-data; name=package; filename=x.nupkg\r\n\r\n\
            PKG\r\n--b--";
        let all: Vec<Part> = parts(&body[..], "b").collect::<Result<_, _>>().unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(
            (all[0].name.as_str(), all[0].filename.as_deref()),
            ("", None)
        );
        assert_eq!(content(body, &all[0].range), b"no headers");
        assert_eq!(all[1].name, "comment");
        assert_eq!(content(body, &all[1].range), b"hello");
        assert_eq!(all[2].filename.as_deref(), Some("x.nupkg"));
        assert_eq!(content(body, &all[2].range), b"PKG");
        let empty = b"--b\r\nContent-Disposition: form-data; name=\"package\"\r\n\r\n\r\n--b--";
        assert_eq!(find_part(&empty[..], "b", "package").unwrap().length, 0);
    }

    #[test]
    fn truncated_or_foreign_bodies_are_refused() {
        let whole = form_body("b", &[("name", "x")], ("x.whl", b"PK content"));
        let without_close = &whole[..whole.len() - 4]; // ends after `\r\n--b`
        let cut = &whole[..whole.len() - 12];
        let headers_only = b"--b\r\nContent-Disposition: form-data; name=package\r\n";
        for (body, expected) in [
            (without_close, "ends inside a part"),
            (cut, "ends inside a part"),
            (&headers_only[..], "ends inside a part"),
            (b"--b", "ends inside a part"),
            (b"no delimiter at all", "no --b line"),
            (b"--bx\r\n\r\nx\r\n--b--", "text after the boundary"),
            (
                b"--b\r\nContent-Disposition: form-data; name=a\r\n--b\r\n\r\nx\r\n--b--",
                "no blank line",
            ),
        ] {
            let err =
                Form::read(body, "multipart/form-data; boundary=b", Limits::default()).unwrap_err();
            assert_eq!(err.status, 400);
            assert!(err.message.contains(expected), "{}", err.message);
        }
        let err = find_part(&b"--b--\r\n"[..], "b", "package").unwrap_err();
        assert!(err.message.contains("no part named"), "{}", err.message);
        let mut long = b"--b\r\n".to_vec();
        long.extend(std::iter::repeat_n(b'x', 20_000));
        long.extend_from_slice(b"\r\n\r\nx\r\n--b--");
        let err = find_part(&long[..], "b", "package").unwrap_err();
        assert!(err.message.contains("too long"), "{}", err.message);
    }

    #[test]
    fn a_body_that_is_not_multipart_is_refused_by_name() {
        let err = Form::read(&b"{}"[..], "application/json", Limits::default()).unwrap_err();
        assert_eq!(err.status, 400);
        assert!(
            err.message.contains("multipart/form-data"),
            "{}",
            err.message
        );
    }

    #[test]
    fn limits_bound_what_a_form_makes_the_guest_read() {
        let body = form_body(
            "b0",
            &[("a", "12345"), ("b", "67890"), ("c", "\u{ff}")],
            ("f", b""),
        );
        let tight = |parts, field, total| Limits {
            parts,
            field,
            total,
        };
        for (limits, expected) in [
            (tight(2, 100, 100), "more than 2 parts"),
            (tight(10, 4, 100), "\"a\" is longer than 4 bytes"),
            (tight(10, 100, 9), "longer than 9 bytes together"),
        ] {
            let err = Form::read(&body[..], FORM, limits).unwrap_err();
            assert!(err.message.contains(expected), "{}", err.message);
        }
        let mut invalid = body.clone();
        let at = body
            .windows(2)
            .position(|w| w == "\u{ff}".as_bytes())
            .unwrap();
        invalid[at] = 0xff;
        let err = Form::read(&invalid[..], FORM, Limits::default()).unwrap_err();
        assert!(
            err.message.contains("\"c\" is not UTF-8"),
            "{}",
            err.message
        );
    }

    #[test]
    fn slices_search_and_read_like_the_host() {
        let body: &[u8] = b"abcabc";
        assert_eq!(body.find(0, b"bc"), Some(1));
        assert_eq!(body.find(2, b"bc"), Some(4));
        assert_eq!(body.find(5, b"bc"), None);
        assert_eq!(body.find(99, b"a"), None);
        assert_eq!(body.read(4, 10), b"bc");
        assert_eq!(body.read(10, 1), b"");
    }
}
