//! The sync protocol state machine over a real WebSocket: version chaining, read-your-writes,
//! invalidation by read set, auth errors, malformed and out-of-order messages, replay of
//! re-sent mutations, and the outbound buffer limit.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value as Json, json};
use tokio_tungstenite::tungstenite::Message;

use crate::harness::{Engine, TestServer, engine_tests};

pub(crate) type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub(crate) struct Client {
    pub(crate) socket: Socket,
}

impl Client {
    pub(crate) async fn connect(server: &TestServer, session_id: &str) -> Client {
        Self::connect_to(&server.url, session_id, 0).await
    }

    /// Connects to the Keel at `url` (`http://…`) as the official client does on its
    /// `connection_count`-th connection of the session (a reconnect when it is above 0).
    pub(crate) async fn connect_to(url: &str, session_id: &str, connection_count: u32) -> Client {
        let url = format!("{}/api/1.48.0/sync", url.replace("http://", "ws://"));
        let (socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let mut client = Client { socket };
        let reason = if connection_count == 0 {
            "InitialConnect"
        } else {
            "ServerDisconnected"
        };
        client
            .send(json!({"type": "Connect", "sessionId": session_id, "connectionCount": connection_count, "lastCloseReason": reason, "clientTs": 0}))
            .await;
        client
    }

    pub(crate) async fn send(&mut self, message: Json) {
        self.socket
            .send(Message::Text(message.to_string().into()))
            .await
            .unwrap();
    }

    pub(crate) async fn send_raw(&mut self, text: &str) {
        self.socket
            .send(Message::Text(text.to_string().into()))
            .await
            .unwrap();
    }

    /// The next protocol message (skipping pings), or `None` when the server closed.
    pub(crate) async fn next(&mut self) -> Option<Json> {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(10), self.socket.next())
                .await
                .expect("a message within 10 s")?;
            match message.ok()? {
                Message::Text(text) => {
                    let json: Json = serde_json::from_str(&text).unwrap();
                    if json["type"] != "Ping" {
                        return Some(json);
                    }
                }
                Message::Close(_) => return None,
                _ => {}
            }
        }
    }

    pub(crate) async fn expect(&mut self, kind: &str) -> Json {
        let message = self
            .next()
            .await
            .unwrap_or_else(|| panic!("closed while expecting {kind}"));
        assert_eq!(message["type"], kind, "{message}");
        message
    }

    /// Nothing arrives for `wait`.
    pub(crate) async fn quiet(&mut self, wait: Duration) -> bool {
        tokio::time::timeout(wait, self.next()).await.is_err()
    }
}

pub(crate) fn ts(version: &Json) -> u64 {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(version["ts"].as_str().unwrap())
        .unwrap();
    u64::from_le_bytes(bytes.try_into().unwrap())
}

async fn versions_chain_and_mutations_are_followed_by_a_transition_reaching_their_ts(
    engine: Engine,
) {
    let server = TestServer::dev_on(engine).await;
    // Synced first: the webhook's commit would otherwise update `getCurrentUser` at any moment.
    let (_, token) = server.synced_user("ws@example.com").await;
    let mut c = Client::connect(&server, "s1").await;
    c.send(json!({"type": "Authenticate", "baseVersion": 0, "tokenType": "User", "value": token}))
        .await;
    let t1 = c.expect("Transition").await;
    assert_eq!(
        t1["startVersion"],
        json!({"querySet": 0, "identity": 0, "ts": "AAAAAAAAAAA="})
    );
    assert_eq!(t1["endVersion"]["identity"], 1);

    c.send(
        json!({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [
            {"type": "Add", "queryId": 0, "udfPath": "chats:listUserChats", "args": [{}]},
            {"type": "Add", "queryId": 1, "udfPath": "users:getCurrentUser", "args": [{}]},
        ]}),
    )
    .await;
    let t2 = c.expect("Transition").await;
    assert_eq!(
        t2["startVersion"], t1["endVersion"],
        "versions chain exactly"
    );
    assert_eq!(t2["endVersion"]["querySet"], 1);
    let mods = t2["modifications"].as_array().unwrap();
    assert_eq!(mods.len(), 2);
    assert!(
        mods.iter()
            .any(|m| m["queryId"] == 0 && m["value"] == json!([]))
    );

    c.send(json!({"type": "Mutation", "requestId": 0, "udfPath": "chats:createUserChat", "args": [{"title": "hi"}]})).await;
    let response = c.expect("MutationResponse").await;
    assert_eq!(response["success"], true);
    let t3 = c.expect("Transition").await;
    assert_eq!(t3["startVersion"], t2["endVersion"]);
    assert!(
        ts(&t3["endVersion"]) >= ts(&response),
        "the transition reaches the mutation's ts"
    );
    let mods = t3["modifications"].as_array().unwrap();
    assert_eq!(mods.len(), 1, "only the changed query is sent: {t3}");
    assert_eq!(mods[0]["queryId"], 0);
    assert_eq!(mods[0]["value"][0]["title"], "hi");

    // A mutation that changes nothing subscribed still gets its transition.
    c.send(json!({"type": "Mutation", "requestId": 1, "udfPath": "users:store", "args": [{}]}))
        .await;
    let response = c.expect("MutationResponse").await;
    let t4 = c.expect("Transition").await;
    assert!(ts(&t4["endVersion"]) >= ts(&response));
    assert!(
        ts(&t4["endVersion"]) >= ts(&t3["endVersion"]),
        "ts never goes backwards"
    );

    c.send(json!({"type": "ModifyQuerySet", "baseVersion": 1, "newVersion": 2, "modifications": [{"type": "Remove", "queryId": 0}]})).await;
    let t5 = c.expect("Transition").await;
    assert_eq!(
        t5["modifications"],
        json!([{"type": "QueryRemoved", "queryId": 0}])
    );
}
engine_tests!(versions_chain_and_mutations_are_followed_by_a_transition_reaching_their_ts);

async fn a_commit_re_runs_only_the_subscriptions_it_touches(engine: Engine) {
    let server = TestServer::dev_on(engine).await;
    let (_, alice) = server.user("a@example.com").await;
    let (_, bob) = server.user("b@example.com").await;
    let mut a = Client::connect(&server, "a").await;
    let mut b = Client::connect(&server, "b").await;
    for (client, token) in [(&mut a, &alice), (&mut b, &bob)] {
        client.send(json!({"type": "Authenticate", "baseVersion": 0, "tokenType": "User", "value": token})).await;
        client.expect("Transition").await;
        client.send(json!({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [
            {"type": "Add", "queryId": 7, "udfPath": "chats:listUserChats", "args": [{}]}]})).await;
        client.expect("Transition").await;
    }
    a.send(json!({"type": "Mutation", "requestId": 0, "udfPath": "chats:createUserChat", "args": [{"title": "mine"}]})).await;
    a.expect("MutationResponse").await;
    let update = a.expect("Transition").await;
    assert_eq!(update["modifications"][0]["value"][0]["title"], "mine");
    assert!(
        b.quiet(Duration::from_millis(400)).await,
        "bob's subscription was not touched"
    );
}
engine_tests!(a_commit_re_runs_only_the_subscriptions_it_touches);

async fn identical_subscriptions_share_one_execution(engine: Engine) {
    let server = TestServer::dev_on(engine).await;
    let (_, token) = server.user("share@example.com").await;
    let mut clients = Vec::new();
    for i in 0..3 {
        let mut c = Client::connect(&server, &format!("share-{i}")).await;
        c.send(
            json!({"type": "Authenticate", "baseVersion": 0, "tokenType": "User", "value": token}),
        )
        .await;
        c.expect("Transition").await;
        c.send(
            json!({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [
            {"type": "Add", "queryId": 0, "udfPath": "chats:listUserChats", "args": [{}]}]}),
        )
        .await;
        c.expect("Transition").await;
        clients.push(c);
    }
    let live = server.running.live_executions();
    assert_eq!(
        live, 1,
        "three clients, same path, args and identity: one execution"
    );
}
engine_tests!(identical_subscriptions_share_one_execution);

async fn bad_tokens_get_auth_errors_the_client_understands(engine: Engine) {
    let server = TestServer::dev_on(engine).await;
    let mut c = Client::connect(&server, "bad").await;
    c.send(json!({"type": "Authenticate", "baseVersion": 0, "tokenType": "User", "value": "not.a.jwt"})).await;
    let error = c.expect("AuthError").await;
    assert_eq!(error["authUpdateAttempted"], true);
    assert_eq!(error["baseVersion"], 0);
    assert!(
        c.next().await.is_none(),
        "the server closes after an invalid token"
    );

    let mut admin = Client::connect(&server, "admin").await;
    admin
        .send(
            json!({"type": "Authenticate", "baseVersion": 0, "tokenType": "Admin", "value": "key"}),
        )
        .await;
    let error = admin.expect("AuthError").await;
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("Admin keys are not accepted")
    );
}
engine_tests!(bad_tokens_get_auth_errors_the_client_understands);

async fn an_expiring_token_gets_the_expired_auth_error(engine: Engine) {
    let server = TestServer::dev_on(engine).await;
    let (user, _) = server.user("expiring@example.com").await;
    let session = server.emulator().create_session(&user).await.unwrap();
    let short = server
        .emulator()
        .mint_token(&session, Some("convex"), Some(1))
        .await
        .unwrap();
    let mut c = Client::connect(&server, "exp").await;
    c.send(json!({"type": "Authenticate", "baseVersion": 0, "tokenType": "User", "value": short}))
        .await;
    c.expect("Transition").await;
    c.send(
        json!({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [
        {"type": "Add", "queryId": 0, "udfPath": "chats:listUserChats", "args": [{}]}]}),
    )
    .await;
    let first = c.expect("Transition").await;
    assert_eq!(first["modifications"][0]["type"], "QueryUpdated");
    // 1 s lifetime + 5 s skew.
    let error = tokio::time::timeout(Duration::from_secs(9), c.expect("AuthError"))
        .await
        .unwrap();
    assert_eq!(
        error,
        json!({"type": "AuthError", "error": "Convex token identity expired", "baseVersion": 0, "authUpdateAttempted": false})
    );
}
engine_tests!(an_expiring_token_gets_the_expired_auth_error);

async fn malformed_and_out_of_order_messages_are_fatal_errors_not_panics(engine: Engine) {
    let server = TestServer::dev_on(engine).await;
    for (setup, bad, code) in [
        (None, "{not json", "InvalidMessage"),
        (None, r#"{"type":"Bogus"}"#, "InvalidMessage"),
        (
            None,
            r#"{"type":"ModifyQuerySet","baseVersion":5,"newVersion":6,"modifications":[]}"#,
            "InvalidQuerySetVersion",
        ),
        (
            None,
            r#"{"type":"Authenticate","baseVersion":3,"tokenType":"None"}"#,
            "InvalidIdentityVersion",
        ),
        (
            None,
            r#"{"type":"Authenticate","baseVersion":0,"tokenType":"User"}"#,
            "MissingToken",
        ),
        (
            None,
            r#"{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Remove","queryId":9}]}"#,
            "UnknownQueryId",
        ),
        (
            Some(
                r#"{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Add","queryId":1,"udfPath":"users:getCurrentUser","args":[{}]}]}"#,
            ),
            r#"{"type":"ModifyQuerySet","baseVersion":1,"newVersion":2,"modifications":[{"type":"Add","queryId":1,"udfPath":"users:getCurrentUser","args":[{}]}]}"#,
            "DuplicateQueryId",
        ),
        (
            None,
            r#"{"type":"Connect","sessionId":"again","connectionCount":0,"lastCloseReason":"InitialConnect","clientTs":0}"#,
            "AlreadyConnected",
        ),
    ] {
        let mut c = Client::connect(&server, "fatal").await;
        if let Some(setup) = setup {
            c.send_raw(setup).await;
            c.expect("Transition").await;
        }
        c.send_raw(bad).await;
        let fatal = c.expect("FatalError").await;
        let error = fatal["error"].as_str().unwrap();
        assert!(
            error.starts_with(&format!("{code}: ")) && error.len() > code.len() + 2,
            "{bad} → {error}"
        );
        assert!(c.next().await.is_none(), "closed after {bad}");
    }
    // A mutation before `Connect`.
    let url = format!("{}/api/1.48.0/sync", server.url.replace("http://", "ws://"));
    let (socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let mut c = Client { socket };
    c.send(json!({"type": "Mutation", "requestId": 0, "udfPath": "chats:create", "args": [{"title": "x"}]}))
        .await;
    let fatal = c.expect("FatalError").await;
    assert_eq!(fatal["error"], "NotConnected: Mutation before Connect");
    assert!(
        c.next().await.is_none(),
        "closed after a mutation before Connect"
    );
    // The server is fine afterwards.
    let mut c = Client::connect(&server, "after").await;
    c.send(json!({"type": "Event", "eventType": "x", "event": {}}))
        .await;
    c.send(
        json!({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [
        {"type": "Add", "queryId": 0, "udfPath": "users:getCurrentUser", "args": [{}]}]}),
    )
    .await;
    let t = c.expect("Transition").await;
    assert_eq!(t["modifications"][0]["value"], Json::Null);
}
engine_tests!(malformed_and_out_of_order_messages_are_fatal_errors_not_panics);

async fn a_re_sent_mutation_is_answered_without_running_twice(engine: Engine) {
    let server = TestServer::dev_on(engine).await;
    let (_, token) = server.user("replay@example.com").await;
    let run = |session: &'static str| {
        let token = token.clone();
        let server = &server;
        async move {
            let mut c = Client::connect(server, session).await;
            c.send(json!({"type": "Authenticate", "baseVersion": 0, "tokenType": "User", "value": token})).await;
            c.expect("Transition").await;
            c.send(json!({"type": "Mutation", "requestId": 3, "udfPath": "chats:createUserChat", "args": [{"title": "once"}]})).await;
            c.expect("MutationResponse").await
        }
    };
    let first = run("replayed-session").await;
    let again = run("replayed-session").await;
    assert_eq!(
        first["result"], again["result"],
        "the same chat id comes back"
    );
    let other = run("another-session").await;
    assert_ne!(
        first["result"], other["result"],
        "another session's request 3 is its own"
    );
    let chats = server
        .ok("query", "chats:listUserChats", json!({}), Some(&token))
        .await;
    assert_eq!(
        chats.as_array().unwrap().len(),
        2,
        "created once per session, not per send"
    );
}
engine_tests!(a_re_sent_mutation_is_answered_without_running_twice);

/// The socket's read buffer is small (an idle connection should cost little memory); a large
/// message still arrives whole, over many reads.
async fn a_large_message_arrives_whole(engine: Engine) {
    let server = TestServer::dev_on(engine).await;
    let mut c = Client::connect(&server, "large").await;
    let pad = "x".repeat(300_000);
    c.send(json!({"type": "Action", "requestId": 7, "udfPath": "nope:missing", "args": [{"pad": pad}]}))
        .await;
    let answer = c.expect("ActionResponse").await;
    assert_eq!(answer["requestId"], 7);
    assert_eq!(answer["success"], false);
    assert!(
        answer["result"]
            .as_str()
            .is_some_and(|m| m.contains("nope:missing")),
        "{answer}"
    );
}
engine_tests!(a_large_message_arrives_whole);

async fn a_client_that_stops_reading_is_disconnected(engine: Engine) {
    let server = TestServer::dev_on_with(
        engine,
        |s| s.sync.max_queued_bytes = 64 * 1024,
        keel::AppParts::builtin(),
    )
    .await;
    let (_, token) = server.user("slow@example.com").await;
    let mut c = Client::connect(&server, "slow").await;
    c.send(json!({"type": "Authenticate", "baseVersion": 0, "tokenType": "User", "value": token}))
        .await;
    // Flood with actions whose answers are never read, until the server gives up on us.
    let big = "x".repeat(190);
    let mut closed = false;
    for i in 0..200_000u64 {
        let sent = c
            .socket
            .send(Message::Text(json!({"type": "Action", "requestId": i, "udfPath": "nope:missing", "args": [{"pad": big}]}).to_string().into()))
            .await;
        if sent.is_err() {
            closed = true;
            break;
        }
    }
    assert!(
        closed || drain_until_close(&mut c).await,
        "the server closed the connection"
    );
}
engine_tests!(a_client_that_stops_reading_is_disconnected);

async fn drain_until_close(c: &mut Client) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while tokio::time::Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(5), c.socket.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => {
                let reason = frame.map(|f| f.reason.to_string()).unwrap_or_default();
                assert!(
                    reason.starts_with("SubscriptionsWorkerFullError"),
                    "{reason}"
                );
                return true;
            }
            Ok(None) | Ok(Some(Err(_))) => return true,
            _ => {}
        }
    }
    false
}

async fn rows_repaired_by_the_background_reconcile_reach_live_subscribers(engine: Engine) {
    // Webhooks go nowhere; only the periodic reconcile can bring the user in.
    let server = TestServer::dev_on_with(
        engine,
        |s| {
            s.emulator.webhook_url = Some("http://127.0.0.1:9/nowhere".into());
            s.clerk.reconcile_every = Some(Duration::from_secs(1).into());
        },
        keel::AppParts::builtin(),
    )
    .await;
    let (_, token) = server.user("healed@example.com").await;
    let mut c = Client::connect(&server, "healed").await;
    c.send(json!({"type": "Authenticate", "baseVersion": 0, "tokenType": "User", "value": token}))
        .await;
    c.expect("Transition").await;
    c.send(
        json!({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [
        {"type": "Add", "queryId": 0, "udfPath": "users:getCurrentUser", "args": [{}]}]}),
    )
    .await;
    let first = c.expect("Transition").await;
    assert_eq!(
        first["modifications"][0]["value"],
        Json::Null,
        "not synced yet"
    );
    let healed = c.expect("Transition").await;
    let user = &healed["modifications"][0]["value"];
    assert_eq!(user["email"], "healed@example.com");
    assert_eq!(user["source"], "backfill");
}
engine_tests!(rows_repaired_by_the_background_reconcile_reach_live_subscribers);

async fn a_live_first_page_grows_in_place_when_a_chat_is_added(engine: Engine) {
    let server = TestServer::dev_on(engine).await;
    let (_, token) = server.user("pages@example.com").await;
    for title in ["a", "b", "c"] {
        server
            .ok(
                "mutation",
                "chats:createUserChat",
                json!({"title": title}),
                Some(&token),
            )
            .await;
    }
    let mut c = Client::connect(&server, "pages").await;
    c.send(json!({"type": "Authenticate", "baseVersion": 0, "tokenType": "User", "value": token}))
        .await;
    c.expect("Transition").await;
    c.send(json!({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [
        {"type": "Add", "queryId": 0, "udfPath": "chats:listUserChats", "args": [{"paginationOpts": {"numItems": 2, "cursor": null, "id": 1}}]}]})).await;
    let first = c.expect("Transition").await;
    let page = &first["modifications"][0]["value"];
    let titles = |page: &Json| -> Vec<String> {
        page["page"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["title"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(titles(page), vec!["c", "b"]);
    assert_eq!(page["isDone"], false);

    c.send(json!({"type": "Mutation", "requestId": 0, "udfPath": "chats:createUserChat", "args": [{"title": "d"}]})).await;
    c.expect("MutationResponse").await;
    let grown = c.expect("Transition").await;
    let page2 = &grown["modifications"][0]["value"];
    assert_eq!(
        titles(page2),
        vec!["d", "c", "b"],
        "the first page grows instead of shifting"
    );
    assert_eq!(page2["continueCursor"], page["continueCursor"]);

    // The HTTP API reads numItems fresh.
    let fresh = server
        .ok(
            "query",
            "chats:listUserChats",
            json!({"paginationOpts": {"numItems": 2, "cursor": null}}),
            Some(&token),
        )
        .await;
    assert_eq!(titles(&fresh), vec!["d", "c"]);
}
engine_tests!(a_live_first_page_grows_in_place_when_a_chat_is_added);

/// Connects with `session_id`, authenticates with `token` (or stays signed out), and sends one
/// mutation; returns its `MutationResponse`.
async fn mutation_over(
    server: &TestServer,
    session_id: &str,
    token: Option<&str>,
    request_id: Json,
    path: &str,
    args: Json,
) -> Json {
    let mut c = Client::connect(server, session_id).await;
    if let Some(token) = token {
        c.send(
            json!({"type": "Authenticate", "baseVersion": 0, "tokenType": "User", "value": token}),
        )
        .await;
        c.expect("Transition").await;
    }
    c.send(json!({"type": "Mutation", "requestId": request_id, "udfPath": path, "args": [args]}))
        .await;
    c.expect("MutationResponse").await
}

async fn chat_titles(server: &TestServer, token: &str) -> Vec<String> {
    let chats = server
        .ok("query", "chats:listUserChats", json!({}), Some(token))
        .await;
    chats
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["title"].as_str().unwrap().to_string())
        .collect()
}

async fn a_replay_is_answered_only_to_the_same_identity_and_function(engine: Engine) {
    let server = TestServer::dev_on(engine).await;
    let (alice_id, alice) = server.user("alice-replay@example.com").await;
    let (_, bob) = server.user("bob-replay@example.com").await;
    let session = "3f1c9a7e-victim-session";
    let create = |title: &str| json!({"title": title});

    let original = mutation_over(
        &server,
        session,
        Some(&alice),
        json!(5),
        "chats:createUserChat",
        create("alice's"),
    )
    .await;
    assert_eq!(original["success"], true, "{original}");
    let alice_chat = original["result"].clone();

    // Bob replays Alice's (sessionId, requestId): his own mutation runs, as Bob.
    let bob_try = mutation_over(
        &server,
        session,
        Some(&bob),
        json!(5),
        "chats:createUserChat",
        create("bob's"),
    )
    .await;
    assert_eq!(bob_try["success"], true, "{bob_try}");
    assert_ne!(
        bob_try["result"], alice_chat,
        "Bob must not get Alice's answer"
    );
    assert_eq!(
        chat_titles(&server, &bob).await,
        vec!["bob's"],
        "Bob's mutation was applied"
    );

    // Signed out: a fresh run, which needs a signed-in user.
    let anonymous = mutation_over(
        &server,
        session,
        None,
        json!(5),
        "chats:createUserChat",
        create("anon"),
    )
    .await;
    assert_eq!(anonymous["success"], false, "{anonymous}");
    assert_eq!(
        anonymous["errorData"]["code"], "UNAUTHENTICATED",
        "{anonymous}"
    );

    // Same identity, another function under the same ids: its own answer.
    let other_path = mutation_over(
        &server,
        session,
        Some(&alice),
        json!(5),
        "users:store",
        json!({}),
    )
    .await;
    assert_eq!(other_path["success"], true, "{other_path}");
    assert_ne!(other_path["result"], alice_chat);

    // Alice reconnecting with a refreshed token (same subject and issuer) gets her answer,
    // and her chat exists once.
    let refreshed = server.token(&alice_id, Some("convex")).await;
    assert_ne!(refreshed, alice);
    let replayed = mutation_over(
        &server,
        session,
        Some(&refreshed),
        json!(5),
        "chats:createUserChat",
        create("alice's"),
    )
    .await;
    assert_eq!(replayed["result"], alice_chat, "{replayed}");
    assert_eq!(chat_titles(&server, &alice).await, vec!["alice's"]);
}
engine_tests!(a_replay_is_answered_only_to_the_same_identity_and_function);

async fn a_victims_request_id_used_first_by_someone_else_still_runs_for_the_victim(engine: Engine) {
    let server = TestServer::dev_on(engine).await;
    let (_, alice) = server.user("alice-first@example.com").await;
    let (_, mallory) = server.user("mallory-first@example.com").await;
    let session = "victim-session-taken-early";
    let planted = mutation_over(
        &server,
        session,
        Some(&mallory),
        json!(0),
        "chats:createUserChat",
        json!({"title": "planted"}),
    )
    .await;
    assert_eq!(planted["success"], true, "{planted}");
    let alice_run = mutation_over(
        &server,
        session,
        Some(&alice),
        json!(0),
        "chats:createUserChat",
        json!({"title": "real"}),
    )
    .await;
    assert_eq!(alice_run["success"], true, "{alice_run}");
    assert_ne!(alice_run["result"], planted["result"]);
    assert_eq!(chat_titles(&server, &alice).await, vec!["real"]);
}
engine_tests!(a_victims_request_id_used_first_by_someone_else_still_runs_for_the_victim);

async fn request_ids_are_exact_integers(engine: Engine) {
    let server = TestServer::dev_on(engine).await;
    let (_, token) = server.user("big-ids@example.com").await;
    let session = "big-request-ids";
    let mut results = Vec::new();
    for (request_id, title) in [
        (9_007_199_254_740_992u64, "2^53"),
        (9_007_199_254_740_993u64, "2^53+1"),
        (u64::MAX, "max"),
    ] {
        let response = mutation_over(
            &server,
            session,
            Some(&token),
            json!(request_id),
            "chats:createUserChat",
            json!({"title": title}),
        )
        .await;
        assert_eq!(response["success"], true, "{response}");
        assert_eq!(response["requestId"], json!(request_id), "echoed exactly");
        results.push(response["result"].clone());
    }
    assert_ne!(
        results[0], results[1],
        "2^53 and 2^53+1 are different requests"
    );
    let mut titles = chat_titles(&server, &token).await;
    titles.sort();
    assert_eq!(titles, vec!["2^53", "2^53+1", "max"]);
    // And each is still replayed exactly.
    let again = mutation_over(
        &server,
        session,
        Some(&token),
        json!(9_007_199_254_740_993u64),
        "chats:createUserChat",
        json!({"title": "2^53+1"}),
    )
    .await;
    assert_eq!(again["result"], results[1]);
}
engine_tests!(request_ids_are_exact_integers);
