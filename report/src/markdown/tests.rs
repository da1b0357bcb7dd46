use super::*;
use crate::fixture::report;

#[test]
fn english_says_what_why_and_where() {
    let text = render(&report(), Lang::En);
    for expected in [
        "# Improvement report — 2026-12-04 02:50 UTC",
        "1 endpoint needs work (of 19 with objectives), and 1 query.",
        "## 1. frontend POST /api/checkout — p95 under 400 ms: objective missed (burn rate 3.0, ticket)",
        "| p95 under 400 ms | 15% slower (90 of 600) | 18% slower (9 of 50) | 3.0 / 3.6 |",
        "| success ≥ 99% |",
        "Where the time goes (critical path): payment 82%, checkout 9.0%",
        "catalog ran `SELECT * FROM products WHERE id = $1` 24 times in one request (N+1)",
        "First cause: payment `POST /payments` 503 \"gateway \\| timed \\`out\\`\" (4 traces)",
        "`tracedojo.user.tier=gold` (error rate 48%, 0.20% without)",
        "Code: `tracedojo_frontend::api::checkout` ([services/frontend/src/api.rs](https://example.com/tree/main/services/frontend/src/api.rs))",
        "[4bf92f35](http://127.0.0.1:8090/#/trace/4bf92f3577b34da6a3ce929d0e0e4736) 2.1 s",
        "its median time jumped from 0.20 ms to 1.4 ms (7×)",
        "`SELECT id FROM search_terms WHERE term = $1 | 'x'`",
        "## Customers affected (last 5 minutes)",
        "| Contoso \\| \\<b\\> | 40 | 6 | 15% | 120 ms |",
        "## Endpoints judged (requests)\n\n| endpoint | last hour | last 5 minutes | burn rate |",
        "| frontend GET /api/products | 900 | 80 | 0.3 |",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    assert!(!text.contains("Fabrikam"), "only customers hit are listed");
}

#[test]
fn japanese_says_the_same() {
    let text = render(&report(), Lang::Ja);
    for expected in [
        "# 改善レポート — 2026-12-04 02:50 UTC",
        "改善が必要なもの: エンドポイント 1 件（目標のある 19 件中）、クエリ 1 件。",
        "## 1. frontend POST /api/checkout — p95 400 ms 以内: 目標未達（バーンレート 3.0、チケット起票）",
        "| p95 400 ms 以内 | 15% が超過（600 件中 90 件） |",
        "時間の内訳（クリティカルパス）: payment 82%、checkout 9.0%",
        "catalog が 1 回のリクエストで `SELECT * FROM products WHERE id = $1` を 24 回実行（N+1）",
        "`tracedojo.user.tier=gold`（エラー率 48%、それ以外は 0.20%）",
        "中央値が 0.20 ms から 1.4 ms に急増（7 倍）",
        "## 影響を受けた顧客（直近 5 分）",
        "## 評価したエンドポイント（リクエスト数）\n\n| エンドポイント | 直近 1 時間 | 直近 5 分 | バーンレート |",
        "直近のペースでは 30 日分のエラーバジェットが 8 日で尽きます。",
        "payment `POST /payments` 80%（1.6 秒）",
        "コード: `tracedojo_frontend::api::checkout`（[services/frontend/src/api.rs](https://example.com/tree/main/services/frontend/src/api.rs)）",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    for english in ["Where the time goes", "needs work", "Customers affected"] {
        assert!(!text.contains(english), "{english:?} left in\n{text}");
    }
}

#[test]
fn a_clean_report_says_so_in_both_languages() {
    let mut clean = report();
    clean.needs_work.clear();
    clean.queries.clear();
    clean.customers = None;
    let en = render(&clean, Lang::En);
    assert!(en.contains("**Nothing needs work: the 19 endpoints with objectives are within them, and no query stands out.**"), "{en}");
    let ja = render(&clean, Lang::Ja);
    assert!(ja.contains("改善が必要な箇所はありません。"), "{ja}");
}
