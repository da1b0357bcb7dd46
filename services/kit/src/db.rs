//! The database: a SQLite pool and database CLIENT spans around every query.
//!
//! A service declares each query once as a [`Statement`] (its SQL and what it touches) and
//! runs it through [`Db::run`], which opens a span named `{operation} {table}` with
//! `db.system.name`, `db.namespace`, `db.operation.name`, `db.collection.name` and the full
//! `db.query.text`, and records `db.client.operation.duration`.

use std::future::Future;
use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, Instant};

use opentelemetry::KeyValue;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use tracing::Instrument;
use tracing::field::Empty;

use crate::metrics::instruments;

pub type Pool = sqlx::SqlitePool;

/// One SQL statement a service issues, described once.
#[derive(Debug, Clone, Copy)]
pub struct Statement {
    /// `SELECT`, `INSERT`, `UPDATE`, `DELETE`, ...
    pub operation: &'static str,
    /// The main table it reads or writes.
    pub collection: &'static str,
    pub text: &'static str,
}

impl Statement {
    pub const fn new(
        operation: &'static str,
        collection: &'static str,
        text: &'static str,
    ) -> Self {
        Statement {
            operation,
            collection,
            text,
        }
    }
}

/// Why a database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    // The cause is part of each message rather than a `#[source]`, so a one-line error
    // report does not print it twice.
    #[error("database URL {url:?} is not valid: {reason}; use e.g. sqlite://data/catalog.db")]
    BadUrl { url: String, reason: sqlx::Error },
    #[error(
        "cannot open database {url}: {reason}; check that the data directory exists and is writable"
    )]
    Open { url: String, reason: sqlx::Error },
    #[error("cannot migrate database {url}: {reason}")]
    Migrate {
        url: String,
        reason: sqlx::migrate::MigrateError,
    },
}

/// A pool plus the name spans give it.
#[derive(Debug, Clone)]
pub struct Db {
    pool: Pool,
    namespace: String,
}

impl Db {
    /// Opens (creating if needed) a SQLite database in WAL mode, closer to production than an
    /// in-memory one and still embedded.
    pub async fn connect(url: &str) -> Result<Db, DbError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|reason| DbError::BadUrl {
                url: url.to_string(),
                reason,
            })?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5));
        let namespace = Path::new(options.get_filename())
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("main")
            .to_string();
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .map_err(|reason| DbError::Open {
                url: url.to_string(),
                reason,
            })?;
        Ok(Db { pool, namespace })
    }

    /// Opens the database and brings it up to date with a service's migrations:
    /// `Db::open(url, &sqlx::migrate!()).await?` in the service crate.
    pub async fn open(url: &str, migrator: &sqlx::migrate::Migrator) -> Result<Db, DbError> {
        let db = Db::connect(url).await?;
        db.migrate(migrator).await?;
        Ok(db)
    }

    /// Applies a crate's migrations (`sqlx::migrate!()` in the service crate).
    pub async fn migrate(&self, migrator: &sqlx::migrate::Migrator) -> Result<(), DbError> {
        migrator
            .run(&self.pool)
            .await
            .map_err(|reason| DbError::Migrate {
                url: self.namespace.clone(),
                reason,
            })
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The span a statement runs in; use [`Db::run`] unless you need the span itself.
    pub fn span(&self, statement: &Statement) -> tracing::Span {
        tracing::info_span!(
            "db.client.operation",
            otel.name = format!("{} {}", statement.operation, statement.collection),
            otel.kind = "client",
            otel.status_code = Empty,
            db.system.name = "sqlite",
            db.namespace = %self.namespace,
            db.operation.name = statement.operation,
            db.collection.name = statement.collection,
            db.query.text = statement.text,
            error.type = Empty,
        )
    }

    /// Runs `query` (built from `statement.text`) inside its database span.
    pub async fn run<T, F>(&self, statement: &Statement, query: F) -> Result<T, sqlx::Error>
    where
        F: Future<Output = Result<T, sqlx::Error>>,
    {
        let span = self.span(statement);
        let started = Instant::now();
        let slowed = crate::faults::on_query(statement.collection);
        let query = async {
            if let Some((delay, kind)) = slowed {
                // The time shows inside the query's span, as a slow query's would, and an idle
                // pooled connection is held meanwhile, as a running query holds one: under
                // load, other queries wait for the pool. (Never waited for: a transaction
                // already holding one must not deadlock against its own slowness.)
                crate::faults::reveal(&tracing::Span::current(), &[kind]);
                let held = self.pool.try_acquire();
                tokio::time::sleep(delay).await;
                drop(held);
            }
            query.await
        };
        let result = query.instrument(span.clone()).await;
        let mut attributes = vec![
            KeyValue::new("db.system.name", "sqlite"),
            KeyValue::new("db.operation.name", statement.operation),
            KeyValue::new("db.collection.name", statement.collection),
            KeyValue::new("db.namespace", self.namespace.clone()),
        ];
        if let Err(err) = &result
            && !matches!(err, sqlx::Error::RowNotFound)
        {
            let kind = error_kind(err);
            span.record("otel.status_code", "ERROR");
            span.record("error.type", kind);
            attributes.push(KeyValue::new("error.type", kind));
        }
        instruments()
            .db_operation_duration
            .record(started.elapsed().as_secs_f64(), &attributes);
        result
    }
}

/// A short, stable name for a database failure, for `error.type`.
pub fn error_kind(err: &sqlx::Error) -> &'static str {
    match err {
        sqlx::Error::Database(_) => "database_error",
        sqlx::Error::PoolTimedOut => "pool_timed_out",
        sqlx::Error::Io(_) => "io_error",
        sqlx::Error::Decode(_) | sqlx::Error::ColumnDecode { .. } => "decode_error",
        _ => "sqlx_error",
    }
}
