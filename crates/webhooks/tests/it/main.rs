//! One integration-test binary for keel-webhooks (one link step for all files).

mod clerk_examples;
mod envelope;
mod openapi;
mod properties;
mod signature;
mod support;
