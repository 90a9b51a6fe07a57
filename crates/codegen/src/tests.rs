use keel_functions::{Doc, Id, MutationCtx, NoArgs, QueryCtx, Registry, TS, TableDocument};
use keel_store::{Schema, TableDef};
use serde::{Deserialize, Serialize};

use crate::{CodegenError, check, generate, write};

#[derive(TS)]
#[ts(rename_all = "camelCase")]
#[allow(dead_code)]
struct ThingDoc {
    owner_id: String,
    size: Option<i64>,
    kind: Kind,
}

impl TableDocument for ThingDoc {
    const TABLE: &'static str = "things";
}

#[derive(Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Small,
    Large,
}

#[derive(Deserialize, TS)]
#[allow(dead_code)]
struct GetArgs {
    id: Id<ThingDoc>,
}

#[derive(Serialize, TS)]
#[serde(rename_all = "camelCase")]
struct Summary {
    total: u64,
    kind: Kind,
}

fn schema() -> Schema {
    Schema::new()
        .table(
            TableDef::new("things")
                .document::<ThingDoc>()
                .index("by_owner", &["ownerId"]),
        )
        .table(TableDef::new("loose"))
        .table(TableDef::system("_hidden"))
}

fn registry() -> Registry {
    let mut registry = Registry::new();
    registry
        .query("things:get", |_: QueryCtx, _: GetArgs| async move {
            Ok(None::<Doc<ThingDoc>>)
        })
        .query("dir/nested:summary", |_: QueryCtx, _: NoArgs| async move {
            Ok(Summary {
                total: 0,
                kind: Kind::Small,
            })
        })
        .mutation(
            "things:clear",
            |_: MutationCtx, _: NoArgs| async move { Ok(()) },
        )
        .internal_mutation("things:secret", |_: MutationCtx, _: NoArgs| async move {
            Ok(())
        });
    registry
}

fn file<'a>(files: &'a [crate::GeneratedFile], name: &str) -> &'a str {
    &files.iter().find(|f| f.name == name).unwrap().contents
}

#[test]
fn public_functions_are_typed_from_their_rust_types() {
    let files = generate(&registry(), &schema()).unwrap();
    let api = file(&files, "api.d.ts");
    assert!(
        api.contains(
            r#"get: FunctionReference<"query", "public", { id: Id<"things">, }, Doc<"things"> | null>;"#
        ),
        "{api}"
    );
    assert!(
        api.contains(
            r#"clear: FunctionReference<"mutation", "public", Record<string, never>, null>;"#
        ),
        "{api}"
    );
    // Nested modules nest; named result types are declared; shared ones come from dataModel.
    assert!(api.contains("  dir: {\n    nested: {\n      summary: FunctionReference<\"query\", \"public\", Record<string, never>, Summary>;"), "{api}");
    assert!(
        api.contains("export type Summary = { total: number, kind: Kind, };"),
        "{api}"
    );
    assert!(
        api.contains(r#"import type { AnyDocument, Doc, Id, Kind } from "./dataModel.js";"#),
        "{api}"
    );
    assert!(
        !api.contains("secret"),
        "internal functions stay out of `api`: {api}"
    );
    assert!(file(&files, "api.js").contains("export const api = anyApi;"));
}

#[test]
fn the_data_model_follows_the_schema() {
    let files = generate(&registry(), &schema()).unwrap();
    let model = file(&files, "dataModel.d.ts");
    assert!(
        model.contains(r#"{ _id: Id<"things">; _creationTime: number } & { ownerId: string, size: number | null, kind: Kind, }"#),
        "{model}"
    );
    assert!(
        model.contains(r#"by_owner: ["ownerId", "_creationTime"]"#),
        "{model}"
    );
    assert!(
        model.contains(r#"{ _id: Id<"loose">; _creationTime: number; [field: string]: any }"#),
        "{model}"
    );
    assert!(
        model.contains(r#"export type Kind = "small" | "large";"#),
        "{model}"
    );
    assert!(
        !model.contains("_hidden"),
        "system tables stay out: {model}"
    );
}

#[test]
fn one_name_for_two_shapes_is_refused() {
    mod other {
        use keel_functions::TS;
        #[derive(serde::Serialize, TS)]
        pub struct Summary {
            pub different: bool,
        }
    }
    let mut registry = registry();
    registry.query("more:summary", |_: QueryCtx, _: NoArgs| async move {
        Ok(other::Summary { different: true })
    });
    match generate(&registry, &schema()) {
        Err(CodegenError::NameClash { name }) => assert_eq!(name, "Summary"),
        other => panic!("expected a name clash, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn a_function_and_a_module_on_one_path_are_refused() {
    let mut registry = registry();
    registry.query("dir:nested", |_: QueryCtx, _: NoArgs| async move { Ok(()) });
    assert!(matches!(
        generate(&registry, &schema()),
        Err(CodegenError::BadPath { .. })
    ));
}

#[test]
fn check_reports_missing_and_stale_files_until_written() {
    let dir = tempfile::tempdir().unwrap();
    let files = generate(&registry(), &schema()).unwrap();
    assert_eq!(check(dir.path(), &files).len(), 3);
    write(dir.path(), &files).unwrap();
    assert!(check(dir.path(), &files).is_empty());
    std::fs::write(dir.path().join("api.d.ts"), "stale").unwrap();
    assert_eq!(check(dir.path(), &files), vec![dir.path().join("api.d.ts")]);
}
