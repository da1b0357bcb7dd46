//! The database: a SQLite pool and database CLIENT spans around every query.
//!
//! A service declares each query once as a [`Statement`] (its SQL and what it touches) and
//! runs it through [`Db::run`], which opens a span named `{operation} {table}` with
//! `db.system.name`, `db.namespace`, `db.operation.name`, `db.collection.name` and the full
//! `db.query.text`, and records `db.client.operation.duration`. A failure adds the database's
//! own error (`db.response.status_code` and an `exception` event) to the span.
//!
//! Writes that belong together go through [`WriteTx`] ([`Db::begin_write`]), which commits
//! whole or leaves nothing behind, and every write's outcome feeds [`storage_problems`], what
//! `/health` reports when the disk is full. [`retention`] keeps the tables of finished work
//! (orders, shipments, ...) to their newest rows, so a shop running for days stays bounded.

pub mod retention;
mod storage;
mod transaction;

pub use storage::{StorageFailure, StorageProblem, database_message, problems as storage_problems};
pub use transaction::WriteTx;

use std::future::Future;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry::KeyValue;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use tracing::Instrument;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::metrics::instruments;
use storage::WriteState;

pub type Pool = sqlx::SqlitePool;

/// The size, in bytes, SQLite cuts a grown WAL file back to (`PRAGMA journal_size_limit`).
const JOURNAL_SIZE_LIMIT: u64 = 16 << 20;

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

    /// Whether the statement changes the database (its outcome tells whether the disk takes
    /// writes).
    fn writes(&self) -> bool {
        matches!(
            self.operation,
            "INSERT" | "UPDATE" | "DELETE" | "REPLACE" | "COMMIT"
        )
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
    write_state: Arc<WriteState>,
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
            .busy_timeout(Duration::from_secs(5))
            // In WAL mode SQLite reuses the WAL file after each checkpoint but never shrinks
            // it: a WAL that grew once (a long reader holding back checkpoints, a big
            // transaction) would keep its largest size for as long as the shop runs. With a
            // limit, the WAL is cut back to it when it is next reset. Four times the WAL that
            // automatic checkpoints (every 1000 pages) leave, so in normal running it is never
            // cut and regrown.
            .pragma("journal_size_limit", JOURNAL_SIZE_LIMIT.to_string());
        let file = options.get_filename().to_path_buf();
        let namespace = file
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
        // The file system that fills is the one holding the real file, wherever links point.
        let real_file = std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
        let directory = match real_file.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => Path::new(".").to_path_buf(),
        };
        let write_state = WriteState::register(&namespace, &directory);
        Ok(Db {
            pool,
            namespace,
            write_state,
        })
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

    /// The database's name in spans (`db.namespace`): its file's stem.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Takes note of a write run outside [`Db::run`] and outside any transaction (untraced
    /// plumbing such as the queue's claims), so a full disk is noticed there too.
    pub(crate) fn note_write(&self, result: Result<(), &sqlx::Error>) {
        self.write_state.record(result, true);
    }

    /// The span a statement runs in; use [`Db::run`] unless you need the span itself.
    pub fn span(&self, statement: &Statement) -> tracing::Span {
        let name = if statement.collection.is_empty() {
            statement.operation.to_string()
        } else {
            format!("{} {}", statement.operation, statement.collection)
        };
        let collection = (!statement.collection.is_empty()).then_some(statement.collection);
        tracing::info_span!(
            "db.client.operation",
            otel.name = name,
            otel.kind = "client",
            otel.status_code = Empty,
            db.system.name = "sqlite",
            db.namespace = %self.namespace,
            db.operation.name = statement.operation,
            db.collection.name = collection,
            db.query.text = statement.text,
            db.response.status_code = Empty,
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
            KeyValue::new("db.namespace", self.namespace.clone()),
        ];
        if !statement.collection.is_empty() {
            attributes.push(KeyValue::new("db.collection.name", statement.collection));
        }
        if let Err(err) = &result
            && !matches!(err, sqlx::Error::RowNotFound)
        {
            let kind = error_kind(err);
            span.record("otel.status_code", "ERROR");
            span.record("error.type", kind);
            if let sqlx::Error::Database(db) = err
                && let Some(code) = db.code()
            {
                span.record("db.response.status_code", code.as_ref());
            }
            span.add_event(
                "exception",
                vec![
                    KeyValue::new("exception.type", "sqlx::Error"),
                    KeyValue::new("exception.message", database_message(err)),
                ],
            );
            attributes.push(KeyValue::new("error.type", kind));
        }
        if statement.writes() {
            self.write_state
                .record(result.as_ref().map(|_| ()), statement.operation == "COMMIT");
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TempDir;

    #[tokio::test]
    async fn a_wal_that_grew_once_is_cut_back_after_a_checkpoint() {
        let dir = TempDir::new("wal-limit").unwrap();
        let url = dir.sqlite_url("big");
        let db = Db::connect(&url).await.unwrap();
        let wal = std::path::PathBuf::from(format!("{}-wal", url.trim_start_matches("sqlite://")));
        let wal_size = || std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        sqlx::query("CREATE TABLE blobs (body BLOB NOT NULL)")
            .execute(db.pool())
            .await
            .unwrap();

        // One transaction larger than the limit: the WAL must hold all of it.
        let mut tx = db.pool().begin().await.unwrap();
        for _ in 0..24 {
            sqlx::query("INSERT INTO blobs (body) VALUES (zeroblob(1048576))")
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        assert!(wal_size() > JOURNAL_SIZE_LIMIT, "{}", wal_size());

        // Checkpointed, then written again from its start: cut back to the limit.
        sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(db.pool())
            .await
            .unwrap();
        for _ in 0..3 {
            sqlx::query("INSERT INTO blobs (body) VALUES (x'00')")
                .execute(db.pool())
                .await
                .unwrap();
        }
        assert!(wal_size() <= JOURNAL_SIZE_LIMIT, "{}", wal_size());
    }
}
