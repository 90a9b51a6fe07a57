//! Per-request hooks between hyper and the router: they tell the connection when a request
//! starts, when its body has been read and when its response is done (or became a WebSocket),
//! and they give each request body a deadline.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use keel_metrics::{HttpRoute, Metrics};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt as _;
use tower::util::Oneshot;

use super::ConnState;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The router, seen by hyper, for one connection.
#[derive(Clone)]
pub(super) struct ConnService {
    router: Router,
    state: Arc<ConnState>,
    body_timeout: Duration,
    metrics: Metrics,
}

impl ConnService {
    pub(super) fn new(
        router: Router,
        state: Arc<ConnState>,
        body_timeout: Duration,
        metrics: Metrics,
    ) -> Self {
        ConnService {
            router,
            state,
            body_timeout,
            metrics,
        }
    }
}

impl hyper::service::Service<Request<Incoming>> for ConnService {
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = ServiceFuture;

    fn call(&self, request: Request<Incoming>) -> ServiceFuture {
        let has_body = !request.body().is_end_stream();
        self.state.request_started(has_body);
        // Classified before the router takes the request; nothing is timed without figures.
        let counted = self.metrics.is_enabled().then(|| Counted {
            metrics: self.metrics.clone(),
            route: crate::metrics::route_of(request.method(), request.uri().path()),
            started: Instant::now(),
        });
        let request = request.map(|body| RequestBody {
            inner: body,
            // Only a body still to come can be late.
            deadline: has_body.then(|| tokio::time::sleep(self.body_timeout)),
            timeout: self.body_timeout,
            state: Arc::clone(&self.state),
        });
        ServiceFuture {
            inner: self.router.clone().oneshot(request),
            state: Some(Arc::clone(&self.state)),
            counted,
        }
    }
}

/// A request to count once its response is ready: its route and when its headers were in.
struct Counted {
    metrics: Metrics,
    route: HttpRoute,
    started: Instant,
}

pin_project_lite::pin_project! {
    pub(super) struct ServiceFuture {
        #[pin]
        inner: Oneshot<Router, Request<RequestBody>>,
        state: Option<Arc<ConnState>>,
        counted: Option<Counted>,
    }
}

impl Future for ServiceFuture {
    type Output = Result<Response<ResponseBody>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(response) = ready!(this.inner.poll(cx));
        let state = this.state.take().expect("polled after completion");
        if let Some(counted) = this.counted.take() {
            counted.metrics.http_request(
                counted.route,
                response.status().as_u16(),
                counted.started.elapsed(),
            );
        }
        if response.status() == StatusCode::SWITCHING_PROTOCOLS {
            state.upgraded();
        }
        Poll::Ready(Ok(response.map(|body| ResponseBody { inner: body, state })))
    }
}

/// The request body is still arriving after the deadline (`KEEL_HTTP_BODY_TIMEOUT`).
#[derive(Debug)]
pub(crate) struct BodyTimedOut(pub(crate) Duration);

impl std::fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the request body did not arrive within {:?}", self.0)
    }
}

impl std::error::Error for BodyTimedOut {}

pin_project_lite::pin_project! {
    /// hyper's body with a deadline for the whole of it, which notes when it has been read to
    /// its end (a connection whose last body was not is closed with a lingering read: see
    /// `io`).
    pub(super) struct RequestBody {
        #[pin]
        inner: Incoming,
        #[pin]
        deadline: Option<Sleep>,
        timeout: Duration,
        state: Arc<ConnState>,
    }
}

impl HttpBody for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let mut this = self.project();
        match this.inner.as_mut().poll_frame(cx) {
            Poll::Ready(None) => {
                this.state.body_read();
                Poll::Ready(None)
            }
            Poll::Ready(Some(frame)) => {
                if this.inner.is_end_stream() {
                    this.state.body_read();
                }
                Poll::Ready(Some(frame.map_err(Into::into)))
            }
            Poll::Pending => {
                let late = this
                    .deadline
                    .as_pin_mut()
                    .is_some_and(|deadline| deadline.poll(cx).is_ready());
                if late {
                    Poll::Ready(Some(Err(Box::new(BodyTimedOut(*this.timeout)))))
                } else {
                    Poll::Pending
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The router's response body; dropped by hyper once it is written, which starts the wait
/// for the next request.
pub(super) struct ResponseBody {
    inner: Body,
    state: Arc<ConnState>,
}

impl HttpBody for ResponseBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        self.state.response_done();
    }
}
