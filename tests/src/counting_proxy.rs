//! A reverse proxy on `127.0.0.1:0` in front of any upstream (Verdaccio, a second Wharf):
//! it records every request it forwards, so a test checks at the upstream what a proxy
//! repository asked for, and it can corrupt or delay chosen responses and be stopped
//! (connections refused) as an upstream outage would.
//!
//! Textual responses (JSON, XML, text) have the upstream's origin replaced by the
//! proxy's own, so the URLs an upstream's documents declare (npm tarball URLs) lead back
//! through the proxy and are counted too.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::Response;

pub struct CountingProxy {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub url: String,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct Shared {
    /// The upstream's origin, `http://host:port`: a path in front of the proxy is the
    /// same path upstream.
    upstream: String,
    own: String,
    client: reqwest::Client,
    /// `METHOD /path?query` of every request, in arrival order.
    seen: Mutex<Vec<String>>,
    /// Path suffixes whose successful response bodies get one byte flipped.
    corrupt: Mutex<Vec<String>>,
    /// Path suffixes whose responses wait this long first.
    delays: Mutex<Vec<(String, Duration)>>,
}

/// Hop-by-hop headers and those the proxy's own client sets (or must not send: the
/// upstream would compress what the proxy rewrites).
const NOT_FORWARDED: [HeaderName; 6] = [
    header::HOST,
    header::CONNECTION,
    header::CONTENT_LENGTH,
    header::TRANSFER_ENCODING,
    header::ACCEPT_ENCODING,
    header::UPGRADE,
];

impl CountingProxy {
    /// A proxy forwarding to the origin of `upstream` (any path in it is ignored).
    pub fn start(upstream: &str) -> Self {
        let parsed = reqwest::Url::parse(upstream).expect("upstream URL");
        let origin = parsed.origin().ascii_serialization();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr: SocketAddr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{addr}");
        let shared = Arc::new(Shared {
            upstream: origin,
            own: url.clone(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            seen: Mutex::default(),
            corrupt: Mutex::default(),
            delays: Mutex::default(),
        });
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(shared.clone());
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            // Not a graceful shutdown: a client's idle keep-alive connection would hold
            // it open. Dropping the runtime closes the listener and every connection.
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                tokio::select! {
                    served = axum::serve(listener, app) => served.unwrap(),
                    _ = rx => {}
                }
            });
        });
        Self {
            url,
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// Every request forwarded so far, `METHOD /path?query`, in arrival order.
    pub fn requests(&self) -> Vec<String> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// How many requests had a path (query excluded) ending in `suffix`.
    pub fn count(&self, suffix: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.split('?').next().unwrap_or(r).ends_with(suffix))
            .count()
    }

    /// Flips one byte (same length) of every successful response whose path ends in
    /// `suffix`, until [`Self::heal`].
    pub fn corrupt(&self, suffix: &str) {
        self.shared.corrupt.lock().unwrap().push(suffix.into());
    }

    /// Serves every response unchanged again.
    pub fn heal(&self) {
        self.shared.corrupt.lock().unwrap().clear();
    }

    /// Holds every response whose path ends in `suffix` for `delay` before forwarding
    /// the request, so concurrent misses overlap.
    pub fn delay(&self, suffix: &str, delay: Duration) {
        self.shared
            .delays
            .lock()
            .unwrap()
            .push((suffix.into(), delay));
    }

    /// Stops listening: from now on connections are refused, as when the upstream is down.
    pub fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Shared {
    fn matches(list: &Mutex<Vec<String>>, path: &str) -> bool {
        list.lock()
            .unwrap()
            .iter()
            .any(|s| path.ends_with(s.as_str()))
    }

    fn delay_for(&self, path: &str) -> Option<Duration> {
        let delays = self.delays.lock().unwrap();
        delays
            .iter()
            .find(|(suffix, _)| path.ends_with(suffix.as_str()))
            .map(|(_, d)| *d)
    }
}

async fn forward(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or(path.clone(), |p| p.to_string());
    shared
        .seen
        .lock()
        .unwrap()
        .push(format!("{} {path_and_query}", parts.method));
    if let Some(delay) = shared.delay_for(&path) {
        tokio::time::sleep(delay).await;
    }
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let head = parts.method == axum::http::Method::HEAD;
    let upstream = shared
        .client
        .request(parts.method, format!("{}{path_and_query}", shared.upstream))
        .headers(without(&parts.headers, &NOT_FORWARDED))
        .body(body)
        .send()
        .await;
    let upstream = match upstream {
        Ok(response) => response,
        Err(e) => {
            return Response::builder()
                .status(StatusCode::BAD_GATEWAY)
                .body(Body::from(format!("counting proxy: {e}")))
                .unwrap();
        }
    };
    let status = upstream.status();
    let mut headers = without(upstream.headers(), &NOT_FORWARDED);
    // A HEAD's length is the header's: the (empty) body would say 0.
    if let Some(length) = upstream
        .headers()
        .get(header::CONTENT_LENGTH)
        .filter(|_| head)
    {
        headers.insert(header::CONTENT_LENGTH, length.clone());
    }
    let mut bytes = upstream.bytes().await.unwrap_or_default().to_vec();
    if is_text(&headers) {
        let text = String::from_utf8_lossy(&bytes).replace(&shared.upstream, &shared.own);
        bytes = text.into_bytes();
    }
    if status.is_success() && !bytes.is_empty() && Shared::matches(&shared.corrupt, &path) {
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
    }
    let mut response = Response::new(Body::from(Bytes::from(bytes)));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

fn without(headers: &HeaderMap, names: &[HeaderName]) -> HeaderMap {
    let mut kept = headers.clone();
    for name in names {
        kept.remove(name);
    }
    kept
}

fn is_text(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| ["json", "xml", "text"].iter().any(|k| t.contains(k)))
}
