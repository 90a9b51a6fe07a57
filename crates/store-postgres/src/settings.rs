//! The engine's settings, and the database URL that never shows its password.

use std::fmt;
use std::time::Duration;

/// Query parameters that carry a secret in a libpq URL.
const SECRET_PARAMS: &[&str] = &["password", "sslpassword"];

/// What replaces a secret wherever a URL is shown.
const MASK: &str = "redacted";

/// A `postgres://` or `postgresql://` URL. Its `Debug` and `Display` show it with the
/// password (in the user part or a `password` parameter) replaced, so it can go into logs,
/// errors and `keel check` output as it is; only the driver is given the real one.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    url: url::Url,
}

/// Why a string is not a PostgreSQL URL. It never holds the string itself (which may carry a
/// password).
#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    #[error("it is not a URL ({0})")]
    Syntax(url::ParseError),
    #[error("its scheme is `{0}`, not `postgres` or `postgresql`")]
    Scheme(String),
    #[error("it names no host")]
    NoHost,
}

impl DatabaseUrl {
    pub fn parse(text: &str) -> Result<Self, UrlError> {
        let url = url::Url::parse(text).map_err(UrlError::Syntax)?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(UrlError::Scheme(url.scheme().to_string()));
        }
        let url = DatabaseUrl { url };
        if url.host_name().is_empty() {
            return Err(UrlError::NoHost);
        }
        Ok(url)
    }

    /// The host in the URL, or its `host` parameter (a Unix socket's folder).
    fn host_name(&self) -> String {
        match self.url.host_str() {
            Some(host) if !host.is_empty() => host.to_string(),
            _ => self
                .url
                .query_pairs()
                .find(|(key, _)| key == "host")
                .map(|(_, value)| value.into_owned())
                .unwrap_or_default(),
        }
    }

    /// `host:port` (5432 when the URL names none), for messages about reaching the server.
    pub fn host(&self) -> String {
        format!("{}:{}", self.host_name(), self.url.port().unwrap_or(5432))
    }

    /// The database's name (empty when the URL names none: the server then uses the user's).
    pub fn database(&self) -> &str {
        self.url.path().trim_start_matches('/')
    }

    /// The URL with the password in it, for the driver only.
    pub(crate) fn expose(&self) -> &str {
        self.url.as_str()
    }

    /// The same server and credentials, another database (tests create and drop databases).
    pub fn with_database(&self, name: &str) -> DatabaseUrl {
        let mut url = self.url.clone();
        url.set_path(&format!("/{name}"));
        DatabaseUrl { url }
    }

    fn redacted(&self) -> url::Url {
        let mut url = self.url.clone();
        if url.password().is_some() {
            // Cannot fail: the URL has a host (checked in `parse`).
            let _ = url.set_password(Some(MASK));
        }
        if url
            .query_pairs()
            .any(|(key, _)| SECRET_PARAMS.contains(&key.as_ref()))
        {
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .map(|(key, value)| {
                    let value = if SECRET_PARAMS.contains(&key.as_ref()) {
                        MASK.to_string()
                    } else {
                        value.into_owned()
                    };
                    (key.into_owned(), value)
                })
                .collect();
            url.query_pairs_mut().clear().extend_pairs(pairs);
        }
        url
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.redacted().as_str())
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// How the engine connects. `Debug` is safe to log: the URL redacts its password.
#[derive(Clone, Debug)]
pub struct PostgresSettings {
    pub url: DatabaseUrl,
    /// The most connections the engine keeps open to the server (at least
    /// [`Self::MIN_POOL_SIZE`]).
    pub pool_size: u32,
    /// How long opening a connection (or waiting for a free one) may take.
    pub connect_timeout: Duration,
    /// The server cancels a statement, or a transaction left idle, after this long, so a
    /// stalled instance cannot hold the commit lock forever. Zero means no limit.
    pub statement_timeout: Duration,
}

impl PostgresSettings {
    pub const DEFAULT_POOL_SIZE: u32 = 16;
    /// One connection for the writer and one for readers: an action's role check reads
    /// while a batch of mutations holds the writer's.
    pub const MIN_POOL_SIZE: u32 = 2;
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

    /// The defaults for everything but the URL.
    pub fn new(url: DatabaseUrl) -> Self {
        PostgresSettings {
            url,
            pool_size: Self::DEFAULT_POOL_SIZE,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            statement_timeout: Self::DEFAULT_STATEMENT_TIMEOUT,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "hunter2-s3cr3t";

    #[test]
    fn the_password_is_never_shown() {
        for text in [
            format!("postgres://keel:{SECRET}@db.example:6543/app"),
            format!("postgresql://keel:{SECRET}@db.example/app?sslmode=require"),
            format!("postgres://keel@db.example/app?password={SECRET}&application_name=x"),
            format!("postgres://keel@db.example/app?sslpassword={SECRET}"),
            format!("postgres://keel:{SECRET}@db.example/app?host=/run/postgresql"),
        ] {
            let url = DatabaseUrl::parse(&text).unwrap();
            let settings = PostgresSettings::new(url.clone());
            for shown in [
                url.to_string(),
                format!("{url:?}"),
                format!("{settings:?}"),
                format!("{settings:#?}"),
            ] {
                assert!(!shown.contains(SECRET), "{shown}");
                assert!(shown.contains("db.example"), "{shown}");
                assert!(shown.contains(MASK), "{shown}");
            }
            assert!(url.expose().contains(SECRET), "the driver gets it");
        }
    }

    #[test]
    fn a_url_without_a_password_is_shown_as_it_is() {
        let url = DatabaseUrl::parse("postgres://postgres@127.0.0.1:5432/postgres").unwrap();
        assert_eq!(
            url.to_string(),
            "postgres://postgres@127.0.0.1:5432/postgres"
        );
        assert_eq!(url.host(), "127.0.0.1:5432");
        assert_eq!(url.database(), "postgres");
        let other = url.with_database("keel_test_1");
        assert_eq!(other.database(), "keel_test_1");
        assert_eq!(
            DatabaseUrl::parse("postgres://h/db").unwrap().host(),
            "h:5432"
        );
        let socket = DatabaseUrl::parse("postgres:///db?host=/run/postgresql").unwrap();
        assert_eq!(socket.host(), "/run/postgresql:5432");
    }

    #[test]
    fn refusals_do_not_repeat_the_url() {
        for text in [
            format!("mysql://keel:{SECRET}@db.example/app"),
            format!("keel:{SECRET}@db.example/app"),
            format!("postgres://keel:{SECRET}@:5432/app"),
            format!("postgres:///app?password={SECRET}"),
            format!("postgres://keel:{SECRET}@/app?host=/run/postgresql"),
        ] {
            let err = DatabaseUrl::parse(&text).expect_err(&text);
            assert!(!err.to_string().contains(SECRET), "{err}");
            assert!(!format!("{err:?}").contains(SECRET), "{err:?}");
        }
    }
}
