//! Function logs (`ctx.log`) reach the caller in `logLines`, as Convex's do, over HTTP and
//! over the WebSocket: for queries (also when answered from the shared cache), mutations,
//! failing calls, actions (with the lines of the functions they run) and within the bounds.

use keel::AppParts;
use keel::functions::{
    ActionCtx, FnError, MAX_LOG_LINES, MutationCtx, NoArgs, QueryCtx, Registry, TRUNCATED_SUFFIX,
};
use keel::store::Schema;
use serde_json::{Value as Json, json};

use crate::harness::TestServer;
use crate::sync::Client;

/// Test functions that log; registered beside the built-in app, never shipped in it.
fn logging_functions() -> Registry {
    let mut functions = Registry::new();
    functions
        .query("logs:read", |ctx: QueryCtx, _: NoArgs| async move {
            ctx.log.log("reading");
            ctx.log.info(format_args!("{} rows", 2));
            Ok(2)
        })
        .mutation("logs:write", |ctx: MutationCtx, _: NoArgs| async move {
            ctx.log.warn("writing nothing");
            Ok("written")
        })
        .mutation("logs:refuse", |ctx: MutationCtx, _: NoArgs| async move {
            ctx.log.error("about to refuse");
            Err::<(), _>(FnError::invalid_argument("refused"))
        })
        .action("logs:act", |ctx: ActionCtx, _: NoArgs| async move {
            ctx.log.debug("acting");
            let rows: i64 = ctx.run_query("logs:read", json!({})).await?;
            ctx.log.log(format_args!("read {rows}"));
            Ok(rows)
        })
        .query("logs:flood", |ctx: QueryCtx, _: NoArgs| async move {
            ctx.log.log("z".repeat(40_000));
            for i in 0..1_000 {
                ctx.log.log(i);
            }
            Ok(())
        });
    functions
}

async fn server() -> TestServer {
    TestServer::dev_with(
        |_| {},
        AppParts::builtin().with(Schema::new(), logging_functions()),
    )
    .await
}

fn lines(body: &Json) -> Vec<&str> {
    body["logLines"]
        .as_array()
        .unwrap_or_else(|| panic!("no logLines in {body}"))
        .iter()
        .map(|line| line.as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn log_lines_come_back_over_http() {
    let server = server().await;
    let (_, read) = server.call("query", "logs:read", json!({}), None).await;
    assert_eq!(read["status"], "success", "{read}");
    assert_eq!(lines(&read), ["[LOG] reading", "[INFO] 2 rows"]);
    // The same query again is answered from the shared execution, with its lines.
    let (_, cached) = server.call("query", "logs:read", json!({}), None).await;
    assert_eq!(cached, read);

    let (_, write) = server.call("mutation", "logs:write", json!({}), None).await;
    assert_eq!(write["value"], "written");
    assert_eq!(lines(&write), ["[WARN] writing nothing"]);

    // A failing call returns what it logged before failing, beside its error.
    let (_, refused) = server
        .call("mutation", "logs:refuse", json!({}), None)
        .await;
    assert_eq!(refused["status"], "error");
    assert_eq!(refused["errorData"]["code"], "INVALID_ARGUMENT");
    assert_eq!(lines(&refused), ["[ERROR] about to refuse"]);

    // An action's lines include those of the functions it runs, in order.
    let (_, acted) = server.call("action", "logs:act", json!({}), None).await;
    assert_eq!(acted["status"], "success", "{acted}");
    assert_eq!(
        lines(&acted),
        [
            "[DEBUG] acting",
            "[LOG] reading",
            "[INFO] 2 rows",
            "[LOG] read 2"
        ]
    );
    // Functions that log nothing still answer `logLines: []`.
    let (_, chats) = server
        .call("query", "users:getCurrentUser", json!({}), None)
        .await;
    assert_eq!(chats["logLines"], json!([]));
}

#[tokio::test]
async fn log_lines_are_bounded_per_call() {
    let server = server().await;
    let (_, flood) = server.call("query", "logs:flood", json!({}), None).await;
    assert_eq!(flood["status"], "success", "{flood}");
    let lines = lines(&flood);
    assert_eq!(lines.len(), MAX_LOG_LINES);
    assert!(lines[0].starts_with("[LOG] zzz") && lines[0].ends_with(TRUNCATED_SUFFIX));
    assert_eq!(
        lines[0].len(),
        "[LOG] ".len() + 32_768 + TRUNCATED_SUFFIX.len()
    );
    assert_eq!(lines[1], "[LOG] 0");
    assert_eq!(
        lines[MAX_LOG_LINES - 1],
        "[ERROR] Log overflow (maximum 256). Remaining log lines omitted."
    );
}

#[tokio::test]
async fn log_lines_come_back_over_the_websocket() {
    let server = server().await;
    let mut client = Client::connect(&server, "logs-session").await;
    client
        .send(
            json!({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [
                {"type": "Add", "queryId": 0, "udfPath": "logs:read", "args": [{}]},
            ]}),
        )
        .await;
    let transition = client.expect("Transition").await;
    let modification = &transition["modifications"][0];
    assert_eq!(modification["type"], "QueryUpdated", "{transition}");
    assert_eq!(lines(modification), ["[LOG] reading", "[INFO] 2 rows"]);

    client
        .send(json!({"type": "Mutation", "requestId": 0, "udfPath": "logs:write", "args": [{}]}))
        .await;
    let response = client.expect("MutationResponse").await;
    assert_eq!(response["success"], true, "{response}");
    assert_eq!(lines(&response), ["[WARN] writing nothing"]);

    client
        .send(json!({"type": "Mutation", "requestId": 1, "udfPath": "logs:refuse", "args": [{}]}))
        .await;
    let refused = loop {
        let message = client.next().await.expect("the connection stays open");
        if message["type"] == "MutationResponse" {
            break message;
        }
    };
    assert_eq!(refused["success"], false, "{refused}");
    assert_eq!(refused["errorData"]["code"], "INVALID_ARGUMENT");
    assert_eq!(lines(&refused), ["[ERROR] about to refuse"]);

    client
        .send(json!({"type": "Action", "requestId": 2, "udfPath": "logs:act", "args": [{}]}))
        .await;
    let acted = loop {
        let message = client.next().await.expect("the connection stays open");
        if message["type"] == "ActionResponse" {
            break message;
        }
    };
    assert_eq!(acted["success"], true, "{acted}");
    assert_eq!(lines(&acted).len(), 4, "{acted}");
}
