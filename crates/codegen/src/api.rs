//! `api.d.ts` and `api.js`: `api.<module>.<function>` for every public function.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use keel_functions::{FunctionKind, Registry, Visibility};

use crate::data_model::property;
use crate::declarations::Declarations;
use crate::docs::fold_doc_blocks;
use crate::{CodegenError, HEADER};

pub(crate) struct Api {
    pub types: String,
    pub script: String,
}

/// `api`'s shape: modules hold functions and modules.
#[derive(Default)]
struct Module {
    children: BTreeMap<String, Member>,
}

enum Member {
    Module(Module),
    Function(String),
}

pub(crate) fn render(registry: &Registry, model: &Declarations) -> Result<Api, CodegenError> {
    let mut declared = Declarations::default();
    let mut root = Module::default();
    for function in registry.signatures() {
        if function.visibility != Visibility::Public {
            continue;
        }
        declared.add(&function.types.args.declarations)?;
        declared.add(&function.types.returns.declarations)?;
        let kind = match function.kind {
            FunctionKind::Query => "query",
            FunctionKind::Mutation => "mutation",
            FunctionKind::Action => "action",
        };
        let reference = format!(
            "FunctionReference<\"{kind}\", \"public\", {}, {}>",
            fold_doc_blocks(&function.types.args.expr),
            fold_doc_blocks(&function.types.returns.expr)
        );
        insert(&mut root, &function.path, reference)?;
    }

    // Types the data model declares too are imported from it, not declared twice.
    let mut shared = Vec::new();
    for name in declared.names() {
        match model.get(name) {
            Some(theirs) if Some(theirs) == declared.get(name) => shared.push(name.to_string()),
            Some(_) => return Err(CodegenError::NameClash { name: name.into() }),
            None => {}
        }
    }
    let mut from_model = vec!["AnyDocument".to_string(), "Doc".into(), "Id".into()];
    from_model.extend(shared);
    from_model.sort();

    let mut body = String::new();
    render_module(&root, 1, &mut body);
    let types = format!(
        r#"{HEADER}
import type {{ FunctionReference, PaginationOptions, PaginationResult }} from "convex/server";
import type {{ {imports} }} from "./dataModel.js";

{exports}
/**
 * A utility for referencing Keel functions in your app's API.
 *
 * Usage:
 * ```js
 * const myFunctionReference = api.myModule.myFunction;
 * ```
 */
export declare const api: {{
{body}}};
"#,
        imports = from_model.join(", "),
        exports = declared.exports(model),
    );
    let script = format!(
        r#"{HEADER}
import {{ anyApi }} from "convex/server";

/**
 * A utility for referencing Keel functions in your app's API: property paths become
 * function names at run time (`api.chats.get` is "chats:get").
 */
export const api = anyApi;
"#
    );
    Ok(Api { types, script })
}

/// Places `path` (`dir/module:function`) in the tree.
fn insert(root: &mut Module, path: &str, reference: String) -> Result<(), CodegenError> {
    let bad = |reason: &str| CodegenError::BadPath {
        path: path.to_string(),
        reason: reason.to_string(),
    };
    let (module, function) = path.split_once(':').ok_or_else(|| bad("no `:`"))?;
    let mut segments: Vec<&str> = module.split('/').collect();
    segments.push(function);
    if segments.iter().any(|s| s.is_empty()) {
        return Err(bad("an empty segment"));
    }
    let (last, parents) = segments.split_last().expect("at least the function");
    let mut node = root;
    for segment in parents {
        let member = node
            .children
            .entry(segment.to_string())
            .or_insert_with(|| Member::Module(Module::default()));
        node = match member {
            Member::Module(module) => module,
            Member::Function(_) => return Err(bad("a function has the same path as a module")),
        };
    }
    if node.children.contains_key(*last) {
        return Err(bad("a module has the same path as this function"));
    }
    node.children
        .insert(last.to_string(), Member::Function(reference));
    Ok(())
}

fn render_module(module: &Module, depth: usize, out: &mut String) {
    let indent = "  ".repeat(depth);
    for (name, member) in &module.children {
        match member {
            Member::Function(reference) => {
                writeln!(out, "{indent}{}: {reference};", property(name)).unwrap();
            }
            Member::Module(inner) => {
                writeln!(out, "{indent}{}: {{", property(name)).unwrap();
                render_module(inner, depth + 1, out);
                writeln!(out, "{indent}}};").unwrap();
            }
        }
    }
}
