//! ts-rs writes a field's Rust doc comment as a multi-line JSDoc block in the middle of an
//! inline type; in a one-line `FunctionReference<…>` that reads badly. This folds each block
//! onto one line (`/** text */ field: type`), keeping the text for editors' hovers.

/// `text` with every JSDoc block folded onto one line.
pub(crate) fn fold_doc_blocks(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("/**") {
        let Some(len) = rest[start..].find("*/") else {
            break;
        };
        let block = &rest[start + 3..start + len];
        let words: Vec<&str> = block
            .lines()
            .map(|line| line.trim().trim_start_matches('*').trim())
            .filter(|line| !line.is_empty())
            .collect();
        out.push_str(rest[..start].trim_end_matches(['\n', ' ']));
        // A space after what came before, unless a block opens the text or a `(`/`<` list.
        if !out.is_empty() && !out.ends_with(['(', '<']) {
            out.push(' ');
        }
        out.push_str("/** ");
        out.push_str(&words.join(" "));
        out.push_str(" */ ");
        rest = rest[start + len + 2..].trim_start_matches(['\n', ' ']);
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::fold_doc_blocks;

    #[test]
    fn blocks_fold_onto_one_line() {
        let inline = "{ a: string, \n/**\n * The b.\n * More.\n */\nb: number, }";
        assert_eq!(
            fold_doc_blocks(inline),
            "{ a: string, /** The b. More. */ b: number, }"
        );
        let first = "{ \n/**\n * First.\n */\nx: T, }";
        assert_eq!(fold_doc_blocks(first), "{ /** First. */ x: T, }");
        assert_eq!(fold_doc_blocks("{ a: string, }"), "{ a: string, }");
    }
}
