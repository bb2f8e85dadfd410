//! Accepting connections: each is served by hyper on its own task, with the client's
//! address in the request extensions (`ConnectInfo`), TCP_NODELAY, graceful shutdown,
//! and a watchdog that closes connections a client holds without using (issue 19):
//!
//! - a request head must arrive whole within `header_timeout` of its first byte (or
//!   of the connection's opening): slowloris clients are cut;
//! - with no request in progress and no bytes moving for `idle_timeout`, the
//!   connection is closed (idle keep-alive).
//!
//! Request bodies have their own stall timeout (a layer in [`super::router`]), since
//! only the handler reading one knows it waits for it.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

use super::length::LengthSpy;

#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub header: Duration,
    pub idle: Duration,
}

/// Accepts and serves connections until `stop` resolves, then waits for the open ones
/// to finish their requests.
pub async fn run(
    listener: TcpListener,
    app: Router,
    timeouts: Timeouts,
    stop: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    tokio::pin!(stop);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        // Without TCP_NODELAY, a small response on a keep-alive connection can wait for
        // the client's delayed ACK (Nagle), ~40 ms per request.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "could not set TCP_NODELAY");
        }
        let watched = graceful.watcher();
        let app = app.clone();
        tokio::spawn(async move {
            let state = Arc::new(State::new(Instant::now()));
            let io = TokioIo::new(Watched {
                inner: tcp,
                state: state.clone(),
                spy: LengthSpy::default(),
            });
            let service = hyper::service::service_fn({
                let state = state.clone();
                move |request: http::Request<Incoming>| {
                    let active = Active::begin(state.clone());
                    let mut request = request.map(axum::body::Body::new);
                    request.extensions_mut().insert(ConnectInfo(peer));
                    let app = app.clone();
                    async move {
                        let response = app.oneshot(request).await;
                        drop(active);
                        response
                    }
                }
            });
            let builder = Builder::new(TokioExecutor::new());
            let connection = watched.watch(builder.serve_connection_with_upgrades(io, service));
            tokio::select! {
                result = connection => {
                    if let Err(e) = result {
                        tracing::debug!(%peer, error = %e, "connection ended");
                    }
                }
                () = state.expired(timeouts) => {
                    tracing::debug!(%peer, "closing a connection that sat idle");
                }
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// What the watchdog knows of one connection. Times are milliseconds since `opened`.
struct State {
    opened: Instant,
    /// Requests whose handler is running.
    active: AtomicUsize,
    /// The last time bytes moved, or a request ended.
    last_io: AtomicU64,
    /// When the first byte of the next request head came; [`NO_HEAD`] while none.
    head_started: AtomicU64,
}

const NO_HEAD: u64 = u64::MAX;

impl State {
    fn new(opened: Instant) -> Self {
        Self {
            opened,
            active: AtomicUsize::new(0),
            last_io: AtomicU64::new(0),
            // A new connection owes its first head from the start.
            head_started: AtomicU64::new(0),
        }
    }

    fn now(&self) -> u64 {
        self.opened.elapsed().as_millis() as u64
    }

    fn read(&self, bytes: usize) {
        let now = self.now();
        self.last_io.store(now, Ordering::Relaxed);
        if bytes > 0 && self.active.load(Ordering::Acquire) == 0 {
            let _ = self.head_started.compare_exchange(
                NO_HEAD,
                now,
                Ordering::AcqRel,
                Ordering::Relaxed,
            );
        }
    }

    fn wrote(&self) {
        self.last_io.store(self.now(), Ordering::Relaxed);
    }

    /// When the connection is due to be closed, in ms since `opened`; `None` while a
    /// handler runs (bodies have their own timeout, handlers their own limits).
    fn deadline(&self, timeouts: Timeouts) -> Option<u64> {
        if self.active.load(Ordering::Acquire) > 0 {
            return None;
        }
        match self.head_started.load(Ordering::Acquire) {
            NO_HEAD => {
                Some(self.last_io.load(Ordering::Relaxed) + timeouts.idle.as_millis() as u64)
            }
            started => Some(started + timeouts.header.as_millis() as u64),
        }
    }

    /// Resolves once the connection is past its deadline.
    async fn expired(&self, timeouts: Timeouts) {
        // Deadlines move with traffic, so they are looked at again at least each second.
        const RECHECK: u64 = 1000;
        loop {
            let now = self.now();
            let wait = match self.deadline(timeouts) {
                Some(due) if due <= now => return,
                Some(due) => (due - now).min(RECHECK),
                None => RECHECK,
            };
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
    }
}

/// A running handler; while one runs, the connection is not idle.
struct Active(Arc<State>);

impl Active {
    fn begin(state: Arc<State>) -> Self {
        state.active.fetch_add(1, Ordering::AcqRel);
        // Its head is complete: the next one has not started.
        state.head_started.store(NO_HEAD, Ordering::Release);
        Self(state)
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.0.last_io.store(self.0.now(), Ordering::Relaxed);
        self.0.active.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The socket, reporting traffic to the watchdog and letting the [`LengthSpy`] see
/// request heads and mend hyper's answer to an absurd `Content-Length`.
struct Watched {
    inner: TcpStream,
    state: Arc<State>,
    spy: LengthSpy,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let read = &buf.filled()[before..];
            // Only heads are looked at: bodies are read while a handler runs.
            if self.state.active.load(Ordering::Acquire) == 0 {
                self.spy.read(read);
            }
            self.state.read(read.len());
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let mended = this.spy.mend(buf);
        let polled = Pin::new(&mut this.inner).poll_write(cx, mended.as_deref().unwrap_or(buf));
        if let Poll::Ready(Ok(n)) = polled {
            if mended.is_some() {
                this.spy.wrote(n);
            }
            this.state.wrote();
        }
        polled
    }

    /// Vectored writes pass through: without them hyper flattens every response, copying
    /// each body into its own buffer before writing it (a memmove of every byte served,
    /// about 12% of a small download's cost).
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.spy.mending() {
            // Only hyper's own 431 is mended, which it writes as one buffer.
            let first = bufs
                .iter()
                .find(|b| !b.is_empty())
                .map_or(&[][..], |b| &b[..]);
            return self.poll_write(cx, first);
        }
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(_)) = polled {
            this.state.wrote();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timeouts = Timeouts {
        header: Duration::from_secs(5),
        idle: Duration::from_secs(60),
    };

    /// hyper copies every body into its own buffer unless the socket says it takes
    /// vectored writes.
    #[tokio::test]
    async fn the_watched_socket_takes_vectored_writes() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let mut watched = Watched {
            inner: server,
            state: Arc::new(State::new(Instant::now())),
            spy: LengthSpy::default(),
        };
        assert!(watched.is_write_vectored());
        let bufs = [io::IoSlice::new(b"head "), io::IoSlice::new(b"body")];
        let written = watched.write_vectored(&bufs[..]).await.unwrap();
        assert_eq!(written, 9, "a loopback socket takes both slices at once");
        drop(watched);
        let mut got = String::new();
        let mut client = client;
        client.read_to_string(&mut got).await.unwrap();
        assert_eq!(got, "head body");
    }

    #[test]
    fn a_new_connection_owes_a_head_within_the_header_timeout() {
        let state = State::new(Instant::now());
        assert_eq!(state.deadline(T), Some(5000));
    }

    #[test]
    fn a_running_request_has_no_deadline_and_then_the_idle_one_counts() {
        let state = Arc::new(State::new(Instant::now()));
        let active = Active::begin(state.clone());
        assert_eq!(state.deadline(T), None);
        // Body bytes read by the handler do not start a head.
        state.read(100);
        drop(active);
        let idle = state.deadline(T).unwrap();
        assert!((60_000..61_000).contains(&idle), "{idle}");
        // The first byte of the next request starts its head's clock.
        state.read(1);
        let head = state.deadline(T).unwrap();
        assert!((5_000..6_000).contains(&head), "{head}");
        // More bytes of the same head do not extend it.
        state.head_started.store(100, Ordering::Release);
        state.read(1);
        assert_eq!(state.deadline(T), Some(5_100));
    }
}
