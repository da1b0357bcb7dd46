//! The machine's own failures, over real processes: what the shop promises when the disk fills
//! up and is freed, or a service is killed in the middle of a checkout.
//!
//! The promise under test is the same each time, checked by [`Ledger::check`] at the end of
//! every test: every order answered 201 exists with its items, ids are never handed out
//! twice, and every stored order gets exactly one shipment (its `order.created` message was
//! neither lost nor doubled). And the shop recovers by itself once the cause is gone.
//!
//! The disk-full test mounts a small tmpfs (it needs root, as CI has). Where mounting is
//! refused it says why on stderr and passes without running: nothing else can make a disk
//! full without filling the real one.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::postgres::PrivatePostgres;
use crate::support::{self, Shop, client, temp_dir};
use serde_json::{Value, json};
use tracedojo_kit::db::Engine;

/// How long the shop may take to recover, or to ship what it stored: generous, because a
/// loaded CI machine is slow; the figures of a quiet machine are in RELIABILITY.md.
const RECOVERY: Duration = Duration::from_secs(90);

/// A tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    fn mount(label: &str, size: &str) -> Result<Tmpfs, String> {
        if !cfg!(target_os = "linux") {
            return Err("mounting a tmpfs is a Linux test fixture".into());
        }
        let path = temp_dir(label);
        let output = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}"),
                "tracedojo-test",
            ])
            .arg(&path)
            .output()
            .map_err(|err| format!("cannot run mount: {err}"))?;
        if !output.status.success() {
            let _ = std::fs::remove_dir_all(&path);
            return Err(format!(
                "mount -t tmpfs refused: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Ok(Tmpfs { path })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Writes a file until the file system says it is full; returns its path.
fn fill_disk(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).expect("create the filler file");
    // Large blocks first, then small ones, so the last free pages go too.
    for block in [1 << 20, 4096, 512] {
        let chunk = vec![0xA5u8; block];
        while file.write_all(&chunk).is_ok() {}
    }
    let _ = file.flush();
    path
}

/// What one purchase attempt got back.
#[derive(Debug)]
enum Attempt {
    Placed {
        order_id: i64,
        items: Value,
    },
    /// `answer` is the start of the body, so a failure says what the shop said.
    #[expect(dead_code, reason = "read through Debug, in failure messages")]
    Refused {
        step: &'static str,
        status: u16,
        answer: String,
    },
}

/// Every answer the shop gave, and the checks on what it must have stored.
#[derive(Default)]
struct Ledger {
    placed: BTreeMap<i64, Value>,
    duplicates: Vec<i64>,
    refused: BTreeMap<(&'static str, u16), usize>,
    attempts: usize,
}

impl Ledger {
    fn note(&mut self, attempt: &Attempt) {
        self.attempts += 1;
        match attempt {
            Attempt::Placed { order_id, items } => {
                if self.placed.insert(*order_id, items.clone()).is_some() {
                    self.duplicates.push(*order_id);
                }
            }
            Attempt::Refused { step, status, .. } => {
                *self.refused.entry((*step, *status)).or_default() += 1;
            }
        }
    }

    fn refusals(&self) -> usize {
        self.refused.values().sum()
    }

    /// One `figure:` line for RELIABILITY.md (`bench/reliability.sh` collects them), printed
    /// once [`Ledger::check`] passed: nothing acknowledged was lost.
    fn figure(&self, case: &str, extra: &str) {
        eprintln!(
            "figure: {case}: {} purchases tried, {} placed, {} refused ({:?}), 0 placed orders lost, 0 unshipped{extra}",
            self.attempts,
            self.placed.len(),
            self.refusals(),
            self.refused
        );
    }

    /// The promises: every 201 is a stored order with its items and exactly one shipment;
    /// no order id answered twice; every stored order ships (nothing stored without its
    /// message).
    async fn check(&self, shop: &Shop) {
        assert!(
            self.duplicates.is_empty(),
            "order ids answered twice: {:?}",
            self.duplicates
        );
        let http = client();
        for (order_id, items) in &self.placed {
            let status = http
                .get(format!("{}/api/orders/{order_id}", shop.url))
                .send()
                .await
                .unwrap();
            assert_eq!(
                status.status().as_u16(),
                200,
                "order {order_id} was answered 201 but is not stored"
            );
            let body: Value = status.json().await.unwrap();
            assert_eq!(
                &body["order"]["items"], items,
                "order {order_id} is stored with other items than answered"
            );
        }
        // Every stored order, whoever answered for it, ships exactly once.
        let deadline = Instant::now() + RECOVERY;
        loop {
            let stored = ids(shop, "checkout", "SELECT id FROM orders").await;
            let shipped = ids(shop, "shipping", "SELECT order_id FROM shipments").await;
            let unshipped: Vec<i64> = stored.difference(&shipped).copied().collect();
            let phantom: Vec<i64> = shipped.difference(&stored).copied().collect();
            assert!(
                phantom.is_empty(),
                "shipments of orders never stored: {phantom:?}"
            );
            let answered: BTreeSet<i64> = self.placed.keys().copied().collect();
            let missing: Vec<i64> = answered.difference(&stored).copied().collect();
            assert!(
                missing.is_empty(),
                "orders answered 201, not stored: {missing:?}"
            );
            if unshipped.is_empty() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "stored orders still without a shipment after {RECOVERY:?}: {unshipped:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The ids one query returns from a database of the running shop: its SQLite file, opened
/// read-only, or its schema on PostgreSQL.
async fn ids(shop: &Shop, database: &str, query: &'static str) -> BTreeSet<i64> {
    if shop.engine() == Engine::Postgres {
        let db = shop.db(database).await;
        let rows: Vec<i64> = sqlx::query_scalar(query)
            .fetch_all(db.pool())
            .await
            .unwrap_or_else(|err| panic!("{query} on {database}: {err}"));
        return rows.into_iter().collect();
    }
    use sqlx::ConnectOptions;
    let path = shop.data_dir.join(format!("{database}.db"));
    let path = path.as_path();
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .busy_timeout(Duration::from_secs(10))
        .connect()
        .await
        .unwrap_or_else(|err| panic!("open {}: {err}", path.display()));
    let rows: Vec<i64> = sqlx::query_scalar(query)
        .fetch_all(&mut conn)
        .await
        .unwrap_or_else(|err| panic!("{query} on {}: {err}", path.display()));
    rows.into_iter().collect()
}

/// Two products into a fresh session's cart, then checkout with the card that is approved.
async fn purchase(shop: &Shop, session: &str) -> Attempt {
    let http = client();
    for (product_id, quantity) in [(3, 2), (57, 1)] {
        let answer = http
            .post(format!("{}/api/cart/items", shop.url))
            .header("x-session-id", session)
            .json(&json!({ "product_id": product_id, "quantity": quantity }))
            .send()
            .await;
        match answer {
            Ok(answer) if answer.status().is_success() => {}
            Ok(answer) => {
                let status = answer.status().as_u16();
                return Attempt::Refused {
                    step: "cart",
                    status,
                    answer: answer
                        .text()
                        .await
                        .unwrap_or_default()
                        .chars()
                        .take(300)
                        .collect(),
                };
            }
            Err(err) => {
                return Attempt::Refused {
                    step: "cart",
                    status: 0,
                    answer: err.to_string(),
                };
            }
        }
    }
    checkout(shop, session).await
}

/// Purchases until one is placed (the shop has recovered), within [`RECOVERY`]; returns how
/// long that took.
async fn until_placed(shop: &Shop, ledger: &mut Ledger, label: &str) -> Duration {
    let started = Instant::now();
    for attempt in 0.. {
        let outcome = purchase(shop, &format!("{label}-{attempt}")).await;
        ledger.note(&outcome);
        if matches!(outcome, Attempt::Placed { .. }) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < RECOVERY,
            "no purchase placed within {RECOVERY:?} after {label}; refusals: {:?}\nup said:\n{}",
            ledger.refused,
            shop.stderr.text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    unreachable!()
}

/// `count` purchases, every one of which must be placed; `when` says in the failure what
/// the shop was going through.
async fn all_placed(shop: &Shop, ledger: &mut Ledger, label: &str, count: usize, when: &str) {
    let refused_before = ledger.refusals();
    for i in 0..count {
        ledger.note(&purchase(shop, &format!("{label}-{i}")).await);
    }
    assert_eq!(
        ledger.refusals(),
        refused_before,
        "purchases failed {when}: {:?}",
        ledger.refused
    );
}

/// The `/health` of every service named, as JSON.
async fn health(shop: &Shop, names: &[&str]) -> Vec<(String, Value)> {
    let http = client();
    let mut all = Vec::new();
    for name in names {
        let (url, _) = shop.service(name);
        let body: Value = http
            .get(format!("{url}/health"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        all.push((name.to_string(), body));
    }
    all
}

const WRITERS: [&str; 4] = ["cart", "checkout", "inventory", "shipping"];

/// Fills carts for `count` sessions named `label-N` (before a disk fills, so the checkout is
/// what meets the full disk).
async fn fill_carts(shop: &Shop, label: &str, count: usize) -> Vec<String> {
    let http = client();
    let mut sessions = Vec::new();
    for i in 0..count {
        let session = format!("{label}-{i}");
        for (product_id, quantity) in [(3, 2), (57, 1)] {
            let answer = http
                .post(format!("{}/api/cart/items", shop.url))
                .header("x-session-id", &session)
                .json(&json!({ "product_id": product_id, "quantity": quantity }))
                .send()
                .await
                .unwrap();
            assert!(
                answer.status().is_success(),
                "add to cart before the disk filled"
            );
        }
        sessions.push(session);
    }
    sessions
}

/// Checks out a session whose cart is already filled.
async fn checkout(shop: &Shop, session: &str) -> Attempt {
    let answer = client()
        .post(format!("{}/api/checkout", shop.url))
        .header("x-session-id", session)
        .json(&json!({
            "card_number": "4242424242424242",
            "email": "ada@example.com",
            "region": "ap-northeast-1"
        }))
        .send()
        .await;
    let answer = match answer {
        Ok(answer) => answer,
        Err(err) => {
            return Attempt::Refused {
                step: "checkout",
                status: 0,
                answer: err.to_string(),
            };
        }
    };
    let status = answer.status().as_u16();
    let body: Value = answer.json().await.unwrap_or(Value::Null);
    match (status, body["order_id"].as_i64()) {
        (201, Some(order_id)) => Attempt::Placed {
            order_id,
            items: body["items"].clone(),
        },
        (201, None) => panic!("201 without an order id: {body}"),
        _ => Attempt::Refused {
            step: "checkout",
            status,
            answer: body.to_string().chars().take(300).collect(),
        },
    }
}

/// Waits until every named service's `/health` says `ok` again.
async fn until_healthy(shop: &Shop, names: &[&str]) {
    let deadline = Instant::now() + RECOVERY;
    loop {
        let reports = health(shop, names).await;
        if reports.iter().all(|(_, h)| h["status"] == "ok") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "health still degraded after the disk was freed: {reports:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Asserts that the services report a full disk in `/health`, with the database's own words.
async fn assert_reports_full_disk(shop: &Shop, names: &[&str]) {
    let reports = health(shop, names).await;
    for (name, report) in &reports {
        assert_eq!(
            report["status"], "degraded",
            "{name} on a full disk: {report}"
        );
        let storage = &report["storage"][0];
        assert_eq!(storage["kind"], "disk_full", "{name}: {report}");
        // SQLite's "database or disk is full", PostgreSQL's "No space left on device".
        let error = storage["error"].as_str().unwrap_or("");
        assert!(
            error.contains("full") || error.contains("No space left"),
            "{name} does not carry the database's error: {report}"
        );
    }
}

/// Part 1 of the full-disk test, on either engine: the disk holding the orders fills up, so
/// checkouts fail (none answered as placed unless stored) and `/health` says why with the
/// database's own words and code; once space is freed checkout recovers without a restart.
/// Returns how long after the freeing the first order was placed.
async fn orders_disk_fills_and_is_freed(
    shop: &Shop,
    receiver: &tracedojo_explorer::Receiver,
    orders_disk: &Path,
    ledger: &mut Ledger,
) -> Duration {
    for i in 0..3 {
        let outcome = purchase(shop, &format!("before-{i}")).await;
        assert!(
            matches!(outcome, Attempt::Placed { .. }),
            "a purchase before the disk filled: {outcome:?}"
        );
        ledger.note(&outcome);
    }
    // SQLite appends every commit to its WAL on that disk, so the first checkout meets it;
    // PostgreSQL fills the free room of its tables' last pages (some sixty orders) before it
    // needs the disk.
    let carts = match shop.engine() {
        Engine::Sqlite => 20,
        Engine::Postgres => 150,
    };
    let sessions = fill_carts(shop, "orders-full", carts).await;
    let filler = fill_disk(orders_disk);
    for session in &sessions {
        ledger.note(&checkout(shop, session).await);
    }
    assert!(
        ledger.refusals() > 0,
        "no checkout failed on a full disk: the filler did not reach the orders database"
    );
    assert_reports_full_disk(shop, &["checkout"]).await;
    // The failing database span says what the database said, as a real one would.
    let deadline = Instant::now() + RECOVERY;
    let failed_write = loop {
        let found = receiver.store().spans().into_iter().find(|span| {
            span.service_name() == "checkout"
                && span.kind == "CLIENT"
                && span.attr_str("db.system.name") == Some(shop.engine().system_name())
                && span.status_code == "ERROR"
        });
        if let Some(span) = found {
            break span;
        }
        assert!(
            Instant::now() < deadline,
            "no failing database span of checkout reached the receiver"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let code = failed_write
        .attr_str("db.response.status_code")
        .unwrap_or("");
    match shop.engine() {
        Engine::Sqlite => assert_eq!(
            code.parse::<i64>().map(|c| c & 0xff),
            Ok(13),
            "SQLITE_FULL in {failed_write:?}"
        ),
        // SQLSTATE disk_full: "could not extend file ...: No space left on device".
        Engine::Postgres => assert_eq!(code, "53100", "{failed_write:?}"),
    }
    assert!(
        failed_write.events.iter().any(|e| e.name == "exception"
            && e.attributes["exception.message"]
                .as_str()
                .is_some_and(|m| m.contains("full") || m.contains("No space left"))),
        "the database's message in {failed_write:?}"
    );
    shop.stderr
        .wait_for("checkout is degraded", RECOVERY)
        .expect("up warns that checkout cannot write its database");

    // Space comes back: checkout recovers without a restart, and every purchase succeeds.
    std::fs::remove_file(&filler).unwrap();
    let recovery = until_placed(shop, ledger, "orders-freed").await;
    all_placed(
        shop,
        ledger,
        "orders-after",
        10,
        "after the orders disk was freed",
    )
    .await;
    until_healthy(shop, &["checkout"]).await;
    recovery
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_loses_no_order_and_the_shop_recovers_when_it_is_freed() {
    if support::test_engine() == Engine::Postgres {
        return full_orders_disk_on_postgres().await;
    }
    let (disk, orders_disk) = match (
        Tmpfs::mount("disk-full", "24m"),
        Tmpfs::mount("orders-disk-full", "8m"),
    ) {
        (Ok(disk), Ok(orders_disk)) => (disk, orders_disk),
        (Err(reason), _) | (_, Err(reason)) => {
            eprintln!("SKIPPED a_full_disk_loses_no_order...: {reason}");
            return;
        }
    };
    // The orders database lives on a disk of its own (SQLite follows the link and keeps its
    // WAL beside the real file), so the first part can fill exactly the disk checkout writes
    // orders to, while the stock, payment and carts before it still succeed.
    let data = disk.path.join("data");
    std::fs::create_dir_all(&data).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(
        orders_disk.path.join("checkout.db"),
        data.join("checkout.db"),
    )
    .unwrap();
    let receiver = tracedojo_explorer::Receiver::start_local().await.unwrap();
    let endpoint = receiver.http_endpoint();
    let shop = Shop::start_in(
        data,
        &["--no-load"],
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str())],
    );
    let mut ledger = Ledger::default();

    // 1. The orders' disk fills up.
    let orders_recovery =
        orders_disk_fills_and_is_freed(&shop, &receiver, &orders_disk.path, &mut ledger).await;

    // 2. The whole data disk fills up: every service that writes meets it.
    let sessions = fill_carts(&shop, "all-full", 10).await;
    let filler = fill_disk(&disk.path);
    let refused_before = ledger.refusals();
    for session in &sessions {
        ledger.note(&checkout(&shop, session).await);
    }
    for i in 0..10 {
        ledger.note(&purchase(&shop, &format!("all-full-{i}")).await);
    }
    assert!(
        ledger.refusals() > refused_before,
        "no purchase failed with the whole disk full"
    );
    assert_reports_full_disk(&shop, &["cart"]).await;
    std::fs::remove_file(&filler).unwrap();
    let disk_recovery = until_placed(&shop, &mut ledger, "all-freed").await;
    all_placed(
        &shop,
        &mut ledger,
        "all-after",
        10,
        "after the disk was freed",
    )
    .await;
    until_healthy(&shop, &WRITERS).await;

    // 3. A restarted checkout hands out new ids, never one it answered before.
    let (_, pid) = shop.service("checkout");
    // SAFETY: signalling a service process of the shop this test started.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGKILL);
    }
    until_placed(&shop, &mut ledger, "restarted").await;
    for i in 0..3 {
        ledger.note(&purchase(&shop, &format!("after-restart-{i}")).await);
    }

    ledger.check(&shop).await;
    ledger.figure(
        "disk full and freed",
        &format!(
            "; first order placed {:.2} s after the orders' disk was freed, {:.2} s after the whole disk was",
            orders_recovery.as_secs_f64(),
            disk_recovery.as_secs_f64()
        ),
    );
}

/// The full-disk test on PostgreSQL: checkout's tables (orders, their lines, the outbox) moved
/// to a tablespace on a small disk of their own, which then fills. Only this part: a full disk
/// under PostgreSQL's write-ahead log is not a failure the server survives (it stops, by
/// design), so "the whole data disk" has no PostgreSQL form here. The server is the test's own
/// (a tablespace needs a superuser, and the disk is unmounted afterwards).
async fn full_orders_disk_on_postgres() {
    let (server, orders_disk) = match (
        PrivatePostgres::create("disk-full"),
        Tmpfs::mount("pg-orders-disk", "8m"),
    ) {
        (Ok(server), Ok(disk)) => (server, disk),
        (Err(reason), _) | (_, Err(reason)) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI runs the full-disk test on PostgreSQL: {reason}"
            );
            eprintln!("SKIPPED a_full_disk_loses_no_order... on PostgreSQL: {reason}");
            return;
        }
    };
    let location = orders_disk.path.join("tablespace");
    std::fs::create_dir_all(&location).unwrap();
    let owned = Command::new("chown")
        .args(["postgres:postgres"])
        .arg(&location)
        .status()
        .unwrap();
    assert!(owned.success(), "chown the tablespace's directory");
    server.start();
    let receiver = tracedojo_explorer::Receiver::start_local().await.unwrap();
    let endpoint = receiver.http_endpoint();
    let url = server.url();
    let shop = Shop::start_in(
        temp_dir("pg-disk-full"),
        &["--no-load", "--database-url", &url],
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str())],
    );
    let orders = shop.db("checkout").await;
    // One statement each: a tablespace cannot be made inside a transaction.
    let moves = [
        format!(
            "CREATE TABLESPACE orders_disk LOCATION '{}'",
            location.display()
        ),
        "ALTER TABLE orders SET TABLESPACE orders_disk".to_string(),
        "ALTER TABLE order_items SET TABLESPACE orders_disk".to_string(),
        "ALTER TABLE outbox_messages SET TABLESPACE orders_disk".to_string(),
    ];
    for sql in moves {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
            .execute(orders.pool())
            .await
            .unwrap_or_else(|err| panic!("{sql}: {err}"));
    }
    orders.pool().close().await;

    let mut ledger = Ledger::default();
    let recovery =
        orders_disk_fills_and_is_freed(&shop, &receiver, &orders_disk.path, &mut ledger).await;
    ledger.check(&shop).await;
    ledger.figure(
        "orders' disk full and freed (PostgreSQL)",
        &format!(
            "; first order placed {:.2} s after the orders' disk was freed",
            recovery.as_secs_f64()
        ),
    );
}

/// The process id a service's `/health` gives (it changes when the supervisor restarts it).
async fn pid_of(shop: &Shop, name: &str) -> Option<u32> {
    let (url, _) = shop.service(name);
    let health: Value = client()
        .get(format!("{url}/health"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    health["pid"].as_u64().map(|pid| pid as u32)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_killed_mid_checkout_lose_no_order_and_no_shipment() {
    let shop = Shop::start(&[]);
    let ledger = std::sync::Mutex::new(Ledger::default());
    let stop = std::sync::atomic::AtomicBool::new(false);
    let placed = || ledger.lock().unwrap().placed.len();

    let shopper = |n: usize| {
        let (shop, ledger, stop) = (&shop, &ledger, &stop);
        async move {
            for i in 0.. {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let outcome = purchase(shop, &format!("shopper{n}-{i}")).await;
                ledger.lock().unwrap().note(&outcome);
            }
        }
    };
    let killer = async {
        let mut kills = Vec::new();
        let mut recoveries = Vec::new();
        for round in 0..3 {
            for victim in ["checkout", "shipping"] {
                // Kill only a running service, while purchases are flowing through it.
                let deadline = Instant::now() + RECOVERY;
                let before = placed();
                let pid = loop {
                    if let Some(pid) = pid_of(&shop, victim).await
                        && placed() >= before + 2
                    {
                        break pid;
                    }
                    assert!(
                        Instant::now() < deadline,
                        "round {round}: no purchase placed before killing {victim}; {:?}",
                        ledger.lock().unwrap().refused
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                };
                // SAFETY: signalling a service process of the shop this test started.
                unsafe {
                    libc::kill(pid as libc::pid_t, libc::SIGKILL);
                }
                kills.push((victim, pid));
                if victim == "checkout" {
                    // How long the shop takes to place an order again, restart included.
                    let (at_kill, killed) = (placed(), Instant::now());
                    while placed() <= at_kill {
                        assert!(
                            killed.elapsed() < RECOVERY,
                            "no purchase placed after checkout was killed"
                        );
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    recoveries.push(killed.elapsed().as_secs_f64());
                }
            }
        }
        // The shop is back: purchases are placed after the last kill.
        let deadline = Instant::now() + RECOVERY;
        let before = placed();
        while placed() < before + 3 {
            assert!(
                Instant::now() < deadline,
                "no purchase placed after the last kill"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        (kills, recoveries)
    };
    let (_, _, _, (kills, recoveries)) = tokio::join!(shopper(1), shopper(2), shopper(3), killer);

    let ledger = ledger.into_inner().unwrap();
    ledger.check(&shop).await;
    ledger.figure(
        "services killed mid-checkout",
        &format!(
            "; SIGKILLed (service, pid): {kills:?}; an order placed again {:?} s after each checkout kill",
            recoveries
                .iter()
                .map(|s| format!("{s:.2}"))
                .collect::<Vec<_>>()
        ),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_locked_by_another_process_fails_checkouts_only_while_it_is_held() {
    let shop = Shop::start(&[]);
    let mut ledger = Ledger::default();
    until_placed(&shop, &mut ledger, "before-lock").await;

    // Another process (a backup, an admin's shell) locks the orders and keeps the lock longer
    // than checkout waits for it: SQLite's one write lock, or on PostgreSQL a lock on the
    // orders table that lets readers through and makes writers wait (lock_timeout).
    let orders = shop.db("checkout").await;
    let mut intruder = orders.pool().acquire().await.unwrap();
    let lock = match shop.engine() {
        Engine::Sqlite => "BEGIN IMMEDIATE",
        Engine::Postgres => "BEGIN; LOCK TABLE orders IN EXCLUSIVE MODE",
    };
    sqlx::raw_sql(lock).execute(&mut *intruder).await.unwrap();
    for i in 0.. {
        let outcome = purchase(&shop, &format!("locked-{i}")).await;
        ledger.note(&outcome);
        if matches!(outcome, Attempt::Refused { .. }) {
            break;
        }
        assert!(
            i < 20,
            "checkouts succeed while the orders database is locked"
        );
    }
    sqlx::query("ROLLBACK")
        .execute(&mut *intruder)
        .await
        .unwrap();
    drop(intruder);
    orders.pool().close().await;

    // Once the lock is gone, checkouts work again at once and keep working.
    let recovery = until_placed(&shop, &mut ledger, "after-lock").await;
    all_placed(
        &shop,
        &mut ledger,
        "unlocked",
        10,
        "after the lock was released",
    )
    .await;
    ledger.check(&shop).await;
    ledger.figure(
        "orders database locked by another process",
        &format!(
            "; first order placed {:.2} s after the lock was released",
            recovery.as_secs_f64()
        ),
    );
}

/// How the flaky OTLP backend answers, switched while the shop runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BackendMode {
    /// 200 with an empty export response: the spans are taken.
    Accept,
    /// This status, as a backend rejecting a key (401) or overloaded (503) answers.
    Status(u16),
    /// Reads the export and never answers (a black hole behind a proxy).
    Silent,
    /// The port is closed: connections are refused.
    Closed,
}

/// A real OTLP/HTTP endpoint on loopback whose behaviour the test switches mid-run.
struct FlakyBackend {
    address: std::net::SocketAddr,
    mode: std::sync::Arc<std::sync::Mutex<BackendMode>>,
    accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    listener: Option<tokio::task::JoinHandle<()>>,
}

impl FlakyBackend {
    async fn start() -> FlakyBackend {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut backend = FlakyBackend {
            address: listener.local_addr().unwrap(),
            mode: std::sync::Arc::new(std::sync::Mutex::new(BackendMode::Accept)),
            accepted: Default::default(),
            listener: None,
        };
        backend.listener = Some(backend.serve(listener));
        backend
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    fn serve(&self, listener: tokio::net::TcpListener) -> tokio::task::JoinHandle<()> {
        let (mode, accepted) = (self.mode.clone(), self.accepted.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(answer(stream, mode.clone(), accepted.clone()));
            }
        })
    }

    async fn set(&mut self, mode: BackendMode) {
        *self.mode.lock().unwrap() = mode;
        match (mode, self.listener.is_some()) {
            (BackendMode::Closed, true) => {
                if let Some(listener) = self.listener.take() {
                    listener.abort();
                    let _ = listener.await;
                }
            }
            (BackendMode::Closed, false) | (_, true) => {}
            (_, false) => {
                let listener = tokio::net::TcpListener::bind(self.address).await.unwrap();
                self.listener = Some(self.serve(listener));
            }
        }
    }
}

/// Answers the HTTP/1.1 requests of one connection as the mode says.
async fn answer(
    mut stream: tokio::net::TcpStream,
    mode: std::sync::Arc<std::sync::Mutex<BackendMode>>,
    accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buffer = Vec::new();
    loop {
        // One request: the head, then as many body bytes as it announces.
        let head_end = loop {
            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            let mut chunk = [0u8; 8192];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buffer.len() < head_end + length {
            let mut chunk = [0u8; 8192];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
        buffer.drain(..head_end + length);
        let current = *mode.lock().unwrap();
        let reply = match current {
            BackendMode::Accept => {
                accepted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n"
                    .to_string()
            }
            BackendMode::Status(status) => format!(
                "HTTP/1.1 {status} Refused\r\ncontent-type: text/plain\r\ncontent-length: 7\r\n\r\nrefused"
            ),
            // Hold the connection open and never answer; the exporter's timeout ends it.
            BackendMode::Silent | BackendMode::Closed => {
                std::future::pending::<()>().await;
                return;
            }
        };
        if stream.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Checkout's export counters from its `/health`.
async fn export_counts(shop: &Shop) -> (u64, u64) {
    let report = &health(shop, &["checkout"]).await[0].1;
    let telemetry = &report["telemetry"];
    (
        telemetry["spans_exported"].as_u64().unwrap_or(0),
        telemetry["spans_failed"].as_u64().unwrap_or(0),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_that_refuses_rejects_or_never_answers_never_stops_the_shop() {
    let mut backend = FlakyBackend::start().await;
    let endpoint = backend.endpoint();
    let shop = Shop::start_with(
        &["--no-load", "--no-explorer"],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            // A silent backend costs one timeout per batch; keep the test's wait short.
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "1000"),
        ],
    );
    let mut ledger = Ledger::default();
    let mut phases = Vec::new();
    for (phase, mode) in [
        BackendMode::Accept,
        BackendMode::Status(401),
        BackendMode::Status(503),
        BackendMode::Silent,
        BackendMode::Closed,
        BackendMode::Accept,
    ]
    .into_iter()
    .enumerate()
    {
        backend.set(mode).await;
        let (exported_before, failed_before) = export_counts(&shop).await;
        let accepted_before = backend.accepted.load(std::sync::atomic::Ordering::SeqCst);
        // The shop serves every purchase, whatever the backend does.
        let (label, when) = (
            format!("phase{phase}"),
            format!("with the backend {mode:?}"),
        );
        all_placed(&shop, &mut ledger, &label, 3, &when).await;
        // What was lost is counted; what the backend takes again arrives.
        let deadline = Instant::now() + RECOVERY;
        loop {
            let (exported, failed) = export_counts(&shop).await;
            let accepted = backend.accepted.load(std::sync::atomic::Ordering::SeqCst);
            let seen = match mode {
                BackendMode::Accept => exported > exported_before && accepted > accepted_before,
                _ => failed > failed_before,
            };
            if seen {
                phases.push((mode, exported - exported_before, failed - failed_before));
                break;
            }
            assert!(
                Instant::now() < deadline,
                "with the backend {mode:?}, checkout's export counters did not move: exported {exported_before} -> {exported}, failed {failed_before} -> {failed}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    ledger.check(&shop).await;
    ledger.figure(
        "backend accepting, 401, 503, silent, closed, accepting",
        &format!("; checkout's spans per phase (mode, exported, failed): {phases:?}"),
    );
}
