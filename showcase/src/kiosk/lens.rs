//! What the kiosk shows of the act playing, read from the explorer's documented API
//! (`explorer/API.md`) every couple of seconds: each service's rate, error rate and p95 (and
//! a few minutes of their history), the service map, and one trace that shows the act's
//! point, picked by the act's "look here" ([`Look`]).
//!
//! The pick: traces of this act that match the act's query (or, without one, its service and
//! operation) and have stopped arriving; of those, the failing ones first when the query asks
//! for errors, then the longest (an incident's trace) or, without a query, the median (a
//! normal act's ordinary trace). The span highlighted in it is where the trace itself says
//! the problem is: the deepest failing span, else the span with the most time of its own.
//! A pick is kept a while, so the screen does not flicker.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde_json::Value;
use tokio::sync::watch;

use crate::play::{NowPlaying, unix_ms};
use crate::scenario::{Act, Scenario};

/// How often the explorer is read at speed 1; faster plays read more often, down to
/// [`FASTEST_READS`].
const EVERY: Duration = Duration::from_secs(2);
const FASTEST_READS: Duration = Duration::from_millis(400);
/// How long a picked trace stays on screen before a newer one may replace it.
const KEEP_PICK: Duration = Duration::from_secs(12);
/// A trace whose last span ended more recently than this may still be arriving.
const SETTLE: Duration = Duration::from_millis(1500);
/// What the figures and the map cover at speed 1.
const WINDOW_AT_SPEED_1: Duration = Duration::from_secs(20);
/// History kept per service: six minutes at one point per read.
const HISTORY_POINTS: usize = 180;
/// Waterfall rows the kiosk shows: readable from three metres.
pub const MAX_ROWS: usize = 15;

/// Where an act says to look, as the page and the pick read it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Look {
    pub service: String,
    pub operation: Option<String>,
    pub attribute: Option<String>,
    pub query: Option<String>,
}

impl Look {
    pub fn of(act: &Act) -> Look {
        let text =
            |value: &Option<toml::Spanned<String>>| value.as_ref().map(|v| v.get_ref().clone());
        Look {
            service: act.look.service.get_ref().clone(),
            operation: text(&act.look.operation),
            attribute: text(&act.look.attribute),
            query: text(&act.look.query),
        }
    }

    /// The trace search of the pick: the act's query, else its service and operation.
    pub fn search(&self) -> Vec<(String, String)> {
        match &self.query {
            Some(query) => query_pairs(query),
            None => {
                let mut pairs = vec![("service".to_string(), self.service.clone())];
                if let Some(operation) = &self.operation {
                    pairs.push(("operation".to_string(), operation.clone()));
                }
                pairs
            }
        }
    }

    /// Whether the query asks for failing traces.
    fn wants_errors(&self) -> bool {
        self.search()
            .iter()
            .any(|(key, value)| (key == "errors" || key == "failing") && value == "true")
    }
}

/// `a=1&attr=k=v` → `[("a", "1"), ("attr", "k=v")]`; the files write plain values.
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| match part.split_once('=') {
            Some((key, value)) => (key.to_string(), value.to_string()),
            None => (part.to_string(), String::new()),
        })
        .collect()
}

/// What the page draws besides the act.
#[derive(Debug, Clone, Default, Serialize)]
pub struct View {
    /// The explorer answered the last read.
    pub reachable: bool,
    /// Why not, in words.
    pub problem: Option<String>,
    pub updated_unix_ms: u64,
    /// The window the figures cover.
    pub window_seconds: u64,
    pub services: Vec<ServiceFigures>,
    pub map: Map,
    /// Per service, oldest first.
    pub history: BTreeMap<String, VecDeque<Point>>,
    /// The trace on screen, `None` while none of this act has arrived.
    pub trace: Option<PickedTrace>,
    /// The other destinations of the spans (the vendor's backend beside the booth's screen),
    /// as the explorer reports them: whether they are fed.
    pub exports: Vec<ExportHealth>,
}

/// One backend's export health, in the explorer's words.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ExportHealth {
    pub destination: String,
    pub spans_sent: u64,
    pub spans_lost: u64,
    pub failing: bool,
    /// `key rejected`, `timeout`, ... while failing.
    pub last_failure_kind: Option<String>,
}

/// The `exports` of `/api/status`.
pub fn export_health(status: &Value) -> Vec<ExportHealth> {
    status["exports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|export| ExportHealth {
            destination: export["destination"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            spans_sent: export["spans_sent"].as_u64().unwrap_or(0),
            spans_lost: export["spans_lost"].as_u64().unwrap_or(0),
            failing: export["failing"].as_bool().unwrap_or(false),
            last_failure_kind: export["last_failure_kind"].as_str().map(str::to_string),
        })
        .collect()
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ServiceFigures {
    pub name: String,
    pub requests: u64,
    pub rate_per_second: f64,
    pub error_rate: f64,
    pub p95_ms: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Point {
    pub t_unix_ms: u64,
    pub rate_per_second: f64,
    pub error_rate: f64,
    pub p95_ms: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Map {
    pub nodes: Vec<MapNode>,
    pub edges: Vec<MapEdge>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MapNode {
    pub name: String,
    pub traced: bool,
    pub error_count: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct MapEdge {
    pub from: String,
    pub to: String,
    pub rate_per_second: f64,
    pub error_rate: f64,
    pub p95_ms: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PickedTrace {
    pub trace_id: String,
    /// The act it was picked for: (loop, act).
    pub loop_number: u64,
    pub act: usize,
    pub root_service: String,
    pub root_name: String,
    pub duration_ms: f64,
    pub span_count: u64,
    pub error_count: u64,
    /// The span the page marks.
    pub highlight: String,
    /// Why that span: `failing` or `slow`.
    pub highlight_reason: &'static str,
    pub rows: Vec<Row>,
    pub picked_unix_ms: u64,
}

/// One waterfall row.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Row {
    pub span_id: String,
    pub depth: u64,
    pub name: String,
    pub service: String,
    pub offset_ms: f64,
    pub duration_ms: f64,
    pub error: bool,
}

/// The explorer's API at one address, narrowed to a namespace when given.
pub struct Explorer {
    client: reqwest::Client,
    base: String,
    namespace: Option<String>,
}

impl Explorer {
    pub fn new(base: &str, namespace: Option<String>) -> Result<Explorer, String> {
        let base = base.trim().trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(format!(
                "--explorer {base:?} must start with http:// or https://, e.g. http://127.0.0.1:8090"
            ));
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|err| err.to_string())?;
        Ok(Explorer {
            client,
            base,
            namespace,
        })
    }

    async fn get(&self, path: &str, params: &[(String, String)]) -> Result<Value, String> {
        let mut query = params.to_vec();
        if let Some(namespace) = &self.namespace {
            query.push(("namespace".into(), namespace.clone()));
        }
        let url = reqwest::Url::parse_with_params(&format!("{}{path}", self.base), &query)
            .map_err(|err| format!("{}{path} is not a valid address: {err}", self.base))?;
        let response = self.client.get(url).send().await.map_err(|err| {
            if err.is_connect() {
                format!("the explorer at {} refuses connections", self.base)
            } else if err.is_timeout() {
                format!("the explorer at {} does not answer", self.base)
            } else {
                format!("cannot read the explorer at {}: {err}", self.base)
            }
        })?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .map_err(|err| format!("the explorer's answer to {path} is not JSON: {err}"))?;
        if !status.is_success() {
            return Err(format!(
                "the explorer refused {path}: {} ({status})",
                body["error"].as_str().unwrap_or("no reason given")
            ));
        }
        Ok(body)
    }
}

/// Reads the explorer until `stop`, publishing what the page draws on `view`.
pub async fn watch_explorer(
    explorer: Explorer,
    scenario: Scenario,
    speed: f64,
    mut now: watch::Receiver<NowPlaying>,
    view: watch::Sender<View>,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    let looks: Vec<Look> = scenario.acts.iter().map(Look::of).collect();
    // The figures cover the last 20 seconds of booth time (at least five on the clock): long
    // enough for a steady p95, short enough that a recovery act shows recovered figures for
    // most of its length.
    let window =
        Duration::from_secs_f64((WINDOW_AT_SPEED_1.as_secs_f64() / speed).clamp(5.0, 20.0));
    let mut state = View {
        window_seconds: window.as_secs(),
        ..View::default()
    };
    let mut tick = tokio::time::interval(EVERY.div_f64(speed.max(1.0)).max(FASTEST_READS));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut shown_act = (0, usize::MAX);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            changed = now.changed() => {
                if changed.is_err() {
                    return;
                }
                let playing = now.borrow().clone();
                if (playing.loop_number, playing.act) == shown_act {
                    continue;
                }
            }
            _ = &mut stop => return,
        }
        let playing = now.borrow_and_update().clone();
        if playing.loop_number == 0 {
            continue;
        }
        let act_changed = (playing.loop_number, playing.act) != shown_act;
        if act_changed {
            shown_act = (playing.loop_number, playing.act);
            state.trace = None;
        }
        let look = &looks[playing.act.min(looks.len() - 1)];
        match read(&explorer, window, look, &playing, &mut state).await {
            Ok(()) => {
                state.reachable = true;
                state.problem = None;
            }
            Err(problem) => {
                state.reachable = false;
                state.problem = Some(problem);
            }
        }
        state.updated_unix_ms = unix_ms(SystemTime::now());
        view.send_replace(state.clone());
    }
}

/// One read: figures, map, history, and the pick when it is due.
async fn read(
    explorer: &Explorer,
    window: Duration,
    look: &Look,
    playing: &NowPlaying,
    state: &mut View,
) -> Result<(), String> {
    let since = vec![("since".to_string(), format!("{}s", window.as_secs()))];
    let red = explorer.get("/api/red", &since).await?;
    state.services = service_figures(&red);
    let now_ms = unix_ms(SystemTime::now());
    for figures in &state.services {
        let points = state.history.entry(figures.name.clone()).or_default();
        points.push_back(Point {
            t_unix_ms: now_ms,
            rate_per_second: figures.rate_per_second,
            error_rate: figures.error_rate,
            p95_ms: figures.p95_ms,
        });
        while points.len() > HISTORY_POINTS {
            points.pop_front();
        }
    }
    // A service gone from the figures (renamed, stopped) leaves no history behind for ever.
    let live: HashSet<&str> = state.services.iter().map(|s| s.name.as_str()).collect();
    state.history.retain(|name, points| {
        live.contains(name.as_str())
            || points
                .back()
                .is_some_and(|p| now_ms.saturating_sub(p.t_unix_ms) < 10 * 60 * 1000)
    });
    state.map = map(&explorer.get("/api/service-map", &since).await?);
    state.exports = export_health(&explorer.get("/api/status", &[]).await?);
    let due = state.trace.as_ref().is_none_or(|trace| {
        now_ms.saturating_sub(trace.picked_unix_ms) >= KEEP_PICK.as_millis() as u64
    });
    if due && let Some(picked) = pick(explorer, look, playing, now_ms).await? {
        state.trace = Some(picked);
    }
    Ok(())
}

/// Per service: `/api/red`'s `services` table when the explorer gives one, else summed from
/// its endpoints (the p95 then the worst endpoint's).
pub fn service_figures(red: &Value) -> Vec<ServiceFigures> {
    let number = |row: &Value, key: &str| row[key].as_f64().unwrap_or(0.0);
    if let Some(services) = red["services"].as_array() {
        return services
            .iter()
            .map(|row| ServiceFigures {
                name: row["service"].as_str().unwrap_or_default().to_string(),
                requests: row["requests"].as_u64().unwrap_or(0),
                rate_per_second: number(row, "rate_per_second"),
                error_rate: number(row, "error_rate"),
                p95_ms: row["p95_ms"].as_f64(),
            })
            .collect();
    }
    let mut by_service: BTreeMap<String, (u64, u64, f64, Option<f64>)> = BTreeMap::new();
    for row in red["endpoints"].as_array().into_iter().flatten() {
        let entry = by_service
            .entry(row["service"].as_str().unwrap_or_default().to_string())
            .or_default();
        entry.0 += row["requests"].as_u64().unwrap_or(0);
        entry.1 += row["errors"].as_u64().unwrap_or(0);
        entry.2 += number(row, "rate_per_second");
        if let Some(p95) = row["p95_ms"].as_f64() {
            entry.3 = Some(entry.3.map_or(p95, |worst: f64| worst.max(p95)));
        }
    }
    by_service
        .into_iter()
        .map(|(name, (requests, errors, rate, p95))| ServiceFigures {
            name,
            requests,
            rate_per_second: rate,
            error_rate: if requests == 0 {
                0.0
            } else {
                errors as f64 / requests as f64
            },
            p95_ms: p95,
        })
        .collect()
}

fn map(answer: &Value) -> Map {
    let nodes = answer["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|node| MapNode {
            name: node["name"].as_str().unwrap_or_default().to_string(),
            traced: node["traced"].as_bool().unwrap_or(true),
            error_count: node["error_count"].as_u64().unwrap_or(0),
        })
        .collect();
    let edges = answer["edges"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|edge| MapEdge {
            from: edge["from"].as_str().unwrap_or_default().to_string(),
            to: edge["to"].as_str().unwrap_or_default().to_string(),
            rate_per_second: edge["rate_per_second"].as_f64().unwrap_or(0.0),
            error_rate: edge["error_rate"].as_f64().unwrap_or(0.0),
            p95_ms: edge["p95_ms"].as_f64(),
        })
        .collect();
    Map { nodes, edges }
}

/// The trace that shows the act's point, if one of this act has arrived.
async fn pick(
    explorer: &Explorer,
    look: &Look,
    playing: &NowPlaying,
    now_ms: u64,
) -> Result<Option<PickedTrace>, String> {
    let mut params = look.search();
    params.retain(|(key, _)| !["since", "start", "end", "limit"].contains(&key.as_str()));
    // Newest first: without an end, a busy act's newest traces would all be still arriving.
    let settled_ms = now_ms.saturating_sub(SETTLE.as_millis() as u64);
    if settled_ms <= playing.act_started_unix_ms {
        return Ok(None);
    }
    params.push(("start".into(), playing.act_started_unix_ms.to_string()));
    params.push(("end".into(), settled_ms.to_string()));
    params.push(("limit".into(), "100".into()));
    let found = explorer.get("/api/traces", &params).await?;
    let settled_before = settled_ms as u128 * 1_000_000;
    let mut candidates: Vec<&Value> = found["traces"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|trace| {
            let end = trace["start_unix_nanos"].as_u64().unwrap_or(0) as u128
                + trace["duration_nanos"].as_u64().unwrap_or(0) as u128;
            end <= settled_before
                && trace["start_unix_nanos"].as_u64().unwrap_or(0) / 1_000_000
                    >= playing.act_started_unix_ms
        })
        .collect();
    if candidates.is_empty() {
        return Ok(None);
    }
    let duration = |trace: &&Value| trace["duration_nanos"].as_u64().unwrap_or(0);
    let chosen = if look.query.is_some() {
        let failing = |trace: &&Value| trace["error_count"].as_u64().unwrap_or(0) > 0;
        let wants_errors = look.wants_errors();
        candidates
            .iter()
            .max_by_key(|trace| (wants_errors && failing(trace), duration(trace)))
            .copied()
    } else {
        candidates.sort_by_key(duration);
        Some(candidates[candidates.len() / 2])
    };
    let Some(trace_id) = chosen.and_then(|t| t["trace_id"].as_str()) else {
        return Ok(None);
    };
    let detail = explorer
        .get(&format!("/api/traces/{trace_id}"), &[])
        .await?;
    Ok(picked(&detail, playing, now_ms))
}

/// The waterfall of one trace's detail, cut to what a kiosk shows around its highlight.
pub fn picked(detail: &Value, playing: &NowPlaying, now_ms: u64) -> Option<PickedTrace> {
    let spans = detail["spans"].as_array()?;
    let text = |span: &Value, key: &str| span[key].as_str().unwrap_or_default().to_string();
    let failing = |span: &Value| span["status_code"].as_str() == Some("ERROR");
    let (highlight, reason) = match spans.iter().filter(|span| failing(span)).max_by(|a, b| {
        let depth = |s: &Value| s["depth"].as_u64().unwrap_or(0);
        depth(a)
            .cmp(&depth(b))
            // The earliest of the deepest: the first failure, not its consequences.
            .then_with(|| {
                b["start_unix_nanos"]
                    .as_u64()
                    .cmp(&a["start_unix_nanos"].as_u64())
            })
    }) {
        Some(span) => (text(span, "span_id"), "failing"),
        None => (
            spans
                .iter()
                .max_by_key(|span| span["self_nanos"].as_u64().unwrap_or(0))
                .map(|span| text(span, "span_id"))?,
            "slow",
        ),
    };
    let all: Vec<Row> = spans
        .iter()
        .map(|span| Row {
            span_id: text(span, "span_id"),
            depth: span["depth"].as_u64().unwrap_or(0),
            name: text(span, "name"),
            service: text(span, "service"),
            offset_ms: span["offset_ms"].as_f64().unwrap_or(0.0),
            duration_ms: span["duration_ms"].as_f64().unwrap_or(0.0),
            error: failing(span),
        })
        .collect();
    let parents: BTreeMap<String, String> = spans
        .iter()
        .map(|span| (text(span, "span_id"), text(span, "parent_span_id")))
        .collect();
    Some(PickedTrace {
        trace_id: detail["trace_id"].as_str()?.to_string(),
        loop_number: playing.loop_number,
        act: playing.act,
        root_service: all.first().map(|r| r.service.clone()).unwrap_or_default(),
        root_name: all.first().map(|r| r.name.clone()).unwrap_or_default(),
        duration_ms: detail["duration_ms"].as_f64().unwrap_or(0.0),
        span_count: detail["span_count"].as_u64().unwrap_or(0),
        error_count: detail["error_count"].as_u64().unwrap_or(0),
        rows: rows_around(&all, &parents, &highlight, MAX_ROWS),
        highlight,
        highlight_reason: reason,
        picked_unix_ms: now_ms,
    })
}

/// At most `max` rows in waterfall order: the highlight, its ancestors and its children
/// first, then the shallowest of the rest.
pub fn rows_around(
    rows: &[Row],
    parents: &BTreeMap<String, String>,
    highlight: &str,
    max: usize,
) -> Vec<Row> {
    // The highlight and its ancestors always stay.
    let mut chain: HashSet<&str> = HashSet::new();
    let mut at = Some(highlight);
    while let Some(id) = at.filter(|id| !id.is_empty() && chain.insert(id)) {
        at = parents.get(id).map(String::as_str);
    }
    let children = rows
        .iter()
        .filter(|row| parents.get(&row.span_id).map(String::as_str) == Some(highlight));
    let mut by_depth: Vec<&Row> = rows.iter().collect();
    by_depth.sort_by_key(|row| row.depth);
    // Then its children, earliest first, then the shallowest of the rest, while there is room.
    let mut keep = chain.clone();
    for row in children.chain(by_depth) {
        if keep.len() >= max.max(chain.len()) {
            break;
        }
        keep.insert(&row.span_id);
    }
    rows.iter()
        .filter(|row| keep.contains(row.span_id.as_str()))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_query_is_split_at_the_first_equals_sign() {
        assert_eq!(
            query_pairs("service=frontend&attr=tracedojo.user.tier=gold&errors=true"),
            vec![
                ("service".to_string(), "frontend".to_string()),
                ("attr".to_string(), "tracedojo.user.tier=gold".to_string()),
                ("errors".to_string(), "true".to_string()),
            ]
        );
    }

    #[test]
    fn figures_come_from_the_endpoints_without_a_services_table() {
        let red = json!({"endpoints": [
            {"service": "checkout", "requests": 10, "errors": 1, "rate_per_second": 1.0, "p95_ms": 120.0},
            {"service": "checkout", "requests": 30, "errors": 1, "rate_per_second": 3.0, "p95_ms": 80.0},
            {"service": "payment", "requests": 5, "errors": 0, "rate_per_second": 0.5, "p95_ms": null},
        ]});
        let figures = service_figures(&red);
        assert_eq!(figures.len(), 2);
        assert_eq!(figures[0].name, "checkout");
        assert_eq!(figures[0].requests, 40);
        assert!((figures[0].error_rate - 0.05).abs() < 1e-9);
        assert_eq!(figures[0].p95_ms, Some(120.0));
        assert_eq!(figures[1].p95_ms, None);
    }

    fn span(id: &str, parent: &str, depth: u64, self_ms: u64, error: bool) -> Value {
        json!({"span_id": id, "parent_span_id": parent, "depth": depth, "name": id,
            "service": "s", "offset_ms": 0.0, "duration_ms": 1.0, "start_unix_nanos": depth,
            "self_nanos": self_ms * 1_000_000, "status_code": if error { "ERROR" } else { "UNSET" }})
    }

    #[test]
    fn the_highlight_is_the_first_failure_else_the_span_with_most_time_of_its_own() {
        let playing = NowPlaying::default();
        let slow = json!({"trace_id": "t", "spans": [
            span("root", "", 0, 5, false), span("a", "root", 1, 900, false), span("b", "root", 1, 3, false)
        ]});
        let picked_slow = picked(&slow, &playing, 0).unwrap();
        assert_eq!(
            (picked_slow.highlight.as_str(), picked_slow.highlight_reason),
            ("a", "slow")
        );
        let failing = json!({"trace_id": "t", "spans": [
            span("root", "", 0, 5, true), span("a", "root", 1, 900, false), span("c", "a", 2, 1, true)
        ]});
        let picked_failing = picked(&failing, &playing, 0).unwrap();
        assert_eq!(
            (
                picked_failing.highlight.as_str(),
                picked_failing.highlight_reason
            ),
            ("c", "failing")
        );
    }

    #[test]
    fn a_long_waterfall_keeps_the_highlight_and_its_ancestors() {
        let mut rows = vec![Row {
            span_id: "root".into(),
            depth: 0,
            name: "root".into(),
            service: "s".into(),
            offset_ms: 0.0,
            duration_ms: 1.0,
            error: false,
        }];
        let mut parents = BTreeMap::from([("root".to_string(), String::new())]);
        for i in 0..40 {
            let id = format!("q{i}");
            rows.push(Row {
                span_id: id.clone(),
                depth: 1,
                ..rows[0].clone()
            });
            parents.insert(id, "root".into());
        }
        rows.push(Row {
            span_id: "deep".into(),
            depth: 2,
            ..rows[0].clone()
        });
        parents.insert("deep".into(), "q39".into());
        let kept = rows_around(&rows, &parents, "deep", 10);
        assert_eq!(kept.len(), 10);
        let ids: Vec<&str> = kept.iter().map(|r| r.span_id.as_str()).collect();
        assert!(ids.contains(&"deep") && ids.contains(&"q39") && ids.contains(&"root"));
        // Waterfall order is kept.
        assert_eq!(ids[0], "root");
        assert_eq!(*ids.last().unwrap(), "deep");
    }
}
