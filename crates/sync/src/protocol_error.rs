//! Why a session ends with a `FatalError`: the client broke the protocol. Convex's
//! `FatalError` carries one string, so the code goes at its start (`"DuplicateQueryId: Query 3
//! was added twice"`): the wire format stays Convex's, the official client prints the whole
//! string, and a script or a log search can match the code. The README's table is checked
//! against [`ProtocolErrorCode::ALL`].

use std::fmt;

/// What the client did wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtocolErrorCode {
    /// The message is not JSON, or not a client message of Convex's protocol.
    InvalidMessage,
    /// The message is JSON past a bound on what one message may cost.
    MessageTooComplex,
    /// No `Connect` within `KEEL_SYNC_CONNECT_TIMEOUT` of opening the connection.
    ConnectTimeout,
    /// A second `Connect` on one connection.
    AlreadyConnected,
    /// `Connect`'s `sessionId` is empty or longer than 128 characters.
    InvalidSessionId,
    /// A `Mutation` before `Connect`.
    NotConnected,
    /// The client has seen a timestamp later than this server's latest: it was connected to
    /// another or a restored database.
    TimestampAhead,
    /// `ModifyQuerySet`'s `baseVersion` is not the current one, or `newVersion` not above it.
    InvalidQuerySetVersion,
    /// A query id added twice.
    DuplicateQueryId,
    /// A query id removed that is not in the query set.
    UnknownQueryId,
    /// `Authenticate`'s `baseVersion` is not the current identity version.
    InvalidIdentityVersion,
    /// `Authenticate` with `tokenType: "User"` and no token.
    MissingToken,
    /// The server could not read its database to check the message.
    ServerError,
}

impl ProtocolErrorCode {
    /// Every code, in the README's order.
    pub const ALL: [ProtocolErrorCode; 13] = [
        ProtocolErrorCode::InvalidMessage,
        ProtocolErrorCode::MessageTooComplex,
        ProtocolErrorCode::ConnectTimeout,
        ProtocolErrorCode::AlreadyConnected,
        ProtocolErrorCode::InvalidSessionId,
        ProtocolErrorCode::NotConnected,
        ProtocolErrorCode::TimestampAhead,
        ProtocolErrorCode::InvalidQuerySetVersion,
        ProtocolErrorCode::DuplicateQueryId,
        ProtocolErrorCode::UnknownQueryId,
        ProtocolErrorCode::InvalidIdentityVersion,
        ProtocolErrorCode::MissingToken,
        ProtocolErrorCode::ServerError,
    ];

    /// The code as it starts the `FatalError` string.
    pub fn as_str(self) -> &'static str {
        match self {
            ProtocolErrorCode::InvalidMessage => "InvalidMessage",
            ProtocolErrorCode::MessageTooComplex => "MessageTooComplex",
            ProtocolErrorCode::ConnectTimeout => "ConnectTimeout",
            ProtocolErrorCode::AlreadyConnected => "AlreadyConnected",
            ProtocolErrorCode::InvalidSessionId => "InvalidSessionId",
            ProtocolErrorCode::NotConnected => "NotConnected",
            ProtocolErrorCode::TimestampAhead => "TimestampAhead",
            ProtocolErrorCode::InvalidQuerySetVersion => "InvalidQuerySetVersion",
            ProtocolErrorCode::DuplicateQueryId => "DuplicateQueryId",
            ProtocolErrorCode::UnknownQueryId => "UnknownQueryId",
            ProtocolErrorCode::InvalidIdentityVersion => "InvalidIdentityVersion",
            ProtocolErrorCode::MissingToken => "MissingToken",
            ProtocolErrorCode::ServerError => "ServerError",
        }
    }

    /// This code with the message saying what exactly was wrong.
    pub fn with(self, message: impl Into<String>) -> ProtocolError {
        ProtocolError {
            code: self,
            message: message.into(),
        }
    }
}

/// A protocol violation: its code and what exactly was wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtocolError {
    pub code: ProtocolErrorCode,
    pub message: String,
}

impl fmt::Display for ProtocolError {
    /// The `FatalError` string: `"<code>: <message>"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_string_starts_with_the_code() {
        let error = ProtocolErrorCode::DuplicateQueryId.with("Query 3 was added twice");
        assert_eq!(
            error.to_string(),
            "DuplicateQueryId: Query 3 was added twice"
        );
    }

    /// The README's table under "FatalError codes" names exactly the codes of
    /// [`ProtocolErrorCode::ALL`], in order.
    #[test]
    fn the_readme_table_matches_the_codes() {
        let readme = include_str!("../../../README.md");
        let section = readme
            .split("### FatalError codes")
            .nth(1)
            .expect("README has a \"### FatalError codes\" section");
        let section = section.split("\n#").next().unwrap_or(section);
        let documented: Vec<&str> = section
            .lines()
            .filter_map(|line| {
                let cell = line.strip_prefix("| `")?;
                cell.split('`').next()
            })
            .collect();
        let expected: Vec<&str> = ProtocolErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            documented, expected,
            "README FatalError table against the enum"
        );
    }
}
