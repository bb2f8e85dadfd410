//! Query strings as ordered, decoded pairs (`+` is a space, as forms encode it).

use percent_encoding::percent_decode_str;

pub fn parse(query: Option<&str>) -> Vec<(String, String)> {
    let Some(query) = query else {
        return Vec::new();
    };
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn decodes_pairs_in_order() {
        assert_eq!(
            super::parse(Some("q=a+b&n=10&last=x%2Fy&flag")),
            vec![
                ("q".into(), "a b".into()),
                ("n".into(), "10".into()),
                ("last".into(), "x/y".into()),
                ("flag".into(), "".into())
            ]
        );
        assert!(super::parse(None).is_empty());
    }
}
