//! Declared tables and indexes, and the catalog they resolve to once an engine has numbered them.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use keel_values::TableNumber;

use crate::engine::{IndexNumber, StoredCatalog, TableSpec};
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

/// Field paths as stored (`"metadata.role"`) split into their segments.
pub(crate) fn field_paths(fields: &[String]) -> Vec<Vec<String>> {
    fields
        .iter()
        .map(|f| f.split('.').map(str::to_string).collect())
        .collect()
}

#[derive(Debug)]
pub(crate) struct ResolvedIndex {
    pub name: String,
    pub number: IndexNumber,
    /// As the database's catalog has them: what writes maintain.
    pub fields: Vec<Vec<String>>,
    pub role: IndexRole,
}

/// How this process's schema relates to an index the database holds.
#[derive(Debug, PartialEq)]
pub(crate) enum IndexRole {
    /// Declared with the fields the database has: queried and maintained.
    Declared,
    /// Declared by another version of the app (newer, or older and still running): only
    /// maintained, so it stays right for the instances that read it.
    Undeclared,
    /// Declared here with other fields than another version gave it since (`declared`):
    /// maintained with the database's fields, and not queried (its keys no longer follow this
    /// schema's order).
    Redefined { declared: Vec<String> },
}

#[derive(Debug)]
pub(crate) struct ResolvedTable {
    pub name: String,
    pub system: bool,
    pub number: TableNumber,
    /// Every index the database holds for the table, declared here or not.
    pub indexes: Vec<ResolvedIndex>,
}

impl ResolvedTable {
    /// A declared index, for queries.
    pub fn index(&self, name: &str) -> Result<&ResolvedIndex> {
        let declared = || {
            self.indexes
                .iter()
                .filter(|i| i.role != IndexRole::Undeclared)
                .map(|i| i.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self.indexes.iter().find(|i| i.name == name) {
            Some(index) if index.role == IndexRole::Declared => Ok(index),
            Some(ResolvedIndex {
                role: IndexRole::Redefined { declared },
                fields,
                ..
            }) => Err(invalid(format!(
                "Index {}.{name} was redefined by another version of the app (fields {}; this \
                 version declares {}): it cannot be queried here until this instance runs \
                 that version",
                self.name,
                fields
                    .iter()
                    .map(|f| f.join("."))
                    .collect::<Vec<_>>()
                    .join(", "),
                declared.join(", ")
            ))),
            _ => Err(invalid(format!(
                "Index {}.{name} not found. Declared indexes: {}",
                self.name,
                declared()
            ))),
        }
    }
}

/// Tables by name and by number, as the engine numbered them, at one catalog version.
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    pub version: u64,
    by_name: HashMap<String, Arc<ResolvedTable>>,
    by_number: HashMap<TableNumber, Arc<ResolvedTable>>,
}

impl Catalog {
    /// The declared tables (`wanted`) with every index the database holds for them.
    pub fn resolve(
        wanted: &[TableSpec],
        system: &HashSet<String>,
        stored: &StoredCatalog,
    ) -> Result<Self> {
        let mut catalog = Catalog {
            version: stored.version,
            ..Catalog::default()
        };
        for spec in wanted {
            let number = stored
                .tables
                .iter()
                .find(|(name, _)| *name == spec.name)
                .map(|(_, number)| *number)
                .ok_or_else(|| {
                    StoreError::Engine(format!(
                        "table `{}` is missing from the database's catalog",
                        spec.name
                    ))
                })?;
            let indexes = stored
                .indexes
                .iter()
                .filter(|i| i.table == number)
                .map(|i| {
                    let role = match spec.indexes.iter().find(|(name, _)| *name == i.name) {
                        None => IndexRole::Undeclared,
                        Some((_, fields)) if *fields == i.fields => IndexRole::Declared,
                        Some((_, fields)) => IndexRole::Redefined {
                            declared: fields.clone(),
                        },
                    };
                    ResolvedIndex {
                        name: i.name.clone(),
                        number: i.number,
                        fields: field_paths(&i.fields),
                        role,
                    }
                })
                .collect();
            let resolved = Arc::new(ResolvedTable {
                name: spec.name.clone(),
                system: system.contains(&spec.name),
                number,
                indexes,
            });
            catalog
                .by_name
                .insert(spec.name.clone(), Arc::clone(&resolved));
            catalog.by_number.insert(number, resolved);
        }
        Ok(catalog)
    }

    /// The indexes of declared tables that this schema does not declare, as (table, index,
    /// number), sorted by name.
    pub fn undeclared_indexes(&self) -> Vec<(String, String, IndexNumber)> {
        let mut found: Vec<_> = self
            .by_name
            .values()
            .flat_map(|t| {
                t.indexes
                    .iter()
                    .filter(|i| i.role == IndexRole::Undeclared)
                    .map(|i| (t.name.clone(), i.name.clone(), i.number))
            })
            .collect();
        found.sort();
        found
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
