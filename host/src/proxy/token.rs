//! Upstream Bearer tokens: the token flow of RFC 6750 challenges as container
//! registries use it (`WWW-Authenticate: Bearer realm=…,service=…,scope=…`; a GET of
//! the realm with `service` and `scope`, with Basic credentials or none, answers
//! `{"token"|"access_token", "expires_in"}`).
//!
//! Tokens are kept until shortly before they expire, by challenge, and remembered for
//! the URL's parent path (a repository's manifests and blobs share one scope), so the
//! next request there carries the token at once instead of first collecting a 401.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A token's life when the realm does not say (the distribution spec's default).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(60);
/// Tokens are dropped this long before they expire, so none expires in flight.
const MARGIN: Duration = Duration::from_secs(5);
/// Tokens kept before the map is emptied and refilled (a bound, not a policy).
const MAX_KEPT: usize = 1024;

/// A parsed Bearer challenge.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Challenge {
    pub realm: String,
    pub service: Option<String>,
    pub scope: Option<String>,
}

impl Challenge {
    /// The Bearer challenge in a `WWW-Authenticate` value, if it is one with a realm.
    pub fn parse(value: &str) -> Option<Self> {
        let rest = value.trim_start();
        let (scheme, params) = rest.split_once(char::is_whitespace)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let params = auth_params(params);
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        Some(Self {
            realm: get("realm")?,
            service: get("service"),
            scope: get("scope"),
        })
    }
}

/// `name=value` pairs separated by commas; values are tokens or quoted strings (which
/// may hold commas: a scope can name several actions).
fn auth_params(text: &str) -> Vec<(String, String)> {
    let mut params = Vec::new();
    let mut rest = text.trim();
    while let Some((name, after)) = rest.split_once('=') {
        let name = name.trim().trim_start_matches(',').trim().to_string();
        let after = after.trim_start();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next().map(|(_, c)| c)),
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => value.push(c),
                }
            }
            (value, &quoted[end..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        params.push((name, value));
        rest = next.trim_start().trim_start_matches(',');
    }
    params
}

#[derive(serde::Deserialize)]
struct TokenReply {
    token: Option<String>,
    access_token: Option<String>,
    expires_in: Option<u64>,
}

#[derive(Default)]
pub struct Tokens {
    inner: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    by_challenge: HashMap<Challenge, (String, Instant)>,
    /// Which challenge a URL's parent path answered last.
    by_path: HashMap<String, Challenge>,
}

/// A URL without its last two path segments: `/v2/lib/app/blobs/sha256:…` and
/// `/v2/lib/app/manifests/1` share `/v2/lib/app`.
fn parent(url: &str) -> &str {
    let url = url.split(['?', '#']).next().unwrap_or(url);
    let mut end = url.len();
    for _ in 0..2 {
        match url[..end].rfind('/') {
            Some(i) if url[..i].contains("//") && i > url.find("//").unwrap_or(0) + 2 => end = i,
            _ => break,
        }
    }
    &url[..end]
}

impl Tokens {
    /// A live token some earlier request below the same parent path was given.
    pub fn for_url(&self, url: &str) -> Option<String> {
        let kept = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let challenge = kept.by_path.get(parent(url))?;
        let (token, expires) = kept.by_challenge.get(challenge)?;
        (Instant::now() < *expires).then(|| token.clone())
    }

    /// A token for `challenge`: kept, or asked of its realm (with `basic` credentials if
    /// any). Remembered for `url`'s parent path.
    pub async fn obtain(
        &self,
        client: &reqwest::Client,
        challenge: &Challenge,
        basic: Option<(&str, &str)>,
        url: &str,
    ) -> Result<String, String> {
        let kept = {
            let kept = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            kept.by_challenge
                .get(challenge)
                .filter(|(_, expires)| Instant::now() < *expires)
                .map(|(token, _)| token.clone())
        };
        let (token, expires) = match kept {
            Some(token) => (token, None),
            None => {
                let (token, life) = Self::ask(client, challenge, basic).await?;
                (token, Some(Instant::now() + life.saturating_sub(MARGIN)))
            }
        };
        let mut kept = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if kept.by_challenge.len() >= MAX_KEPT || kept.by_path.len() >= MAX_KEPT {
            *kept = Kept::default();
        }
        if let Some(expires) = expires {
            kept.by_challenge
                .insert(challenge.clone(), (token.clone(), expires));
        }
        kept.by_path
            .insert(parent(url).to_string(), challenge.clone());
        Ok(token)
    }

    async fn ask(
        client: &reqwest::Client,
        challenge: &Challenge,
        basic: Option<(&str, &str)>,
    ) -> Result<(String, Duration), String> {
        let realm = reqwest::Url::parse(&challenge.realm).map_err(|e| e.to_string())?;
        if !matches!(realm.scheme(), "http" | "https") {
            return Err("the realm is not an http(s) URL".into());
        }
        let mut query = Vec::new();
        if let Some(service) = &challenge.service {
            query.push(("service", service.as_str()));
        }
        if let Some(scope) = &challenge.scope {
            query.push(("scope", scope.as_str()));
        }
        let mut request = client.get(realm).query(&query);
        if let Some((user, password)) = basic {
            request = request.basic_auth(user, Some(password));
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("answered {}", response.status()));
        }
        let body = response.bytes().await.map_err(|e| e.to_string())?;
        let reply: TokenReply =
            serde_json::from_slice(&body).map_err(|e| format!("not a token reply: {e}"))?;
        let token = reply
            .token
            .or(reply.access_token)
            .filter(|t| !t.is_empty())
            .ok_or("the reply holds no token")?;
        let life = reply
            .expires_in
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_LIFETIME);
        Ok((token, life))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse_with_quoted_commas() {
        let c = Challenge::parse(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:lib/app:pull,push""#,
        )
        .unwrap();
        assert_eq!(c.realm, "https://auth.example/token");
        assert_eq!(c.service.as_deref(), Some("registry.example"));
        assert_eq!(c.scope.as_deref(), Some("repository:lib/app:pull,push"));
        let bare = Challenge::parse("bearer realm=http://a/t, scope=x").unwrap();
        assert_eq!(
            (bare.realm.as_str(), bare.scope.as_deref()),
            ("http://a/t", Some("x"))
        );
        assert_eq!(Challenge::parse(r#"Basic realm="x""#), None);
        assert_eq!(Challenge::parse(r#"Bearer service="x""#), None);
    }

    #[test]
    fn parents_drop_two_segments_but_never_the_host() {
        assert_eq!(
            parent("http://up/v2/lib/app/blobs/sha256:ab?x=1"),
            "http://up/v2/lib/app"
        );
        assert_eq!(parent("http://up/a"), "http://up");
        assert_eq!(parent("http://up"), "http://up");
    }
}
