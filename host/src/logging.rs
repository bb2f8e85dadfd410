//! The log: which lines are written, and how.
//!
//! `WHARF_LOG` filters (EnvFilter syntax; default `info` with wasmtime's and cranelift's
//! chatter at `warn`), `WHARF_LOG_FORMAT` picks human-readable text (the default) or
//! one JSON object per line for log shippers. Colour only when the log goes to a
//! terminal, so files and journald get plain text. Request lines have the target
//! `wharf::request` (`http::log`), security events `wharf::audit` (`audit`).

use std::io::IsTerminal;

use tracing::Dispatch;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// The filter when `WHARF_LOG` is unset: wasmtime logs every compiled function at
/// `debug`, which would drown everything else.
const DEFAULT_FILTER: &str = "info,wasmtime=warn,cranelift=warn";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl LogFormat {
    /// `WHARF_LOG_FORMAT`: `text` (or unset) or `json`.
    pub fn from_env() -> Result<Self, String> {
        match std::env::var("WHARF_LOG_FORMAT") {
            Err(_) => Ok(Self::Text),
            Ok(v) => Self::parse(&v),
        }
    }

    pub fn parse(value: &str) -> Result<Self, String> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(format!(
                "WHARF_LOG_FORMAT: expected text or json, got {other:?}"
            )),
        }
    }
}

/// `WHARF_LOG`, else the default filter.
pub fn filter_from_env() -> EnvFilter {
    EnvFilter::try_from_env("WHARF_LOG").unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER))
}

/// A subscriber writing `format` lines that pass `filter` to `writer`, colouring text
/// only if `ansi`.
pub fn subscriber<W>(format: LogFormat, filter: EnvFilter, ansi: bool, writer: W) -> Dispatch
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Text => Dispatch::new(builder.with_ansi(ansi).finish()),
        // Event fields at the top level (`"status":404`), the request's span beside them.
        LogFormat::Json => Dispatch::new(
            builder
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .finish(),
        ),
    }
}

/// Installs the process's log: stderr, filtered and formatted as the environment says.
///
/// Lines are written by a background thread: a write to stderr per request line cost a
/// served request about a tenth of its time (benches/compare-builds.sh with
/// `WHARF_LOG=warn` against the default). None is dropped: a request waits when the
/// writer falls 128k lines behind. Keep the returned guard until the process ends;
/// dropping it writes what is still queued.
pub fn init() -> WorkerGuard {
    let format = LogFormat::from_env().unwrap_or_else(|e| {
        eprintln!("warning: {e}; logging as text");
        LogFormat::Text
    });
    let ansi = std::io::stderr().is_terminal();
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("wharf-log")
        .finish(std::io::stderr());
    let dispatch = subscriber(format, filter_from_env(), ansi, writer);
    let _ = tracing::dispatcher::set_global_default(dispatch);
    guard
}

/// A log destination that keeps every line in memory: for tests that read what a
/// server logged, through [`subscriber`].
#[derive(Clone, Default)]
pub struct MemoryLog(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl MemoryLog {
    /// Everything logged so far.
    pub fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl std::io::Write for MemoryLog {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut kept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        kept.extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What `f` logs through a subscriber of `format` with `filter`, as text.
#[cfg(test)]
pub(crate) fn captured(format: LogFormat, filter: &str, ansi: bool, f: impl FnOnce()) -> String {
    let log = MemoryLog::default();
    let writer = log.clone();
    let dispatch = subscriber(format, EnvFilter::new(filter), ansi, move || writer.clone());
    tracing::dispatcher::with_default(&dispatch, f);
    log.text()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logged(format: LogFormat, ansi: bool) -> String {
        captured(format, "info", ansi, || {
            tracing::info!(target: "wharf::request", status = 404u16, reason = "no such file", "request");
        })
    }

    #[test]
    fn json_lines_are_objects_with_the_fields_at_the_top() {
        let line = logged(LogFormat::Json, false);
        let value: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
        assert_eq!(value["status"], 404, "{line}");
        assert_eq!(value["reason"], "no such file", "{line}");
        assert_eq!(value["target"], "wharf::request", "{line}");
    }

    #[test]
    fn text_has_no_colour_codes_unless_asked() {
        assert!(!logged(LogFormat::Text, false).contains('\x1b'));
        assert!(logged(LogFormat::Text, true).contains('\x1b'));
    }

    #[test]
    fn formats_are_named() {
        assert_eq!(LogFormat::parse("JSON"), Ok(LogFormat::Json));
        assert_eq!(LogFormat::parse(""), Ok(LogFormat::Text));
        assert!(
            LogFormat::parse("xml")
                .unwrap_err()
                .contains("WHARF_LOG_FORMAT")
        );
    }
}
