//! The running registry: configuration, stores and loaded formats, and the
//! format-agnostic operations the HTTP layer asks of them (publish, delete, render).

pub mod accounts;
pub mod backup;
pub mod bootstrap;
pub mod browse;
pub mod cache;
pub mod catalog;
pub mod delete;
pub mod digests;
pub mod downloads;
pub mod gc;
pub mod incoming;
pub mod index;
pub mod kept;
pub mod lookup;
pub mod migrate;
pub mod mount;
pub mod presentation;
pub mod publish;
pub mod sessions;
#[cfg(test)]
pub mod testing;
pub mod tokens;
pub mod virtual_owners;

use std::sync::Arc;

use anyhow::Context;

use crate::auth::registry_token::{self, TokenKey};
use crate::config::{Config, Mount, PluginSource};
use crate::db::Db;
use crate::plugins::{Plugin, Runtime, RuntimeLimits, Services};
use crate::store::{BlobStore, Remote};

/// Memory for the file rows a node keeps for downloads: some 80,000 rows of a few
/// hundred bytes.
const FILE_ROWS_BYTES: u64 = 32 << 20;

mod bundled {
    include!(concat!(env!("OUT_DIR"), "/bundled.rs"));
}

/// One enabled format: where it is mounted and the plugin that implements it.
pub struct FormatEntry {
    pub name: String,
    pub mount: Mount,
    pub plugin: Arc<Plugin>,
    pub max_upload: u64,
}

pub struct Registry {
    pub config: Config,
    pub public_url: String,
    pub db: Db,
    pub blobs: BlobStore,
    /// Enabled formats, longest mount first so nested mounts match correctly.
    pub formats: Vec<FormatEntry>,
    pub index_cache: index::IndexCache,
    /// File rows downloads found, kept while their owner's listing revision holds.
    pub files: kept::Kept<lookup::Wanted, Option<lookup::FileRow>>,
    pub downloads: downloads::DownloadCounter,
    /// When tokens were last used, written in batches.
    pub token_use: accounts::TokenUse,
    pub sessions: sessions::Sessions,
    /// Signs and checks short-lived registry tokens.
    pub token_key: TokenKey,
    /// Verifies Basic passwords within bounds (issue 19).
    pub passwords: crate::auth::Passwords,
    /// The configured proxy and group owners (issue 21).
    pub virtual_owners: virtual_owners::VirtualOwners,
    /// Fetches and caches for proxy owners (issue 21).
    pub proxies: crate::proxy::Engine,
}

/// Loads the enabled formats' plugins, longest mount first so nested mounts match
/// correctly.
fn load_formats(config: &Config, db: &Db, blobs: &BlobStore) -> anyhow::Result<Vec<FormatEntry>> {
    let data_dir = &config.storage.data_dir;
    let runtime = Runtime::new(
        RuntimeLimits::from_config(config),
        &data_dir.join("plugin-cache"),
    )?;
    let services = Services {
        db: db.clone(),
        blobs: blobs.clone(),
    };

    let mut formats = Vec::new();
    for (name, format) in config.formats.iter().filter(|(_, f)| f.enabled) {
        let wasm = match &format.plugin {
            PluginSource::Bundled => bundled::BUNDLED
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, bytes)| bytes.to_vec())
                .with_context(|| format!("formats.{name}.plugin: no bundled plugin named {name:?}; give a path to a .wasm component"))?,
            PluginSource::Path(path) => std::fs::read(path)
                .with_context(|| format!("formats.{name}.plugin: cannot read {}", path.display()))?,
        };
        let plugin = runtime
            .load(
                name,
                &wasm,
                services.clone(),
                config.max_concurrent(name),
                &format.settings,
            )
            .with_context(|| match &format.plugin {
                PluginSource::Bundled => format!("formats.{name}: the bundled plugin"),
                PluginSource::Path(path) => {
                    format!("formats.{name}.plugin: {}", path.display())
                }
            })?;
        tracing::info!(format = %name, mount = %format.mount, plugin = %format.plugin, "format enabled");
        formats.push(FormatEntry {
            name: name.clone(),
            mount: Mount::parse(&format.mount)?,
            plugin: Arc::new(plugin),
            max_upload: config.max_upload(name),
        });
    }
    formats.sort_by_key(|f| std::cmp::Reverse(f.mount.prefix.len() + f.mount.suffix.len()));
    Ok(formats)
}

/// Opens the metadata database below the data dir (also used by the admin CLI).
pub fn open_db(config: &Config) -> anyhow::Result<Db> {
    let dir = &config.storage.data_dir;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data dir {}", dir.display()))?;
    let storage = &config.storage;
    Db::connect(
        &storage.database,
        storage.database_pool,
        &dir.join("wharf.db"),
    )
    .with_context(|| format!("cannot open the database ({})", database_name(config)))
}

/// The database for messages: the SQLite file's directory, or the PostgreSQL URL
/// without its password.
fn database_name(config: &Config) -> String {
    match config.storage.database.as_str() {
        "sqlite" => format!("in {}", config.storage.data_dir.display()),
        url => match url.split_once('@') {
            Some((_, server)) => format!("postgres://…@{server}"),
            None => url.to_string(),
        },
    }
}

/// Opens the database of an existing registry, for admin commands: they never create
/// one, since a command run in the wrong directory would otherwise make an empty
/// registry there and then report that the user does not exist.
pub fn open_existing_db(config: &Config) -> anyhow::Result<Db> {
    if config.storage.database != "sqlite" {
        return open_db(config);
    }
    let dir = std::path::absolute(&config.storage.data_dir)
        .unwrap_or_else(|_| config.storage.data_dir.clone());
    let file = dir.join("wharf.db");
    if !file.is_file() {
        anyhow::bail!(
            "no registry in {} (no wharf.db there; config: {}). Point at the data dir with \
             --data-dir DIR, WHARF_DATA_DIR or storage.data_dir in registry.toml (or \
             --config FILE); starting the server creates a new registry",
            dir.display(),
            config.source()
        );
    }
    Db::open(&file).with_context(|| format!("cannot open the database in {}", dir.display()))
}

/// The registry-token key, generated on the first start and kept in the database so
/// tokens survive a restart.
fn load_token_key(db: &Db) -> anyhow::Result<TokenKey> {
    let bytes = db
        .write_sync(|tx| {
            crate::db::secrets::get_or_create(tx, registry_token::KEY_NAME, || {
                TokenKey::generate().bytes().to_vec()
            })
        })
        .context("cannot load the registry-token key")?;
    TokenKey::from_bytes(&bytes).with_context(|| {
        format!(
            "host_secrets row {:?} is not 32 bytes; delete it to make a new key",
            registry_token::KEY_NAME
        )
    })
}

/// Whether a [`Registry`] serves requests, or works beside a server that may be running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Server,
    /// Admin commands (`wharf gc`): no formats are loaded, and the temp files of
    /// in-flight uploads are left alone.
    Admin,
}

impl Registry {
    /// Opens the registry to serve it.
    pub fn open(config: Config) -> anyhow::Result<Arc<Self>> {
        Self::open_as(config, Role::Server)
    }

    /// Opens the stores beside a server that may be running, for admin commands.
    pub fn attach(config: Config) -> anyhow::Result<Arc<Self>> {
        Self::open_as(config, Role::Admin)
    }

    fn open_as(config: Config, role: Role) -> anyhow::Result<Arc<Self>> {
        let db = match role {
            Role::Server => open_db(&config)?,
            Role::Admin => open_existing_db(&config)?,
        };
        let token_key = load_token_key(&db)?;
        let data_dir = &config.storage.data_dir;
        let blobs = match role {
            Role::Server => BlobStore::open(data_dir, config.storage.min_free),
            Role::Admin => BlobStore::attach(data_dir, config.storage.min_free),
        }
        .with_context(|| format!("cannot open the blob store in {}", data_dir.display()))?
        .with_remote(Remote::connect(&config.storage)?);
        let sessions = sessions::Sessions::open(data_dir).with_context(|| {
            format!("cannot open the upload sessions in {}", data_dir.display())
        })?;
        let formats = match role {
            Role::Server => load_formats(&config, &db, &blobs)?,
            Role::Admin => Vec::new(),
        };
        let virtual_owners = match role {
            Role::Server => virtual_owners::set_up(&config, &db, &formats)?,
            Role::Admin => virtual_owners::VirtualOwners::from_config(&config),
        };

        let passwords = crate::auth::Passwords::new(&config.server);
        let proxies = crate::proxy::Engine::new(db.clone(), blobs.clone());
        let registry = Self {
            public_url: config.public_url(),
            config,
            db,
            blobs,
            formats,
            index_cache: index::IndexCache::default(),
            files: kept::Kept::new(FILE_ROWS_BYTES),
            downloads: downloads::DownloadCounter::default(),
            token_use: accounts::TokenUse::default(),
            sessions,
            token_key,
            passwords,
            virtual_owners,
            proxies,
        };
        let recovered = gc::recover_trash(&registry).context("cannot settle the blob trash")?;
        if recovered > 0 {
            tracing::warn!(
                blobs = recovered,
                "settled blobs an interrupted collection left"
            );
        }
        Ok(Arc::new(registry))
    }

    /// The format whose mount contains `path`, with the owner segment and the rest.
    pub fn route<'a>(&self, path: &'a str) -> Option<(&FormatEntry, Option<&'a str>, &'a str)> {
        self.formats
            .iter()
            .find_map(|f| f.mount.matches(path).map(|(owner, rest)| (f, owner, rest)))
    }

    pub fn format(&self, name: &str) -> Option<&FormatEntry> {
        self.formats.iter().find(|f| f.name == name)
    }

    /// Whether `owner` (any case) is a configured proxy or group, and its table; a
    /// hash lookup, for every request.
    pub fn virtual_kind(&self, owner: &str) -> Option<virtual_owners::VirtualOwner> {
        self.virtual_owners.get(owner).cloned()
    }

    /// `owner` as a proxy, if it is one.
    pub fn proxy_owner(
        &self,
        owner: &crate::db::owners::Owner,
    ) -> Option<crate::proxy::ProxyOwner> {
        match self.virtual_owners.get(&owner.name)? {
            virtual_owners::VirtualOwner::Proxy(config) => Some(crate::proxy::ProxyOwner {
                id: owner.id,
                name: owner.name.clone(),
                config: config.clone(),
            }),
            virtual_owners::VirtualOwner::Group(_) => None,
        }
    }
}
