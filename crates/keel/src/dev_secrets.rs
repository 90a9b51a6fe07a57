//! Secrets `keel dev` generates when the environment does not fix them, kept in the data
//! folder (mode 0600) so restarts and `keel token` use the same ones.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

pub const CLERK_SECRET_KEY_FILE: &str = "clerk-secret-key";
pub const CLERK_WEBHOOK_SECRET_FILE: &str = "clerk-webhook-secret";

/// A Svix-style signing secret: `whsec_` and 24 random bytes in base64.
pub fn generate_webhook_secret() -> String {
    use base64::Engine as _;
    let bytes: [u8; 24] = rand::random();
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

pub struct DevSecret {
    pub value: String,
    /// Made just now: printed once so the user can copy it.
    pub generated: bool,
}

/// The value from the environment, else the one stored in `data_dir`, else a new one.
pub fn load_or_create(
    data_dir: &Path,
    file: &str,
    from_env: Option<String>,
    generate: impl FnOnce() -> String,
) -> anyhow::Result<DevSecret> {
    if let Some(value) = from_env.filter(|v| !v.trim().is_empty()) {
        return Ok(DevSecret {
            value: value.trim().to_string(),
            generated: false,
        });
    }
    let path = data_dir.join(file);
    if let Ok(stored) = std::fs::read_to_string(&path) {
        let stored = stored.trim().to_string();
        if !stored.is_empty() {
            return Ok(DevSecret {
                value: stored,
                generated: false,
            });
        }
    }
    let value = generate();
    write_private(&path, &value)?;
    Ok(DevSecret {
        value,
        generated: true,
    })
}

pub fn read(data_dir: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(data_dir.join(file))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn write_private(path: &PathBuf, value: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(value.as_bytes())?;
    Ok(())
}
