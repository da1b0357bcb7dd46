//! Where the shop keeps its data: SQLite files in the data directory (the default), or one
//! PostgreSQL database given by `--database-url`, each service's tables in a schema of its own.
//!
//! A PostgreSQL server is often started beside the shop (compose, a Kubernetes pod, a CI job)
//! and may take a few seconds to take connections. Before a service opens its pool, and
//! before `up` starts any, [`wait_for_postgres`] tries the server with back-off and says why
//! it waits; a wrong password or a database that does not exist ends the wait at once.

use std::time::{Duration, Instant};

use anyhow::bail;
use sqlx::Connection;
use tracedojo_kit::db::{Engine, redact};

/// How long a start waits for PostgreSQL to take connections.
pub const PATIENCE: Duration = Duration::from_secs(30);
/// The first pause between two tries; each next one is twice as long, up to [`LONGEST_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(250);
const LONGEST_PAUSE: Duration = Duration::from_secs(4);

/// `up --database-url`: a PostgreSQL URL, checked before anything starts. SQLite is what `up`
/// runs without one (a file per service in `--data-dir`), so a `sqlite:` URL is refused with
/// that advice rather than half-used.
pub fn shop_database_url(url: Option<&str>) -> anyhow::Result<Option<String>> {
    let Some(url) = url.map(str::trim).filter(|url| !url.is_empty()) else {
        return Ok(None);
    };
    match Engine::of_url(url)? {
        Engine::Postgres => {
            url.parse::<sqlx::postgres::PgConnectOptions>()
                .map_err(|err| {
                    anyhow::anyhow!(
                        "--database-url {} is not a valid PostgreSQL URL: {err}; use \
                         postgres://USER:PASSWORD@HOST:5432/DATABASE",
                        redact(url)
                    )
                })?;
            Ok(Some(url.to_string()))
        }
        Engine::Sqlite => bail!(
            "--database-url {} is a SQLite URL, but `up` already keeps a SQLite file per \
             service in --data-dir (choose the directory with --data-dir); --database-url \
             takes a PostgreSQL URL, postgres://USER:PASSWORD@HOST:5432/DATABASE",
            redact(url)
        ),
    }
}

/// The key of the advisory lock a running `up` holds in its PostgreSQL database ("tracedoj").
const SHOP_LOCK_KEY: i64 = 0x7472_6163_6564_6f6a;

/// The schemas a shop keeps its tables in: one per service with tables, and the queue's.
const SCHEMAS: [&str; 6] = [
    "catalog",
    "cart",
    "inventory",
    "checkout",
    "shipping",
    "queue",
];

/// Held by `up` for as long as its shop runs on a PostgreSQL database, so a second `up` (or
/// `showcase --fresh`) on the same database, from any machine, is refused rather than mixed
/// in. Released when dropped (the connection closes).
pub struct ShopLock {
    conn: sqlx::PgConnection,
}

/// Takes the shop's lock in the database at `url`.
pub async fn lock_shop(url: &str) -> anyhow::Result<ShopLock> {
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(SHOP_LOCK_KEY)
        .fetch_one(&mut conn)
        .await?;
    if !taken {
        bail!(
            "another `tracedojo up` runs on {} (it holds the shop's lock there); stop it \
             first, or give this shop a database of its own",
            redact(url)
        );
    }
    Ok(ShopLock { conn })
}

/// `showcase --fresh` on PostgreSQL: drops the shop's schemas (its tables and data), unless a
/// shop runs on the database. The next start makes and seeds them again.
pub async fn empty_shop(url: &str) -> anyhow::Result<()> {
    let mut lock = lock_shop(url)
        .await
        .map_err(|err| anyhow::anyhow!("--fresh: {err}"))?;
    let drop = format!("DROP SCHEMA IF EXISTS {} CASCADE", SCHEMAS.join(", "));
    sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
        .execute(&mut lock.conn)
        .await
        .map_err(|err| anyhow::anyhow!("--fresh: cannot drop the shop's schemas: {err}"))?;
    Ok(())
}

/// How the shop's data is described on `up`'s start screen (no password).
pub fn describe(url: &str) -> String {
    format!("PostgreSQL {} (a schema per service)", redact(url))
}

/// Tries the PostgreSQL server at `url` until it takes a connection, with back-off, for at
/// most `patience`. `say` hears each wait once per kind of failure. Failures no wait can cure
/// (a refused password, a missing database, a malformed URL) end it at once.
pub async fn wait_for_postgres(
    url: &str,
    patience: Duration,
    say: impl Fn(&str),
) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut pause = FIRST_PAUSE;
    let mut last_said = String::new();
    loop {
        let error = match sqlx::PgConnection::connect(url).await {
            Ok(conn) => {
                let _ = conn.close().await;
                if !last_said.is_empty() {
                    say(&format!(
                        "PostgreSQL at {} takes connections now",
                        server_of(url)
                    ));
                }
                return Ok(());
            }
            Err(err) => err,
        };
        if let Some(advice) = lasting(&error) {
            bail!(
                "cannot use PostgreSQL at {}: {}; {advice}",
                redact(url),
                tracedojo_kit::db::database_message(&error)
            );
        }
        let reason = tracedojo_kit::db::database_message(&error);
        if started.elapsed() + pause > patience {
            bail!(
                "PostgreSQL at {} did not take a connection within {} s ({reason}); check that \
                 the server runs and that its host and port are right",
                server_of(url),
                patience.as_secs()
            );
        }
        if reason != last_said {
            say(&format!(
                "waiting for PostgreSQL at {} ({reason}); trying again for up to {} s",
                server_of(url),
                patience.as_secs()
            ));
            last_said = reason;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(LONGEST_PAUSE);
    }
}

/// What to do about a failure waiting will not cure, or `None` for one it may (the server
/// not up yet, a network hiccup).
fn lasting(error: &sqlx::Error) -> Option<&'static str> {
    match error {
        sqlx::Error::Configuration(_) => {
            Some("fix the URL: postgres://USER:PASSWORD@HOST:5432/DATABASE")
        }
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some("28P01" | "28000") => Some("check the user name and password in the URL"),
            Some("3D000") => Some("create the database first (createdb NAME), or name another"),
            Some("42501") => Some("the user may not connect to that database; grant it CONNECT"),
            _ => None,
        },
        _ => None,
    }
}

/// `host:port` of a PostgreSQL URL, for messages.
fn server_of(url: &str) -> String {
    match url.parse::<sqlx::postgres::PgConnectOptions>() {
        Ok(options) => format!("{}:{}", options.get_host(), options.get_port()),
        Err(_) => redact(url),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn up_takes_a_postgres_url_and_refuses_others_without_showing_the_password() {
        assert_eq!(shop_database_url(None).unwrap(), None);
        assert_eq!(shop_database_url(Some("  ")).unwrap(), None);
        let url = "postgres://shop:pw@db:5432/shop";
        assert_eq!(shop_database_url(Some(url)).unwrap().as_deref(), Some(url));
        for (bad, says) in [
            ("sqlite://x.db", "--data-dir"),
            ("mysql://shop:pw@db/shop", "postgres://"),
            (
                "postgres://shop:pw@db:notaport/shop",
                "not a valid PostgreSQL URL",
            ),
        ] {
            let err = shop_database_url(Some(bad)).unwrap_err().to_string();
            assert!(err.contains(says), "{bad}: {err}");
            assert!(!err.contains("pw"), "{bad}: {err}");
        }
    }

    #[tokio::test]
    async fn a_server_that_never_answers_is_given_up_on_with_the_reason() {
        // A port nobody listens on: refused at once, every time.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("postgres://shop:pw@127.0.0.1:{port}/shop");
        let said = std::sync::Mutex::new(Vec::new());
        let err = wait_for_postgres(&url, Duration::from_secs(1), |line| {
            said.lock().unwrap().push(line.to_string())
        })
        .await
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("did not take a connection within 1 s"),
            "{err}"
        );
        assert!(!err.contains("pw"), "{err}");
        let said = said.into_inner().unwrap();
        assert_eq!(said.len(), 1, "one line per kind of failure: {said:?}");
        assert!(said[0].contains("waiting for PostgreSQL"), "{said:?}");
    }
}
