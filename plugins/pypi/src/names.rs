//! Project names: which are valid (PEP 508) and the normalized form (PEP 503) that
//! Wharf stores them under, so `Wharf_Base`, `wharf.base` and `WHARF-base` are one
//! project, as pip and PyPI see them.

/// PEP 508: ASCII letters and digits, with `.`, `_` and `-` inside (not at either end).
pub fn is_valid(name: &str) -> bool {
    let bytes = name.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    first.is_ascii_alphanumeric()
        && last.is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// PEP 503: lower case, every run of `-`, `_` and `.` replaced by one `-`.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_run {
                out.push('-');
            }
            in_run = true;
        } else {
            out.push(c.to_ascii_lowercase());
            in_run = false;
        }
    }
    out
}

/// The normalized name of a valid project name, else `None`.
pub fn normalized(name: &str) -> Option<String> {
    is_valid(name).then(|| normalize(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_pep_508() {
        for ok in [
            "a",
            "Z9",
            "wharf-base",
            "Wharf_Base",
            "zope.interface",
            "a--b",
        ] {
            assert!(is_valid(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", ".a", "a_", "a b", "a/b", "é", "a+b", "../x"] {
            assert!(!is_valid(bad), "{bad}");
        }
    }

    #[test]
    fn normalization_follows_pep_503() {
        for (name, expected) in [
            ("Friendly-Bard", "friendly-bard"),
            ("FRIENDLY-BARD", "friendly-bard"),
            ("friendly.bard", "friendly-bard"),
            ("friendly_bard", "friendly-bard"),
            ("friendly--bard", "friendly-bard"),
            ("FrIeNdLy-._.-bArD", "friendly-bard"),
            ("numpy", "numpy"),
        ] {
            assert_eq!(normalize(name), expected, "{name}");
        }
        assert_eq!(normalized("Wharf_Base").as_deref(), Some("wharf-base"));
        assert_eq!(normalized("-x"), None);
    }
}
