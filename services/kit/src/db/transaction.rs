//! Write transactions that either commit whole or leave nothing behind.
//!
//! Why not `sqlx::Transaction`: when SQLite fails a statement or the COMMIT itself (a full
//! disk, an I/O error), it may already have rolled the transaction back, or may still hold it
//! open. sqlx keeps its own count of nested transactions and can then disagree with SQLite:
//! the connection goes back to the pool inside a transaction nobody owns, holding the write
//! lock (every other writer then fails with "database is locked"), and a later "commit" on it
//! only releases a savepoint, so an order answered as saved is never written.
//!
//! [`WriteTx`] never reuses a connection whose transaction did not end cleanly: it is closed
//! instead, and closing a connection rolls back whatever it still held. A success is
//! reported only once the database has answered the COMMIT. (PostgreSQL needs this as much:
//! after one failed statement it refuses everything but a rollback until the transaction
//! ends.)

use sqlx::Any;
use sqlx::pool::PoolConnection;

use super::{Connection, Db, Statement};

const BEGIN: &str = "BEGIN";
const COMMIT: Statement = Statement::new("COMMIT", "", "COMMIT");
const ROLLBACK: &str = "ROLLBACK";

/// One write transaction on a pooled connection. Run statements on [`WriteTx::conn`], then
/// [`WriteTx::commit`]. Dropped without a commit (an error returned early, a cancelled
/// request), it rolls back by closing its connection. Cancelled while its COMMIT is already
/// on its way, the outcome is unknown to the caller (SQLite may still commit), but never
/// answered as a success.
#[derive(Debug)]
pub struct WriteTx {
    db: Db,
    conn: PoolConnection<Any>,
    /// Set once the transaction has ended cleanly and the connection may be reused.
    ended: bool,
}

impl Db {
    /// Starts a write transaction. SQLite takes its one write lock at the first write
    /// statement, PostgreSQL a lock on each row a statement changes, so a wait for a lock
    /// shows in that statement's span, as it would in production.
    pub async fn begin_write(&self) -> Result<WriteTx, sqlx::Error> {
        let conn = self.pool().acquire().await?;
        let mut tx = WriteTx {
            db: self.clone(),
            conn,
            ended: false,
        };
        sqlx::query(BEGIN).execute(&mut *tx.conn).await?;
        Ok(tx)
    }
}

impl WriteTx {
    /// The connection to run this transaction's statements on (`.execute(tx.conn())`).
    pub fn conn(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// Waits until no other transaction holds the lock called `name`, and holds it until this
    /// one ends: for work that two processes of one service may start at once on a shared
    /// PostgreSQL database (replicas seeding an empty table at their first start). PostgreSQL's
    /// advisory transaction lock; on SQLite, where such a race means two processes on one
    /// file, the database's single write lock already lets one writer through at a time.
    pub async fn lock_named(&mut self, name: &str) -> Result<(), sqlx::Error> {
        if self.db.engine() == super::Engine::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
                .bind(name)
                .execute(&mut *self.conn)
                .await?;
        }
        Ok(())
    }

    /// Commits, in a `COMMIT` database span. `Ok` means SQLite has written the transaction;
    /// on `Err` nothing of it is kept.
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        let db = self.db.clone();
        db.run(
            &COMMIT,
            sqlx::query(db.sql(&COMMIT)).execute(&mut *self.conn),
        )
        .await?;
        self.ended = true;
        Ok(())
    }

    /// Rolls back on purpose (a refused reservation, say). The connection is reused only if
    /// SQLite confirms the rollback.
    pub async fn rollback(mut self) -> Result<(), sqlx::Error> {
        sqlx::query(ROLLBACK).execute(&mut *self.conn).await?;
        self.ended = true;
        Ok(())
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        if !self.ended {
            self.conn.close_on_drop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Engine;
    use crate::testing::TestDb;

    const INSERT: Statement =
        Statement::new("INSERT", "items", "INSERT INTO items (name) VALUES ($1)");

    /// A table whose names are unique, so a second insert of one name fails.
    async fn items(test_db: &TestDb) -> Db {
        let db = Db::connect(&test_db.url("items"), "items").await.unwrap();
        let create = match db.engine() {
            Engine::Sqlite => {
                "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)"
            }
            Engine::Postgres => {
                "CREATE TABLE items (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
                 name TEXT NOT NULL UNIQUE)"
            }
        };
        sqlx::query(create).execute(db.pool()).await.unwrap();
        db
    }

    async fn names(db: &Db) -> Vec<String> {
        sqlx::query_scalar("SELECT name FROM items ORDER BY id")
            .fetch_all(db.pool())
            .await
            .unwrap()
    }

    async fn insert(db: &Db, tx: &mut WriteTx, name: &str) -> Result<(), sqlx::Error> {
        db.run(
            &INSERT,
            sqlx::query(db.sql(&INSERT)).bind(name).execute(tx.conn()),
        )
        .await
        .map(|_| ())
    }

    #[tokio::test]
    async fn a_transaction_that_fails_half_way_keeps_nothing_and_frees_the_lock() {
        for test_db in TestDb::each("write-tx").await {
            let db = items(&test_db).await;

            // Many more failures than the pool has connections: a connection left inside its
            // transaction would hold the write lock (SQLite) or refuse every statement until a
            // rollback (PostgreSQL), and the next writer would fail.
            for _ in 0..20 {
                let mut tx = db.begin_write().await.unwrap();
                insert(&db, &mut tx, "first").await.unwrap();
                let duplicate = insert(&db, &mut tx, "first").await;
                let Err(sqlx::Error::Database(err)) = duplicate else {
                    panic!("{:?}: a duplicate was taken: {duplicate:?}", db.engine());
                };
                // The database's own code: SQLite's extended result code for a unique
                // constraint, PostgreSQL's SQLSTATE.
                let expected = match db.engine() {
                    Engine::Sqlite => "2067",
                    Engine::Postgres => "23505",
                };
                assert_eq!(err.code().as_deref(), Some(expected));
                drop(tx);
            }
            assert!(
                names(&db).await.is_empty(),
                "{:?}: a failed transaction left rows",
                db.engine()
            );

            let mut tx = db.begin_write().await.unwrap();
            insert(&db, &mut tx, "kept").await.unwrap();
            tx.commit().await.unwrap();
            assert_eq!(names(&db).await, ["kept"], "{:?}", db.engine());
        }
    }

    #[tokio::test]
    async fn a_transaction_dropped_before_its_commit_keeps_nothing() {
        for test_db in TestDb::each("write-tx-drop").await {
            let db = items(&test_db).await;
            let mut tx = db.begin_write().await.unwrap();
            insert(&db, &mut tx, "abandoned").await.unwrap();
            drop(tx);
            let mut tx = db.begin_write().await.unwrap();
            insert(&db, &mut tx, "committed").await.unwrap();
            tx.commit().await.unwrap();
            let mut tx = db.begin_write().await.unwrap();
            insert(&db, &mut tx, "rolled back").await.unwrap();
            tx.rollback().await.unwrap();
            assert_eq!(names(&db).await, ["committed"], "{:?}", db.engine());
        }
    }
}
