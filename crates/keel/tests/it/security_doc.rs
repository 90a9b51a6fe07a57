//! `docs/SECURITY.md` names, for each defence, the tests that prove it: `path::test_name` for a
//! Rust test, `path::"title"` for a Node test. Every citation must name a file that exists and
//! a test in it, so renaming or removing a cited test fails here until the document says what
//! proves the defence now. Other repository paths it names must exist too.

use std::path::{Path, PathBuf};

const DOC: &str = include_str!("../../../../docs/SECURITY.md");

/// Folders a repository path in the document starts with.
const ROOTS: [&str; 6] = ["crates/", "tests/", "docs/", "scripts/", "bench/", "ui/"];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The inline code spans of one line. A line with an odd number of backticks would let a span
/// run on to the next line, where a citation could hide from this test: it is refused.
fn code_spans(number: usize, line: &str) -> Vec<&str> {
    let parts: Vec<&str> = line.split('`').collect();
    assert!(
        parts.len() % 2 == 1,
        "docs/SECURITY.md line {number}: a code span must not continue on the next line: {line}"
    );
    parts.into_iter().skip(1).step_by(2).collect()
}

/// Whether `name` is a test in the Rust source `text`: a function marked `#[test]` or
/// `#[tokio::test…]` (also inside `proptest!`), or one run by `engine_tests!` on both engines.
fn is_rust_test(text: &str, name: &str) -> bool {
    let Some(at) = text.find(&format!("fn {name}(")) else {
        return false;
    };
    // The attributes between the previous item's end (a line ending in `}` or `;`) and this
    // function.
    let before = &text[..at];
    let item_start = ["}\n", ";\n"]
        .iter()
        .filter_map(|end| before.rfind(end).map(|i| i + end.len()))
        .max()
        .unwrap_or(0);
    let attributes = &before[item_start..];
    if attributes.contains("#[test]") || attributes.contains("#[tokio::test") {
        return true;
    }
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    compact.contains(&format!("engine_tests!({name})"))
        || compact.contains(&format!("engine_tests!({name},"))
}

#[test]
fn every_test_this_document_cites_exists() {
    let root = repo_root();
    let mut cited = 0;
    let mut problems = Vec::new();
    for (index, line) in DOC.lines().enumerate() {
        let number = index + 1;
        for span in code_spans(number, line) {
            if !ROOTS.iter().any(|root| span.starts_with(root)) {
                continue;
            }
            let (path, test) = match span.split_once("::") {
                Some((path, test)) => (path, Some(test)),
                None => (span, None),
            };
            let file = root.join(path);
            if !file.exists() {
                problems.push(format!("line {number}: `{path}` does not exist"));
                continue;
            }
            let Some(test) = test else { continue };
            cited += 1;
            let text = std::fs::read_to_string(&file)
                .unwrap_or_else(|err| panic!("line {number}: reading {path}: {err}"));
            let found = match test.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
                // Node: `test("title", …)`.
                Some(title) => text.contains(&format!("test(\"{title}\"")),
                None => {
                    assert!(
                        test.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                        "line {number}: `{span}` is neither `path::test_name` nor `path::\"title\"`"
                    );
                    is_rust_test(&text, test)
                }
            };
            if !found {
                problems.push(format!("line {number}: no test `{test}` in {path}"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "docs/SECURITY.md cites what is not there:\n{}",
        problems.join("\n")
    );
    // A change in how citations are written must not make this test pass by finding none.
    assert!(
        cited >= 80,
        "only {cited} tests cited: is the format still `path::test`?"
    );
}

#[test]
fn the_checker_tells_tests_from_other_functions() {
    let source = "#[test]\nfn plain() {}\n\n#[tokio::test(flavor = \"multi_thread\")]\nasync fn on_tokio() {}\n\nfn helper() {}\n\nasync fn on_both(engine: Engine) {}\nengine_tests!(\n    on_both,\n    flavor = \"multi_thread\"\n);\n";
    for name in ["plain", "on_tokio", "on_both"] {
        assert!(is_rust_test(source, name), "{name}");
    }
    for name in ["helper", "missing", "plai"] {
        assert!(!is_rust_test(source, name), "{name}");
    }
}
