//! Owner-only files written so that a crash never leaves a half-written one.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::EmulatorError;

/// Creates the emulator's folder, readable by its owner only (it holds the
/// signing key and users' private metadata).
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), EmulatorError> {
    fs::create_dir_all(dir).map_err(|e| EmulatorError::io("creating", dir, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| EmulatorError::io("restricting", dir, e))?;
    }
    Ok(())
}

/// Writes `bytes` to a mode-0600 sibling temp file and syncs it, returning its path.
fn write_temp(path: &Path, bytes: &[u8]) -> Result<PathBuf, EmulatorError> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    // A random suffix: two writers never share a temp file.
    name.push(format!(".tmp-{}", crate::ids::random_base62(8)));
    let tmp = path.with_file_name(name);
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file: File = options
        .open(&tmp)
        .map_err(|e| EmulatorError::io("creating", &tmp, e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| EmulatorError::io("writing", &tmp, e))?;
    Ok(tmp)
}

/// Replaces `path` atomically: readers see the old file or the new one.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), EmulatorError> {
    let tmp = write_temp(path, bytes)?;
    fs::rename(&tmp, path).map_err(|e| EmulatorError::io("renaming into", path, e))
}

/// Writes `path` only if it does not exist yet. Returns false when another
/// writer got there first, so two processes starting together agree on one
/// file (a hard link, unlike rename, fails when the target exists).
pub(crate) fn write_new(path: &Path, bytes: &[u8]) -> Result<bool, EmulatorError> {
    let tmp = write_temp(path, bytes)?;
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(EmulatorError::io("creating", path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_and_create_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert!(!write_new(&path, b"three").unwrap());
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let fresh = dir.path().join("g");
        assert!(write_new(&fresh, b"g").unwrap());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&fresh).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // No temp files left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
