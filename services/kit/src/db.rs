//! The database: a pool on SQLite or PostgreSQL, and database CLIENT spans around every query.
//!
//! A service declares each query once as a [`Statement`] (its SQL and what it touches) and
//! runs it through [`Db::run`], which opens a span named `{operation} {table}` with
//! `db.system.name`, `db.namespace`, `db.operation.name`, `db.collection.name` and the full
//! `db.query.text`, and records `db.client.operation.duration`. A failure adds the database's
//! own error (`db.response.status_code` and an `exception` event) to the span.
//!
//! Which engine a service runs on comes from its database URL ([`engine`]); the queries are
//! the same on both except where a statement says otherwise ([`Statement::per_engine`]).
//! Writes that belong together go through [`WriteTx`] ([`Db::begin_write`]), which commits
//! whole or leaves nothing behind, and every write's outcome feeds [`storage_problems`], what
//! `/health` reports when the disk is full. [`retention`] keeps the tables of finished work
//! (orders, shipments, ...) to their newest rows, so a shop running for days stays bounded.

pub mod engine;
pub mod retention;
mod storage;
mod transaction;

pub use engine::{Engine, redact};
pub use storage::{StorageFailure, StorageProblem, database_message, problems as storage_problems};
pub use transaction::WriteTx;

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use opentelemetry::KeyValue;
use sqlx::migrate::Migrator;
use tracing::Instrument;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::metrics::instruments;
use engine::Location;
use storage::WriteState;

/// A pool of connections to either engine.
pub type Pool = sqlx::AnyPool;
/// One connection of a [`Pool`] (what a transaction's statements run on).
pub type Connection = sqlx::AnyConnection;

/// The size, in bytes, SQLite cuts a grown WAL file back to (`PRAGMA journal_size_limit`).
const JOURNAL_SIZE_LIMIT: u64 = 16 << 20;

/// One SQL statement a service issues, described once.
#[derive(Debug, Clone, Copy)]
pub struct Statement {
    /// `SELECT`, `INSERT`, `UPDATE`, `DELETE`, ...
    pub operation: &'static str,
    /// The main table it reads or writes.
    pub collection: &'static str,
    /// The SQL, with `$1`, `$2`, ... for its parameters (both engines read them). Read it
    /// through [`Db::sql`], which picks the engine's own text where there is one.
    text: &'static str,
    /// PostgreSQL's own text, for the few statements the dialects spell differently.
    postgres_text: Option<&'static str>,
}

impl Statement {
    /// A statement both engines run as written.
    pub const fn new(
        operation: &'static str,
        collection: &'static str,
        text: &'static str,
    ) -> Self {
        Statement {
            operation,
            collection,
            text,
            postgres_text: None,
        }
    }

    /// A statement spelled differently on each engine (SQLite's `json_each`, PostgreSQL's
    /// `jsonb_array_elements_text`, ...); both texts take the same parameters.
    pub const fn per_engine(
        operation: &'static str,
        collection: &'static str,
        sqlite: &'static str,
        postgres: &'static str,
    ) -> Self {
        Statement {
            operation,
            collection,
            text: sqlite,
            postgres_text: Some(postgres),
        }
    }

    /// The text `engine` runs.
    pub fn text_for(&self, engine: Engine) -> &'static str {
        match (engine, self.postgres_text) {
            (Engine::Postgres, Some(text)) => text,
            _ => self.text,
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

/// A service's migrations for each engine: `migrations/sqlite` and `migrations/postgres` in
/// its crate, the same tables in each dialect.
#[derive(Debug)]
pub struct Migrations {
    pub sqlite: Migrator,
    pub postgres: Migrator,
}

/// Declares a service's [`Migrations`] from its crate's `migrations/sqlite` and
/// `migrations/postgres` directories: `static MIGRATIONS: Migrations = kit::migrations!();`.
#[macro_export]
macro_rules! migrations {
    () => {
        $crate::db::Migrations {
            sqlite: ::sqlx::migrate!("migrations/sqlite"),
            postgres: ::sqlx::migrate!("migrations/postgres"),
        }
    };
}

/// Why a database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    // The cause is part of each message rather than a `#[source]`, so a one-line error
    // report does not print it twice. URLs are shown without their password.
    #[error(
        "database URL {url:?} is not valid: {reason}; use e.g. sqlite://data/catalog.db or \
         postgres://USER:PASSWORD@HOST:5432/DATABASE"
    )]
    BadUrl { url: String, reason: String },
    #[error("cannot open database {url}: {reason}; {}", open_advice(*.engine))]
    Open {
        url: String,
        reason: String,
        engine: Engine,
    },
    #[error(
        "{schema:?} cannot name a PostgreSQL schema: use lower-case ASCII letters, digits and \
         '_', starting with a letter, at most 63 characters"
    )]
    BadSchema { schema: String },
    #[error("cannot migrate database {url}: {reason}")]
    Migrate {
        url: String,
        reason: sqlx::migrate::MigrateError,
    },
}

fn open_advice(engine: Engine) -> &'static str {
    match engine {
        Engine::Sqlite => "check that the data directory exists and is writable",
        Engine::Postgres => {
            "check that the server runs and takes connections at that host and port, that the \
             user and password are right and that the database exists"
        }
    }
}

/// A pool plus what spans say about it.
#[derive(Debug, Clone)]
pub struct Db {
    pool: Pool,
    engine: Engine,
    location: Arc<Location>,
    write_state: Arc<WriteState>,
}

impl Db {
    /// Opens a pool to `url`. A SQLite file is created if missing (in WAL mode, closer to
    /// production than a rollback journal and still embedded); on PostgreSQL, `name` is the
    /// schema the tables live in (created if missing), one per service in a shared database.
    pub async fn connect(url: &str, name: &str) -> Result<Db, DbError> {
        let engine = Engine::of_url(url)?;
        let (pool, location) = engine::open_pool(engine, url, name).await?;
        let write_state =
            WriteState::register(&location.namespace, engine, location.directory.clone());
        Ok(Db {
            pool,
            engine,
            location: Arc::new(location),
            write_state,
        })
    }

    /// Opens the database and brings it up to date with a service's migrations:
    /// `Db::open(url, "catalog", &MIGRATIONS).await?` in the service crate.
    pub async fn open(url: &str, name: &str, migrations: &Migrations) -> Result<Db, DbError> {
        let db = Db::connect(url, name).await?;
        db.migrate(migrations).await?;
        Ok(db)
    }

    /// Applies the engine's set of a service's migrations.
    pub async fn migrate(&self, migrations: &Migrations) -> Result<(), DbError> {
        let migrator = match self.engine {
            Engine::Sqlite => &migrations.sqlite,
            Engine::Postgres => &migrations.postgres,
        };
        migrator
            .run(&self.pool)
            .await
            .map_err(|reason| DbError::Migrate {
                url: self.location.namespace.clone(),
                reason,
            })
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The text of `statement` this database runs.
    pub fn sql(&self, statement: &Statement) -> &'static str {
        statement.text_for(self.engine)
    }

    /// The database's name in spans (`db.namespace`): a SQLite file's stem, or
    /// `database|schema` on PostgreSQL.
    pub fn namespace(&self) -> &str {
        &self.location.namespace
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
        let (address, port) = match &self.location.server {
            Some((address, port)) => (Some(address.as_str()), Some(i64::from(*port))),
            None => (None, None),
        };
        tracing::info_span!(
            "db.client.operation",
            otel.name = name,
            otel.kind = "client",
            otel.status_code = Empty,
            db.system.name = self.engine.system_name(),
            db.namespace = %self.location.namespace,
            db.operation.name = statement.operation,
            db.collection.name = collection,
            db.query.text = self.sql(statement),
            server.address = address,
            server.port = port,
            db.response.status_code = Empty,
            error.type = Empty,
        )
    }

    /// Runs `query` (built from `db.sql(statement)`) inside its database span.
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
            KeyValue::new("db.system.name", self.engine.system_name()),
            KeyValue::new("db.operation.name", statement.operation),
            KeyValue::new("db.namespace", self.location.namespace.clone()),
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
        } else if self.engine == Engine::Postgres {
            // A server that stopped answering fails reads as much as writes, and one read
            // answered shows it is back (a full disk still waits for a commit).
            self.write_state.record(result.as_ref().map(|_| ()), false);
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
        let db = Db::connect(&url, "big").await.unwrap();
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
