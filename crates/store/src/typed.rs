//! Types for the TypeScript API that `keel codegen` writes: a table's document type, typed
//! documents and ids, and the TypeScript names of the store's own types. None of them changes
//! what goes over the wire: a `Doc<D>` serializes as its document and an `Id<D>` as its string.
//!
//! Names such as `Doc<"chats">`, `Id<"chats">`, `PaginationOptions` and `PaginationResult<T>`
//! are the ones a Convex project uses; the generated files import them from `dataModel.d.ts`
//! and `convex/server`, so these types declare nothing themselves.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use ts_rs::{Config, TS, TypeVisitor};

use crate::{Document, PaginationOpts, PaginationResult};

/// The fields of one table's documents as function code writes them (without `_id` and
/// `_creationTime`). `TableDef::document` attaches it to the table, and its TypeScript becomes
/// the table's `Doc` in `dataModel.d.ts`. It describes; it does not validate writes.
pub trait TableDocument: TS + 'static {
    const TABLE: &'static str;
}

/// A document of `D`'s table. It serializes exactly as the [`Document`] it holds; its
/// TypeScript is `Doc<"table">`.
pub struct Doc<D> {
    document: Document,
    _table: PhantomData<fn() -> D>,
}

impl<D: TableDocument> Doc<D> {
    /// Marks `document` as one of `D`'s table (the caller read it from that table).
    pub fn new(document: Document) -> Self {
        Doc {
            document,
            _table: PhantomData,
        }
    }
}

impl<D> Doc<D> {
    pub fn document(&self) -> &Document {
        &self.document
    }

    pub fn into_document(self) -> Document {
        self.document
    }
}

impl<D> Clone for Doc<D> {
    fn clone(&self) -> Self {
        Doc {
            document: self.document.clone(),
            _table: PhantomData,
        }
    }
}

impl<D> fmt::Debug for Doc<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.document.fmt(f)
    }
}

impl<D> Serialize for Doc<D> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.document.serialize(serializer)
    }
}

/// An id of `D`'s table, as the string a client holds; TypeScript `Id<"table">`, so a client
/// cannot pass another table's id (or any string) without a cast. Decoding does not check it:
/// the function normalizes it, and decides what a wrong id means (usually `NOT_FOUND`).
pub struct Id<D> {
    id: String,
    _table: PhantomData<fn() -> D>,
}

impl<D> Id<D> {
    pub fn as_str(&self) -> &str {
        &self.id
    }
}

impl<D> Clone for Id<D> {
    fn clone(&self) -> Self {
        Id {
            id: self.id.clone(),
            _table: PhantomData,
        }
    }
}

impl<D> fmt::Debug for Id<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.id.fmt(f)
    }
}

impl<D> fmt::Display for Id<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

impl<D> From<String> for Id<D> {
    fn from(id: String) -> Self {
        Id {
            id,
            _table: PhantomData,
        }
    }
}

impl<D> Serialize for Id<D> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.id.serialize(serializer)
    }
}

impl<'de, D> Deserialize<'de> for Id<D> {
    fn deserialize<De: Deserializer<'de>>(deserializer: De) -> Result<Self, De::Error> {
        String::deserialize(deserializer).map(Id::from)
    }
}

/// TypeScript for one Rust type: the expression that names it, and the declarations of the
/// named types it uses (by name; `keel codegen` writes each once).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TsType {
    pub expr: String,
    pub declarations: BTreeMap<String, String>,
}

impl TsType {
    /// How Keel's values reach JavaScript: integers travel as JSON numbers (not `$integer`), so
    /// 64-bit integers are `number`, not `bigint`.
    pub fn config() -> Config {
        Config::new().with_large_int("number")
    }

    /// `T` written out in place (an object literal for a struct): for arguments and documents,
    /// whose Rust names mean nothing to a client.
    pub fn inline<T: TS + 'static + ?Sized>() -> Self {
        let cfg = Self::config();
        let mut declarations = Declarations::new(&cfg);
        T::visit_dependencies(&mut declarations);
        T::visit_generics(&mut declarations);
        TsType {
            expr: T::inline(&cfg),
            declarations: declarations.found,
        }
    }

    /// `T` by name, declared (with everything it uses) when it is a type of its own.
    pub fn named<T: TS + 'static + ?Sized>() -> Self {
        let cfg = Self::config();
        let mut declarations = Declarations::new(&cfg);
        declarations.visit::<T>();
        T::visit_generics(&mut declarations);
        TsType {
            expr: T::name(&cfg),
            declarations: declarations.found,
        }
    }
}

/// Collects the declaration of every type with one that a type reaches.
struct Declarations<'a> {
    cfg: &'a Config,
    found: BTreeMap<String, String>,
}

impl<'a> Declarations<'a> {
    fn new(cfg: &'a Config) -> Self {
        Declarations {
            cfg,
            found: BTreeMap::new(),
        }
    }
}

impl TypeVisitor for Declarations<'_> {
    fn visit<T: TS + 'static + ?Sized>(&mut self) {
        // Derived types have an output path; built-in and imported names do not, and what
        // they are made of (`Vec<T>`'s `T`) is visited as their generics by whoever uses them.
        if T::output_path().is_none() {
            return;
        }
        let ident = T::ident(self.cfg);
        if self.found.contains_key(&ident) {
            return;
        }
        self.found.insert(ident, T::decl(self.cfg));
        T::visit_dependencies(self);
    }
}

/// A table name as a TypeScript string literal type.
fn literal(table: &str) -> String {
    serde_json::to_string(table).expect("a string serializes")
}

/// Implements `TS` for a type whose TypeScript name is imported, never declared.
macro_rules! imported_name {
    ($(impl<$($g:ident: $bound:path),*> for $ty:ty => |$cfg:ident| $name:expr;)*) => {$(
        impl<$($g: $bound),*> TS for $ty {
            type WithoutGenerics = Self;
            type OptionInnerType = Self;
            fn name($cfg: &Config) -> String {
                $name
            }
            fn inline(cfg: &Config) -> String {
                Self::name(cfg)
            }
        }
    )*};
}

imported_name! {
    impl<D: TableDocument> for Doc<D> => |_cfg| format!("Doc<{}>", literal(D::TABLE));
    impl<D: TableDocument> for Id<D> => |_cfg| format!("Id<{}>", literal(D::TABLE));
    impl<> for PaginationOpts => |_cfg| "PaginationOptions".to_string();
    // An untyped document (a table without a `TableDocument`, or any table).
    impl<> for Document => |_cfg| "AnyDocument".to_string();
}

impl<T: TS> TS for PaginationResult<T> {
    type WithoutGenerics = PaginationResult<ts_rs::Dummy>;
    type OptionInnerType = Self;

    fn name(cfg: &Config) -> String {
        format!("PaginationResult<{}>", T::name(cfg))
    }

    fn inline(cfg: &Config) -> String {
        format!("PaginationResult<{}>", T::inline(cfg))
    }

    fn visit_dependencies(v: &mut impl TypeVisitor)
    where
        Self: 'static,
    {
        T::visit_dependencies(v);
    }

    fn visit_generics(v: &mut impl TypeVisitor)
    where
        Self: 'static,
    {
        T::visit_generics(v);
        v.visit::<T>();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(TS)]
    struct Chat {
        #[allow(dead_code)]
        title: String,
    }

    impl TableDocument for Chat {
        const TABLE: &'static str = "chats";
    }

    #[test]
    fn typed_names_are_convex_names() {
        let cfg = Config::default();
        assert_eq!(Doc::<Chat>::name(&cfg), r#"Doc<"chats">"#);
        assert_eq!(Id::<Chat>::name(&cfg), r#"Id<"chats">"#);
        assert_eq!(
            PaginationResult::<Doc<Chat>>::name(&cfg),
            r#"PaginationResult<Doc<"chats">>"#
        );
        assert_eq!(PaginationOpts::name(&cfg), "PaginationOptions");
    }

    #[test]
    fn ids_are_plain_strings_on_the_wire() {
        let id: Id<Chat> = serde_json::from_str(r#""abc""#).unwrap();
        assert_eq!(id.as_str(), "abc");
        assert_eq!(serde_json::to_string(&id).unwrap(), r#""abc""#);
    }
}
