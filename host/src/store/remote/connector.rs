//! The HTTP client under `object_store`: reqwest, with every request run on the
//! object store's own runtime and each response body handed to the caller through a
//! bounded channel.
//!
//! Why not `object_store`'s `SpawnedReqwestConnector`: its `SpawnService` forwards
//! body frames through an unbounded channel, so when the object store sends faster
//! than the caller reads (a client downloading slowly, or a busy server), the I/O task
//! keeps reading and the rest of the object piles up in memory (a 1 GiB download grew
//! the server by over 450 MiB). Here the I/O task waits for room in the channel
//! instead; while it waits, the socket's buffers fill and TCP flow control pauses the
//! object store. Memory per download is [`FRAMES_AHEAD`] frames, whatever the size.

use std::pin::Pin;
use std::task::{Context, Poll};

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame};
use object_store::client::{
    HttpClient, HttpConnector, HttpError, HttpErrorKind, HttpRequest, HttpResponse,
    HttpResponseBody, HttpService,
};
use object_store::{ClientConfigKey, ClientOptions};
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Body frames the I/O task may have read ahead of the caller. hyper's frames are what
/// one socket read returned (at most a few hundred KiB), so this bounds memory to a
/// few MiB per response while keeping the pipe full for a caller that keeps up.
const FRAMES_AHEAD: usize = 8;

/// Builds the clients `object_store` asks for (the S3 one and, for credentials, the
/// instance-metadata ones), each running on `runtime`.
#[derive(Debug)]
pub(super) struct BoundedConnector {
    runtime: Handle,
}

impl BoundedConnector {
    pub(super) fn new(runtime: Handle) -> Self {
        Self { runtime }
    }
}

impl HttpConnector for BoundedConnector {
    fn connect(&self, options: &ClientOptions) -> object_store::Result<HttpClient> {
        let client = reqwest_client(options).map_err(|e| object_store::Error::Generic {
            store: "S3",
            source: e.into(),
        })?;
        Ok(HttpClient::new(BoundedSpawn {
            inner: client,
            runtime: self.runtime.clone(),
        }))
    }
}

/// A reqwest client with the settings of `options` that Wharf uses: whether http://
/// is allowed, the connect timeout and the overall timeout. They are read back from
/// `options` rather than fixed here because `object_store` connects its credential
/// clients with options of its own (instance metadata is plain http:// with a 1 s
/// connect timeout). Compression stays off: it would break `Content-Length`, which
/// `object_store` takes for the object's size.
fn reqwest_client(options: &ClientOptions) -> Result<reqwest::Client, String> {
    let value = |key| options.get_config_value(&key);
    let duration = |key| {
        value(key)
            .map(|text| humantime::parse_duration(&text).map_err(|e| format!("{text:?}: {e}")))
            .transpose()
    };
    let allow_http = value(ClientConfigKey::AllowHttp).is_some_and(|v| v == "true");
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("wharf/", env!("CARGO_PKG_VERSION")))
        // As object_store's own client: one connection per request in flight, which
        // is how S3 spreads load; HTTP/2 would multiplex onto one.
        .http1_only()
        .no_gzip()
        .https_only(!allow_http);
    if let Some(timeout) = duration(ClientConfigKey::ConnectTimeout)? {
        builder = builder.connect_timeout(timeout);
    }
    if let Some(timeout) = duration(ClientConfigKey::Timeout)? {
        builder = builder.timeout(timeout);
    }
    builder.build().map_err(|e| e.to_string())
}

/// Runs `inner`'s requests on `runtime`; see the module's header for the body.
#[derive(Debug, Clone)]
struct BoundedSpawn<S> {
    inner: S,
    runtime: Handle,
}

#[async_trait]
impl<S: HttpService + Clone> HttpService for BoundedSpawn<S> {
    async fn call(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let inner = self.inner.clone();
        let (head_tx, head_rx) = oneshot::channel();
        let (frames_tx, frames) = mpsc::channel(FRAMES_AHEAD);
        // Created before the first await: a caller that gives up (a time-out, a
        // client gone) stops the request and its body read with it.
        let task = AbortOnDrop(self.runtime.spawn(async move {
            let (head, mut body) = match inner.call(request).await {
                Ok(response) => response.into_parts(),
                Err(e) => {
                    let _ = head_tx.send(Err(e));
                    return;
                }
            };
            if head_tx.send(Ok(head)).is_err() {
                return;
            }
            while let Some(frame) = body.frame().await {
                // Waits while the caller is FRAMES_AHEAD frames behind.
                if frames_tx.send(frame).await.is_err() {
                    return;
                }
            }
        }));
        let head = head_rx.await.map_err(|_| {
            HttpError::new(
                HttpErrorKind::Interrupted,
                std::io::Error::other("the object store's runtime dropped the request"),
            )
        })??;
        Ok(HttpResponse::from_parts(
            head,
            HttpResponseBody::new(Frames {
                frames,
                _task: task,
            }),
        ))
    }
}

/// Stops the task that reads a body once nobody reads what it forwards.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A response body as the frames its I/O task forwards.
struct Frames {
    frames: mpsc::Receiver<Result<Frame<Bytes>, HttpError>>,
    _task: AbortOnDrop,
}

impl Body for Frames {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        self.frames.poll_recv(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use object_store::client::HttpRequestBody;

    use super::*;

    const TEST_WAIT: Duration = Duration::from_millis(200);

    /// A service whose every response body is endless, counting the frames it made.
    #[derive(Debug, Clone, Default)]
    struct Endless {
        produced: Arc<AtomicUsize>,
    }

    struct EndlessBody(Arc<AtomicUsize>);

    impl Body for EndlessBody {
        type Data = Bytes;
        type Error = HttpError;

        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(&[0; 1024])))))
        }
    }

    #[async_trait]
    impl HttpService for Endless {
        async fn call(&self, _: HttpRequest) -> Result<HttpResponse, HttpError> {
            let body = HttpResponseBody::new(EndlessBody(self.produced.clone()));
            Ok(HttpResponse::new(body))
        }
    }

    #[tokio::test]
    async fn a_reader_that_stops_stops_the_body() {
        let io = super::super::IoRuntime::new().unwrap();
        let inner = Endless::default();
        let service = BoundedSpawn {
            inner: inner.clone(),
            runtime: io.handle(),
        };
        let response = service
            .call(HttpRequest::new(HttpRequestBody::empty()))
            .await
            .unwrap();
        let mut body = response.into_body();
        let first = body.frame().await.unwrap().unwrap();
        assert_eq!(first.into_data().unwrap().len(), 1024);
        // Give the I/O task every chance to run ahead of this reader.
        tokio::time::sleep(TEST_WAIT).await;
        let produced = inner.produced.load(Ordering::SeqCst);
        // The frame read, the channel's worth, and the one the task holds while it
        // waits for room.
        assert!(
            produced <= 1 + FRAMES_AHEAD + 1,
            "{produced} frames were read ahead"
        );
        // Dropping the body stops the task.
        drop(body);
        tokio::time::sleep(TEST_WAIT / 4).await;
        let after_drop = inner.produced.load(Ordering::SeqCst);
        tokio::time::sleep(TEST_WAIT / 4).await;
        assert_eq!(inner.produced.load(Ordering::SeqCst), after_drop);
    }

    #[tokio::test]
    async fn clients_follow_the_options_they_are_built_with() {
        // Nothing listens on the discard port: a request that is sent fails to connect.
        let url = "http://127.0.0.1:9/";
        let https_only = ClientOptions::new().with_connect_timeout(Duration::from_secs(5));
        let refused = reqwest_client(&https_only).unwrap().get(url).send().await;
        assert!(
            !refused.unwrap_err().is_connect(),
            "http:// is refused unsent"
        );
        let http = https_only.with_allow_http(true);
        let sent = reqwest_client(&http).unwrap().get(url).send().await;
        assert!(sent.unwrap_err().is_connect());
        let bad = ClientOptions::new().with_config(ClientConfigKey::ConnectTimeout, "soon");
        assert!(reqwest_client(&bad).is_err());
    }
}
