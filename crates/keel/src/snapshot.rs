//! `keel export` and `keel import`: the CLI around `keel-snapshot`, with a progress bar on a
//! terminal (nothing drawn otherwise).

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};
use keel_snapshot::{ImportMode, Progress};

use crate::AppParts;
use crate::settings::StorageArgs;

/// A bar over documents (export) or bytes (import), hidden when stderr is not a terminal.
struct Bar(Option<ProgressBar>);

impl Bar {
    fn new(template: &str) -> Bar {
        Bar(std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(template)
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        }))
    }

    fn clear(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

impl Progress for Bar {
    fn begin(&self, total: u64) {
        if let Some(bar) = &self.0 {
            bar.set_length(total);
        }
    }

    fn table(&self, name: &str) {
        if let Some(bar) = &self.0 {
            bar.set_message(name.to_owned());
        }
    }

    fn advance(&self, n: u64) {
        if let Some(bar) = &self.0 {
            bar.inc(n);
        }
    }
}

pub(crate) async fn export(
    storage: &StorageArgs,
    parts: &AppParts,
    path: &Path,
    ids: keel_snapshot::IdForm,
) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&storage.data_dir)?;
    let db = crate::start::open_database(storage, &parts.schema).await?;
    let bar = Bar::new("{bar:30} {pos}/{len} documents ({msg})");
    let summary = keel_snapshot::export(&db, path, ids, &bar).await;
    bar.clear();
    let summary = summary?;
    let documents: u64 = summary.tables.iter().map(|(_, n)| n).sum();
    println!(
        "exported {documents} documents in {} tables from {} to {}",
        summary.tables.len(),
        storage.database()?,
        path.display()
    );
    for (table, count) in &summary.tables {
        println!("  {table}: {count}");
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn import(
    storage: &StorageArgs,
    parts: &AppParts,
    path: &Path,
    mode: ImportMode,
) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&storage.data_dir)?;
    let db = crate::start::open_database(storage, &parts.schema).await?;
    let bar = Bar::new("{bar:30} {bytes}/{total_bytes} ({msg})");
    let summary = keel_snapshot::import(&db, path, mode, &bar).await;
    bar.clear();
    let summary = summary.map_err(|err| anyhow::anyhow!("{err} (nothing was imported)"))?;
    // The import has committed: a failure here leaves slower first queries, not lost data.
    if let Err(err) = db.after_bulk_load().await {
        eprintln!("warning: the import committed, but analyzing the tables failed: {err}");
    }
    let documents: u64 = summary.tables.iter().map(|(_, n)| n).sum();
    println!(
        "imported {documents} documents in {} tables from {} into {}",
        summary.tables.len(),
        path.display(),
        storage.database()?
    );
    for (table, count) in &summary.tables {
        println!("  {table}: {count}");
    }
    if summary.replaced > 0 {
        println!("replaced {} documents that were there", summary.replaced);
    }
    if summary.ids_rewritten > 0 {
        println!(
            "{} ids (of documents and references to them) were rewritten to this database's table numbers and id encoding",
            summary.ids_rewritten
        );
    }
    for skipped in &summary.skipped {
        println!("skipped {skipped}");
    }
    Ok(ExitCode::SUCCESS)
}
