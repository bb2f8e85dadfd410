//! NuGet versions: `major.minor[.patch[.revision]][-prerelease][+metadata]`, normalized
//! and ordered the way the NuGet client does (SemVer 2.0 with a fourth number).

use std::cmp::Ordering;

/// A parsed version. Build metadata is kept for display but ignored by equality and
/// ordering, as NuGet ignores it.
#[derive(Debug, Clone)]
pub struct Version {
    numbers: [u64; 4],
    prerelease: Vec<String>,
    metadata: String,
}

impl Version {
    /// Parses a version as a nuspec or a URL gives it; `None` when NuGet would refuse it.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.is_empty() || text.len() > 128 {
            return None;
        }
        let (rest, metadata) = match text.split_once('+') {
            Some((rest, meta)) => (rest, Some(meta)),
            None => (text, None),
        };
        let (core, prerelease) = match rest.split_once('-') {
            Some((core, pre)) => (core, Some(pre)),
            None => (rest, None),
        };
        let parts: Vec<&str> = core.split('.').collect();
        if !(2..=4).contains(&parts.len()) {
            return None;
        }
        let mut numbers = [0u64; 4];
        for (slot, part) in numbers.iter_mut().zip(&parts) {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            *slot = part.parse().ok()?;
        }
        let identifiers = |s: &str| {
            let ids: Vec<String> = s.split('.').map(str::to_string).collect();
            let valid = ids.iter().all(|id| {
                !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
            valid.then_some(ids)
        };
        let prerelease = match prerelease {
            Some(pre) => identifiers(pre)?,
            None => Vec::new(),
        };
        let metadata = match metadata {
            Some(meta) => identifiers(meta)?.join("."),
            None => String::new(),
        };
        Some(Self {
            numbers,
            prerelease,
            metadata,
        })
    }

    /// NuGet's normalized form, used in URLs, file names and as the stored version:
    /// three numbers, the fourth only when non-zero, the prerelease, no metadata
    /// (`1.0.3.0` → `1.0.3`, `1.0-beta` → `1.0.0-beta`).
    pub fn normalized(&self) -> String {
        let [major, minor, patch, revision] = self.numbers;
        let mut out = format!("{major}.{minor}.{patch}");
        if revision > 0 {
            out.push_str(&format!(".{revision}"));
        }
        if !self.prerelease.is_empty() {
            out.push('-');
            out.push_str(&self.prerelease.join("."));
        }
        out
    }

    /// The normalized form with build metadata (`1.0.0+sha.abc`), shown in registration
    /// leaves and search results.
    pub fn full(&self) -> String {
        let mut out = self.normalized();
        if !self.metadata.is_empty() {
            out.push('+');
            out.push_str(&self.metadata);
        }
        out
    }

    pub fn is_prerelease(&self) -> bool {
        !self.prerelease.is_empty()
    }

    /// Whether only SemVer 2.0 clients understand it (dotted prerelease or metadata);
    /// such versions are marked `semVerLevel` 2.0.0 in feeds.
    /// The build metadata (`sha.1` of `1.0.0+sha.1`), empty when there is none.
    pub fn build_metadata(&self) -> &str {
        &self.metadata
    }

    /// The same version with other build metadata (ignored by comparisons).
    pub fn with_build_metadata(mut self, metadata: &str) -> Self {
        self.metadata = metadata.to_string();
        self
    }

    pub fn is_semver2(&self) -> bool {
        self.prerelease.len() > 1 || !self.metadata.is_empty()
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    /// SemVer 2.0 precedence with NuGet's case-insensitive prerelease labels: a
    /// release sorts after its prereleases; numeric labels sort numerically and before
    /// alphanumeric ones; more labels win a tie.
    fn cmp(&self, other: &Self) -> Ordering {
        self.numbers.cmp(&other.numbers).then_with(|| {
            match (self.prerelease.is_empty(), other.prerelease.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => compare_labels(&self.prerelease, &other.prerelease),
            }
        })
    }
}

fn compare_labels(a: &[String], b: &[String]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let order = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            (Ok(_), Err(_)) => Ordering::Less,
            (Err(_), Ok(_)) => Ordering::Greater,
            (Err(_), Err(_)) => x.to_ascii_lowercase().cmp(&y.to_ascii_lowercase()),
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    a.len().cmp(&b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap_or_else(|| panic!("{s} should parse"))
    }

    #[test]
    fn normalizes_as_nuget_does() {
        assert_eq!(v("1.0").normalized(), "1.0.0");
        assert_eq!(v("1.0.3.0").normalized(), "1.0.3");
        assert_eq!(v("1.0.3.4").normalized(), "1.0.3.4");
        assert_eq!(v("01.002.3").normalized(), "1.2.3");
        assert_eq!(v("1.0.0-Beta.1+git.abc").normalized(), "1.0.0-Beta.1");
        assert_eq!(v("1.0.0-Beta.1+git.abc").full(), "1.0.0-Beta.1+git.abc");
    }

    #[test]
    fn refuses_what_nuget_refuses() {
        for bad in [
            "",
            "1",
            "1.2.3.4.5",
            "a.b",
            "1.0-",
            "1.0+",
            "1..0",
            "1.0-be ta",
            "1.0.0-é",
            "-1.0",
        ] {
            assert!(Version::parse(bad).is_none(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn orders_by_semver2_precedence() {
        let ordered = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-BETA",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.0.1",
            "1.0.1",
            "1.10.0",
        ];
        for pair in ordered.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        assert_eq!(v("1.0.0-Beta"), v("1.0.0-beta"));
        assert_eq!(v("1.0.0+a"), v("1.0.0+b"));
    }

    #[test]
    fn semver2_marks() {
        assert!(!v("1.0.0-beta").is_semver2());
        assert!(v("1.0.0-beta.1").is_semver2());
        assert!(v("1.0.0+meta").is_semver2());
        assert!(v("1.0.0-rc").is_prerelease());
    }
}
