//! Reads an npm publish body without copying its tarballs into the guest.
//!
//! `npm publish` sends one JSON document whose `_attachments.{file}.data` holds the
//! tarball as base64, often megabytes. The scanner walks the JSON structure byte by
//! byte, copying everything into a *skeleton* except those data strings, whose byte
//! ranges it records instead: the host finds each closing quote (`upload.find`) and
//! later decodes the range straight into the blob store. The skeleton is small and is
//! parsed with serde_json like any other document.

use wharf_plugin_sdk::{ByteRange, PluginError, UploadReader};

/// What the scanner reads from: the upload in the plugin, a byte slice in tests.
pub trait Source {
    fn next_byte(&mut self) -> Option<u8>;
    fn position(&self) -> u64;
    /// Offset of the next `needle` at or after the position.
    fn find(&self, needle: &[u8]) -> Option<u64>;
    fn skip_to(&mut self, position: u64);
}

impl Source for UploadReader<'_> {
    fn next_byte(&mut self) -> Option<u8> {
        UploadReader::next_byte(self)
    }
    fn position(&self) -> u64 {
        UploadReader::position(self)
    }
    fn find(&self, needle: &[u8]) -> Option<u64> {
        UploadReader::find(self, needle)
    }
    fn skip_to(&mut self, position: u64) {
        UploadReader::skip_to(self, position)
    }
}

/// Largest skeleton (the document without attachment data) accepted: manifests and
/// readmes, never tarballs. Parsing one takes several times its size in plugin memory,
/// so this stays well inside the default 64 MiB (a 12 MiB skeleton did not): a larger
/// document is a clean 413, never a failed call.
const MAX_SKELETON: usize = 8 << 20;

pub struct Scanned {
    /// The document with every attachment's `data` replaced by `""`.
    pub skeleton: Vec<u8>,
    /// Raw JSON key of each attachment (still escaped) and its base64 data range.
    pub attachments: Vec<(Vec<u8>, ByteRange)>,
}

struct Frame {
    object: bool,
    /// The raw key of the member being read (objects only).
    key: Vec<u8>,
    expecting_key: bool,
}

pub fn scan(reader: &mut impl Source) -> Result<Scanned, PluginError> {
    let malformed = |why: &str| PluginError::bad_request(format!("malformed JSON body: {why}"));
    let mut out = Vec::new();
    let mut attachments = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    while let Some(byte) = reader.next_byte() {
        if out.len() > MAX_SKELETON {
            return Err(PluginError::new(413, "package metadata is too large"));
        }
        match byte {
            b'{' | b'[' => {
                stack.push(Frame {
                    object: byte == b'{',
                    key: Vec::new(),
                    expecting_key: byte == b'{',
                });
                out.push(byte);
            }
            b'}' | b']' => {
                stack
                    .pop()
                    .ok_or_else(|| malformed("unbalanced brackets"))?;
                out.push(byte);
            }
            b',' => {
                if let Some(top) = stack.last_mut() {
                    top.expecting_key = top.object;
                }
                out.push(byte);
            }
            b':' => {
                if let Some(top) = stack.last_mut() {
                    top.expecting_key = false;
                }
                out.push(byte);
            }
            b'"' => {
                let is_key = stack.last().is_some_and(|t| t.object && t.expecting_key);
                if !is_key && is_attachment_data(&stack) {
                    let start = reader.position();
                    let end = reader
                        .find(b"\"")
                        .ok_or_else(|| malformed("unterminated attachment data"))?;
                    let key = stack[1].key.clone();
                    attachments.push((
                        key,
                        ByteRange {
                            offset: start,
                            length: end - start,
                        },
                    ));
                    reader.skip_to(end + 1);
                    out.extend_from_slice(b"\"\"");
                    continue;
                }
                let start = out.len();
                read_string(reader, &mut out).ok_or_else(|| malformed("unterminated string"))?;
                if is_key && let Some(top) = stack.last_mut() {
                    top.key = out[start + 1..out.len() - 1].to_vec();
                }
            }
            _ => out.push(byte),
        }
    }
    if !stack.is_empty() {
        return Err(malformed("the document ends early"));
    }
    Ok(Scanned {
        skeleton: out,
        attachments,
    })
}

/// `_attachments.{file}.data` of the top-level object.
fn is_attachment_data(stack: &[Frame]) -> bool {
    matches!(stack, [root, file, entry]
        if root.object && file.object && entry.object
            && root.key == b"_attachments" && entry.key == b"data")
}

/// Copies a string (the opening quote already read) into `out`, quotes included.
fn read_string(reader: &mut impl Source, out: &mut Vec<u8>) -> Option<()> {
    out.push(b'"');
    let mut escaped = false;
    loop {
        let byte = reader.next_byte()?;
        out.push(byte);
        match (escaped, byte) {
            (false, b'\\') => escaped = true,
            (false, b'"') => break,
            _ => escaped = false,
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Bytes<'a>(&'a [u8], u64);

    impl Source for Bytes<'_> {
        fn next_byte(&mut self) -> Option<u8> {
            let b = *self.0.get(self.1 as usize)?;
            self.1 += 1;
            Some(b)
        }
        fn position(&self) -> u64 {
            self.1
        }
        fn find(&self, needle: &[u8]) -> Option<u64> {
            let from = self.1 as usize;
            self.0
                .get(from..)?
                .windows(needle.len())
                .position(|w| w == needle)
                .map(|i| (from + i) as u64)
        }
        fn skip_to(&mut self, position: u64) {
            self.1 = position;
        }
    }

    fn run(doc: &str) -> Result<Scanned, PluginError> {
        scan(&mut Bytes(doc.as_bytes(), 0))
    }

    #[test]
    fn cuts_out_attachment_data_and_keeps_everything_else() {
        let doc = r#"{"name":"a","readme":"say \"data\": {x}","versions":{"1.0.0":{"data":"keep"}},
            "_attachments":{"a-1.0.0.tgz":{"content_type":"application/octet-stream","data":"QUJD","length":3}}}"#;
        let scanned = run(doc).unwrap();
        let skeleton: serde_json::Value = serde_json::from_slice(&scanned.skeleton).unwrap();
        assert_eq!(skeleton["readme"], "say \"data\": {x}");
        assert_eq!(skeleton["versions"]["1.0.0"]["data"], "keep");
        assert_eq!(skeleton["_attachments"]["a-1.0.0.tgz"]["data"], "");
        assert_eq!(skeleton["_attachments"]["a-1.0.0.tgz"]["length"], 3);
        let (key, range) = &scanned.attachments[0];
        assert_eq!(key, b"a-1.0.0.tgz");
        let at = range.offset as usize;
        assert_eq!(&doc[at..at + range.length as usize], "QUJD");
    }

    #[test]
    fn nested_data_keys_elsewhere_are_not_attachments() {
        let scanned = run(r#"{"x":{"_attachments":{"f":{"data":"zz"}}},"data":"y"}"#).unwrap();
        assert!(scanned.attachments.is_empty());
    }

    #[test]
    fn truncated_and_unbalanced_documents_are_rejected() {
        for doc in [
            r#"{"a":"b"#,
            r#"{"a":[1,2}"#,
            "}",
            r#"{"_attachments":{"f":{"data":"QUJD"#,
            "{",
        ] {
            let result = run(doc);
            assert!(
                result.is_err()
                    || serde_json::from_slice::<serde_json::Value>(&result.unwrap().skeleton)
                        .is_err(),
                "{doc}"
            );
        }
    }
}
