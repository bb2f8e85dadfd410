//! The audit log: security-relevant events as structured log lines with the target
//! `wharf::audit`, one function per kind of event, so a log shipper (or
//! `WHARF_LOG=warn,wharf::audit=info`) can keep them apart from the rest.
//!
//! Call these where the event happens, after it did (a failed attempt is its own
//! event). Lines never carry secrets: token names and ids, never token values or
//! passwords. Events from HTTP requests are logged inside the request's span, which
//! carries the request id and the signed-in user (`http::log`); `via` says whether a
//! request or the command line caused them.

use std::fmt;

/// Whence a change came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// An HTTP request (its span names the user and the request id).
    Http,
    /// An admin command on the server's machine (`wharf user …`, `wharf token …`).
    Cli,
    /// The first start, which creates the administrator.
    Bootstrap,
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Http => "http",
            Self::Cli => "cli",
            Self::Bootstrap => "bootstrap",
        })
    }
}

/// Credentials presented and refused. `user` is the name a Basic login gave, if any.
pub fn login_failed(user: Option<&str>, client: Option<&str>, reason: &str) {
    tracing::warn!(target: "wharf::audit", event = "login_failed", user, client, reason, "login failed");
}

/// A stored API token was created (never its value).
pub fn token_created(user: &str, name: &str, scope: &str, via: Via) {
    tracing::info!(target: "wharf::audit", event = "token_created", user, token_name = name, scope, %via, "token created");
}

/// A stored API token was revoked.
/// `token` is its id or its name, as the revoker named it; `user` its owner when known.
pub fn token_revoked(user: &str, token: &str, via: Via) {
    tracing::info!(target: "wharf::audit", event = "token_revoked", user, token, %via, "token revoked");
}

pub fn user_created(name: &str, admin: bool, via: Via) {
    tracing::info!(target: "wharf::audit", event = "user_created", user = name, admin, %via, "user created");
}

pub fn user_deleted(name: &str, via: Via) {
    tracing::info!(target: "wharf::audit", event = "user_deleted", user = name, %via, "user deleted");
}

pub fn password_changed(name: &str, via: Via) {
    tracing::info!(target: "wharf::audit", event = "password_changed", user = name, %via, "password changed");
}

pub fn org_created(name: &str, admin: &str, via: Via) {
    tracing::info!(target: "wharf::audit", event = "org_created", org = name, admin, %via, "organization created");
}

/// A member was added to an organization or given another role.
pub fn member_set(org: &str, user: &str, role: &str, via: Via) {
    tracing::info!(target: "wharf::audit", event = "member_set", org, user, role, %via, "organization member set");
}

pub fn member_removed(org: &str, user: &str, via: Via) {
    tracing::info!(target: "wharf::audit", event = "member_removed", org, user, %via, "organization member removed");
}

/// An owner's packages became private or public.
pub fn visibility_changed(owner: &str, private: bool, via: Via) {
    tracing::info!(target: "wharf::audit", event = "visibility_changed", owner, private, %via, "visibility changed");
}

/// What a delete removed.
#[derive(Debug, Clone, Copy)]
pub enum Deleted<'a> {
    File {
        version: &'a str,
        file: &'a str,
    },
    Version(&'a str),
    /// A package with all its versions.
    Package,
    Tag(&'a str),
    /// A package's own link to a blob (an OCI layer pushed to a repository).
    BlobLink,
}

/// Something of `owner`'s package `package` of `format` was deleted, in the
/// transaction that is about to commit.
pub fn deleted(owner: &str, format: &str, package: &str, what: Deleted<'_>, via: Via) {
    let (kind, version, item) = match what {
        Deleted::File { version, file } => ("file", Some(version), Some(file)),
        Deleted::Version(version) => ("version", Some(version), None),
        Deleted::Package => ("package", None, None),
        Deleted::Tag(tag) => ("tag", None, Some(tag)),
        Deleted::BlobLink => ("blob_link", None, None),
    };
    tracing::info!(
        target: "wharf::audit",
        event = "deleted",
        kind,
        owner,
        format,
        package,
        version,
        item,
        %via,
        "deleted"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logging::{LogFormat, captured};

    #[test]
    fn events_have_their_own_target_and_kind() {
        let text = captured(LogFormat::Json, "warn,wharf::audit=info", false, || {
            token_created("alice", "ci", "write", Via::Cli);
            deleted(
                "alice",
                "npm",
                "left-pad",
                Deleted::Version("1.0.0"),
                Via::Http,
            );
            login_failed(Some("bob"), None, "invalid credentials");
            tracing::info!(target: "wharf::other", "not an audit event");
        });
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines.iter().all(|l| l["target"] == "wharf::audit"));
        assert_eq!(lines[0]["event"], "token_created");
        assert_eq!(lines[0]["token_name"], "ci");
        assert_eq!(lines[0]["via"], "cli");
        assert_eq!(lines[1]["kind"], "version");
        assert_eq!(lines[1]["version"], "1.0.0");
        assert!(
            lines[1].get("item").is_none(),
            "absent fields stay out: {text}"
        );
        assert_eq!(lines[2]["level"], "WARN");
        assert_eq!(lines[2]["user"], "bob");
    }
}
