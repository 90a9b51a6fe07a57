//! The wire details of the Convex HTTP API: shapes, formats, paths, limits, CORS, health.

use keel::AppParts;
use keel::functions::{NoArgs, QueryCtx, Registry, TS};
use keel::store::Schema;
use serde::Deserialize;
use serde_json::{Value as Json, json};

use crate::harness::{Engine, TestServer, engine_tests};

#[derive(Deserialize, TS)]
struct Echo {
    n: i64,
}

fn with_test_functions() -> AppParts {
    let mut functions = Registry::new();
    functions
        .query("test:echo", |_: QueryCtx, args: Echo| async move {
            Ok(json!({"n": args.n, "big": {"$integer": "BQAAAAAAAAA="}, "bytes": {"$bytes": "AQID"}}))
        })
        .query("test", |_: QueryCtx, _: NoArgs| async move { Ok("default export") })
        .query("dir/sub:fn", |_: QueryCtx, _: NoArgs| async move { Ok("nested") });
    AppParts::builtin().with(Schema::new(), functions)
}

async fn results_come_in_both_formats(engine: Engine) {
    let server = TestServer::dev_on_with(engine, |_| {}, with_test_functions()).await;
    let args = r#"[{"n":{"$integer":"BwAAAAAAAAA="}}]"#;
    let echo = |format: &str| {
        let body = format!(r#"{{"path":"test:echo","args":{args},"format":"{format}"}}"#);
        let server = &server;
        async move { server.post_text("/api/query", &body).await }
    };
    let (status, encoded) = echo("convex_encoded_json").await;
    assert_eq!(status, 200);
    assert_eq!(
        encoded,
        json!({"status": "success", "value": {"n": 7, "big": {"$integer": "BQAAAAAAAAA="}, "bytes": {"$bytes": "AQID"}}, "logLines": []})
    );
    let (_, clean) = echo("json").await;
    assert_eq!(
        clean["value"]["big"], "5",
        "json format exports int64 as a string"
    );
    assert_eq!(clean["value"]["bytes"], "AQID");
    let (_, encoded_again) = echo("convex_encoded_json").await;
    assert_eq!(
        encoded_again, encoded,
        "each format keeps its own rendering of the cached result"
    );
    let (status, body) = server
        .post_text(
            "/api/query",
            r#"{"path":"test:echo","args":{},"format":"yaml"}"#,
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], "BadFormat");
}
engine_tests!(results_come_in_both_formats);

async fn paths_canonicalize_and_run_routes_work(engine: Engine) {
    let server = TestServer::dev_on_with(engine, |_| {}, with_test_functions()).await;
    for path in ["test", "test.js", "test:default", "test.js:default"] {
        let (_, body) = server
            .post_text(
                "/api/query",
                &format!(r#"{{"path":"{path}","args":[{{}}]}}"#),
            )
            .await;
        assert_eq!(body["value"], "default export", "{path}");
    }
    let (_, body) = server
        .post_text("/api/query", r#"{"path":"dir/sub:fn","args":{}}"#)
        .await;
    assert_eq!(body["value"], "nested");
    let (status, body) = server
        .post_text("/api/run/dir/sub/fn", r#"{"args":{}}"#)
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["value"], "nested");
    let (_, body) = server
        .post_text("/api/run/test/echo", r#"{"args":{"n":3}}"#)
        .await;
    assert_eq!(
        body["value"]["big"], "5",
        "/api/run defaults to the json format"
    );
    let response = server
        .http
        .get(format!(
            "{}/api/query?path=test:echo&args=%7B%22n%22%3A1%7D",
            server.url
        ))
        .send()
        .await
        .unwrap();
    let body: Json = response.json().await.unwrap();
    assert_eq!(body["value"]["n"].as_f64(), Some(1.0));
}
engine_tests!(paths_canonicalize_and_run_routes_work);

async fn unknown_functions_and_wrong_kinds_name_the_path(engine: Engine) {
    let server = TestServer::dev_on_with(engine, |_| {}, with_test_functions()).await;
    let (status, body) = server
        .post_text("/api/query", r#"{"path":"nope:missing","args":[{}]}"#)
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "error");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("nope:missing")
    );
    let (_, body) = server
        .post_text("/api/mutation", r#"{"path":"test:echo","args":[{"n":1}]}"#)
        .await;
    assert_eq!(
        body["errorMessage"],
        "Trying to execute test:echo as Mutation, but it is defined as Query."
    );
    let (_, body) = server
        .post_text("/api/query", r#"{"path":"test:echo","args":[{"n":"x"}]}"#)
        .await;
    assert_eq!(body["errorData"]["code"], "INVALID_ARGUMENT");
    assert!(body["errorMessage"].as_str().unwrap().contains("`n`"));
}
engine_tests!(unknown_functions_and_wrong_kinds_name_the_path);

async fn malformed_and_oversized_bodies_are_refused(engine: Engine) {
    let server = TestServer::dev_on_with(
        engine,
        |s| s.http.max_body_bytes = 1024,
        with_test_functions(),
    )
    .await;
    let (status, body) = server.post_text("/api/query", r#"{"path":"test""#).await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], "BadJsonBody");
    let (status, body) = server
        .post_text("/api/query", r#"{"path":"test","args":[1,2]}"#)
        .await;
    assert_eq!(status, 400, "{body}");

    let big = format!(
        r#"{{"path":"test","args":{{"pad":"{}"}}}}"#,
        "x".repeat(2048)
    );
    let (status, body) = server.post_text("/api/query", &big).await;
    assert_eq!(status, 413);
    assert_eq!(body["code"], "PayloadTooLarge");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("KEEL_MAX_BODY_BYTES")
    );

    // A streamed body with no Content-Length is cut off at the limit too.
    let chunks: Vec<Result<String, std::io::Error>> =
        (0..64).map(|_| Ok("x".repeat(100))).collect();
    let response = server
        .http
        .post(format!("{}/api/query", server.url))
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
}
engine_tests!(malformed_and_oversized_bodies_are_refused);

/// Only text that is not JSON is `BadJsonBody`; JSON of the wrong shape is `BadRequest`, and
/// the message names the field.
async fn valid_json_of_the_wrong_shape_is_a_bad_request_naming_the_field(engine: Engine) {
    let server = TestServer::dev_on_with(engine, |_| {}, with_test_functions()).await;
    for (path, body, names) in [
        ("/api/query", r#"{"args":[{}],"format":"json"}"#, "`path`"),
        ("/api/mutation", r#"{"path":7,"args":{}}"#, "`path`"),
        ("/api/query", r#"{"path":"test","format":1}"#, "`format`"),
        ("/api/action", r#"[{"path":"test"}]"#, "JSON object"),
        ("/api/run/test/echo", r#""args""#, "JSON object"),
    ] {
        let (status, answer) = server.post_text(path, body).await;
        assert_eq!(status, 400, "{path} {body}: {answer}");
        assert_eq!(answer["code"], "BadRequest", "{path} {body}: {answer}");
        let message = answer["message"].as_str().unwrap();
        assert!(message.contains(names), "{body}: {message}");
    }
    let (status, answer) = server.post_text("/api/query", r#"{"args":{}"#).await;
    assert_eq!(status, 400);
    assert_eq!(answer["code"], "BadJsonBody", "{answer}");
}
engine_tests!(valid_json_of_the_wrong_shape_is_a_bad_request_naming_the_field);

/// One body's parsed form is bounded: an array past 8,192 elements is refused before it is
/// built, with a 400 naming the limit, and so is a body of more than 131,072 values.
async fn bodies_past_the_json_bounds_are_refused_naming_the_bound(engine: Engine) {
    let server = TestServer::dev_on_with(engine, |_| {}, with_test_functions()).await;
    let body = |zeros: usize| {
        format!(
            r#"{{"path":"test:echo","args":[{{"n":[{}0]}}]}}"#,
            "0,".repeat(zeros - 1)
        )
    };
    // At the bound, the body reaches the function (which wants a number).
    let (status, answer) = server
        .post_text("/api/query", &body(keel_server::MAX_ARRAY_LEN))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["errorData"]["code"], "INVALID_ARGUMENT");

    let (status, answer) = server
        .post_text("/api/query", &body(keel_server::MAX_ARRAY_LEN + 1))
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["code"], "BodyTooComplex");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("8192 elements"),
        "{answer}"
    );

    let row = format!("[{}0]", "0,".repeat(keel_server::MAX_ARRAY_LEN - 1));
    let rows = vec![row; keel_server::MAX_VALUES / keel_server::MAX_ARRAY_LEN + 1].join(",");
    let many = format!(r#"{{"path":"test:echo","args":{{"n":[{rows}]}}}}"#);
    let (status, answer) = server.post_text("/api/mutation", &many).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["code"], "BodyTooComplex");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("131072 JSON values"),
        "{answer}"
    );
}
engine_tests!(bodies_past_the_json_bounds_are_refused_naming_the_bound);

async fn cors_mirrors_the_origin_without_credentials_and_health_probes_answer(engine: Engine) {
    let server = TestServer::dev_on(engine).await;
    let response = server
        .http
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/api/query", server.url),
        )
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let allowed = response.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(allowed.contains("authorization"));
    // The API authenticates by bearer token and no route reads a cookie: no answer, the
    // emulator's included, invites a browser to send credentials from another origin.
    assert!(
        response
            .headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
    for path in ["/api/query", "/_clerk/.well-known/openid-configuration"] {
        let response = server
            .http
            .post(format!("{}{path}", server.url))
            .header("origin", "https://app.example.com")
            .body(r#"{"path":"users:getCurrentUser","args":{}}"#)
            .send()
            .await
            .unwrap();
        assert!(
            response
                .headers()
                .get("access-control-allow-credentials")
                .is_none(),
            "{path}"
        );
    }

    let health = server
        .http
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let ready = server
        .http
        .get(format!("{}/readyz", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let body: Json = ready.json().await.unwrap();
    assert_eq!(
        body,
        json!({"database": true, "writable": true, "keys": true})
    );
}
engine_tests!(cors_mirrors_the_origin_without_credentials_and_health_probes_answer);

/// Query answers are rendered once per result and format, then reused: a write must replace
/// them in both formats.
async fn cached_query_answers_follow_writes_in_both_formats(engine: Engine) {
    let server = TestServer::dev_on(engine).await;
    let (_, token) = server.user("cache@example.com").await;
    let titles = |format: &'static str| {
        let server = &server;
        let token = token.clone();
        async move {
            let response = server
                .http
                .post(format!("{}/api/query", server.url))
                .bearer_auth(&token)
                .json(&json!({"path": "chats:listUserChats", "args": [{}], "format": format}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.headers()["content-type"], "application/json");
            let body: Json = response.json().await.unwrap();
            assert_eq!(body["status"], "success", "{body}");
            body["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["title"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    for format in ["json", "convex_encoded_json", "json"] {
        assert_eq!(titles(format).await, Vec::<String>::new());
    }
    let id = server
        .ok(
            "mutation",
            "chats:createUserChat",
            json!({"title": "first"}),
            Some(&token),
        )
        .await;
    for format in ["json", "convex_encoded_json"] {
        assert_eq!(titles(format).await, ["first"], "{format}");
    }
    server
        .ok(
            "mutation",
            "chats:update",
            json!({"id": id, "title": "renamed"}),
            Some(&token),
        )
        .await;
    for format in ["convex_encoded_json", "json"] {
        assert_eq!(titles(format).await, ["renamed"], "{format}");
    }
}
engine_tests!(cached_query_answers_follow_writes_in_both_formats);
