//! The body of `cargo publish`: a little-endian u32 length, the JSON document, another
//! u32 length, then the `.crate` (a gzipped tar). Both lengths are checked against the
//! stored body before anything else is read, so a truncated or padded body is refused
//! up front, and the `.crate` is never read by the plugin: the host stores it as a
//! slice of the upload.

use wharf_plugin_sdk::{ByteRange, PluginError};

/// Largest publish document accepted. cargo puts the readme in it; the rest is small.
pub const MAX_JSON: u64 = 32 << 20;

/// Where the two parts of a publish body are.
#[derive(Debug)]
pub struct Layout {
    pub json: ByteRange,
    pub krate: ByteRange,
}

/// Finds the parts of a body of `size` bytes; `read_u32` reads a little-endian length
/// at an offset (`None` past the end).
pub fn layout(
    size: u64,
    mut read_u32: impl FnMut(u64) -> Option<u32>,
) -> Result<Layout, PluginError> {
    let json_len =
        u64::from(read_u32(0).ok_or_else(|| {
            PluginError::bad_request("the body is too short for a cargo publish")
        })?);
    if json_len > MAX_JSON {
        return Err(PluginError::new(
            413,
            format!("the publish JSON has {json_len} bytes; at most {MAX_JSON} are accepted"),
        ));
    }
    let json = ByteRange {
        offset: 4,
        length: json_len,
    };
    let json_end = json.offset + json_len;
    let crate_len = u64::from(
        read_u32(json_end)
            .filter(|_| json_end + 4 <= size)
            .ok_or_else(|| {
                PluginError::bad_request(format!(
                    "the body ends inside the publish JSON ({json_len} bytes announced, {} there)",
                    size.saturating_sub(4)
                ))
            })?,
    );
    let krate = ByteRange {
        offset: json_end + 4,
        length: crate_len,
    };
    let present = size - krate.offset;
    if crate_len > present {
        return Err(PluginError::bad_request(format!(
            "the body ends inside the .crate ({crate_len} bytes announced, {present} there)"
        )));
    }
    if crate_len < present {
        return Err(PluginError::bad_request(format!(
            "{} unexpected bytes follow the .crate",
            present - crate_len
        )));
    }
    if crate_len == 0 {
        return Err(PluginError::bad_request("the .crate is empty"));
    }
    Ok(Layout { json, krate })
}

/// Checks that the `.crate` starts like a gzip stream, as every `cargo package` does.
pub fn check_gzip(head: &[u8]) -> Result<(), PluginError> {
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(())
    } else {
        Err(PluginError::bad_request(
            "the .crate is not a gzip archive (make it with `cargo package`)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A publish body with these parts, and the lengths it announces.
    fn body(json: &[u8], krate: &[u8]) -> Vec<u8> {
        let mut b = (json.len() as u32).to_le_bytes().to_vec();
        b.extend_from_slice(json);
        b.extend_from_slice(&(krate.len() as u32).to_le_bytes());
        b.extend_from_slice(krate);
        b
    }

    fn parse(bytes: &[u8]) -> Result<Layout, PluginError> {
        layout(bytes.len() as u64, |at| {
            let at = at as usize;
            bytes
                .get(at..at + 4)
                .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
        })
    }

    #[test]
    fn finds_both_parts() {
        let b = body(b"{}", b"\x1f\x8bcrate");
        let l = parse(&b).unwrap();
        assert_eq!((l.json.offset, l.json.length), (4, 2));
        assert_eq!((l.krate.offset, l.krate.length), (10, 7));
    }

    #[test]
    fn refuses_short_padded_and_oversized_bodies() {
        let good = body(b"{\"a\":1}", b"\x1f\x8bcrate");
        for cut in [0, 3, 6, 12, good.len() - 1] {
            let e = parse(&good[..cut]).unwrap_err();
            assert_eq!(e.status, 400, "cut at {cut}: {}", e.message);
        }
        let mut padded = good.clone();
        padded.push(0);
        assert!(parse(&padded).unwrap_err().message.contains("1 unexpected"));
        assert!(
            parse(&body(b"{}", b""))
                .unwrap_err()
                .message
                .contains("empty")
        );

        let mut huge = good.clone();
        huge[..4].copy_from_slice(&(MAX_JSON as u32 + 1).to_le_bytes());
        assert_eq!(parse(&huge).unwrap_err().status, 413);
        let mut beyond = good;
        let at = 4 + 7;
        beyond[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(
            parse(&beyond)
                .unwrap_err()
                .message
                .contains("inside the .crate")
        );
    }

    #[test]
    fn crates_must_be_gzip() {
        assert!(check_gzip(b"\x1f\x8b\x08").is_ok());
        assert!(check_gzip(b"PK\x03\x04").is_err());
        assert!(check_gzip(b"").is_err());
    }
}
