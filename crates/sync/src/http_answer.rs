//! One-off HTTP queries answer the same cached outcome many times. Rendering it (exporting the
//! value to the requested format and serializing the response JSON) cost more than the rest of
//! the cache hit, so each outcome carries its rendered bodies, made once per format on first
//! use. They are tied to the outcome's `Arc`: a changed result is a new outcome with empty
//! slots, so stale bytes are never served.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use keel_values::format::ValueFormat;

use crate::manager::QueryOutcome;

/// A cached query outcome with its response bodies, rendered lazily per format.
#[derive(Debug)]
pub struct HttpAnswer {
    outcome: Arc<QueryOutcome>,
    bodies: [OnceLock<Bytes>; 2],
}

impl HttpAnswer {
    pub fn new(outcome: Arc<QueryOutcome>) -> Self {
        HttpAnswer {
            outcome,
            bodies: [OnceLock::new(), OnceLock::new()],
        }
    }

    pub fn outcome(&self) -> &Arc<QueryOutcome> {
        &self.outcome
    }

    /// The response body in `format`: `render` runs once per format, later calls share its bytes.
    pub fn body(
        &self,
        format: ValueFormat,
        render: impl FnOnce(&QueryOutcome, ValueFormat) -> Bytes,
    ) -> Bytes {
        let slot = match format {
            ValueFormat::ConvexEncodedJson => 0,
            ValueFormat::Json => 1,
        };
        self.bodies[slot]
            .get_or_init(|| render(&self.outcome, format))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_once_per_format() {
        let answer = HttpAnswer::new(Arc::new(QueryOutcome::value(json!(1))));
        let mut calls = 0;
        let mut render = |_: &QueryOutcome, format: ValueFormat| {
            calls += 1;
            Bytes::from(format!("{format:?}"))
        };
        let first = answer.body(ValueFormat::Json, &mut render);
        let again = answer.body(ValueFormat::Json, &mut render);
        let encoded = answer.body(ValueFormat::ConvexEncodedJson, &mut render);
        assert_eq!(first, again);
        assert_ne!(first, encoded);
        assert_eq!(calls, 2);
    }
}
