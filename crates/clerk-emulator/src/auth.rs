//! Backend API authorization as a handler argument: a handler that takes
//! [`SecretKey`] cannot run without a valid `Authorization: Bearer sk_…`.

use std::sync::Arc;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::emulator::Emulator;
use crate::error::EmulatorError;

/// Proof that the request presented the instance's secret key.
pub(crate) struct SecretKey;

impl FromRequestParts<Arc<Emulator>> for SecretKey {
    type Rejection = EmulatorError;

    async fn from_request_parts(
        parts: &mut Parts,
        emulator: &Arc<Emulator>,
    ) -> Result<Self, Self::Rejection> {
        let presented = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or_else(EmulatorError::unauthorized)?;
        // Constant time, so response timing does not reveal the key's prefix.
        verify_slices_are_equal(presented.as_bytes(), emulator.secret_key().as_bytes())
            .map_err(|_| EmulatorError::unauthorized())?;
        Ok(SecretKey)
    }
}
