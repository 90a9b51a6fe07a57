//! Creating, updating and deleting users, and how Clerk's refusals come back.

use keel_clerk_api::{ClerkApiError, NewUser, UserChanges};

use crate::fake::{self, Behaviour, Data, Fake};
use crate::{client, quick_retries};

fn new_user(email: &str) -> NewUser {
    NewUser {
        email_addresses: vec![email.into()],
        first_name: Some("Ada".into()),
        last_name: None,
        skip_password_requirement: true,
    }
}

#[tokio::test]
async fn a_user_is_created_updated_and_deleted() {
    let fake = Fake::start(Data {
        users: fake::users(1),
        ..Data::default()
    })
    .await;
    let api = client(&fake);
    let created = api.create_user(&new_user("Ada@Example.com")).await.unwrap();
    assert_eq!(created.first_name.as_deref(), Some("Ada"));
    assert_eq!(
        created.primary_email().unwrap().email_address,
        "ada@example.com"
    );
    let seen = fake.seen();
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].path, "/v1/users");

    let changes = UserChanges {
        last_name: Some("Lovelace".into()),
        ..UserChanges::default()
    };
    let updated = api.update_user(&created.id, &changes).await.unwrap();
    assert_eq!(updated.last_name.as_deref(), Some("Lovelace"));
    assert_eq!(updated.first_name.as_deref(), Some("Ada"), "left alone");
    assert_eq!(fake.user(&created.id).unwrap()["last_name"], "Lovelace");

    api.delete_user(&created.id).await.unwrap();
    assert!(fake.user(&created.id).is_none());
    assert_eq!(
        api.delete_user(&created.id).await.unwrap_err(),
        ClerkApiError::NotFound
    );
    assert_eq!(
        api.update_user("user_missing", &changes).await.unwrap_err(),
        ClerkApiError::NotFound
    );
}

#[tokio::test]
async fn a_taken_email_is_clerks_422_with_its_code_and_message() {
    let fake = Fake::start(Data {
        users: fake::users(1),
        ..Data::default()
    })
    .await;
    let error = client(&fake)
        .create_user(&new_user("user0@example.com"))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        ClerkApiError::Http {
            status: 422,
            code: Some("form_identifier_exists".into()),
            message: "That email address is taken. Please try another.".into(),
        }
    );
}

#[tokio::test]
async fn a_create_that_failed_upstream_is_not_sent_again() {
    let fake = Fake::start_with(
        Data::default(),
        Behaviour {
            server_errors: 1,
            ..Behaviour::default()
        },
    )
    .await;
    let api = client(&fake).with_retry_policy(quick_retries());
    let error = api
        .create_user(&new_user("a@example.com"))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ClerkApiError::Http { status: 500, .. }),
        "{error:?}"
    );
    assert_eq!(fake.seen().len(), 1, "Clerk may have created it: no retry");
    // An update is safe to repeat, and is.
    let fake = Fake::start_with(
        Data {
            users: fake::users(1),
            ..Data::default()
        },
        Behaviour {
            server_errors: 1,
            ..Behaviour::default()
        },
    )
    .await;
    let api = client(&fake).with_retry_policy(quick_retries());
    api.update_user("user_00000", &UserChanges::default())
        .await
        .unwrap();
    assert_eq!(fake.seen().len(), 2);
}
