use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

use super::*;

fn app() -> Router {
    router(WebConfig {
        sign_in: SignIn::Emulator {
            frontend_api: "/_clerk".into(),
        },
    })
}

async fn get(path: &str, accept_encoding: Option<&str>) -> (StatusCode, HeaderMap, Vec<u8>) {
    request(Method::GET, path, accept_encoding).await
}

async fn request(
    method: Method,
    path: &str,
    accept_encoding: Option<&str>,
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(value) = accept_encoding {
        builder = builder.header(header::ACCEPT_ENCODING, value);
    }
    let response = app()
        .oneshot(builder.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, body.to_vec())
}

fn first_script(html: &str) -> String {
    let start = html.find("/assets/").expect("index links an asset");
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

#[tokio::test]
async fn client_routes_get_the_page_with_its_configuration() {
    for path in ["/", "/users", "/chats/abc", "/index.html"] {
        let (status, headers, body) = get(path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
        let html = String::from_utf8(body).unwrap();
        assert!(
            html.contains(r#"{"auth":"emulator","frontendApi":"/_clerk"}"#),
            "{html}"
        );
    }
}

#[tokio::test]
async fn server_paths_never_fall_back_to_the_page() {
    for path in [
        "/api/nope",
        "/api",
        "/_clerk/x",
        "/clerk-webhook",
        "/healthz/x",
        "/assets/missing.js",
    ] {
        let (status, _, _) = get(path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    // A client route that merely starts like one is still the app's.
    let (status, _, _) = get("/apix", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = request(Method::POST, "/users", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn hashed_assets_are_immutable_and_gzipped_when_accepted() {
    let (_, _, body) = get("/", None).await;
    let script = first_script(&String::from_utf8(body).unwrap());
    let (status, headers, plain) = get(&script, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    assert!(headers.get(header::CONTENT_ENCODING).is_none());
    let (_, headers, gzipped) = get(&script, Some("br, gzip")).await;
    assert_eq!(headers[header::CONTENT_ENCODING], "gzip");
    assert_eq!(headers[header::VARY], "accept-encoding");
    assert!(
        gzipped.len() < plain.len() / 2,
        "{} vs {}",
        gzipped.len(),
        plain.len()
    );
    let (_, headers, _) = get(&script, Some("gzip;q=0")).await;
    assert!(headers.get(header::CONTENT_ENCODING).is_none());
}

#[test]
fn config_cannot_close_the_script_element() {
    let html = config::render_index(
        r#"<script id="keel-config" type="application/json">{}</script>"#,
        &WebConfig {
            sign_in: SignIn::Clerk {
                publishable_key: "</script><script>alert(1)</script>".into(),
            },
        },
    );
    let html = String::from_utf8(html).unwrap();
    assert_eq!(html.matches("</script>").count(), 1, "{html}");
}
