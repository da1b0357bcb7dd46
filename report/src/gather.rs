//! Making a report: three RED reads (the long window, the short one, and the period before the
//! short one), the judgement of [`crate::assess`], then for each endpoint needing work the
//! reasons: exemplar traces, each explained from the endpoint's span down (where the time
//! went, database hints), where failures began and which users they hit, and the handler's
//! code. A part the explorer cannot give becomes a note; only an explorer that cannot be
//! read at all fails the report.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::assess::{self, Rules};
use crate::explorer::{Explorer, ExplorerError, Pick, TraceHit};
use crate::model::{Cause, Code, Exemplar, Item, Report, Segment, Share, Why};
use crate::objectives::Objectives;

/// Everything a report is made from.
#[derive(Debug, Clone)]
pub struct Settings {
    pub explorer: Explorer,
    pub objectives: Objectives,
    pub rules: Rules,
    /// Only the spans of this `service.namespace` (one participant's run).
    pub namespace: Option<String>,
    /// Where the code is browsed: a handler's file is linked as `BASE/FILE`.
    pub code_base_url: Option<String>,
    /// The endpoints explained in detail (the first ones ranked).
    pub detailed: usize,
    /// Exemplar traces per endpoint.
    pub exemplars: usize,
}

/// Segments covering less of the failures than this do not explain them.
const SEGMENT_COVERAGE: f64 = 0.8;
/// Spans listed as where the time went.
const TOP_SPANS: usize = 5;

pub async fn report(settings: &Settings) -> Result<Report, ExplorerError> {
    let Settings {
        explorer, rules, ..
    } = settings;
    let namespace = settings.namespace.as_deref();
    let thresholds = settings.objectives.thresholds();
    let long = explorer
        .red(rules.long_seconds, 0, &thresholds, namespace)
        .await?;
    let short = explorer
        .red(rules.short_seconds, 0, &thresholds, namespace)
        .await?;
    let earlier = explorer
        .red(
            rules.long_seconds - rules.short_seconds,
            rules.short_seconds,
            &[],
            namespace,
        )
        .await?;
    let judgement = assess::endpoints(&settings.objectives, &long, &short, rules);
    let (mut items, mut notes) = (judgement.needs_work, judgement.notes);
    if judgement.judged.is_empty() {
        notes.push(format!(
            "no endpoint with an objective ({}) had requests in the last {} s",
            settings.objectives.services().join(", "),
            rules.long_seconds
        ));
    }
    let queries = assess::queries(&short, &earlier);
    for item in items.iter_mut().take(settings.detailed) {
        item.why = why(settings, item, &mut notes).await;
    }
    let customers = customers(settings, &mut notes).await;
    notes.dedup();
    Ok(Report {
        generated_unix_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
        explorer: explorer.base().to_owned(),
        objectives: settings.objectives.source.clone(),
        period_days: settings.objectives.period_days(),
        long_window_seconds: rules.long_seconds,
        short_window_seconds: rules.short_seconds,
        min_burn_rate: rules.min_burn_rate,
        endpoints_judged: judgement.judged.len(),
        judged: judgement.judged,
        needs_work: items,
        queries,
        customers,
        notes,
    })
}

/// Why `item` breaks its objective; what the explorer cannot say becomes a note.
async fn why(settings: &Settings, item: &Item, notes: &mut Vec<String>) -> Why {
    let explorer = &settings.explorer;
    let namespace = settings.namespace.as_deref();
    let endpoint = (item.service.as_str(), item.operation.as_str());
    let pick = assess::latency_first(item).map_or(Pick::Failing, Pick::SlowerThan);
    let mut hits: Vec<TraceHit> = Vec::new();
    for since in [settings.rules.short_seconds, settings.rules.long_seconds] {
        match explorer
            .exemplars(endpoint, since, pick, namespace, settings.exemplars)
            .await
        {
            Ok(found) => hits = found,
            Err(err) => notes.push(format!("{}: no exemplar traces: {err}", item.key())),
        }
        if !hits.is_empty() {
            break;
        }
    }
    let mut why = Why {
        exemplars: hits
            .iter()
            .map(|hit| Exemplar {
                trace_id: hit.trace_id.clone(),
                url: explorer.trace_page(&hit.trace_id),
                duration_ms: hit.duration_ms,
                failed: hit.error_count > 0,
            })
            .collect(),
        ..Why::default()
    };
    time_and_hints(settings, item, &hits, &mut why, notes).await;
    if item.error_rate > 0.0 || matches!(pick, Pick::Failing) {
        failures(settings, item, &mut why, notes).await;
    }
    if let Some(hit) = hits.first() {
        why.code = code(settings, hit).await;
    }
    why
}

/// Where the exemplars' time went (their critical paths from the endpoint's span down,
/// averaged) and what their database spans show.
async fn time_and_hints(
    settings: &Settings,
    item: &Item,
    hits: &[TraceHit],
    why: &mut Why,
    notes: &mut Vec<String>,
) {
    let mut by_service: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    let mut by_span: BTreeMap<(String, String), (f64, f64)> = BTreeMap::new();
    let mut explained = 0usize;
    for hit in hits {
        let explanation = match settings
            .explorer
            .explain(&hit.trace_id, hit.matched_span_id.as_deref(), "en", None)
            .await
        {
            Ok(explanation) => explanation,
            Err(err) => {
                notes.push(format!(
                    "{}: trace {} could not be explained: {err}",
                    item.key(),
                    hit.trace_id
                ));
                continue;
            }
        };
        explained += 1;
        for share in &explanation.critical_path.services {
            let entry = by_service.entry(share.service.clone()).or_default();
            entry.0 += share.share;
            entry.1 += share.ms;
        }
        for share in &explanation.critical_path.spans {
            let key = (
                share.service.clone(),
                share.operation.clone().unwrap_or_default(),
            );
            let entry = by_span.entry(key).or_default();
            entry.0 += share.share;
            entry.1 += share.ms;
        }
        for hint in explanation.db_hints {
            if !why.db_hints.iter().any(|known| same_hint(known, &hint)) {
                why.db_hints.push(hint);
            }
        }
    }
    if explained == 0 {
        return;
    }
    let n = explained as f64;
    let mut services: Vec<Share> = by_service
        .into_iter()
        .map(|(service, (share, ms))| Share {
            service,
            operation: None,
            share: share / n,
            ms: ms / n,
        })
        .collect();
    services.sort_by(|a, b| b.share.total_cmp(&a.share));
    let mut spans: Vec<Share> = by_span
        .into_iter()
        .map(|((service, operation), (share, ms))| Share {
            service,
            operation: Some(operation),
            share: share / n,
            ms: ms / n,
        })
        .collect();
    spans.sort_by(|a, b| b.share.total_cmp(&a.share));
    spans.truncate(TOP_SPANS);
    why.time_by_service = services;
    why.time_by_span = spans;
}

/// Two hints about the same query, of the same kind.
fn same_hint(a: &Value, b: &Value) -> bool {
    a["kind"] == b["kind"] && a["query"] == b["query"] && a["service"] == b["service"]
}

/// Where the endpoint's failures began and which users they hit, over the short window.
async fn failures(settings: &Settings, item: &Item, why: &mut Why, notes: &mut Vec<String>) {
    let analysis = match settings
        .explorer
        .errors(
            (&item.service, &item.operation),
            settings.rules.short_seconds,
            settings.namespace.as_deref(),
        )
        .await
    {
        Ok(analysis) => analysis,
        Err(err) => {
            notes.push(format!("{}: no error analysis: {err}", item.key()));
            return;
        }
    };
    why.first_causes = analysis
        .root_causes
        .iter()
        .take(3)
        .map(|c| Cause {
            service: c.service.clone(),
            operation: c.operation.clone(),
            error_type: c.error_type.clone(),
            message: c.message.clone(),
            traces: c.traces,
            example_trace_id: c.example_trace_ids.first().cloned(),
        })
        .collect();
    let failing = analysis.failing_traces.max(1) as f64;
    let covering = |a: &&crate::explorer::Separating| {
        a.failing_with as f64 >= SEGMENT_COVERAGE * failing
            && a.error_rate_with >= 2.0 * a.error_rate_without
    };
    let mut segment: Vec<Segment> = analysis
        .attributes
        .iter()
        .filter(covering)
        .take(3)
        .map(|a| Segment {
            key: a.key.clone(),
            value: match &a.value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            },
            error_rate_with: a.error_rate_with,
            error_rate_without: a.error_rate_without,
            share_of_failures: a.failing_with as f64 / failing,
        })
        .collect();
    segment.sort_by(|a, b| a.key.cmp(&b.key));
    why.segment = segment;
}

/// The handler of the exemplar's endpoint span, from its `code.*` attributes.
async fn code(settings: &Settings, hit: &TraceHit) -> Option<Code> {
    let span_id = hit.matched_span_id.as_deref()?;
    let trace = settings.explorer.trace(&hit.trace_id).await.ok()?;
    let span = trace.spans.iter().find(|s| s.span_id == span_id)?;
    let text = |key: &str| span.attributes.get(key).and_then(Value::as_str);
    let file = text("code.file.path")?.to_owned();
    let function = text("code.function.name").unwrap_or_default().to_owned();
    let url = settings.code_base_url.as_deref().map(|base| {
        format!(
            "{}/{}",
            base.trim_end_matches('/'),
            file.trim_start_matches('/')
        )
    });
    Some(Code {
        function,
        file,
        url,
    })
}

/// Who was hit over the short window, from the explorer's customers view; `None` (with a note)
/// when this explorer has none.
async fn customers(settings: &Settings, notes: &mut Vec<String>) -> Option<Value> {
    match settings
        .explorer
        .customers(settings.rules.short_seconds, settings.namespace.as_deref())
        .await
    {
        Ok(customers) => Some(customers),
        Err(err) if err.is_not_found() => {
            notes.push(
                "no customers section: this explorer has no customers view (/api/customers)".into(),
            );
            None
        }
        Err(err) => {
            notes.push(format!("no customers section: {err}"));
            None
        }
    }
}
