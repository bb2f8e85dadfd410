//! Gitea's JSON shapes for the management API (`api.Package`, `api.PackageFile`,
//! `api.User`), so scripts written against Gitea's `/api/v1/packages` read Wharf's
//! answers. Only what Wharf stores is shown: no e-mail, avatar or web page (yet), and a
//! digest is null unless it is already known.

use std::time::{Duration, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use crate::registry::accounts::OwnerKind;
use crate::registry::catalog::{Account, FileEntry, PackageRow, VersionEntry};

/// Seconds since the epoch as RFC 3339 (`2026-12-03T00:04:07Z`), as Gitea writes times.
pub fn rfc3339(secs: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_secs(secs.max(0).unsigned_abs());
    humantime::format_rfc3339_seconds(at).to_string()
}

/// Gitea's `api.User` for an owner or a publisher (organizations too, as Gitea's package
/// owner is).
pub fn user(account: &Account) -> Value {
    let o = &account.owner;
    json!({
        "id": o.id, "login": o.name, "login_name": "", "username": o.name,
        "full_name": "", "email": "", "avatar_url": "", "html_url": null,
        "created": rfc3339(account.created),
        "visibility": if o.private { "private" } else { "public" },
        "is_organization": o.kind == OwnerKind::Org,
    })
}

/// Gitea's `api.Package`: one version of a package, identified by the version's id.
pub fn package(
    owner: &Account,
    package: &PackageRow,
    version: &VersionEntry,
) -> Map<String, Value> {
    object(json!({
        "id": version.row.id, "owner": user(owner), "repository": null,
        "creator": version.creator.as_ref().map(user),
        "type": package.format, "name": package.name, "version": version.row.version,
        "html_url": null, "created_at": rfc3339(version.row.created),
    }))
}

/// Gitea's `api.PackageFile`. Gitea spelled the size `Size` until 1.22 and `size` since;
/// both are given. A file a proxy fetched also says from where and when
/// (`fetched_from`, `fetched_at`), which Gitea has no field for.
pub fn file(entry: &FileEntry) -> Map<String, Value> {
    let f = &entry.row;
    let digest = |algorithm: &str| {
        entry
            .digests
            .iter()
            .find(|(a, _)| a == algorithm)
            .map(|(_, hex)| hex.clone())
    };
    let mut shape = object(json!({
        "id": f.id, "Size": f.size, "size": f.size, "name": f.name,
        "md5": digest("md5"), "sha1": digest("sha1"), "sha256": f.blob,
        "sha512": digest("sha512"),
    }));
    if let Some((url, at)) = &entry.fetched {
        shape.insert("fetched_from".into(), json!(url));
        shape.insert("fetched_at".into(), json!(rfc3339(*at)));
    }
    shape
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => unreachable!("built from an object literal"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::accounts::Owner;
    use crate::registry::catalog::FileRow;

    fn account(private: bool) -> Account {
        Account {
            owner: Owner {
                id: 7,
                name: "Alice".into(),
                kind: OwnerKind::User,
                password_hash: Some("secret".into()),
                is_admin: true,
                private,
            },
            created: 1_764_720_247,
        }
    }

    #[test]
    fn times_are_rfc3339_in_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_764_720_247), "2025-12-03T00:04:07Z");
        assert_eq!(
            rfc3339(-5),
            "1970-01-01T00:00:00Z",
            "never before the epoch"
        );
    }

    #[test]
    fn users_show_no_secrets_and_nothing_invented() {
        let u = user(&account(true));
        assert_eq!(u["login"], "Alice");
        assert_eq!(u["username"], "Alice");
        assert_eq!(u["email"], "");
        assert_eq!(u["visibility"], "private");
        assert_eq!(u["created"], "2025-12-03T00:04:07Z");
        let text = u.to_string();
        assert!(
            !text.contains("secret") && !text.contains("admin"),
            "{text}"
        );
    }

    #[test]
    fn files_give_known_digests_and_null_for_the_rest() {
        let entry = FileEntry {
            row: FileRow::linked_blob("ab".repeat(32), 3, 0),
            digests: vec![("sha1".into(), "cd".repeat(20))],
            fetched: None,
        };
        let f = file(&entry);
        assert_eq!(f["Size"], 3);
        assert_eq!(f["size"], 3);
        assert_eq!(f["sha256"], "ab".repeat(32));
        assert_eq!(f["sha1"], "cd".repeat(20));
        assert!(f["md5"].is_null() && f["sha512"].is_null());
        assert!(
            !f.contains_key("fetched_from"),
            "hosted files have no origin"
        );
    }

    #[test]
    fn fetched_files_say_from_where_and_when() {
        let entry = FileEntry {
            row: FileRow::linked_blob("ab".repeat(32), 3, 0),
            digests: Vec::new(),
            fetched: Some(("https://up.example/a/-/a-1.tgz".into(), 1_796_256_000)),
        };
        let f = file(&entry);
        assert_eq!(f["fetched_from"], "https://up.example/a/-/a-1.tgz");
        assert_eq!(f["fetched_at"], "2026-12-03T00:00:00Z");
    }
}
