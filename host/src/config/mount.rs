//! Where a format's routes live: `formats.NAME.mount`, with `{owner}` as one whole
//! segment, and which request paths lie below it.

use anyhow::bail;

/// A parsed mount: the literal path before `{owner}`, whether an owner segment is
/// present, and the literal path after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub prefix: String,
    pub has_owner: bool,
    pub suffix: String,
}

impl Mount {
    pub fn parse(mount: &str) -> anyhow::Result<Self> {
        if !mount.starts_with('/') || mount.ends_with('/') && mount.len() > 1 {
            bail!("{mount:?}: a mount starts with '/' and does not end with one");
        }
        if mount.contains("..") || mount.contains("//") {
            bail!("{mount:?}: empty or dot segments are not allowed");
        }
        match mount.split_once("{owner}") {
            None if mount.contains('{') => bail!("{mount:?}: the only placeholder is {{owner}}"),
            None => Ok(Self {
                prefix: mount.to_string(),
                has_owner: false,
                suffix: String::new(),
            }),
            Some((prefix, suffix)) => {
                if !prefix.ends_with('/') || !(suffix.is_empty() || suffix.starts_with('/')) {
                    bail!("{mount:?}: {{owner}} must be a whole path segment");
                }
                if suffix.contains('{') {
                    bail!("{mount:?}: {{owner}} may appear once");
                }
                Ok(Self {
                    prefix: prefix.to_string(),
                    has_owner: true,
                    suffix: suffix.to_string(),
                })
            }
        }
    }

    /// Splits a request path into (owner, rest) if it lies below this mount. `rest` is
    /// empty or starts with `/`.
    pub fn matches<'a>(&self, path: &'a str) -> Option<(Option<&'a str>, &'a str)> {
        let after_prefix = path.strip_prefix(self.prefix.as_str())?;
        if !self.has_owner {
            return (after_prefix.is_empty()
                || after_prefix.starts_with('/')
                || self.prefix == "/")
                .then_some((None, after_prefix));
        }
        let (owner, rest) =
            after_prefix.split_at(after_prefix.find('/').unwrap_or(after_prefix.len()));
        if owner.is_empty() {
            return None;
        }
        let rest = rest.strip_prefix(self.suffix.as_str())?;
        (rest.is_empty() || rest.starts_with('/')).then_some((Some(owner), rest))
    }

    /// The mount's path segments; `None` is the `{owner}` segment, which matches any.
    fn segments(&self) -> impl Iterator<Item = Option<&str>> {
        fn split(part: &str) -> impl Iterator<Item = Option<&str>> {
            part.split('/').filter(|s| !s.is_empty()).map(Some)
        }
        let owner = self.has_owner.then_some(None);
        split(&self.prefix).chain(owner).chain(split(&self.suffix))
    }

    /// If some request path lies below both mounts, the longer mount's path with the
    /// other's literals filled in (`{owner}` where any owner would do), else `None`.
    /// Mounts are compared segment by segment over the shorter one: two literals must be
    /// equal, `{owner}` matches any.
    pub fn overlap(&self, other: &Mount) -> Option<String> {
        let (mine, theirs): (Vec<_>, Vec<_>) =
            (self.segments().collect(), other.segments().collect());
        let (short, long) = if mine.len() <= theirs.len() {
            (&mine, &theirs)
        } else {
            (&theirs, &mine)
        };
        let mut path = String::new();
        for (i, segment) in long.iter().enumerate() {
            let shared = match (short.get(i), segment) {
                (None, s) => *s,
                (Some(a), b) if a.is_none() || b.is_none() || a == b => a.or(*b),
                _ => return None,
            };
            path.push('/');
            path.push_str(shared.unwrap_or("{owner}"));
        }
        Some(if path.is_empty() {
            "/".to_string()
        } else {
            path
        })
    }

    /// The absolute base URL of this mount for one owner.
    pub fn url(&self, public_url: &str, owner: Option<&str>) -> String {
        match owner {
            Some(owner) if self.has_owner => {
                format!("{public_url}{}{owner}{}", self.prefix, self.suffix)
            }
            _ => format!("{public_url}{}", self.prefix.trim_end_matches('/')),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_split_owner_and_rest() {
        let m = Mount::parse("/api/packages/{owner}/generic").unwrap();
        assert_eq!(
            m.matches("/api/packages/alice/generic/a/1/f"),
            Some((Some("alice"), "/a/1/f"))
        );
        assert_eq!(
            m.matches("/api/packages/alice/generic"),
            Some((Some("alice"), ""))
        );
        assert_eq!(m.matches("/api/packages/alice/genericx/a"), None);
        assert_eq!(m.matches("/api/packages//generic/a"), None);
        let v2 = Mount::parse("/v2").unwrap();
        assert_eq!(
            v2.matches("/v2/alice/app/manifests/1"),
            Some((None, "/alice/app/manifests/1"))
        );
        assert_eq!(v2.matches("/v2x"), None);
        assert!(Mount::parse("/api/{owner}x").is_err());
        assert!(Mount::parse("relative").is_err());
    }
}
