//! `keel export`: every app table from one read snapshot into a new ZIP.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use keel_store::{Database, Document, PaginationOpts};
use std::collections::HashSet;

use keel_values::{DocumentId, TableNumber, Ts, Value};
use serde_json::{Map, Value as Json, json};
use zip::ZipWriter;
use zip::write::SimpleFileOptions;

use crate::{DOCUMENTS, GENERATED_SCHEMA, Progress, SnapshotError, TABLES, UNIFORM};

/// Documents read per page of the snapshot.
const PAGE: usize = 1000;

const README: &str = "# A Keel snapshot export\n\n\
This ZIP is in Convex's snapshot export format: one folder per table with its documents, one \
JSON object per line, in <table>/documents.jsonl; _tables/documents.jsonl lists the tables \
with their numbers. `keel import` reads it back; `npx convex import` reads the same layout.\n";

/// How an export writes ids (`_id`, and references to exported documents inside documents).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IdForm {
    /// As Convex writes them: Convex's checksum footer, and table numbers from 10001 as
    /// Convex numbers user tables. A Convex deployment imports the file with its ids kept;
    /// `keel import` reads it back to the same ids.
    #[default]
    Convex,
    /// Keel's own strings and table numbers, exactly as the app's functions and clients see
    /// them (to join the export with ids held elsewhere).
    Keel,
}

/// Convex numbers user tables from 10001: Keel's table `n` is written as `n + 10000`.
pub const CONVEX_TABLE_OFFSET: u32 = 10_000;

impl IdForm {
    fn table(self, number: TableNumber) -> TableNumber {
        match self {
            IdForm::Convex => TableNumber(number.0 + CONVEX_TABLE_OFFSET),
            IdForm::Keel => number,
        }
    }

    fn write(self, id: DocumentId) -> String {
        let id = DocumentId {
            table: self.table(id.table),
            internal: id.internal,
        };
        match self {
            IdForm::Convex => id.encode_convex(),
            IdForm::Keel => id.encode(),
        }
    }
}

/// What an export wrote.
#[derive(Debug)]
pub struct ExportSummary {
    /// The commit timestamp of the snapshot exported: every commit up to it, none after.
    pub ts: Ts,
    /// Each table with its number of documents, in the order written.
    pub tables: Vec<(String, u64)>,
}

/// Writes every app table (not Keel's system tables) as of one snapshot to a new ZIP at
/// `path`. The ZIP is written beside it under a temporary name and renamed into place once
/// complete, so a failed export leaves nothing at `path`; an existing `path` is refused.
pub async fn export(
    db: &Database,
    path: &Path,
    ids: IdForm,
    progress: &dyn Progress,
) -> Result<ExportSummary, SnapshotError> {
    if path.exists() {
        return Err(io(
            format!("{} already exists", path.display()),
            std::io::ErrorKind::AlreadyExists.into(),
        ));
    }
    let partial = path.with_extension("zip.partial");
    let result = write_zip(db, path, &partial, ids, progress).await;
    match result {
        Ok(summary) => {
            std::fs::rename(&partial, path)
                .map_err(|e| io(format!("renaming {} into place", partial.display()), e))?;
            Ok(summary)
        }
        Err(err) => {
            let _ = std::fs::remove_file(&partial);
            Err(err)
        }
    }
}

async fn write_zip(
    db: &Database,
    path: &Path,
    partial: &Path,
    ids: IdForm,
    progress: &dyn Progress,
) -> Result<ExportSummary, SnapshotError> {
    let shown = path.display().to_string();
    let file = File::create(partial).map_err(|e| io(format!("creating {shown}"), e))?;
    let mut zip = ZipWriter::new(BufWriter::new(file));
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o644);
    let zip_err =
        |e: zip::result::ZipError| io(format!("writing {shown}"), std::io::Error::other(e));
    let write_err = |e: std::io::Error| io(format!("writing {shown}"), e);

    // One snapshot for everything: a `Reader` is one read transaction.
    let reader = db.reader().await?;
    let ts = reader.ts();
    let mut tables = Vec::new();
    let mut total = 0;
    for name in reader.table_names() {
        let number = reader
            .table_number(&name)
            .expect("a listed table has a number");
        let count = reader.query(&name).count(usize::MAX).await? as u64;
        total += count;
        tables.push((name, number, count));
    }
    progress.begin(total);
    let exported: HashSet<TableNumber> = tables.iter().map(|(_, number, _)| *number).collect();

    zip.start_file("README.md", options).map_err(zip_err)?;
    zip.write_all(README.as_bytes()).map_err(write_err)?;

    zip.start_file(format!("{TABLES}/{DOCUMENTS}"), options)
        .map_err(zip_err)?;
    let mut by_number: Vec<_> = tables.iter().collect();
    by_number.sort_by_key(|(_, number, _)| *number);
    for (name, number, _) in by_number {
        let line = json!({"name": name, "id": ids.table(*number).0});
        writeln!(zip, "{line}").map_err(write_err)?;
    }

    let mut summary = Vec::new();
    for (name, _, _) in &tables {
        progress.table(name);
        zip.start_file(format!("{name}/{DOCUMENTS}"), options)
            .map_err(zip_err)?;
        let mut written = 0u64;
        let mut opts = PaginationOpts::first(PAGE);
        loop {
            let page = reader.query(name).paginate(opts.clone()).await?;
            for doc in &page.page {
                let line =
                    export_line(doc, ids, &exported).map_err(|message| SnapshotError::Invalid {
                        location: crate::Location {
                            file: format!("table `{name}`"),
                            entry: None,
                            line: None,
                        },
                        message,
                    })?;
                zip.write_all(line.as_bytes()).map_err(write_err)?;
                zip.write_all(b"\n").map_err(write_err)?;
            }
            written += page.page.len() as u64;
            progress.advance(page.page.len() as u64);
            if page.is_done {
                break;
            }
            opts.cursor = Some(page.continue_cursor);
        }
        zip.start_file(format!("{name}/{GENERATED_SCHEMA}"), options)
            .map_err(zip_err)?;
        writeln!(zip, "{}", Json::String(UNIFORM.into())).map_err(write_err)?;
        summary.push((name.clone(), written));
    }
    reader.finish().await?;
    let mut out = zip.finish().map_err(zip_err)?;
    out.flush().map_err(write_err)?;
    out.get_ref()
        .sync_all()
        .map_err(|e| io(format!("syncing {shown}"), e))?;
    Ok(ExportSummary {
        ts,
        tables: summary,
    })
}

/// One `documents.jsonl` line: the document's fields in `export_json`, with `_id` and
/// `_creationTime` (a float, as Convex's is); ids written in the `ids` form, references to
/// documents of the `exported` tables too.
pub(crate) fn export_line(
    doc: &Document,
    ids: IdForm,
    exported: &HashSet<TableNumber>,
) -> Result<String, String> {
    let value = Value::from_encoded_json(&Json::Object(doc.fields().clone()))
        .map_err(|e| format!("document {} holds an invalid value: {e}", doc.id()))?;
    let value = match ids {
        IdForm::Keel => value,
        IdForm::Convex => write_references(value, ids, exported),
    };
    let Json::Object(mut fields) = value.to_export_json() else {
        unreachable!("an object exports as an object")
    };
    fields.insert("_id".into(), Json::String(ids.write(doc.id())));
    fields.insert(
        "_creationTime".into(),
        Json::Number(
            serde_json::Number::from_f64(doc.creation_time())
                .ok_or_else(|| format!("document {} has no creation time", doc.id()))?,
        ),
    );
    Ok(Json::Object(sorted(fields)).to_string())
}

/// Every string that parses as a Keel id of an exported table, in the `ids` form: references
/// follow their documents, as `keel import` maps them back. Other strings stay as they are.
fn write_references(value: Value, ids: IdForm, exported: &HashSet<TableNumber>) -> Value {
    crate::map_strings(value, &mut |s| match DocumentId::parse(&s) {
        Ok(id) if exported.contains(&id.table) => ids.write(id),
        _ => s,
    })
}

fn sorted(fields: Map<String, Json>) -> Map<String, Json> {
    // serde_json's map is a BTreeMap here (no `preserve_order`), so keys are already in
    // Convex's order; kept explicit in case a dependency turns that feature on.
    let mut entries: Vec<_> = fields.into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries.into_iter().collect()
}

pub(crate) fn io(context: String, source: std::io::Error) -> SnapshotError {
    SnapshotError::Io { context, source }
}
