//! End-to-end tests: the real router with telemetry middleware on a random port, a fresh
//! in-memory SQLite catalogue per test, and real HTTP requests.

use serde_json::Value;
use tokio::net::TcpListener;
use tracedojo_kit::Db;
use tracedojo_kit::server::{self, ServerOptions};

use crate::{faults, router, seed, store};

/// A seeded catalogue served on `127.0.0.1:0`; returns its base URL and the database.
async fn start(test_name: &str) -> (String, Db) {
    // reqwest refuses to build a client, even for plain http, until a TLS provider exists.
    tracedojo_kit::telemetry::install_crypto_provider();
    // A named shared-cache memory database: every pooled connection sees the same data,
    // and no other test does.
    let url = format!(
        "sqlite:file:catalog_{test_name}_{}?mode=memory&cache=shared",
        std::process::id()
    );
    let db = Db::open(&url, "catalog", &crate::MIGRATIONS)
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

#[tokio::test]
async fn seeding_gives_240_products_in_8_categories_of_30() {
    let (base, db) = start("seeding").await;

    let (status, categories) = get(&format!("{base}/categories")).await;
    assert_eq!(status, 200);
    let categories = categories.as_array().expect("a list of categories");
    assert_eq!(categories.len(), 8);
    assert_eq!(categories[0]["slug"], "kitchen");
    assert_eq!(categories[0]["name"], "Kitchen");
    assert!(categories.iter().all(|c| c["product_count"] == 30));

    let (status, page) = get(&format!("{base}/products?limit=100")).await;
    assert_eq!(status, 200);
    assert_eq!(page["total"], 240);
    assert_eq!(ids(&page), (1..=100).collect::<Vec<_>>());
    let first = &page["products"][0];
    assert_eq!(first["sku"], "KIT-0001");
    assert_eq!(first["category"], "kitchen");
    assert_eq!(first["currency"], "USD");
    assert_eq!(first["image"], "🍳");

    let (_, default_page) = get(&format!("{base}/products?offset=230")).await;
    assert_eq!(ids(&default_page), (231..=240).collect::<Vec<_>>());

    let (_, coffee) = get(&format!("{base}/products?category=coffee&limit=100")).await;
    assert_eq!(coffee["total"], 30);
    assert_eq!(ids(&coffee), (211..=240).collect::<Vec<_>>());

    // A second start must not seed again.
    assert_eq!(seed::seed_if_empty(&db).await.expect("re-seed"), 0);
    let (_, again) = get(&format!("{base}/products?limit=1")).await;
    assert_eq!(again["total"], 240);
}

#[tokio::test]
async fn search_finds_products_by_a_word_in_name_or_description() {
    let (base, _db) = start("search").await;

    let (status, page) = get(&format!("{base}/products/search?q=Dutch%20Oven&limit=100")).await;
    assert_eq!(status, 200);
    assert_eq!(page["total"], 3, "one Dutch Oven per kitchen style");
    let names: Vec<&str> = page["products"]
        .as_array()
        .expect("products")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(names.iter().all(|n| n.contains("Dutch Oven")), "{names:?}");

    // Found through the description only, and case-insensitively.
    let (_, bread) = get(&format!("{base}/products/search?q=NO-KNEAD")).await;
    assert_eq!(bread["total"], 3);

    let (_, limited) = get(&format!("{base}/products/search?q=coffee&limit=2")).await;
    assert_eq!(ids(&limited).len(), 2);
    assert!(limited["total"].as_i64().unwrap_or_default() > 2);

    // `%` is searched for literally, not used as a wildcard.
    let (_, percent) = get(&format!("{base}/products/search?q=%25")).await;
    assert_eq!(percent["total"], 0);

    let (status, missing) = get(&format!("{base}/products/search")).await;
    assert_eq!(status, 400);
    assert!(
        missing["message"]
            .as_str()
            .unwrap_or_default()
            .contains('q')
    );
}

#[tokio::test]
async fn search_needs_every_word_and_finds_a_word_by_its_beginning() {
    let (base, _db) = start("search_words").await;
    let search = async |q: &str| get(&format!("{base}/products/search?q={q}&limit=100")).await;

    // The ten kitchen products in the "Cast-Iron" style, in any order and case of the words.
    let (_, cast_iron) = search("cast%20iron").await;
    assert_eq!(ids(&cast_iron), (1..=10).collect::<Vec<_>>());
    let (_, iron_cast) = search("IRON,cast").await;
    assert_eq!(ids(&iron_cast), ids(&cast_iron));

    let (_, one) = search("skillet%20cast").await;
    assert_eq!(ids(&one), vec![2]);
    let (_, none) = search("dutch%20skillet").await;
    assert_eq!(none["total"], 0);
    let (_, prefix) = search("skil").await;
    assert_eq!(prefix["total"], 3, "one skillet per kitchen style");
}

#[tokio::test]
async fn search_uses_the_index_and_reads_the_whole_table_without_it() {
    let (base, db) = start("search_index").await;
    let uses_index = |plan: &[String]| {
        plan.iter()
            .any(|step| step.contains("USING INDEX idx_search_terms_term"))
    };
    let scans = |plan: &[String]| {
        plan.iter()
            .any(|step| step.starts_with("SCAN search_terms"))
    };
    let (_, indexed) = get(&format!("{base}/products/search?q=coffee&limit=100")).await;
    let plan = store::search_plan(&db, "coffee").await.expect("plan");
    assert!(uses_index(&plan) && !scans(&plan), "{plan:?}");

    store::drop_search_index(&db).await.expect("drop");
    let plan = store::search_plan(&db, "coffee").await.expect("plan");
    assert!(scans(&plan) && !uses_index(&plan), "{plan:?}");
    let (_, scanned) = get(&format!("{base}/products/search?q=coffee&limit=100")).await;
    assert_eq!(scanned, indexed, "the same answer either way, only slower");

    // With no fault plan to follow, the index is simply put back.
    faults::follow_search_index(db.clone(), std::future::pending()).await;
    let plan = store::search_plan(&db, "coffee").await.expect("plan");
    assert!(uses_index(&plan), "{plan:?}");
}

#[tokio::test]
async fn a_catalogue_from_before_search_terms_is_migrated_and_indexed_on_start() {
    let (base, db) = start("older_seed").await;
    // Back to what an earlier version left: the first migration only, products seeded.
    sqlx::raw_sql("DROP TABLE search_terms; DELETE FROM _sqlx_migrations WHERE version = 2")
        .execute(db.pool())
        .await
        .expect("go back one migration");

    db.migrate(&crate::MIGRATIONS).await.expect("migrate");
    let (_, nothing) = get(&format!("{base}/products/search?q=skillet")).await;
    assert_eq!(nothing["total"], 0, "no terms yet");
    assert_eq!(seed::seed_if_empty(&db).await.expect("re-seed"), 0);
    let (_, found) = get(&format!("{base}/products/search?q=skillet")).await;
    assert_eq!(found["total"], 3);
    let (products, rows): (i64, i64) =
        sqlx::query_as("SELECT COUNT(DISTINCT product_id), COUNT(*) FROM search_terms")
            .fetch_one(db.pool())
            .await
            .expect("count");
    assert_eq!(products, 240);
    assert!(rows > 10_000, "only {rows} search terms");
}

#[tokio::test]
async fn pages_loaded_one_product_at_a_time_are_the_same_pages() {
    let (_base, db) = start("one_by_one").await;
    for (limit, offset) in [(24, 0), (100, 200), (5, 238)] {
        assert_eq!(
            store::products_page_one_by_one(&db, limit, offset)
                .await
                .expect("one by one"),
            store::products_page(&db, limit, offset)
                .await
                .expect("page"),
        );
    }
    assert_eq!(
        store::products_in_category_one_by_one(&db, "toys", 7, 3)
            .await
            .expect("one by one"),
        store::products_in_category(&db, "toys", 7, 3)
            .await
            .expect("page"),
    );
}

#[tokio::test]
async fn a_product_is_found_by_id_and_an_unknown_id_is_404() {
    let (base, _db) = start("by_id").await;

    let (status, product) = get(&format!("{base}/products/42")).await;
    assert_eq!(status, 200);
    assert_eq!(product["id"], 42);
    assert_eq!(product["sku"], "GAR-0012");

    let (status, body) = get(&format!("{base}/products/999")).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "not_found");

    let (status, _) = get(&format!("{base}/products/abc")).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn ids_return_exactly_those_products() {
    let (base, _db) = start("ids").await;
    let (status, page) = get(&format!("{base}/products?ids=240,5,1,999&limit=1")).await;
    assert_eq!(status, 200);
    assert_eq!(ids(&page), vec![1, 5, 240]);
    assert_eq!(page["total"], 3);
}

#[tokio::test]
async fn bad_parameters_are_400_and_name_the_parameter() {
    let (base, _db) = start("bad_params").await;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=lots", "limit"),
        ("offset=-1", "offset"),
        ("category=Not%20A%20Slug", "category"),
        ("ids=1,two", "ids"),
    ] {
        let (status, body) = get(&format!("{base}/products?{query}")).await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(body["error"], "bad_request");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains(field), "{query}: {message}");
    }
}

#[tokio::test]
async fn run_migrates_seeds_and_serves_a_database_file() {
    tracedojo_kit::telemetry::install_crypto_provider();
    let dir = std::env::temp_dir().join(format!("tracedojo-catalog-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = crate::Config {
        database_url: format!("sqlite://{}", dir.join("catalog.db").display()),
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

    // `run` binds nothing itself, so requests wait in the listener's backlog until it serves.
    let (status, page) = get(&format!("{base}/products?limit=1")).await;
    assert_eq!(status, 200);
    assert_eq!(page["total"], 240);

    let _ = stop.send(());
    server.await.expect("join").expect("run ends cleanly");
    std::fs::remove_dir_all(&dir).expect("remove temp dir");
}
