//! `registry.toml` text for proxy and group repositories, in the shape issue 21 fixes;
//! a test server takes it through [`crate::Builder::toml`].

/// `[proxies.NAME]` of `format` over `upstreams`, with `options` (`key = value` lines
/// such as `offline = true`).
pub fn proxy(name: &str, format: &str, upstreams: &[&str], options: &[&str]) -> String {
    table("proxies", name, format, "upstreams", upstreams, options)
}

/// `[groups.NAME]` of `format` with `members` in priority order, and `options`.
pub fn group(name: &str, format: &str, members: &[&str], options: &[&str]) -> String {
    table("groups", name, format, "members", members, options)
}

fn table(
    kind: &str,
    name: &str,
    format: &str,
    list: &str,
    items: &[&str],
    options: &[&str],
) -> String {
    let items: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
    let mut text = format!(
        "[{kind}.{name}]\nformat = {format:?}\n{list} = [{}]\n",
        items.join(", ")
    );
    for option in options {
        text.push_str(option);
        text.push('\n');
    }
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn tables_have_the_shape_of_issue_21() {
        let text = super::proxy(
            "npm-public",
            "npm",
            &["http://a/", "http://b/"],
            &["offline = true"],
        ) + &super::group("npm-all", "npm", &["acme", "npm-public"], &[]);
        assert_eq!(
            text,
            "[proxies.npm-public]\nformat = \"npm\"\nupstreams = [\"http://a/\", \"http://b/\"]\n\
             offline = true\n\n[groups.npm-all]\nformat = \"npm\"\nmembers = [\"acme\", \"npm-public\"]\n\n"
        );
        let parsed: toml::Table = text.parse().unwrap();
        assert_eq!(
            parsed["groups"]["npm-all"]["members"][1].as_str(),
            Some("npm-public")
        );
    }
}
