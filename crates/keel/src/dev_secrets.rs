//! Secrets `keel dev` generates when the environment does not fix them, kept in the data
//! folder (mode 0600) so restarts and `keel token` use the same ones; and the address of the
//! running `keel dev`, kept there too so `keel token` finds it from the folder alone.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

pub const CLERK_SECRET_KEY_FILE: &str = "clerk-secret-key";
pub const CLERK_WEBHOOK_SECRET_FILE: &str = "clerk-webhook-secret";
/// The base URL of the `keel dev` running on the folder, written at its start and removed at
/// its stop.
pub const DEV_URL_FILE: &str = "dev-url";

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

/// Notes where this `keel dev` listens, for `keel token` and `keel webhooks test`.
pub fn write_dev_url(data_dir: &Path, url: &str) -> anyhow::Result<()> {
    let path = data_dir.join(DEV_URL_FILE);
    std::fs::write(&path, format!("{url}\n")).with_context(|| format!("writing {}", path.display()))
}

/// Forgets this `keel dev`'s address at its stop (unless another start has replaced it).
pub fn remove_dev_url(data_dir: &Path, url: &str) {
    if read(data_dir, DEV_URL_FILE).as_deref() == Some(url) {
        let _ = std::fs::remove_file(data_dir.join(DEV_URL_FILE));
    }
}

/// The base URL of the running `keel dev` whose data folder is `data_dir`; when there is none,
/// the error says how to name one: `--data-dir`, or `other_way` (the command's own flag).
pub fn find_dev(data_dir: &Path, other_way: &str) -> anyhow::Result<String> {
    read(data_dir, DEV_URL_FILE).with_context(|| {
        format!(
            "no running `keel dev` found: {} does not exist (a running `keel dev` writes it into its data folder). Start `keel dev` first, or name a running one with --data-dir (KEEL_DATA_DIR, default {}) set to its data folder, or with {other_way}",
            data_dir.join(DEV_URL_FILE).display(),
            crate::settings::DEFAULT_DATA_DIR
        )
    })
}
