//! `keel backfill` and the background reconcile: read everything from Clerk's Backend API and
//! repair the synced tables, so missed webhooks heal.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use keel_app::{ClerkSnapshot, Drift, LocalRecords, reconcile};
use keel_clerk_api::{ClerkApi, MAX_PAGE_SIZE};
use keel_metrics::ReconcileOutcome;
use keel_store::Database;
use keel_store::singleton::Singletons;

/// Shows progress as a bar on a terminal, as plain lines otherwise (logs, CI).
pub struct Progress {
    bar: Option<ProgressBar>,
    label: String,
    last_line: usize,
}

impl Progress {
    pub fn new(label: &str, interactive: bool) -> Self {
        let bar = (interactive && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg}: {pos}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_message(label.to_string());
            bar
        });
        Progress {
            bar,
            label: label.to_string(),
            last_line: 0,
        }
    }

    pub fn set(&mut self, done: usize) {
        match &self.bar {
            Some(bar) => bar.set_position(done as u64),
            None if done >= self.last_line + 1000 => {
                eprintln!("{}: {done}", self.label);
                self.last_line = done;
            }
            None => {}
        }
    }

    pub fn finish(self, done: usize) {
        match self.bar {
            Some(bar) => bar.finish_with_message(format!("{}: {done}", self.label)),
            None => eprintln!("{}: {done}", self.label),
        }
    }
}

/// Everything Clerk has: users, organizations and their memberships.
pub async fn fetch_snapshot(api: &ClerkApi, interactive: bool) -> anyhow::Result<ClerkSnapshot> {
    let mut progress = Progress::new("users read from Clerk", interactive);
    let users = api
        .all_users(MAX_PAGE_SIZE, |n| progress.set(n))
        .await
        .context("listing users through Clerk's Backend API")?;
    progress.finish(users.len());
    let organizations = api
        .all_organizations(MAX_PAGE_SIZE)
        .await
        .context("listing organizations")?;
    let mut memberships = Vec::new();
    for org in &organizations {
        memberships.extend(
            api.all_memberships(&org.id, MAX_PAGE_SIZE)
                .await
                .with_context(|| format!("listing the memberships of {}", org.id))?,
        );
    }
    Ok(ClerkSnapshot {
        users,
        organizations,
        memberships,
    })
}

/// One reconcile pass: fetch, compare, repair (unless `dry_run`).
pub async fn run_once(
    db: &Database,
    api: &ClerkApi,
    dry_run: bool,
    interactive: bool,
) -> anyhow::Result<Drift> {
    // Ours before Clerk's: a record whose webhook lands while Clerk is read is then not taken
    // for one Clerk no longer has (see `keel_app::reconcile`).
    let local = LocalRecords::read(db)
        .await
        .map_err(|e| anyhow::anyhow!("reading the synced tables: {e}"))?;
    let snapshot = fetch_snapshot(api, interactive).await?;
    let mut progress = Progress::new("records repaired", interactive);
    let drift = reconcile(db, local, &snapshot, api, dry_run, |n| progress.set(n))
        .await
        .map_err(|e| anyhow::anyhow!("reconciling: {e}"))?;
    progress.finish(drift.written);
    Ok(drift)
}

/// The name the periodic reconcile's lock goes by (see [`Singletons`]).
pub const RECONCILE_JOB: &str = "reconcile";

/// Reconciles every `every` until the process ends, logging drift it repaired. Each round
/// first takes the reconcile lock without waiting: with several instances on one database,
/// one reconciles and the others skip that round.
pub fn spawn_periodic(
    db: Database,
    api: ClerkApi,
    every: Duration,
    singletons: Arc<dyn Singletons>,
    metrics: keel_metrics::Metrics,
) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        // A round longer than the period starts the next one a full period later, not at once:
        // the others get their turn at the lock.
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await; // the first tick is immediate; start after one period
        loop {
            ticks.tick().await;
            let guard = match singletons.try_acquire(RECONCILE_JOB).await {
                Ok(Some(guard)) => guard,
                Ok(None) => {
                    tracing::debug!(
                        "reconcile: another instance is reconciling; skipped this round"
                    );
                    continue;
                }
                Err(err) => {
                    tracing::warn!(error = %err, "reconcile: could not take the reconcile lock; skipped this round");
                    continue;
                }
            };
            tracing::debug!("reconcile: round started");
            match run_once(&db, &api, false, false).await {
                Ok(drift) if drift.is_empty() => {
                    metrics.reconcile_run(ReconcileOutcome::Completed, 0);
                    tracing::debug!("reconcile: in step with Clerk")
                }
                Ok(drift) => {
                    let found = drift.missing.len() + drift.stale.len() + drift.extra.len();
                    metrics.reconcile_run(ReconcileOutcome::Completed, found as u64);
                    tracing::info!(
                        missing = drift.missing.len(),
                        stale = drift.stale.len(),
                        extra = drift.extra.len(),
                        written = drift.written,
                        "reconcile repaired drift from Clerk"
                    )
                }
                Err(err) => {
                    metrics.reconcile_run(ReconcileOutcome::Failed, 0);
                    tracing::warn!(error = %format!("{err:#}"), "reconcile failed; will retry")
                }
            }
            guard.release().await;
        }
    });
}

/// The drift report `keel backfill` prints.
pub fn describe(drift: &Drift, dry_run: bool) -> String {
    let list = |ids: &[String]| {
        let shown: Vec<&str> = ids.iter().take(20).map(String::as_str).collect();
        let more = ids.len().saturating_sub(shown.len());
        if more > 0 {
            format!("{} (+{more} more)", shown.join(", "))
        } else {
            shown.join(", ")
        }
    };
    let mut out = format!(
        "missing: {}\nstale: {}\nextra: {}\n",
        drift.missing.len(),
        drift.stale.len(),
        drift.extra.len()
    );
    if dry_run {
        for (label, ids) in [
            ("missing", &drift.missing),
            ("stale", &drift.stale),
            ("extra", &drift.extra),
        ] {
            if !ids.is_empty() {
                out.push_str(&format!("  {label}: {}\n", list(ids)));
            }
        }
        out.push_str("dry run: nothing was written\n");
    } else {
        out.push_str(&format!("written: {}\n", drift.written));
    }
    out
}
