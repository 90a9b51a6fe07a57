//! Why a webhook body is not a Clerk event, in words fit for a 400 answer.

use serde_json::error::Category;

/// Serde messages can quote a value from the body (`invalid type: string
/// "…"`); cap them so an answer or a log line never carries much of it.
const MAX_DETAIL_CHARS: usize = 160;

/// A body that could not be read as a Clerk event. The message says where and
/// why (`malformed JSON: expected value at line 1 column 5`, `invalid event:
/// missing field \`type\` at line 1 column 40`) and never holds the whole body.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    message: String,
}

impl ParseError {
    /// The same text as `Display`.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The body is not JSON, or its envelope is not an event.
    pub(crate) fn envelope(error: &serde_json::Error) -> Self {
        let message = match error.classify() {
            // serde_json's syntax messages name only the problem and position.
            Category::Syntax | Category::Eof => format!("malformed JSON: {error}"),
            Category::Data | Category::Io => format!("invalid event: {}", cap(&error.to_string())),
        };
        ParseError { message }
    }

    /// `data` does not have the shape its `type` promises.
    pub(crate) fn data(
        event_type: &str,
        error: &serde_path_to_error::Error<serde_json::Error>,
    ) -> Self {
        let detail = cap(&error.inner().to_string());
        let path = error.path().to_string();
        // The path is "." when the error is about `data` itself.
        let message = if path == "." {
            format!("invalid {event_type} data: {detail}")
        } else {
            format!("invalid {event_type} data at `data.{path}`: {detail}")
        };
        ParseError { message }
    }
}

impl ParseError {
    /// An id (or another field) at `data.{path}` that parses but cannot be applied.
    pub(crate) fn field(event_type: &str, path: &str, problem: &str) -> Self {
        ParseError {
            message: format!("invalid {event_type} data at `data.{path}`: {problem}"),
        }
    }
}

fn cap(text: &str) -> String {
    match text.char_indices().nth(MAX_DETAIL_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_keeps_short_text_and_cuts_long_text_on_a_char_boundary() {
        assert_eq!(cap("short"), "short");
        let long = "é".repeat(MAX_DETAIL_CHARS + 10);
        let capped = cap(&long);
        assert_eq!(capped.chars().count(), MAX_DETAIL_CHARS + 1);
        assert!(capped.ends_with('…'));
    }
}
