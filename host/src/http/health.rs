//! `/healthz` and `/readyz` for load balancers and orchestrators.
//!
//! `/healthz` answers while the process serves HTTP at all. `/readyz` also checks what
//! a request needs: the database answers a query, the blob store takes a new file,
//! and every enabled format has its plugin loaded. Each check reports in the JSON
//! body; any failure makes the answer 503, naming what failed and why.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::{Value, json};

use crate::registry::Registry;

/// A check that takes longer than this has failed: a prober would have given up.
const CHECK_TIME: Duration = Duration::from_secs(5);

pub async fn healthz() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

pub async fn readyz(State(registry): State<Arc<Registry>>) -> Response {
    let (database, blob_store) = tokio::join!(database(&registry), blob_store(&registry));
    let plugins = plugins(&registry);
    let ready = [&database, &blob_store, &plugins]
        .iter()
        .all(|check| check["ok"] == true);
    let body = json!({
        "status": if ready { "ok" } else { "unavailable" },
        "checks": {"database": database, "blob_store": blob_store, "plugins": plugins},
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

fn outcome(result: Result<(), String>) -> Value {
    match result {
        Ok(()) => json!({"ok": true}),
        Err(error) => json!({"ok": false, "error": error}),
    }
}

async fn database(registry: &Registry) -> Value {
    let query = registry.db.read(|conn| {
        conn.query_row("SELECT count(*) FROM owners", &[], |r| r.get::<i64>(0))?;
        Ok(())
    });
    outcome(match tokio::time::timeout(CHECK_TIME, query).await {
        Ok(answered) => answered.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer within {} s", CHECK_TIME.as_secs())),
    })
}

/// A new blob is written where uploads are (and dropped, which deletes it): the
/// store's temp directory, on the filesystem every blob passes through.
async fn blob_store(registry: &Registry) -> Value {
    let blobs = registry.blobs.clone();
    let write = tokio::task::spawn_blocking(move || {
        let mut writer = blobs.writer(&[])?;
        writer.write(b"readyz")
    });
    outcome(match tokio::time::timeout(CHECK_TIME, write).await {
        Ok(Ok(written)) => written.map_err(|e| format!("cannot write a blob: {e}")),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no write within {} s", CHECK_TIME.as_secs())),
    })
}

/// Startup refuses a plugin that does not load, so a missing one means the registry
/// was built without it.
fn plugins(registry: &Registry) -> Value {
    let loaded: Vec<&str> = registry.formats.iter().map(|f| f.name.as_str()).collect();
    let missing: Vec<&str> = registry
        .config
        .formats
        .iter()
        .filter(|(name, f)| f.enabled && !loaded.contains(&name.as_str()))
        .map(|(name, _)| name.as_str())
        .collect();
    let mut check = outcome(if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("not loaded: {}", missing.join(", ")))
    });
    check["loaded"] = json!(loaded);
    check
}
