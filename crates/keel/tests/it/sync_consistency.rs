//! What one commit looks like to a connection: every query it changes arrives in one
//! transition labelled with a timestamp at or past that commit, never spread over several
//! transitions (a torn view), and the connection keeps serving while a mutation commits.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value as Json, json};

use crate::harness::{Engine, TestServer, engine_tests};
use crate::sync::{Client, ts};

/// Subscribes `count` distinct queries that all list the caller's chats (pages of different
/// sizes, each larger than the number of chats the test makes).
async fn subscribe_chat_pages(client: &mut Client, token: &str, count: u64) -> Json {
    client
        .send(
            json!({"type": "Authenticate", "baseVersion": 0, "tokenType": "User", "value": token}),
        )
        .await;
    client.expect("Transition").await;
    let modifications: Vec<Json> = (0..count)
        .map(|i| {
            json!({"type": "Add", "queryId": i, "udfPath": "chats:listUserChats",
                "args": [{"paginationOpts": {"numItems": 1000 + i, "cursor": null}}]})
        })
        .collect();
    client
        .send(json!({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": modifications}))
        .await;
    client.expect("Transition").await
}

/// Applies a transition's modifications to the client's view: query id → number of chats.
fn apply(view: &mut BTreeMap<u64, usize>, transition: &Json) {
    for modification in transition["modifications"].as_array().unwrap() {
        assert_eq!(modification["type"], "QueryUpdated", "{modification}");
        let id = modification["queryId"].as_u64().unwrap();
        let page = modification["value"]["page"].as_array().unwrap();
        view.insert(id, page.len());
    }
}

async fn one_commit_reaches_a_connection_as_one_transition(engine: Engine) {
    const QUERIES: u64 = 12;
    const COMMITS: usize = 40;
    let server = TestServer::dev_on(engine).await;
    let (_, token) = server.user("torn@example.com").await;
    let mut client = Client::connect(&server, "torn").await;
    let first = subscribe_chat_pages(&mut client, &token, QUERIES).await;
    let mut view = BTreeMap::new();
    apply(&mut view, &first);
    assert_eq!(view.len(), QUERIES as usize);

    // Another tab writes: each commit changes every subscribed query.
    let writer = {
        let (url, http, token) = (server.url.clone(), server.http.clone(), token.clone());
        tokio::spawn(async move {
            for i in 0..COMMITS {
                let body: Json = http
                    .post(format!("{url}/api/mutation"))
                    .bearer_auth(&token)
                    .json(&json!({"path": "chats:createUserChat", "args": [{"title": format!("chat {i}")}], "format": "json"}))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                assert_eq!(body["status"], "success", "{body}");
            }
        })
    };

    let mut transitions = 0;
    let mut previous_end = first["endVersion"].clone();
    while view.values().any(|&n| n < COMMITS) {
        let transition = client.expect("Transition").await;
        transitions += 1;
        assert_eq!(
            transition["startVersion"], previous_end,
            "versions chain exactly"
        );
        assert!(ts(&transition["endVersion"]) > ts(&previous_end));
        previous_end = transition["endVersion"].clone();
        apply(&mut view, &transition);
        let counts: Vec<usize> = view.values().copied().collect();
        assert!(
            counts.windows(2).all(|w| w[0] == w[1]),
            "transition {transitions} shows the queries at different moments: {counts:?}\n{transition}"
        );
    }
    writer.await.unwrap();
    assert!(
        transitions <= COMMITS,
        "{transitions} transitions for {COMMITS} commits"
    );
}
engine_tests!(
    one_commit_reaches_a_connection_as_one_transition,
    flavor = "multi_thread",
    worker_threads = 4
);

async fn a_mutation_and_its_effect_on_many_queries_arrive_together(engine: Engine) {
    const QUERIES: u64 = 50;
    let server = TestServer::dev_on(engine).await;
    let (_, token) = server.user("many@example.com").await;
    let mut client = Client::connect(&server, "many").await;
    subscribe_chat_pages(&mut client, &token, QUERIES).await;
    client.send(json!({"type": "Mutation", "requestId": 0, "udfPath": "chats:createUserChat", "args": [{"title": "one"}]})).await;
    let response = client.expect("MutationResponse").await;
    assert_eq!(response["success"], true, "{response}");
    let transition = client.expect("Transition").await;
    assert!(ts(&transition["endVersion"]) >= ts(&response));
    assert_eq!(
        transition["modifications"].as_array().unwrap().len(),
        QUERIES as usize,
        "every query the commit changed is in its one transition"
    );
    assert!(client.quiet(Duration::from_millis(300)).await);
}
engine_tests!(
    a_mutation_and_its_effect_on_many_queries_arrive_together,
    flavor = "multi_thread",
    worker_threads = 4
);
