//! The HTTP client for upstreams: generic HTTP, no format knowledge.
//!
//! A request is tried against each configured upstream in order; the next one is tried
//! on connection errors, time-outs, 5xx and 429, while any other status (404 and 410
//! included) is the answer. Credentials go to the configured upstreams only (and to a
//! token realm they name), never to other hosts an absolute URL or a redirect points
//! at. http(s) redirects are followed (artifacts hosted on object stores and CDNs),
//! nothing else.

use std::time::Duration;

use reqwest::{Method, StatusCode, header};

use super::config::{ProxyConfig, UpstreamCredentials};
use super::plugin::UpstreamRequest;
use super::token::{Challenge, Tokens};

/// Connecting to an upstream may take this long before the next one is tried.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The response head, and then each piece of the body, must come within this.
const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(30);
/// Redirects followed for one request.
const MAX_REDIRECTS: usize = 10;

/// Validators of a cached copy, sent as `If-None-Match` / `If-Modified-Since`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// An upstream's answer (any status but 5xx and 429), its body not read yet.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// The URL asked for (before redirects): what relative URLs and logs refer to.
    pub url: String,
    /// The configured upstream base it was asked of; `None` for an absolute URL on
    /// another host.
    pub base: Option<String>,
    pub response: reqwest::Response,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.response.headers().get(name)?.to_str().ok()
    }

    /// The content type, `application/octet-stream` when the upstream sent none.
    pub fn content_type(&self) -> String {
        self.header("content-type")
            .filter(|t| !t.is_empty())
            .unwrap_or("application/octet-stream")
            .to_string()
    }

    /// Upstream headers worth keeping with a cached document (lower-case names);
    /// framing and connection headers are not.
    pub fn kept_headers(&self) -> Vec<(String, String)> {
        const DROPPED: &[&str] = &[
            "connection",
            "keep-alive",
            "transfer-encoding",
            "content-length",
            "set-cookie",
            "date",
            "age",
            "via",
            "server",
            "alt-svc",
            "strict-transport-security",
        ];
        self.response
            .headers()
            .iter()
            .filter(|(name, _)| !DROPPED.contains(&name.as_str()))
            .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_string())))
            .collect()
    }

    /// The next piece of the body; `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<bytes::Bytes>, String> {
        self.response.chunk().await.map_err(|e| error_text(&e))
    }
}

/// Every upstream failed; one line per attempt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no upstream answered: {}", .0.join("; "))]
pub struct Unreachable(pub Vec<String>);

pub struct Upstreams {
    client: reqwest::Client,
    tokens: Tokens,
    first_byte: Duration,
}

impl Upstreams {
    pub fn new() -> Self {
        Self::with_timeouts(CONNECT_TIMEOUT, FIRST_BYTE_TIMEOUT)
    }

    /// A client that gives up on an upstream after `connect` without a connection, or
    /// `first_byte` without a response head (or between two pieces of a body).
    pub fn with_timeouts(connect: Duration, first_byte: Duration) -> Self {
        let builder = || {
            reqwest::Client::builder()
                .connect_timeout(connect)
                .read_timeout(first_byte)
                .redirect(redirects())
                .user_agent(concat!("wharf/", env!("CARGO_PKG_VERSION")))
        };
        // A system trust store with only unreadable certificates fails the build; the
        // registry still starts, and https upstreams then fail with a clear error.
        let client = builder().build().unwrap_or_else(|e| {
            tracing::error!(error = %e, "proxy upstreams: the system's CA certificates are unusable");
            builder()
                .tls_built_in_root_certs(false)
                .build()
                .expect("a client without root certificates always builds")
        });
        Self {
            client,
            tokens: Tokens::default(),
            first_byte,
        }
    }

    /// Sends `request` to the upstreams of `config` in order until one answers.
    pub async fn send(
        &self,
        config: &ProxyConfig,
        method: Method,
        request: &UpstreamRequest,
        validators: &Validators,
    ) -> Result<Answer, Unreachable> {
        let candidates =
            candidates(&config.upstreams, &request.path).map_err(|e| Unreachable(vec![e]))?;
        let mut failures = Vec::new();
        for (url, base) in candidates {
            let credentials = base.as_ref().and(config.credentials.as_ref());
            match self
                .attempt(&method, &url, request, validators, credentials)
                .await
            {
                Ok(response) => {
                    return Ok(Answer {
                        status: response.status().as_u16(),
                        url,
                        base,
                        response,
                    });
                }
                Err(why) => failures.push(format!("{url}: {why}")),
            }
        }
        Err(Unreachable(failures))
    }

    /// One upstream: the request, and once more with a token when the upstream asks for
    /// one with a Bearer challenge.
    async fn attempt(
        &self,
        method: &Method,
        url: &str,
        request: &UpstreamRequest,
        validators: &Validators,
        credentials: Option<&UpstreamCredentials>,
    ) -> Result<reqwest::Response, String> {
        let mut token = self.tokens.for_url(url);
        let mut challenged = false;
        loop {
            let mut builder = self.client.request(method.clone(), url);
            if let Some(accept) = &request.accept {
                builder = builder.header(header::ACCEPT, accept);
            }
            if let Some(etag) = &validators.etag {
                builder = builder.header(header::IF_NONE_MATCH, etag);
            }
            if let Some(date) = &validators.last_modified {
                builder = builder.header(header::IF_MODIFIED_SINCE, date);
            }
            builder = match (&token, credentials) {
                (Some(token), _) => builder.bearer_auth(token),
                (None, Some(UpstreamCredentials::Basic { username, password })) => {
                    builder.basic_auth(username, Some(password))
                }
                (None, Some(UpstreamCredentials::Bearer(token))) => builder.bearer_auth(token),
                (None, None) => builder,
            };
            let response = match tokio::time::timeout(self.first_byte, builder.send()).await {
                Err(_) => return Err("no response in time".into()),
                Ok(Err(e)) => return Err(error_text(&e)),
                Ok(Ok(response)) => response,
            };
            let status = response.status();
            if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
                return Err(format!("answered {status}"));
            }
            if status != StatusCode::UNAUTHORIZED || challenged {
                return Ok(response);
            }
            let Some(challenge) = response
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .and_then(Challenge::parse)
            else {
                return Ok(response);
            };
            challenged = true;
            let basic = match credentials {
                Some(UpstreamCredentials::Basic { username, password }) => {
                    Some((username.as_str(), password.as_str()))
                }
                _ => None,
            };
            token = Some(
                self.tokens
                    .obtain(&self.client, &challenge, basic, url)
                    .await
                    .map_err(|e| format!("token from {}: {e}", challenge.realm))?,
            );
        }
    }
}

impl Default for Upstreams {
    fn default() -> Self {
        Self::new()
    }
}

/// http(s) redirects are followed, at most [`MAX_REDIRECTS`] of them.
fn redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            attempt.error("too many redirects")
        } else if !matches!(attempt.url().scheme(), "http" | "https") {
            attempt.error("redirect to a URL that is not http(s)")
        } else {
            attempt.follow()
        }
    })
}

/// The URLs to try for `path`, each with the configured base it belongs to. A relative
/// path goes to every upstream in order; an absolute URL under a configured upstream
/// goes there first, then to the others with the same relative part; any other
/// absolute URL is tried alone, without credentials.
fn candidates(upstreams: &[String], path: &str) -> Result<Vec<(String, Option<String>)>, String> {
    let bases: Vec<&str> = upstreams.iter().map(|u| u.trim_end_matches('/')).collect();
    let with = |relative: &str, first: Option<usize>| {
        let order = first
            .into_iter()
            .chain((0..bases.len()).filter(|i| Some(*i) != first));
        order
            .map(|i| {
                (
                    format!("{}{relative}", bases[i]),
                    Some(bases[i].to_string()),
                )
            })
            .collect()
    };
    if path.starts_with('/') {
        return Ok(with(path, None));
    }
    let parsed = reqwest::Url::parse(path).map_err(|e| format!("{path:?}: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("{path:?} is not an http(s) URL"));
    }
    let under = bases.iter().enumerate().find_map(|(i, base)| {
        let rest = path.strip_prefix(base)?;
        (rest.is_empty() || rest.starts_with('/')).then_some((i, rest))
    });
    Ok(match under {
        Some((i, rest)) => with(rest, Some(i)),
        None => vec![(path.to_string(), None)],
    })
}

/// An error with its causes (reqwest's own text says only "error sending request").
fn error_text(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_follow_the_configured_order() {
        let ups = vec!["http://a/x/".to_string(), "http://b".to_string()];
        let urls = |path| {
            candidates(&ups, path)
                .unwrap()
                .into_iter()
                .map(|(u, base)| (u, base.is_some()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            urls("/p?q=1"),
            [
                ("http://a/x/p?q=1".into(), true),
                ("http://b/p?q=1".into(), true)
            ]
        );
        assert_eq!(
            urls("http://b/t.tgz"),
            [
                ("http://b/t.tgz".into(), true),
                ("http://a/x/t.tgz".into(), true)
            ]
        );
        assert_eq!(
            urls("https://cdn/t.tgz"),
            [("https://cdn/t.tgz".into(), false)]
        );
        // A prefix that is not a whole path segment is another URL.
        assert_eq!(urls("http://a/xy"), [("http://a/xy".into(), false)]);
        assert!(candidates(&ups, "file:///etc/passwd").is_err());
        assert!(candidates(&ups, "relative").is_err());
    }
}
