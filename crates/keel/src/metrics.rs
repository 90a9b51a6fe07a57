//! Which figures a start keeps and who may read them: `keel dev` serves `GET /metrics` to
//! anyone; `keel serve` keeps figures only when asked (`KEEL_METRICS_TOKEN` for the main
//! address behind a bearer token, `KEEL_METRICS_LISTEN` for a separate open address), so a
//! server nobody scrapes pays nothing for them.

use std::net::SocketAddr;

use anyhow::Context;
use keel_metrics::Metrics;
use keel_server::MetricsAccess;
use keel_store::Database;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::{Mode, Settings};

/// The figures of one start and how they are served.
pub(crate) struct MetricsSetup {
    pub metrics: Metrics,
    pub access: MetricsAccess,
    /// `KEEL_METRICS_LISTEN`, when set.
    listen: Option<String>,
}

impl MetricsSetup {
    pub(crate) fn from_settings(settings: &Settings, mode: &Mode) -> Self {
        let token = settings
            .metrics
            .token
            .as_deref()
            .map(str::trim)
            .filter(|token| !token.is_empty());
        let listen = settings
            .metrics
            .listen
            .clone()
            .filter(|address| !address.trim().is_empty());
        let access = match (mode, token) {
            (Mode::Dev { .. }, _) => MetricsAccess::Open,
            (Mode::Serve { .. }, Some(token)) => MetricsAccess::Bearer(token.into()),
            (Mode::Serve { .. }, None) => MetricsAccess::Off,
        };
        let wanted = !matches!(access, MetricsAccess::Off) || listen.is_some();
        let metrics = if wanted {
            Metrics::enabled()
        } else {
            Metrics::disabled()
        };
        MetricsSetup {
            metrics,
            access,
            listen,
        }
    }

    /// Points the database's figures here: the commit log's lag and the connection pool.
    pub(crate) fn watch_database(&self, database: &Database) {
        if !self.metrics.is_enabled() {
            return;
        }
        database.record_metrics(self.metrics.clone());
        let pool = database.pool_usage_reader();
        self.metrics.sample_with(move |gauges| {
            if let Some(usage) = pool() {
                gauges.db_pool_connections.set(i64::from(usage.open));
                gauges.db_pool_idle.set(i64::from(usage.idle));
                gauges.db_pool_max.set(i64::from(usage.max));
            }
        });
    }

    /// Serves `GET /metrics` on `KEEL_METRICS_LISTEN`'s address, when set: the address bound
    /// and the task, which ends when aborted.
    pub(crate) async fn spawn_listener(
        &self,
    ) -> anyhow::Result<Option<(SocketAddr, JoinHandle<()>)>> {
        let Some(address) = &self.listen else {
            return Ok(None);
        };
        let listener = TcpListener::bind(address)
            .await
            .with_context(|| format!("listening on {address} (KEEL_METRICS_LISTEN)"))?;
        let bound = listener.local_addr()?;
        tracing::info!(address = %bound, "serving /metrics (KEEL_METRICS_LISTEN)");
        let router = keel_server::metrics_only_router(self.metrics.clone());
        let task = tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, router).await {
                tracing::warn!(%err, "the /metrics listener stopped");
            }
        });
        Ok(Some((bound, task)))
    }
}
