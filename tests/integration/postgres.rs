//! PostgreSQL coming and going under the shop: a server not taking connections yet when the
//! shop starts, a server stopped mid-run and started again, and URLs that cannot work. Each
//! test runs a server of its own (`support::postgres`): stopping the shared test server would
//! break the tests beside it.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::support::postgres::PrivatePostgres;
use crate::support::{
    Shop, buy_approved, client, json_at, run_to_end, shop_with_receiver, temp_dir,
};

/// How long the shop may take to serve again once the server is back.
const RECOVERY: Duration = Duration::from_secs(30);

/// A server of the test's own, or `None` (with a note) where none can be made; under CI one
/// is required.
fn private_server(label: &str) -> Option<PrivatePostgres> {
    match PrivatePostgres::create(label) {
        Ok(server) => Some(server),
        Err(reason) if std::env::var_os("CI").is_some() => {
            panic!("CI needs a PostgreSQL server of the test's own: {reason}")
        }
        Err(reason) => {
            eprintln!("SKIPPED ({label}): {reason}");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shop_waits_for_postgres_at_start_and_serves_once_it_comes() {
    let Some(server) = private_server("late") else {
        return;
    };
    let url = server.url();
    let port = server.port;
    // Something takes connections on the server's port and hangs up, as a server still
    // starting does: once `up` has tried it, the real server starts there.
    let stand_in = TcpListener::bind(("127.0.0.1", port)).unwrap();
    stand_in.set_nonblocking(true).unwrap();
    let starter = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match stand_in.accept() {
                Ok((connection, _)) => {
                    drop(connection);
                    break;
                }
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Err(err) => panic!("up never tried the database: {err}"),
            }
        }
        drop(stand_in);
        server.start();
        server
    });
    let shop = Shop::start_with(&["--no-load", "--database-url", &url], &[]);
    let _server = starter.join().expect("the server started");
    let waited = shop
        .stdout
        .wait_for("waiting for PostgreSQL", Duration::ZERO)
        .expect("up says it waits for the database");
    assert!(waited.contains(&format!("127.0.0.1:{port}")), "{waited}");
    assert!(
        shop.stdout
            .wait_for("(a schema per service)", Duration::ZERO)
            .is_ok(),
        "{}",
        shop.stdout.text()
    );
    let (status, body) = buy_approved(&shop, "late-server", "").await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_going_away_fails_requests_with_5xx_and_the_shop_recovers_when_it_returns() {
    let Some(server) = private_server("away") else {
        return;
    };
    server.start();
    let (shop, receiver) =
        shop_with_receiver(&["--no-load", "--database-url", &server.url()]).await;
    let (status, body) = buy_approved(&shop, "before", "").await;
    assert_eq!(status, 201, "{body}");
    let (catalog, _) = shop.service("catalog");

    server.stop();
    // The shop still answers: an error, with the database's failure in the trace.
    let products = format!("{}/api/products?limit=5", shop.url);
    let answer = client().get(&products).send().await.unwrap();
    let status = answer.status().as_u16();
    let text = answer.text().await.unwrap_or_default();
    assert!(
        (500..600).contains(&status),
        "the product list while the database is down: {status} {text}"
    );
    eprintln!("while down: {status} {text}");
    let health = json_at(&format!("{catalog}/health")).await;
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["storage"][0]["kind"], "unreachable", "{health}");
    let failed = receiver
        .store()
        .wait_for_spans(
            |spans| {
                spans.iter().any(|s| {
                    s.service_name() == "catalog"
                        && s.attr_str("db.system.name") == Some("postgresql")
                        && s.status_code == "ERROR"
                        && s.events.iter().any(|e| e.name == "exception")
                })
            },
            RECOVERY,
        )
        .await;
    assert!(
        failed.is_ok(),
        "no failing postgresql span with an exception"
    );

    // Back: the shop serves again by itself, without a restart.
    server.start();
    let back = Instant::now();
    let deadline = back + RECOVERY;
    loop {
        let (status, body) = buy_approved(&shop, "after", "").await;
        if status == 201 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no purchase {RECOVERY:?} after the database came back: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let recovery = back.elapsed();
    let answer = client().get(&products).send().await.unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let health = json_at(&format!("{catalog}/health")).await;
    assert_eq!(health["status"], "ok", "{health}");
    eprintln!(
        "figure: PostgreSQL stopped mid-run and started again: {status} while down (catalog \
         degraded, unreachable); the first order placed {:.2} s after the server took \
         connections again",
        recovery.as_secs_f64()
    );
}

#[test]
fn a_database_url_that_cannot_work_is_refused_in_one_line_without_its_password() {
    let server = private_server("refusals");
    let mut cases = vec![
        (
            "postgres://shop:s3cret-pw@127.0.0.1:notaport/shop".to_string(),
            "not a valid PostgreSQL URL",
        ),
        ("sqlite://elsewhere.db".to_string(), "--data-dir"),
        (
            "mysql://shop:s3cret-pw@127.0.0.1/shop".to_string(),
            "postgres://",
        ),
    ];
    if let Some(server) = &server {
        server.start();
        cases.push((
            format!(
                "postgres://tracedojo:s3cret-pw@127.0.0.1:{}/no_such_database",
                server.port
            ),
            "create the database first",
        ));
    }
    let data_dir = temp_dir("refusals");
    let data_dir = data_dir.to_str().unwrap();
    // `service` alone (a container) checks its URL the same way.
    let service = run_to_end(
        &[
            "service",
            "catalog",
            "--port",
            "0",
            "--data-dir",
            data_dir,
            "--database-url",
            "postgres://shop:s3cret-pw@127.0.0.1:notaport/shop",
        ],
        &[],
    );
    let stderr = String::from_utf8_lossy(&service.stderr);
    assert!(!service.status.success(), "{stderr}");
    assert!(stderr.contains("postgres://shop:***@"), "{stderr}");
    assert!(!stderr.contains("s3cret"), "{stderr}");
    for (url, says) in cases {
        let output = run_to_end(
            &[
                "up",
                "--no-load",
                "--base-port",
                "0",
                "--data-dir",
                data_dir,
                "--database-url",
                &url,
            ],
            &[],
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(!output.status.success(), "{url}: {stdout}{stderr}");
        assert!(stderr.contains(says), "{url}: {stderr}");
        assert!(
            !format!("{stdout}{stderr}").contains("s3cret"),
            "{stdout}{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// The shop's schemas present in the server's `postgres` database.
async fn shop_schemas(url: &str) -> i64 {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_namespace WHERE nspname IN \
         ('catalog', 'cart', 'inventory', 'checkout', 'shipping', 'queue')",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_shop_per_database_and_fresh_empties_it_only_when_none_runs() {
    let Some(server) = private_server("one-shop") else {
        return;
    };
    server.start();
    let url = server.url();
    let shop = Shop::start_with(&["--no-load", "--database-url", &url], &[]);
    let (status, body) = buy_approved(&shop, "first", "").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(shop_schemas(&url).await, 6);

    // A second `up` on the same database, from another data directory: refused.
    let elsewhere = temp_dir("second-up");
    let elsewhere = elsewhere.to_str().unwrap();
    let second = run_to_end(
        &[
            "up",
            "--no-load",
            "--base-port",
            "0",
            "--data-dir",
            elsewhere,
            "--database-url",
            &url,
        ],
        &[],
    );
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "{stderr}");
    assert!(
        stderr.contains("another `tracedojo up` runs on"),
        "{stderr}"
    );

    // `showcase --fresh` would empty a database a shop runs on: refused, nothing dropped.
    let fresh = [
        "showcase",
        "slow-payment",
        "--fresh",
        "--data-dir",
        elsewhere,
        "--database-url",
        &url,
        "--kiosk-listen",
        "127.0.0.1:0",
        "--lang",
        "en",
        // A name `up` refuses: the run stops right after --fresh did its work.
        "--participant",
        "not a name",
    ];
    let refused = run_to_end(&fresh, &[]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("--fresh: another `tracedojo up`"),
        "{stderr}"
    );
    assert_eq!(shop_schemas(&url).await, 6, "refused, yet emptied");

    drop(shop);
    let emptied = run_to_end(&fresh, &[]);
    let stderr = String::from_utf8_lossy(&emptied.stderr);
    assert!(stderr.contains("participant"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        shop_schemas(&url).await,
        0,
        "the shop's schemas are still there"
    );
}
