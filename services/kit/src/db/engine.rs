//! The two database engines a service can run on, and how a pool to each is opened.
//!
//! SQLite is the embedded default: one file per service in the data directory, in WAL mode.
//! PostgreSQL is for a shop that should look like production (`postgresql` spans, real row
//! locks and query plans): every service takes the same `postgres://` URL and keeps its tables
//! in a schema named after itself (`catalog`, `cart`, ..., `queue`), so one database holds a
//! whole shop. Both are reached through sqlx's `Any` driver, so the services' queries are
//! written once; where the two dialects differ, a [`Statement`](super::Statement) carries both
//! texts.

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;

use super::{DbError, JOURNAL_SIZE_LIMIT, Pool};

/// Which database a URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// How long a statement waits for a lock before failing: SQLite's busy timeout and
/// PostgreSQL's `lock_timeout`, the same on both so a fault's waits look alike.
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(5);

impl Engine {
    /// The engine a database URL names by its scheme.
    pub fn of_url(url: &str) -> Result<Engine, DbError> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "sqlite" => Ok(Engine::Sqlite),
            "postgres" | "postgresql" => Ok(Engine::Postgres),
            _ => Err(DbError::BadUrl {
                url: redact(url),
                reason: "it names no database this shop can use: it starts with sqlite: \
                         (a file) or postgres:// (a server)"
                    .into(),
            }),
        }
    }

    /// `db.system.name` in spans and metrics, as the semantic conventions spell it.
    pub fn system_name(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgresql",
        }
    }
}

/// How long a statement waits for a pooled PostgreSQL connection (a new one, when the server
/// is down or restarting, included).
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// Where a pool's database is, as spans describe it.
#[derive(Debug, Clone)]
pub(super) struct Location {
    /// `db.namespace`: the SQLite file's stem, or `database|schema` on PostgreSQL.
    pub(super) namespace: String,
    /// `server.address` and `server.port` of a PostgreSQL server.
    pub(super) server: Option<(String, u16)>,
    /// The directory holding a SQLite file (its disk is watched for room).
    pub(super) directory: Option<std::path::PathBuf>,
}

/// Opens a pool to `url`; on PostgreSQL its connections work in schema `schema`, created if
/// missing.
pub(super) async fn open_pool(
    engine: Engine,
    url: &str,
    schema: &str,
) -> Result<(Pool, Location), DbError> {
    install_default_drivers();
    let open_failed = |reason: sqlx::Error| DbError::Open {
        url: redact(url),
        reason: reason.to_string(),
        engine,
    };
    match engine {
        Engine::Sqlite => {
            let options =
                SqliteConnectOptions::from_str(url).map_err(|reason| bad_url(url, reason))?;
            let file = options.get_filename().to_path_buf();
            let pool = AnyPoolOptions::new()
                .max_connections(8)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        sqlx::raw_sql(SQLITE_SETTINGS).execute(conn).await?;
                        Ok(())
                    })
                })
                .connect(&creating(url))
                .await
                .map_err(open_failed)?;
            let location = Location {
                namespace: file
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or("main")
                    .to_string(),
                server: None,
                // Once the file exists: a link to it may point onto another disk.
                directory: Some(directory_of(&file)),
            };
            Ok((pool, location))
        }
        Engine::Postgres => {
            let options = PgConnectOptions::from_str(url).map_err(|reason| bad_url(url, reason))?;
            check_schema_name(schema)?;
            // Without a database in the URL, PostgreSQL takes the user's name.
            let database = options
                .get_database()
                .unwrap_or_else(|| options.get_username())
                .to_string();
            let location = Location {
                namespace: format!("{database}|{schema}"),
                server: Some((options.get_host().to_string(), options.get_port())),
                directory: None,
            };
            let settings = format!(
                "SET search_path TO {schema}; SET lock_timeout = '{}ms'; \
                 SET application_name = 'tracedojo-{schema}'",
                LOCK_TIMEOUT.as_millis()
            );
            let create = format!("CREATE SCHEMA IF NOT EXISTS {schema}");
            let pool = AnyPoolOptions::new()
                // Small: a shop is seven pools (five services, the queue twice), and PostgreSQL
                // allows a hundred connections unless told otherwise.
                .max_connections(5)
                // A server that is down refuses connections, and the pool would try again until
                // this runs out: a request then fails in seconds (503, with the reason in its
                // span), instead of hanging until its caller gives up.
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .after_connect(move |conn, _| {
                    let settings = settings.clone();
                    Box::pin(async move {
                        sqlx::raw_sql(sqlx::AssertSqlSafe(settings))
                            .execute(conn)
                            .await?;
                        Ok(())
                    })
                })
                .connect(url)
                .await
                .map_err(open_failed)?;
            // Two processes of one service (a redeploy) may create the schema at once; the
            // loser's error means it exists.
            if let Err(first) = sqlx::raw_sql(sqlx::AssertSqlSafe(create.clone()))
                .execute(&pool)
                .await
            {
                sqlx::raw_sql(sqlx::AssertSqlSafe(create))
                    .execute(&pool)
                    .await
                    .map_err(|_| open_failed(first))?;
            }
            Ok((pool, location))
        }
    }
}

/// Set on every SQLite connection: WAL, closer to production than a rollback journal and
/// still embedded; waits for the write lock as long as PostgreSQL waits for a row lock.
/// In WAL mode SQLite reuses the WAL file after each checkpoint but never shrinks it: a WAL
/// that grew once (a long reader holding back checkpoints, a big transaction) would keep its
/// largest size for as long as the shop runs. With `journal_size_limit`, the WAL is cut back
/// when it is next reset: four times the WAL that automatic checkpoints (every 1000 pages)
/// leave, so in normal running it is never cut and regrown.
const SQLITE_SETTINGS: &str = concat!(
    "PRAGMA busy_timeout = 5000; ",
    "PRAGMA journal_mode = WAL; ",
    "PRAGMA synchronous = NORMAL; ",
    "PRAGMA journal_size_limit = 16777216;",
);
const _: () = assert!(JOURNAL_SIZE_LIMIT == 16_777_216 && LOCK_TIMEOUT.as_millis() == 5000);

/// A SQLite URL that creates its file if missing (sqlx's `mode=rwc`), unless it says a mode.
fn creating(url: &str) -> String {
    if url.contains("mode=") || url.contains(":memory:") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

/// The directory whose disk holds a SQLite file: the real file's, wherever links point.
fn directory_of(file: &std::path::Path) -> std::path::PathBuf {
    let real_file = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    match real_file.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    }
}

fn bad_url(url: &str, reason: sqlx::Error) -> DbError {
    DbError::BadUrl {
        url: redact(url),
        reason: reason.to_string(),
    }
}

/// Schema names go into SQL text, so only plain ones are taken.
fn check_schema_name(schema: &str) -> Result<(), DbError> {
    let plain = !schema.is_empty()
        && schema.len() <= 63
        && schema.starts_with(|c: char| c.is_ascii_lowercase())
        && schema
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        Ok(())
    } else {
        Err(DbError::BadSchema {
            schema: schema.to_string(),
        })
    }
}

/// A database URL fit to print: its password replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => authority.to_string(),
        },
        None => authority.to_string(),
    };
    let tail = match tail.split_once("password=") {
        Some((before, after)) => {
            let rest = after.find('&').map(|i| &after[i..]).unwrap_or("");
            format!("{before}password=***{rest}")
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_printed_without_its_password() {
        assert_eq!(
            redact("postgres://shop:s3cret@db.example:5432/shop"),
            "postgres://shop:***@db.example:5432/shop"
        );
        assert_eq!(
            redact("postgres://db/shop?user=shop&password=s3cret&sslmode=disable"),
            "postgres://db/shop?user=shop&password=***&sslmode=disable"
        );
        assert_eq!(
            redact("sqlite://data/catalog.db"),
            "sqlite://data/catalog.db"
        );
        assert_eq!(redact("postgres://shop@db/shop"), "postgres://shop@db/shop");
    }

    #[test]
    fn the_engine_comes_from_the_scheme() {
        assert_eq!(Engine::of_url("sqlite://a.db").unwrap(), Engine::Sqlite);
        assert_eq!(Engine::of_url("sqlite::memory:").unwrap(), Engine::Sqlite);
        assert_eq!(
            Engine::of_url("postgresql://h/d").unwrap(),
            Engine::Postgres
        );
        let err = Engine::of_url("mysql://u:pw@h/d").unwrap_err().to_string();
        assert!(err.contains("postgres://"), "{err}");
        assert!(!err.contains("pw"), "{err}");
    }

    #[test]
    fn only_plain_schema_names_are_taken() {
        assert!(check_schema_name("catalog").is_ok());
        assert!(check_schema_name("queue_2").is_ok());
        for bad in ["", "Catalog", "1x", "a;drop", "a b", &"x".repeat(64)] {
            assert!(check_schema_name(bad).is_err(), "{bad}");
        }
    }
}
