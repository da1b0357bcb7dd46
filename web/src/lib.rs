//! What the kit's own web endpoints share: the explorer's UI and its charts, the fault control
//! API, the workshop's progress board and the showcase's kiosk. It knows none of them: a page
//! is handed in as data, a guard answers yes or no and leaves the refusal's words to its caller.
//!
//! - [`page`]: a single page and its assets, compiled into the binary and served with the
//!   headers that keep a browser from caching a stale page, sniffing types or running inline
//!   script.
//! - [`address`]: the URL a person opens a page at, a token in its fragment.
//! - [`guard`]: the checks of endpoints that answer only this machine (a `Host` naming
//!   loopback) or only the holder of a token (compared in constant time), and whether one may
//!   listen beyond loopback at all (a strong token).
//! - [`chart`]: the SVG charts any page can serve as `/assets/chart.js` ([`CHART_JS`]).

pub mod address;
pub mod chart;
pub mod guard;
pub mod page;

pub use address::page_url;
pub use chart::CHART_JS;
pub use page::{Asset, EmbeddedPage};
