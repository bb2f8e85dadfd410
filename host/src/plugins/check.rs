//! `wharf plugin check FILE.wasm`: what the server would make of a component, without
//! starting it. The component goes through exactly the checks of a server start
//! ([`Runtime::prepare`]) on an engine with the configured limits; nothing is cached or
//! written.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

use super::api::{Descriptor, ErrorStyle, HashAlgorithm};
use super::contract::{self, CONTRACT, Interfaces, Track};
use super::{Repositories, Runtime, RuntimeLimits, host_impl};
use crate::config::{self, Config, FormatConfig, PluginSource};

/// What a component is, as the server would load it under `config`.
#[derive(Debug)]
pub struct Report {
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
    pub descriptor: Descriptor,
    pub interfaces: Interfaces,
    /// Whether its format can have proxy and group repositories (contract 0.3.1).
    pub repositories: Repositories,
    /// The contract track the component implements.
    pub track: Track,
    pub limits: RuntimeLimits,
    /// The upload limit the format would get (its own, else `limits.max_upload`).
    pub max_upload: u64,
    /// Calls of the format that may run at once (its share of the instance pool).
    pub max_concurrent: u32,
    /// The config's `[formats.NAME]` table for the name the plugin declares, if any.
    pub configured: Option<FormatConfig>,
    public_url: String,
}

/// Loads `path` as the server would and reports on it; an error says why the server
/// would refuse it.
pub fn check(path: &Path, config: &Config) -> anyhow::Result<Report> {
    let runtime = Runtime::uncached(RuntimeLimits::from_config(config))?;
    check_with(&runtime, path, config)
}

/// [`check`] on a given runtime (tests pass one with a shared compilation cache).
pub fn check_with(runtime: &Runtime, path: &Path, config: &Config) -> anyhow::Result<Report> {
    let wasm = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let limits = runtime.limits;
    let label = path.display().to_string();
    let prepared = runtime
        .prepare(&label, &wasm)
        .with_context(|| format!("{label}: the server would refuse this plugin"))?;
    let descriptor = prepared.descriptor;
    if let Some(format) = config.formats.get(&descriptor.name) {
        super::settings::resolve(&descriptor.settings, &format.settings).with_context(|| {
            format!(
                "{label}: the server would refuse [formats.{}.settings]",
                descriptor.name
            )
        })?;
    }
    if !config::valid_format_name(&descriptor.name) {
        bail!(
            "{label}: it describes itself as {:?}, which cannot be a [formats.NAME] table \
             (lower-case letters, digits and '-')",
            descriptor.name
        );
    }
    Ok(Report {
        path: path.to_path_buf(),
        size: wasm.len() as u64,
        sha256: hex::encode(Sha256::digest(&wasm)),
        max_upload: config.max_upload(&descriptor.name),
        max_concurrent: config.max_concurrent(&descriptor.name),
        configured: config.formats.get(&descriptor.name).cloned(),
        descriptor,
        interfaces: prepared.interfaces,
        repositories: prepared.repositories,
        track: prepared.track,
        limits,
        public_url: config.public_url(),
    })
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.descriptor;
        let row = |f: &mut fmt::Formatter<'_>, key: &str, value: &dyn fmt::Display| {
            writeln!(f, "  {key:<11} {value}")
        };
        writeln!(
            f,
            "{}: a wharf:format plugin this host can load",
            self.path.display()
        )?;
        row(
            f,
            "component",
            &format!("{} bytes, sha256 {}", self.size, self.sha256),
        )?;
        row(f, "format", &d.name)?;
        row(
            f,
            "contract",
            &format!(
                "{} ({}this host implements wharf:format@{CONTRACT} and loads {})",
                d.contract,
                match self.track {
                    Track::Current => String::new(),
                    track => format!("{track}, converted to and from the host's at every call; "),
                },
                contract::accepted()
            ),
        )?;
        row(f, "imports", &list(&self.interfaces.imports))?;
        row(f, "exports", &list(&self.interfaces.exports))?;
        row(
            f,
            "wasi",
            &format!(
                "{} imports, linked to an empty context (no files, environment or network)",
                self.interfaces.other_imports.len()
            ),
        )?;
        row(f, "errors", &error_style(&d.error_style))?;
        row(f, "challenge", &d.challenge.header_value(&self.public_url))?;
        let digests: Vec<&str> = std::iter::once("sha256 (always)")
            .chain(
                d.digests
                    .iter()
                    .filter(|a| **a != HashAlgorithm::Sha256)
                    .map(|a| host_impl::algorithm(*a).as_str()),
            )
            .collect();
        row(f, "digests", &digests.join(", "))?;
        let names = if d.case_insensitive_names {
            "case-insensitive"
        } else {
            "case-sensitive"
        };
        row(f, "names", &names)?;
        let credentials = std::iter::once("authorization")
            .chain(d.credential_headers.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(", ");
        row(f, "credentials", &credentials)?;
        if d.settings.is_empty() {
            row(f, "settings", &"none")?;
        }
        for decl in &d.settings {
            row(f, "settings", &super::settings::describe(decl))?;
        }
        row(
            f,
            "limits",
            &format!(
                "{} of memory and {} ms per call; uploads up to {}; {} calls at once",
                human(self.limits.memory),
                self.limits.time.as_millis(),
                human(self.max_upload),
                self.max_concurrent
            ),
        )?;
        row(
            f,
            "routes",
            &"decided per request by match-route, below the mount",
        )?;
        row(f, "proxies", &repositories(self.repositories))?;
        self.config_rows(f, &row)
    }
}

impl Report {
    /// How the config treats the format, or the table that would enable it.
    fn config_rows(
        &self,
        f: &mut fmt::Formatter<'_>,
        row: &dyn Fn(&mut fmt::Formatter<'_>, &str, &dyn fmt::Display) -> fmt::Result,
    ) -> fmt::Result {
        let d = &self.descriptor;
        match &self.configured {
            Some(format) => {
                let state = if format.enabled {
                    "enabled"
                } else {
                    "disabled"
                };
                let plugin = match &format.plugin {
                    PluginSource::Bundled => "the bundled plugin".to_string(),
                    PluginSource::Path(p) => p.display().to_string(),
                };
                row(
                    f,
                    "config",
                    &format!(
                        "[formats.{}] {state}, mount {}, plugin {plugin}",
                        d.name, format.mount
                    ),
                )
            }
            None => {
                row(
                    f,
                    "config",
                    &"not configured; to enable it, add to registry.toml:",
                )?;
                let path = std::path::absolute(&self.path).unwrap_or_else(|_| self.path.clone());
                writeln!(f, "                [formats.{}]", d.name)?;
                writeln!(
                    f,
                    "                mount = \"/api/packages/{{owner}}/{}\"",
                    d.name
                )?;
                writeln!(
                    f,
                    "                plugin = {:?}",
                    path.display().to_string()
                )
            }
        }
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

/// The `proxies` row: which `[proxies.NAME]` / `[groups.NAME]` tables the format takes.
fn repositories(r: Repositories) -> String {
    let proxies = match r.proxy {
        true => "supports proxy repositories ([proxies.NAME])",
        false => "no proxy repositories (supports-proxy is false or not exported)",
    };
    let groups = match r.groups {
        true => "groups merge members' documents in the plugin",
        false => "groups serve each document from their first member that has it",
    };
    format!("{proxies}; {groups}")
}

fn error_style(style: &ErrorStyle) -> String {
    match style {
        ErrorStyle::PlainText => "plain text".to_string(),
        ErrorStyle::JsonField(field) => format!("JSON, the message under {field:?}"),
        ErrorStyle::ErrorEnvelope => "the errors[] envelope (OCI distribution spec)".to_string(),
    }
}

/// `64 MiB` for whole binary units, else bytes.
fn human(bytes: u64) -> String {
    [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")]
        .into_iter()
        .find(|(shift, _)| bytes >= 1 << shift && bytes.is_multiple_of(1 << shift))
        .map_or_else(
            || format!("{bytes} bytes"),
            |(shift, unit)| format!("{} {unit}", bytes >> shift),
        )
}

#[cfg(test)]
mod tests {
    use super::human;

    #[test]
    fn sizes_read_like_the_config() {
        assert_eq!(human(64 << 20), "64 MiB");
        assert_eq!(human(2 << 30), "2 GiB");
        assert_eq!(human(1000), "1000 bytes");
        assert_eq!(human(0), "0 bytes");
    }
}
