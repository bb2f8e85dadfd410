//! Named parameters: what `match-route` hands itself for later (`upload-spec.params`,
//! `index-spec.params`), typed as name/value pairs instead of a packed string.

/// Owned pairs from borrowed ones, in order.
pub fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// The first value named `name`.
pub fn get<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// The value named `name`, or an empty string: for parameters `match-route` always sets.
pub fn text<'a>(params: &'a [(String, String)], name: &str) -> &'a str {
    get(params, name).unwrap_or("")
}

/// A number parameter; `default` when absent or not a number (`match-route` set it, so
/// a bad one is the plugin's own bug, not the client's).
pub fn number<T: std::str::FromStr>(params: &[(String, String)], name: &str, default: T) -> T {
    get(params, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A flag parameter: present with value `true`.
pub fn flag(params: &[(String, String)], name: &str) -> bool {
    get(params, name) == Some("true")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_reads() {
        let p = owned(&[("q", "left pad"), ("skip", "20"), ("pre", "true")]);
        assert_eq!(get(&p, "q"), Some("left pad"));
        assert_eq!(text(&p, "missing"), "");
        assert_eq!(number(&p, "skip", 0u32), 20);
        assert_eq!(number(&p, "q", 7u32), 7);
        assert!(flag(&p, "pre"));
        assert!(!flag(&p, "q"));
    }
}
