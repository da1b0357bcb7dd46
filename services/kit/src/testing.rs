//! Helpers for the services' own tests: a scratch directory for a real SQLite database, and a
//! scratch database on each engine the machine offers ([`TestDb::each`]), so one test body
//! checks SQLite and PostgreSQL alike.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::db::{Db, Engine};

/// A fresh directory under the system's temp dir, removed (with its databases) on drop.
#[derive(Debug)]
pub struct TempDir {
    dir: PathBuf,
}

impl TempDir {
    /// `label` names the test in the directory name, to make a leftover easy to trace.
    pub fn new(label: &str) -> std::io::Result<TempDir> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let dir = std::env::temp_dir().join(format!(
            "tracedojo-{label}-{}-{nanos}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(TempDir { dir })
    }

    /// The URL of a SQLite database file named `name.db` in this directory.
    pub fn sqlite_url(&self, name: &str) -> String {
        format!("sqlite://{}", self.dir.join(format!("{name}.db")).display())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Where the tests find a PostgreSQL server: a URL whose user may create databases
/// (`tests/postgres.sh` starts one and prints it).
pub const POSTGRES_URL_VARIABLE: &str = "TRACEDOJO_TEST_POSTGRES_URL";

/// A scratch database for one test, dropped with it: a directory for SQLite files, or a fresh
/// database on the test PostgreSQL server.
#[derive(Debug)]
pub struct TestDb {
    engine: Engine,
    /// SQLite: the directory; PostgreSQL: a URL of the database made for the test.
    place: Place,
}

#[derive(Debug)]
enum Place {
    Directory(TempDir),
    Database {
        url: String,
        server: String,
        name: String,
    },
}

impl TestDb {
    /// A scratch database on every engine this machine offers: SQLite always, PostgreSQL when
    /// [`POSTGRES_URL_VARIABLE`] is set. Under CI (`CI` set) PostgreSQL is required, so a
    /// missing server fails the test instead of skipping half of it.
    pub async fn each(label: &str) -> Vec<TestDb> {
        let mut all = vec![TestDb::sqlite(label)];
        match postgres_server() {
            Some(server) => all.push(TestDb::postgres(&server, label).await),
            None if std::env::var_os("CI").is_some() => panic!(
                "{POSTGRES_URL_VARIABLE} is not set, and CI runs every database test on \
                 PostgreSQL too: export {POSTGRES_URL_VARIABLE}=\"$(bash tests/postgres.sh)\""
            ),
            None => skipped_postgres_once(),
        }
        all
    }

    pub fn sqlite(label: &str) -> TestDb {
        TestDb {
            engine: Engine::Sqlite,
            place: Place::Directory(TempDir::new(label).expect("a temporary directory")),
        }
    }

    /// A new, empty database on the PostgreSQL server at `server` (a URL of any database on
    /// it, whose user may create databases).
    pub async fn postgres(server: &str, label: &str) -> TestDb {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let label: String = label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(30)
            .collect();
        let name = format!(
            "td_{label}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        admin(server, &format!("CREATE DATABASE {name}")).await;
        TestDb {
            engine: Engine::Postgres,
            place: Place::Database {
                url: with_database(server, &name),
                server: server.to_string(),
                name,
            },
        }
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The URL for the database `name` (a file `name.db`, or the test's PostgreSQL database,
    /// in which `Db::connect(url, name)` keeps `name`'s tables in a schema of that name).
    pub fn url(&self, name: &str) -> String {
        match &self.place {
            Place::Directory(dir) => dir.sqlite_url(name),
            Place::Database { url, .. } => url.clone(),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Place::Database { server, name, .. } = &self.place {
            let (server, name) = (server.clone(), name.clone());
            // Dropped inside a test's runtime, which cannot be blocked on: a thread of its own.
            let dropped = std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime")
                    .block_on(admin(
                        &server,
                        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                    ))
            });
            let _ = dropped.join();
        }
    }
}

fn postgres_server() -> Option<String> {
    std::env::var(POSTGRES_URL_VARIABLE)
        .ok()
        .filter(|url| !url.trim().is_empty())
}

fn skipped_postgres_once() {
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        eprintln!(
            "note: database tests run on SQLite only; set {POSTGRES_URL_VARIABLE} (bash \
             tests/postgres.sh prints it) to run them on PostgreSQL as well"
        )
    });
}

/// `server`'s URL with its database replaced by `database`.
fn with_database(server: &str, database: &str) -> String {
    let (base, query) = match server.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (server, String::new()),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_end = base[scheme_end..]
        .find('/')
        .map(|i| scheme_end + i)
        .unwrap_or(base.len());
    format!("{}/{database}{query}", &base[..host_end])
}

async fn admin(server: &str, sql: &str) {
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(server)
        .await
        .unwrap_or_else(|err| {
            panic!("cannot reach the test PostgreSQL ({POSTGRES_URL_VARIABLE}): {err}")
        });
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|err| panic!("{sql}: {err}"));
    let _ = conn.close().await;
}

/// Makes `table` refuse every delete with the database's own "disk full" error, as a full
/// disk would (SQLite's message, PostgreSQL's SQLSTATE 53100), until [`allow_deletes`].
pub async fn refuse_deletes(db: &Db, table: &str) {
    let sql = match db.engine() {
        Engine::Sqlite => format!(
            "CREATE TRIGGER refuse BEFORE DELETE ON {table} \
             BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        ),
        Engine::Postgres => format!(
            "CREATE OR REPLACE FUNCTION refuse_delete() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' \
             USING ERRCODE = '53100'; END $$; \
             CREATE TRIGGER refuse BEFORE DELETE ON {table} \
             FOR EACH ROW EXECUTE FUNCTION refuse_delete()"
        ),
    };
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(db.pool())
        .await
        .expect("a trigger refusing deletes");
}

/// Undoes [`refuse_deletes`].
pub async fn allow_deletes(db: &Db, table: &str) {
    let sql = match db.engine() {
        Engine::Sqlite => "DROP TRIGGER refuse".to_string(),
        Engine::Postgres => format!("DROP TRIGGER refuse ON {table}"),
    };
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(db.pool())
        .await
        .expect("the trigger dropped");
}
