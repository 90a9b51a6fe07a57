//! Named TypeScript types the functions and documents use (ts-rs declarations), gathered once
//! per file and written as exports.

use std::collections::BTreeMap;

use crate::CodegenError;
use crate::docs::fold_doc_blocks;

/// Names the generated files define or import themselves.
const RESERVED: &[&str] = &[
    "AnyDocument",
    "DataModel",
    "Doc",
    "FunctionReference",
    "Id",
    "PaginationOptions",
    "PaginationResult",
    "TableNames",
];

/// Declarations by name.
#[derive(Default)]
pub(crate) struct Declarations {
    by_name: BTreeMap<String, String>,
}

impl Declarations {
    /// Adds what one type needs; the same name must always mean the same type.
    pub fn add(&mut self, found: &BTreeMap<String, String>) -> Result<(), CodegenError> {
        for (name, declaration) in found {
            if RESERVED.contains(&name.as_str()) {
                return Err(CodegenError::ReservedName { name: name.clone() });
            }
            match self.by_name.get(name) {
                Some(known) if known != declaration => {
                    return Err(CodegenError::NameClash { name: name.clone() });
                }
                Some(_) => {}
                None => {
                    self.by_name.insert(name.clone(), declaration.clone());
                }
            }
        }
        Ok(())
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.by_name.get(name).map(String::as_str)
    }

    /// `export type …;` for each, sorted by name, skipping those in `skip`.
    pub fn exports(&self, skip: &Declarations) -> String {
        let mut out = String::new();
        for (name, declaration) in &self.by_name {
            if skip.get(name) == Some(declaration.as_str()) {
                continue;
            }
            out.push_str("export ");
            out.push_str(&fold_doc_blocks(declaration.trim()));
            out.push('\n');
        }
        out
    }
}
