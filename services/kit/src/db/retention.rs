//! Keeping the tables of finished work to their newest rows.
//!
//! A booth runs the shop eight to ten hours a day, for days. Every purchase adds an order and
//! its lines, a reservation and its items, a shipment, and every abandoned cart leaves its
//! lines: nothing else ever deletes them, so without a bound the database grows until the
//! disk is full. A [`Pruner`] keeps each such table to its newest N rows (by an ever-growing
//! column: the order's id, or for a table without such a key SQLite's rowid and PostgreSQL's
//! `seq` identity column, the order rows were inserted in): about once a minute, and once at
//! start, it finds the (N+1)-th newest row and deletes it and every older row, each table's
//! child rows (an order's lines) first.
//!
//! The shop keeps serving meanwhile. The rows go in batches, each its own short write
//! transaction (on SQLite `BEGIN IMMEDIATE`: the write lock is taken at once, or waited for
//! as any writer waits; on PostgreSQL only the deleted rows are locked), so a shopper's checkout waits a few milliseconds at most, and a child row
//! is never left without its parent, nor a parent deleted from under a child. Only rows far
//! older than the newest N ever go: an order just answered as placed is among the newest.
//!
//! This is housekeeping, not the shop's work: it runs plain sqlx statements, so it makes no
//! spans (it would otherwise show as a root trace of its own every minute) and is never
//! slowed or broken by a fault. A failure (a full disk, a database locked past the busy
//! timeout) is logged once as a warning and the round is tried again at the next tick; the
//! shop never stops for it. SQLite keeps the pages it freed and reuses them for new rows, and
//! PostgreSQL's autovacuum does the same for its tables, so once the bound is reached the
//! database stops growing.

use std::time::Duration;

use sqlx::Any;
use sqlx::pool::PoolConnection;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{Connection, Db, Engine, database_message};

/// Rows each bounded table keeps unless told otherwise: some 18 ten-hour days of orders at
/// `up`'s background load (a journey a second, 15% of them purchases).
pub const DEFAULT_KEEP_ROWS: u64 = 100_000;
/// The fewest rows a table may be told to keep: fewer would delete orders a shopper may still
/// be looking at.
pub const MIN_KEEP_ROWS: u64 = 1_000;
/// How often the pruner looks for rows to delete unless told otherwise.
pub const DEFAULT_EVERY: Duration = Duration::from_secs(60);
/// How many rows of a table (with their children) one write transaction deletes.
pub const DEFAULT_BATCH: u64 = 500;
/// The rest between two batches of one round, so writers waiting for the lock get it.
const PAUSE: Duration = Duration::from_millis(20);

/// `--keep-rows`: a whole number of rows, at least [`MIN_KEEP_ROWS`].
pub fn parse_keep_rows(text: &str) -> Result<u64, String> {
    let rows: u64 = text.trim().replace('_', "").parse().map_err(|_| {
        format!("\"{text}\" is not a whole number of rows, e.g. {DEFAULT_KEEP_ROWS}")
    })?;
    if rows < MIN_KEEP_ROWS {
        return Err(format!(
            "{rows} is too few: keep at least {MIN_KEEP_ROWS} rows per table (the default, \
             {DEFAULT_KEEP_ROWS}, keeps days of a booth's orders)"
        ));
    }
    Ok(rows)
}

/// A table whose rows hang off a bounded table's rows (an order's lines): deleted with them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Child {
    table: &'static str,
    /// The column that holds the parent's key.
    column: &'static str,
}

impl Child {
    /// The rows of `table` whose `column` holds a parent's key.
    pub const fn new(table: &'static str, column: &'static str) -> Child {
        Child {
            table: identifier(table),
            column: identifier(column),
        }
    }
}

/// A table kept to its newest rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounded {
    table: &'static str,
    /// The column rows are ordered by, oldest first; `None` for SQLite's `rowid` and
    /// PostgreSQL's `seq` (a table with no ever-growing key of its own).
    order: Option<&'static str>,
    /// The parent's column the children's column refers to.
    key: &'static str,
    children: &'static [Child],
}

impl Bounded {
    /// A table with no child rows.
    pub const fn new(table: &'static str) -> Bounded {
        Bounded {
            table: identifier(table),
            order: None,
            key: "rowid",
            children: &[],
        }
    }

    /// The same table, its rows ordered by `column` (an ever-growing key, such as an order's
    /// id) on both engines.
    pub const fn ordered_by(self, column: &'static str) -> Bounded {
        Bounded {
            order: Some(identifier(column)),
            ..self
        }
    }

    /// A table whose rows' `key` is referenced by the children's columns.
    pub const fn with_children(
        table: &'static str,
        key: &'static str,
        children: &'static [Child],
    ) -> Bounded {
        Bounded {
            table: identifier(table),
            order: None,
            key: identifier(key),
            children,
        }
    }

    pub fn table(&self) -> &'static str {
        self.table
    }

    fn order_column(&self, engine: Engine) -> &'static str {
        match (self.order, engine) {
            (Some(column), _) => column,
            (None, Engine::Sqlite) => "rowid",
            (None, Engine::Postgres) => "seq",
        }
    }
}

/// A table or column name, checked to be plain (lower-case ASCII letters, digits and '_'):
/// names are put into the SQL text, so none may carry anything else. Used in constants, a
/// wrong name fails the build.
const fn identifier(name: &'static str) -> &'static str {
    let bytes = name.as_bytes();
    assert!(!bytes.is_empty(), "an empty table or column name");
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        assert!(
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_',
            "table and column names are lower-case ASCII letters, digits and '_'"
        );
        i += 1;
    }
    name
}

/// SQL text built from [`identifier`]s checked when the tables were declared, and `$N` binds.
fn audited(text: String) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(text)
}

/// How many rows to keep, and how often to look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub keep_rows: u64,
    pub every: Duration,
    /// Rows per write transaction.
    pub batch: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            keep_rows: DEFAULT_KEEP_ROWS,
            every: DEFAULT_EVERY,
            batch: DEFAULT_BATCH,
        }
    }
}

impl Retention {
    pub fn new(keep_rows: u64, every: Duration) -> Retention {
        Retention {
            keep_rows,
            every,
            ..Retention::default()
        }
    }
}

/// Deletes the rows of `table` older than its newest `keep_rows` (and their children), `batch`
/// rows per write transaction; returns how many rows of `table` went. Untraced.
pub async fn prune(
    db: &Db,
    table: &Bounded,
    keep_rows: u64,
    batch: u64,
) -> Result<u64, sqlx::Error> {
    let pool = db.pool();
    let name = table.table;
    let order = table.order_column(db.engine());
    // A cheap look first (two index seeks): while the keys span no more than the rows to
    // keep, there cannot be more rows than that, and the walk below is not needed.
    let (low, high): (Option<i64>, Option<i64>) = sqlx::query_as(audited(format!(
        r#"SELECT MIN({order}), MAX({order}) FROM "{name}""#
    )))
    .fetch_one(pool)
    .await?;
    let (Some(low), Some(high)) = (low, high) else {
        return Ok(0);
    };
    if (i128::from(high) - i128::from(low)) < i128::from(keep_rows) {
        return Ok(0);
    }
    let keep = i64::try_from(keep_rows).unwrap_or(i64::MAX);
    let cut_off: Option<i64> = sqlx::query_scalar(audited(format!(
        r#"SELECT {order} FROM "{name}" ORDER BY {order} DESC LIMIT 1 OFFSET $1"#
    )))
    .bind(keep)
    .fetch_optional(pool)
    .await?;
    let Some(cut_off) = cut_off else {
        return Ok(0);
    };
    let batch = i64::try_from(batch.max(1)).unwrap_or(i64::MAX);
    let batch_end = format!(
        r#"SELECT MAX(r) FROM (SELECT {order} AS r FROM "{name}" WHERE {order} <= $1 ORDER BY {order} LIMIT $2) AS batch"#
    );
    let mut deleted = 0;
    loop {
        let through: Option<i64> = sqlx::query_scalar(audited(batch_end.clone()))
            .bind(cut_off)
            .bind(batch)
            .fetch_one(pool)
            .await?;
        let Some(through) = through else {
            break;
        };
        deleted += delete_through(db, table, through).await?;
        if through >= cut_off {
            break;
        }
        tokio::time::sleep(PAUSE).await;
    }
    Ok(deleted)
}

/// Deletes the rows of `table` up to key `through`, their children first, in one write
/// transaction.
async fn delete_through(db: &Db, table: &Bounded, through: i64) -> Result<u64, sqlx::Error> {
    let mut tx = Housekeeping::begin(db).await?;
    let name = table.table;
    let order = table.order_column(db.engine());
    for child in table.children {
        let sql = format!(
            r#"DELETE FROM "{}" WHERE "{}" IN (SELECT "{}" FROM "{name}" WHERE {order} <= $1)"#,
            child.table, child.column, table.key
        );
        tx.execute(sql, through).await?;
    }
    let sql = format!(r#"DELETE FROM "{name}" WHERE {order} <= $1"#);
    let deleted = tx.execute(sql, through).await?;
    tx.commit().await?;
    Ok(deleted)
}

/// One write transaction of the pruner, without spans. As with [`super::WriteTx`], a
/// connection whose transaction did not end cleanly is closed, not returned to the pool
/// (closing rolls back what it still held).
struct Housekeeping {
    db: Db,
    conn: PoolConnection<Any>,
    ended: bool,
}

impl Housekeeping {
    async fn begin(db: &Db) -> Result<Housekeeping, sqlx::Error> {
        let conn = db.pool().acquire().await?;
        let mut tx = Housekeeping {
            db: db.clone(),
            conn,
            ended: false,
        };
        let begin = match db.engine() {
            Engine::Sqlite => "BEGIN IMMEDIATE",
            Engine::Postgres => "BEGIN",
        };
        sqlx::query(begin)
            .execute(tx.conn())
            .await
            .inspect_err(|err| tx.db.note_write(Err(err)))?;
        Ok(tx)
    }

    fn conn(&mut self) -> &mut Connection {
        &mut self.conn
    }

    async fn execute(&mut self, sql: String, through: i64) -> Result<u64, sqlx::Error> {
        let result = sqlx::query(audited(sql))
            .bind(through)
            .execute(self.conn())
            .await;
        if let Err(err) = &result {
            self.db.note_write(Err(err));
        }
        Ok(result?.rows_affected())
    }

    async fn commit(mut self) -> Result<(), sqlx::Error> {
        let result = sqlx::query("COMMIT").execute(self.conn()).await;
        self.db.note_write(result.as_ref().map(|_| ()));
        result?;
        self.ended = true;
        Ok(())
    }
}

impl Drop for Housekeeping {
    fn drop(&mut self) {
        if !self.ended {
            self.conn.close_on_drop();
        }
    }
}

/// Runs rounds of [`prune`] over some tables of one database until stopped.
#[derive(Debug)]
pub struct Pruner {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Pruner {
    /// Starts pruning `tables` of `db` now, then every `retention.every`.
    pub fn start(db: Db, tables: &'static [Bounded], retention: Retention) -> Pruner {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(rounds(db, tables, retention, stopped));
        Pruner { stop, task }
    }

    /// Stops it, cutting short a round under way (its open transaction is rolled back), and
    /// waits until it has stopped. Dropping the pruner stops it too, without waiting.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn rounds(
    db: Db,
    tables: &'static [Bounded],
    retention: Retention,
    mut stop: watch::Receiver<bool>,
) {
    let mut failing = false;
    loop {
        let round = round(&db, tables, retention);
        let outcome = tokio::select! {
            outcome = round => outcome,
            _ = stopped(&mut stop) => return,
        };
        match outcome {
            Ok(()) if failing => {
                failing = false;
                tracing::info!(db.namespace = %db.namespace(), "deleting old rows works again");
            }
            Ok(()) => {}
            // Once per episode, not once a round: the shop keeps serving, and a full disk is
            // reported by /health as well.
            Err((table, err)) if !failing => {
                failing = true;
                tracing::warn!(
                    db.namespace = %db.namespace(),
                    db.collection.name = table,
                    exception.message = %database_message(&err),
                    "cannot delete old rows beyond the newest {}; the table grows until this \
                     works again (tried again every {}s)",
                    retention.keep_rows,
                    retention.every.as_secs_f64()
                );
            }
            Err(_) => {}
        }
        tokio::select! {
            _ = tokio::time::sleep(retention.every) => {}
            _ = stopped(&mut stop) => return,
        }
    }
}

/// One round over every table; a table that fails does not keep the others from their turn.
/// The first failure is returned with its table.
async fn round(
    db: &Db,
    tables: &[Bounded],
    retention: Retention,
) -> Result<(), (&'static str, sqlx::Error)> {
    let mut first_failure = None;
    for table in tables {
        match prune(db, table, retention.keep_rows, retention.batch).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(
                db.namespace = %db.namespace(),
                db.collection.name = table.table,
                "deleted {deleted} rows older than the newest {}",
                retention.keep_rows
            ),
            Err(err) => {
                first_failure.get_or_insert((table.table, err));
            }
        }
    }
    first_failure.map_or(Ok(()), Err)
}

/// Completes when the stop is given, or can no longer be (the pruner was dropped).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestDb, allow_deletes, refuse_deletes};

    const ORDERS: Bounded =
        Bounded::with_children("orders", "id", &[Child::new("order_items", "order_id")])
            .ordered_by("id");
    const NOTES: Bounded = Bounded::new("notes");

    /// A database shaped like checkout's (ids never reused, lines with a foreign key) and a
    /// table with no key of its own, holding `orders` orders of two lines.
    async fn shop(test_db: &TestDb, orders: i64) -> Db {
        let db = Db::connect(&test_db.url("orders"), "orders").await.unwrap();
        let ddl = match db.engine() {
            Engine::Sqlite => {
                "CREATE TABLE orders (id INTEGER PRIMARY KEY AUTOINCREMENT, order_ref TEXT NOT NULL);
                 CREATE TABLE order_items (order_id INTEGER NOT NULL REFERENCES orders (id),
                     product_id INTEGER NOT NULL, PRIMARY KEY (order_id, product_id));
                 CREATE TABLE notes (session_id TEXT NOT NULL, body TEXT NOT NULL);"
            }
            Engine::Postgres => {
                "CREATE TABLE orders (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                     order_ref TEXT NOT NULL);
                 CREATE TABLE order_items (order_id BIGINT NOT NULL REFERENCES orders (id),
                     product_id BIGINT NOT NULL, PRIMARY KEY (order_id, product_id));
                 CREATE TABLE notes (seq BIGINT GENERATED ALWAYS AS IDENTITY,
                     session_id TEXT NOT NULL, body TEXT NOT NULL);
                 CREATE INDEX notes_seq ON notes (seq);"
            }
        };
        sqlx::raw_sql(ddl).execute(db.pool()).await.unwrap();
        add_orders(&db, orders).await;
        db
    }

    /// The oldest row's place in `notes`, a table with no key of its own.
    async fn oldest_note(db: &Db) -> i64 {
        let sql = match db.engine() {
            Engine::Sqlite => "SELECT MIN(rowid) FROM notes",
            Engine::Postgres => "SELECT MIN(seq) FROM notes",
        };
        count(db, sql).await
    }

    async fn add_orders(db: &Db, count: i64) {
        let mut tx = db.pool().begin().await.unwrap();
        for _ in 0..count {
            let id: i64 =
                sqlx::query_scalar("INSERT INTO orders (order_ref) VALUES ('o') RETURNING id")
                    .fetch_one(&mut *tx)
                    .await
                    .unwrap();
            for product in [1_i64, 2] {
                sqlx::query("INSERT INTO order_items (order_id, product_id) VALUES ($1, $2)")
                    .bind(id)
                    .bind(product)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
            }
            sqlx::query("INSERT INTO notes (session_id, body) VALUES ('s', 'b')")
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }

    async fn count(db: &Db, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(db.pool()).await.unwrap()
    }

    async fn orphans(db: &Db) -> i64 {
        count(
            db,
            "SELECT COUNT(*) FROM order_items WHERE order_id NOT IN (SELECT id FROM orders)",
        )
        .await
    }

    #[tokio::test]
    async fn keeps_the_newest_rows_with_their_children_and_no_orphans() {
        for test_db in TestDb::each("retention").await {
            let db = shop(&test_db, 3_000).await;

            // A batch much smaller than the excess: many transactions in one round.
            let deleted = prune(&db, &ORDERS, 1_000, 128).await.unwrap();
            assert_eq!(deleted, 2_000);
            assert_eq!(count(&db, "SELECT COUNT(*) FROM orders").await, 1_000);
            assert_eq!(count(&db, "SELECT MIN(id) FROM orders").await, 2_001);
            assert_eq!(count(&db, "SELECT MAX(id) FROM orders").await, 3_000);
            assert_eq!(count(&db, "SELECT COUNT(*) FROM order_items").await, 2_000);
            assert_eq!(orphans(&db).await, 0);

            // The other table, without children or a key of its own.
            assert_eq!(prune(&db, &NOTES, 1_000, 500).await.unwrap(), 2_000);
            assert_eq!(count(&db, "SELECT COUNT(*) FROM notes").await, 1_000);
            assert_eq!(oldest_note(&db).await, 2_001);

            // Again: nothing more to do.
            assert_eq!(prune(&db, &ORDERS, 1_000, 128).await.unwrap(), 0);
            assert_eq!(prune(&db, &NOTES, 1_000, 128).await.unwrap(), 0);
            assert_eq!(count(&db, "SELECT COUNT(*) FROM orders").await, 1_000);

            // New rows push the oldest out; ids are never reused (AUTOINCREMENT remembers).
            add_orders(&db, 10).await;
            assert_eq!(prune(&db, &ORDERS, 1_000, 128).await.unwrap(), 10);
            assert_eq!(count(&db, "SELECT MIN(id) FROM orders").await, 2_011);
            assert_eq!(count(&db, "SELECT MAX(id) FROM orders").await, 3_010);
            assert_eq!(orphans(&db).await, 0);
        }
    }

    #[tokio::test]
    async fn a_table_at_or_under_the_bound_is_left_alone() {
        for test_db in TestDb::each("retention-under").await {
            let db = shop(&test_db, 1_000).await;
            assert_eq!(prune(&db, &ORDERS, 1_000, 100).await.unwrap(), 0);
            assert_eq!(prune(&db, &ORDERS, 5_000, 100).await.unwrap(), 0);
            assert_eq!(count(&db, "SELECT COUNT(*) FROM orders").await, 1_000);

            // Rowids spread wider than the bound but rows fewer: still nothing to delete.
            sqlx::query("DELETE FROM order_items WHERE order_id % 2 = 0")
                .execute(db.pool())
                .await
                .unwrap();
            sqlx::query("DELETE FROM orders WHERE id % 2 = 0")
                .execute(db.pool())
                .await
                .unwrap();
            assert_eq!(prune(&db, &ORDERS, 600, 100).await.unwrap(), 0);
            assert_eq!(prune(&db, &ORDERS, 400, 100).await.unwrap(), 100);
            assert_eq!(count(&db, "SELECT COUNT(*) FROM orders").await, 400);
            assert_eq!(orphans(&db).await, 0);

            let empty = Db::connect(&test_db.url("empty"), "empty").await.unwrap();
            sqlx::query("CREATE TABLE notes (seq BIGINT, body TEXT)")
                .execute(empty.pool())
                .await
                .unwrap();
            assert_eq!(prune(&empty, &NOTES, 1_000, 100).await.unwrap(), 0);
        }
    }

    #[tokio::test]
    async fn a_failed_batch_keeps_its_rows_and_the_next_round_finishes() {
        for test_db in TestDb::each("retention-fail").await {
            let db = shop(&test_db, 1_500).await;
            // The parents refuse to go (as a full disk would refuse the write): the batch's child
            // deletes are rolled back with it, so no line loses its order.
            refuse_deletes(&db, "orders").await;
            assert!(prune(&db, &ORDERS, 1_000, 100).await.is_err());
            assert_eq!(count(&db, "SELECT COUNT(*) FROM orders").await, 1_500);
            assert_eq!(count(&db, "SELECT COUNT(*) FROM order_items").await, 3_000);

            allow_deletes(&db, "orders").await;
            assert_eq!(prune(&db, &ORDERS, 1_000, 100).await.unwrap(), 500);
            assert_eq!(count(&db, "SELECT COUNT(*) FROM order_items").await, 2_000);
            assert_eq!(orphans(&db).await, 0);
        }
    }

    #[tokio::test]
    async fn the_pruner_runs_at_start_and_every_tick_until_stopped() {
        for test_db in TestDb::each("retention-pruner").await {
            let db = shop(&test_db, 1_200).await;
            static TABLES: [Bounded; 2] = [ORDERS, NOTES];
            let retention = Retention {
                keep_rows: 1_000,
                every: Duration::from_millis(50),
                batch: 64,
            };
            let pruner = Pruner::start(db.clone(), &TABLES, retention);
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            let mut rounds = 0;
            for more in [0, 300, 300] {
                add_orders(&db, more).await;
                loop {
                    let (orders, notes) = (
                        count(&db, "SELECT COUNT(*) FROM orders").await,
                        count(&db, "SELECT COUNT(*) FROM notes").await,
                    );
                    if orders == 1_000 && notes == 1_000 {
                        break;
                    }
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "still {orders} orders and {notes} notes"
                    );
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                rounds += 1;
            }
            assert_eq!(rounds, 3);
            assert_eq!(orphans(&db).await, 0);
            pruner.stop().await;

            // Stopped: nothing goes any more.
            add_orders(&db, 100).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
            assert_eq!(count(&db, "SELECT COUNT(*) FROM orders").await, 1_100);
        }
    }

    #[test]
    fn keep_rows_is_a_number_of_at_least_the_minimum() {
        assert_eq!(parse_keep_rows("100000"), Ok(100_000));
        assert_eq!(parse_keep_rows(" 2_000 "), Ok(2_000));
        assert_eq!(parse_keep_rows("1000"), Ok(1_000));
        assert!(
            parse_keep_rows("999")
                .unwrap_err()
                .contains("at least 1000")
        );
        assert!(
            parse_keep_rows("lots")
                .unwrap_err()
                .contains("whole number")
        );
        assert!(parse_keep_rows("-5").is_err());
    }
}
