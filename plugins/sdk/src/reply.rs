//! Reply templates: values the host fills in once an operation ran, written the short
//! way (`"/v2/{owner}/blobs/uploads/{id}"`) and turned into the contract's typed parts.

use crate::ReplyPart;

/// Splits `template` into text and placeholders: `{token}`, `{size}`, `{sha256}`,
/// `{id}` (session id), `{end}` (last byte received) and `{digest}`. Any other
/// braces are text, so JSON bodies need no escaping.
pub fn parts(template: &str) -> Vec<ReplyPart> {
    const NAMES: &[&str] = &["{token}", "{size}", "{sha256}", "{id}", "{end}", "{digest}"];
    let mut out = Vec::new();
    let mut text = String::new();
    let mut rest = template;
    while !rest.is_empty() {
        if let Some(name) = NAMES.iter().find(|n| rest.starts_with(**n)) {
            if !text.is_empty() {
                out.push(ReplyPart::Text(std::mem::take(&mut text)));
            }
            out.push(placeholder(name));
            rest = &rest[name.len()..];
        } else {
            let c = rest.chars().next().expect("rest is not empty");
            text.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    if !text.is_empty() {
        out.push(ReplyPart::Text(text));
    }
    out
}

fn placeholder(name: &str) -> ReplyPart {
    match name {
        "{token}" => ReplyPart::Token,
        "{size}" => ReplyPart::Size,
        "{sha256}" => ReplyPart::Sha256,
        "{id}" => ReplyPart::SessionId,
        "{end}" => ReplyPart::ReceivedEnd,
        _ => ReplyPart::Digest,
    }
}

/// Literal text as a reply value: for values built from data (URLs, names) that must
/// never be read as placeholders.
pub fn text(value: impl Into<String>) -> Vec<ReplyPart> {
    vec![ReplyPart::Text(value.into())]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_parts_and_other_braces_stay_text() {
        let p = parts("/v2/a/blobs/uploads/{id}");
        assert!(
            matches!(&p[..], [ReplyPart::Text(t), ReplyPart::SessionId] if t == "/v2/a/blobs/uploads/")
        );
        let p = parts(r#"{"token":"{token}"}"#);
        assert!(
            matches!(&p[..], [ReplyPart::Text(a), ReplyPart::Token, ReplyPart::Text(b)]
            if a == r#"{"token":""# && b == r#""}"#)
        );
        assert!(parts("").is_empty());
        assert!(matches!(
            &parts("0-{end}")[..],
            [ReplyPart::Text(_), ReplyPart::ReceivedEnd]
        ));
    }
}
