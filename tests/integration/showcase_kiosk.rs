//! The showcase's kiosk page in a real headless browser at 1920×1080 while a scenario plays
//! (`tests/browser/kiosk.mjs`): every act in Japanese and in English matches the API (caption,
//! countdown, the service lit on the map, the auto-picked trace and its highlighted span), the
//! presenter's keys work, and the page recovers by itself when the showcase is stopped and
//! started again on the same port. Screenshots land in `tests/artifacts/kiosk/`.
//!
//! Needs `/usr/bin/chromium` and `npm ci --prefix tests/browser` (`.ci/run` does both). Without
//! them the test says so and passes, except under CI (`CI` set), where it fails.

use crate::support;

#[test]
fn the_kiosk_follows_the_acts_in_both_languages_and_survives_a_restart() {
    let Some(browser) = support::browser_kit("kiosk browser test") else {
        return;
    };
    let data_dir = support::temp_dir("showcase-kiosk");
    // A port of its own, so the restarted showcase serves the page at the same address.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let artifacts = browser.root.join("tests/artifacts/kiosk");
    let listen = format!("127.0.0.1:{port}");
    let data = data_dir.display().to_string();
    // Speed 4: acts of 7 to 18 s, long enough for each act's traces to arrive before the
    // page is checked (the script pauses every act while it looks).
    browser.run(
        "kiosk.mjs",
        [
            artifacts.to_str().expect("a UTF-8 path"),
            env!("CARGO_BIN_EXE_tracedojo"),
            "showcase",
            "slow-payment",
            "--speed",
            "4",
            "--base-port",
            "0",
            "--kiosk-listen",
            &listen,
            "--data-dir",
            &data,
            "--lang",
            "ja",
        ],
    );
    support::assert_screenshots(
        &artifacts,
        &[
            "ja-act-1-normal",
            "ja-act-2-incident",
            "ja-act-3-diagnosis",
            "ja-act-4-fix",
            "ja-act-5-recovery",
            "en-act-1-normal",
            "en-act-3-diagnosis",
            "en-talk-track",
            "reconnecting",
            "reconnected",
        ],
    );
    let _ = std::fs::remove_dir_all(&data_dir);
}
