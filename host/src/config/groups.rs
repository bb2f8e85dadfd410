//! `[groups.NAME]` tables: group repositories (issue 21), one URL for several owners
//! and proxies of a format, and the checks that tie proxies and groups to the rest of
//! the config. What needs the database or the plugins (a member that is no owner, a
//! name a user already has, a format without proxy support) is checked at startup by
//! `registry::virtual_owners`.

use std::collections::{BTreeMap, HashMap};

use anyhow::bail;
use serde::Deserialize;

use super::{Config, FormatConfig};
use crate::db::owners::valid_name;

/// One configured group.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    /// The format (a `[formats.NAME]` table) it serves.
    pub format: String,
    /// Users, organizations and proxies of `format`, in priority order.
    pub members: Vec<String>,
    /// The hosted member (a user or organization) that receives writes; without it the
    /// group is read-only.
    #[serde(default)]
    pub write_to: Option<String>,
    /// A name a hosted member has is served from hosted members only.
    #[serde(default = "default_true")]
    pub confusion_guard: bool,
    #[serde(default)]
    pub private: bool,
    #[serde(default)]
    pub readers: Vec<String>,
}

fn default_true() -> bool {
    true
}

/// The proxy and group tables of `config`, against each other and the formats.
pub(super) fn validate(config: &Config) -> anyhow::Result<()> {
    // Proxies and groups are owners: one namespace, compared case-insensitively.
    let mut names: HashMap<String, String> = HashMap::new();
    let tables = (config.proxies.keys().map(|n| ("proxies", n)))
        .chain(config.groups.keys().map(|n| ("groups", n)));
    for (table, name) in tables {
        let key = format!("{table}.{name}");
        if !valid_name(name) {
            bail!(
                "{key}: {name:?} cannot be an owner name (letters, digits, '-', '_' and '.', \
                 starting and ending with a letter or digit)"
            );
        }
        if let Some(other) = names.insert(name.to_lowercase(), key.clone()) {
            bail!(
                "{key}: the name is already {other}; proxies and groups share the owner namespace"
            );
        }
    }
    for (name, proxy) in &config.proxies {
        let key = format!("proxies.{name}");
        enabled_format(config, &key, &proxy.format)?;
        readers_named(&key, &proxy.readers)?;
    }
    for (name, group) in &config.groups {
        check_group(config, name, group)?;
    }
    Ok(())
}

fn check_group(config: &Config, name: &str, group: &GroupConfig) -> anyhow::Result<()> {
    let key = format!("groups.{name}");
    enabled_format(config, &key, &group.format)?;
    if group.members.is_empty() {
        bail!("{key}.members: name at least one member (users, organizations or proxies)");
    }
    let mut seen = Vec::new();
    for member in &group.members {
        let lower = member.to_lowercase();
        if seen.contains(&lower) {
            bail!("{key}.members: {member:?} is named twice");
        }
        seen.push(lower);
        if !valid_name(member) {
            bail!("{key}.members: {member:?} is not an owner name");
        }
        if find(&config.groups, member).is_some() {
            bail!(
                "{key}.members: {member:?} is a group; a group's members are users, organizations and proxies"
            );
        }
        if let Some((proxy, p)) = find(&config.proxies, member)
            && p.format != group.format
        {
            bail!(
                "{key}.members: the proxy {proxy:?} is of format {:?}, the group of {:?}",
                p.format,
                group.format
            );
        }
    }
    if let Some(target) = &group.write_to {
        if !group.members.iter().any(|m| m.eq_ignore_ascii_case(target)) {
            bail!("{key}.write_to: {target:?} is not one of the group's members");
        }
        if find(&config.proxies, target).is_some() {
            bail!(
                "{key}.write_to: {target:?} is a proxy, which is read-only; name a hosted member"
            );
        }
    }
    if !group.private && !group.readers.is_empty() {
        bail!(
            "{key}.readers: only a private group has readers (set private = true); a public one \
             is readable by everyone"
        );
    }
    readers_named(&key, &group.readers)
}

/// The table of `tables` named `name`, compared as owner names are.
fn find<'a, T>(tables: &'a BTreeMap<String, T>, name: &str) -> Option<(&'a String, &'a T)> {
    tables.iter().find(|(n, _)| n.eq_ignore_ascii_case(name))
}

fn enabled_format(config: &Config, key: &str, format: &str) -> anyhow::Result<()> {
    match config.formats.get(format) {
        Some(FormatConfig { enabled: true, .. }) => Ok(()),
        Some(_) => bail!(
            "{key}.format: the format {format:?} is disabled ([formats.{format}] enabled = false)"
        ),
        None => bail!(
            "{key}.format: no format {format:?} (no [formats.{format}] table and none bundled)"
        ),
    }
}

fn readers_named(key: &str, readers: &[String]) -> anyhow::Result<()> {
    match readers.iter().find(|r| !valid_name(r)) {
        Some(bad) => bail!("{key}.readers: {bad:?} is not a user or organization name"),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> anyhow::Result<Config> {
        let config = Config::parse(text)?;
        config.validate()?;
        Ok(config)
    }

    const PROXY: &str =
        "[proxies.npm-public]\nformat = \"npm\"\nupstreams = [\"https://u.example\"]\n";

    #[test]
    fn the_issues_group_with_its_defaults() {
        let c = config(&format!(
            "{PROXY}[groups.npm-all]\nformat = \"npm\"\nmembers = [\"acme\", \"npm-public\"]\n"
        ))
        .unwrap();
        let g = &c.groups["npm-all"];
        assert_eq!(g.members, ["acme", "npm-public"]);
        assert_eq!(g.write_to, None);
        assert!(g.confusion_guard && !g.private && g.readers.is_empty());
        assert_eq!(c.proxies["npm-public"].format, "npm");
        let c = config(&format!(
            "{PROXY}[groups.all]\nformat = \"npm\"\nmembers = [\"acme\", \"npm-public\"]\n\
             write_to = \"ACME\"\nconfusion_guard = false\nprivate = true\nreaders = [\"ops\"]\n"
        ))
        .unwrap();
        let g = &c.groups["all"];
        assert_eq!(g.write_to.as_deref(), Some("ACME"));
        assert!(!g.confusion_guard && g.private);
        assert_eq!(g.readers, ["ops"]);
        // No tables: nothing configured.
        assert!(Config::default().proxies.is_empty() && Config::default().groups.is_empty());
    }

    #[test]
    fn every_refusal_names_its_key() {
        let group = |rest: &str| format!("{PROXY}[groups.g]\nformat = \"npm\"\n{rest}\n");
        for (text, expected) in [
            (group("members = []"), "groups.g.members: name at least one member"),
            (group("members = [\"a\", \"A\"]"), "groups.g.members: \"A\" is named twice"),
            (group("members = [\"a/b\"]"), "groups.g.members: \"a/b\" is not an owner name"),
            (group("members = [\"g\"]"), "groups.g.members: \"g\" is a group"),
            (group("members = [\"a\"]\nwrite_to = \"b\""), "groups.g.write_to: \"b\" is not one of"),
            (group("members = [\"npm-public\"]\nwrite_to = \"npm-public\""), "groups.g.write_to: \"npm-public\" is a proxy"),
            (group("members = [\"a\"]\nreaders = [\"ops\"]"), "groups.g.readers: only a private group"),
            (group("members = [\"a\"]\nprivate = true\nreaders = [\"o/ps\"]"), "groups.g.readers: \"o/ps\" is not"),
            (
                format!("{PROXY}[groups.g]\nformat = \"maven\"\nmembers = [\"npm-public\"]\n"),
                "groups.g.members: the proxy \"npm-public\" is of format \"npm\", the group of \"maven\"",
            ),
            (
                format!("{PROXY}[groups.NPM-public]\nformat = \"npm\"\nmembers = [\"a\"]\n"),
                "groups.NPM-public: the name is already proxies.npm-public",
            ),
            (
                "[proxies.p]\nformat = \"nope\"\nupstreams = [\"https://u.example\"]\n".into(),
                "proxies.p.format: no format \"nope\"",
            ),
            (
                "[formats.npm]\nenabled = false\n[proxies.p]\nformat = \"npm\"\nupstreams = [\"https://u.example\"]\n".into(),
                "proxies.p.format: the format \"npm\" is disabled",
            ),
            (
                "[proxies.-p]\nformat = \"npm\"\nupstreams = [\"https://u.example\"]\n".into(),
                "proxies.-p: \"-p\" cannot be an owner name",
            ),
            (
                "[proxies.p]\nformat = \"npm\"\nupstreams = [\"https://u.example\"]\nprivate = true\nreaders = [\"\"]\n".into(),
                "proxies.p.readers: \"\" is not",
            ),
            (group("members = [\"a\"]\nmember = \"b\""), "unknown field `member`"),
            (group(""), "missing field `members`"),
        ] {
            let err = format!("{:#}", config(&text).unwrap_err());
            assert!(err.contains(expected), "{text}\n→ {err}");
        }
    }
}
