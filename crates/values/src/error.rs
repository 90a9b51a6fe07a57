//! The one error type of value decoding; its message is what a client gets to see.

/// A value could not be decoded or checked. `Display` is the bare message, worded like the
/// official client's own errors so that both sides report a bad value the same way.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ValueError {
    message: String,
}

impl ValueError {
    pub fn new(message: impl Into<String>) -> ValueError {
        ValueError {
            message: message.into(),
        }
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Quotes untrusted input for an error message, cut short so a huge input cannot bloat it.
pub(crate) fn quote_input(input: &str) -> String {
    const MAX_CHARS: usize = 64;
    match input.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{:?}…", &input[..cut]),
        None => format!("{input:?}"),
    }
}
