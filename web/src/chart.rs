//! The kit's charts, `ui/chart.js`: a time-series line chart and a duration scatter plot
//! drawn as SVG by plain JavaScript (`window.TdChart.line` and `window.TdChart.scatter`; the
//! file's head documents the options). Any page of the kit serves the same file by putting
//! [`CHART_JS`] among its assets and loading `/assets/chart.js` before its own script: the
//! explorer's search and RED views draw with it, and so can a kiosk page.

use crate::Asset;

/// `chart.js`, served as `/assets/chart.js`.
pub const CHART_JS: Asset = Asset {
    name: "chart.js",
    content_type: "text/javascript; charset=utf-8",
    body: include_bytes!("../ui/chart.js"),
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EmbeddedPage;

    /// The script keeps to the policy of the pages that serve it: it writes values as text,
    /// never as markup.
    #[test]
    fn the_chart_script_writes_no_markup() {
        let page = EmbeddedPage {
            index_html: "<!doctype html><script src=\"/assets/chart.js\" defer></script>",
            assets: &[CHART_JS],
            content_security_policy: "default-src 'self'",
        };
        assert_eq!(page.flaws(), Vec::<String>::new());
        let text = std::str::from_utf8(CHART_JS.body).expect("UTF-8");
        for entry in ["global.TdChart", "function line(", "function scatter("] {
            assert!(text.contains(entry), "chart.js lacks {entry}");
        }
    }
}
