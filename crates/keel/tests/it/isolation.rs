//! One user never reads or changes another's chats; internal functions are not callable.

use keel::AppParts;
use keel::functions::{MutationCtx, NoArgs, Registry};
use keel::store::Schema;
use serde_json::{Value as Json, json};

use crate::harness::{Engine, TestServer, engine_tests};

async fn the_product_brief_flow_works_for_a_signed_in_user(engine: Engine) {
    // No webhooks: this is the first-login path alone.
    let server = TestServer::dev_on_with(
        engine,
        |s| s.emulator.webhook_url = Some("http://127.0.0.1:9/nowhere".into()),
        AppParts::builtin(),
    )
    .await;
    let (alice, token) = server.user("Alice@Example.com").await;
    assert_eq!(
        server
            .ok("query", "users:getCurrentUser", json!({}), Some(&token))
            .await,
        json!(null)
    );
    let id = server
        .ok("mutation", "users:store", json!({}), Some(&token))
        .await;
    let again = server
        .ok("mutation", "users:syncUserProfile", json!({}), Some(&token))
        .await;
    assert_eq!(id, again, "store is idempotent: one record per user");
    let me = server
        .ok("query", "users:getCurrentUser", json!({}), Some(&token))
        .await;
    assert_eq!(me["_id"], id);
    assert_eq!(me["clerkUserId"], alice.as_str());
    assert_eq!(me["email"], "alice@example.com", "stored lower-case");
    assert_eq!(me["source"], "first-login");
    assert_eq!(me["firstName"], "Test");

    for title in ["first", "second", "third"] {
        server
            .ok(
                "mutation",
                "chats:createUserChat",
                json!({"title": title}),
                Some(&token),
            )
            .await;
    }
    let chats = server
        .ok("query", "chats:listUserChats", json!({}), Some(&token))
        .await;
    let titles: Vec<&str> = chats
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, vec!["third", "second", "first"], "newest first");

    let page = server
        .ok(
            "query",
            "chats:listUserChats",
            json!({"paginationOpts": {"numItems": 2, "cursor": null}}),
            Some(&token),
        )
        .await;
    assert_eq!(page["page"].as_array().unwrap().len(), 2);
    assert_eq!(page["isDone"], false);
    let rest = server
        .ok(
            "query",
            "chats:listUserChats",
            json!({"paginationOpts": {"numItems": 2, "cursor": page["continueCursor"]}}),
            Some(&token),
        )
        .await;
    assert_eq!(rest["page"][0]["title"], "first");
    assert_eq!(rest["isDone"], true);

    // `pageUserChats`: the same pages, and `paginationOpts` required (its typed signature).
    let same = server
        .ok(
            "query",
            "chats:pageUserChats",
            json!({"paginationOpts": {"numItems": 2, "cursor": null}}),
            Some(&token),
        )
        .await;
    assert_eq!(same, page);
    let (_, body) = server
        .call("query", "chats:pageUserChats", json!({}), Some(&token))
        .await;
    assert_eq!(body["errorData"]["code"], "INVALID_ARGUMENT", "{body}");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("paginationOpts"),
        "{body}"
    );
}
engine_tests!(the_product_brief_flow_works_for_a_signed_in_user);

async fn another_users_chat_behaves_exactly_like_a_missing_one(engine: Engine) {
    let server = TestServer::dev_on(engine).await;
    let (_, alice) = server.user("alice@example.com").await;
    let (_, bob) = server.user("bob@example.com").await;
    let chat = server
        .ok(
            "mutation",
            "chats:createUserChat",
            json!({"title": "private"}),
            Some(&alice),
        )
        .await;
    let chat = chat.as_str().unwrap();

    let bobs = server
        .ok("query", "chats:listUserChats", json!({}), Some(&bob))
        .await;
    assert_eq!(bobs, json!([]), "bob sees none of alice's chats");

    // A chat that never existed, for comparison.
    server
        .ok(
            "mutation",
            "chats:remove",
            json!({"id": chat}),
            Some(&alice),
        )
        .await;
    let gone = server
        .ok(
            "mutation",
            "chats:createUserChat",
            json!({"title": "again"}),
            Some(&alice),
        )
        .await;
    let gone_id = gone.as_str().unwrap();
    let missing = {
        let (_, body) = server
            .call("query", "chats:get", json!({"id": chat}), Some(&alice))
            .await;
        body
    };
    assert_eq!(missing["errorData"]["code"], "NOT_FOUND");
    assert_eq!(
        missing["errorMessage"],
        format!("Chat with ID {chat} not found")
    );

    for (kind, path, args) in [
        ("query", "chats:get", json!({"id": gone_id})),
        (
            "mutation",
            "chats:update",
            json!({"id": gone_id, "title": "hijacked"}),
        ),
        ("mutation", "chats:remove", json!({"id": gone_id})),
    ] {
        let (_, body) = server.call(kind, path, args, Some(&bob)).await;
        assert_eq!(body["status"], "error", "{path}");
        assert_eq!(body["errorData"]["code"], "NOT_FOUND", "{path}: {body}");
        assert_eq!(
            body["errorMessage"],
            format!("Chat with ID {gone_id} not found"),
            "{path}"
        );
    }
    let still = server
        .ok("query", "chats:get", json!({"id": gone_id}), Some(&alice))
        .await;
    assert_eq!(still["title"], "again", "bob changed nothing");

    for id in ["garbage", "", "0000000000000000000000000000000"] {
        assert_eq!(
            server
                .error_code("query", "chats:get", json!({"id": id}), Some(&alice))
                .await,
            "NOT_FOUND"
        );
    }
}
engine_tests!(another_users_chat_behaves_exactly_like_a_missing_one);

async fn signed_out_callers_and_bad_arguments_get_coded_errors(engine: Engine) {
    let server = TestServer::dev_on(engine).await;
    let (alice_id, alice) = server.user("alice@example.com").await;
    let (_, bob) = server.user("bob@example.com").await;
    for (kind, path, args) in [
        ("query", "chats:listUserChats", json!({})),
        ("mutation", "chats:createUserChat", json!({"title": "x"})),
        ("mutation", "users:store", json!({})),
        ("query", "users:getMyProfile", json!({})),
    ] {
        assert_eq!(
            server.error_code(kind, path, args, None).await,
            "UNAUTHENTICATED",
            "{path}"
        );
    }
    let (_, body) = server
        .call(
            "mutation",
            "chats:createUserChat",
            json!({"title": "   "}),
            Some(&alice),
        )
        .await;
    assert_eq!(body["errorData"]["code"], "INVALID_ARGUMENT");
    assert!(body["errorMessage"].as_str().unwrap().contains("title"));
    let long = "x".repeat(201);
    assert_eq!(
        server
            .error_code(
                "mutation",
                "chats:createUserChat",
                json!({"title": long}),
                Some(&alice)
            )
            .await,
        "INVALID_ARGUMENT"
    );
    let (_, body) = server
        .call(
            "mutation",
            "chats:createUserChat",
            json!({"title": 5}),
            Some(&alice),
        )
        .await;
    assert!(
        body["errorData"]["message"]
            .as_str()
            .unwrap()
            .contains("`title`"),
        "{body}"
    );
    let (_, body) = server
        .call(
            "mutation",
            "users:store",
            json!({"email": "spoof@evil.com"}),
            Some(&alice),
        )
        .await;
    assert_eq!(
        body["errorData"]["code"], "INVALID_ARGUMENT",
        "client-supplied identity is refused: {body}"
    );

    server
        .ok("mutation", "users:store", json!({}), Some(&alice))
        .await;
    assert_eq!(
        server
            .error_code(
                "query",
                "users:getByClerkId",
                json!({"clerkUserId": alice_id}),
                Some(&bob)
            )
            .await,
        "FORBIDDEN"
    );
    assert_eq!(
        server
            .error_code(
                "query",
                "users:getByEmail",
                json!({"email": "alice@example.com"}),
                Some(&bob)
            )
            .await,
        "FORBIDDEN"
    );
    let own = server
        .ok(
            "query",
            "users:getByEmail",
            json!({"email": "ALICE@example.com"}),
            Some(&alice),
        )
        .await;
    assert_eq!(own["clerkUserId"], alice_id.as_str());
}
engine_tests!(signed_out_callers_and_bad_arguments_get_coded_errors);

async fn admins_read_any_user_record(engine: Engine) {
    let server = TestServer::dev_on(engine).await;
    let (alice_id, alice) = server.user("alice@example.com").await;
    server
        .ok("mutation", "users:store", json!({}), Some(&alice))
        .await;
    let admin = server
        .emulator()
        .create_user(keel_clerk_emulator::CreateUser {
            email_address: vec!["root@example.com".into()],
            public_metadata: Some(json!({"role": "admin"}).as_object().unwrap().clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    let admin_token = server
        .token(admin["id"].as_str().unwrap(), Some("convex"))
        .await;
    let record = server
        .ok(
            "query",
            "users:getByClerkId",
            json!({"clerkUserId": alice_id}),
            Some(&admin_token),
        )
        .await;
    assert_eq!(record["email"], "alice@example.com");
    let by_email = server
        .ok(
            "query",
            "users:getByEmail",
            json!({"email": "alice@example.com"}),
            Some(&admin_token),
        )
        .await;
    assert_eq!(by_email["clerkUserId"], alice_id.as_str());

    let (_, plain) = server.user("plain@example.com").await;
    assert_eq!(
        server
            .error_code(
                "query",
                "users:getByClerkId",
                json!({"clerkUserId": alice_id}),
                Some(&plain)
            )
            .await,
        "FORBIDDEN",
        "a user without the role is refused"
    );
}
engine_tests!(admins_read_any_user_record);

async fn keel_admin_user_ids_grant_the_admin_role(engine: Engine) {
    let server = TestServer::dev_on_with(
        engine,
        |s| s.auth.admin_user_ids = vec!["user_root".into()],
        AppParts::builtin(),
    )
    .await;
    let (alice_id, alice) = server.user("alice@example.com").await;
    server
        .ok("mutation", "users:store", json!({}), Some(&alice))
        .await;
    let root = server.forged_token("user_root");
    let record = server
        .ok(
            "query",
            "users:getByClerkId",
            json!({"clerkUserId": alice_id}),
            Some(&root),
        )
        .await;
    assert_eq!(record["email"], "alice@example.com");
    let other = server.forged_token("user_other");
    assert_eq!(
        server
            .error_code(
                "query",
                "users:getByClerkId",
                json!({"clerkUserId": alice_id}),
                Some(&other)
            )
            .await,
        "FORBIDDEN"
    );
}
engine_tests!(keel_admin_user_ids_grant_the_admin_role);

async fn internal_functions_are_not_callable_by_clients(engine: Engine) {
    let mut functions = Registry::new();
    functions.internal_mutation("secret:wipe", |_: MutationCtx, _: NoArgs| async move {
        Ok("wiped")
    });
    let server = TestServer::dev_on_with(
        engine,
        |_| {},
        AppParts::builtin().with(Schema::new(), functions),
    )
    .await;
    let (_, token) = server.user("alice@example.com").await;
    for token in [None, Some(token.as_str())] {
        let (_, body) = server
            .call("mutation", "secret:wipe", json!({}), token)
            .await;
        assert_eq!(body["status"], "error");
        assert!(
            body["errorMessage"]
                .as_str()
                .unwrap()
                .contains("secret:wipe"),
            "{body}"
        );
        assert!(
            body.get("errorData").is_none(),
            "same answer as an unknown function"
        );
        let unknown = server
            .call("mutation", "secret:nothing", json!({}), token)
            .await
            .1;
        assert_eq!(
            body["errorMessage"]
                .as_str()
                .unwrap()
                .replace("secret:wipe", "X"),
            unknown["errorMessage"]
                .as_str()
                .unwrap()
                .replace("secret:nothing", "X"),
            "an internal function is indistinguishable from a missing one"
        );
    }
}
engine_tests!(internal_functions_are_not_callable_by_clients);

async fn concurrent_mutations_group_commit_without_mixing_failures(engine: Engine) {
    let server = TestServer::dev_on(engine).await;
    let (_, token) = server.user("burst@example.com").await;
    let calls = (0..60).map(|i| {
        let title = if i % 3 == 0 {
            String::new()
        } else {
            format!("chat {i}")
        };
        let (server, token) = (&server, token.clone());
        async move {
            server
                .call(
                    "mutation",
                    "chats:createUserChat",
                    json!({"title": title}),
                    Some(&token),
                )
                .await
        }
    });
    let results = futures::future::join_all(calls).await;
    let failed = results
        .iter()
        .filter(|(_, body)| body["status"] == "error")
        .count();
    assert_eq!(failed, 20, "each invalid title fails alone");
    for (_, body) in results.iter().filter(|(_, body)| body["status"] == "error") {
        assert_eq!(body["errorData"]["code"], "INVALID_ARGUMENT");
    }
    let chats = server
        .ok("query", "chats:listUserChats", json!({}), Some(&token))
        .await;
    assert_eq!(
        chats.as_array().unwrap().len(),
        40,
        "every valid chat committed, none lost"
    );
}
engine_tests!(
    concurrent_mutations_group_commit_without_mixing_failures,
    flavor = "multi_thread",
    worker_threads = 2
);

/// The brief's `UserChatList` calls `syncProfile({ email, firstName, lastName, imageUrl })`
/// with values from Clerk's `useUser()`. The call works, but identity stays the verified
/// token's: a client never sets an email (or an image URL), and its names only fill what the
/// token left empty.
async fn sync_user_profile_takes_the_briefs_arguments_but_never_a_claimed_identity(engine: Engine) {
    let server = TestServer::dev_on_with(
        engine,
        |s| s.emulator.webhook_url = Some("http://127.0.0.1:9/nowhere".into()),
        AppParts::builtin(),
    )
    .await;
    let me = |token: String| {
        let server = &server;
        async move {
            server
                .ok("query", "users:getCurrentUser", json!({}), Some(&token))
                .await
        }
    };
    let spoof = json!({
        "email": "victim@example.com", "firstName": "Mallory", "lastName": "Evil",
        "imageUrl": "https://evil.example/pixel.png",
    });

    // A token carrying the profile (Clerk's `convex` template): the client's values change nothing.
    let (alice_id, alice) = server.user("alice@example.com").await;
    let id = server
        .ok(
            "mutation",
            "users:syncUserProfile",
            spoof.clone(),
            Some(&alice),
        )
        .await;
    let record = me(alice.clone()).await;
    assert_eq!(record["_id"], id);
    assert_eq!(record["clerkUserId"], alice_id.as_str());
    assert_eq!(record["email"], "alice@example.com");
    assert_eq!(record["firstName"], "Test");
    assert_eq!(record["lastName"], "alice");
    assert_ne!(record["imageUrl"], "https://evil.example/pixel.png");
    assert_eq!(
        server
            .error_code(
                "query",
                "users:getByEmail",
                json!({"email": "victim@example.com"}),
                Some(&alice)
            )
            .await,
        "FORBIDDEN",
        "the claimed address is not Alice's"
    );

    // A token without profile claims (a plain session token): names fill the gaps, the email
    // and the image URL still do not.
    let bare = server.forged_token("user_bare");
    server
        .ok(
            "mutation",
            "users:syncUserProfile",
            spoof.clone(),
            Some(&bare),
        )
        .await;
    let record = me(bare.clone()).await;
    assert_eq!(record["email"], Json::Null, "{record}");
    assert_eq!(record["imageUrl"], Json::Null, "{record}");
    assert_eq!(record["firstName"], "Mallory");
    assert_eq!(record["lastName"], "Evil");
    // A claim the token does carry wins from then on, and the client cannot take it back.
    let named = server.forged_token_with("user_bare", json!({"given_name": "Grace"}));
    server
        .ok(
            "mutation",
            "users:syncUserProfile",
            spoof.clone(),
            Some(&named),
        )
        .await;
    let record = me(named.clone()).await;
    assert_eq!(record["firstName"], "Grace");
    assert_eq!(record["lastName"], "Evil");

    // Every field may be null or absent, as `useUser()` gives them.
    for args in [
        json!({}),
        json!({"email": null, "firstName": null, "lastName": null, "imageUrl": null}),
    ] {
        server
            .ok("mutation", "users:syncUserProfile", args, Some(&named))
            .await;
    }
    // Anything else is still refused, by name.
    for (args, field) in [
        (json!({"role": "admin"}), "role"),
        (json!({"firstName": 5}), "firstName"),
        (json!({"lastName": "x".repeat(300)}), "lastName"),
    ] {
        let (_, body) = server
            .call("mutation", "users:syncUserProfile", args, Some(&named))
            .await;
        assert_eq!(body["errorData"]["code"], "INVALID_ARGUMENT", "{body}");
        assert!(
            body["errorData"]["message"]
                .as_str()
                .unwrap()
                .contains(field),
            "{body}"
        );
    }
    assert_eq!(
        server
            .error_code("mutation", "users:syncUserProfile", spoof, None)
            .await,
        "UNAUTHENTICATED"
    );
}
engine_tests!(sync_user_profile_takes_the_briefs_arguments_but_never_a_claimed_identity);
