//! `keel seed`: fills a database with users as Clerk's webhooks write them, organizations with
//! members, and chats, in batched transactions. The data is the same for the same options
//! (a fixed pseudo-random sequence), so runs compare, and shaped like real data: varied names
//! and email domains, one user in a hundred an admin, chats per user spread around the mean.

use std::time::{Duration, Instant};

use anyhow::Context;
use keel_app::{SeedBatch, SeedChat, write_seed_batch};
use keel_store::Database;
use keel_webhooks::{MembershipData, OrganizationData, UserData};
use serde_json::json;

/// What to write.
#[derive(Clone, Debug)]
pub struct SeedOptions {
    pub users: usize,
    /// The mean number of chats per user (each user gets 0 to twice this).
    pub chats_per_user: usize,
    /// One organization per this many users, with [`MEMBERS_PER_ORGANIZATION`] members.
    pub users_per_organization: usize,
    /// Records per transaction.
    pub batch: usize,
}

/// Members of each seeded organization.
pub const MEMBERS_PER_ORGANIZATION: usize = 5;

/// What was written, and how fast.
#[derive(Clone, Debug, Default)]
pub struct SeedReport {
    pub users: usize,
    pub organizations: usize,
    pub memberships: usize,
    pub chats: usize,
    pub elapsed: Duration,
}

impl SeedReport {
    pub fn records(&self) -> usize {
        self.users + self.organizations + self.memberships + self.chats
    }

    pub fn records_per_second(&self) -> f64 {
        self.records() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

const FIRST: &[&str] = &[
    "Ada", "Adam", "Adele", "Adrian", "Aiden", "Alan", "Alice", "Amara", "Amir", "Ana", "Andre",
    "Anna", "Ava", "Ben", "Bianca", "Boris", "Carla", "Carlos", "Chen", "Chloe", "Dan", "Daria",
    "David", "Elena", "Eli", "Emma", "Eric", "Fatima", "Felix", "Grace", "Hana", "Hugo", "Ian",
    "Ines", "Ivan", "Jack", "James", "Jana", "John", "Jose", "Julia", "Kai", "Karin", "Kenji",
    "Lara", "Leo", "Lina", "Lucas", "Maria", "Mark", "Marta", "Mei", "Mia", "Nadia", "Noah",
    "Nora", "Olga", "Omar", "Paul", "Priya", "Rafael", "Rosa", "Sam", "Sara", "Sofia", "Tom",
    "Uma", "Victor", "Wei", "Yara", "Yusuf", "Zoe",
];

const LAST: &[&str] = &[
    "Abbott", "Adams", "Alvarez", "Baker", "Bauer", "Becker", "Brown", "Castro", "Chen", "Clark",
    "Cohen", "Costa", "Cruz", "Davis", "Diaz", "Dubois", "Evans", "Fischer", "Garcia", "Gomez",
    "Green", "Hall", "Hansen", "Hill", "Ito", "Jansen", "Johnson", "Jones", "Kim", "King", "Klein",
    "Kowalski", "Lee", "Lewis", "Lopez", "Lovelace", "Martin", "Meyer", "Miller", "Moreau",
    "Muller", "Nakamura", "Nguyen", "Novak", "Olsen", "Park", "Patel", "Perez", "Petrov", "Reyes",
    "Rossi", "Sato", "Schmidt", "Silva", "Singh", "Smith", "Suzuki", "Taylor", "Thomas", "Wagner",
    "Walker", "Wang", "Weber", "White", "Wilson", "Wright", "Yamamoto", "Young", "Zhang",
];

const DOMAINS: &[&str] = &[
    "example.com",
    "mail.test",
    "corp.example",
    "uni.example.org",
];

const TOPICS: &[&str] = &[
    "Roadmap",
    "Standup notes",
    "Recipes",
    "Trip to Lisbon",
    "Bug triage",
    "Reading list",
    "Budget",
    "Interview prep",
    "Garden",
    "Release plan",
    "Ideas",
    "Weekly review",
];

/// A fixed pseudo-random sequence (a 64-bit LCG): the same options give the same data.
struct Sequence(u64);

impl Sequence {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }
}

/// Seeded users' Clerk ids: `user_seed0000042`.
pub fn seeded_user_id(i: usize) -> String {
    format!("user_seed{i:07}")
}

/// Seeded users' creation times: one a minute from 2024-01-01, so newer users sort later.
const EPOCH_MS: i64 = 1_704_067_200_000;

fn user(i: usize, random: &mut Sequence) -> anyhow::Result<UserData> {
    let (first, last) = (random.pick(FIRST), random.pick(LAST));
    let email = format!(
        "{}.{}{i}@{}",
        first.to_lowercase(),
        last.to_lowercase(),
        random.pick(DOMAINS)
    );
    let created = EPOCH_MS + i as i64 * 60_000;
    let metadata = if i % 100 == 7 {
        json!({"role": "admin"})
    } else {
        json!({})
    };
    serde_json::from_value(json!({
        "id": seeded_user_id(i),
        "first_name": first,
        "last_name": last,
        "username": null,
        "image_url": null,
        "email_addresses": [{"id": format!("idn_seed{i:07}"), "email_address": email,
                             "verification": {"status": "verified", "strategy": "email_code"}}],
        "primary_email_address_id": format!("idn_seed{i:07}"),
        "public_metadata": metadata,
        "created_at": created,
        "updated_at": created,
        "last_sign_in_at": created + 3_600_000,
    }))
    .context("a seeded user")
}

fn organization(k: usize, created: i64) -> OrganizationData {
    OrganizationData {
        id: format!("org_seed{k:07}"),
        name: format!("{} Team {k}", TOPICS[k % TOPICS.len()]),
        slug: Some(format!("team-{k}")),
        image_url: None,
        created_by: None,
        public_metadata: Default::default(),
        created_at: created,
        updated_at: created,
    }
}

fn membership(org: &OrganizationData, user_index: usize, admin: bool) -> MembershipData {
    MembershipData {
        id: format!("orgmem_seed{user_index:07}_{}", org.id),
        role: if admin { "org:admin" } else { "org:member" }.to_string(),
        role_name: None,
        permissions: Vec::new(),
        public_metadata: Default::default(),
        organization: org.clone(),
        public_user_data: Some(keel_webhooks::PublicUserData {
            user_id: seeded_user_id(user_index),
            first_name: None,
            last_name: None,
            image_url: None,
            username: None,
            identifier: None,
        }),
        created_at: org.created_at,
        updated_at: org.updated_at,
    }
}

/// Writes the data, calling `progress` with the records written so far after each batch.
pub async fn run(
    db: &Database,
    options: &SeedOptions,
    mut progress: impl FnMut(usize),
) -> anyhow::Result<SeedReport> {
    let started = Instant::now();
    let mut random = Sequence(0x5eed);
    let mut report = SeedReport::default();
    let mut batch = SeedBatch::default();
    let per_org = options.users_per_organization.max(MEMBERS_PER_ORGANIZATION);
    for i in 0..options.users {
        let user = user(i, &mut random)?;
        let created = user.created_at;
        batch.users.push(user);
        report.users += 1;
        let chats = random.below(options.chats_per_user * 2 + 1);
        for c in 0..chats {
            let topic = random.pick(TOPICS);
            batch.chats.push(SeedChat {
                user_id: seeded_user_id(i),
                title: format!("{topic} #{c}"),
                created_at: (created + 60_000 + c as i64 * 3_600_000) as f64,
            });
        }
        report.chats += chats;
        // An organization for every `per_org` users, its members among those just written.
        if (i + 1) % per_org == 0 {
            let org = organization(report.organizations, created);
            for m in 0..MEMBERS_PER_ORGANIZATION {
                batch.memberships.push(membership(&org, i - m, m == 0));
            }
            batch.organizations.push(org);
            report.organizations += 1;
            report.memberships += MEMBERS_PER_ORGANIZATION;
        }
        if batch.len() >= options.batch {
            write_seed_batch(db, &batch)
                .await
                .map_err(|e| anyhow::anyhow!("writing a batch: {e}"))?;
            batch = SeedBatch::default();
            progress(report.records());
        }
    }
    if !batch.is_empty() {
        write_seed_batch(db, &batch)
            .await
            .map_err(|e| anyhow::anyhow!("writing a batch: {e}"))?;
        progress(report.records());
    }
    report.elapsed = started.elapsed();
    Ok(report)
}
