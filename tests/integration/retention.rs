//! `--keep-rows`: a shop that sells more than it keeps stays within its bound, orders and
//! their lines, reservations and their items, shipments, without orphans, and still answers
//! for the newest order.

use crate::support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Shop, buy_approved, temp_dir};
use tracedojo_kit::Db;
use tracedojo_kit::db::Engine;

const KEEP: i64 = 1_000;
/// How often the services prune in this test (instead of once a minute).
const PRUNE_EVERY_MS: u64 = 300;
/// Journeys per second of the load: every one a purchase.
const RATE: u64 = 60;
const PURCHASES: u64 = 1_200;
/// What one round's growth can add on top of the bound: the rows written between two rounds,
/// with room for a slow round on a loaded machine.
const ONE_ROUND: i64 = (RATE * PRUNE_EVERY_MS / 1000 * 4) as i64;
/// How far beyond the bound a table may be while the load runs: a few rounds' growth (on two
/// busy cores a round can wait a while for the write lock or for a thread).
const DURING_LOAD: i64 = 250;

/// The bounded tables, by database, and the SQL that counts each table's orphans.
const BOUNDED: [(&str, &str, Option<&str>); 5] = [
    (
        "checkout",
        "orders",
        Some("SELECT COUNT(*) FROM order_items WHERE order_id NOT IN (SELECT id FROM orders)"),
    ),
    (
        "inventory",
        "reservations",
        Some(
            "SELECT COUNT(*) FROM reservation_items
             WHERE reservation_id NOT IN (SELECT id FROM reservations)",
        ),
    ),
    ("shipping", "shipments", None),
    ("cart", "cart_items", None),
    // Lines, checked against a bound of their own below.
    ("checkout", "order_items", None),
];

/// The shop's database `name` for reading: its SQLite file opened read-only, or its schema
/// on PostgreSQL.
async fn read_only(shop: &Shop, name: &str) -> Db {
    match shop.engine() {
        Engine::Sqlite => Db::connect(&format!("{}?mode=ro", shop.database_url(name)), name)
            .await
            .unwrap_or_else(|err| panic!("open {name} read-only: {err}")),
        Engine::Postgres => shop.db(name).await,
    }
}

async fn scalar(db: &Db, sql: &str) -> i64 {
    sqlx::query_scalar::<_, Option<i64>>(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(db.pool())
        .await
        .unwrap_or_else(|err| panic!("{sql}: {err}"))
        .unwrap_or(0)
}

/// Each bounded table's row count, and the orphans found.
async fn counts(shop: &Shop) -> Vec<(&'static str, i64, i64)> {
    let mut all = Vec::new();
    for (database, table, orphans) in BOUNDED {
        let db = read_only(shop, database).await;
        let rows = scalar(&db, &format!("SELECT COUNT(*) FROM {table}")).await;
        let orphans = match orphans {
            Some(sql) => scalar(&db, sql).await,
            None => 0,
        };
        db.pool().close().await;
        all.push((table, rows, orphans));
    }
    all
}

/// Whether every table is within `KEEP + slack` rows (an order's lines within its two lines
/// per order at most, as the load buys one or two products).
fn within(counts: &[(&str, i64, i64)], slack: i64) -> bool {
    counts.iter().all(|(table, rows, _)| match *table {
        "order_items" => *rows <= 2 * (KEEP + slack),
        _ => *rows <= KEEP + slack,
    })
}

async fn poll_until_within(shop: &Shop, slack: i64, what: &str) -> Vec<(&'static str, i64, i64)> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = counts(shop).await;
        if within(&now, slack) {
            return now;
        }
        assert!(Instant::now() < deadline, "{what}: still {now:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What the shop's data takes: its SQLite files, or its PostgreSQL database.
async fn data_bytes(shop: &Shop) -> i64 {
    match shop.engine() {
        Engine::Sqlite => std::fs::read_dir(&shop.data_dir)
            .unwrap()
            .filter_map(|entry| entry.ok()?.metadata().ok())
            .map(|meta| meta.len() as i64)
            .sum(),
        Engine::Postgres => {
            let db = read_only(shop, "checkout").await;
            scalar(&db, "SELECT pg_database_size(current_database())").await
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shop_selling_more_than_it_keeps_stays_within_its_bound() {
    let shop = Shop::start_with(
        &["--no-load", "--keep-rows", &KEEP.to_string()],
        &[
            ("OTEL_SDK_DISABLED", "true"),
            ("TRACEDOJO_PRUNE_EVERY_MS", &PRUNE_EVERY_MS.to_string()),
            // Stock refilled often enough for a purchase every few milliseconds.
            ("INVENTORY_RESTOCK_INTERVAL_MS", "200"),
        ],
    );
    let dir = temp_dir("retention-load");
    let profile = dir.join("purchases.toml");
    std::fs::write(&profile, "[mix]\npurchase = 1\n").unwrap();
    let report = dir.join("report.json");

    let started = Instant::now();
    let mut load = Command::new(support::BIN)
        .args(["load", "--target", &shop.url, "--file"])
        .arg(&profile)
        .args(["--rate", &RATE.to_string(), "--journeys"])
        .arg(PURCHASES.to_string())
        .args(["--duration", "0", "--think-max-ms", "0", "--seed", "11"])
        .args(["--quiet", "--json"])
        .arg(&report)
        .env("OTEL_SDK_DISABLED", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tracedojo load");
    // While the load runs, the tables never stray far beyond the bound.
    let mut peak = Vec::new();
    let load_deadline = started + Duration::from_secs(PURCHASES / RATE * 4 + 60);
    while load.try_wait().unwrap().is_none() {
        if Instant::now() > load_deadline {
            let _ = load.kill();
            panic!("the load did not finish in time");
        }
        let now = counts(&shop).await;
        assert!(within(&now, DURING_LOAD), "during the load: {now:?}");
        for (i, (_, rows, _)) in now.iter().enumerate() {
            match peak.get_mut(i) {
                Some(high) if *high < *rows => *high = *rows,
                Some(_) => {}
                None => peak.push(*rows),
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let output = load.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(report["errors"], 0, "{report}");
    let load_took = started.elapsed();

    // More orders were placed than are kept: the first ones are gone.
    let checkout = read_only(&shop, "checkout").await;
    let placed = scalar(&checkout, "SELECT MAX(id) FROM orders").await;
    assert!(placed > KEEP + 100, "only {placed} orders placed");
    checkout.pool().close().await;

    let settled = poll_until_within(&shop, 0, "after the load").await;
    for (table, rows, orphans) in &settled {
        assert_eq!(*orphans, 0, "{table}: {orphans} orphans in {settled:?}");
        // (Shipments may still be catching up with the queue.)
        if ["orders", "reservations"].contains(table) {
            assert!(
                *rows >= KEEP - ONE_ROUND,
                "{table}: too few left: {settled:?}"
            );
        }
    }

    // The newest order is kept, answered by the shop, and took an id never used before.
    let (status, body) = buy_approved(&shop, "retention-last", "").await;
    assert_eq!(status, 201, "{body}");
    let order_id = body["order_id"].as_i64().unwrap();
    assert!(order_id > placed, "{order_id} after {placed}");
    let settled = poll_until_within(&shop, 0, "after the last order").await;
    let checkout = read_only(&shop, "checkout").await;
    let newest = scalar(&checkout, "SELECT MAX(id) FROM orders").await;
    let oldest = scalar(&checkout, "SELECT MIN(id) FROM orders").await;
    let lines = scalar(
        &checkout,
        &format!("SELECT COUNT(*) FROM order_items WHERE order_id = {order_id}"),
    )
    .await;
    checkout.pool().close().await;
    assert_eq!(newest, order_id);
    assert_eq!(lines, 2, "the newest order's lines");
    assert_eq!(oldest, newest - KEEP + 1, "{settled:?}");
    let answered = support::client()
        .get(format!("{}/api/orders/{order_id}", shop.url))
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status().as_u16(), 200);

    println!(
        "{placed} orders placed in {:.1} s; peak rows during the load {peak:?}; after: \
         {settled:?}; data {} bytes",
        load_took.as_secs_f64(),
        data_bytes(&shop).await
    );
    let _ = std::fs::remove_dir_all(dir);
}
