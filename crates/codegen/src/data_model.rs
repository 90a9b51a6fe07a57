//! `dataModel.d.ts`: each table's document type and indexes, `Doc`, `Id` and `DataModel`, as
//! Convex's codegen gives a project with a schema.

use std::fmt::Write as _;

use keel_store::{BY_CREATION_TIME, BY_ID, Schema};

use crate::declarations::Declarations;
use crate::docs::fold_doc_blocks;
use crate::{CodegenError, HEADER};

pub(crate) struct DataModel {
    pub text: String,
    /// The named types the document types use (`api.d.ts` imports them from here).
    pub declared: Declarations,
}

pub(crate) fn render(schema: &Schema) -> Result<DataModel, CodegenError> {
    let mut declared = Declarations::default();
    let mut tables: Vec<_> = schema.tables.iter().filter(|t| !t.system).collect();
    tables.sort_by(|a, b| a.name.cmp(&b.name));

    let mut entries = String::new();
    for table in tables {
        let name = quote(&table.name);
        let system_fields = format!("_id: Id<{name}>; _creationTime: number");
        let document = match table.document {
            Some(describe) => {
                let fields = describe();
                declared.add(&fields.declarations)?;
                format!("{{ {system_fields} }} & {}", fold_doc_blocks(&fields.expr))
            }
            None => format!("{{ {system_fields}; [field: string]: any }}"),
        };
        let mut indexes = format!(
            "{}: [\"_creationTime\"]; {}: [\"_id\"]",
            BY_CREATION_TIME, BY_ID
        );
        for index in &table.indexes {
            let fields: Vec<String> = index
                .fields
                .iter()
                .map(|f| quote(f))
                .chain(["\"_creationTime\"".to_string()])
                .collect();
            write!(indexes, "; {}: [{}]", index.name, fields.join(", ")).unwrap();
        }
        writeln!(
            entries,
            "  {}: TableInfo<\n    {document},\n    {{ {indexes} }}\n  >;",
            property(&table.name)
        )
        .unwrap();
    }

    let text = format!(
        r#"{HEADER}
import type {{ GenericId }} from "convex/values";

{exports}
/** A table's documents and indexes, in the shape `convex/server`'s `GenericDataModel` takes. */
type TableInfo<Document, Indexes> = {{
  document: Document;
  fieldPaths: keyof Document & string;
  indexes: Indexes;
  searchIndexes: {{}};
  vectorIndexes: {{}};
}};

/** Every table the app declares (Keel's own system tables are not readable by clients). */
export type DataModel = {{
{entries}}};

/** The names of all of the tables. */
export type TableNames = keyof DataModel & string;

/** The type of a document stored in this table. */
export type Doc<TableName extends TableNames> = DataModel[TableName]["document"];

/** An identifier for a document in this table: a string no other table's id can pass for. */
export type Id<TableName extends TableNames> = GenericId<TableName>;

/** A document of any table, as the functions that read every table return it. */
export type AnyDocument = {{ _id: string; _creationTime: number; [field: string]: any }};
"#,
        exports = declared.exports(&Declarations::default()),
    );
    Ok(DataModel { text, declared })
}

/// A string literal (JSON's quoting is TypeScript's).
pub(crate) fn quote(text: &str) -> String {
    serde_json::to_string(text).expect("a string serializes")
}

/// An object key: bare when it is an identifier, quoted otherwise.
pub(crate) fn property(name: &str) -> String {
    let mut chars = name.chars();
    let identifier = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if identifier {
        name.to_string()
    } else {
        quote(name)
    }
}
