//! Rate limits, retries, timeouts, refusals, and the secret key staying secret.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::http::StatusCode;
use keel_clerk_api::{ClerkApi, ClerkApiError, RetryPolicy};

use crate::fake::{self, Behaviour, Data, Fake};
use crate::{client, quick_retries};

fn some_users() -> Data {
    Data {
        users: fake::users(12),
        ..Data::default()
    }
}

/// Neither the error's `Display` nor its `Debug` shows `key`.
fn assert_no_key(error: &ClerkApiError, key: &str) {
    let shown = format!("{error} / {error:?}");
    assert!(!shown.contains(key), "the key leaked: {shown}");
}

#[tokio::test]
async fn a_429_is_waited_out_for_retry_after_seconds() {
    let fake = Fake::start_with(
        some_users(),
        Behaviour {
            rate_limit_first_call: Some("1".into()),
            ..Behaviour::default()
        },
    )
    .await;
    let started = Instant::now();
    let users = client(&fake).list_users_page(10, 0).await.unwrap();
    let waited = started.elapsed();
    assert_eq!(users.len(), 10);
    assert!(waited >= Duration::from_secs(1), "waited only {waited:?}");
    assert!(waited < Duration::from_secs(5), "waited {waited:?}");
    // The same request, twice.
    let seen = fake.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].query, seen[1].query);
}

#[tokio::test]
async fn a_429_on_every_page_is_waited_out_each_time() {
    let fake = Fake::start_with(
        fake::organizations(5, 0),
        Behaviour {
            rate_limit_first_call: Some("1".into()),
            ..Behaviour::default()
        },
    )
    .await;
    let started = Instant::now();
    let orgs = client(&fake).all_organizations(3).await.unwrap();
    assert_eq!(orgs.len(), 5);
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert_eq!(fake.seen().len(), 4);
}

#[tokio::test]
async fn a_retry_after_http_date_is_honoured() {
    let when = httpdate_in(Duration::from_secs(2));
    let fake = Fake::start_with(
        some_users(),
        Behaviour {
            rate_limit_first_call: Some(when),
            ..Behaviour::default()
        },
    )
    .await;
    let started = Instant::now();
    let users = client(&fake).list_users_page(3, 0).await.unwrap();
    assert_eq!(users.len(), 3);
    // The date has whole seconds, so two seconds ahead is more than one.
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

/// An IMF-fixdate `ahead` of now (the header form, RFC 9110).
fn httpdate_in(ahead: Duration) -> String {
    let secs = (SystemTime::now() + ahead)
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][days.rem_euclid(7) as usize];
    let month_name = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(month - 1) as usize];
    format!(
        "{weekday}, {day:02} {month_name} {year} {:02}:{:02}:{:02} GMT",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[tokio::test]
async fn endless_429s_end_in_rate_limited_too_long() {
    let fake = Fake::start_with(
        some_users(),
        Behaviour {
            always_rate_limit: Some("1".into()),
            ..Behaviour::default()
        },
    )
    .await;
    let api = client(&fake).with_retry_policy(RetryPolicy {
        max_rate_limit_wait: Duration::from_millis(2500),
        ..RetryPolicy::default()
    });
    let started = Instant::now();
    let error = api.list_users_page(10, 0).await.unwrap_err();
    assert_eq!(error, ClerkApiError::RateLimitedTooLong);
    // Waited 1 s twice; a third wait would pass 2.5 s, so it gave up
    // without sending a fourth request.
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_secs(2), "{elapsed:?}");
    assert_eq!(fake.seen().len(), 3);
}

#[tokio::test]
async fn each_429_wait_is_capped() {
    let fake = Fake::start_with(
        some_users(),
        Behaviour {
            rate_limit_first_call: Some("3600".into()),
            ..Behaviour::default()
        },
    )
    .await;
    let api = client(&fake).with_retry_policy(RetryPolicy {
        max_retry_after: Duration::from_millis(200),
        ..RetryPolicy::default()
    });
    let started = Instant::now();
    assert_eq!(api.list_users_page(2, 0).await.unwrap().len(), 2);
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn two_500s_then_success_is_retried_with_backoff() {
    let fake = Fake::start_with(
        some_users(),
        Behaviour {
            server_errors: 2,
            ..Behaviour::default()
        },
    )
    .await;
    let started = Instant::now();
    // The default policy: 0.5 s, then 1 s.
    let users = client(&fake).list_users_page(10, 0).await.unwrap();
    assert_eq!(users.len(), 10);
    assert!(started.elapsed() >= Duration::from_millis(1500));
    assert_eq!(fake.seen().len(), 3);
}

#[tokio::test]
async fn persistent_500s_give_up_with_clerks_message() {
    let fake = Fake::start_with(
        some_users(),
        Behaviour {
            server_errors: u32::MAX,
            ..Behaviour::default()
        },
    )
    .await;
    let api = client(&fake).with_retry_policy(RetryPolicy {
        max_transient_retries: 3,
        ..quick_retries()
    });
    let error = api.count_users().await.unwrap_err();
    let ClerkApiError::Http {
        status, message, ..
    } = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!(*status, 500);
    assert!(
        message.starts_with("There was an internal error"),
        "{message}"
    );
    assert_eq!(fake.seen().len(), 4);
}

#[tokio::test]
async fn a_wrong_key_is_unauthorized_and_never_shown() {
    let fake = Fake::start(some_users()).await;
    let wrong = "sk_test_WRONG_do_not_print_me_42";
    let api = ClerkApi::new(fake.url.clone(), wrong);
    let error = api.list_users_page(10, 0).await.unwrap_err();
    assert_eq!(error, ClerkApiError::Unauthorized);
    assert_no_key(&error, wrong);
    assert!(error.to_string().contains("CLERK_SECRET_KEY"), "{error}");
    assert!(!format!("{api:?}").contains(wrong));
    // It did send the key, once: a refusal is not retried.
    let seen = fake.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].authorization.as_deref(),
        Some(&*format!("Bearer {wrong}"))
    );

    for call in [
        api.count_users().await.unwrap_err(),
        api.all_organizations(10).await.unwrap_err(),
        api.update_organization("org_1", "x").await.unwrap_err(),
    ] {
        assert_eq!(call, ClerkApiError::Unauthorized);
    }
}

#[tokio::test]
async fn a_403_is_unauthorized_too() {
    let fake = Fake::start(some_users()).await;
    let api = ClerkApi::new(fake.url.clone(), fake::FORBIDDEN_KEY);
    let error = api.all_users(100, |_| {}).await.unwrap_err();
    assert_eq!(error, ClerkApiError::Unauthorized);
    assert_no_key(&error, fake::FORBIDDEN_KEY);
}

#[tokio::test]
async fn a_key_echoed_by_the_server_is_redacted() {
    let fake = Fake::start_with(
        some_users(),
        Behaviour {
            echo_authorization: Some(StatusCode::BAD_REQUEST),
            ..Behaviour::default()
        },
    )
    .await;
    let error = client(&fake).list_users_page(10, 0).await.unwrap_err();
    assert_no_key(&error, fake::KEY);
    assert_eq!(
        error,
        ClerkApiError::Http {
            status: 400,
            code: Some("bad_request".into()),
            message: "unexpected header Authorization: Bearer [redacted]".into()
        }
    );
}

#[tokio::test]
async fn a_slow_answer_times_out_and_is_retried() {
    let fake = Fake::start_with(
        some_users(),
        Behaviour {
            delay: Some(Duration::from_secs(5)),
            ..Behaviour::default()
        },
    )
    .await;
    let api = client(&fake)
        .with_timeout(Duration::from_millis(200))
        .with_retry_policy(RetryPolicy {
            max_transient_retries: 1,
            ..quick_retries()
        });
    let started = Instant::now();
    let error = api.list_users_page(10, 0).await.unwrap_err();
    let ClerkApiError::Network(message) = &error else {
        panic!("{error:?}");
    };
    assert!(message.contains("timed out after 200ms"), "{message}");
    assert_no_key(&error, fake::KEY);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(fake.seen().len(), 2);
}

#[tokio::test]
async fn nobody_listening_is_a_network_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/_clerk", listener.local_addr().unwrap());
    drop(listener);
    let api = ClerkApi::new(url, fake::KEY).with_retry_policy(quick_retries());
    let error = api.count_users().await.unwrap_err();
    let ClerkApiError::Network(message) = &error else {
        panic!("{error:?}");
    };
    assert!(message.contains("/_clerk/v1/users/count"), "{message}");
    assert_no_key(&error, fake::KEY);
}

#[tokio::test]
async fn a_base_url_with_a_path_and_trailing_slash_works() {
    let fake = Fake::start(some_users()).await;
    // The fake serves /v1 at its root; an emulator-style prefix would 404.
    let api = ClerkApi::new(format!("{}/", fake.url), fake::KEY);
    assert_eq!(api.base_url(), fake.url);
    assert_eq!(api.count_users().await.unwrap(), 12);
    let prefixed = ClerkApi::new(format!("{}/_clerk", fake.url), fake::KEY);
    assert_eq!(
        prefixed.count_users().await.unwrap_err(),
        ClerkApiError::NotFound
    );
    assert_eq!(fake.seen()[1].path, "/_clerk/v1/users/count");
}

/// Everything this crate (and the fake) logs, at every level.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_never_show_the_key() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // The test runtime is single-threaded, so this covers the fake too.
    let _guard = tracing::subscriber::set_default(subscriber);

    // Retried 5xx and refused keys are logged with the server's message,
    // and these messages repeat the key.
    for status in [StatusCode::INTERNAL_SERVER_ERROR, StatusCode::FORBIDDEN] {
        let fake = Fake::start_with(
            some_users(),
            Behaviour {
                echo_authorization: Some(status),
                ..Behaviour::default()
            },
        )
        .await;
        let api = client(&fake).with_retry_policy(quick_retries());
        let error = api.list_users_page(10, 0).await.unwrap_err();
        assert_no_key(&error, fake::KEY);
    }
    // A wrong key, a 429 and a slow answer.
    let wrong = "sk_test_WRONG_logged_nowhere_7";
    let fake = Fake::start(some_users()).await;
    let _ = ClerkApi::new(fake.url.clone(), wrong).count_users().await;
    let fake = Fake::start_with(
        some_users(),
        Behaviour {
            rate_limit_first_call: Some("0".into()),
            ..Behaviour::default()
        },
    )
    .await;
    let api = client(&fake).with_retry_policy(quick_retries());
    api.count_users().await.unwrap();

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("retrying"), "{logs}");
    assert!(logs.contains("Clerk refused the secret key"), "{logs}");
    assert!(logs.contains("Bearer [redacted]"), "{logs}");
    assert!(!logs.contains(fake::KEY), "{logs}");
    assert!(!logs.contains(wrong), "{logs}");
}
