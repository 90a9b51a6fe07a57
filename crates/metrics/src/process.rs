//! The process's own figures, read at each scrape.

use crate::Sampled;

/// Resident memory, from `/proc/self/status`. Elsewhere than Linux the gauge stays at 0.
pub(crate) fn sample(sampled: &Sampled) {
    if let Some(bytes) = resident_bytes() {
        sampled.resident_memory_bytes.set(bytes);
    }
}

/// `VmRSS` is in kB whatever the page size (`/proc/self/statm` counts pages, whose size
/// would need `sysconf`: `unsafe` FFI, forbidden in this workspace).
fn resident_bytes() -> Option<i64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: i64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
