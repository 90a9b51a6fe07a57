//! Declared tables and indexes, and the catalog they resolve to once an engine has numbered them.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use keel_values::TableNumber;

use crate::engine::{IndexNumber, SyncedCatalog, TableSpec};
use crate::typed::{TableDocument, TsType};
use crate::{Result, StoreError};

/// Every table has this index: documents in insertion order.
pub const BY_CREATION_TIME: &str = "by_creation_time";
/// Reserved, as in Convex: documents are fetched by id with `get`, not through an index.
pub const BY_ID: &str = "by_id";

/// An index over some fields of a table. Every index ends with `_creationTime` and `_id`
/// implicitly, so entries are unique and equal keys come out in insertion order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexDef {
    pub name: String,
    /// Field paths; a dot reaches into nested objects (`"metadata.role"`).
    pub fields: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct TableDef {
    pub name: String,
    pub indexes: Vec<IndexDef>,
    /// Keel's own bookkeeping (names start with `_`): invisible to function code.
    pub system: bool,
    /// The TypeScript of the table's documents, when declared with [`TableDef::document`].
    pub document: Option<fn() -> TsType>,
}

impl TableDef {
    pub fn new(name: impl Into<String>) -> Self {
        TableDef {
            name: name.into(),
            indexes: Vec::new(),
            system: false,
            document: None,
        }
    }

    /// A table only Keel itself reads and writes, through [`crate::Reader::system`].
    pub fn system(name: impl Into<String>) -> Self {
        TableDef {
            system: true,
            ..TableDef::new(name)
        }
    }

    /// Declares the fields of the table's documents for the generated TypeScript API
    /// (`Doc<"table">`). Without it a client sees them as `any`.
    pub fn document<D: TableDocument>(mut self) -> Self {
        assert_eq!(
            D::TABLE,
            self.name,
            "the document type of table `{}` names table `{}`",
            self.name,
            D::TABLE
        );
        self.document = Some(TsType::inline::<D>);
        self
    }

    pub fn index(mut self, name: impl Into<String>, fields: &[&str]) -> Self {
        self.indexes.push(IndexDef {
            name: name.into(),
            fields: fields.iter().map(|f| f.to_string()).collect(),
        });
        self
    }
}

/// The tables an application declares. Tables and indexes may be added between releases; an
/// index whose fields change is rebuilt when the database opens.
#[derive(Clone, Debug, Default)]
pub struct Schema {
    pub tables: Vec<TableDef>,
}

impl Schema {
    pub fn new() -> Self {
        Schema::default()
    }

    pub fn table(mut self, table: TableDef) -> Self {
        self.tables.push(table);
        self
    }

    /// Adds the tables of another schema (for example a crate's own tables beside the app's).
    pub fn merge(mut self, other: Schema) -> Self {
        self.tables.extend(other.tables);
        self
    }

    /// The engine's view of the tables, and the names of the system ones.
    pub(crate) fn validate(&self) -> Result<(Vec<TableSpec>, HashSet<String>)> {
        let mut system = HashSet::new();
        let mut seen = std::collections::HashSet::new();
        let mut specs = Vec::new();
        for table in &self.tables {
            match table.name.strip_prefix('_') {
                Some(rest) if table.system => check_identifier("system table", rest)?,
                _ => check_identifier("table", &table.name)?,
            }
            if !seen.insert(table.name.as_str()) {
                return Err(invalid(format!("table `{}` is declared twice", table.name)));
            }
            let mut names = std::collections::HashSet::new();
            let mut indexes = vec![(BY_CREATION_TIME.to_string(), Vec::new())];
            for index in &table.indexes {
                check_identifier("index", &index.name)?;
                if index.name == BY_CREATION_TIME || index.name == BY_ID {
                    return Err(invalid(format!("index name `{}` is reserved", index.name)));
                }
                if !names.insert(index.name.as_str()) {
                    return Err(invalid(format!(
                        "index `{}` is declared twice on table `{}`",
                        index.name, table.name
                    )));
                }
                if index.fields.is_empty() {
                    return Err(invalid(format!("index `{}` has no fields", index.name)));
                }
                for field in &index.fields {
                    if field.starts_with('_') || field.is_empty() {
                        return Err(invalid(format!(
                            "index `{}` names field `{field}`: system fields are added implicitly",
                            index.name
                        )));
                    }
                }
                indexes.push((index.name.clone(), index.fields.clone()));
            }
            specs.push(TableSpec {
                name: table.name.clone(),
                indexes,
            });
            if table.system {
                system.insert(table.name.clone());
            }
        }
        Ok((specs, system))
    }
}

fn check_identifier(kind: &str, name: &str) -> Result<()> {
    let mut chars = name.chars();
    let valid_start = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    if valid_start && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') && name.len() <= 64 {
        Ok(())
    } else {
        Err(invalid(format!(
            "invalid {kind} name `{name}`: use letters, digits and `_`, starting with a letter"
        )))
    }
}

fn invalid(message: String) -> StoreError {
    StoreError::InvalidArgument(message)
}

#[derive(Debug)]
pub(crate) struct ResolvedIndex {
    pub name: String,
    pub number: IndexNumber,
    pub fields: Vec<Vec<String>>,
}

#[derive(Debug)]
pub(crate) struct ResolvedTable {
    pub name: String,
    pub system: bool,
    pub number: TableNumber,
    pub indexes: Vec<ResolvedIndex>,
}

impl ResolvedTable {
    pub fn index(&self, name: &str) -> Result<&ResolvedIndex> {
        self.indexes.iter().find(|i| i.name == name).ok_or_else(|| {
            invalid(format!(
                "Index {}.{name} not found. Declared indexes: {}",
                self.name,
                self.indexes
                    .iter()
                    .map(|i| i.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    }
}

/// Tables by name and by number, as the engine numbered them.
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    by_name: HashMap<String, Arc<ResolvedTable>>,
    by_number: HashMap<TableNumber, Arc<ResolvedTable>>,
}

impl Catalog {
    pub fn from_synced(synced: &SyncedCatalog, system: &HashSet<String>) -> Self {
        let mut catalog = Catalog::default();
        for table in &synced.tables {
            let resolved = Arc::new(ResolvedTable {
                name: table.name.clone(),
                system: system.contains(&table.name),
                number: table.number,
                indexes: table
                    .indexes
                    .iter()
                    .map(|i| ResolvedIndex {
                        name: i.name.clone(),
                        number: i.number,
                        fields: i
                            .fields
                            .iter()
                            .map(|f| f.split('.').map(str::to_string).collect())
                            .collect(),
                    })
                    .collect(),
            });
            catalog
                .by_name
                .insert(table.name.clone(), Arc::clone(&resolved));
            catalog.by_number.insert(table.number, resolved);
        }
        catalog
    }

    /// A declared table; system tables only when `system` access is asked for, so function
    /// code cannot even learn they exist.
    pub fn table(&self, name: &str, system: bool) -> Result<&Arc<ResolvedTable>> {
        self.by_name
            .get(name)
            .filter(|t| system || !t.system)
            .ok_or_else(|| invalid(format!("Table `{name}` is not declared in the schema")))
    }

    /// Declared tables' names, sorted; system tables only when `system` access is asked for.
    pub fn names(&self, system: bool) -> Vec<String> {
        let mut names: Vec<String> = self
            .by_name
            .values()
            .filter(|t| system || !t.system)
            .map(|t| t.name.clone())
            .collect();
        names.sort();
        names
    }

    pub fn table_by_number(
        &self,
        number: TableNumber,
        system: bool,
    ) -> Option<&Arc<ResolvedTable>> {
        self.by_number.get(&number).filter(|t| system || !t.system)
    }
}
