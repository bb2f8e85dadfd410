//! `[proxies.NAME]` tables: proxy (pull-through cache) repositories of a format
//! (issue 21). A proxy is an owner named NAME whose packages come from `upstreams`;
//! `registry::virtual_owners` makes its owner row and checks it against the database
//! and the format's plugin at startup.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::ByteSize;

/// One configured proxy, checked and with its credentials resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ProxyConfig {
    /// The format (a `[formats.NAME]` table) it proxies.
    pub format: String,
    /// Absolute `http`/`https` URLs, tried in order; without a trailing `/`.
    pub upstreams: Vec<String>,
    /// How long a fetched metadata document is served without revalidation.
    pub metadata_ttl: Duration,
    /// How long an upstream 404/410 is remembered.
    pub negative_ttl: Duration,
    /// Serve only what is cached; never contact an upstream.
    pub offline: bool,
    /// What the host sends upstream, if anything.
    pub credentials: Option<UpstreamCredentials>,
    /// Only `readers` (and site admins) may read it.
    pub private: bool,
    /// Users and organizations (whose members) may read a private proxy.
    pub readers: Vec<String>,
    /// Bytes of cached artifacts kept (never 0); every collection evicts the least
    /// recently used past it (`registry::gc`).
    pub max_size: Option<u64>,
}

/// Credentials for the upstreams, `env:VAR` values already read.
#[derive(Clone, PartialEq, Eq)]
pub enum UpstreamCredentials {
    Basic { username: String, password: String },
    Bearer(String),
}

/// Secrets stay out of logs and `{:?}` of the config.
impl fmt::Debug for UpstreamCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            Self::Bearer(_) => f.write_str("Bearer(<redacted>)"),
        }
    }
}

/// Defaults of the issue's table.
pub const DEFAULT_METADATA_TTL: Duration = Duration::from_secs(5 * 60);
pub const DEFAULT_NEGATIVE_TTL: Duration = Duration::from_secs(60);

/// A table as written in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ProxyTable {
    format: String,
    upstreams: Vec<String>,
    metadata_ttl: Option<String>,
    negative_ttl: Option<String>,
    #[serde(default)]
    offline: bool,
    username: Option<String>,
    password: Option<String>,
    token: Option<String>,
    #[serde(default)]
    private: bool,
    #[serde(default)]
    readers: Vec<String>,
    max_size: Option<ByteSize>,
}

/// Reads an environment variable for an `env:VAR` value.
pub(super) type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// `deserialize_with` of `Config::proxies`: each table checked, secrets read from the
/// process environment.
pub(super) fn deserialize<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, ProxyConfig>, D::Error> {
    let tables = BTreeMap::<String, ProxyTable>::deserialize(d)?;
    resolve_all(tables, &|var| std::env::var(var).ok()).map_err(serde::de::Error::custom)
}

pub(super) fn resolve_all(
    tables: BTreeMap<String, ProxyTable>,
    env: Env<'_>,
) -> Result<BTreeMap<String, ProxyConfig>, String> {
    tables
        .into_iter()
        .map(|(name, table)| {
            let proxy = table
                .resolve(env)
                .map_err(|e| format!("proxies.{name}.{e}"))?;
            Ok((name, proxy))
        })
        .collect()
}

impl ProxyTable {
    /// The checked proxy; an error starts with the key it is about.
    fn resolve(self, env: Env<'_>) -> Result<ProxyConfig, String> {
        if self.upstreams.is_empty() {
            return Err("upstreams: name at least one upstream URL".into());
        }
        let upstreams = self
            .upstreams
            .iter()
            .map(|url| upstream_url(url).map_err(|e| format!("upstreams: {e}")))
            .collect::<Result<_, _>>()?;
        let ttl = |key: &str, value: Option<String>, default| match value {
            None => Ok(default),
            Some(text) => humantime::parse_duration(&text).map_err(|e| {
                format!(
                    "{key}: invalid duration {text:?} ({e}); write e.g. \"5m\", \"90s\", \"1h\""
                )
            }),
        };
        if self.max_size == Some(ByteSize(0)) {
            return Err(
                "max_size: 0 would evict everything the proxy caches; give a size, or remove \
                 the key to keep everything"
                    .into(),
            );
        }
        if !self.private && !self.readers.is_empty() {
            return Err(
                "readers: only a private proxy has readers (set private = true); a public one \
                 is readable by everyone"
                    .into(),
            );
        }
        Ok(ProxyConfig {
            metadata_ttl: ttl("metadata_ttl", self.metadata_ttl, DEFAULT_METADATA_TTL)?,
            negative_ttl: ttl("negative_ttl", self.negative_ttl, DEFAULT_NEGATIVE_TTL)?,
            credentials: credentials(self.username, self.password, self.token, env)?,
            format: self.format,
            upstreams,
            offline: self.offline,
            private: self.private,
            readers: self.readers,
            max_size: self.max_size.map(|size| size.0),
        })
    }
}

/// An upstream as the engine joins paths to it: `http(s)://host[:port][/path]`.
fn upstream_url(text: &str) -> Result<String, String> {
    let uri: http::Uri = text
        .parse()
        .map_err(|e| format!("{text:?} is not a URL ({e})"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        return Err(format!(
            "{text:?} must be an absolute http:// or https:// URL"
        ));
    }
    if uri.query().is_some() {
        return Err(format!("{text:?} must not have a query"));
    }
    Ok(text.trim_end_matches('/').to_string())
}

fn credentials(
    username: Option<String>,
    password: Option<String>,
    token: Option<String>,
    env: Env<'_>,
) -> Result<Option<UpstreamCredentials>, String> {
    let read = |key: &str, value: String| secret(&value, env).map_err(|e| format!("{key}: {e}"));
    match (username, password, token) {
        (None, None, None) => Ok(None),
        (None, None, Some(token)) => Ok(Some(UpstreamCredentials::Bearer(read("token", token)?))),
        (Some(username), Some(password), None) => Ok(Some(UpstreamCredentials::Basic {
            username: read("username", username)?,
            password: read("password", password)?,
        })),
        (_, _, Some(_)) => {
            Err("token: give either token or username and password, not both".into())
        }
        (Some(_), None, None) => Err("password: username needs a password".into()),
        (None, Some(_), None) => Err("username: password needs a username".into()),
    }
}

/// A value, or the variable `env:VAR` names; a variable that is not set is an error
/// naming it (an empty upstream credential is never meant).
fn secret(value: &str, env: Env<'_>) -> Result<String, String> {
    let Some(var) = value.strip_prefix("env:") else {
        return Ok(value.to_string());
    };
    match env(var) {
        Some(v) if !v.is_empty() => Ok(v),
        Some(_) => Err(format!("the environment variable {var} is empty")),
        None => Err(format!("the environment variable {var} is not set")),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// `[proxies.*]` tables of `text` resolved against the variables in `vars`.
    pub(in crate::config) fn parse(
        text: &str,
        vars: &[(&str, &str)],
    ) -> Result<BTreeMap<String, ProxyConfig>, String> {
        #[derive(Deserialize)]
        struct File {
            proxies: BTreeMap<String, ProxyTable>,
        }
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let env = |var: &str| {
            vars.iter()
                .find(|(name, _)| *name == var)
                .map(|(_, value)| value.to_string())
        };
        resolve_all(file.proxies, &env)
    }

    fn refused(table: &str, vars: &[(&str, &str)]) -> String {
        let text = format!("[proxies.p]\nformat = \"npm\"\n{table}\n");
        parse(&text, vars).unwrap_err()
    }

    #[test]
    fn the_issues_table_with_its_defaults() {
        let proxies = parse(
            "[proxies.npm-public]\nformat = \"npm\"\nupstreams = [\"https://npm.upstream.example/\"]\n",
            &[],
        )
        .unwrap();
        let p = &proxies["npm-public"];
        assert_eq!(p.format, "npm");
        assert_eq!(p.upstreams, ["https://npm.upstream.example"]);
        assert_eq!(p.metadata_ttl, Duration::from_secs(300));
        assert_eq!(p.negative_ttl, Duration::from_secs(60));
        assert!(!p.offline && !p.private);
        assert_eq!(p.credentials, None);
        assert!(p.readers.is_empty());
        assert_eq!(p.max_size, None);
    }

    #[test]
    fn every_key_set() {
        let text = "[proxies.p]\nformat = \"maven\"\n\
            upstreams = [\"http://127.0.0.1:8081/maven2\", \"https://mirror.example/m2/\"]\n\
            metadata_ttl = \"1h 30m\"\nnegative_ttl = \"10s\"\noffline = true\n\
            username = \"ci\"\npassword = \"env:UP_PASS\"\nprivate = true\n\
            readers = [\"acme\", \"bob\"]\nmax_size = \"50 GiB\"\n";
        let p = &parse(text, &[("UP_PASS", "s3cret")]).unwrap()["p"];
        assert_eq!(
            p.upstreams,
            ["http://127.0.0.1:8081/maven2", "https://mirror.example/m2"]
        );
        assert_eq!(p.metadata_ttl, Duration::from_secs(5400));
        assert_eq!(p.negative_ttl, Duration::from_secs(10));
        assert!(p.offline && p.private);
        assert_eq!(p.readers, ["acme", "bob"]);
        assert_eq!(p.max_size, Some(50 << 30));
        let credentials = p.credentials.clone().unwrap();
        assert_eq!(
            credentials,
            UpstreamCredentials::Basic {
                username: "ci".into(),
                password: "s3cret".into()
            }
        );
        assert!(!format!("{credentials:?}").contains("s3cret"));
        let bearer = &parse(
            "[proxies.p]\nformat = \"npm\"\nupstreams = [\"https://u.example\"]\ntoken = \"env:T\"\n",
            &[("T", "tok")],
        )
        .unwrap()["p"];
        let bearer = bearer.credentials.clone().unwrap();
        assert_eq!(bearer, UpstreamCredentials::Bearer("tok".into()));
        assert_eq!(format!("{bearer:?}"), "Bearer(<redacted>)");
    }

    #[test]
    fn every_refusal_names_its_key() {
        let up = "upstreams = [\"https://u.example\"]";
        for (table, vars, expected) in [
            (
                "upstreams = []",
                &[][..],
                "proxies.p.upstreams: name at least one",
            ),
            (
                "upstreams = [\"ftp://u.example\"]",
                &[],
                "proxies.p.upstreams: \"ftp://u.example\" must be an absolute http",
            ),
            (
                "upstreams = [\"/relative\"]",
                &[],
                "must be an absolute http",
            ),
            (
                "upstreams = [\"https://u.example/?q=1\"]",
                &[],
                "must not have a query",
            ),
            ("upstreams = [\"not a url\"]", &[], "is not a URL"),
            (
                &format!("{up}\nmetadata_ttl = \"soon\""),
                &[],
                "proxies.p.metadata_ttl: invalid duration \"soon\"",
            ),
            (
                &format!("{up}\nnegative_ttl = \"5\""),
                &[],
                "proxies.p.negative_ttl: invalid duration",
            ),
            (
                &format!("{up}\ntoken = \"env:NOPE\""),
                &[],
                "proxies.p.token: the environment variable NOPE is not set",
            ),
            (
                &format!("{up}\ntoken = \"env:EMPTY\""),
                &[("EMPTY", "")],
                "the environment variable EMPTY is empty",
            ),
            (
                &format!("{up}\nusername = \"u\"\npassword = \"env:NOPE\""),
                &[],
                "proxies.p.password: the environment variable NOPE",
            ),
            (
                &format!("{up}\nusername = \"u\""),
                &[],
                "proxies.p.password: username needs a password",
            ),
            (
                &format!("{up}\npassword = \"p\""),
                &[],
                "proxies.p.username: password needs a username",
            ),
            (
                &format!("{up}\ntoken = \"t\"\nusername = \"u\"\npassword = \"p\""),
                &[],
                "proxies.p.token: give either",
            ),
            (
                &format!("{up}\nreaders = [\"acme\"]"),
                &[],
                "proxies.p.readers: only a private proxy",
            ),
            (
                &format!("{up}\nmax_size = \"0 GiB\""),
                &[],
                "proxies.p.max_size: 0 would evict everything",
            ),
        ] {
            let err = refused(table, vars);
            assert!(err.contains(expected), "{table}: {err}");
        }
    }

    #[test]
    fn unknown_and_missing_keys_are_refused() {
        let err = refused("upstreams = [\"https://u.example\"]\nupstream = \"x\"", &[]);
        assert!(err.contains("upstream"), "{err}");
        let err = parse("[proxies.p]\nupstreams = [\"https://u.example\"]\n", &[]).unwrap_err();
        assert!(err.contains("format"), "{err}");
        let err = refused(
            "upstreams = [\"https://u.example\"]\nmax_size = \"lots\"",
            &[],
        );
        assert!(err.contains("invalid size"), "{err}");
    }
}
