//! Several `keel serve` processes on one PostgreSQL database (issue #16 §2), as an operator
//! runs them behind a load balancer: each a real child process with its own data folder, all
//! trusting one issuer (served by this test) and one webhook secret. What must hold:
//! - one Svix delivery posted to two instances at the same moment answers 2xx on both and is
//!   applied once, and Clerk's `updated_at` order holds whichever instance gets which event;
//! - a WebSocket client whose instance dies re-sends its mutations to another with the same
//!   session and request ids and gets the original answers, never a second application;
//! - killing an instance (SIGKILL) loses nothing it acknowledged;
//! - the periodic reconcile runs on one instance at a time, and `keel backfill` beside
//!   serving instances keeps every user Clerk has.
//!
//! What is stored is read back with SQL from the database itself, not through Keel.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use keel_auth::testing::TestKey;
use keel_store_postgres::testing::TestDatabase;
use serde_json::{Value as Json, json};

use crate::binary::{Keel, keel, start_keel};
use crate::fake_issuer::FakeIssuer;
use crate::sync::Client;
use crate::webhooks::{Delivery, SECRET, user_event};

/// One database, one issuer, and the `keel serve` instances started on them.
pub(crate) struct Cluster {
    pub database: TestDatabase,
    pub issuer: FakeIssuer,
    key: TestKey,
    pub http: reqwest::Client,
}

/// A running `keel serve` child and its data folder.
pub(crate) struct Instance {
    pub keel: Keel,
    _dir: tempfile::TempDir,
}

impl Instance {
    pub fn url(&self) -> &str {
        &self.keel.url
    }
}

impl Cluster {
    pub async fn new() -> Cluster {
        let key = TestKey::generate("ins_cluster");
        let issuer = FakeIssuer::start(&[&key]).await;
        Cluster {
            database: TestDatabase::create().await,
            issuer,
            key,
            http: reqwest::Client::new(),
        }
    }

    /// Starts another `keel serve` on the cluster's database; `env` adds or overrides
    /// variables.
    pub async fn instance(&self, env: &[(&str, &str)]) -> Instance {
        let dir = tempfile::tempdir().unwrap();
        let mut command = keel(dir.path());
        command
            .arg("serve")
            .env("KEEL_DATABASE_URL", self.database.url().to_string())
            .env("CLERK_JWT_ISSUER_DOMAIN", &self.issuer.issuer)
            .env("CLERK_WEBHOOK_SECRET", SECRET)
            .env("KEEL_PG_POOL_SIZE", "8");
        for (name, value) in env {
            command.env(name, value);
        }
        // Blocking (it reads the child's output): off the runtime, which serves the issuer.
        let keel = tokio::task::spawn_blocking(move || start_keel(command))
            .await
            .unwrap();
        Instance { keel, _dir: dir }
    }

    /// A `convex`-template token for `subject` from the issuer every instance trusts.
    pub fn token(&self, subject: &str) -> String {
        self.issuer.token(&self.key, subject)
    }

    /// `POST {url}/api/{kind}`: the whole answer, or `None` when no answer came (the
    /// instance is gone).
    pub async fn call(
        &self,
        url: &str,
        kind: &str,
        path: &str,
        args: Json,
        token: &str,
    ) -> Option<Json> {
        let response = self
            .http
            .post(format!("{url}/api/{kind}"))
            .bearer_auth(token)
            .json(&json!({"path": path, "args": [args], "format": "json"}))
            .send()
            .await
            .ok()?;
        assert_eq!(response.status(), 200);
        response.json().await.ok()
    }

    /// The value of a call that must succeed.
    pub async fn ok(&self, url: &str, kind: &str, path: &str, args: Json, token: &str) -> Json {
        let body = self
            .call(url, kind, path, args, token)
            .await
            .unwrap_or_else(|| panic!("{url} answered {path}"));
        assert_eq!(body["status"], "success", "{path}: {body}");
        body["value"].clone()
    }

    /// Every document of `table`, as stored in the database.
    pub async fn rows(&self, table: &str) -> Vec<Json> {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&self.database.url().to_string())
            .await
            .unwrap();
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT d.id, d.body FROM keel_documents d \
             JOIN keel_tables t ON t.number = d.table_number WHERE t.name = $1",
        )
        .bind(table)
        .fetch_all(&mut conn)
        .await
        .unwrap();
        rows.iter()
            .map(|(id, body)| {
                let mut doc: Json = serde_json::from_str(body).unwrap();
                doc["_id"] = json!(id);
                doc
            })
            .collect()
    }

    /// How many rows of `table` hold each value of `field`.
    pub async fn count_by(&self, table: &str, field: &str) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for row in self.rows(table).await {
            if let Some(value) = row[field].as_str() {
                *counts.entry(value.to_string()).or_default() += 1;
            }
        }
        counts
    }
}

/// Posts `delivery` to both instances at the same moment; both answers, and whether the two
/// requests were in flight together (each sent before the other was answered).
async fn post_to_both(
    cluster: &Cluster,
    delivery: &Delivery,
    a: &str,
    b: &str,
) -> ((u16, Json), (u16, Json), bool) {
    let send = |url: String| async move {
        let sent = Instant::now();
        let answer = delivery.send_to(&cluster.http, &url).await;
        (answer, sent, Instant::now())
    };
    let ((to_a, sent_a, answered_a), (to_b, sent_b, answered_b)) =
        tokio::join!(send(a.to_string()), send(b.to_string()));
    let together = sent_a < answered_b && sent_b < answered_a;
    (to_a, to_b, together)
}

/// The same Svix delivery (same `svix-id`, body and signature) posted to two instances at the
/// same moment, 150 times: both answer 200, exactly one says `applied` and the other
/// `duplicate`, and the database holds one ledger row and one user per delivery. The ledger's
/// uniqueness holds because every instance's writers take the same row lock before they read
/// the ledger.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_delivery_posted_to_two_instances_at_once_is_applied_once() {
    let cluster = Cluster::new().await;
    let a = cluster.instance(&[]).await;
    let b = cluster.instance(&[]).await;
    const ROUNDS: usize = 150;
    let deliveries: Vec<Delivery> = (0..ROUNDS)
        .map(|i| {
            Delivery::new(&user_event(
                "user.created",
                &format!("user_race_{i:03}"),
                &format!("race{i}@example.com"),
                "Racer",
                1_700_000_000_000,
            ))
        })
        .collect();
    let mut together = 0;
    let mut applied_by = BTreeMap::<&str, usize>::new();
    for delivery in &deliveries {
        let ((status_a, body_a), (status_b, body_b), overlapped) =
            post_to_both(&cluster, delivery, a.url(), b.url()).await;
        assert_eq!((status_a, status_b), (200, 200), "{body_a} {body_b}");
        let mut outcomes = [
            body_a["status"].as_str().unwrap(),
            body_b["status"].as_str().unwrap(),
        ];
        if outcomes[0] == "applied" {
            *applied_by.entry("a").or_default() += 1;
        } else {
            *applied_by.entry("b").or_default() += 1;
        }
        outcomes.sort();
        assert_eq!(outcomes, ["applied", "duplicate"], "{}", delivery.id);
        together += usize::from(overlapped);
    }
    // A race it was: most pairs were in flight together.
    assert!(
        together >= ROUNDS / 2,
        "only {together} of {ROUNDS} overlapped"
    );

    let ledger = cluster.count_by("clerkEvents", "svixId").await;
    for delivery in &deliveries {
        assert_eq!(ledger.get(&delivery.id), Some(&1), "{}", delivery.id);
    }
    let users = cluster.count_by("users", "clerkUserId").await;
    for i in 0..ROUNDS {
        assert_eq!(users.get(&format!("user_race_{i:03}")), Some(&1));
    }
    assert_eq!(users.len(), ROUNDS, "no other user was made");
    eprintln!("applied first by: {applied_by:?}; in flight together: {together}/{ROUNDS}");
}

/// A user's updates delivered all at once, each to either instance, in shuffled order: the
/// stored record ends as the newest (`updated_at`) says, seen alike through both instances,
/// and each delivery is in the ledger once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn updated_at_order_holds_across_instances() {
    let cluster = Cluster::new().await;
    let a = cluster.instance(&[]).await;
    let b = cluster.instance(&[]).await;
    const USERS: usize = 6;
    const VERSIONS: i64 = 12;
    let mut deliveries = Vec::new();
    for u in 0..USERS {
        let id = format!("user_order_{u}");
        for version in 1..=VERSIONS {
            let kind = if version == 1 {
                "user.created"
            } else {
                "user.updated"
            };
            let event = user_event(
                kind,
                &id,
                &format!("order{u}@example.com"),
                &format!("v{version}"),
                1_700_000_000_000 + version,
            );
            deliveries.push(Delivery::new(&event));
        }
    }
    // A fixed shuffle (no clock in it): newest first for some users, oldest first for others.
    let mut order: Vec<usize> = (0..deliveries.len()).collect();
    order.sort_by_key(|i| (i * 7919) % deliveries.len());
    let sends = order.iter().enumerate().map(|(n, &i)| {
        let url = if n % 2 == 0 { a.url() } else { b.url() };
        deliveries[i].send_to(&cluster.http, url)
    });
    for (status, body) in futures::future::join_all(sends).await {
        assert_eq!(status, 200, "{body}");
        assert!(
            ["applied", "stale"].contains(&body["status"].as_str().unwrap()),
            "{body}"
        );
    }
    for u in 0..USERS {
        let token = cluster.token(&format!("user_order_{u}"));
        for instance in [&a, &b] {
            let user = cluster
                .ok(
                    instance.url(),
                    "query",
                    "users:getCurrentUser",
                    json!({}),
                    &token,
                )
                .await;
            assert_eq!(user["firstName"], format!("v{VERSIONS}"), "{user}");
            assert_eq!(
                user["updatedAt"].as_f64(),
                Some((1_700_000_000_000 + VERSIONS) as f64)
            );
        }
    }
    let ledger = cluster.count_by("clerkEvents", "svixId").await;
    assert!(
        deliveries.iter().all(|d| ledger.get(&d.id) == Some(&1)),
        "{ledger:?}"
    );
    let users = cluster.count_by("users", "clerkUserId").await;
    assert!(users.values().all(|&n| n == 1), "{users:?}");
    assert_eq!(users.len(), USERS);
}

/// Waits for the `MutationResponse` to `request_id`, skipping transitions.
async fn mutation_response(client: &mut Client, request_id: u64) -> Json {
    loop {
        let message = client
            .next()
            .await
            .unwrap_or_else(|| panic!("closed before the answer to {request_id}"));
        if message["type"] == "MutationResponse" {
            assert_eq!(message["requestId"], request_id, "{message}");
            return message;
        }
    }
}

fn mutation(request_id: u64, title: &str) -> Json {
    json!({"type": "Mutation", "requestId": request_id, "udfPath": "chats:createUserChat",
           "args": [{"title": title}]})
}

async fn authenticated(url: &str, session: &str, connection: u32, token: &str) -> Client {
    let mut client = Client::connect_to(url, session, connection).await;
    client
        .send(
            json!({"type": "Authenticate", "baseVersion": 0, "tokenType": "User", "value": token}),
        )
        .await;
    client.expect("Transition").await;
    client
}

/// A client's instance dies; the client reconnects to the other with the same session id and
/// re-sends its mutations as the official client does: every mutation whose result it has not
/// yet seen in a transition, answered or not. Three of them each time:
/// - one the dead instance answered: the original answer comes back;
/// - one the dead instance committed but whose answer the client never read: the answer names
///   what was stored;
/// - one sent just before the kill, committed or not: applied once.
///
/// Nothing is applied twice, and a transition reaching the answers' timestamps follows (the
/// official client resolves its promises on it). Three moves, back and forth.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_moved_to_another_instance_gets_its_mutations_answered_once() {
    let cluster = Cluster::new().await;
    let mut here = cluster.instance(&[]).await;
    let mut there = cluster.instance(&[]).await;
    let token = cluster.token("user_mover");
    cluster
        .ok(here.url(), "mutation", "users:store", json!({}), &token)
        .await;
    let session = "a-session-that-moves";
    let mut connection = 0u32;
    let mut titles = Vec::new();
    for round in 0..3u64 {
        let mut client = authenticated(here.url(), session, connection, &token).await;
        connection += 1;
        let sent: Vec<(u64, String)> = ["answered", "unread", "in flight"]
            .iter()
            .enumerate()
            .map(|(i, what)| (round * 3 + i as u64, format!("{what} {round}")))
            .collect();
        client.send(mutation(sent[0].0, &sent[0].1)).await;
        let original = mutation_response(&mut client, sent[0].0).await;
        assert_eq!(original["success"], true, "{original}");
        client.send(mutation(sent[1].0, &sent[1].1)).await;
        let unread_id = loop {
            let stored = cluster.rows("chats").await;
            if let Some(chat) = stored.iter().find(|c| c["title"] == sent[1].1.as_str()) {
                break chat["_id"].clone();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        client.send(mutation(sent[2].0, &sent[2].1)).await;
        here.keel.kill();
        titles.extend(sent.iter().map(|(_, title)| title.clone()));

        let mut moved = authenticated(there.url(), session, connection, &token).await;
        connection += 1;
        for (request, title) in &sent {
            moved.send(mutation(*request, title)).await;
        }
        let mut answers = Vec::new();
        for (request, _) in &sent {
            let answer = mutation_response(&mut moved, *request).await;
            assert_eq!(answer["success"], true, "{answer}");
            answers.push(answer);
        }
        assert_eq!(
            answers[0]["result"], original["result"],
            "the original answer, not a new chat"
        );
        assert_eq!(
            answers[1]["result"], unread_id,
            "the chat stored before the kill"
        );
        let reached = answers.iter().map(crate::sync::ts).max().unwrap();
        loop {
            let transition = moved.expect("Transition").await;
            if crate::sync::ts(&transition["endVersion"]) >= reached {
                break;
            }
        }

        // Exactly the chats asked for, each once, under the ids the answers named.
        let chats = cluster.rows("chats").await;
        let mut stored: Vec<&str> = chats.iter().map(|c| c["title"].as_str().unwrap()).collect();
        let mut wanted: Vec<&str> = titles.iter().map(String::as_str).collect();
        stored.sort();
        wanted.sort();
        assert_eq!(stored, wanted, "each mutation applied once");
        for (answer, (_, title)) in answers.iter().zip(&sent) {
            let chat = chats.iter().find(|c| c["title"] == title.as_str()).unwrap();
            assert_eq!(chat["_id"], answer["result"], "{title}");
        }

        // The dead instance comes back as the next one to fail over from the survivor.
        let replacement = cluster.instance(&[]).await;
        here = std::mem::replace(&mut there, replacement);
    }
}

/// What one stream of writes to the instance that is killed got acknowledged.
#[derive(Default)]
struct Acknowledged {
    /// Chat title → id, for mutations answered over HTTP.
    http_chats: BTreeMap<String, String>,
    /// Chat title → id, for mutations answered over the WebSocket.
    ws_chats: BTreeMap<String, String>,
    /// WebSocket mutations sent and not answered: request id → title.
    ws_unanswered: BTreeMap<u64, String>,
    /// `svix-id`s answered 200.
    webhooks: BTreeSet<String>,
}

/// A stream of mutations (HTTP and WebSocket) and webhooks goes to one instance, which is
/// killed with SIGKILL in the middle of it. Everything it acknowledged is in the database,
/// once; the webhooks it did not answer, delivered again to the survivor (as Svix retries),
/// and the WebSocket mutations it did not answer, re-sent there with their request ids, are
/// then each applied exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_an_instance_loses_nothing_it_acknowledged() {
    let cluster = Cluster::new().await;
    let mut doomed = cluster.instance(&[]).await;
    let survivor = cluster.instance(&[]).await;
    let token = cluster.token("user_stream");
    cluster
        .ok(doomed.url(), "mutation", "users:store", json!({}), &token)
        .await;
    let session = "stream-session";
    let url = doomed.url().to_string();
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Acknowledged::default()));
    let deliveries: Vec<Delivery> = (0..200)
        .map(|i| {
            Delivery::new(&user_event(
                "user.created",
                &format!("user_stream_{i:03}"),
                &format!("stream{i}@example.com"),
                "Streamed",
                1_700_000_000_000,
            ))
        })
        .collect();

    // HTTP mutations, two at a time.
    let http_writers = (0..2).map(|w| {
        let (cluster, url, token, acknowledged) = (&cluster, &url, &token, &acknowledged);
        async move {
            for i in 0.. {
                let title = format!("http {w}-{i}");
                let Some(body) = cluster
                    .call(
                        url,
                        "mutation",
                        "chats:createUserChat",
                        json!({"title": title}),
                        token,
                    )
                    .await
                else {
                    return;
                };
                if body["status"] != "success" {
                    return;
                }
                let id = body["value"].as_str().unwrap().to_string();
                acknowledged.lock().unwrap().http_chats.insert(title, id);
            }
        }
    });
    // Webhooks, one after the other.
    let webhook_writer = async {
        for delivery in &deliveries {
            let response = cluster
                .http
                .post(format!("{url}/clerk-webhook"))
                .header("svix-id", &delivery.id)
                .header("svix-timestamp", delivery.timestamp.to_string())
                .header(
                    "svix-signature",
                    keel_webhooks::WebhookSecrets::parse(SECRET).unwrap().sign(
                        &delivery.id,
                        delivery.timestamp,
                        delivery.body.as_bytes(),
                    ),
                )
                .body(delivery.body.clone())
                .send()
                .await;
            match response {
                Ok(response) if response.status() == 200 => {
                    acknowledged
                        .lock()
                        .unwrap()
                        .webhooks
                        .insert(delivery.id.clone());
                }
                _ => return,
            }
        }
    };
    // WebSocket mutations, four outstanding at a time, answers read as they come.
    let ws_writer = async {
        use futures::SinkExt;
        let mut client = authenticated(&url, session, 0, &token).await;
        let mut sent = 0u64;
        loop {
            while acknowledged.lock().unwrap().ws_unanswered.len() < 4 {
                let title = format!("ws {sent}");
                let text = mutation(sent, &title).to_string();
                acknowledged
                    .lock()
                    .unwrap()
                    .ws_unanswered
                    .insert(sent, title);
                sent += 1;
                if client.socket.send(text.into()).await.is_err() {
                    return;
                }
            }
            let Some(message) = client.next().await else {
                return;
            };
            if message["type"] == "MutationResponse" {
                assert_eq!(message["success"], true, "{message}");
                let request = message["requestId"].as_u64().unwrap();
                let mut acked = acknowledged.lock().unwrap();
                let title = acked.ws_unanswered.remove(&request).unwrap();
                let id = message["result"].as_str().unwrap().to_string();
                acked.ws_chats.insert(title, id);
            }
        }
    };
    let killer = async {
        // Let the stream run, then kill in the middle of it.
        loop {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let acked = acknowledged.lock().unwrap();
            if acked.http_chats.len() >= 30
                && acked.ws_chats.len() >= 30
                && acked.webhooks.len() >= 30
            {
                break;
            }
        }
        doomed.keel.kill();
    };
    tokio::join!(
        futures::future::join_all(http_writers),
        webhook_writer,
        ws_writer,
        killer
    );

    let acknowledged = std::mem::take(&mut *acknowledged.lock().unwrap());
    // Every acknowledged chat is stored, once, with the id its answer named.
    let chats = cluster.rows("chats").await;
    for (title, id) in acknowledged.http_chats.iter().chain(&acknowledged.ws_chats) {
        let stored: Vec<&Json> = chats.iter().filter(|c| c["title"] == *title).collect();
        assert_eq!(stored.len(), 1, "acknowledged {title} is stored once");
        assert_eq!(stored[0]["_id"], *id, "under the id its answer named");
    }
    let ledger = cluster.count_by("clerkEvents", "svixId").await;
    for id in &acknowledged.webhooks {
        assert_eq!(ledger.get(id), Some(&1), "acknowledged webhook {id}");
    }

    // Svix delivers again what was not answered; the moved client re-sends what was not.
    for delivery in &deliveries {
        if !acknowledged.webhooks.contains(&delivery.id) {
            let (status, body) = delivery.send_to(&cluster.http, survivor.url()).await;
            assert_eq!(status, 200, "{body}");
        }
    }
    // Unanswered mutations the dead instance had committed: their re-sent answers must name
    // the chats stored then.
    let committed_unanswered: BTreeMap<&String, Json> = acknowledged
        .ws_unanswered
        .values()
        .filter_map(|title| {
            let chat = chats.iter().find(|c| c["title"] == title.as_str())?;
            Some((title, chat["_id"].clone()))
        })
        .collect();
    let mut moved = authenticated(survivor.url(), session, 1, &token).await;
    for (request, title) in &acknowledged.ws_unanswered {
        moved.send(mutation(*request, title)).await;
    }
    for (request, title) in &acknowledged.ws_unanswered {
        let answer = mutation_response(&mut moved, *request).await;
        assert_eq!(answer["success"], true, "{answer}");
        if let Some(id) = committed_unanswered.get(title) {
            assert_eq!(answer["result"], *id, "{title}: the stored chat's id");
        }
    }
    let ledger = cluster.count_by("clerkEvents", "svixId").await;
    for delivery in &deliveries {
        assert_eq!(ledger.get(&delivery.id), Some(&1), "{}", delivery.id);
    }
    let users = cluster.count_by("users", "clerkUserId").await;
    assert!(users.values().all(|&n| n == 1), "{users:?}");
    assert_eq!(
        users.len(),
        deliveries.len() + 1,
        "the streamed users and user_stream"
    );
    let titles = cluster.count_by("chats", "title").await;
    for title in acknowledged
        .ws_chats
        .keys()
        .chain(acknowledged.ws_unanswered.values())
    {
        assert_eq!(titles.get(title), Some(&1), "{title} applied once");
    }
    assert!(titles.values().all(|&n| n == 1), "{titles:?}");
    eprintln!(
        "acknowledged before the kill: {} HTTP, {} WebSocket mutations, {} webhooks; {} WebSocket mutations re-sent, {} of them committed before the kill",
        acknowledged.http_chats.len(),
        acknowledged.ws_chats.len(),
        acknowledged.webhooks.len(),
        acknowledged.ws_unanswered.len(),
        committed_unanswered.len()
    );
}

/// One chat renamed through two instances at once, many times over: every rename answers
/// success (or `CONFLICT`, never a server error), and the title stored in the end is one that
/// a successful rename wrote.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_renames_through_two_instances_end_on_a_written_title() {
    let cluster = Cluster::new().await;
    let a = cluster.instance(&[]).await;
    let b = cluster.instance(&[]).await;
    let token = cluster.token("user_renamer");
    cluster
        .ok(a.url(), "mutation", "users:store", json!({}), &token)
        .await;
    let chat = cluster
        .ok(
            b.url(),
            "mutation",
            "chats:createUserChat",
            json!({"title": "start"}),
            &token,
        )
        .await;
    let renames = (0..40).map(|i| {
        let (cluster, token, chat) = (&cluster, &token, &chat);
        let url = if i % 2 == 0 { a.url() } else { b.url() };
        async move {
            let title = format!("title {i}");
            let body = cluster
                .call(
                    url,
                    "mutation",
                    "chats:update",
                    json!({"id": chat, "title": title}),
                    token,
                )
                .await
                .unwrap();
            (title, body)
        }
    });
    let mut written = BTreeSet::new();
    for (title, body) in futures::future::join_all(renames).await {
        match body["status"].as_str() {
            Some("success") => {
                written.insert(title);
            }
            _ => assert_eq!(body["errorData"]["code"], "CONFLICT", "{body}"),
        }
    }
    assert!(!written.is_empty());
    for instance in [&a, &b] {
        let chats = cluster
            .ok(
                instance.url(),
                "query",
                "chats:listUserChats",
                json!({}),
                &token,
            )
            .await;
        assert_eq!(chats.as_array().unwrap().len(), 1, "{chats}");
        let title = chats[0]["title"].as_str().unwrap();
        assert!(written.contains(title), "{title} was written: {written:?}");
    }
}

/// A stand-in for Clerk's Backend API whose user listing is slow, which records every
/// reconcile round (a listing from offset 0): who asked (by secret key), when, and how many
/// rounds were in flight at once at most.
struct SlowClerk {
    url: String,
    state: std::sync::Arc<std::sync::Mutex<Rounds>>,
}

#[derive(Default)]
struct Rounds {
    in_flight: usize,
    most_in_flight: usize,
    /// (secret key, started, finished)
    done: Vec<(String, Instant, Instant)>,
}

impl SlowClerk {
    async fn start(listing_takes: Duration) -> SlowClerk {
        use axum::extract::{Query, State};
        use axum::http::HeaderMap;
        use axum::routing::get;
        type Shared = std::sync::Arc<std::sync::Mutex<Rounds>>;
        let state = Shared::default();
        let users = move |State(state): State<Shared>,
                          headers: HeaderMap,
                          Query(query): Query<BTreeMap<String, String>>| async move {
            if query.get("offset").is_some_and(|o| o != "0") {
                return axum::Json(json!([]));
            }
            let key = headers["authorization"].to_str().unwrap().to_string();
            let started = Instant::now();
            {
                let mut rounds = state.lock().unwrap();
                rounds.in_flight += 1;
                rounds.most_in_flight = rounds.most_in_flight.max(rounds.in_flight);
            }
            tokio::time::sleep(listing_takes).await;
            let mut rounds = state.lock().unwrap();
            rounds.in_flight -= 1;
            rounds.done.push((key, started, Instant::now()));
            axum::Json(json!([
                crate::webhooks::reference("user.created.json")["data"]
            ]))
        };
        let app = axum::Router::new()
            .route("/v1/users", get(users))
            .route(
                "/v1/organizations",
                get(|| async { axum::Json(json!({"data": [], "total_count": 0})) }),
            )
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        SlowClerk { url, state }
    }

    fn rounds(&self) -> (usize, Vec<(String, Instant, Instant)>) {
        let rounds = self.state.lock().unwrap();
        (rounds.most_in_flight, rounds.done.clone())
    }
}

/// Two instances reconcile every second against a Backend API whose listing takes 1.2 s:
/// unlocked, their rounds would overlap all the time. With the advisory lock only one round
/// is ever in flight, the other instance skips its turn, and when the instance holding the
/// lock is killed the survivor takes the rounds over.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_never_reconcile_at_the_same_time() {
    let cluster = Cluster::new().await;
    let clerk = SlowClerk::start(Duration::from_millis(1200)).await;
    let reconciling = |key: &'static str| {
        [
            ("KEEL_RECONCILE_EVERY", "1s"),
            ("CLERK_SECRET_KEY", key),
            ("CLERK_API_URL", clerk.url.as_str()),
            ("KEEL_LOG", "info,keel=debug"),
        ]
    };
    let mut a = cluster.instance(&reconciling("sk_test_a")).await;
    let b = cluster.instance(&reconciling("sk_test_b")).await;
    tokio::time::sleep(Duration::from_secs(7)).await;

    let (most, rounds) = clerk.rounds();
    assert_eq!(most, 1, "rounds overlapped");
    assert!(rounds.len() >= 3, "only {} rounds in 7 s", rounds.len());
    let skipped = |instance: &Instance| {
        instance
            .keel
            .logs()
            .matches("another instance is reconciling; skipped this round")
            .count()
    };
    assert!(
        skipped(&a) + skipped(&b) >= 2,
        "the instance without the lock skipped its turns:\n{}\n{}",
        a.keel.logs(),
        b.keel.logs()
    );
    // The rounds did their work: the user Clerk lists is stored, once.
    let users = cluster.count_by("users", "clerkUserId").await;
    assert_eq!(users.get("user_29w83sxmDNGwOuEthce5gg56FcC"), Some(&1));
    for instance in [&a, &b] {
        assert!(
            !instance.keel.logs().contains("reconcile failed"),
            "{}",
            instance.keel.logs()
        );
    }

    // The instance that reconciled last dies holding the lock, or between rounds: the other
    // reconciles from then on.
    a.keel.kill();
    let killed = Instant::now();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (_, rounds) = clerk.rounds();
    // No two rounds overlapped, but for the dead instance's listing, which the stand-in kept
    // answering to nobody after the kill.
    let live: Vec<_> = rounds
        .iter()
        .filter(|(key, _, finished)| !(key == "Bearer sk_test_a" && *finished > killed))
        .collect();
    for (i, (_, started, finished)) in live.iter().enumerate() {
        for (_, other_started, other_finished) in &live[i + 1..] {
            assert!(
                finished <= other_started || other_finished <= started,
                "two rounds overlapped: {live:?}"
            );
        }
    }
    let after: Vec<_> = rounds
        .iter()
        .filter(|(_, started, _)| *started > killed)
        .collect();
    assert!(!after.is_empty(), "nobody reconciled after the kill");
    assert!(
        after.iter().all(|(key, _, _)| key == "Bearer sk_test_b"),
        "{after:?}"
    );
}

/// A stand-in for Clerk's Backend API that lists `listed` (oldest first, by offset) and
/// answers `GET /v1/users/{id}` for the users in `known`. The first listing waits until the
/// test lets it go, so the test can act while a reconcile is reading Clerk.
struct ScriptedClerk {
    url: String,
    known: std::sync::Arc<std::sync::Mutex<BTreeMap<String, Json>>>,
    listing_started: std::sync::Arc<tokio::sync::Notify>,
    release_listing: std::sync::Arc<tokio::sync::Semaphore>,
}

impl ScriptedClerk {
    async fn start(listed: Vec<Json>, known: BTreeMap<String, Json>) -> ScriptedClerk {
        use axum::extract::{Path, Query, State};
        use axum::http::StatusCode;
        use axum::response::IntoResponse;
        use axum::routing::get;
        use std::sync::{Arc, Mutex};
        use tokio::sync::{Notify, Semaphore};

        #[derive(Clone)]
        struct Script {
            listed: Arc<Vec<Json>>,
            known: Arc<Mutex<BTreeMap<String, Json>>>,
            started: Arc<Notify>,
            release: Arc<Semaphore>,
        }
        let script = Script {
            listed: Arc::new(listed),
            known: Arc::new(Mutex::new(known)),
            started: Arc::new(Notify::new()),
            release: Arc::new(Semaphore::new(0)),
        };
        let list = |State(script): State<Script>, Query(query): Query<BTreeMap<String, String>>| async move {
            let number = |name: &str| query.get(name).and_then(|v| v.parse().ok());
            let offset: usize = number("offset").unwrap_or(0);
            let limit: usize = number("limit").unwrap_or(10);
            if offset == 0 {
                script.started.notify_one();
                script.release.acquire().await.unwrap().forget();
            }
            let page: Vec<Json> = script
                .listed
                .iter()
                .skip(offset)
                .take(limit)
                .cloned()
                .collect();
            axum::Json(Json::Array(page))
        };
        let one = |State(script): State<Script>, Path(id): Path<String>| async move {
            match script.known.lock().unwrap().get(&id) {
                Some(user) => axum::Json(user.clone()).into_response(),
                None => (
                    StatusCode::NOT_FOUND,
                    axum::Json(
                        json!({"errors": [{"code": "resource_not_found", "message": "not found"}]}),
                    ),
                )
                    .into_response(),
            }
        };
        let app = axum::Router::new()
            .route("/v1/users", get(list))
            .route("/v1/users/{id}", get(one))
            .route(
                "/v1/organizations",
                get(|| async { axum::Json(json!({"data": [], "total_count": 0})) }),
            )
            .with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        ScriptedClerk {
            url,
            known: script.known,
            listing_started: script.started,
            release_listing: script.release,
        }
    }
}

/// Clerk's user `id` at version `updated_at`, named `first_name`.
fn clerk_user(id: &str, first_name: &str, updated_at: i64) -> Json {
    let email = format!("{}@example.com", id.replace('_', "."));
    user_event("user.created", id, &email, first_name, updated_at)["data"].clone()
}

/// `keel backfill` beside two serving instances, while webhooks and mutations keep coming
/// in, with Clerk's listing as a live Clerk gives it (no snapshot):
/// - a user created in Clerk while the listing runs, whose webhook lands meanwhile, is not in
///   the listing and must not be taken for one Clerk lost;
/// - a user the listing skipped (a deletion shifted a page) but Clerk still has is kept;
/// - a user Clerk does not have is marked inactive;
/// - webhooks newer than the listing win over it, whichever lands first;
/// - mutations through both instances answer as usual meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn backfill_beside_serving_instances_keeps_what_clerk_has() {
    let cluster = Cluster::new().await;
    let a = cluster.instance(&[]).await;
    let b = cluster.instance(&[]).await;
    // What Keel knows from earlier webhooks.
    for (id, url) in [
        ("user_old", a.url()),
        ("user_gone", b.url()),
        ("user_stale", a.url()),
    ] {
        let event = user_event("user.created", id, &format!("{id}@x.com"), "Old", 100);
        let (status, body) = Delivery::new(&event).send_to(&cluster.http, url).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("applied")));
    }
    // Clerk: user_stale is newer there, 200 users Keel missed; its listing skips user_old;
    // user_late is created while the listing runs.
    let mut listed = vec![clerk_user("user_stale", "Clerk", 200)];
    listed.extend((0..200).map(|i| clerk_user(&format!("user_bf_{i:03}"), "Clerk", 200)));
    let mut known: BTreeMap<String, Json> = listed
        .iter()
        .map(|u| (u["id"].as_str().unwrap().to_string(), u.clone()))
        .collect();
    known.insert("user_old".into(), clerk_user("user_old", "Old", 100));
    let clerk = ScriptedClerk::start(listed, known).await;

    let backfill_dir = tempfile::tempdir().unwrap();
    let mut command = keel(backfill_dir.path());
    command
        .arg("backfill")
        .env("KEEL_DATABASE_URL", cluster.database.url().to_string())
        .env("CLERK_SECRET_KEY", "sk_test_backfill")
        .env("CLERK_API_URL", &clerk.url);
    let backfill = tokio::spawn(crate::binary::output(command));
    clerk.listing_started.notified().await;

    // While Clerk is being read: a new user's webhook, newer versions of ten listed users,
    // and chats written through both instances.
    clerk
        .known
        .lock()
        .unwrap()
        .insert("user_late".into(), clerk_user("user_late", "Late", 300));
    let late = user_event("user.created", "user_late", "late@x.com", "Late", 300);
    let (status, _) = Delivery::new(&late).send_to(&cluster.http, b.url()).await;
    assert_eq!(status, 200);
    for i in 0..10 {
        let id = format!("user_bf_{i:03}");
        let newer = user_event("user.updated", &id, &format!("{id}@x.com"), "Webhook", 300);
        let url = if i % 2 == 0 { a.url() } else { b.url() };
        let (status, body) = Delivery::new(&newer).send_to(&cluster.http, url).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("applied")));
    }
    let token = cluster.token("user_late");
    for (i, instance) in [&a, &b, &a, &b].into_iter().enumerate() {
        cluster
            .ok(
                instance.url(),
                "mutation",
                "chats:createUserChat",
                json!({"title": format!("during backfill {i}")}),
                &token,
            )
            .await;
    }
    clerk.release_listing.add_permits(1);

    let run = backfill.await.unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stdout.contains("missing: 200\nstale: 1\nextra: 1\n"),
        "{stdout}"
    );
    // 190 missing users (10 had come by webhook, newer), user_stale, user_gone.
    assert!(stdout.contains("written: 192"), "{stdout}");

    let users: BTreeMap<String, Json> = cluster
        .rows("users")
        .await
        .into_iter()
        .map(|u| (u["clerkUserId"].as_str().unwrap().to_string(), u))
        .collect();
    assert_eq!(users.len(), 204, "one record per user");
    let active = |id: &str| users[id]["isActive"] == true && users[id]["deletedAt"].is_null();
    assert!(
        active("user_old"),
        "skipped by the listing, kept: {}",
        users["user_old"]
    );
    assert!(
        active("user_late"),
        "created during the listing, kept: {}",
        users["user_late"]
    );
    assert_eq!(users["user_late"]["firstName"], "Late");
    assert!(
        !active("user_gone"),
        "gone from Clerk: {}",
        users["user_gone"]
    );
    assert_eq!(users["user_stale"]["firstName"], "Clerk");
    assert_eq!(users["user_stale"]["source"], "backfill");
    for i in 0..200 {
        let user = &users[&format!("user_bf_{i:03}")];
        let expected = if i < 10 { "Webhook" } else { "Clerk" };
        assert_eq!(user["firstName"], expected, "{user}");
        assert!(user["isActive"] == true);
    }
    assert_eq!(cluster.count_by("chats", "title").await.len(), 4);
    // Both instances serve the repaired data.
    for instance in [&a, &b] {
        let me = cluster
            .ok(
                instance.url(),
                "query",
                "users:getCurrentUser",
                json!({}),
                &token,
            )
            .await;
        assert_eq!(me["firstName"], "Late");
    }
}
