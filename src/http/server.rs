//! Serving connections: the accept loop, with the limits that keep one client (or many) from
//! taking the service down.
//!
//! Invariants:
//! - A connection that does not send a complete request head within the header timeout is
//!   closed, and so is a keep-alive connection idle for as long (hyper starts the header timer
//!   as soon as a connection waits for its next request).
//! - A request body that sends nothing for the body timeout fails (the handler sees a broken
//!   body and discards what it had), however long the whole upload takes.
//! - At most `max_connections` connections are served at once; more wait in the listen backlog.
//!   At most `max_connections_per_address` come from one address (unless a trusted proxy is in
//!   front, when every connection comes from the proxy); more are closed at once.
//! - At most `max_in_flight` requests are handled at once; more are answered at once with 503,
//!   `Retry-After` and a problem body (load shedding), rather than queueing without bound.
//! - Accept errors (out of file descriptors) pause accepting briefly instead of spinning.

use super::error::{AppError, Code};
use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

/// The limits [`serve`] enforces (see the module's invariants).
#[derive(Debug, Clone)]
pub struct Limits {
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub max_connections: usize,
    /// `None` when a trusted proxy is in front.
    pub max_connections_per_address: Option<usize>,
    pub max_in_flight: usize,
}

/// Serves `router` on `listener` until `shutdown` completes, then lets the connections finish
/// the requests they are in (for at most `grace`).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let in_flight = Arc::new(Semaphore::new(limits.max_in_flight.max(1)));
    let router = router
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            limits.body_timeout,
        ))
        .layer(axum::middleware::from_fn(move |request, next| {
            shed(in_flight.clone(), request, next)
        }));
    let connections = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let per_address: Arc<Mutex<HashMap<IpAddr, usize>>> = Arc::default();
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(64 * 1024);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(100)
        .keep_alive_interval(limits.header_timeout)
        .keep_alive_timeout(limits.header_timeout);
    let builder = Arc::new(builder);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = connections.clone().acquire_owned() => permit.expect("never closed"),
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Most often out of file descriptors: wait for some to be released.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Some(slot) =
            AddressSlot::take(&per_address, peer.ip(), limits.max_connections_per_address)
        else {
            tracing::debug!(%peer, "too many connections from one address; closed");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let builder = builder.clone();
        let mut stop = stop_rx.clone();
        let header_timeout = limits.header_timeout;
        tokio::spawn(async move {
            // The protocol is told by the first bytes, which hyper waits for without a timer: a
            // connection that sends nothing is closed here.
            let mut first = [0u8; 1];
            if !matches!(
                tokio::time::timeout(header_timeout, stream.peek(&mut first)).await,
                Ok(Ok(1..))
            ) {
                return;
            }
            let service =
                hyper::service::service_fn(move |mut request: Request<hyper::body::Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    router.clone().oneshot(request.map(axum::body::Body::new))
                });
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = async { stop.wait_for(|s| *s).await.map(|_| ()) } => {
                    connection.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(grace, connection).await;
                }
            }
            drop(slot);
            drop(permit);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // Wait until every connection has finished (each is bounded by `grace`).
    let _ = tokio::time::timeout(
        grace + Duration::from_secs(1),
        connections.acquire_many(limits.max_connections.max(1) as u32),
    )
    .await;
    Ok(())
}

/// Answers at once with 503 when `max_in_flight` requests are already being handled.
async fn shed(
    in_flight: Arc<Semaphore>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    let Ok(_permit) = in_flight.try_acquire_owned() else {
        let mut r = AppError::new(
            Code::Unavailable,
            "the service is handling as many requests as it can; try again shortly",
        )
        .into_response();
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return r;
    };
    next.run(request).await
}

/// One connection counted against its address; released when dropped.
struct AddressSlot {
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
    ip: IpAddr,
}

impl AddressSlot {
    fn take(
        counts: &Arc<Mutex<HashMap<IpAddr, usize>>>,
        ip: IpAddr,
        max: Option<usize>,
    ) -> Option<Self> {
        let mut map = counts.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(ip).or_insert(0);
        if max.is_some_and(|max| *n >= max) {
            return None;
        }
        *n += 1;
        Some(Self {
            counts: counts.clone(),
            ip,
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut map = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}
