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
//! - A request hyper cannot parse (malformed request line or header, headers over 64 KiB) is
//!   answered with a problem body like every other client mistake, not hyper's bare 400/431
//!   ([`ProblemAnswers`]).

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
        }))
        // Outermost, so a request shed or timed out has its id, log line and count too.
        .layer(axum::middleware::from_fn(super::observe::observe));
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
                    super::xapi::alternate::route_as(&mut request);
                    router.clone().oneshot(request.map(axum::body::Body::new))
                });
            let connection = builder
                .serve_connection_with_upgrades(TokioIo::new(ProblemAnswers::new(stream)), service);
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

/// The connection's stream, with hyper's own answers to requests it cannot parse — a bare
/// `400`, `414` or `431` with no body, written before any handler runs — replaced by problem
/// bodies like every other client mistake gets.
///
/// hyper offers no hook for those answers, so they are recognised as they are written: hyper
/// writes one only when no response is under way, as a head alone (one buffer: status line,
/// then only `content-length: 0`, `date` and `connection` headers). A handler's response never
/// looks like that — every error the service answers has a problem body and a content type — so
/// nothing else is rewritten. The connection closes after it, as hyper closes it.
struct ProblemAnswers<S> {
    inner: S,
    /// A replacement answer still being written, and how much of it has been.
    pending: Option<(Vec<u8>, usize)>,
}

impl<S> ProblemAnswers<S> {
    fn new(inner: S) -> Self {
        Self {
            inner,
            pending: None,
        }
    }
}

/// The problem answer replacing `head` when it is one of hyper's own bare answers.
fn replacement(head: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(head).ok()?;
    let rest = text.strip_prefix("HTTP/1.1 ")?;
    let headers = rest.strip_suffix("\r\n\r\n")?;
    let mut lines = headers.split("\r\n");
    let status_line = lines.next()?;
    let (code, detail) = match status_line.get(..3)? {
        "400" => (
            Code::InvalidRequest,
            "the request could not be parsed as HTTP/1.1 (its request line or a header is malformed)",
        ),
        "414" => (
            Code::UriTooLong,
            "the request target is longer than the server accepts",
        ),
        "431" => (
            Code::InvalidRequest,
            "the request's headers are larger than the server accepts (64 KiB)",
        ),
        _ => return None,
    };
    let mut bodiless = false;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        match name.to_ascii_lowercase().as_str() {
            "content-length" if value.trim() == "0" => bodiless = true,
            "date" | "connection" => {}
            _ => return None,
        }
    }
    if !bodiless {
        return None;
    }
    let status: u16 = status_line[..3].parse().ok()?;
    let body = serde_json::to_vec(&super::error::Problem {
        r#type: format!("urn:lectern:problem:{}", code.as_str()),
        title: match status {
            414 => "Request target too long",
            431 => "Request headers too large",
            _ => "The request is not valid",
        },
        status,
        detail: detail.to_owned(),
        code,
        errors: None,
        limit: None,
        offset: None,
        snapshot: None,
        line: None,
        // Refused by the HTTP parser before any request existed to give an id to.
        request_id: None,
    })
    .ok()?;
    let mut answer = format!(
        "HTTP/1.1 {status_line}\r\ncontent-type: application/problem+json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(&body);
    Some(answer)
}

impl<S: tokio::io::AsyncWrite + Unpin> ProblemAnswers<S> {
    /// Writes what is left of a replacement answer.
    fn poll_pending(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use std::task::Poll;
        while let Some((bytes, written)) = &mut self.pending {
            if *written == bytes.len() {
                self.pending = None;
                break;
            }
            match std::pin::Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
                }
                Poll::Ready(Ok(n)) => *written += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Swaps `head` for its replacement when it is one of hyper's bare answers.
    fn intercept(&mut self, head: &[u8]) -> bool {
        match replacement(head) {
            Some(answer) => {
                self.pending = Some((answer, 0));
                true
            }
            None => false,
        }
    }
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for ProblemAnswers<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for ProblemAnswers<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::task::ready!(self.poll_pending(cx))?;
        if self.intercept(buf) {
            // Taken: written (in its new form) by the next calls, at the latest on flush.
            let _ = self.poll_pending(cx)?;
            return std::task::Poll::Ready(Ok(buf.len()));
        }
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::task::ready!(self.poll_pending(cx))?;
        let mut filled = bufs.iter().filter(|b| !b.is_empty());
        if let (Some(only), None) = (filled.next(), filled.next())
            && self.intercept(only)
        {
            let _ = self.poll_pending(cx)?;
            return std::task::Poll::Ready(Ok(only.len()));
        }
        std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::ready!(self.poll_pending(cx))?;
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::ready!(self.poll_pending(cx))?;
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::replacement;

    #[test]
    fn only_hypers_bare_answers_are_replaced() {
        let bare = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\
                     date: Sun, 29 Nov 2026 15:00:00 GMT\r\n\r\n";
        let answer = String::from_utf8(replacement(bare).unwrap()).unwrap();
        assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
        assert!(
            answer.contains("content-type: application/problem+json"),
            "{answer}"
        );
        let body: serde_json::Value =
            serde_json::from_str(answer.split_once("\r\n\r\n").unwrap().1).unwrap();
        assert_eq!(body["status"], 431);
        assert_eq!(body["code"], "invalid_request");
        // A handler's answers: with a body, a content type, or another status.
        for head in [
            &b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\ncontent-length: 99\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nx-request-id: 1\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\nbody",
        ] {
            assert!(replacement(head).is_none(), "{}", String::from_utf8_lossy(head));
        }
    }
}
