//! Starting webhook delivery and reading its log.

use super::Emulator;
use crate::delivery::{self, DeliveryConfig, DeliveryRecord};
use crate::error::EmulatorError;

impl Emulator {
    /// Delivers every later change to `config.endpoint` as a Svix-signed
    /// Clerk webhook (see [`crate::delivery`]). Call it inside a Tokio
    /// runtime, at most once per emulator; changes made before it are not
    /// delivered. Errors name a bad endpoint or secret.
    pub fn start_webhook_delivery(&self, config: DeliveryConfig) -> Result<(), EmulatorError> {
        if self.deliveries.get().is_some() {
            return Err(already_started());
        }
        let (listener, log) = delivery::start(self.kid(), config)?;
        // Lost race with a concurrent start: dropping `listener` stops our task.
        self.deliveries.set(log).map_err(|_| already_started())?;
        self.add_listener(listener);
        Ok(())
    }

    /// Every message queued since delivery started (the oldest finished ones
    /// are forgotten past 1000), in change order. Empty if delivery is off.
    pub fn delivery_log(&self) -> Vec<DeliveryRecord> {
        self.deliveries
            .get()
            .map(|log| log.snapshot())
            .unwrap_or_default()
    }

    /// Whether webhook delivery was started.
    pub fn delivers_webhooks(&self) -> bool {
        self.deliveries.get().is_some()
    }
}

fn already_started() -> EmulatorError {
    EmulatorError::Config("webhook delivery is already started".into())
}
