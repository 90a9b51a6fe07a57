//! The open-files limit. Every connection is a file descriptor, and the soft limit is often
//! 1,024 while the hard limit allows far more; Keel raises the soft limit to the hard one at
//! start and derives its default connection cap from the result.

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the soft limit now in force, or
/// `None` where the platform has no such limit.
pub(crate) fn raise() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => Some(limit),
        Err(err) => {
            tracing::warn!(%err, "could not raise the open-files limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE)
                .ok()
                .map(|(soft, _)| soft)
        }
    }
}

/// Descriptors kept for everything but client connections: the database, its WAL and read
/// connections, outgoing requests (JWKS, Clerk's Backend API, webhook delivery) and logs. A
/// quarter of the limit, at most 1,024.
fn reserve(limit: u64) -> u64 {
    (limit / 4).min(1024)
}

/// The default for `KEEL_MAX_CONNECTIONS`: the open-files limit less the reserve, so that at
/// the cap `accept` still succeeds and the database can still open files. Without a known
/// limit, 10,000.
pub(crate) fn default_max_connections(limit: Option<u64>) -> usize {
    match limit {
        Some(limit) => usize::try_from(limit - reserve(limit)).unwrap_or(usize::MAX),
        None => 10_000,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_cap_leaves_a_reserve_below_the_file_limit() {
        assert_eq!(default_max_connections(Some(1024)), 768);
        assert_eq!(default_max_connections(Some(20_000)), 18_976);
        assert_eq!(default_max_connections(Some(1 << 20)), (1 << 20) - 1024);
        assert_eq!(default_max_connections(None), 10_000);
    }
}
