//! The most that libraries which print wire traffic may log. Each cap sits just below the
//! level at which the target prints payloads or headers, so what it logs above stays.

use tracing_subscriber::filter::{LevelFilter, Targets};

/// `(target prefix, highest level allowed)`, and why.
const CAPS: &[(&str, LevelFilter)] = &[
    // At trace, tungstenite prints every WebSocket message as text and every frame's payload
    // in hex: the client's `Authenticate` message carries the user's JWT. Its debug lines
    // (handshake done, close frames) carry none.
    ("tungstenite", LevelFilter::DEBUG),
    // When a reqwest client has `connection_verbose` on, this target prints every byte read
    // and written, `Authorization` headers included (the Backend API's secret key).
    ("reqwest::connect::verbose", LevelFilter::OFF),
];

/// A filter that passes everything but what the caps hold back.
pub(super) fn caps() -> Targets {
    Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_targets(CAPS.iter().copied())
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::*;

    #[test]
    fn wire_targets_are_capped_and_the_rest_pass() {
        let caps = caps();
        assert!(!caps.would_enable("tungstenite::protocol", &Level::TRACE));
        assert!(!caps.would_enable("tungstenite::protocol::frame", &Level::TRACE));
        assert!(caps.would_enable("tungstenite::protocol", &Level::DEBUG));
        assert!(!caps.would_enable("reqwest::connect::verbose", &Level::ERROR));
        assert!(caps.would_enable("reqwest::connect", &Level::TRACE));
        assert!(caps.would_enable("tokio_tungstenite::compat", &Level::TRACE));
        assert!(caps.would_enable("keel_sync::session", &Level::TRACE));
    }
}
