//! Seeding for unit tests: owners, packages, versions and files as a publish leaves
//! them (blob rows included, revisions moved), without a plugin or an upload.

use super::{FileRow, NewFile};
use crate::db::owners::{self, OwnerKind};
use crate::db::{Conn, Db, blobs};
use crate::plugins::api::PackageRef;
use crate::store::digest::{Algorithm, of_bytes};

/// A database in a temp directory (kept alive by the returned guard).
pub fn db() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Db::open(&dir.path().join("wharf.db")).expect("open the database");
    (dir, db)
}

/// A fresh, migrated database of one engine, with what keeps it (a temp dir, a scratch
/// PostgreSQL database) alive while the test uses it.
pub struct TestDb {
    pub db: Db,
    /// Dropped after `db`.
    _keep: Keep,
}

enum Keep {
    #[expect(dead_code, reason = "held for its drop")]
    Dir(tempfile::TempDir),
    #[expect(dead_code, reason = "held for its drop")]
    Postgres(crate::db::ScratchDatabase),
}

/// A fresh database of each engine to test: SQLite, and PostgreSQL when
/// `WHARF_TEST_POSTGRES` names a server (under `CI=true` it must).
pub fn engines(test: &str) -> Vec<TestDb> {
    let (dir, db) = self::db();
    let mut all = vec![TestDb {
        db,
        _keep: Keep::Dir(dir),
    }];
    if let Some(scratch) = crate::db::ScratchDatabase::create(test) {
        let db = Db::connect(&scratch.url, 4, std::path::Path::new("unused"))
            .expect("connect to the scratch database");
        all.push(TestDb {
            db,
            _keep: Keep::Postgres(scratch),
        });
    }
    all
}

/// Runs `f` in a write transaction of a fresh database, with the id of a user "alice".
/// Runs on each engine (see [`engines`]).
pub fn with_alice(f: impl Fn(&Conn<'_>, i64)) {
    for engine in engines("with_alice") {
        engine
            .db
            .write_sync(|tx| {
                f(tx, owner(tx, "alice"));
                Ok(())
            })
            .expect("the test's transaction");
    }
}

/// Runs `seed` in a write transaction of `db`, with the ids of new users alice and bob.
pub fn seed<R>(db: &Db, seed: impl FnOnce(&Conn<'_>, i64, i64) -> R) -> R {
    db.write_sync(|tx| {
        let (alice, bob) = (owner(tx, "alice"), owner(tx, "bob"));
        Ok(seed(tx, alice, bob))
    })
    .expect("seed the database")
}

/// The account of owner `id`.
pub fn account(db: &Db, id: i64) -> owners::Owner {
    db.read_now(|conn| owners::by_id(conn, id))
        .expect("read the owner")
        .expect("the owner exists")
}

/// A package as the contract names it.
pub fn pkg_ref(owner: &str, name: &str) -> PackageRef {
    PackageRef {
        owner: owner.into(),
        name: name.into(),
    }
}

/// A user named `name`, without password; its id.
pub fn owner(conn: &Conn<'_>, name: &str) -> i64 {
    owners::create(conn, name, OwnerKind::User, None, false, false).expect("create the owner")
}

pub fn sha256(bytes: &[u8]) -> String {
    of_bytes(Algorithm::Sha256, bytes)
}

/// A package of an owner in a format.
#[derive(Clone, Copy)]
pub struct Pkg<'a> {
    pub owner_id: i64,
    pub format: &'a str,
    pub name: &'a str,
}

impl<'a> Pkg<'a> {
    pub fn new(owner_id: i64, format: &'a str, name: &'a str) -> Self {
        Self {
            owner_id,
            format,
            name,
        }
    }

    /// The package's id, creating it if needed.
    pub fn id(&self, conn: &Conn<'_>) -> i64 {
        super::ensure(conn, self.owner_id, self.format, self.name).expect("ensure the package")
    }

    /// The id of `version`, creating it (and the package) if needed.
    pub fn version(&self, conn: &Conn<'_>, version: &str) -> i64 {
        let package_id = self.id(conn);
        match super::version(conn, package_id, version).expect("find the version") {
            Some(v) => v.id,
            None => super::insert_version(conn, package_id, version, "{}", None)
                .expect("insert the version"),
        }
    }

    /// Adds file `name` holding `bytes` to `version` and marks the package changed.
    pub fn put(&self, conn: &Conn<'_>, version: &str, name: &str, bytes: &[u8]) -> FileRow {
        let version_id = self.version(conn, version);
        let blob = sha256(bytes);
        blobs::insert(conn, &blob, bytes.len() as u64).expect("record the blob");
        let file = NewFile {
            version_id,
            name,
            blob: &blob,
            size: bytes.len() as u64,
            content_type: "application/octet-stream",
            lead: true,
        };
        super::insert_file(conn, &file, false).expect("insert the file");
        super::touch(conn, self.id(conn)).expect("touch the package");
        super::file(conn, version_id, name)
            .expect("find the file")
            .expect("the file was inserted")
    }

    /// Points `tag` at `version`.
    pub fn tag(&self, conn: &Conn<'_>, tag: &str, version: &str) {
        let version_id = self.version(conn, version);
        super::set_tag(conn, self.id(conn), tag, version_id).expect("set the tag");
    }

    /// Backdates or postdates `version` (newest-wins lookups order by creation time).
    pub fn created(&self, conn: &Conn<'_>, version: &str, created: i64) {
        let version_id = self.version(conn, version);
        conn.execute(
            "UPDATE versions SET created = ?2 WHERE id = ?1",
            &[&version_id, &created],
        )
        .expect("set the creation time");
    }

    /// The package's current revision; 0 once it is gone.
    pub fn revision(&self, conn: &Conn<'_>) -> i64 {
        super::find(conn, self.owner_id, self.format, self.name)
            .expect("find the package")
            .map_or(0, |p| p.revision)
    }

    /// The package's id if it exists (without creating it).
    pub fn id_if_any(&self, conn: &Conn<'_>) -> Option<i64> {
        super::find(conn, self.owner_id, self.format, self.name)
            .expect("find the package")
            .map(|p| p.id)
    }

    /// Whether the package has `version`.
    pub fn has_version(&self, conn: &Conn<'_>, version: &str) -> bool {
        super::find(conn, self.owner_id, self.format, self.name)
            .expect("find the package")
            .and_then(|p| super::version(conn, p.id, version).expect("find the version"))
            .is_some()
    }

    /// Whether the package exists.
    pub fn exists(&self, conn: &Conn<'_>) -> bool {
        super::find(conn, self.owner_id, self.format, self.name)
            .expect("find the package")
            .is_some()
    }
}
