//! First start: an empty database gets an `admin` user and a write token, printed once,
//! so a new operator can publish straight away.

use crate::auth::secrets;
use crate::db::Db;
use crate::db::owners::{self, OwnerKind};
use crate::db::tokens::Scope;
use crate::error::Error;

pub struct Bootstrap {
    pub password: Option<String>,
    pub token: String,
}

/// Creates the admin if there are no users or organizations yet (proxy and group
/// owners, made from the config before, do not count). `password` comes from
/// `WHARF_ADMIN_PASSWORD`; without it one is generated and returned for printing.
pub fn ensure_admin(db: &Db, password: Option<String>) -> Result<Option<Bootstrap>, Error> {
    db.write_sync(|tx| {
        if crate::db::virtual_owners::real_owner_count(tx)? > 0 {
            return Ok(None);
        }
        let generated = password.is_none();
        let password = password.unwrap_or_else(secrets::new_password);
        let id = owners::create(
            tx,
            "admin",
            OwnerKind::User,
            Some(&secrets::hash_password(&password)),
            true,
            false,
        )?;
        let token = super::tokens::create_in(tx, id, "bootstrap", Scope::Write, None)?;
        Ok(Some(Bootstrap {
            password: generated.then_some(password),
            token,
        }))
    })
}
