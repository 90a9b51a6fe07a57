use keel_clerk_api::ClerkApiError;

use crate::client;
use crate::fake::{self, Data, Fake};

#[tokio::test]
async fn all_users_pages_1234_users_in_three_pages_oldest_first() {
    let fake = Fake::start(Data {
        users: fake::users(1234),
        ..Data::default()
    })
    .await;
    let mut progress = Vec::new();
    let users = client(&fake)
        .all_users(500, |so_far| progress.push(so_far))
        .await
        .unwrap();

    assert_eq!(users.len(), 1234);
    let ids: Vec<&str> = users.iter().map(|user| user.id.as_str()).collect();
    let expected: Vec<String> = (0..1234).map(|i| format!("user_{i:05}")).collect();
    assert_eq!(ids, expected);
    assert!(users.windows(2).all(|w| w[0].created_at < w[1].created_at));
    assert_eq!(progress, [500, 1000, 1234]);

    let seen = fake.seen();
    let queries: Vec<(&str, &str, &str)> = seen
        .iter()
        .map(|s| (s.method.as_str(), s.path.as_str(), s.query.as_str()))
        .collect();
    assert_eq!(
        queries,
        [
            (
                "GET",
                "/v1/users",
                "limit=500&offset=0&order_by=%2Bcreated_at"
            ),
            (
                "GET",
                "/v1/users",
                "limit=500&offset=500&order_by=%2Bcreated_at"
            ),
            (
                "GET",
                "/v1/users",
                "limit=500&offset=1000&order_by=%2Bcreated_at"
            ),
        ]
    );
    for s in &seen {
        assert_eq!(
            s.authorization.as_deref(),
            Some("Bearer sk_test_fake_0123456789abcdef")
        );
    }

    // The decoded users carry what Keel stores.
    let first = &users[0];
    assert_eq!(
        first.primary_email().unwrap().email_address,
        "user0@example.com"
    );
    assert_eq!(first.email_verified(), Some(true));
    assert_eq!(first.role(), Some("admin"));
    assert_eq!(users[1].role(), None);
}

#[tokio::test]
async fn a_full_last_page_takes_one_more_empty_page() {
    let fake = Fake::start(Data {
        users: fake::users(6),
        ..Data::default()
    })
    .await;
    let users = client(&fake).all_users(3, |_| {}).await.unwrap();
    assert_eq!(users.len(), 6);
    let offsets: Vec<String> = fake.seen().into_iter().map(|s| s.query).collect();
    assert_eq!(
        offsets,
        [
            "limit=3&offset=0&order_by=%2Bcreated_at",
            "limit=3&offset=3&order_by=%2Bcreated_at",
            "limit=3&offset=6&order_by=%2Bcreated_at",
        ]
    );
}

#[tokio::test]
async fn no_users_is_one_empty_page() {
    let fake = Fake::start(Data::default()).await;
    let mut progress = Vec::new();
    let users = client(&fake)
        .all_users(500, |n| progress.push(n))
        .await
        .unwrap();
    assert!(users.is_empty());
    assert_eq!(progress, [0]);
    assert_eq!(fake.seen().len(), 1);
}

#[tokio::test]
async fn list_users_page_is_one_window() {
    let fake = Fake::start(Data {
        users: fake::users(50),
        ..Data::default()
    })
    .await;
    let page = client(&fake).list_users_page(5, 10).await.unwrap();
    let ids: Vec<&str> = page.iter().map(|user| user.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "user_00010",
            "user_00011",
            "user_00012",
            "user_00013",
            "user_00014"
        ]
    );
    let past_the_end = client(&fake).list_users_page(5, 50).await.unwrap();
    assert!(past_the_end.is_empty());
}

#[tokio::test]
async fn count_users_reads_total_count() {
    let fake = Fake::start(Data {
        users: fake::users(1234),
        ..Data::default()
    })
    .await;
    assert_eq!(client(&fake).count_users().await.unwrap(), 1234);
    let seen = fake.seen();
    assert_eq!(seen[0].path, "/v1/users/count");
    assert_eq!(seen[0].query, "");
}

#[tokio::test]
async fn a_refused_limit_is_an_http_error_with_clerks_long_message() {
    let fake = Fake::start(Data::default()).await;
    let error = client(&fake).list_users_page(501, 0).await.unwrap_err();
    assert_eq!(
        error,
        ClerkApiError::Http {
            status: 422,
            code: Some("form_param_value_invalid".into()),
            message: "limit must be between 1 and 500.".into()
        }
    );
    assert_eq!(
        error.to_string(),
        "Clerk answered 422: limit must be between 1 and 500."
    );
    // A 4xx is final: not retried.
    assert_eq!(fake.seen().len(), 1);
}

#[tokio::test]
async fn a_malformed_user_is_a_decode_error_naming_the_field() {
    let mut users = fake::users(3);
    // `users[0]` is the newest, so the third oldest first.
    users[0]["email_addresses"] = serde_json::json!("nobody@example.com");
    let fake = Fake::start(Data {
        users,
        ..Data::default()
    })
    .await;
    let error = client(&fake).all_users(500, |_| {}).await.unwrap_err();
    let ClerkApiError::Decode(message) = &error else {
        panic!("{error:?}");
    };
    assert!(message.starts_with("GET /v1/users: "), "{message}");
    assert!(message.contains("[2].email_addresses"), "{message}");
}

#[tokio::test]
async fn get_user_reads_one_user_and_an_unknown_one_is_not_found() {
    let fake = Fake::start(Data {
        users: fake::users(3),
        ..Data::default()
    })
    .await;
    let user = client(&fake).get_user("user_00001").await.unwrap();
    assert_eq!(user.id, "user_00001");
    let missing = client(&fake).get_user("user_gone").await.unwrap_err();
    assert_eq!(missing, ClerkApiError::NotFound);
    let paths: Vec<String> = fake.seen().into_iter().map(|s| s.path).collect();
    assert_eq!(paths, ["/v1/users/user_00001", "/v1/users/user_gone"]);
}
