//! [`serve`]: the node's HTTP server loop, with the limits a public endpoint
//! needs and `axum::serve` does not have: a cap on concurrent connections, a
//! header-read timeout, an idle timeout and a deadline on request bodies.
//!
//! Why each limit exists (issue 13, item 2): every open connection holds a
//! file descriptor. Without a cap and timeouts, idle connections accumulated
//! until `accept` and then the log writer failed with EMFILE. Here:
//!
//! * at most [`ServeLimits::connections_max`] connections are open; when all
//!   are taken the server stops accepting (new connections wait in the
//!   kernel's backlog, holding no descriptor of this process) until one
//!   closes, so the descriptors the stores need are never taken by clients;
//! * a connection with no request in flight that neither sends nor receives a
//!   byte for [`ServeLimits::idle_timeout_ms`] is closed, whether it never
//!   sent anything or sits idle between keep-alive requests;
//! * a request's headers must arrive within
//!   [`ServeLimits::header_read_timeout_ms`] (hyper's own timer), which ends
//!   slowloris header trickles;
//! * a request's body must be complete within [`ServeLimits::body_timeout_ms`]
//!   of the request's start; a body that never completes ends in an error
//!   (the extractor answers 4xx) and the connection is closed.
//!
//! Each request carries its client's address as `ConnectInfo<SocketAddr>`.
//!
//! Deliberately absent: TLS (a reverse proxy's job), per-address quotas.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::Request;
use axum::Router;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::time::Instant;
use tower::Service;

/// Default most concurrent connections (the node lowers it to fit its file
/// descriptor limit).
pub const CONNECTIONS_MAX_DEFAULT: usize = 1024;
/// Default time for a request's headers to arrive.
pub const HEADER_READ_TIMEOUT_MS_DEFAULT: u64 = 10_000;
/// Default time a connection may sit with no request and no traffic.
pub const IDLE_TIMEOUT_MS_DEFAULT: u64 = 20_000;
/// Default time for a request body to arrive completely: a 16 MiB batch at
/// 4 Mbit/s takes about 34 s.
pub const BODY_TIMEOUT_MS_DEFAULT: u64 = 60_000;
/// Most header fields hyper parses: above [`crate::problem::HEADER_COUNT_MAX`],
/// so that a request with a few too many gets the API's 431 with a body
/// saying so, not hyper's empty one.
pub const HYPER_HEADER_COUNT_MAX: usize = 4 * crate::problem::HEADER_COUNT_MAX;
/// Longest pause between `accept` attempts after an accept error (EMFILE
/// included: descriptors come back as connections close).
const ACCEPT_BACKOFF_MS_MAX: u64 = 1000;

/// The limits of [`serve`]. Every field is a count or a duration in ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// Most connections open at once; further ones wait to be accepted.
    pub connections_max: usize,
    /// Time for a request's headers to arrive, from its first byte.
    pub header_read_timeout_ms: u64,
    /// Time a connection may stay open with no request in flight and no byte
    /// read or written.
    pub idle_timeout_ms: u64,
    /// Time for a request's body to arrive completely, from the request's start.
    pub body_timeout_ms: u64,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            connections_max: CONNECTIONS_MAX_DEFAULT,
            header_read_timeout_ms: HEADER_READ_TIMEOUT_MS_DEFAULT,
            idle_timeout_ms: IDLE_TIMEOUT_MS_DEFAULT,
            body_timeout_ms: BODY_TIMEOUT_MS_DEFAULT,
        }
    }
}

/// Serves `app` on `listener` under `limits` until `shutdown` resolves; then
/// stops accepting and lets open connections finish their current request.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let slots = Arc::new(Semaphore::new(limits.connections_max.max(1)));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut backoff_ms = 10;
    loop {
        // A free slot first: while every slot is taken, nothing is accepted
        // and waiting clients hold no descriptor of ours.
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed; retrying");
                    tokio::time::sleep(Duration::from_millis(backoff_ms)).await;
                    backoff_ms = (backoff_ms * 2).min(ACCEPT_BACKOFF_MS_MAX);
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        backoff_ms = 10;
        // Small request/response pairs: without TCP_NODELAY, Nagle's algorithm
        // meets the client's delayed ACK and a response can stall for ~40 ms.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "setting TCP_NODELAY");
        }
        let app = app.clone();
        let stop = stop_rx.clone();
        tokio::spawn(async move {
            serve_connection(tcp, peer, app, limits, stop).await;
            drop(permit);
        });
    }
    let _ = stop_tx.send(true);
}

/// What the idle timer of one connection watches.
struct Activity {
    started: Instant,
    /// Milliseconds after `started` of the last byte read or written.
    last_io_ms: AtomicU64,
    /// Requests whose response future has not finished.
    in_flight: AtomicUsize,
}

impl Activity {
    fn touch(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_io_ms.store(ms, Ordering::Relaxed);
    }
    fn last_io(&self) -> Instant {
        self.started + Duration::from_millis(self.last_io_ms.load(Ordering::Relaxed))
    }
}

async fn serve_connection(
    tcp: TcpStream,
    peer: std::net::SocketAddr,
    app: Router,
    limits: ServeLimits,
    mut stop: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity {
        started: Instant::now(),
        last_io_ms: AtomicU64::new(0),
        in_flight: AtomicUsize::new(0),
    });
    let io = TokioIo::new(Tracked {
        inner: tcp,
        activity: activity.clone(),
    });
    let body_timeout = Duration::from_millis(limits.body_timeout_ms);
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |request: Request<Incoming>| {
            let mut app = app.clone();
            let guard = InFlight::new(activity.clone());
            let mut request = request.map(|b| Body::new(DeadlineBody::new(b, body_timeout)));
            // Who is calling, for the handlers that need it (the token
            // endpoint's backoff per address).
            request
                .extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
            async move {
                let response = app.call(request).await;
                drop(guard);
                response
            }
        })
    };
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(limits.header_read_timeout_ms))
        .max_headers(HYPER_HEADER_COUNT_MAX);
    builder.http2().timer(TokioTimer::new());
    let connection = builder.serve_connection_with_upgrades(io, service);
    let mut connection = std::pin::pin!(connection);
    let idle = Duration::from_millis(limits.idle_timeout_ms);
    let mut stopping = false;
    loop {
        // While a request is in flight the handler decides how long it
        // takes (its body has its own deadline); look again an idle period later.
        let idle_at = if activity.in_flight.load(Ordering::Acquire) > 0 {
            Instant::now() + idle
        } else {
            activity.last_io() + idle
        };
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = tokio::time::sleep_until(idle_at) => {
                if activity.in_flight.load(Ordering::Acquire) == 0
                    && activity.last_io() + idle <= Instant::now()
                {
                    // Nothing in flight, nothing sent or received: dropping the
                    // connection closes its socket and frees its slot.
                    return;
                }
            }
            changed = stop.changed(), if !stopping => {
                stopping = true;
                if changed.is_ok() {
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// Counts a request in flight for as long as it lives.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn new(activity: Arc<Activity>) -> InFlight {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
        // The idle timer counts from the end of the last request.
        self.0.touch();
    }
}

/// A socket that records when it last moved a byte.
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Why a request body was cut off.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {timeout_ms} ms")]
pub struct BodyTimeout {
    /// The deadline, from the request's start.
    pub timeout_ms: u64,
}

/// A request body that fails once its deadline passes before it is complete.
struct DeadlineBody {
    inner: Incoming,
    deadline: Pin<Box<tokio::time::Sleep>>,
    timeout_ms: u64,
}

impl DeadlineBody {
    fn new(inner: Incoming, timeout: Duration) -> DeadlineBody {
        DeadlineBody {
            inner,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

impl hyper::body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(Into::into))),
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(BodyTimeout {
                    timeout_ms: this.timeout_ms,
                }
                .into()))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
