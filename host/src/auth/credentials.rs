//! Reading credentials from request headers.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    None,
    Token(String),
    Basic { user: String, secret: String },
}

/// Headers that carry credentials in every format; they are stripped before a plugin
/// sees a request, together with the headers its descriptor declares
/// (`credential-headers`).
pub const CREDENTIAL_HEADERS: &[&str] = &["authorization", "cookie"];

impl Credentials {
    /// `Authorization: token T | Bearer T | Basic … | T`, else the first of `extra` (the
    /// format's declared credential headers, lower-case) that is present, as a token.
    /// A bare value is what cargo sends (the token exactly as `cargo login` stored it).
    /// A malformed Authorization header is an error, not anonymity.
    pub fn from_headers(headers: &HeaderMap, extra: &[String]) -> Result<Self, String> {
        if let Some(value) = headers.get(http::header::AUTHORIZATION) {
            let value = value
                .to_str()
                .map_err(|_| "malformed Authorization header")?;
            let value = value.trim();
            let Some((scheme, rest)) = value.split_once(' ') else {
                if value.is_empty() {
                    return Err("malformed Authorization header".to_string());
                }
                return Ok(Self::Token(value.to_string()));
            };
            let rest = rest.trim();
            return match scheme.to_ascii_lowercase().as_str() {
                "token" | "bearer" if !rest.is_empty() => Ok(Self::Token(rest.to_string())),
                "basic" => {
                    let decoded = STANDARD
                        .decode(rest)
                        .map_err(|_| "malformed Basic credentials")?;
                    let decoded =
                        String::from_utf8(decoded).map_err(|_| "malformed Basic credentials")?;
                    let (user, secret) = decoded.split_once(':').unwrap_or((decoded.as_str(), ""));
                    Ok(Self::Basic {
                        user: user.to_string(),
                        secret: secret.to_string(),
                    })
                }
                _ => Err("unsupported Authorization scheme".to_string()),
            };
        }
        for name in extra {
            if let Some(key) = headers.get(name.as_str()) {
                let key = key
                    .to_str()
                    .map_err(|_| format!("malformed {name} header"))?;
                if !key.is_empty() {
                    return Ok(Self::Token(key.to_string()));
                }
            }
        }
        Ok(Self::None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(name: &str, value: &str) -> Result<Credentials, String> {
        let mut h = HeaderMap::new();
        h.insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
        Credentials::from_headers(&h, &["x-api-key".to_string()])
    }

    #[test]
    fn every_client_form() {
        assert_eq!(
            parse("authorization", "token abc"),
            Ok(Credentials::Token("abc".into()))
        );
        assert_eq!(
            parse("authorization", "Bearer abc"),
            Ok(Credentials::Token("abc".into()))
        );
        // A header the format declares carries a token; an undeclared one is nothing.
        assert_eq!(
            parse("x-api-key", "abc"),
            Ok(Credentials::Token("abc".into()))
        );
        assert_eq!(parse("x-other-key", "abc"), Ok(Credentials::None));
        assert_eq!(
            parse(
                "authorization",
                &format!("Basic {}", STANDARD.encode("u:p:q"))
            ),
            Ok(Credentials::Basic {
                user: "u".into(),
                secret: "p:q".into()
            })
        );
        // cargo sends the stored token verbatim.
        assert_eq!(
            parse("authorization", "wharf_abc"),
            Ok(Credentials::Token("wharf_abc".into()))
        );
        assert!(parse("authorization", "Basic !!!").is_err());
        assert!(parse("authorization", "Digest x").is_err());
        assert_eq!(
            Credentials::from_headers(&HeaderMap::new(), &[]),
            Ok(Credentials::None)
        );
    }
}
