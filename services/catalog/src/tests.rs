//! End-to-end tests: the real router with telemetry middleware on a random port, a fresh
//! seeded catalogue per test, and real HTTP requests. Every test runs once per database engine
//! (SQLite always, PostgreSQL when the machine offers one: see
//! `tracedojo_kit::testing::TestDb`), with the same assertions; their messages name the engine.

use serde_json::Value;
use tokio::net::TcpListener;
use tracedojo_kit::Db;
use tracedojo_kit::db::Engine;
use tracedojo_kit::server::{self, ServerOptions};
use tracedojo_kit::testing::TestDb;

use crate::{faults, router, seed, store};

/// A catalogue seeded on `test_db` and served on `127.0.0.1:0`; returns its base URL and the
/// database.
async fn start(test_db: &TestDb) -> (String, Db) {
    // reqwest refuses to build a client, even for plain http, until a TLS provider exists.
    tracedojo_kit::telemetry::install_crypto_provider();
    let db = Db::open(&test_db.url("catalog"), "catalog", &crate::MIGRATIONS)
        .await
        .expect("open test database");
    seed::seed_if_empty(&db).await.expect("seed");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("local address");
    let app = server::instrument(router(db.clone()), ServerOptions::new("catalog"));
    tokio::spawn(server::serve(listener, app, std::future::pending()));
    (format!("http://{address}"), db)
}

async fn get(url: &str) -> (u16, Value) {
    let response = reqwest::get(url).await.expect("request");
    let status = response.status().as_u16();
    let body = response.json().await.expect("JSON body");
    (status, body)
}

fn ids(page: &Value) -> Vec<i64> {
    page["products"]
        .as_array()
        .map(|products| products.iter().filter_map(|p| p["id"].as_i64()).collect())
        .unwrap_or_default()
}

/// Whether a plan of the search looks its words up in `idx_search_terms_term`: SQLite says
/// `SEARCH search_terms USING INDEX idx_search_terms_term (term=?)`, PostgreSQL names the index
/// in a `Bitmap Index Scan on idx_search_terms_term` (or an `Index Scan using` it).
fn uses_index(engine: Engine, plan: &[String]) -> bool {
    plan.iter().any(|step| match engine {
        Engine::Sqlite => step.contains("USING INDEX idx_search_terms_term"),
        Engine::Postgres => step.contains("idx_search_terms_term"),
    })
}

/// Whether a plan of the search reads the whole `search_terms` table: SQLite's
/// `SCAN search_terms`, PostgreSQL's `Seq Scan on search_terms`.
fn scans(engine: Engine, plan: &[String]) -> bool {
    plan.iter().any(|step| match engine {
        Engine::Sqlite => step.starts_with("SCAN search_terms"),
        Engine::Postgres => step.contains("Seq Scan on search_terms"),
    })
}

#[tokio::test]
async fn seeding_gives_240_products_in_8_categories_of_30() {
    for test_db in TestDb::each("catalog-seeding").await {
        let engine = test_db.engine();
        let (base, db) = start(&test_db).await;

        let (status, categories) = get(&format!("{base}/categories")).await;
        assert_eq!(status, 200, "{engine:?}: {categories}");
        let categories = categories.as_array().expect("a list of categories");
        assert_eq!(categories.len(), 8, "{engine:?}");
        assert_eq!(categories[0]["slug"], "kitchen", "{engine:?}");
        assert_eq!(categories[0]["name"], "Kitchen", "{engine:?}");
        assert!(
            categories.iter().all(|c| c["product_count"] == 30),
            "{engine:?}: {categories:?}"
        );

        let (status, page) = get(&format!("{base}/products?limit=100")).await;
        assert_eq!(status, 200, "{engine:?}: {page}");
        assert_eq!(page["total"], 240, "{engine:?}");
        assert_eq!(ids(&page), (1..=100).collect::<Vec<_>>(), "{engine:?}");
        let first = &page["products"][0];
        assert_eq!(first["sku"], "KIT-0001", "{engine:?}");
        assert_eq!(first["category"], "kitchen", "{engine:?}");
        assert_eq!(first["currency"], "USD", "{engine:?}");
        assert_eq!(first["image"], "🍳", "{engine:?}");

        let (_, default_page) = get(&format!("{base}/products?offset=230")).await;
        assert_eq!(
            ids(&default_page),
            (231..=240).collect::<Vec<_>>(),
            "{engine:?}"
        );

        let (_, coffee) = get(&format!("{base}/products?category=coffee&limit=100")).await;
        assert_eq!(coffee["total"], 30, "{engine:?}");
        assert_eq!(ids(&coffee), (211..=240).collect::<Vec<_>>(), "{engine:?}");

        // A second start must not seed again.
        assert_eq!(
            seed::seed_if_empty(&db).await.expect("re-seed"),
            0,
            "{engine:?}"
        );
        let (_, again) = get(&format!("{base}/products?limit=1")).await;
        assert_eq!(again["total"], 240, "{engine:?}");
    }
}

#[tokio::test]
async fn search_finds_products_by_a_word_in_name_or_description() {
    for test_db in TestDb::each("catalog-search").await {
        let engine = test_db.engine();
        let (base, _db) = start(&test_db).await;

        let (status, page) = get(&format!("{base}/products/search?q=Dutch%20Oven&limit=100")).await;
        assert_eq!(status, 200, "{engine:?}: {page}");
        assert_eq!(
            page["total"], 3,
            "{engine:?}: one Dutch Oven per kitchen style"
        );
        let names: Vec<&str> = page["products"]
            .as_array()
            .expect("products")
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert!(
            names.iter().all(|n| n.contains("Dutch Oven")),
            "{engine:?}: {names:?}"
        );

        // Found through the description only, and case-insensitively.
        let (_, bread) = get(&format!("{base}/products/search?q=NO-KNEAD")).await;
        assert_eq!(bread["total"], 3, "{engine:?}");

        let (_, limited) = get(&format!("{base}/products/search?q=coffee&limit=2")).await;
        assert_eq!(ids(&limited).len(), 2, "{engine:?}");
        assert!(
            limited["total"].as_i64().unwrap_or_default() > 2,
            "{engine:?}: {limited}"
        );

        // `%` is searched for literally, not used as a wildcard.
        let (_, percent) = get(&format!("{base}/products/search?q=%25")).await;
        assert_eq!(percent["total"], 0, "{engine:?}");

        let (status, missing) = get(&format!("{base}/products/search")).await;
        assert_eq!(status, 400, "{engine:?}: {missing}");
        assert!(
            missing["message"]
                .as_str()
                .unwrap_or_default()
                .contains('q'),
            "{engine:?}: {missing}"
        );
    }
}

#[tokio::test]
async fn search_needs_every_word_and_finds_a_word_by_its_beginning() {
    for test_db in TestDb::each("catalog-search-words").await {
        let engine = test_db.engine();
        let (base, _db) = start(&test_db).await;
        let search = async |q: &str| get(&format!("{base}/products/search?q={q}&limit=100")).await;

        // The ten kitchen products in the "Cast-Iron" style, in any order and case of the words.
        let (_, cast_iron) = search("cast%20iron").await;
        assert_eq!(ids(&cast_iron), (1..=10).collect::<Vec<_>>(), "{engine:?}");
        let (_, iron_cast) = search("IRON,cast").await;
        assert_eq!(ids(&iron_cast), ids(&cast_iron), "{engine:?}");

        let (_, one) = search("skillet%20cast").await;
        assert_eq!(ids(&one), vec![2], "{engine:?}");
        let (_, none) = search("dutch%20skillet").await;
        assert_eq!(none["total"], 0, "{engine:?}");
        let (_, prefix) = search("skil").await;
        assert_eq!(
            prefix["total"], 3,
            "{engine:?}: one skillet per kitchen style"
        );
    }
}

#[tokio::test]
async fn search_uses_the_index_and_reads_the_whole_table_without_it() {
    for test_db in TestDb::each("catalog-search-index").await {
        let engine = test_db.engine();
        let (base, db) = start(&test_db).await;
        let (_, indexed) = get(&format!("{base}/products/search?q=coffee&limit=100")).await;
        let plan = store::search_plan(&db, "coffee").await.expect("plan");
        assert!(
            uses_index(engine, &plan) && !scans(engine, &plan),
            "{engine:?}: {plan:?}"
        );

        store::drop_search_index(&db).await.expect("drop");
        let plan = store::search_plan(&db, "coffee").await.expect("plan");
        assert!(
            scans(engine, &plan) && !uses_index(engine, &plan),
            "{engine:?}: {plan:?}"
        );
        let (_, scanned) = get(&format!("{base}/products/search?q=coffee&limit=100")).await;
        assert_eq!(
            scanned, indexed,
            "{engine:?}: the same answer either way, only slower"
        );

        // With no fault plan to follow, the index is simply put back.
        faults::follow_search_index(db.clone(), std::future::pending()).await;
        let plan = store::search_plan(&db, "coffee").await.expect("plan");
        assert!(uses_index(engine, &plan), "{engine:?}: {plan:?}");
    }
}

#[tokio::test]
async fn a_catalogue_from_before_search_terms_is_migrated_and_indexed_on_start() {
    for test_db in TestDb::each("catalog-older-seed").await {
        let engine = test_db.engine();
        let (base, db) = start(&test_db).await;
        // Back to what an earlier version left: the first migration only, products seeded.
        sqlx::raw_sql("DROP TABLE search_terms; DELETE FROM _sqlx_migrations WHERE version = 2")
            .execute(db.pool())
            .await
            .expect("go back one migration");

        db.migrate(&crate::MIGRATIONS).await.expect("migrate");
        let (_, nothing) = get(&format!("{base}/products/search?q=skillet")).await;
        assert_eq!(nothing["total"], 0, "{engine:?}: no terms yet");
        assert_eq!(
            seed::seed_if_empty(&db).await.expect("re-seed"),
            0,
            "{engine:?}"
        );
        let (_, found) = get(&format!("{base}/products/search?q=skillet")).await;
        assert_eq!(found["total"], 3, "{engine:?}");
        let (products, rows): (i64, i64) =
            sqlx::query_as("SELECT COUNT(DISTINCT product_id), COUNT(*) FROM search_terms")
                .fetch_one(db.pool())
                .await
                .expect("count");
        assert_eq!(products, 240, "{engine:?}");
        assert!(rows > 10_000, "{engine:?}: only {rows} search terms");
    }
}

#[tokio::test]
async fn pages_loaded_one_product_at_a_time_are_the_same_pages() {
    for test_db in TestDb::each("catalog-one-by-one").await {
        let engine = test_db.engine();
        let (_base, db) = start(&test_db).await;
        for (limit, offset) in [(24, 0), (100, 200), (5, 238)] {
            assert_eq!(
                store::products_page_one_by_one(&db, limit, offset)
                    .await
                    .expect("one by one"),
                store::products_page(&db, limit, offset)
                    .await
                    .expect("page"),
                "{engine:?}: {limit} from {offset}"
            );
        }
        assert_eq!(
            store::products_in_category_one_by_one(&db, "toys", 7, 3)
                .await
                .expect("one by one"),
            store::products_in_category(&db, "toys", 7, 3)
                .await
                .expect("page"),
            "{engine:?}"
        );
    }
}

#[tokio::test]
async fn a_product_is_found_by_id_and_an_unknown_id_is_404() {
    for test_db in TestDb::each("catalog-by-id").await {
        let engine = test_db.engine();
        let (base, _db) = start(&test_db).await;

        let (status, product) = get(&format!("{base}/products/42")).await;
        assert_eq!(status, 200, "{engine:?}: {product}");
        assert_eq!(product["id"], 42, "{engine:?}");
        assert_eq!(product["sku"], "GAR-0012", "{engine:?}");

        let (status, body) = get(&format!("{base}/products/999")).await;
        assert_eq!(status, 404, "{engine:?}: {body}");
        assert_eq!(body["error"], "not_found", "{engine:?}");

        let (status, body) = get(&format!("{base}/products/abc")).await;
        assert_eq!(status, 400, "{engine:?}: {body}");
    }
}

#[tokio::test]
async fn ids_return_exactly_those_products() {
    for test_db in TestDb::each("catalog-ids").await {
        let engine = test_db.engine();
        let (base, _db) = start(&test_db).await;
        let (status, page) = get(&format!("{base}/products?ids=240,5,1,999&limit=1")).await;
        assert_eq!(status, 200, "{engine:?}: {page}");
        assert_eq!(ids(&page), vec![1, 5, 240], "{engine:?}");
        assert_eq!(page["total"], 3, "{engine:?}");
    }
}

#[tokio::test]
async fn bad_parameters_are_400_and_name_the_parameter() {
    for test_db in TestDb::each("catalog-bad-params").await {
        let engine = test_db.engine();
        let (base, _db) = start(&test_db).await;
        for (query, field) in [
            ("limit=0", "limit"),
            ("limit=101", "limit"),
            ("limit=lots", "limit"),
            ("offset=-1", "offset"),
            ("category=Not%20A%20Slug", "category"),
            ("ids=1,two", "ids"),
        ] {
            let (status, body) = get(&format!("{base}/products?{query}")).await;
            assert_eq!(status, 400, "{engine:?}: {query}: {body}");
            assert_eq!(body["error"], "bad_request", "{engine:?}");
            let message = body["message"].as_str().unwrap_or_default();
            assert!(message.contains(field), "{engine:?}: {query}: {message}");
        }
    }
}

#[tokio::test]
async fn run_migrates_seeds_and_serves_the_catalogue() {
    tracedojo_kit::telemetry::install_crypto_provider();
    for test_db in TestDb::each("catalog-run").await {
        let engine = test_db.engine();
        let url = test_db.url("catalog");
        let config = crate::Config {
            database_url: url.clone(),
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(crate::run(
            config,
            listener,
            ServerOptions::new("catalog"),
            async move {
                let _ = stopped.await;
            },
        ));

        // `run` binds nothing itself, so requests wait in the listener's backlog until it
        // serves.
        let (status, page) = get(&format!("{base}/products?limit=1")).await;
        assert_eq!(status, 200, "{engine:?}: {page}");
        assert_eq!(page["total"], 240, "{engine:?}");

        let _ = stop.send(());
        server.await.expect("join").expect("run ends cleanly");

        // Where the catalogue was kept: a file of its own on SQLite, the schema `catalog` on
        // PostgreSQL.
        match engine {
            Engine::Sqlite => {
                let file = url.trim_start_matches("sqlite://");
                assert!(
                    std::path::Path::new(file).is_file(),
                    "{engine:?}: no database file at {file}"
                );
            }
            Engine::Postgres => {
                let db = Db::connect(&url, "catalog").await.expect("reconnect");
                let tables: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM information_schema.tables \
                     WHERE table_schema = 'catalog' AND table_name = 'products'",
                )
                .fetch_one(db.pool())
                .await
                .expect("look for the table");
                assert_eq!(tables, 1, "{engine:?}: no products table in schema catalog");
                db.pool().close().await;
            }
        }
    }
}

/// Two replicas starting together on one empty PostgreSQL database (a Kubernetes Deployment's
/// first rollout): both seed at once, and the catalogue is filled once, with no failure. Only
/// PostgreSQL: SQLite's file belongs to one host, where replicas do not share it.
#[tokio::test]
async fn replicas_seeding_one_empty_database_at_once_fill_it_once() {
    for test_db in TestDb::each("catalog-seed-race").await {
        if test_db.engine() != Engine::Postgres {
            continue;
        }
        let url = test_db.url("catalog");
        let replica = async || {
            let db = Db::open(&url, "catalog", &crate::MIGRATIONS)
                .await
                .expect("open");
            seed::seed_if_empty(&db).await
        };
        let (first, second) = tokio::join!(replica(), replica());
        let (first, second) = (first.expect("seed"), second.expect("seed"));
        assert_eq!(first + second, 240, "seeded {first} and {second}");
        let db = Db::connect(&url, "catalog").await.unwrap();
        assert_eq!(store::count_products(&db).await.unwrap(), 240);
    }
}
