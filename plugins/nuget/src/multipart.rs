//! Finding the nupkg inside a `multipart/form-data` push body.
//!
//! NuGet.exe and `dotnet nuget push` send the package as the part named `package` of a
//! multipart body. The body is already stored by the host and may be hundreds of MiB,
//! so it is never copied into the guest: delimiters are located with the host's
//! search, and only the few bytes of part headers are read. The result is the byte
//! range of the part's content, which the host stores as the nupkg.

use wharf_plugin_sdk::{ByteRange, PluginError, Upload};

/// The form field NuGet clients put the package in.
pub const PACKAGE_PART: &str = "package";

/// RFC 2046 limits a boundary to 70 characters; clients use a GUID or less.
const MAX_BOUNDARY: usize = 70;

/// Largest header block of one part; real ones are two short lines.
const MAX_PART_HEADERS: u64 = 16 << 10;

/// Parts looked at before giving up on finding the package; pushes have one.
const MAX_PARTS: usize = 16;

/// Stored bytes the multipart scan works on: the upload in the guest, a slice in tests.
pub trait Body {
    /// The offset of the first `needle` at or after `from`, or none.
    fn find(&self, from: u64, needle: &[u8]) -> Option<u64>;
    /// At most `len` bytes at `offset`, fewer only at the end.
    fn read(&self, offset: u64, len: u32) -> Vec<u8>;
}

impl Body for Upload {
    fn find(&self, from: u64, needle: &[u8]) -> Option<u64> {
        Upload::find(self, from, needle)
    }

    fn read(&self, offset: u64, len: u32) -> Vec<u8> {
        Upload::read(self, offset, len)
    }
}

impl Body for [u8] {
    fn find(&self, from: u64, needle: &[u8]) -> Option<u64> {
        let start = usize::try_from(from).ok()?;
        let haystack = self.get(start..)?;
        if needle.is_empty() {
            return Some(from);
        }
        haystack
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|at| (start + at) as u64)
    }

    fn read(&self, offset: u64, len: u32) -> Vec<u8> {
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.len());
        let end = start.saturating_add(len as usize).min(self.len());
        self[start..end].to_vec()
    }
}

/// The boundary of a multipart `content-type`; `None` when the body is not multipart
/// (a bare nupkg). A multipart type without a usable boundary is a 400: the body
/// cannot be split without it.
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

/// The content of the first part named `name`. Parts are delimited by
/// `--boundary` lines; a part's content starts after its blank header line and ends
/// before the CRLF of the next delimiter.
pub fn find_part<B: Body + ?Sized>(
    body: &B,
    boundary: &str,
    name: &str,
) -> Result<ByteRange, PluginError> {
    let delimiter = format!("--{boundary}");
    let mut at = body
        .find(0, delimiter.as_bytes())
        .ok_or_else(|| malformed(format!("no {delimiter} line")))?;
    for _ in 0..MAX_PARTS {
        let after = at + delimiter.len() as u64;
        if body.read(after, 2) == b"--" {
            break; // the closing delimiter: no more parts
        }
        let line_end = body.find(after, b"\r\n").ok_or_else(truncated)?;
        // Searching from the delimiter line's own CRLF also finds an empty header block.
        let headers_end = body.find(line_end, b"\r\n\r\n").ok_or_else(truncated)?;
        if headers_end - line_end > MAX_PART_HEADERS {
            return Err(malformed("the part headers are too long".into()));
        }
        let headers = body.read(line_end, (headers_end + 2 - line_end) as u32);
        let start = headers_end + 4;
        let mut closing = b"\r\n".to_vec();
        closing.extend_from_slice(delimiter.as_bytes());
        let end = body.find(start, &closing).ok_or_else(truncated)?;
        if part_name(&headers).as_deref() == Some(name) {
            return Ok(ByteRange {
                offset: start,
                length: end - start,
            });
        }
        at = end + 2;
    }
    Err(PluginError::bad_request(format!(
        "the multipart body has no part named \"{name}\""
    )))
}

/// The `name` of a part's `Content-Disposition`. .NET's HttpClient writes it
/// unquoted, browsers and most other clients quoted.
fn part_name(headers: &[u8]) -> Option<String> {
    let headers = String::from_utf8_lossy(headers);
    headers.split("\r\n").find_map(|line| {
        let (field, value) = line.split_once(':')?;
        if field.trim().eq_ignore_ascii_case("content-disposition") {
            parameter(value, "name")
        } else {
            None
        }
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

fn malformed(why: String) -> PluginError {
    PluginError::bad_request(format!("malformed multipart body: {why}"))
}

fn truncated() -> PluginError {
    malformed("it ends inside a part".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body as NuGet.exe 5.8 sends it, around `content`.
    fn nuget_body(boundary: &str, content: &[u8]) -> Vec<u8> {
        let mut body = format!(
            "--{boundary}\r\nContent-Type: application/octet-stream\r\n\
             Content-Disposition: form-data; name=\"package\"; filename=\"package.nupkg\"\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(content);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        body
    }

    fn part<'a>(body: &'a [u8], range: &ByteRange) -> &'a [u8] {
        &body[range.offset as usize..(range.offset + range.length) as usize]
    }

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
    fn the_package_part_is_found() {
        let content = b"PK\x03\x04 not really a zip, with \r\n--almost a boundary";
        let body = nuget_body("4b8e-a1", content);
        let range = find_part(&body[..], "4b8e-a1", PACKAGE_PART).unwrap();
        assert_eq!(part(&body, &range), content);
    }

    #[test]
    fn other_parts_and_a_preamble_are_skipped() {
        let body = b"preamble\r\n--b\r\n\r\nno headers\r\n--b\r\n\
            Content-Disposition: form-data; name=comment\r\n\r\nhello\r\n--b\r\n\
            content-disposition: form-data; name=package; filename=x.nupkg\r\n\r\n\
            PKG\r\n--b--\r\n";
        let range = find_part(&body[..], "b", PACKAGE_PART).unwrap();
        assert_eq!(part(body, &range), b"PKG");
        let empty = b"--b\r\nContent-Disposition: form-data; name=\"package\"\r\n\r\n\r\n--b--";
        assert_eq!(find_part(&empty[..], "b", "package").unwrap().length, 0);
    }

    #[test]
    fn truncated_or_foreign_bodies_are_refused() {
        let whole = nuget_body("b", b"PK content");
        let cut = &whole[..whole.len() - 12];
        let headers_only = b"--b\r\nContent-Disposition: form-data; name=package\r\n";
        for (body, expected) in [
            (cut, "ends inside a part"),
            (&headers_only[..], "ends inside a part"),
            (b"--b", "ends inside a part"),
            (b"no delimiter at all", "no --b line"),
            (
                b"--b\r\nContent-Disposition: form-data; name=other\r\n\r\nx\r\n--b--",
                "no part named \"package\"",
            ),
            (b"--b--\r\n", "no part named \"package\""),
        ] {
            let err = find_part(body, "b", PACKAGE_PART).unwrap_err();
            assert_eq!(err.status, 400);
            assert!(err.message.contains(expected), "{}", err.message);
        }
        let mut long = b"--b\r\n".to_vec();
        long.extend(std::iter::repeat_n(b'x', 20_000));
        long.extend_from_slice(b"\r\n\r\nx\r\n--b--");
        let err = find_part(&long[..], "b", PACKAGE_PART).unwrap_err();
        assert!(err.message.contains("too long"), "{}", err.message);
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
