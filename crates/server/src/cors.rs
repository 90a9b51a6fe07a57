//! CORS that mirrors the request: any origin may call the API with its bearer token.
//!
//! Same headers as `tower_http::cors::CorsLayer` with a mirrored origin, methods and headers,
//! which this replaced: that layer built a `HeaderMap` and a `Vary` value on every request, a
//! measurable share of a cached query. Here every response gets one static header, and only a
//! request with an `Origin` copies it into the answer.
//!
//! No `Access-Control-Allow-Credentials`: the API authenticates by bearer token and no route
//! reads a cookie, so a page on another origin has no ambient credential to borrow. Allowing
//! credentials with a mirrored origin would let any site send a user's cookies here the day
//! a route starts reading one.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, header};
use axum::response::Response;
use tower::{Layer, Service};

/// Every response may differ by these request headers (what tower-http sends by default).
static VARY: HeaderValue = HeaderValue::from_static(
    "origin, access-control-request-method, access-control-request-headers",
);

#[derive(Clone, Copy, Default)]
pub(crate) struct MirrorCors;

impl<S> Layer<S> for MirrorCors {
    type Service = Cors<S>;

    fn layer(&self, inner: S) -> Cors<S> {
        Cors { inner }
    }
}

#[derive(Clone)]
pub(crate) struct Cors<S> {
    inner: S,
}

impl<S> Service<Request> for Cors<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = CorsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if request.method() == Method::OPTIONS {
            return CorsFuture::Preflight {
                answer: ready(Ok(preflight(&request))),
            };
        }
        CorsFuture::Call {
            origin: request.headers().get(header::ORIGIN).cloned(),
            future: self.inner.call(request),
        }
    }
}

pin_project_lite::pin_project! {
    #[project = CorsProjection]
    pub(crate) enum CorsFuture<F> {
        Preflight { answer: Ready<Result<Response, Infallible>> },
        Call { origin: Option<HeaderValue>, #[pin] future: F },
    }
}

impl<F> Future for CorsFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            CorsProjection::Preflight { answer } => Pin::new(answer).poll(cx),
            CorsProjection::Call { origin, future } => {
                let Ok(mut response) = std::task::ready!(future.poll(cx));
                add_common_headers(&mut response, origin.take());
                Poll::Ready(Ok(response))
            }
        }
    }
}

/// Any `OPTIONS` request: an empty 200 allowing what it asks for.
fn preflight(request: &Request) -> Response {
    let mut response = Response::new(Body::empty());
    let asked = request.headers();
    add_common_headers(&mut response, asked.get(header::ORIGIN).cloned());
    let headers = response.headers_mut();
    if let Some(method) = asked.get(header::ACCESS_CONTROL_REQUEST_METHOD) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, method.clone());
    }
    if let Some(names) = asked.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, names.clone());
    }
    response
}

fn add_common_headers(response: &mut Response, origin: Option<HeaderValue>) {
    let headers = response.headers_mut();
    // Appended: a handler's own `Vary` stays.
    headers.append(header::VARY, VARY.clone());
    if let Some(origin) = origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    async fn through_cors(request: Request) -> Response {
        let handler = tower::service_fn(|_: Request| async {
            let mut response = Response::new(Body::from("ok"));
            response
                .headers_mut()
                .insert(header::VARY, HeaderValue::from_static("accept"));
            Ok::<_, Infallible>(response)
        });
        MirrorCors.layer(handler).oneshot(request).await.unwrap()
    }

    #[tokio::test]
    async fn mirrors_the_origin_and_keeps_the_handlers_vary() {
        let request = Request::builder()
            .method(Method::POST)
            .header(header::ORIGIN, "https://app.example.com")
            .body(Body::empty())
            .unwrap();
        let response = through_cors(request).await;
        let headers = response.headers();
        assert_eq!(
            headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://app.example.com"
        );
        assert!(
            headers
                .get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS)
                .is_none()
        );
        let vary: Vec<_> = headers.get_all(header::VARY).iter().collect();
        assert_eq!(
            vary,
            [HeaderValue::from_static("accept"), VARY.clone()]
                .iter()
                .collect::<Vec<_>>()
        );
    }

    #[tokio::test]
    async fn without_an_origin_nothing_is_mirrored() {
        let request = Request::builder()
            .method(Method::POST)
            .body(Body::empty())
            .unwrap();
        let response = through_cors(request).await;
        assert!(
            response
                .headers()
                .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                .is_none()
        );
        assert!(
            response
                .headers()
                .get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS)
                .is_none()
        );
    }

    #[tokio::test]
    async fn preflight_allows_what_it_asks_for_without_calling_the_route() {
        let request = Request::builder()
            .method(Method::OPTIONS)
            .header(header::ORIGIN, "https://app.example.com")
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(
                header::ACCESS_CONTROL_REQUEST_HEADERS,
                "authorization,content-type",
            )
            .body(Body::empty())
            .unwrap();
        let response = through_cors(request).await;
        assert_eq!(response.status(), 200);
        let headers = response.headers();
        assert_eq!(
            headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://app.example.com"
        );
        assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_METHODS], "POST");
        assert_eq!(
            headers[header::ACCESS_CONTROL_ALLOW_HEADERS],
            "authorization,content-type"
        );
        assert_eq!(headers.get_all(header::VARY).iter().count(), 1);
        assert!(
            headers
                .get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS)
                .is_none()
        );
        let body = axum::body::to_bytes(response.into_body(), 64)
            .await
            .unwrap();
        assert!(body.is_empty());
    }
}
