//! `keel import`: a snapshot ZIP (Keel's or Convex's) into the app's tables, in one write
//! transaction, so a file that fails anywhere changes nothing.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use keel_store::{Database, StoreError, Writer};
use keel_values::{DocumentId, TableNumber, Value};
use serde_json::{Map, Value as Json};
use zip::ZipArchive;

use crate::{
    DOCUMENTS, GENERATED_SCHEMA, Location, Progress, SnapshotError, TABLES, UNIFORM, export::io,
};

/// What to do with tables that already hold documents (as `npx convex import` decides).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportMode {
    /// Refuse when a table in the file already holds documents.
    RequireEmpty,
    /// Empty each table in the file first; tables not in it are left alone.
    Replace,
    /// Add to what is there; an id already stored is refused.
    Append,
}

/// What an import did.
#[derive(Debug, Default)]
pub struct ImportSummary {
    /// Each imported table with the documents written, in file order.
    pub tables: Vec<(String, u64)>,
    /// Documents removed first (`Replace`).
    pub replaced: u64,
    /// Entries of the file not imported, with why (system tables, file storage).
    pub skipped: Vec<String>,
    /// Ids rewritten because the file numbered the table otherwise, or wrote Convex's footer.
    pub ids_rewritten: u64,
}

/// How a table's lines encode values, from its `generated_schema.jsonl`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    /// `"uniform"`: `export_json` (Convex's current exports, and Keel's).
    Uniform,
    /// No `generated_schema.jsonl`: plain JSON, numbers are floats (`$`-tagged objects are read
    /// as the wire's `$bytes`, `$integer`, `$float`).
    Plain,
}

/// Makes the error for a problem at an entry and line of the file.
type Invalid<'a> = dyn Fn(Option<&str>, Option<u64>, String) -> SnapshotError + 'a;

struct TableEntry {
    name: String,
    entry: String,
    encoding: Encoding,
    /// The table's number in the file: from `_tables`, else from its first `_id`.
    file_number: Option<TableNumber>,
    keel_number: TableNumber,
}

/// Loads a snapshot ZIP into the database's app tables; see [`ImportMode`]. Everything is
/// checked and written in one transaction: an error names the file, entry and line, and
/// leaves the database as it was.
pub async fn import(
    db: &Database,
    path: &Path,
    mode: ImportMode,
    progress: &dyn Progress,
) -> Result<ImportSummary, SnapshotError> {
    let file_name = path.display().to_string();
    let at = |entry: Option<&str>, line: Option<u64>| Location {
        file: file_name.clone(),
        entry: entry.map(str::to_owned),
        line,
    };
    let invalid =
        |entry: Option<&str>, line: Option<u64>, message: String| SnapshotError::Invalid {
            location: at(entry, line),
            message,
        };

    let file = File::open(path).map_err(|e| io(format!("opening {file_name}"), e))?;
    let mut archive =
        ZipArchive::new(file).map_err(|e| invalid(None, None, format!("not a ZIP file ({e})")))?;

    // Which entries are tables.
    let names: Vec<String> = archive
        .file_names()
        .map(|name| name.map(|n| n.into_owned()))
        .collect::<Result<_, _>>()
        .map_err(|e| invalid(None, None, format!("unreadable entry name ({e})")))?;
    let mut summary = ImportSummary::default();
    let mut documents: BTreeMap<String, String> = BTreeMap::new();
    let mut schemas = HashSet::new();
    let mut has_tables = false;
    for name in &names {
        let parts: Vec<&str> = name.split('/').collect();
        match parts.as_slice() {
            [TABLES, DOCUMENTS] => has_tables = true,
            [table, DOCUMENTS] if table.starts_with('_') => summary.skipped.push(format!(
                "{name}: `{table}` is a system table{}",
                if *table == "_storage" {
                    " (file storage: Keel has none)"
                } else {
                    ""
                }
            )),
            [table, DOCUMENTS] => {
                documents.insert(table.to_string(), name.clone());
            }
            [table, GENERATED_SCHEMA] => {
                schemas.insert(table.to_string());
            }
            ["_components", .., DOCUMENTS] => summary.skipped.push(format!(
                "{name}: a table of a Convex component (Keel has no components)"
            )),
            ["_components", ..] => {}
            [.., DOCUMENTS] => {
                return Err(invalid(
                    Some(name),
                    None,
                    "a documents.jsonl below the top folder, which is not a table".into(),
                ));
            }
            _ => {}
        }
    }
    if documents.is_empty() {
        return Err(invalid(
            None,
            None,
            "no <table>/documents.jsonl in it: not a snapshot export".into(),
        ));
    }

    // `_tables`: the file's table numbers.
    let mut file_numbers: HashMap<String, TableNumber> = HashMap::new();
    if has_tables {
        let entry = format!("{TABLES}/{DOCUMENTS}");
        let text = read_entry(&mut archive, &entry).map_err(|m| invalid(Some(&entry), None, m))?;
        let mut seen_numbers = HashMap::new();
        for (index, line) in text.lines().enumerate() {
            let line_no = Some(index as u64 + 1);
            if line.trim().is_empty() {
                continue;
            }
            let bad = |m: String| invalid(Some(&entry), line_no, m);
            let json: Json =
                serde_json::from_str(line).map_err(|e| bad(format!("not JSON: {e}")))?;
            let name = json.get("name").and_then(Json::as_str);
            let number = json.get("id").and_then(Json::as_f64);
            let (Some(name), Some(number)) = (name, number) else {
                return Err(bad(
                    "expected {\"name\": <table>, \"id\": <table number>}".into()
                ));
            };
            if number < 1.0 || number > f64::from(u32::MAX) || number.fract() != 0.0 {
                return Err(bad(format!("table number {number} is not a table number")));
            }
            let number = TableNumber(number as u32);
            if file_numbers.insert(name.to_owned(), number).is_some() {
                return Err(bad(format!("table `{name}` is listed twice")));
            }
            if let Some(other) = seen_numbers.insert(number, name.to_owned()) {
                return Err(bad(format!(
                    "tables `{other}` and `{name}` have the same number {number}"
                )));
            }
        }
    }

    // Each table: declared here, its encoding, its number in the file.
    let probe = db.reader().await?;
    let mut tables = Vec::new();
    for (name, entry) in &documents {
        let Some(keel_number) = probe.table_number(name) else {
            return Err(invalid(
                Some(entry),
                None,
                format!(
                    "table `{name}` is not declared in this app's schema (declared: {})",
                    probe.table_names().join(", ")
                ),
            ));
        };
        let encoding = if schemas.contains(name) {
            let schema_entry = format!("{name}/{GENERATED_SCHEMA}");
            let text = read_entry(&mut archive, &schema_entry)
                .map_err(|m| invalid(Some(&schema_entry), None, m))?;
            let first = text.lines().next().unwrap_or_default();
            match serde_json::from_str::<Json>(first) {
                Ok(Json::String(s)) if s == UNIFORM => Encoding::Uniform,
                _ => {
                    return Err(invalid(
                        Some(&schema_entry),
                        Some(1),
                        "an inferred type (the format of Convex exports before the \"uniform\" \
                         one) is not supported: export again from Convex, or remove this file \
                         to read the lines as plain JSON"
                            .into(),
                    ));
                }
            }
        } else {
            Encoding::Plain
        };
        let mut file_number = file_numbers.get(name).copied();
        if file_number.is_none() {
            file_number = first_id_table(&mut archive, entry);
        }
        tables.push(TableEntry {
            name: name.clone(),
            entry: entry.clone(),
            encoding,
            file_number,
            keel_number,
        });
    }
    probe.finish().await?;

    // Ids of the file's tables become ids of Keel's: same 16 bytes, Keel's table number.
    let renumber: HashMap<TableNumber, TableNumber> = tables
        .iter()
        .filter_map(|t| t.file_number.map(|n| (n, t.keel_number)))
        .collect();
    let total: u64 = tables
        .iter()
        .map(|t| archive.by_name(&t.entry).map(|f| f.size()).unwrap_or(0))
        .sum();
    progress.begin(total);

    let writer = db.writer().await?;
    let result = write_all(
        &writer,
        &mut archive,
        &tables,
        &renumber,
        mode,
        progress,
        &mut summary,
        &invalid,
    )
    .await;
    match result {
        Ok(()) => {
            writer.commit_bulk().await?;
            Ok(summary)
        }
        Err(err) => {
            writer.rollback().await;
            Err(err)
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn write_all(
    writer: &Writer,
    archive: &mut ZipArchive<File>,
    tables: &[TableEntry],
    renumber: &HashMap<TableNumber, TableNumber>,
    mode: ImportMode,
    progress: &dyn Progress,
    summary: &mut ImportSummary,
    invalid: &Invalid<'_>,
) -> Result<(), SnapshotError> {
    for table in tables {
        match mode {
            ImportMode::RequireEmpty => {
                if writer.query(&table.name).first().await?.is_some() {
                    return Err(invalid(
                        Some(&table.entry),
                        None,
                        format!(
                            "table `{}` already holds documents: import with --replace to \
                             replace them or --append to add to them",
                            table.name
                        ),
                    ));
                }
            }
            ImportMode::Replace => {
                summary.replaced += writer.clear_table(&table.name).await? as u64;
            }
            ImportMode::Append => {}
        }
    }
    let mut seen: HashSet<DocumentId> = HashSet::new();
    for table in tables {
        progress.table(&table.name);
        let entry_reader = archive
            .by_name(&table.entry)
            .map_err(|e| invalid(Some(&table.entry), None, format!("unreadable: {e}")))?;
        // Lines are read synchronously in batches, and written between batches.
        let mut lines = BufReader::new(entry_reader);
        let mut line_no = 0u64;
        let mut written = 0u64;
        loop {
            let mut batch = Vec::new();
            let mut buf = Vec::new();
            while batch.len() < 512 {
                buf.clear();
                let read = lines.read_until(b'\n', &mut buf).map_err(|e| {
                    invalid(
                        Some(&table.entry),
                        Some(line_no + 1),
                        format!("unreadable: {e}"),
                    )
                })?;
                if read == 0 {
                    break;
                }
                line_no += 1;
                progress.advance(read as u64);
                let text = String::from_utf8(std::mem::take(&mut buf))
                    .map_err(|_| invalid(Some(&table.entry), Some(line_no), "not UTF-8".into()))?;
                if text.trim().is_empty() {
                    continue;
                }
                let bad = |m: String| invalid(Some(&table.entry), Some(line_no), m);
                let doc = parse_line(&text, table, renumber, writer, &mut summary.ids_rewritten)
                    .map_err(bad)?;
                if !seen.insert(doc.id) {
                    return Err(bad(format!(
                        "_id {} appears twice in the file",
                        doc.id.encode()
                    )));
                }
                batch.push((line_no, doc));
            }
            if batch.is_empty() {
                break;
            }
            for (line, doc) in batch {
                writer
                    .insert_with_id(
                        &table.name,
                        doc.id,
                        doc.creation_time,
                        doc.body,
                        mode == ImportMode::Append,
                    )
                    .await
                    .map_err(|err| match err {
                        StoreError::InvalidArgument(m) => {
                            invalid(Some(&table.entry), Some(line), m)
                        }
                        other => SnapshotError::Store(other),
                    })?;
                written += 1;
            }
        }
        summary.tables.push((table.name.clone(), written));
    }
    Ok(())
}

struct ParsedDoc {
    id: DocumentId,
    creation_time: f64,
    body: Map<String, Json>,
}

fn parse_line(
    text: &str,
    table: &TableEntry,
    renumber: &HashMap<TableNumber, TableNumber>,
    writer: &Writer,
    rewritten: &mut u64,
) -> Result<ParsedDoc, String> {
    let json: Json = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let Json::Object(mut fields) = json else {
        return Err("a document must be a JSON object".into());
    };
    let id = match fields.remove("_id") {
        None => writer.new_id(table.keel_number),
        Some(Json::String(s)) => {
            let (id, convex) = parse_any_id(&s).ok_or_else(|| format!("_id {s:?} is not an id"))?;
            if let Some(expected) = table.file_number
                && id.table != expected
            {
                return Err(format!(
                    "_id {s} is an id of table number {}, but the file numbers `{}` {expected}",
                    id.table, table.name
                ));
            }
            if convex || id.table != table.keel_number {
                *rewritten += 1;
            }
            DocumentId {
                table: table.keel_number,
                internal: id.internal,
            }
        }
        Some(other) => return Err(format!("_id {other} is not a string")),
    };
    let creation_time = match fields.remove("_creationTime") {
        None => writer.now_millis(),
        Some(Json::Number(n)) => n
            .as_f64()
            .ok_or_else(|| format!("_creationTime {n} is not a number"))?,
        Some(other) => return Err(format!("_creationTime {other} is not a number")),
    };
    let object = Json::Object(fields);
    let value = match table.encoding {
        Encoding::Uniform => Value::from_export_json(&object),
        Encoding::Plain => Value::from_encoded_json(&object),
    }
    .map_err(|e| e.to_string())?;
    let value = rewrite_ids(value, renumber, rewritten);
    let Json::Object(body) = value.to_encoded_json() else {
        unreachable!("an object encodes as an object")
    };
    Ok(ParsedDoc {
        id,
        creation_time,
        body,
    })
}

/// An id in Keel's encoding, or else Convex's (`true`).
fn parse_any_id(s: &str) -> Option<(DocumentId, bool)> {
    DocumentId::parse(s)
        .map(|id| (id, false))
        .or_else(|_| DocumentId::parse_convex(s).map(|id| (id, true)))
        .ok()
}

/// References to the file's tables, in Keel's numbering and encoding: every string that
/// parses as an id (either encoding) of a table in the file. Other strings stay as they are.
fn rewrite_ids(
    value: Value,
    renumber: &HashMap<TableNumber, TableNumber>,
    count: &mut u64,
) -> Value {
    crate::map_strings(value, &mut |s| {
        if let Some((id, convex)) = parse_any_id(&s)
            && let Some(&table) = renumber.get(&id.table)
            && (convex || table != id.table)
        {
            *count += 1;
            return DocumentId {
                table,
                internal: id.internal,
            }
            .encode();
        }
        s
    })
}

/// The table number of the first `_id` in a table's entry, when there is one.
fn first_id_table(archive: &mut ZipArchive<File>, entry: &str) -> Option<TableNumber> {
    let file = archive.by_name(entry).ok()?;
    let mut line = String::new();
    BufReader::new(file).read_line(&mut line).ok()?;
    let json: Json = serde_json::from_str(&line).ok()?;
    let id = json.get("_id")?.as_str()?;
    parse_any_id(id).map(|(id, _)| id.table)
}

/// A small entry's whole text (`_tables`, a generated schema).
fn read_entry(archive: &mut ZipArchive<File>, entry: &str) -> Result<String, String> {
    let mut file = archive
        .by_name(entry)
        .map_err(|e| format!("unreadable: {e}"))?;
    let mut text = String::new();
    file.read_to_string(&mut text)
        .map_err(|e| format!("unreadable: {e}"))?;
    Ok(text)
}
