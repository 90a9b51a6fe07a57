//! `keel dev` on an address other machines reach: its emulator signs anyone in as anyone, so
//! it says so loudly at start (docs/SECURITY.md, known gap 7).

use crate::binary::{keel, start_dev, start_keel};

const WARNING: &str = "keel dev is listening on an address other machines can reach";

#[test]
fn dev_on_a_reachable_address_warns_that_anyone_can_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = keel(dir.path());
    command
        .args(["dev"])
        .env("KEEL_LOG", "info")
        .env("KEEL_LISTEN", "0.0.0.0:0");
    let running = start_keel(command);
    let line = running.log_line(&[WARNING]);
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains("KEEL_LISTEN"), "the fix is named: {line}");
}

#[test]
fn dev_on_loopback_does_not_warn() {
    let dir = tempfile::tempdir().unwrap();
    let running = start_dev(dir.path(), "info");
    // Logged after the bind, so once it is there the warning would be too.
    running.log_line(&["open-files limit"]);
    assert!(!running.logs().contains(WARNING), "{}", running.logs());
}
