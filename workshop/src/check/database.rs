//! Checks about the database as traces show it: the query that became slow (a missing index
//! makes the engine read the whole table) and the query repeated once per row (N+1).

use std::collections::{BTreeMap, BTreeSet};

use super::{Context, Verdict, since_start};
use crate::error::WorkshopError;
use crate::explorer::spans;

/// The catalogue's listing, as the simulated shoppers call it.
const LISTING: &str = "GET /api/products";

/// The table read by the slowest catalogue query since the start (by p95, with a few calls).
async fn slowest_table(context: &Context<'_>) -> Result<Option<String>, WorkshopError> {
    let red = context
        .explorer
        .view(
            "/api/red",
            &[
                ("service", "catalog".to_string()),
                ("since", since_start(context)),
            ],
        )
        .await?;
    let slowest = red["queries"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .filter(|q| q["operation"] == "SELECT" && q["calls"].as_u64().unwrap_or(0) >= 3)
        .max_by(|a, b| {
            a["p95_ms"]
                .as_f64()
                .unwrap_or(0.0)
                .total_cmp(&b["p95_ms"].as_f64().unwrap_or(0.0))
        });
    Ok(slowest
        .and_then(|q| q["collection"].as_str())
        .map(str::to_string))
}

/// How many times the most repeated query runs in each listing trace since the start.
async fn repeats_per_listing(context: &Context<'_>) -> Result<BTreeSet<usize>, WorkshopError> {
    let found = context
        .explorer
        .search(&[
            ("service", "frontend".to_string()),
            ("operation", LISTING.to_string()),
            ("start", context.started_unix_ms.to_string()),
            ("limit", "5".to_string()),
        ])
        .await?;
    let mut counts = BTreeSet::new();
    for summary in &found {
        let Some(trace) = context
            .explorer
            .trace(summary["trace_id"].as_str().unwrap_or_default())
            .await?
        else {
            continue;
        };
        let mut per_query: BTreeMap<&str, usize> = BTreeMap::new();
        for span in spans(&trace).iter().filter(|s| s["service"] == "catalog") {
            if let Some(text) = span["attributes"]["db.query.text"].as_str() {
                *per_query.entry(text).or_default() += 1;
            }
        }
        if let Some(most) = per_query.values().max() {
            counts.insert(*most);
        }
    }
    Ok(counts)
}

/// `db-hints`: `TABLE N`, the table the slow search reads and the queries one listing page
/// repeats.
pub async fn db_hints(context: &Context<'_>, given: &str) -> Result<Verdict, WorkshopError> {
    let lang = context.lang;
    let (table, repeats) = context.word_and_number(given)?;
    let repeats = repeats as usize;
    let (Some(slow_table), counts) = (
        slowest_table(context).await?,
        repeats_per_listing(context).await?,
    ) else {
        return Ok(not_yet(context));
    };
    if counts.is_empty() {
        return Ok(not_yet(context));
    }
    let table_right = table == slow_table;
    let repeats_right = counts.contains(&repeats);
    let message = match (table_right, repeats_right) {
        (true, true) => {
            return Ok(Verdict::right(lang.say(
                format!("Right: the search reads all of {slow_table} without its index, and a listing page asks for its products one by one, {repeats} queries where one would do."),
                format!("正解です。検索はインデックスがないため {slow_table} を全件読み、一覧ページは商品を 1 件ずつ問い合わせています。1 回のクエリで済むところを {repeats} 回に分けています。"),
            )));
        }
        (false, _) => lang.say(
            format!("{table} is not the table the slow query reads. On the RED page's query table, find the catalogue query whose p95 is highest and read its table (db.collection.name)."),
            format!("遅いクエリが読んでいるテーブルは {table} ではありません。RED 画面のクエリの表で、catalog のクエリのうち p95 が最も大きいものを探し、そのテーブル（db.collection.name）を確認してください。"),
        ),
        (true, false) => lang.say(
            format!("The table is right. {repeats} is not how many times one listing page repeats its query: open one GET {} trace and count the catalogue's spans with the same query text.", &LISTING[4..]),
            format!("テーブルは正解です。ただし、一覧ページ 1 回でクエリが繰り返される回数は {repeats} ではありません。GET {} のトレースを 1 つ開き、同じクエリ文の catalog のスパンを数えてください。", &LISTING[4..]),
        ),
    };
    Ok(Verdict::wrong(message))
}

fn not_yet(context: &Context<'_>) -> Verdict {
    Verdict::not_yet(context.lang.say(
        "No product listing or search since the lesson started yet. Wait a few seconds (or browse the shop) and check again.",
        "レッスン開始後の商品一覧や検索がまだありません。数秒待つか、ショップを見て回ってから、もう一度確認してください。",
    ))
}
