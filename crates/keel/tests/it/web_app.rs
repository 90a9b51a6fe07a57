//! The web app's server side: `/` and client routes serve the app with the sign-in mode in
//! it, and in `keel dev` the emulator's browser sign-in (page, cookie, tokens, sign-out) works
//! without the secret key and refuses other origins. `keel serve` mounts none of it.

use keel::{AppParts, Mode};
use reqwest::header::{COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use reqwest::redirect::Policy;
use serde_json::{Value as Json, json};

use crate::fake_issuer::FakeIssuer;
use crate::harness::{TestServer, settings};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

async fn page(url: &str) -> (u16, String) {
    let response = client().get(url).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// Submits the sign-in form; returns the status, `Location` and the cookie pair it set.
async fn sign_in(server: &TestServer, form: &str, origin: Option<&str>) -> (u16, String, String) {
    let mut request = client()
        .post(format!("{}/_clerk/sign-in", server.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.to_owned());
    if let Some(origin) = origin {
        request = request.header(ORIGIN, origin);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get(LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let cookie = response
        .headers()
        .get(SET_COOKIE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, location, cookie)
}

async fn browser_post(server: &TestServer, path: &str, cookie: &str) -> (u16, Json) {
    let response = client()
        .post(format!("{}{path}", server.url))
        .header(COOKIE, cookie)
        .header(ORIGIN, &server.url)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Json::Null))
}

async fn client_state(server: &TestServer, cookie: &str) -> Json {
    client()
        .get(format!("{}/_clerk/v1/client", server.url))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn dev_serves_the_app_and_signs_a_browser_in_with_a_cookie() {
    let server = TestServer::dev().await;
    for path in ["/", "/users", "/chats/abc"] {
        let (status, html) = page(&format!("{}{path}", server.url)).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            html.contains(r#"{"auth":"emulator","frontendApi":"/_clerk"}"#),
            "{html}"
        );
    }
    // Server routes keep priority over the app.
    let (status, _) = server.get("/healthz").await;
    assert_eq!(status, 200);
    let (status, _) = page(&format!("{}/api/nope", server.url)).await;
    assert_eq!(status, 404);

    let (status, html) = page(&format!("{}/_clerk/sign-in", server.url)).await;
    assert_eq!(status, 200);
    for name in [
        "Email",
        "First name",
        "Last name",
        "Admin",
        "Create and sign in",
    ] {
        assert!(html.contains(name), "{name} missing from the page");
    }

    // Another site's page cannot sign a browser in (nor mint its tokens).
    let form = "email=ada%40example.com&first_name=Ada&last_name=Lovelace&admin=on&redirect_url=%2Fchats%2F1";
    let (status, _, cookie) = sign_in(&server, form, Some("http://evil.example")).await;
    assert_eq!(status, 403);
    assert!(cookie.is_empty());

    let (status, location, set_cookie) = sign_in(&server, form, Some(&server.url)).await;
    assert_eq!(status, 303);
    assert_eq!(location, "/chats/1");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/_clerk"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    let cookie = set_cookie.split(';').next().unwrap().to_owned();

    let state = client_state(&server, &cookie).await;
    let session_id = state["session"]["id"].as_str().unwrap().to_owned();
    assert_eq!(state["session"]["user"]["email_address"], "ada@example.com");
    // The page's own listing of users now offers her.
    let (_, html) = page(&format!("{}/_clerk/sign-in", server.url)).await;
    assert!(html.contains("Sign in as Ada Lovelace (ada@example.com)"));

    // The session's token is a real one: Keel accepts it, and she is an admin as asked.
    let token_path = format!("/_clerk/v1/client/sessions/{session_id}/tokens/convex");
    let (status, body) = browser_post(&server, &token_path, &cookie).await;
    assert_eq!(status, 200, "{body}");
    let jwt = body["jwt"].as_str().unwrap().to_owned();
    let viewer = server
        .ok("query", "users:viewer", json!({}), Some(&jwt))
        .await;
    assert_eq!(viewer["email"], "ada@example.com");
    assert_eq!(viewer["isAdmin"], true);

    // Without the cookie, or for another session, there is no token.
    let (status, body) = browser_post(&server, &token_path, "").await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["errors"][0]["code"], "signed_out");
    let other_user = server.user("bob@example.com").await.0;
    let other_session = server.emulator().create_session(&other_user).await.unwrap();
    let (status, _) = browser_post(
        &server,
        &format!("/_clerk/v1/client/sessions/{other_session}/tokens/convex"),
        &cookie,
    )
    .await;
    assert_eq!(status, 401);

    // Signing out ends the session: the cookie is cleared and mints nothing more.
    let (status, _) = browser_post(
        &server,
        &format!("/_clerk/v1/client/sessions/{session_id}/end"),
        &cookie,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(client_state(&server, &cookie).await["session"], Json::Null);
    let (status, _) = browser_post(&server, &token_path, &cookie).await;
    assert_eq!(status, 401);
    let session = server.emulator().get_session(&session_id).await.unwrap();
    assert_eq!(session["status"], "ended");
}

#[tokio::test]
async fn the_sign_in_page_reports_a_taken_email_and_keeps_what_was_typed() {
    let server = TestServer::dev().await;
    server.user("taken@example.com").await;
    let form = "email=taken%40example.com&first_name=Twice";
    let (status, _, cookie) = sign_in(&server, form, None).await;
    assert_eq!(status, 422);
    assert!(cookie.is_empty());
    let response = client()
        .post(format!("{}/_clerk/sign-in", server.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    let html = response.text().await.unwrap();
    assert!(html.contains("role=\"alert\""), "{html}");
    assert!(html.contains("value=\"Twice\""), "{html}");
}

#[tokio::test]
async fn a_new_user_can_join_an_organization_with_a_role() {
    let server = TestServer::dev().await;
    let form = "email=org%40example.com&organization=Acme&org_role=org%3Aadmin";
    let (status, _, set_cookie) = sign_in(&server, form, None).await;
    assert_eq!(status, 303);
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let state = client_state(&server, &cookie).await;
    assert_eq!(state["session"]["org_role"], "org:admin", "{state}");
    assert!(
        state["session"]["org_id"]
            .as_str()
            .unwrap()
            .starts_with("org_")
    );
}

#[tokio::test]
async fn serve_mounts_no_sign_in_and_the_app_says_what_to_set() {
    let issuer = FakeIssuer::start(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let running = keel::start(
        &settings(dir.path()),
        Mode::Serve {
            issuer: issuer.issuer.clone(),
        },
        AppParts::builtin(),
        None,
    )
    .await
    .unwrap();
    let (status, html) = page(&format!("{}/", running.url)).await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"{"auth":"none"}"#), "{html}");
    for path in ["/_clerk/sign-in", "/_clerk/v1/client"] {
        let (status, _) = page(&format!("{}{path}", running.url)).await;
        assert_eq!(status, 404, "{path}");
    }

    let other_dir = tempfile::tempdir().unwrap();
    let mut with_key = settings(other_dir.path());
    with_key.clerk_instance.publishable_key = Some("pk_test_Y2xlcmsuZXhhbXBsZS5jb20k".into());
    let running = keel::start(
        &with_key,
        Mode::Serve {
            issuer: issuer.issuer.clone(),
        },
        AppParts::builtin(),
        None,
    )
    .await
    .unwrap();
    let (_, html) = page(&format!("{}/", running.url)).await;
    assert!(
        html.contains(r#"{"auth":"clerk","publishableKey":"pk_test_Y2xlcmsuZXhhbXBsZS5jb20k"}"#),
        "{html}"
    );
}
