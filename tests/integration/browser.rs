//! The shop page in a real headless browser: Debian's Chromium, driven by playwright-core
//! (`tests/browser/shop.mjs`), clicks from the home page to a placed order and checks that
//! page content is escaped. Screenshots land in `tests/artifacts/browser/`.
//!
//! Needs `/usr/bin/chromium` and `npm ci --prefix tests/browser` (`.ci/run` does both). Without
//! them the test says so and passes, except under CI (`CI` set), where it fails.

use crate::support;

use crate::support::Shop;

#[test]
fn a_person_can_click_from_the_home_page_to_a_placed_order() {
    let Some(browser) = support::browser_kit("browser test") else {
        return;
    };
    let shop = Shop::start(&[("OTEL_SDK_DISABLED", "true")]);
    let artifacts = browser.root.join("tests/artifacts/browser");
    browser.run("shop.mjs", [shop.url.as_ref(), artifacts.as_os_str()]);
    support::assert_screenshots(
        &artifacts,
        &[
            "1-home",
            "2-product",
            "3-cart",
            "4-order",
            "5-search-escaped",
        ],
    );
}
