//! The shop page in a real headless browser: Debian's Chromium, driven by playwright-core
//! (`tests/browser/shop.mjs`), clicks from the home page to a placed order and checks that
//! page content is escaped. Screenshots land in `tests/artifacts/browser/`.
//!
//! Needs `/usr/bin/chromium` and `npm ci --prefix tests/browser` (`.ci/run` does both). Without
//! them the test says so and passes, except under CI (`CI` set), where it fails.

use crate::support;

use std::process::Command;

use crate::support::Shop;

#[test]
fn a_person_can_click_from_the_home_page_to_a_placed_order() {
    let Some(browser) = support::browser_kit("browser test") else {
        return;
    };
    let (root, script_dir, chromium) = (browser.root, browser.script_dir, browser.chromium);

    let shop = Shop::start(&[("OTEL_SDK_DISABLED", "true")]);
    let artifacts = root.join("tests/artifacts/browser");
    let output = Command::new("node")
        .arg(script_dir.join("shop.mjs"))
        .arg(&shop.url)
        .arg(&artifacts)
        .env("CHROMIUM", &chromium)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("\"ok\":true"), "{stdout}");
    for page in [
        "1-home",
        "2-product",
        "3-cart",
        "4-order",
        "5-search-escaped",
    ] {
        assert!(
            artifacts.join(format!("{page}.png")).exists(),
            "no screenshot of {page}"
        );
    }
}
