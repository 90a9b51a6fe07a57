//! The rules for object keys, checked in the official client's order with its messages.

use crate::ValueError;

/// Longest key the client accepts, counted in UTF-16 units as JavaScript counts length.
pub const MAX_FIELD_NAME_LEN: usize = 1024;

/// Checks an object key as the client does on both encode and decode: at most 1024 long, not
/// starting with `$` (reserved for `$integer` and friends), only printable ASCII.
pub fn validate_field_name(name: &str) -> Result<(), ValueError> {
    if name.encode_utf16().count() > MAX_FIELD_NAME_LEN {
        return Err(ValueError::new(format!(
            "Field name {name} exceeds maximum field name length {MAX_FIELD_NAME_LEN}."
        )));
    }
    if name.starts_with('$') {
        return Err(ValueError::new(format!(
            "Field name {name} starts with a '$', which is reserved."
        )));
    }
    // The client names the offending UTF-16 unit; for a character outside the BMP that is
    // half a surrogate pair, which a Rust string cannot hold, so the whole character is named.
    if let Some(bad) = name.chars().find(|c| !(' '..='~').contains(c)) {
        return Err(ValueError::new(format!(
            "Field name {name} has invalid character '{bad}': Field names can only contain non-control ASCII characters"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(name: &str) -> String {
        validate_field_name(name).unwrap_err().message().to_owned()
    }

    #[test]
    fn accepts_printable_ascii() {
        validate_field_name("a").unwrap();
        validate_field_name("").unwrap();
        validate_field_name("_id a~!").unwrap();
        validate_field_name("a$").unwrap();
        validate_field_name(&"x".repeat(MAX_FIELD_NAME_LEN)).unwrap();
    }

    #[test]
    fn rejects_with_the_client_messages() {
        assert_eq!(
            message("$a"),
            "Field name $a starts with a '$', which is reserved."
        );
        assert_eq!(
            message("ké"),
            "Field name ké has invalid character 'é': Field names can only contain non-control ASCII characters"
        );
        assert_eq!(
            message("a\tb"),
            "Field name a\tb has invalid character '\t': Field names can only contain non-control ASCII characters"
        );
        assert_eq!(
            message("\u{7f}"),
            "Field name \u{7f} has invalid character '\u{7f}': Field names can only contain non-control ASCII characters"
        );
        let long = "x".repeat(MAX_FIELD_NAME_LEN + 1);
        assert_eq!(
            message(&long),
            format!("Field name {long} exceeds maximum field name length 1024.")
        );
    }

    #[test]
    fn rejected_vectors_of_the_client_apply_to_keys() {
        // values.json `rejected`: the two entries about keys (the others are JavaScript
        // types, a Set or a function, that a Rust `Value` cannot hold).
        let vectors: serde_json::Value =
            serde_json::from_str(&crate::test_vectors::read()).unwrap();
        let keys = [("key starting with $", "$a"), ("non-ASCII key", "ké")];
        for (name, key) in keys {
            let vector = vectors["rejected"]
                .as_array()
                .unwrap()
                .iter()
                .find(|v| v["name"] == name)
                .unwrap_or_else(|| panic!("no vector {name}"));
            assert_eq!(message(key), vector["error"].as_str().unwrap(), "{name}");
        }
    }
}
